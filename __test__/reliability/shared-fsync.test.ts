/**
 * Commits that share one fsync (durability 'full' on a local file; lib/database/shared-fsync.ts,
 * src/engine/local/shared_fsync.rs): no result is given back before the WAL holding it is on
 * disk, and concurrent callers' commits share their syncs.
 *
 * What reaches the disk is seen at the system calls: a child process
 * (support/children/shared-fsync-child.mjs) runs under `strace`, and reports each result it is
 * given with a write to a file of its own, right after the promise resolved. In the trace, in
 * order, a result reported while the WAL has been written since its last sync would have been
 * acknowledged before it was durable. Durability 'normal', which syncs only at checkpoints,
 * shows that the check finds such results.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../../dist/index.js';
import { makeTempDir, type TempDir } from '../support/runner-helpers.js';

const CHILD = fileURLToPath(new URL('../support/children/shared-fsync-child.mjs', import.meta.url));

/** Why the trace cannot be taken here, or null. */
function straceUnavailable(): string | null {
  const probe = spawnSync('strace', ['-qq', '-e', 'trace=none', process.execPath, '-e', '0'], { encoding: 'utf8' });
  if (probe.error) return `strace is not installed (${probe.error.message}); install it (apt install strace) to run these tests`;
  if (probe.status !== 0) return `strace cannot trace a child process here: ${probe.stderr.trim().split('\n')[0]}`;
  return null;
}
const UNAVAILABLE = straceUnavailable();
if (UNAVAILABLE) console.log(`[shared-fsync] skipped: ${UNAVAILABLE}`);

interface Trace {
  /** Results reported. */
  acks: number;
  /** Results reported while the WAL held writes no sync had covered. */
  early: string[];
  /** Syncs of the WAL. */
  syncs: number;
  /**
   * Syncs of the WAL from the first result reported to the last: the syncs of the commits
   * made meanwhile (not those of the setup before, nor close()'s checkpoint after).
   */
  syncsBetweenAcks: number;
}

/** A statement the application runs first, and through which method. */
type FirstStatement = [method: 'query' | 'execute' | 'exec', statement: string];

/** Runs the child's `scenario` under strace and reads the trace in system-call order. */
function traced(dir: TempDir, name: string, durability: 'full' | 'normal', scenario: string, first: FirstStatement | [] = []): Trace {
  const path = dir.file(`${name}.db`);
  const log = dir.file(`${name}.strace`);
  const run = spawnSync(
    'strace',
    ['-f', '-qq', '-y', '-s', '16', '-e', 'trace=write,pwrite64,pwritev,fsync,fdatasync', '-e', 'signal=none', '-o', log, process.execPath, CHILD, path, durability, scenario, ...first],
    { encoding: 'utf8', timeout: 120_000 },
  );
  expect(run.status, run.stderr).toBe(0);
  const trace: Trace = { acks: 0, early: [], syncs: 0, syncsBetweenAcks: 0 };
  let syncsAtFirstAck = 0;
  let unsynced = false;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const call = /^\d+\s+(\w+)\(\d+<([^>]*)>/.exec(line);
    if (!call) continue;
    const [, syscall, file] = call;
    if (file === `${path}-wal`) {
      if (syscall === 'fsync' || syscall === 'fdatasync') {
        trace.syncs += 1;
        unsynced = false;
      } else {
        unsynced = true;
      }
    } else if (file === `${path}.acks` && syscall === 'write') {
      trace.acks += 1;
      if (trace.acks === 1) syncsAtFirstAck = trace.syncs;
      trace.syncsBetweenAcks = trace.syncs - syncsAtFirstAck;
      if (unsynced) trace.early.push(line);
    }
  }
  return trace;
}

describe.skipIf(UNAVAILABLE !== null)(`commits that share one fsync${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it("durability 'full', 40 concurrent callers: every result after the sync that covers it, with far fewer syncs than commits", () => {
    const trace = traced(dir, 'concurrent', 'full', 'concurrent');
    expect(trace.acks).toBe(600);
    expect(trace.early).toEqual([]);
    // At least 200 commits: the 200 transactions commit one by one (the INSERTs called in one
    // turn share a commit besides, group-commit.ts).
    console.log(`[shared-fsync] 40 concurrent callers: ${trace.syncs} syncs`);
    expect(trace.syncs).toBeGreaterThan(0);
    expect(trace.syncs).toBeLessThan(200 / 4);
  });

  it("durability 'full', one INSERT awaited at a time: each synced before its result", () => {
    const trace = traced(dir, 'sequential', 'full', 'sequential');
    expect(trace.acks).toBe(50);
    expect(trace.early).toEqual([]);
    expect(trace.syncs).toBeGreaterThanOrEqual(50);
  });

  it("durability 'normal' gives results before their sync (the check above finds them)", () => {
    const trace = traced(dir, 'normal', 'normal', 'concurrent');
    expect(trace.acks).toBe(600);
    expect(trace.early.length).toBeGreaterThan(0);
  });

  it('PRAGMA synchronous = FULL on a connection at FULL changes nothing: syncs still shared, nothing early', () => {
    const trace = traced(dir, 'pragma-full', 'full', 'concurrent', ['query', 'PRAGMA synchronous = FULL']);
    expect(trace.acks).toBe(600);
    expect(trace.early).toEqual([]);
    expect(trace.syncs).toBeGreaterThan(0);
    expect(trace.syncs).toBeLessThan(200 / 4);
  });
});

/**
 * `PRAGMA synchronous` set by the application gives that level's behaviour, counted at the
 * system calls: 50 INSERTs awaited one at a time, in WAL mode. OFF and NORMAL sync no commit;
 * FULL and EXTRA sync every one (nothing shares a sync with a commit awaited alone).
 */
describe.skipIf(UNAVAILABLE !== null)(`PRAGMA synchronous set by the application, fsyncs counted${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir?.remove();
  });

  const cases: Array<{ durability: 'full' | 'normal'; first: FirstStatement; syncsPerCommit: 0 | 1 }> = [
    { durability: 'full', first: ['exec', 'PRAGMA synchronous = OFF'], syncsPerCommit: 0 },
    { durability: 'full', first: ['query', 'PRAGMA synchronous=NORMAL'], syncsPerCommit: 0 },
    { durability: 'full', first: ['execute', 'pragma  main.synchronous = 1'], syncsPerCommit: 0 },
    { durability: 'full', first: ['exec', "/* tuning */ PrAgMa \"synchronous\"('normal');"], syncsPerCommit: 0 },
    { durability: 'full', first: ['query', 'PRAGMA synchronous = EXTRA'], syncsPerCommit: 1 },
    { durability: 'normal', first: ['query', 'PRAGMA synchronous = FULL'], syncsPerCommit: 1 },
    { durability: 'normal', first: ['exec', 'PRAGMA synchronous = 3'], syncsPerCommit: 1 },
  ];
  it.each(cases)("durability '$durability', then $first.0($first.1): $syncsPerCommit sync(s) per commit", ({ durability, first, syncsPerCommit }) => {
    const trace = traced(dir, `level-${cases.findIndex((c) => c.first === first)}`, durability, 'sequential', first);
    expect(trace.acks).toBe(50);
    if (syncsPerCommit === 0) {
      expect(trace.syncsBetweenAcks).toBe(0);
      expect(trace.early.length).toBeGreaterThan(0);
    } else {
      // The 49 commits after the first result's.
      expect(trace.syncsBetweenAcks).toBeGreaterThanOrEqual(49);
      expect(trace.early).toEqual([]);
    }
  });

  it("NORMAL, then FULL again on a connection opened at 'full': syncs are shared again, nothing early", () => {
    const trace = traced(dir, 'normal-then-full', 'full', 'concurrent', ['exec', 'PRAGMA synchronous = NORMAL; PRAGMA synchronous = FULL']);
    expect(trace.acks).toBe(600);
    expect(trace.early).toEqual([]);
    expect(trace.syncs).toBeGreaterThan(0);
    expect(trace.syncs).toBeLessThan(200 / 4);
  });
});

describe('PRAGMA synchronous reads the level the connection gives', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it("durability 'full' reads 2 (FULL), also inside a transaction, though SQLite runs it at NORMAL to share syncs", async () => {
    const db = await open({ url: `file:${dir.file('full.db')}` });
    try {
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
      expect(await db.query('pragma MAIN.Synchronous')).toEqual([{ synchronous: 2 }]);
      expect(await db.transaction((tx) => tx.query('PRAGMA synchronous'))).toEqual([{ synchronous: 2 }]);
    } finally {
      await db.close();
    }
  });

  it("durability 'normal' reads 1", async () => {
    const db = await open({ url: `file:${dir.file('normal.db')}`, durability: 'normal' });
    try {
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('each level the application sets reads back as set, through every method, and FULL again reads 2', async () => {
    const db = await open({ url: `file:${dir.file('levels.db')}` });
    try {
      await db.exec('PRAGMA synchronous = OFF');
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 0 }]);
      await db.execute('PRAGMA synchronous = normal');
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]);
      await db.query('PRAGMA synchronous = EXTRA');
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 3 }]);
      await db.query('PRAGMA synchronous = FULL');
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
      // The same statement text again does its work again (SQLite does it as it prepares).
      await db.query('PRAGMA synchronous = OFF');
      await db.query('PRAGMA synchronous = FULL');
      await db.query('PRAGMA synchronous = OFF');
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 0 }]);
    } finally {
      await db.close();
    }
  });

  it('a level cannot change inside a transaction: SQLite refuses it, and the level stays', async () => {
    const db = await open({ url: `file:${dir.file('in-transaction.db')}` });
    try {
      const refused = await db.transaction((tx) => tx.query('PRAGMA synchronous = OFF')).catch((error: unknown) => error);
      expect(String((refused as Error).message)).toMatch(/Safety level may not be changed inside a transaction/);
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
    } finally {
      await db.close();
    }
  });
});

describe('commits that share one fsync: settings', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it("leaving WAL mode puts the connection back to synchronous=FULL (NORMAL is not safe with a rollback journal)", async () => {
    const db = await open({ url: `file:${dir.file('journal.db')}` });
    try {
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
      expect(await db.query('PRAGMA journal_mode = DELETE')).toEqual([{ journal_mode: 'delete' }]);
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
      await db.exec('CREATE TABLE t(x)');
      await Promise.all([1, 2, 3].map((x) => db.execute('INSERT INTO t VALUES (?)', [x])));
      expect(await db.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 3 }]);
    } finally {
      await db.close();
    }
  });

  it('results held for their sync are all given back, in call order, and close() waits for none of them to be lost', async () => {
    const path = dir.file('close.db');
    const db = await open({ url: `file:${path}` });
    await db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, x)');
    const settled: number[] = [];
    const writes = Array.from({ length: 100 }, (_, i) =>
      (i % 2 ? db.execute('INSERT INTO t(x) VALUES (?)', [i]) : db.transaction((tx) => tx.execute('INSERT INTO t(x) VALUES (?)', [i]))).then(() => settled.push(i)),
    );
    const closed = db.close();
    await Promise.all([...writes, closed]);
    expect(settled).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const again = await open({ url: `file:${path}` });
    try {
      expect(await again.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 100 }]);
    } finally {
      await again.close();
    }
  });
});

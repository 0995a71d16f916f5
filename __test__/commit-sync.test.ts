/**
 * Commits that share one fsync (durability 'full' on a local file; lib/database/commit-sync.ts,
 * src/engine/local/commit_sync.rs): no result is given back before the WAL holding it is on
 * disk, and concurrent callers' commits share their syncs.
 *
 * What reaches the disk is seen at the system calls: a child process
 * (support/children/commit-sync-child.mjs) runs under `strace`, and reports each result it is
 * given with a write to a file of its own, right after the promise resolved. In the trace, in
 * order, a result reported while the WAL has been written since its last sync would have been
 * acknowledged before it was durable. Durability 'normal', which syncs only at checkpoints,
 * shows that the check finds such results.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../dist/index.js';
import { makeTempDir, type TempDir } from './support/runner-helpers.js';

const CHILD = fileURLToPath(new URL('./support/children/commit-sync-child.mjs', import.meta.url));

/** Why the trace cannot be taken here, or null. */
function straceUnavailable(): string | null {
  const probe = spawnSync('strace', ['-qq', '-e', 'trace=none', process.execPath, '-e', '0'], { encoding: 'utf8' });
  if (probe.error) return `strace is not installed (${probe.error.message}); install it (apt install strace) to run these tests`;
  if (probe.status !== 0) return `strace cannot trace a child process here: ${probe.stderr.trim().split('\n')[0]}`;
  return null;
}
const UNAVAILABLE = straceUnavailable();
if (UNAVAILABLE) console.log(`[commit-sync] skipped: ${UNAVAILABLE}`);

interface Trace {
  /** Results reported. */
  acks: number;
  /** Results reported while the WAL held writes no sync had covered. */
  early: string[];
  /** Syncs of the WAL. */
  syncs: number;
}

/** Runs the child's `scenario` under strace and reads the trace in system-call order. */
function traced(dir: TempDir, name: string, durability: 'full' | 'normal', scenario: string): Trace {
  const path = dir.file(`${name}.db`);
  const log = dir.file(`${name}.strace`);
  const run = spawnSync(
    'strace',
    ['-f', '-qq', '-y', '-s', '16', '-e', 'trace=write,pwrite64,pwritev,fsync,fdatasync', '-e', 'signal=none', '-o', log, process.execPath, CHILD, path, durability, scenario],
    { encoding: 'utf8', timeout: 120_000 },
  );
  expect(run.status, run.stderr).toBe(0);
  const trace: Trace = { acks: 0, early: [], syncs: 0 };
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
    console.log(`[commit-sync] 40 concurrent callers: ${trace.syncs} syncs`);
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

  it('an explicit PRAGMA synchronous = FULL: SQLite syncs inside every commit again, nothing early', () => {
    const trace = traced(dir, 'pragma-full', 'full', 'pragma-full');
    expect(trace.acks).toBe(600);
    expect(trace.early).toEqual([]);
    expect(trace.syncs).toBeGreaterThanOrEqual(200);
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
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]);
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

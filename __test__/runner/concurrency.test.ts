/**
 * Serialization: many concurrent calls on one Database, and two processes writing one file.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  deferred,
  LibsqlError,
  describeEachKind,
  isRemoteKind,
  RUNNER_KINDS,
  lastJsonLine,
  makeTempDir,
  open,
  openTarget,
  rejectionOf,
  runNodeChild,
  sleep,
  type Database,
  type OpenOptions,
  type TempDir,
  type TestDatabase,
} from '../support/runner-helpers.js';

describeEachKind('1000 concurrent calls on one Database', RUNNER_KINDS, (kind) => {
  let target: TestDatabase;
  let db: Database;

  beforeEach(async () => {
    target = await openTarget(kind);
    db = target.db;
    await db.exec(`
      CREATE TABLE ledger(id INTEGER PRIMARY KEY, op INTEGER NOT NULL, amount INTEGER NOT NULL);
      CREATE TABLE counter(id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
      INSERT INTO counter VALUES (1, 0);
    `);
  });
  afterEach(() => target.dispose());

  it('mixed reads, writes, batches and transactions: no errors, every result correct', () => mixedCalls(db, { ordered: !isRemoteKind(kind) }));

  // A server with one lane runs every call in the order it was made, as a local target does.
  if (isRemoteKind(kind)) {
    it('the same with concurrency: 1, in call order', async () => mixedCalls(await target.reopen({ concurrency: 1 }), { ordered: true }));
  }
});

/**
 * 1000 calls at once on `db` (its tables `ledger` and `counter` empty): every result right.
 * `ordered`: calls run in the order they were made, so counts read later are never smaller; on
 * a server's lanes independent calls overlap, so a count is only bounded.
 */
async function mixedCalls(db: Database, { ordered }: { ordered: boolean }): Promise<void> {
  class Intentional extends Error {}
  /** What the ledger must hold at the end, built from the same decisions as the calls. */
  let expectedRows = 0;
  let expectedSum = 0;
  let expectedCounter = 0;
  const reads: { issued: number; count: Promise<number> }[] = [];
  const checks: Promise<void>[] = [];
  const intentional: Promise<unknown>[] = [];

  for (let i = 0; i < 1000; i++) {
    switch (i % 6) {
      case 0: // a plain write
        expectedRows += 1;
        expectedSum += i;
        checks.push(
          db.execute('INSERT INTO ledger(op, amount) VALUES (?, ?)', [i, i]).then((result) => {
            expect(result.rowsAffected).toBe(1);
          }),
        );
        break;
      case 1: // a transaction that writes twice and reads its own writes
        expectedRows += 2;
        expectedSum += i + 1;
        checks.push(
          db
            .transaction(async (tx) => {
              await tx.execute('INSERT INTO ledger(op, amount) VALUES (?, ?)', [i, i]);
              await tx.execute('INSERT INTO ledger(op, amount) VALUES (?, ?)', [i, 1]);
              return (await tx.query<{ n: number; s: number }>('SELECT count(*) AS n, sum(amount) AS s FROM ledger WHERE op = ?', [i]))[0];
            })
            .then((own) => expect(own).toEqual({ n: 2, s: i + 1 })),
        );
        break;
      case 2: // a top-level read
        reads.push({ issued: i, count: db.query<{ n: number }>('SELECT count(*) AS n FROM ledger').then((rows) => rows[0].n) });
        break;
      case 3: // a read-modify-write of one counter, with a pause between read and write
        expectedCounter += 1;
        checks.push(
          db.transaction(async (tx) => {
            const [{ n }] = await tx.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
            await Promise.resolve();
            await tx.execute('UPDATE counter SET n = ? WHERE id = 1', [n + 1]);
          }),
        );
        break;
      case 4:
        if (i % 4 === 0) {
          // a transaction that writes and then fails on purpose: rolled back
          const failing = db.transaction(async (tx) => {
            await tx.execute('INSERT INTO ledger(op, amount) VALUES (?, ?)', [i, 1_000_000]);
            throw new Intentional(`op ${i}`);
          });
          // Checked below with allSettled; handled now, as it may reject before that.
          failing.catch(() => {});
          intentional.push(failing);
        } else {
          // a batch of two writes
          expectedRows += 2;
          expectedSum += 2 * i;
          checks.push(
            db
              .batch([
                ['INSERT INTO ledger(op, amount) VALUES (?, ?)', [i, i]],
                { sql: 'INSERT INTO ledger(op, amount) VALUES (:op, :amount)', params: { op: i, amount: i } },
              ])
              .then((results) => expect(results.map((r) => r.rowsAffected)).toEqual([1, 1])),
          );
        }
        break;
      case 5: // a read inside a transaction of the totals so far
        checks.push(
          db
            .transaction((tx) => tx.query<{ n: number }>('SELECT count(*) AS n FROM ledger'))
            .then(([row]) => expect(row.n).toBeGreaterThanOrEqual(0)),
        );
        break;
    }
  }

  const settled = await Promise.allSettled(checks);
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason);
  expect(failures).toEqual([]);

  const intended = await Promise.allSettled(intentional);
  expect(intended.length).toBeGreaterThan(0);
  for (const outcome of intended) {
    expect(outcome.status).toBe('rejected');
    expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(Intentional);
  }

  const [totals] = await db.query<{ n: number; s: number }>('SELECT count(*) AS n, sum(amount) AS s FROM ledger');
  expect(totals).toEqual({ n: expectedRows, s: expectedSum });
  expect(await db.query('SELECT n FROM counter')).toEqual([{ n: expectedCounter }]);
  expect(await db.query('SELECT op FROM ledger WHERE amount = 1000000')).toEqual([]);

  const counts = await Promise.all(reads.map((read) => read.count));
  expect(counts.length).toBeGreaterThan(100);
  if (ordered) for (let k = 1; k < counts.length; k++) expect(counts[k]).toBeGreaterThanOrEqual(counts[k - 1]);
  for (const count of counts) expect(count).toBeLessThanOrEqual(expectedRows);
  expect(counts[counts.length - 1]).toBeGreaterThan(0);
}

describe('two connections to one file in one process (busy timeout)', () => {
  let dir: TempDir;
  let path: string;
  const opened: Database[] = [];
  const connect = async (extra: Omit<OpenOptions, 'url'> = {}) => {
    const db = await open({ url: `file:${path}`, ...extra });
    opened.push(db);
    return db;
  };

  beforeEach(async () => {
    dir = await makeTempDir();
    path = dir.file('two-connections.db');
    const setup = await connect();
    await setup.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.close()));
    await dir.remove();
  });

  /**
   * Holds `db`'s write lock (an open transaction that wrote `value`) until `release` resolves;
   * resolves once the lock is held, to `{ done }` (wrapped: an async function returning the
   * transaction's promise itself would wait for it).
   */
  async function holdWriteLock(db: Database, value: string, release: Promise<void>): Promise<{ done: Promise<void> }> {
    const holding = deferred();
    const done = db.transaction(async (tx) => {
      await tx.execute('INSERT INTO t(v) VALUES (?)', [value]);
      holding.resolve();
      await release;
    });
    await holding.promise;
    return { done };
  }

  it('a write waits for the other connection’s transaction, without stopping the event loop', async () => {
    const a = await connect();
    const b = await connect();
    const release = deferred();
    const { done: aDone } = await holdWriteLock(a, 'a', release.promise);
    let ticks = 0;
    const interval = setInterval(() => ticks++, 5);
    try {
      const bWrite = b.execute('INSERT INTO t(v) VALUES (?)', ['b']);
      // While b waits, timers run — and so does a's transaction, which can then commit. (If
      // b waited inside SQLite on the JS thread, a could never finish: a deadlock until the
      // busy timeout.)
      await sleep(100);
      const ticksWhileWaiting = ticks;
      release.resolve();
      await aDone;
      expect((await bWrite).rowsAffected).toBe(1);
      expect(ticksWhileWaiting).toBeGreaterThan(3);
    } finally {
      clearInterval(interval);
    }
    // b's row was written after a's commit.
    expect(await b.query('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'a' }, { v: 'b' }]);
  });

  it('calls made while a connection waits for the lock keep their order', async () => {
    const a = await connect();
    const b = await connect();
    const release = deferred();
    const { done: aDone } = await holdWriteLock(a, 'a', release.promise);
    const order: string[] = [];
    const calls = [
      b.execute('INSERT INTO t(v) VALUES (?)', ['b1']).then(() => order.push('b1')),
      b.transaction((tx) => tx.execute('INSERT INTO t(v) VALUES (?)', ['b2'])).then(() => order.push('b2')),
      b.batch([['INSERT INTO t(v) VALUES (?)', ['b3']]]).then(() => order.push('b3')),
      b.execute('INSERT INTO t(v) VALUES (?)', ['b4']).then(() => order.push('b4')),
    ];
    await sleep(50);
    expect(order).toEqual([]);
    release.resolve();
    await aDone;
    await Promise.all(calls);
    expect(order).toEqual(['b1', 'b2', 'b3', 'b4']);
    expect((await b.query<{ v: string }>('SELECT v FROM t ORDER BY id')).map((r) => r.v)).toEqual(['a', 'b1', 'b2', 'b3', 'b4']);
  });

  it('a transaction waits for the other connection’s transaction', async () => {
    const a = await connect();
    const b = await connect();
    const release = deferred();
    const { done: aDone } = await holdWriteLock(a, 'a', release.promise);
    const bDone = b.transaction(async (tx) => {
      const [{ n }] = await tx.query<{ n: number }>('SELECT count(*) AS n FROM t');
      await tx.execute('INSERT INTO t(v) VALUES (?)', [`b saw ${n}`]);
    });
    await sleep(50);
    release.resolve();
    await Promise.all([aDone, bDone]);
    // b's transaction began after a's commit, so it saw a's row.
    expect((await b.query<{ v: string }>('SELECT v FROM t ORDER BY id')).map((r) => r.v)).toEqual(['a', 'b saw 1']);
  });

  it('a read does not wait for another connection’s open write transaction (WAL)', async () => {
    const a = await connect();
    const b = await connect({ busyTimeout: 0 });
    const release = deferred();
    const { done: aDone } = await holdWriteLock(a, 'uncommitted', release.promise);
    expect(await b.query('SELECT v FROM t')).toEqual([]);
    release.resolve();
    await aDone;
    expect(await b.query('SELECT v FROM t')).toEqual([{ v: 'uncommitted' }]);
  });

  it('busyTimeout bounds the wait: past it the call fails with SQLITE_BUSY and writes nothing', async () => {
    const a = await connect();
    const b = await connect({ busyTimeout: 100 });
    const release = deferred();
    const { done: aDone } = await holdWriteLock(a, 'a', release.promise);
    try {
      const started = Date.now();
      const error = await rejectionOf(b.execute('INSERT INTO t(v) VALUES (?)', ['b']));
      const waited = Date.now() - started;
      expect(error).toBeInstanceOf(LibsqlError);
      expect(error.code).toMatch(/^SQLITE_BUSY/);
      expect((error.rawCode ?? 0) & 0xff).toBe(5);
      // It waited about the timeout: not zero, and not until the lock was released.
      expect(waited).toBeGreaterThanOrEqual(90);
      expect(waited).toBeLessThan(2000);
    } finally {
      release.resolve();
      await aDone;
    }
    expect(await b.query('SELECT v FROM t')).toEqual([{ v: 'a' }]);
    // And b works again once the lock is free.
    await b.execute('INSERT INTO t(v) VALUES (?)', ['b']);
  });

  it('busyTimeout: 0 fails at once', async () => {
    const a = await connect();
    const b = await connect({ busyTimeout: 0 });
    const release = deferred();
    const { done: aDone } = await holdWriteLock(a, 'a', release.promise);
    try {
      const started = Date.now();
      await expect(b.transaction(() => 1)).rejects.toMatchObject({ code: expect.stringMatching(/^SQLITE_BUSY/) });
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      release.resolve();
      await aDone;
    }
  });

  it('the default busy timeout is 5 s: a lock held for 1 s is waited out', async () => {
    const a = await connect();
    const b = await connect();
    const release = deferred();
    const { done: aDone } = await holdWriteLock(a, 'a', release.promise);
    const bWrite = b.execute('INSERT INTO t(v) VALUES (?)', ['b']);
    await sleep(1000);
    release.resolve();
    await aDone;
    expect((await bWrite).rowsAffected).toBe(1);
  });
});

describe('two processes writing one file', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(() => dir.remove());

  it('each writes 500 rows in transactions at the same time: no errors, all 1000 rows present', async () => {
    const path = dir.file('shared.db');
    const setup = await open(path);
    await setup.exec('CREATE TABLE rows(writer TEXT NOT NULL, seq INTEGER NOT NULL, pid INTEGER NOT NULL, PRIMARY KEY (writer, seq))');
    await setup.close();

    const script = fileURLToPath(new URL('../support/children/runner-writer.mjs', import.meta.url));
    const writers = ['A', 'B'];
    let ready = 0;
    const children = writers.map((name) =>
      runNodeChild(script, [path, name, '500', '5'], {
        onStdoutLine: (line) => {
          // Start both only when both have opened the file, so their writes overlap.
          if (line === 'ready' && ++ready === writers.length) for (const c of children) c.child.stdin!.end('go\n');
        },
      }),
    );
    const results = await Promise.all(children.map((c) => c.done));

    type Report = { writer: string; committed: number; errors: unknown[]; startedAt: number; firstCommitAt: number; lastCommitAt: number };
    const reports = results.map((result) => {
      expect(result.code, result.stderr).toBe(0);
      return lastJsonLine<Report>(result);
    });
    for (const report of reports) {
      expect(report.errors).toEqual([]);
      expect(report.committed).toBe(500);
    }
    // Both were writing at the same time: each started before the other had finished. (Their
    // commits need not interleave: SQLite's busy handler is not fair, so one writer may get
    // all its transactions in while the other waits within its busy timeout.)
    const [a, b] = reports;
    expect(a.startedAt).toBeLessThan(b.lastCommitAt);
    expect(b.startedAt).toBeLessThan(a.lastCommitAt);

    const check = await open(path);
    try {
      const perWriter = await check.query('SELECT writer, count(*) AS n, min(seq) AS lo, max(seq) AS hi, count(DISTINCT pid) AS pids FROM rows GROUP BY writer ORDER BY writer');
      expect(perWriter).toEqual([
        { writer: 'A', n: 500, lo: 0, hi: 499, pids: 1 },
        { writer: 'B', n: 500, lo: 0, hi: 499, pids: 1 },
      ]);
      expect(await check.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    } finally {
      await check.close();
    }
  });
});

/**
 * Waiting for another connection's lock without stopping the event loop.
 *
 * Local statements run on the JS thread, so a connection that slept inside SQLite waiting for
 * a lock held by another connection of the same process would stop that other connection's
 * transaction from ever finishing. These tests hold the lock with one `Database` and prove a
 * second one on the same file waits asynchronously, in order, and gives up after busyTimeout.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LibsqlError, makeTempDir, open, sleep, type Database, type TempDir } from '../support/runner-helpers.js';

/**
 * Starts a transaction on `db` that writes a row, then holds the write lock for `holdMs`.
 * `locked` resolves once the row is written, i.e. once the lock is certainly held.
 */
function holdLock(db: Database, holdMs: number, onRelease: () => void = () => {}) {
  let markLocked!: () => void;
  const locked = new Promise<void>((resolve) => (markLocked = resolve));
  const done = db.transaction(async (tx) => {
    await tx.execute("INSERT INTO log (who) VALUES ('holder')");
    markLocked();
    await sleep(holdMs);
    onRelease();
  });
  return { locked, done };
}

describe('two connections to one file in one process', () => {
  let dir: TempDir;
  let holder: Database;
  let waiter: Database;

  beforeEach(async () => {
    dir = await makeTempDir();
    holder = await open(dir.file('shared.db'));
    await holder.exec('CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT NOT NULL)');
    waiter = await open({ url: dir.file('shared.db'), busyTimeout: 5000 });
  });

  afterEach(async () => {
    await waiter.close();
    await holder.close();
    await dir.remove();
  });

  it('waits for the other transaction while the event loop keeps running', async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    let holderCommitted = false;
    const holding = holdLock(holder, 150, () => (holderCommitted = true));
    await holding.locked;
    const waited = waiter.execute("INSERT INTO log (who) VALUES ('waiter')").then((result) => {
      expect(holderCommitted).toBe(true);
      return result;
    });
    await Promise.all([holding.done, waited]);
    clearInterval(ticker);

    expect(ticks).toBeGreaterThan(5); // timers ran while the waiter waited
    const rows = await holder.query<{ who: string }>('SELECT who FROM log ORDER BY id');
    expect(rows.map((row) => row.who)).toEqual(['holder', 'waiter']);
  });

  it('keeps the order of calls made after one that is waiting', async () => {
    const holding = holdLock(holder, 80);
    await holding.locked;
    // Neither call is awaited before the next is made: the count must see the insert.
    const insert = waiter.execute("INSERT INTO log (who) VALUES ('waiter')");
    const count = waiter.query<{ n: number }>('SELECT count(*) AS n FROM log');
    await holding.done;
    await insert;
    expect((await count)[0].n).toBe(2);
  });

  it('waits for the lock in transaction() too', async () => {
    const holding = holdLock(holder, 80);
    await holding.locked;
    const second = waiter.transaction(async (tx) => {
      await tx.execute("INSERT INTO log (who) VALUES ('waiter')");
      return (await tx.query<{ n: number }>('SELECT count(*) AS n FROM log'))[0].n;
    });
    await holding.done;
    expect(await second).toBe(2);
  });

  it('gives up with SQLITE_BUSY after busyTimeout, changing nothing', async () => {
    const impatient = await open({ url: dir.file('shared.db'), busyTimeout: 50 });
    try {
      const holding = holdLock(holder, 400);
      await holding.locked;
      const failed = impatient.execute("INSERT INTO log (who) VALUES ('impatient')").then(
        () => null,
        (error: unknown) => error,
      );
      const error = await failed;
      expect(error).toBeInstanceOf(LibsqlError);
      expect((error as LibsqlError).code).toMatch(/^SQLITE_BUSY/);
      await holding.done;
      const rows = await impatient.query<{ who: string }>('SELECT who FROM log');
      expect(rows.map((row) => row.who)).toEqual(['holder']);
      // The connection is still usable once the lock is free.
      await impatient.execute("INSERT INTO log (who) VALUES ('impatient')");
      expect((await holder.query('SELECT who FROM log')).length).toBe(2);
    } finally {
      await impatient.close();
    }
  });
});

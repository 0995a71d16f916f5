/**
 * Group commit: statements called in the same turn share one transaction and one commit, and
 * still end exactly as each would have on its own (src: lib/database/group-commit.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectLibsqlError, LOCAL_KINDS, openTarget, type Database, type TestDatabase } from '../support/runner-helpers.js';

const names = async (db: Database) => (await db.query<{ name: string }>('SELECT name FROM t ORDER BY id')).map((row) => row.name);

describe.each(LOCAL_KINDS)('group commit (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;

  beforeEach(async () => {
    target = await openTarget(kind);
    db = target.db;
    await db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)');
  });
  afterEach(() => target.dispose());

  it('a burst of writes all commit, each with its own result, in call order', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => db.execute('INSERT INTO t(name) VALUES (?)', [`n${i}`])));
    expect(results.map((r) => r.lastInsertRowid)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(results.every((r) => r.rowsAffected === 1)).toBe(true);
    expect(await names(db)).toEqual(Array.from({ length: 200 }, (_, i) => `n${i}`));
  });

  it('a burst longer than one group (2,500 writes, groups of at most 1,000) commits every write', async () => {
    const results = await Promise.all(Array.from({ length: 2500 }, (_, i) => db.execute('INSERT INTO t(name) VALUES (?)', [`n${i}`])));
    expect(results.at(-1)).toEqual({ rowsAffected: 1, lastInsertRowid: 2500 });
    expect(await db.query('SELECT count(*) AS n, max(id) AS last FROM t')).toEqual([{ n: 2500, last: 2500 }]);
  });

  it('a read in the burst sees the writes called before it', async () => {
    const [, read, , count] = await Promise.all([
      db.query("INSERT INTO t(name) VALUES ('a')"),
      db.query("SELECT name FROM t WHERE name = 'a'"),
      db.query("INSERT INTO t(name) VALUES ('b')"),
      db.query('SELECT count(*) AS n FROM t'),
    ]);
    expect(read).toEqual([{ name: 'a' }]);
    expect(count).toEqual([{ n: 2 }]);
  });

  it('a failing statement rejects alone; the rest of the burst commits', async () => {
    await db.execute("INSERT INTO t(name) VALUES ('taken')");
    const settled = await Promise.allSettled([
      db.execute("INSERT INTO t(name) VALUES ('a')"),
      db.execute("INSERT INTO t(name) VALUES ('taken')"),
      db.execute("INSERT INTO t(name) VALUES ('b')"),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    await expectLibsqlError(Promise.reject((settled[1] as PromiseRejectedResult).reason), 'SQLITE_CONSTRAINT_UNIQUE');
    expect(await names(db)).toEqual(['taken', 'a', 'b']);
  });

  it('a statement that rolls back the whole transaction (OR ROLLBACK) rejects alone; the others run again and commit', async () => {
    await db.execute("INSERT INTO t(name) VALUES ('taken')");
    const settled = await Promise.allSettled([
      db.execute("INSERT INTO t(name) VALUES ('a')"),
      db.execute("INSERT INTO t(name) VALUES ('b')"),
      db.execute("INSERT OR ROLLBACK INTO t(name) VALUES ('taken')"),
      db.execute("INSERT INTO t(name) VALUES ('c')"),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: { rowsAffected: 1, lastInsertRowid: 2 } });
    expect(await names(db)).toEqual(['taken', 'a', 'b', 'c']);
  });

  it('a PRAGMA in a burst runs outside the group (inside a transaction SQLite would ignore it)', async () => {
    expect(await db.query('PRAGMA foreign_keys')).toEqual([{ foreign_keys: 1 }]);
    await Promise.all([db.execute("INSERT INTO t(name) VALUES ('a')"), db.execute("INSERT INTO t(name) VALUES ('b')"), db.query('PRAGMA foreign_keys = OFF')]);
    expect(await db.query('PRAGMA foreign_keys')).toEqual([{ foreign_keys: 0 }]);
    expect(await names(db)).toEqual(['a', 'b']);
  });

  it('a transaction the application opened with SAVEPOINT keeps the burst inside it until RELEASE', async () => {
    const [, a, b] = await Promise.all([
      db.query('SAVEPOINT app'),
      db.execute("INSERT INTO t(name) VALUES ('a')"),
      db.execute("INSERT INTO t(name) VALUES ('b')"),
    ]);
    expect([a.rowsAffected, b.rowsAffected]).toEqual([1, 1]);
    await db.query('ROLLBACK TO app');
    await db.query('RELEASE app');
    expect(await names(db)).toEqual([]);
  });

  it('on a connection that cannot write (PRAGMA query_only), a burst of reads succeeds and its writes fail alone', async () => {
    await db.execute("INSERT INTO t(name) VALUES ('a')");
    await db.query('PRAGMA query_only = ON');
    const settled = await Promise.allSettled([
      db.query('SELECT name FROM t'),
      db.query('SELECT count(*) AS n FROM t'),
      db.execute("INSERT INTO t(name) VALUES ('b')"),
      db.query('SELECT name FROM t'),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseFulfilledResult<unknown>).value).toEqual([{ n: 1 }]);
    await expectLibsqlError(Promise.reject((settled[2] as PromiseRejectedResult).reason), 'SQLITE_READONLY');
    await db.query('PRAGMA query_only = OFF');
    expect(await names(db)).toEqual(['a']);
  });

  it('transaction() and exec() called in the same turn run after the burst before them, in order', async () => {
    const order: string[] = [];
    await Promise.all([
      db.execute("INSERT INTO t(name) VALUES ('a')").then(() => order.push('a')),
      db.execute("INSERT INTO t(name) VALUES ('b')").then(() => order.push('b')),
      db.transaction(async (tx) => {
        order.push(`tx saw ${(await tx.query<{ n: number }>('SELECT count(*) AS n FROM t'))[0].n}`);
        await tx.execute("INSERT INTO t(name) VALUES ('c')");
      }),
      db.exec("INSERT INTO t(name) VALUES ('d')"),
    ]);
    // The transaction ran after both (it saw them); their results come back in call order (on
    // a file, once synced: possibly after the callback's own statements, which are not held).
    expect(order).toContain('tx saw 2');
    expect(order.filter((entry) => entry !== 'tx saw 2')).toEqual(['a', 'b']);
    expect(await names(db)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('each statement of a burst is committed when its promise resolves', async () => {
    if (kind === 'memory') {
      // Checked through a second connection, which a :memory: database cannot have; the
      // rows being there once the burst settles is what this kind can show.
      await Promise.all(Array.from({ length: 20 }, (_, i) => db.execute('INSERT INTO t(name) VALUES (?)', [`n${i}`])));
      expect(await names(db)).toHaveLength(20);
      return;
    }
    const other = await target.reopen();
    const seen = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await db.execute('INSERT INTO t(name) VALUES (?)', [`n${i}`]);
        return (await other.query('SELECT 1 FROM t WHERE name = ?', [`n${i}`])).length;
      }),
    );
    expect(seen).toEqual(Array(20).fill(1));
  });
});

describe('group commit with another connection holding the write lock', () => {
  it('forms no group: the burst waits for the lock and every statement commits', async () => {
    const target = await openTarget('file');
    try {
      const { db } = target;
      await db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)');
      const other = await target.reopen();
      let release!: () => void;
      const holding = other.transaction(async (tx) => {
        await tx.execute("INSERT INTO t(name) VALUES ('held')");
        await new Promise<void>((resolve) => (release = resolve));
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const burst = Promise.all(Array.from({ length: 50 }, (_, i) => db.execute('INSERT INTO t(name) VALUES (?)', [`n${i}`])));
      setTimeout(() => release(), 50);
      await holding;
      const results = await burst;
      expect(results).toHaveLength(50);
      expect(await names(db)).toEqual(['held', ...Array.from({ length: 50 }, (_, i) => `n${i}`)]);
    } finally {
      await target.dispose();
    }
  });
});

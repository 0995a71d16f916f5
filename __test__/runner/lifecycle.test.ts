/**
 * `db.sync()` on a database that is not a replica, and `db.close()`: idempotent, waits for
 * work in flight, and refuses everything afterwards with `CLIENT_CLOSED`.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  deferred,
  expectLibsqlError,
  describeEachKind,
  RUNNER_KINDS,
  open,
  openTarget,
  withTableEachTest,
  sleep,
  type Database,
  type TestDatabase,
} from '../support/runner-helpers.js';

describeEachKind('lifecycle', RUNNER_KINDS, (kind) => {
  let target: TestDatabase;
  let db: Database;
  withTableEachTest(kind, (opened) => {
    target = opened;
    db = opened.db;
  });

  it('kind names the target', () => {
    expect(db.kind).toBe(kind === 'remote-ws' ? 'remote' : kind);
  });

  it('sync() on a database that is not a replica resolves to { frameNo: null, framesSynced: 0 }', async () => {
    await db.execute("INSERT INTO t(v) VALUES ('x')");
    expect(await db.sync()).toEqual({ frameNo: null, framesSynced: 0 });
    // and changes nothing
    expect(await db.query('SELECT v FROM t')).toEqual([{ v: 'x' }]);
  });

  describe('close()', () => {
    it('is idempotent: every call resolves, and closed turns true', async () => {
      expect(db.closed).toBe(false);
      const first = db.close();
      const second = db.close();
      expect(db.closed).toBe(true);
      await expect(first).resolves.toBeUndefined();
      await expect(second).resolves.toBeUndefined();
      await expect(db.close()).resolves.toBeUndefined();
    });

    it.each([
      ['query', (d: Database) => d.query('SELECT 1')],
      ['execute', (d: Database) => d.execute("INSERT INTO t(v) VALUES ('x')")],
      ['batch', (d: Database) => d.batch(['SELECT 1'])],
      ['exec', (d: Database) => d.exec('SELECT 1')],
      ['transaction', (d: Database) => d.transaction(() => 1)],
      ['sync', (d: Database) => d.sync()],
      ['migrate', (d: Database) => d.migrate([{ version: 1, name: 'one', sql: 'CREATE TABLE m(x)' }])],
    ] as const)('%s() after close → LibsqlError CLIENT_CLOSED', async (_name, call) => {
      await db.close();
      await expectLibsqlError(call(db), 'CLIENT_CLOSED', /closed/);
    });

    it('calls made after close() was called but before it resolved are refused', async () => {
      const closing = db.close();
      const late = expectLibsqlError(db.query('SELECT 1'), 'CLIENT_CLOSED');
      await closing;
      await late;
    });

    it('waits for a running transaction: the transaction commits, then close resolves', async () => {
      const order: string[] = [];
      const inside = deferred();
      const transaction = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO t(v) VALUES ('one')");
        inside.resolve();
        await sleep(50);
        await tx.execute("INSERT INTO t(v) VALUES ('two')");
        order.push('transaction callback done');
        return 'committed';
      });
      await inside.promise;
      const closing = db.close().then(() => order.push('closed'));
      expect(db.closed).toBe(true);
      await expect(transaction).resolves.toBe('committed');
      await closing;
      expect(order).toEqual(['transaction callback done', 'closed']);
      if (kind === 'file') {
        // The commit reached the file.
        const again = await target.reopen();
        expect(await again.query('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'one' }, { v: 'two' }]);
      }
    });

    it('lets the transaction keep using tx until it ends, even though close() was called', async () => {
      const inside = deferred();
      const proceed = deferred();
      const transaction = db.transaction(async (tx) => {
        inside.resolve();
        await proceed.promise;
        await tx.execute("INSERT INTO t(v) VALUES ('after close was called')");
        return (await tx.query<{ n: number }>('SELECT count(*) AS n FROM t'))[0].n;
      });
      await inside.promise;
      const closing = db.close();
      proceed.resolve();
      expect(await transaction).toBe(1);
      await closing;
    });

    it('runs the work queued before close, then closes', async () => {
      const inside = deferred();
      const proceed = deferred();
      const transaction = db.transaction(async (tx) => {
        inside.resolve();
        await proceed.promise;
        await tx.execute("INSERT INTO t(v) VALUES ('tx')");
      });
      await inside.promise;
      const queuedBefore = db.execute("INSERT INTO t(v) VALUES ('queued before close')");
      const queuedRead = db.query<{ v: string }>('SELECT v FROM t ORDER BY id');
      const closing = db.close();
      const afterClose = expectLibsqlError(db.execute("INSERT INTO t(v) VALUES ('after close')"), 'CLIENT_CLOSED');
      proceed.resolve();
      await transaction;
      expect((await queuedBefore).rowsAffected).toBe(1);
      expect((await queuedRead).map((row) => row.v)).toEqual(['tx', 'queued before close']);
      await afterClose;
      await closing;
      if (kind === 'file') {
        const again = await target.reopen();
        expect(await again.query('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'tx' }, { v: 'queued before close' }]);
      }
    });

    it('a transaction that rolls back while close() waits still rolls back', async () => {
      const inside = deferred();
      const transaction = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO t(v) VALUES ('doomed')");
        inside.resolve();
        await sleep(20);
        throw new Error('roll back');
      });
      await inside.promise;
      const closing = db.close();
      await expect(transaction).rejects.toThrow('roll back');
      await closing;
      if (kind === 'file') {
        const again = await target.reopen();
        expect(await again.query('SELECT v FROM t')).toEqual([]);
      }
    });

    it('a tx kept after close → TRANSACTION_CLOSED', async () => {
      let saved: Parameters<Parameters<Database['transaction']>[0]>[0] | undefined;
      await db.transaction((tx) => {
        saved = tx;
      });
      await db.close();
      await expectLibsqlError(saved!.query('SELECT 1'), 'TRANSACTION_CLOSED');
    });
  });
});

describe('close() of a file', () => {
  it('leaves no WAL behind and keeps every committed row', async () => {
    const target = await openTarget('file');
    try {
      const { db, path } = target;
      await db.exec('CREATE TABLE t(v)');
      for (let i = 0; i < 20; i++) await db.execute('INSERT INTO t VALUES (?)', [i]);
      await db.close();
      // The last connection to close checkpoints the WAL into the file and deletes it.
      expect(existsSync(`${path}-wal`)).toBe(false);
      const reopened = await open(path!);
      expect((await reopened.query<{ n: number }>('SELECT count(*) AS n, sum(v) AS s FROM t'))[0]).toEqual({ n: 20, s: 190 });
      await reopened.close();
    } finally {
      await target.dispose();
    }
  });
});

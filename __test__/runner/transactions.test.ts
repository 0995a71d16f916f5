/**
 * `db.transaction(fn)`: commit and rollback, what the callback may and may not do, and how
 * top-level calls made while a transaction is open wait for it instead of running inside it.
 */
import { describe, expect, it } from 'vitest';
import {
  deferred,
  expectLibsqlError,
  describeEachKind,
  isRemoteKind,
  RUNNER_KINDS,
  open,
  withTableEachTest,
  sleep,
  type Database,
  type TestDatabase,
} from '../support/runner-helpers.js';

describeEachKind('transaction()', RUNNER_KINDS, (kind) => {
  let target: TestDatabase;
  let db: Database;
  withTableEachTest(kind, (opened) => {
    target = opened;
    db = opened.db;
  });

  const values = async () => (await db.query<{ v: string }>('SELECT v FROM t ORDER BY id')).map((row) => row.v);

  describe('commit and rollback', () => {
    it('commits when the callback resolves, and resolves to its value', async () => {
      const result = await db.transaction(async (tx) => {
        await tx.execute("INSERT INTO t(v) VALUES ('a')");
        const rows = await tx.query<{ v: string }>('SELECT v FROM t');
        await tx.execute("INSERT INTO t(v) VALUES ('b')");
        return { seen: rows.map((row) => row.v) };
      });
      expect(result).toEqual({ seen: ['a'] });
      expect(await values()).toEqual(['a', 'b']);
    });

    it('rolls back when the callback rejects, and rejects with the same error', async () => {
      await db.execute("INSERT INTO t(v) VALUES ('before')");
      const failure = new Error('callback failed');
      const outcome = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO t(v) VALUES ('inside')");
        await tx.execute("UPDATE t SET v = 'changed' WHERE v = 'before'");
        throw failure;
      });
      await expect(outcome).rejects.toBe(failure);
      expect(await values()).toEqual(['before']);
    });

    it('rolls back when the callback throws synchronously, and rejects with that error', async () => {
      const failure = new TypeError('sync throw');
      const outcome = db.transaction((tx) => {
        void tx.execute("INSERT INTO t(v) VALUES ('inside')");
        throw failure;
      });
      await expect(outcome).rejects.toBe(failure);
      expect(await values()).toEqual([]);
    });

    it('rolls back when a statement inside fails and the callback lets the error through', async () => {
      await expectLibsqlError(
        db.transaction(async (tx) => {
          await tx.execute("INSERT INTO t(id, v) VALUES (1, 'one')");
          await tx.execute("INSERT INTO t(id, v) VALUES (1, 'dup')");
        }),
        'SQLITE_CONSTRAINT_PRIMARYKEY',
      );
      expect(await values()).toEqual([]);
    });

    it('commits when the callback catches a failed statement and resolves', async () => {
      const result = await db.transaction(async (tx) => {
        await tx.execute("INSERT INTO t(id, v) VALUES (1, 'one')");
        const error = await tx.execute("INSERT INTO t(id, v) VALUES (1, 'dup')").catch((e: Error) => e);
        return (error as { code?: string }).code;
      });
      expect(result).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
      expect(await values()).toEqual(['one']);
    });

    it('a callback returning a non-promise value works', async () => {
      const result = await db.transaction((tx) => {
        void tx.execute("INSERT INTO t(v) VALUES ('sync')");
        return 42;
      });
      expect(result).toBe(42);
      // The statement started before the callback returned; whatever it wrote committed.
      await sleep(0);
      expect(await values()).toEqual(['sync']);
    });

    it('a callback that never touches tx works and commits nothing', async () => {
      expect(await db.transaction(() => 'nothing')).toBe('nothing');
      expect(await db.transaction(async () => undefined)).toBeUndefined();
      expect(await values()).toEqual([]);
    });

    it('tx.execute reports rowsAffected and lastInsertRowid', async () => {
      const result = await db.transaction((tx) => tx.execute("INSERT INTO t(v) VALUES ('x'), ('y')"));
      expect(result).toEqual({ rowsAffected: 2, lastInsertRowid: 2 });
    });

    // Only a file can have a second connection in this process that competes for its lock.
    if (kind === 'file') it('takes the write lock at BEGIN (a second connection cannot write meanwhile)', async () => {
      const other = await target.reopen({ busyTimeout: 0 });
      const held = deferred();
      const inside = deferred();
      const running = db.transaction(async () => {
        inside.resolve();
        await held.promise;
      });
      await inside.promise;
      await expectLibsqlError(other.execute("INSERT INTO t(v) VALUES ('other')"), 'SQLITE_BUSY');
      held.resolve();
      await running;
      await other.execute("INSERT INTO t(v) VALUES ('other')");
      expect(await values()).toEqual(['other']);
    });

    it('a transaction can run after a failed one', async () => {
      await expect(db.transaction(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
      await db.transaction((tx) => tx.execute("INSERT INTO t(v) VALUES ('next')"));
      expect(await values()).toEqual(['next']);
    });

    it('transaction() without a function → TypeError', async () => {
      await expect(db.transaction(undefined as unknown as () => void)).rejects.toBeInstanceOf(TypeError);
    });
  });

  describe('what the callback may not do', () => {
    it('a nested db.transaction() → LibsqlError TRANSACTION_STATE, and the outer one can still commit', async () => {
      const result = await db.transaction(async (tx) => {
        await tx.execute("INSERT INTO t(v) VALUES ('outer')");
        const error = await expectLibsqlError(
          db.transaction((inner) => inner.execute("INSERT INTO t(v) VALUES ('inner')")),
          'TRANSACTION_STATE',
          /inside this database's transaction callback/,
        );
        return error.code;
      });
      expect(result).toBe('TRANSACTION_STATE');
      expect(await values()).toEqual(['outer']);
    });

    it.each(['query', 'execute', 'batch', 'exec', 'sync'] as const)(
      'calling db.%s() inside the callback → TRANSACTION_STATE, no deadlock',
      async (method) => {
        const call: Record<typeof method, () => Promise<unknown>> = {
          query: () => db.query('SELECT 1'),
          execute: () => db.execute("INSERT INTO t(v) VALUES ('outer call')"),
          batch: () => db.batch(["INSERT INTO t(v) VALUES ('outer call')"]),
          exec: () => db.exec("INSERT INTO t(v) VALUES ('outer call')"),
          sync: () => db.sync(),
        };
        const outcome = await db.transaction(async (tx) => {
          await tx.execute("INSERT INTO t(v) VALUES ('tx')");
          return (await expectLibsqlError(call[method](), 'TRANSACTION_STATE', new RegExp(`db\\.${method}\\(\\)`))).code;
        });
        expect(outcome).toBe('TRANSACTION_STATE');
        expect(await values()).toEqual(['tx']);
      },
    );

    it('the refusal follows the callback into timers and later promise callbacks', async () => {
      const codes = await db.transaction(async () => {
        const fromTimer = await new Promise<unknown>((resolve) => {
          setTimeout(() => db.query('SELECT 1').then(resolve, (e: { code: string }) => resolve(e.code)), 1);
        });
        const fromThen = await Promise.resolve().then(() => db.query('SELECT 1').catch((e: { code: string }) => e.code));
        return [fromTimer, fromThen];
      });
      expect(codes).toEqual(['TRANSACTION_STATE', 'TRANSACTION_STATE']);
    });

    it('an uncaught db.query() inside the callback rejects and rolls back the transaction', async () => {
      await expectLibsqlError(
        db.transaction(async (tx) => {
          await tx.execute("INSERT INTO t(v) VALUES ('tx')");
          await db.query('SELECT 1');
        }),
        'TRANSACTION_STATE',
      );
      expect(await values()).toEqual([]);
    });

    it('another database can be used inside the callback', async () => {
      const other = await open(':memory:');
      try {
        const n = await db.transaction(async (tx) => {
          await tx.execute("INSERT INTO t(v) VALUES ('tx')");
          return (await other.query<{ n: number }>('SELECT 6 * 7 AS n'))[0].n;
        });
        expect(n).toBe(42);
      } finally {
        await other.close();
      }
    });

    it('tx used after the transaction committed → LibsqlError TRANSACTION_CLOSED', async () => {
      let saved: Parameters<Parameters<Database['transaction']>[0]>[0] | undefined;
      await db.transaction((tx) => {
        saved = tx;
      });
      await expectLibsqlError(saved!.query('SELECT 1'), 'TRANSACTION_CLOSED');
      await expectLibsqlError(saved!.execute("INSERT INTO t(v) VALUES ('late')"), 'TRANSACTION_CLOSED');
      expect(await values()).toEqual([]);
    });

    it('tx used after the transaction rolled back → TRANSACTION_CLOSED, and writes nothing', async () => {
      let saved: Parameters<Parameters<Database['transaction']>[0]>[0] | undefined;
      await expect(
        db.transaction((tx) => {
          saved = tx;
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await expectLibsqlError(saved!.execute("INSERT INTO t(v) VALUES ('late')"), 'TRANSACTION_CLOSED');
      expect(await values()).toEqual([]);
    });

    it('tx used by a stray timer after the transaction ended → TRANSACTION_CLOSED, not a write in the next transaction', async () => {
      const late = deferred<unknown>();
      await db.transaction((tx) => {
        setTimeout(() => tx.execute("INSERT INTO t(v) VALUES ('stray')").then(late.resolve, late.resolve), 20);
      });
      const next = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO t(v) VALUES ('next')");
        await sleep(60); // the stray timer fires while this transaction is open
        throw new Error('roll back next');
      });
      await expect(next).rejects.toThrow('roll back next');
      expect(await late.promise).toMatchObject({ code: 'TRANSACTION_CLOSED' });
      expect(await values()).toEqual([]);
    });
  });

  describe('top-level calls while a transaction is open', () => {
    it('wait for the transaction and never run inside it: a top-level insert survives the rollback', async () => {
      const held = deferred();
      const inside = deferred();
      const transaction = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO t(v) VALUES ('uncommitted')");
        inside.resolve();
        await held.promise;
        throw new Error('roll back');
      });
      await inside.promise;
      const topLevelInsert = db.execute("INSERT INTO t(v) VALUES ('top-level')");
      const topLevelRead = db.query<{ v: string }>('SELECT v FROM t ORDER BY id');
      // Give the top-level calls every chance to run early if they were going to.
      await sleep(30);
      held.resolve();
      await expect(transaction).rejects.toThrow('roll back');
      expect((await topLevelInsert).rowsAffected).toBe(1);
      // The read was issued during the transaction: it must not see the uncommitted row.
      expect((await topLevelRead).map((row) => row.v)).toEqual(['top-level']);
      expect(await values()).toEqual(['top-level']);
    });

    /**
     * Where calls wait for an open transaction: every local target, and a server with
     * `concurrency: 1`. With more lanes a server runs them beside it (the next test).
     */
    const waitingDb = (): Promise<Database> => (isRemoteKind(kind) ? target.reopen({ concurrency: 1 }) : Promise.resolve(db));

    if (isRemoteKind(kind)) {
      it('on a server, a top-level read runs beside the open transaction: before its commit, without its writes', async () => {
        await db.execute("INSERT INTO t(v) VALUES ('before')");
        const inside = deferred();
        const held = deferred();
        const transaction = db.transaction(async (tx) => {
          await tx.execute("INSERT INTO t(v) VALUES ('inside')");
          inside.resolve();
          await held.promise;
        });
        await inside.promise;
        // The transaction is still open (held): the read does not wait for it.
        expect(await db.query<{ v: string }>('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'before' }]);
        held.resolve();
        await transaction;
        expect(await values()).toEqual(['before', 'inside']);
      });
    }

    it('a top-level read issued during a transaction that commits runs after the commit', async () => {
      const db = await waitingDb();
      const inside = deferred();
      const order: string[] = [];
      const transaction = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO t(v) VALUES ('first')");
        inside.resolve();
        await sleep(20);
        await tx.execute("INSERT INTO t(v) VALUES ('second')");
        order.push('transaction body done');
      });
      await inside.promise;
      const read = db.query<{ v: string }>('SELECT v FROM t ORDER BY id').then((rows) => {
        order.push('read');
        return rows.map((row) => row.v);
      });
      await transaction;
      expect(await read).toEqual(['first', 'second']);
      expect(order).toEqual(['transaction body done', 'read']);
    });

    it('queued calls and transactions run first come, first served', async () => {
      const db = await waitingDb();
      const order: string[] = [];
      const held = deferred();
      const first = db.transaction(async (tx) => {
        await held.promise;
        await tx.execute("INSERT INTO t(v) VALUES ('tx1')");
        order.push('tx1');
      });
      await sleep(0);
      const calls = [
        db.execute("INSERT INTO t(v) VALUES ('call-a')").then(() => order.push('call-a')),
        db.transaction(async (tx) => {
          await tx.execute("INSERT INTO t(v) VALUES ('tx2')");
          order.push('tx2');
        }),
        db.execute("INSERT INTO t(v) VALUES ('call-b')").then(() => order.push('call-b')),
        db.batch(["INSERT INTO t(v) VALUES ('batch')"]).then(() => order.push('batch')),
      ];
      held.resolve();
      await Promise.all([first, ...calls]);
      expect(order).toEqual(['tx1', 'call-a', 'tx2', 'call-b', 'batch']);
      expect(await values()).toEqual(['tx1', 'call-a', 'tx2', 'call-b', 'batch']);
    });

    it('a failed transaction releases the queue (waiting calls still run)', async () => {
      const inside = deferred();
      const transaction = db.transaction(async () => {
        inside.resolve();
        await sleep(10);
        throw new Error('nope');
      });
      await inside.promise;
      const waiting = db.execute("INSERT INTO t(v) VALUES ('after failure')");
      await expect(transaction).rejects.toThrow('nope');
      await waiting;
      expect(await values()).toEqual(['after failure']);
    });
  });
});

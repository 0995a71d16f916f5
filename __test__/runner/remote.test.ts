/**
 * A libSQL server (sqld or Turso) on a fresh database (see support/remote-target.ts for where
 * the server comes from). Embedded replicas: replica/embedded.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deferred,
  expectLibsqlError,
  open,
  rejectionOf,
  sleep,
  type Database,
  type OpenOptions,
} from '../support/runner-helpers.js';

import { freshRemote, OWN_SERVER_SKIP_REASON, REMOTE_SKIP_REASON as skipReason, skipSuffix, type RemoteDatabase } from '../support/remote-target.js';
import { countRequests } from '../support/request-counter.js';

const suffix = skipSuffix(skipReason);
let server: RemoteDatabase;

function remoteOptions(extra: Omit<OpenOptions, 'url'> = {}): OpenOptions {
  return { url: server.url, authToken: server.authToken, ...extra };
}

beforeAll(async () => {
  if (!skipReason) server = await freshRemote();
});
afterAll(() => server?.dispose());

const table = `flue_libsql_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;

describe.skipIf(skipReason !== undefined)(`remote server${suffix}`, () => {
  let db: Database;

  beforeAll(async () => {
    db = await open(remoteOptions());
    await db.exec(`CREATE TABLE ${table}(id INTEGER PRIMARY KEY, v TEXT UNIQUE, b BLOB)`);
  });
  afterAll(async () => {
    if (!db) return;
    await db.exec(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await db.close();
  });

  it('opens a remote database', () => {
    expect(db.kind).toBe('remote');
  });

  it('query and execute round-trip values and counts', async () => {
    const result = await db.execute(`INSERT INTO ${table}(v, b) VALUES (?, ?)`, ['one', new Uint8Array([1, 2, 3])]);
    expect(result.rowsAffected).toBe(1);
    expect(typeof result.lastInsertRowid === 'number' || typeof result.lastInsertRowid === 'bigint').toBe(true);
    expect((await db.execute(`SELECT * FROM ${table}`)).rowsAffected).toBe(0);
    const rows = await db.query(`SELECT v, b, typeof(b) AS t FROM ${table} WHERE v = :v`, { v: 'one' });
    expect(rows).toHaveLength(1);
    expect(rows[0].v).toBe('one');
    expect(rows[0].t).toBe('blob');
    expect(Array.from(rows[0].b as Uint8Array)).toEqual([1, 2, 3]);
    const [values] = await db.query('SELECT ? AS big, ? AS safe, ? AS real, ? AS nul, ? AS emoji', [2n ** 62n, 2 ** 53 - 1, 1.5, null, '😀']);
    expect(values).toEqual({ big: 2n ** 62n, safe: 2 ** 53 - 1, real: 1.5, nul: null, emoji: '😀' });
  });

  it('a constraint error keeps SQLite’s code', async () => {
    await db.execute(`INSERT INTO ${table}(v) VALUES ('dup')`);
    await expectLibsqlError(db.execute(`INSERT INTO ${table}(v) VALUES ('dup')`), 'SQLITE_CONSTRAINT_UNIQUE');
  });

  it('query with two statements → SQLITE_MISUSE', async () => {
    await expectLibsqlError(db.query('SELECT 1; SELECT 2'), 'SQLITE_MISUSE');
  });

  it('a transaction commits, and a failing one rolls back', async () => {
    const value = await db.transaction(async (tx) => {
      await tx.execute(`INSERT INTO ${table}(v) VALUES ('tx-commit')`);
      return (await tx.query<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE v = 'tx-commit'`))[0].n;
    });
    expect(value).toBe(1);
    await expect(
      db.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${table}(v) VALUES ('tx-rollback')`);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const rows = await db.query<{ v: string }>(`SELECT v FROM ${table} WHERE v LIKE 'tx-%' ORDER BY v`);
    expect(rows.map((row) => row.v)).toEqual(['tx-commit']);
  });

  it('top-level calls wait for an open transaction and do not run inside it', async () => {
    const inside = deferred();
    const transaction = db.transaction(async (tx) => {
      await tx.execute(`INSERT INTO ${table}(v) VALUES ('wait-uncommitted')`);
      inside.resolve();
      await sleep(50);
      throw new Error('roll back');
    });
    await inside.promise;
    const insert = db.execute(`INSERT INTO ${table}(v) VALUES ('wait-top-level')`);
    await expect(transaction).rejects.toThrow('roll back');
    await insert;
    const rows = await db.query<{ v: string }>(`SELECT v FROM ${table} WHERE v LIKE 'wait-%'`);
    expect(rows.map((row) => row.v)).toEqual(['wait-top-level']);
  });

  it('db.query() inside the callback → TRANSACTION_STATE', async () => {
    const code = await db.transaction(async () => (await rejectionOf(db.query('SELECT 1'))).code);
    expect(code).toBe('TRANSACTION_STATE');
  });

  it('batch() is all-or-nothing', async () => {
    await expectLibsqlError(
      db.batch([`INSERT INTO ${table}(v) VALUES ('batch-1')`, `INSERT INTO ${table}(v) VALUES ('batch-2')`, `INSERT INTO ${table}(v) VALUES ('batch-1')`]),
      'SQLITE_CONSTRAINT_UNIQUE',
    );
    expect(await db.query(`SELECT v FROM ${table} WHERE v LIKE 'batch-%'`)).toEqual([]);
  });

  it('statements run off the JS thread: a timer fires while a query is in flight', async () => {
    let fired = false;
    setTimeout(() => {
      fired = true;
    }, 0);
    const pending = db.query('SELECT 1 AS one');
    // A local query would already be done; a remote one is only sent.
    expect(fired).toBe(false);
    expect(await pending).toEqual([{ one: 1 }]);
  });

  it('statements called together (sent to the server in one request) each end as if run alone, in call order', async () => {
    await db.exec(`CREATE TABLE ${table}_burst(id INTEGER PRIMARY KEY, v TEXT UNIQUE)`);
    try {
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 60; i++) {
        calls.push(db.execute(`INSERT INTO ${table}_burst(v) VALUES (?)`, [i === 30 ? 'v-0' : `v-${i}`]));
        if (i % 10 === 9) calls.push(db.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}_burst`));
      }
      calls.push(db.query('BEGIN'));
      const settled = await Promise.allSettled(calls);
      const rejected = settled.flatMap((outcome, index) => (outcome.status === 'rejected' ? [[index, (outcome.reason as { code?: string }).code]] : []));
      // The duplicate (call 33: 30 inserts + 3 counts before it) and the refused BEGIN fail alone.
      expect(rejected).toEqual([[33, 'SQLITE_CONSTRAINT_UNIQUE'], [66, 'TRANSACTION_STATE']]);
      const counts = settled.filter((_, index) => index % 11 === 10).map((outcome) => (outcome as PromiseFulfilledResult<{ n: number }[]>).value[0].n);
      expect(counts).toEqual([10, 20, 30, 39, 49, 59]);
      const ids = (settled.slice(0, 3) as PromiseFulfilledResult<{ lastInsertRowid: number }>[]).map((outcome) => outcome.value.lastInsertRowid);
      expect(ids).toEqual([1, 2, 3]);
    } finally {
      await db.exec(`DROP TABLE IF EXISTS ${table}_burst`);
    }
  });

  // Counted at a proxy of plain HTTP: on a sqld the tests start.
  it.skipIf(OWN_SERVER_SKIP_REASON !== undefined)(`statements called in one turn cost one request, in a transaction too; awaited ones one each${skipSuffix(OWN_SERVER_SKIP_REASON)}`, async () => {
    const counter = await countRequests(server.server!.httpUrl);
    const counted = await open({ url: counter.url, authToken: server.authToken });
    try {
      await counted.exec(`CREATE TABLE ${table}_turn(id INTEGER PRIMARY KEY, v TEXT)`);
      let before = counter.requests;
      const rows = await Promise.all([
        counted.execute(`INSERT INTO ${table}_turn(v) VALUES ('a')`),
        counted.execute(`INSERT INTO ${table}_turn(v) VALUES ('b')`),
        counted.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}_turn`),
      ]);
      expect(rows[2]).toEqual([{ n: 2 }]);
      expect(counter.requests - before).toBe(1);

      before = counter.requests;
      await counted.transaction(async (tx) => {
        // BEGIN travels with the first of them; COMMIT is one more request.
        const [, , [count]] = await Promise.all([
          tx.execute(`INSERT INTO ${table}_turn(v) VALUES ('c')`),
          tx.execute(`INSERT INTO ${table}_turn(v) VALUES ('d')`),
          tx.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}_turn`),
        ]);
        expect(count.n).toBe(4);
      });
      expect(counter.requests - before).toBe(2);

      before = counter.requests;
      for (const v of ['e', 'f', 'g']) await counted.execute(`INSERT INTO ${table}_turn(v) VALUES (?)`, [v]);
      expect(counter.requests - before).toBe(3);
      expect(await counted.query(`SELECT v FROM ${table}_turn ORDER BY id`)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((v) => ({ v })));
      await counted.exec(`DROP TABLE ${table}_turn`);
    } finally {
      await counted.close();
      await counter.close();
    }
  });

  it('concurrent calls are serialized in the order they were made', async () => {
    await db.exec(`CREATE TABLE ${table}_c(id INTEGER PRIMARY KEY, op INTEGER NOT NULL)`);
    try {
      const calls: Promise<unknown>[] = [];
      const rolledBack: Promise<unknown>[] = [];
      let expected = 0;
      for (let i = 0; i < 100; i++) {
        if (i % 10 === 3) {
          // A top-level write made just before a transaction that rolls back must survive it.
          expected += 1;
          calls.push(db.execute(`INSERT INTO ${table}_c(op) VALUES (?)`, [i]));
          rolledBack.push(
            db
              .transaction(async (tx) => {
                await tx.execute(`INSERT INTO ${table}_c(op) VALUES (?)`, [-i]);
                throw new Error('roll back');
              })
              .then(
                () => 'committed',
                (error: Error) => error.message,
              ),
          );
        } else if (i % 10 === 5) {
          expected += 2;
          calls.push(db.transaction(async (tx) => {
            await tx.execute(`INSERT INTO ${table}_c(op) VALUES (?)`, [i]);
            await tx.execute(`INSERT INTO ${table}_c(op) VALUES (?)`, [i]);
          }));
        } else {
          expected += 1;
          calls.push(db.execute(`INSERT INTO ${table}_c(op) VALUES (?)`, [i]));
          calls.push(db.query(`SELECT count(*) AS n FROM ${table}_c`));
        }
      }
      const settled = await Promise.allSettled(calls);
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
      expect(new Set(await Promise.all(rolledBack))).toEqual(new Set(['roll back']));
      const [{ n, negative }] = await db.query<{ n: number; negative: number }>(
        `SELECT count(*) AS n, sum(op < 0) AS negative FROM ${table}_c`,
      );
      expect({ n, negative }).toEqual({ n: expected, negative: 0 });
    } finally {
      await db.exec(`DROP TABLE IF EXISTS ${table}_c`);
    }
  });

  it('sync() on a remote database resolves to { frameNo: null, framesSynced: 0 }', async () => {
    expect(await db.sync()).toEqual({ frameNo: null, framesSynced: 0 });
  });

  it('close() waits for a running transaction, then refuses calls with CLIENT_CLOSED', async () => {
    const own = await open(remoteOptions());
    const inside = deferred();
    const transaction = own.transaction(async (tx) => {
      inside.resolve();
      await sleep(30);
      await tx.execute(`INSERT INTO ${table}(v) VALUES ('before-close')`);
      return 'done';
    });
    await inside.promise;
    const closing = own.close();
    await expect(transaction).resolves.toBe('done');
    await closing;
    await expect(own.close()).resolves.toBeUndefined();
    await expectLibsqlError(own.query('SELECT 1'), 'CLIENT_CLOSED');
    expect(await db.query(`SELECT v FROM ${table} WHERE v = 'before-close'`)).toEqual([{ v: 'before-close' }]);
  });
});

/**
 * A libSQL server (sqld or Turso) and an embedded replica of it.
 *
 * These run only against a real server: set FLUE_LIBSQL_TEST_URL (libsql://, https:// or
 * http://) and, if the server wants one, FLUE_LIBSQL_TEST_AUTH_TOKEN. Without them the suites
 * are skipped, with the reason in their name and on stderr. Each run works in tables of its
 * own (random suffix) and drops them afterwards.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deferred,
  expectLibsqlError,
  makeTempDir,
  open,
  rejectionOf,
  remoteConfig,
  sleep,
  type Database,
  type OpenOptions,
  type TempDir,
} from './support/runner-helpers.js';

const config = remoteConfig();
const skipReason = 'skipReason' in config ? config.skipReason : undefined;
if (skipReason) console.warn(`skipping remote and embedded-replica tests: ${skipReason}`);
const suffix = skipReason ? ` (skipped: ${skipReason})` : '';

function remoteOptions(extra: Omit<OpenOptions, 'url'> = {}): OpenOptions {
  if ('skipReason' in config) throw new Error(config.skipReason);
  return { url: config.url, authToken: config.authToken, ...extra };
}

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
            db.transaction(async (tx) => {
              await tx.execute(`INSERT INTO ${table}_c(op) VALUES (?)`, [-i]);
              throw new Error('roll back');
            }),
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
      for (const outcome of await Promise.allSettled(rolledBack)) expect(outcome.status).toBe('rejected');
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

  it.skipIf(!('authToken' in config) || !config.authToken)('a wrong auth token → LibsqlError AUTH_FAILED', async () => {
    const wrong = await open(remoteOptions({ authToken: 'not-a-valid-token' })).catch((error: Error) => error);
    const error = wrong instanceof Error ? wrong : await rejectionOf((wrong as Database).query('SELECT 1'));
    expect((error as { code?: string }).code).toBe('AUTH_FAILED');
    expect(error.message).not.toContain('not-a-valid-token');
    if (!(wrong instanceof Error)) await (wrong as Database).close();
  });
});

describe.skipIf(skipReason !== undefined)(`embedded replica${suffix}`, () => {
  const replicaTable = `${table}_replica`;
  let dir: TempDir;
  let primary: Database;
  let replica: Database;

  beforeAll(async () => {
    dir = await makeTempDir();
    primary = await open(remoteOptions());
    await primary.exec(`CREATE TABLE ${replicaTable}(id INTEGER PRIMARY KEY, v TEXT)`);
    const { url, authToken } = remoteOptions();
    replica = await open({ url: `file:${dir.file('replica.db')}`, syncUrl: url, authToken });
    await replica.sync();
  });
  afterAll(async () => {
    await replica?.close();
    if (primary) {
      await primary.exec(`DROP TABLE IF EXISTS ${replicaTable}`).catch(() => {});
      await primary.close();
    }
    await dir?.remove();
  });

  it('opens as a replica', () => {
    expect(replica.kind).toBe('replica');
  });

  it('writes go through to the primary and are readable locally at once', async () => {
    const result = await replica.execute(`INSERT INTO ${replicaTable}(v) VALUES (?)`, ['from-replica']);
    expect(result.rowsAffected).toBe(1);
    expect(await replica.query(`SELECT v FROM ${replicaTable} WHERE v = 'from-replica'`)).toEqual([{ v: 'from-replica' }]);
    expect(await primary.query(`SELECT v FROM ${replicaTable} WHERE v = 'from-replica'`)).toEqual([{ v: 'from-replica' }]);
  });

  it('a write made on the primary is read after sync()', async () => {
    await primary.execute(`INSERT INTO ${replicaTable}(v) VALUES (?)`, ['from-primary']);
    const synced = await replica.sync();
    expect(typeof synced.framesSynced).toBe('number');
    expect(synced.frameNo === null || typeof synced.frameNo === 'number').toBe(true);
    expect(await replica.query(`SELECT v FROM ${replicaTable} WHERE v = 'from-primary'`)).toEqual([{ v: 'from-primary' }]);
  });

  it('a transaction on the replica commits to the primary', async () => {
    await replica.transaction(async (tx) => {
      await tx.execute(`INSERT INTO ${replicaTable}(v) VALUES ('replica-tx')`);
    });
    expect(await primary.query(`SELECT v FROM ${replicaTable} WHERE v = 'replica-tx'`)).toEqual([{ v: 'replica-tx' }]);
  });
});

/**
 * Embedded replicas (`open({ url: 'file:…', syncUrl })`) against a real sqld: where reads and
 * writes go, background sync, a server that pauses, dies and comes back, encryption at rest,
 * migrations, and a clean shutdown.
 *
 * Most suites start their own sqld (scripts/sqld-binary.mjs finds the binary) because they pause,
 * stop or restart it; without one they are skipped with the reason in their name. The first
 * suite (moved from runner/remote.test.ts) also runs on an external server (FLUE_LIBSQL_TEST_URL).
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  expectLibsqlError,
  makeTempDir,
  open,
  rejectionOf,
  runNodeChild,
  sleep,
  type Database,
  type OpenOptions,
  type TempDir,
} from '../support/runner-helpers.js';
import { freshRemote, OWN_SERVER_SKIP_REASON, REMOTE_SKIP_REASON, skipSuffix, type RemoteDatabase } from '../support/remote-target.js';
import { startSqld, stopAllSqld, type SqldServer } from '../support/sqld-server.js';

const LOCAL_FIRST_CHILD = fileURLToPath(new URL('../support/children/replica-local-first.mjs', import.meta.url));
const CLOSE_EXITS_CHILD = fileURLToPath(new URL('../support/children/replica-close-exits.mjs', import.meta.url));

const ownServer = describe.skipIf(OWN_SERVER_SKIP_REASON !== undefined);
const ownSuffix = skipSuffix(OWN_SERVER_SKIP_REASON);

/** Everything a test opened or started, undone in reverse order after it (errors collected, not thrown first). */
const cleanups: (() => unknown)[] = [];
function later<T>(value: T, undo: (value: T) => unknown): T {
  cleanups.push(() => undo(value));
  return value;
}
async function runCleanups(): Promise<void> {
  const errors: unknown[] = [];
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}

async function tempDir(): Promise<TempDir> {
  return later(await makeTempDir(), (dir) => dir.remove());
}
async function server(): Promise<SqldServer> {
  const started = later(await startSqld(), (s) => s.dispose());
  // A paused server would hold a graceful stop; make sure a failed test never leaves it so.
  cleanups.push(() => started.resume());
  return started;
}
async function opened(options: OpenOptions): Promise<Database> {
  return later(await open(options), (db) => db.close());
}
function replicaOptions(file: string, primary: SqldServer, extra: Partial<OpenOptions> = {}): OpenOptions {
  return { url: `file:${file}`, syncUrl: primary.url, ...extra };
}
/** A plain remote connection to the server, to see what the primary really holds. */
function remote(primary: SqldServer): Promise<Database> {
  return opened({ url: primary.url });
}

/** Polls `probe` until it returns something other than undefined, or fails after `ms`. */
async function eventually<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<{ value: T; elapsed: number }> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < ms) {
    try {
      const value = await probe();
      if (value !== undefined) return { value, elapsed: Date.now() - started };
    } catch (error) {
      last = error;
    }
    await sleep(25);
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${String(last)})` : ''}`);
}

/** Measures how long `fn` takes. */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** Settles `promise` or reports that it is still pending after `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<{ settled: true; value?: T; error?: unknown } | { settled: false }> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<{ settled: false }>((resolve) => (timer = setTimeout(() => resolve({ settled: false }), ms)));
  const outcome = promise.then(
    (value) => ({ settled: true as const, value }),
    (error: unknown) => ({ settled: true as const, error }),
  );
  try {
    return await Promise.race([outcome, pending]);
  } finally {
    clearTimeout(timer);
  }
}

afterEach(runCleanups);
afterAll(() => stopAllSqld());

// ---- moved from runner/remote.test.ts: also runs on an external server (Turso) -----------------

describe.skipIf(REMOTE_SKIP_REASON !== undefined)(`embedded replica${skipSuffix(REMOTE_SKIP_REASON)}`, () => {
  const replicaTable = `flue_libsql_test_${randomUUID().replaceAll('-', '').slice(0, 12)}_replica`;
  let target: RemoteDatabase;
  let dir: TempDir;
  let primary: Database;
  let replica: Database;

  beforeAll(async () => {
    target = await freshRemote();
    dir = await makeTempDir();
    primary = await open({ url: target.url, authToken: target.authToken });
    await primary.exec(`CREATE TABLE ${replicaTable}(id INTEGER PRIMARY KEY, v TEXT)`);
    replica = await open({ url: `file:${dir.file('replica.db')}`, syncUrl: target.url, authToken: target.authToken });
    await replica.sync();
  });
  afterAll(async () => {
    await replica?.close();
    if (primary) {
      await primary.exec(`DROP TABLE IF EXISTS ${replicaTable}`).catch(() => {});
      await primary.close();
    }
    await dir?.remove();
    await target?.dispose();
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

// ---- reads come from the local file ------------------------------------------------------------

ownServer(`replica reads${ownSuffix}`, () => {
  it('after sync(), reads answer from the local file while the server is paused (SIGSTOP), with or without syncInterval', async () => {
    const primary = await server();
    const dir = await tempDir();
    const writer = await remote(primary);
    await writer.exec(`CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
      INSERT INTO t(v) SELECT 'row-' || value FROM generate_series(1, 100);`);
    // requestTimeout 5 s: a read that went to the paused server would fail after it (not hang).
    const plain = await opened(replicaOptions(dir.file('plain.db'), primary, { requestTimeout: 5000 }));
    const interval = await opened(replicaOptions(dir.file('interval.db'), primary, { requestTimeout: 5000, syncInterval: 0.2 }));
    await plain.sync();
    await interval.sync();

    await primary.pause();
    try {
      await sleep(300); // the background sync of `interval` is now stuck on the paused server
      for (const replica of [plain, interval]) {
        const count = await timed(() => replica.query<{ n: number }>('SELECT count(*) AS n FROM t'));
        expect(count.value).toEqual([{ n: 100 }]);
        expect(count.ms).toBeLessThan(1000);
        const row = await timed(() => replica.query('SELECT v FROM t WHERE id = ?', [42]));
        expect(row.value).toEqual([{ v: 'row-42' }]);
        expect(row.ms).toBeLessThan(1000);
        const executed = await timed(() => replica.execute('SELECT * FROM t WHERE id > 50'));
        expect(executed.ms).toBeLessThan(1000);
      }
    } finally {
      primary.resume();
    }
    // And the server answers again after SIGCONT: the replica still syncs.
    await writer.execute(`INSERT INTO t(v) VALUES ('after-resume')`);
    await plain.sync();
    expect(await plain.query(`SELECT v FROM t WHERE v = 'after-resume'`)).toEqual([{ v: 'after-resume' }]);
  });
});

// ---- writes ------------------------------------------------------------------------------------

ownServer(`replica writes${ownSuffix}`, () => {
  let primary: SqldServer;
  let writer: Database;

  beforeAll(async () => {
    primary = await startSqld();
    writer = await open({ url: primary.url });
  });
  afterAll(async () => {
    await writer?.close();
    await primary?.dispose();
  });

  /** A fresh table on the primary, and a synced replica of it in a new file. */
  async function setup(extra: Partial<OpenOptions> = {}): Promise<{ table: string; replica: Database; dir: TempDir }> {
    const table = `t_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    await writer.exec(`CREATE TABLE ${table}(id INTEGER PRIMARY KEY, v TEXT UNIQUE)`);
    const dir = await tempDir();
    const replica = await opened(replicaOptions(dir.file('replica.db'), primary, extra));
    await replica.sync();
    return { table, replica, dir };
  }
  const values = (rows: { v: unknown }[]) => rows.map((row) => row.v);

  it('an INSERT reaches the server and is read back from the replica at once (readYourWrites default), with the server’s rowid', async () => {
    const { table, replica } = await setup();
    // Rows the replica has not synced: the primary picks the next rowid (42), not the replica.
    await writer.execute(`INSERT INTO ${table}(id, v) VALUES (41, 'primary-41')`);

    const inserted = await replica.execute(`INSERT INTO ${table}(v) VALUES (?)`, ['from-replica']);
    expect(await replica.query(`SELECT id, v FROM ${table} WHERE v = 'from-replica'`)).toEqual([{ id: 42, v: 'from-replica' }]);

    const fresh = await remote(primary);
    const onServer = await fresh.query<{ id: number }>(`SELECT id FROM ${table} WHERE v = 'from-replica'`);
    expect(onServer).toEqual([{ id: 42 }]);
    expect(inserted).toEqual({ rowsAffected: 1, lastInsertRowid: onServer[0].id });

    const updated = await replica.execute(`UPDATE ${table} SET v = v || '!' WHERE id >= 41`);
    expect(updated.rowsAffected).toBe(2);
    expect(values(await fresh.query(`SELECT v FROM ${table} ORDER BY id`))).toEqual(['primary-41!', 'from-replica!']);
    expect(values(await replica.query(`SELECT v FROM ${table} ORDER BY id`))).toEqual(['primary-41!', 'from-replica!']);
  });

  it('execute() of a SELECT after a write reports rowsAffected 0, not the write’s count', async () => {
    const { table, replica } = await setup();
    expect((await replica.execute(`INSERT INTO ${table}(v) VALUES ('a'), ('b'), ('c')`)).rowsAffected).toBe(3);
    // docs/api.md: "rowsAffected counts the rows this statement inserted, updated or deleted (0 for a SELECT)".
    expect((await replica.execute(`SELECT * FROM ${table}`)).rowsAffected).toBe(0);
  });

  it('a transaction on the replica commits to the primary and is read back at once', async () => {
    const { table, replica } = await setup();
    const result = await replica.transaction(async (tx) => {
      await tx.execute(`INSERT INTO ${table}(v) VALUES ('tx-1')`);
      const second = await tx.execute(`INSERT INTO ${table}(v) VALUES ('tx-2')`);
      const inside = await tx.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
      return { inside: inside[0].n, rowid: second.lastInsertRowid };
    });
    expect(result).toEqual({ inside: 2, rowid: 2 });
    expect(values(await writer.query(`SELECT v FROM ${table} ORDER BY id`))).toEqual(['tx-1', 'tx-2']);
    expect(values(await replica.query(`SELECT v FROM ${table} ORDER BY id`))).toEqual(['tx-1', 'tx-2']);
  });

  it('a transaction whose callback throws leaves nothing on the primary or the replica, and the replica stays usable', async () => {
    const { table, replica } = await setup();
    let seenInside: unknown;
    await expect(
      replica.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${table}(v) VALUES ('doomed')`);
        seenInside = await tx.query(`SELECT v FROM ${table}`);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(seenInside).toEqual([{ v: 'doomed' }]);
    expect(await writer.query(`SELECT v FROM ${table}`)).toEqual([]);
    expect(await replica.query(`SELECT v FROM ${table}`)).toEqual([]);
    await replica.sync();
    expect(await replica.query(`SELECT v FROM ${table}`)).toEqual([]);
    // Not left inside a transaction on either side: the next write and transaction work.
    await replica.execute(`INSERT INTO ${table}(v) VALUES ('after')`);
    await replica.transaction(async (tx) => tx.execute(`INSERT INTO ${table}(v) VALUES ('after-tx')`));
    expect(values(await writer.query(`SELECT v FROM ${table} ORDER BY id`))).toEqual(['after', 'after-tx']);
  });

  it('batch() is all-or-nothing on a replica', async () => {
    const { table, replica } = await setup();
    const failed = await expectLibsqlError(
      replica.batch([`INSERT INTO ${table}(v) VALUES ('b-1')`, `INSERT INTO ${table}(v) VALUES ('b-2')`, `INSERT INTO ${table}(v) VALUES ('b-1')`]),
      'SQLITE_CONSTRAINT_UNIQUE',
    );
    expect(failed.message).toMatch(/batch statement 3 of 3 failed, nothing was applied/);
    expect(await writer.query(`SELECT v FROM ${table}`)).toEqual([]);
    expect(await replica.query(`SELECT v FROM ${table}`)).toEqual([]);

    const results = await replica.batch([
      [`INSERT INTO ${table}(v) VALUES (?)`, ['b-1']],
      { sql: `INSERT INTO ${table}(v) VALUES (:v)`, params: { v: 'b-2' } },
      `SELECT count(*) AS n FROM ${table}`,
    ]);
    expect(results.map(({ rowsAffected, rows }) => ({ rowsAffected, rows }))).toEqual([
      { rowsAffected: 1, rows: [] },
      { rowsAffected: 1, rows: [] },
      { rowsAffected: 0, rows: [{ n: 2 }] },
    ]);
    expect(results[1].lastInsertRowid).toBe(2);
    expect(values(await writer.query(`SELECT v FROM ${table} ORDER BY id`))).toEqual(['b-1', 'b-2']);
    expect(values(await replica.query(`SELECT v FROM ${table} ORDER BY id`))).toEqual(['b-1', 'b-2']);
  });

  it('readYourWrites: false is passed through: the write is on the primary, and in the replica only after sync()', async () => {
    const { table, replica } = await setup({ readYourWrites: false });
    await replica.execute(`INSERT INTO ${table}(v) VALUES ('later')`);
    expect(await writer.query(`SELECT v FROM ${table}`)).toEqual([{ v: 'later' }]);
    expect(await replica.query(`SELECT v FROM ${table}`)).toEqual([]);
    await replica.sync();
    expect(await replica.query(`SELECT v FROM ${table}`)).toEqual([{ v: 'later' }]);
  });

  it('migrate() over a replica applies on the primary and is readable through the replica', async () => {
    const dir = await tempDir();
    const replica = await opened(replicaOptions(dir.file('replica.db'), primary));
    const migrations = [{ version: 1, name: 'a', sql: 'CREATE TABLE m(a)' }];
    expect(await replica.migrate(migrations)).toEqual({ set: 'app', applied: [{ version: 1, name: 'a' }], version: 1 });

    const fresh = await remote(primary);
    expect(await fresh.query(`SELECT name FROM sqlite_schema WHERE name = 'm'`)).toEqual([{ name: 'm' }]);
    expect(await fresh.query(`SELECT set_name, version, name FROM _flue_libsql_migrations`)).toEqual([{ set_name: 'app', version: 1, name: 'a' }]);
    // Readable through the replica without an explicit sync().
    expect(await replica.query(`SELECT name FROM sqlite_schema WHERE name = 'm'`)).toEqual([{ name: 'm' }]);
    expect(await replica.query(`SELECT set_name, version, name FROM _flue_libsql_migrations`)).toEqual([{ set_name: 'app', version: 1, name: 'a' }]);
    await replica.execute('INSERT INTO m(a) VALUES (?)', ['x']);
    expect(await fresh.query('SELECT a FROM m')).toEqual([{ a: 'x' }]);
    expect(await replica.query('SELECT a FROM m')).toEqual([{ a: 'x' }]);
    // Re-running is a no-op, also from another replica that learns the state by syncing.
    expect(await replica.migrate(migrations)).toEqual({ set: 'app', applied: [], version: 1 });
    const other = await opened(replicaOptions(dir.file('other.db'), primary));
    await other.sync();
    expect(await other.migrate(migrations)).toEqual({ set: 'app', applied: [], version: 1 });
    expect(await other.query('SELECT a FROM m')).toEqual([{ a: 'x' }]);
  });
});

// ---- background sync ---------------------------------------------------------------------------

ownServer(`replica syncInterval${ownSuffix}`, () => {
  it('syncInterval: 0.2 pulls the primary’s writes without sync(), again and again', async () => {
    const primary = await server();
    const dir = await tempDir();
    const writer = await remote(primary);
    await writer.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
    const replica = await opened(replicaOptions(dir.file('replica.db'), primary, { syncInterval: 0.2 }));
    // No sync() anywhere in this test.
    for (const value of ['first', 'second', 'third']) {
      await writer.execute('INSERT INTO t(v) VALUES (?)', [value]);
      const { elapsed } = await eventually(`the replica sees '${value}'`, 3000, async () => {
        const rows = await replica.query('SELECT v FROM t WHERE v = ?', [value]);
        return rows.length === 1 ? rows : undefined;
      });
      // 0.2 s interval: well under the 3 s budget (the first one includes the initial sync).
      expect(elapsed).toBeLessThan(2000);
    }
    expect(await replica.query('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'first' }, { v: 'second' }, { v: 'third' }]);
  });
});

// ---- a server that goes away -------------------------------------------------------------------

ownServer(`replica with a server that goes away${ownSuffix}`, () => {
  /** Creates table t on `primary` with one row, 'synced-before'. */
  async function seedSyncedBefore(primary: SqldServer): Promise<void> {
    const writer = await open({ url: primary.url });
    await writer.exec(`CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('synced-before')`);
    await writer.close();
  }

  /** A started server seeded with 'synced-before', and a replica file that has synced it, closed again. */
  async function syncedReplicaFile(): Promise<{ primary: SqldServer; file: string }> {
    const primary = await server();
    const dir = await tempDir();
    const file = dir.file('replica.db');
    await seedSyncedBefore(primary);
    const first = await open(replicaOptions(file, primary));
    await first.sync();
    await first.close();
    return { primary, file };
  }

  it('with syncInterval running, a stopped server causes no crash or unhandled rejection; sync() fails with SYNC_FAILED within requestTimeout; reads work', async () => {
    const primary = await server();
    const dir = await tempDir();
    const writer = await remote(primary);
    await writer.exec(`CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('kept')`);
    const replica = await opened(replicaOptions(dir.file('replica.db'), primary, { syncInterval: 0.2, requestTimeout: 2000 }));
    await replica.sync();

    const problems: string[] = [];
    const onRejection = (reason: unknown) => problems.push(`unhandledRejection: ${String(reason)}`);
    const onException = (error: unknown) => problems.push(`uncaughtException: ${String(error)}`);
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    try {
      await primary.stop();
      // A few seconds of failing background syncs (each tries the handshake for ~3 s), reading meanwhile.
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const read = await timed(() => replica.query('SELECT v FROM t'));
        expect(read.value).toEqual([{ v: 'kept' }]);
        expect(read.ms).toBeLessThan(1000);
        await sleep(250);
      }
      const started = Date.now();
      const error = await expectLibsqlError(replica.sync(), 'SYNC_FAILED');
      const elapsed = Date.now() - started;
      expect(elapsed, `sync() took ${elapsed} ms: ${error.message}`).toBeLessThan(2000 + 1000);
      expect(await replica.query('SELECT v FROM t')).toEqual([{ v: 'kept' }]);
      await sleep(200); // let anything that would reject late do so
    } finally {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    }
    expect(problems).toEqual([]);
  });

  it('local-first: a replica whose file exists opens and serves reads while the server is down; writes fail; after restart() sync and writes resume without reopening', async () => {
    const { primary, file } = await syncedReplicaFile();

    await primary.stop();
    const started = Date.now();
    const replica = await opened(replicaOptions(file, primary, { requestTimeout: 2000 })).catch((error: Error & { code?: string }) => {
      throw new Error(`open() of the existing replica with the server down rejected (${error.code}) after ${Date.now() - started} ms: ${error.message}`);
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await replica.query('SELECT v FROM t')).toEqual([{ v: 'synced-before' }]);
    const refused = await rejectionOf(replica.execute(`INSERT INTO t(v) VALUES ('while-down')`));
    expect(['SERVER_UNREACHABLE', 'REQUEST_TIMEOUT']).toContain(refused.code);

    await primary.restart();
    await eventually('sync() after restart()', 10_000, () => replica.sync());
    await replica.execute(`INSERT INTO t(v) VALUES ('after-restart')`);
    expect(await replica.query('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'synced-before' }, { v: 'after-restart' }]);
    const fresh = await remote(primary);
    expect(await fresh.query('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'synced-before' }, { v: 'after-restart' }]);
  });

  it('open() of an existing replica while the server is paused settles within requestTimeout (local-first, or a clear error)', async () => {
    const { primary, file } = await syncedReplicaFile();

    await primary.pause();
    const opening = open(replicaOptions(file, primary, { requestTimeout: 1000 }));
    // Whatever happens, close what it opens (after the server is resumed below).
    cleanups.push(() => opening.then((db) => db.close(), () => {}));
    let outcome: Awaited<ReturnType<typeof within<Database>>>;
    try {
      outcome = await within(opening, 1000 + 2000);
    } finally {
      primary.resume();
    }
    expect(outcome.settled, 'open() was still pending 3 s after it was called with requestTimeout: 1000 on a paused server').toBe(true);
    if (outcome.settled && outcome.error === undefined) {
      expect(await outcome.value!.query('SELECT v FROM t')).toEqual([{ v: 'synced-before' }]);
    } else if (outcome.settled) {
      expect(['REQUEST_TIMEOUT', 'SERVER_UNREACHABLE']).toContain((outcome.error as { code?: string }).code);
    }
  });

  it('a replica opened while the server was up: server stopped → reads work, writes fail SERVER_UNREACHABLE; restart() → sync and writes resume without reopening', async () => {
    const primary = await server();
    const dir = await tempDir();
    await seedSyncedBefore(primary);
    const replica = await opened(replicaOptions(dir.file('replica.db'), primary, { requestTimeout: 2000 }));
    await replica.sync();

    await primary.stop();
    expect(await replica.query('SELECT v FROM t')).toEqual([{ v: 'synced-before' }]);
    const refused = await timed(() => rejectionOf(replica.execute(`INSERT INTO t(v) VALUES ('while-down')`)));
    expect(refused.value.code, refused.value.message).toBe('SERVER_UNREACHABLE');
    expect(refused.ms).toBeLessThan(2000 + 1000);
    await expectLibsqlError(replica.sync(), 'SYNC_FAILED');
    await expectLibsqlError(replica.transaction((tx) => tx.execute(`INSERT INTO t(v) VALUES ('tx-while-down')`)), 'SERVER_UNREACHABLE');

    await primary.restart();
    await eventually('sync() after restart()', 10_000, () => replica.sync());
    await replica.execute(`INSERT INTO t(v) VALUES ('after-restart')`);
    await replica.transaction((tx) => tx.execute(`INSERT INTO t(v) VALUES ('tx-after-restart')`));
    const expected = [{ v: 'synced-before' }, { v: 'after-restart' }, { v: 'tx-after-restart' }];
    expect(await replica.query('SELECT v FROM t ORDER BY id')).toEqual(expected);
    const fresh = await remote(primary);
    expect(await fresh.query('SELECT v FROM t ORDER BY id')).toEqual(expected);
  });
});

// ---- encryption at rest ------------------------------------------------------------------------

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/** Every file of the replica's folder (the database, its WAL and the replication index). */
async function folderBytes(dir: TempDir): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of await readdir(dir.path)) files.set(name, await readFile(join(dir.path, name)));
  return files;
}

ownServer(`replica encryptionKey${ownSuffix}`, () => {
  let primary: SqldServer;
  let writer: Database;
  beforeAll(async () => {
    primary = await startSqld();
    writer = await open({ url: primary.url });
    await writer.exec('CREATE TABLE secrets(id INTEGER PRIMARY KEY, v TEXT)');
  });
  afterAll(async () => {
    await writer?.close();
    await primary?.dispose();
  });

  /** A replica with `encryptionKey`, synced, holding a row from the primary and one written through it; closed. */
  async function encryptedReplica(key: string): Promise<{ dir: TempDir; file: string; fromPrimary: string; fromReplica: string }> {
    const fromPrimary = `zebra-unicorn-${randomUUID()}`;
    const fromReplica = `walrus-narwhal-${randomUUID()}`;
    await writer.execute('INSERT INTO secrets(v) VALUES (?)', [fromPrimary]);
    const dir = await tempDir();
    const file = dir.file('replica.db');
    const replica = await open(replicaOptions(file, primary, { encryptionKey: key }));
    try {
      await replica.sync();
      await replica.execute('INSERT INTO secrets(v) VALUES (?)', [fromReplica]);
      expect(await replica.query('SELECT v FROM secrets WHERE v IN (?, ?) ORDER BY id', [fromPrimary, fromReplica])).toEqual([
        { v: fromPrimary },
        { v: fromReplica },
      ]);
    } finally {
      await replica.close();
    }
    return { dir, file, fromPrimary, fromReplica };
  }

  it('the local file is encrypted (no plaintext, no SQLite header) and reopens with the key', async () => {
    // Control: without a key the same data IS visible in the file, so the check below can fail.
    const plainDir = await tempDir();
    const plain = await open(replicaOptions(plainDir.file('replica.db'), primary));
    const marker = `plain-marker-${randomUUID()}`;
    await plain.execute('INSERT INTO secrets(v) VALUES (?)', [marker]);
    await plain.close();
    const plainFile = (await folderBytes(plainDir)).get('replica.db')!;
    expect(plainFile.subarray(0, 16).equals(SQLITE_HEADER)).toBe(true);
    expect(plainFile.includes(marker)).toBe(true);

    const key = `key-${randomUUID()}`;
    const { dir, file, fromPrimary, fromReplica } = await encryptedReplica(key);
    const files = await folderBytes(dir);
    expect(files.get('replica.db')!.length).toBeGreaterThan(0);
    expect(files.get('replica.db')!.subarray(0, 16).equals(SQLITE_HEADER)).toBe(false);
    for (const [name, bytes] of files) {
      expect(bytes.includes(fromPrimary), `${name} holds '${fromPrimary}' in plaintext`).toBe(false);
      expect(bytes.includes(fromReplica), `${name} holds '${fromReplica}' in plaintext`).toBe(false);
      expect(bytes.includes('CREATE TABLE secrets'), `${name} holds the schema in plaintext`).toBe(false);
    }

    const again = await opened(replicaOptions(file, primary, { encryptionKey: key }));
    // Read from the local file before any sync.
    expect(await again.query('SELECT v FROM secrets WHERE v IN (?, ?) ORDER BY id', [fromPrimary, fromReplica])).toEqual([
      { v: fromPrimary },
      { v: fromReplica },
    ]);
  });

  it('opening the encrypted replica without the key, or with a wrong one, rejects at open with SQLITE_NOTADB', async () => {
    const { file } = await encryptedReplica(`key-${randomUUID()}`);
    // docs/api.md: "A file that is not a database, a directory, or a wrong encryption key rejects at `open` (SQLITE_NOTADB …)".
    for (const options of [replicaOptions(file, primary), replicaOptions(file, primary, { encryptionKey: 'wrong-key' })]) {
      const attempt = open(options);
      cleanups.push(() => attempt.then((db) => db.close(), () => {}));
      const error = await rejectionOf(attempt);
      expect({ code: error.code, message: error.message }).toEqual({
        code: 'SQLITE_NOTADB',
        message: expect.stringMatching(/not a database|encryption/i),
      });
    }
  });
});

// ---- shutdown ----------------------------------------------------------------------------------

/** A TCP relay to the server that counts the bytes the client sends. */
async function countingProxy(target: SqldServer): Promise<{ url: string; sent(): number; close(): Promise<void> }> {
  let sent = 0;
  const sockets = new Set<Socket>();
  const proxy: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: target.port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => (sent += chunk.length));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    sent: () => sent,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}

ownServer(`closing a replica with syncInterval${ownSuffix}`, () => {
  it('close() stops the background sync: no more requests reach the server', async () => {
    const primary = await server();
    const dir = await tempDir();
    const proxy = later(await countingProxy(primary), (p) => p.close());
    const writer = await remote(primary);
    await writer.exec('CREATE TABLE t(v)');
    const replica = await open({ url: `file:${dir.file('replica.db')}`, syncUrl: proxy.url, syncInterval: 0.1 });
    let closed = false;
    cleanups.push(() => (closed ? undefined : replica.close()));
    await sleep(600);
    const before = proxy.sent();
    await sleep(600);
    expect(proxy.sent(), 'the background sync sends requests while open (the measurement works)').toBeGreaterThan(before);

    await replica.close();
    closed = true;
    await sleep(300); // a request already on the wire may finish
    const atClose = proxy.sent();
    await sleep(1000); // ten intervals
    expect(proxy.sent() - atClose, 'bytes sent to the server after close()').toBe(0);
  });

  it('a replica opened after a local database in the same (fresh) process works (the libsql crate’s one-time setup)', async () => {
    const primary = await server();
    const dir = await tempDir();
    const writer = await remote(primary);
    await writer.exec(`CREATE TABLE t(v); INSERT INTO t VALUES ('from-server')`);
    const result = await runNodeChild(LOCAL_FIRST_CHILD, [dir.file('replica.db'), primary.url, dir.file('local.db')]).done;
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').pop()!)).toEqual({ memory: [{ one: 1 }], replica: [{ v: 'from-server' }] });
  });

  it('a query() that writes to a table the replica has not synced yet goes to the server, which has it', async () => {
    const primary = await server();
    const dir = await tempDir();
    const writer = await remote(primary);
    const replica = await opened({ url: `file:${dir.file('replica.db')}`, syncUrl: primary.url });
    await writer.exec('CREATE TABLE later(id INTEGER PRIMARY KEY, v TEXT)');
    expect(await replica.query("INSERT INTO later(v) VALUES ('x') RETURNING id")).toEqual([{ id: 1 }]);
    expect(await writer.query('SELECT v FROM later')).toEqual([{ v: 'x' }]);
  });

  it('named parameters with :, @ and $ (given without their prefix) bind on a replica, for reads and for writes', async () => {
    const primary = await server();
    const dir = await tempDir();
    const writer = await remote(primary);
    await writer.exec(`CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)`);
    const replica = await opened({ url: `file:${dir.file('replica.db')}`, syncUrl: primary.url });
    for (const [prefix, value] of [[':', 'colon'], ['@', 'at'], ['$', 'dollar']] as const) {
      await replica.execute(`INSERT INTO t(v) VALUES (${prefix}v)`, { v: value });
      expect(await replica.query(`SELECT v FROM t WHERE v = ${prefix}v`, { v: value })).toEqual([{ v: value }]);
    }
    expect((await writer.query<{ v: string }>('SELECT v FROM t ORDER BY id')).map((row) => row.v)).toEqual(['colon', 'at', 'dollar']);
    const error = await rejectionOf(replica.query('SELECT :a AS a, :b AS b', { a: 1 }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/missing named parameter `b`/);
  });

  it('a new replica of a server that is down fails at open with SYNC_FAILED and leaves no file behind; the next open, with the server up, syncs', async () => {
    const primary = await server();
    const writer = await remote(primary);
    await writer.exec(`CREATE TABLE t(v); INSERT INTO t VALUES ('there')`);
    await primary.stop();
    const dir = await tempDir();
    await expectLibsqlError(open({ url: `file:${dir.file('replica.db')}`, syncUrl: primary.url, requestTimeout: 5000 }), 'SYNC_FAILED', /first sync failed/);
    expect(await readdir(dir.path)).toEqual([]);
    await primary.restart();
    const replica = await opened({ url: `file:${dir.file('replica.db')}`, syncUrl: primary.url });
    expect(await replica.query('SELECT v FROM t')).toEqual([{ v: 'there' }]);
  });

  it('a process that closes its replica (syncInterval running) exits on its own', async () => {
    const primary = await server();
    const dir = await tempDir();
    const writer = await remote(primary);
    await writer.exec(`CREATE TABLE t(v); INSERT INTO t VALUES ('hello')`);
    const { child, done } = runNodeChild(CLOSE_EXITS_CHILD, [dir.file('replica.db'), primary.url]);
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const result = await done.finally(() => clearTimeout(killer));
    expect(result.signal, `the child did not exit within 15 s after close():\n${result.stdout}\n${result.stderr}`).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout.trim().split('\n').pop()!) as { rows: unknown; closedAt: number };
    expect(report.rows).toEqual([{ v: 'hello' }]);
    // Exited promptly after close(), not after some long native timeout.
    expect(Date.now() - report.closedAt).toBeLessThan(5000);
  });
});

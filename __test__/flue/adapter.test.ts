/**
 * `libsql()` as a db.ts uses it: where the url and token come from, the runner-object form,
 * and the lifecycle (migrate / connect / close) Flue drives — on a local file, and on a
 * libSQL server reached by its url (a fresh server database per test; the tests that stop,
 * restart or authenticate against a server start their own sqld). Server tests are skipped,
 * saying why, when there is no server (support/remote-target.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveOptions } from '../../dist/flue/adapter.js';
import { DEFAULT_URL, libsql, LibsqlError, open, type Database, type LibsqlAdapter, type OpenOptions, type Runner } from '../../dist/index.js';
import { schemaOf, stampRows } from '../support/flue-stamp.js';
import { makeTempDir, rejectionOf } from '../support/runner-helpers.js';
import {
  freshRemote,
  OWN_SERVER_SKIP_REASON,
  REMOTE_SKIP_REASON,
  skipSuffix,
  type RemoteDatabase,
} from '../support/remote-target.js';
import { startSqld, stopAllSqld, type SqldServer } from '../support/sqld-server.js';
import { emptyTempDatabase, type TempDatabase } from '../support/temp-database.js';

/** Runs `use` on a Database opened at `target`, and closes it, passed or failed. */
async function onDatabase<T>(target: string | OpenOptions, use: (db: Database) => Promise<T>): Promise<T> {
  const db = await open(target);
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

/**
 * Runs, in a new Node process in `cwd` with `env`, a program whose `libsql()` takes its
 * connection from that environment (support/children/adapter-from-env.mjs): it migrates,
 * creates stream `agents/<agent>/1` and closes.
 */
async function adapterInNewProcess(cwd: string, env: NodeJS.ProcessEnv, agent: string): Promise<void> {
  await promisify(execFile)(process.execPath, [fileURLToPath(new URL('../support/children/adapter-from-env.mjs', import.meta.url)), agent], { cwd, env });
}

/** close() called while connect() is failing resolves; the connect rejects with its own error (a LibsqlError). */
async function expectCloseWhileConnectFails(adapter: LibsqlAdapter): Promise<void> {
  const connecting = adapter.connect();
  const closing = adapter.close();
  await expect(connecting).rejects.toBeInstanceOf(LibsqlError);
  await expect(closing).resolves.toBeUndefined();
}

/** `db` holds a Flue store stamped format 1 and, when `paths` is given, exactly those conversation streams. */
async function expectStore(db: Database, paths?: string[]): Promise<void> {
  expect(await stampRows(db)).toEqual([{ key: 'format_version', value: '1' }]);
  if (paths) expect(await db.query('SELECT path FROM flue_conversation_streams')).toEqual(paths.map((path) => ({ path })));
}

describe('resolveOptions(options, env)', () => {
  const env = {
    LIBSQL_URL: 'libsql://primary.example',
    TURSO_DATABASE_URL: 'libsql://turso.example',
    LIBSQL_AUTH_TOKEN: 'libsql-token',
    TURSO_AUTH_TOKEN: 'turso-token',
  };

  it('prefers the explicit url and token over the environment', () => {
    expect(resolveOptions({ url: 'file:mine.db', authToken: 'mine' }, env)).toEqual({ url: 'file:mine.db', authToken: 'mine' });
  });

  it('reads LIBSQL_URL and LIBSQL_AUTH_TOKEN first', () => {
    expect(resolveOptions({}, env)).toEqual({ url: env.LIBSQL_URL, authToken: env.LIBSQL_AUTH_TOKEN });
  });

  it('falls back to TURSO_DATABASE_URL and TURSO_AUTH_TOKEN', () => {
    const turso = { TURSO_DATABASE_URL: env.TURSO_DATABASE_URL, TURSO_AUTH_TOKEN: env.TURSO_AUTH_TOKEN };
    expect(resolveOptions({}, turso)).toEqual({ url: env.TURSO_DATABASE_URL, authToken: env.TURSO_AUTH_TOKEN });
  });

  it('treats empty strings as unset, in options and in the environment', () => {
    expect(resolveOptions({ url: '', authToken: '' }, { ...env, LIBSQL_URL: '', LIBSQL_AUTH_TOKEN: '' }))
      .toEqual({ url: env.TURSO_DATABASE_URL, authToken: env.TURSO_AUTH_TOKEN });
  });

  it(`defaults to ${DEFAULT_URL} with no token`, () => {
    expect(DEFAULT_URL).toBe('file:.flue/flue.db');
    expect(resolveOptions({}, {})).toEqual({ url: DEFAULT_URL, authToken: undefined });
  });

  it('takes the token from the environment for an explicit url too', () => {
    expect(resolveOptions({ url: 'libsql://explicit.example' }, { TURSO_AUTH_TOKEN: 'turso-token' }))
      .toEqual({ url: 'libsql://explicit.example', authToken: 'turso-token' });
  });

  it('passes every other option through unchanged', () => {
    const options = {
      url: 'file:replica.db',
      syncUrl: 'libsql://primary.example',
      syncInterval: 5,
      readYourWrites: false,
      encryptionKey: 'k',
      busyTimeout: 100,
      durability: 'normal' as const,
    };
    expect(resolveOptions(options, {})).toEqual({ ...options, authToken: undefined });
  });

  it('reads process.env by default', () => {
    vi.stubEnv('LIBSQL_URL', 'file:from-process-env.db');
    vi.stubEnv('LIBSQL_AUTH_TOKEN', 'process-token');
    try {
      expect(resolveOptions({})).toEqual({ url: 'file:from-process-env.db', authToken: 'process-token' });
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('libsql() with no url', () => {
  let database: TempDatabase;
  beforeEach(async () => {
    database = await emptyTempDatabase();
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await database.remove();
  });

  it('opens LIBSQL_URL from the environment at the time it is called', async () => {
    vi.stubEnv('LIBSQL_URL', database.url);
    vi.stubEnv('TURSO_DATABASE_URL', 'libsql://must-not-be-used.invalid');
    const adapter = libsql();
    vi.unstubAllEnvs();
    await adapter.migrate();
    await adapter.close();
    expect(existsSync(database.path)).toBe(true);
    const db = await open(database.url);
    expect(await stampRows(db)).toEqual([{ key: 'format_version', value: '1' }]);
    await db.close();
  });

  it('opens TURSO_DATABASE_URL when LIBSQL_URL is unset', async () => {
    vi.stubEnv('LIBSQL_URL', '');
    vi.stubEnv('TURSO_DATABASE_URL', database.url);
    const adapter = libsql();
    await adapter.migrate();
    await adapter.close();
    expect(existsSync(database.path)).toBe(true);
  });

  it(`creates ${DEFAULT_URL} (and its folder) in the working directory when nothing is set`, async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'flue-libsql-cwd-'));
    try {
      const { LIBSQL_URL: _l, TURSO_DATABASE_URL: _t, ...childEnv } = process.env;
      await adapterInNewProcess(cwd, childEnv, 'a');

      const path = join(cwd, '.flue', 'flue.db');
      expect(existsSync(path)).toBe(true);
      await onDatabase(`file:${path}`, (db) => expectStore(db, ['agents/a/1']));
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});

/** A runner over a native Database that counts calls and refuses a second close. */
function spyRunner(db: Database) {
  const calls = { query: 0, transaction: 0, close: 0 };
  const runner: Runner = {
    query: (sql, params) => {
      calls.query += 1;
      return db.query(sql, params);
    },
    transaction: (fn) => {
      calls.transaction += 1;
      return db.transaction(fn);
    },
    close: async () => {
      calls.close += 1;
      // Some drivers throw on a second close (pg's Pool.end(), for one).
      if (calls.close > 1) throw new Error('closed twice');
      await db.close();
    },
  };
  return { runner, calls };
}

describe('libsql(runner)', () => {
  it('accepts a runner object and runs the migration and the stores through it', async () => {
    const db = await open(':memory:');
    const { runner, calls } = spyRunner(db);
    const adapter = libsql(runner);

    await adapter.migrate();
    expect(calls.transaction).toBe(1);
    expect(await stampRows(db)).toEqual([{ key: 'format_version', value: '1' }]);

    const stores = await adapter.connect();
    const queriesBefore = calls.query;
    expect(await stores.submissionStore.hasUnsettledSubmissions()).toBe(false);
    expect(calls.query).toBeGreaterThan(queriesBefore);

    await adapter.close();
    expect(calls.close).toBe(1);
    expect(db.closed).toBe(true);
  });

  it('records Flue\'s migration exactly as the native path does, so either path finds the other\'s store migrated', async () => {
    const dir = await makeTempDir();
    try {
      const foreign = await open(`file:${dir.file('foreign.db')}`);
      await libsql(spyRunner(foreign).runner).migrate();
      const native = await open(`file:${dir.file('native.db')}`);
      await native.migrateFlueSchema();
      const recorded = (db: Database) =>
        db.query<{ set_name: string; version: number; name: string; checksum: string }>(
          'SELECT set_name, version, name, checksum FROM _flue_libsql_migrations ORDER BY version',
        );
      const viaForeign = await recorded(foreign);
      expect(viaForeign).toEqual(await recorded(native));
      expect(viaForeign.map((row) => [row.set_name, row.version])).toEqual([['flue', 1]]);
      expect(viaForeign[0].checksum).toMatch(/^[0-9a-f]{64}$/);
      // The native migrator finds nothing to do on the store the foreign runner made.
      expect((await foreign.migrateFlueSchema()).applied).toEqual([]);
      await Promise.all([foreign.close(), native.close()]);
    } finally {
      await dir.remove();
    }
  });

  it('migrates once however often Flue (or anyone) calls migrate() and connect()', async () => {
    const db = await open(':memory:');
    const { runner, calls } = spyRunner(db);
    const adapter = libsql(runner);
    await Promise.all([adapter.migrate(), adapter.migrate(), adapter.connect()]);
    await adapter.connect();
    expect(calls.transaction).toBe(1);
    await adapter.close();
  });

  it('close() is idempotent: the runner is closed once', async () => {
    const db = await open(':memory:');
    const { runner, calls } = spyRunner(db);
    const adapter = libsql(runner);
    await adapter.connect();
    await adapter.close();
    await adapter.close();
    await Promise.all([adapter.close(), adapter.close()]);
    expect(calls.close).toBe(1);
  });

  it('an object without close() is not a runner: it is refused as options', async () => {
    const db = await open(':memory:');
    try {
      const halfRunner = { query: db.query.bind(db), transaction: db.transaction.bind(db) };
      const adapter = libsql(halfRunner as unknown as Runner);
      await expect(adapter.migrate()).rejects.toThrow(/unknown option `query`/);
    } finally {
      await db.close();
    }
  });
});

describe('libsql({ url }) lifecycle', () => {
  let database: TempDatabase;
  beforeEach(async () => {
    database = await emptyTempDatabase();
  });
  afterEach(async () => {
    await database.remove();
  });

  it('opens nothing until used: close() before any use resolves and creates no file', async () => {
    const adapter = libsql({ url: database.url });
    await adapter.close();
    await adapter.close();
    expect(existsSync(database.path)).toBe(false);
  });

  it('close() is idempotent, sequentially and concurrently', async () => {
    const adapter = libsql({ url: database.url });
    const stores = await adapter.connect();
    await Promise.all([adapter.close(), adapter.close()]);
    await adapter.close();
    // The stores' connection is the one that was closed.
    await expect(stores.submissionStore.hasUnsettledSubmissions()).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('connect() after close() opens the file again, with what was written before', async () => {
    const adapter = libsql({ url: database.url });
    const first = await adapter.connect();
    await first.conversationStreamStore.createStream('agents/a/1', { agentName: 'a', instanceId: '1' });
    await adapter.close();

    const second = await adapter.connect();
    expect(await second.conversationStreamStore.getMeta('agents/a/1')).toMatchObject({ identity: { agentName: 'a', instanceId: '1' } });
    await adapter.close();
  });

  it('connect() without migrate() still creates and stamps the store', async () => {
    const adapter = libsql({ url: database.url });
    const stores = await adapter.connect();
    expect(await stores.attachmentStore.get({ streamPath: 'agents/a/1', conversationId: 'c', attachmentId: 'x' })).toBeNull();
    await adapter.close();
    const db = await open(database.url);
    expect(await stampRows(db)).toEqual([{ key: 'format_version', value: '1' }]);
    await db.close();
  });

  it('does not cache a failed open: a later call retries', async () => {
    // A directory where the database file should be: opening it fails until it is removed.
    const { mkdir, rmdir } = await import('node:fs/promises');
    await mkdir(database.path);
    const adapter = libsql({ url: database.url });
    const error = await adapter.connect().then(() => undefined, (rejection: unknown) => rejection);
    expect(error).toBeInstanceOf(LibsqlError);
    await rmdir(database.path);
    const stores = await adapter.connect();
    expect(await stores.submissionStore.hasUnsettledSubmissions()).toBe(false);
    await adapter.close();
  });

  it('close() while an open is failing resolves: there is nothing to close', async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(database.path);
    const adapter = libsql({ url: database.url });
    await expectCloseWhileConnectFails(adapter);
  });

  it(':memory: lives as long as the connection: connect() after close() starts empty', async () => {
    const adapter = libsql({ url: ':memory:' });
    const first = await adapter.connect();
    await first.conversationStreamStore.createStream('agents/a/1', { agentName: 'a', instanceId: '1' });
    expect(await first.conversationStreamStore.getMeta('agents/a/1')).not.toBeNull();
    await adapter.close();
    const second = await adapter.connect();
    expect(await second.conversationStreamStore.getMeta('agents/a/1')).toBeNull();
    await adapter.close();
  });

  it('passes the other options to open(): an invalid busyTimeout is refused there', async () => {
    const adapter = libsql({ url: database.url, busyTimeout: -1 });
    await expect(adapter.migrate()).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('busyTimeout') });
    expect(existsSync(database.path)).toBe(false);
    await adapter.close();
  });
});

// ─── on a libSQL server ───────────────────────────────────────────────────────────────────

/** Every variable `resolveOptions` reads, unset: a test sets only what it means to. */
function clearConnectionEnv(): void {
  for (const name of ['LIBSQL_URL', 'TURSO_DATABASE_URL', 'LIBSQL_AUTH_TOKEN', 'TURSO_AUTH_TOKEN']) vi.stubEnv(name, '');
}

const STREAM = { agentName: 'a', instanceId: '1' };

describe.skipIf(REMOTE_SKIP_REASON !== undefined)(`libsql() on a libSQL server${skipSuffix(REMOTE_SKIP_REASON)}`, () => {
  let remote: RemoteDatabase;
  const server = () => ({ url: remote.url, authToken: remote.authToken });

  beforeEach(async () => {
    remote = await freshRemote();
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await remote.dispose();
  });
  afterAll(() => stopAllSqld());

  it('opens LIBSQL_URL and LIBSQL_AUTH_TOKEN from the environment at the time it is called', async () => {
    clearConnectionEnv();
    vi.stubEnv('LIBSQL_URL', remote.url);
    vi.stubEnv('LIBSQL_AUTH_TOKEN', remote.authToken ?? '');
    vi.stubEnv('TURSO_DATABASE_URL', 'libsql://must-not-be-used.invalid');
    const adapter = libsql();
    vi.unstubAllEnvs();
    await adapter.migrate();
    const stores = await adapter.connect();
    await stores.conversationStreamStore.createStream('agents/a/1', STREAM);
    await adapter.close();

    await onDatabase(server(), async (db) => {
      expect(db.kind).toBe('remote');
      await expectStore(db, ['agents/a/1']);
    });
  });

  it('opens TURSO_DATABASE_URL with TURSO_AUTH_TOKEN when LIBSQL_URL is unset', async () => {
    clearConnectionEnv();
    vi.stubEnv('TURSO_DATABASE_URL', remote.url);
    vi.stubEnv('TURSO_AUTH_TOKEN', remote.authToken ?? '');
    const adapter = libsql();
    await adapter.migrate();
    await adapter.close();
    await onDatabase(server(), (db) => expectStore(db));
  });

  it('a new process whose environment names the server uses it (LIBSQL_URL read from process.env)', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'flue-libsql-cwd-'));
    try {
      const { LIBSQL_URL: _l, TURSO_DATABASE_URL: _t, LIBSQL_AUTH_TOKEN: _a, TURSO_AUTH_TOKEN: _b, ...rest } = process.env;
      const childEnv = { ...rest, LIBSQL_URL: remote.url, ...(remote.authToken ? { LIBSQL_AUTH_TOKEN: remote.authToken } : {}) };
      await adapterInNewProcess(cwd, childEnv, 'child');
      // Nothing local: no default file was created in the working directory.
      expect(existsSync(join(cwd, '.flue'))).toBe(false);
      await onDatabase(server(), async (db) => {
        expect(await db.query('SELECT path FROM flue_conversation_streams')).toEqual([{ path: 'agents/child/1' }]);
      });
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('close() is idempotent, sequentially and concurrently, and the stores then refuse with CLIENT_CLOSED', async () => {
    const adapter = libsql(server());
    const stores = await adapter.connect();
    await Promise.all([adapter.close(), adapter.close()]);
    await adapter.close();
    await expect(stores.submissionStore.hasUnsettledSubmissions()).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('connect() after close() connects again, and reads what was written before', async () => {
    const adapter = libsql(server());
    const first = await adapter.connect();
    await first.conversationStreamStore.createStream('agents/a/1', STREAM);
    await adapter.close();

    const second = await adapter.connect();
    expect(await second.conversationStreamStore.getMeta('agents/a/1')).toMatchObject({ identity: STREAM });
    await adapter.close();
  });

  it('connect() without migrate() still creates and stamps the store on the server', async () => {
    const adapter = libsql(server());
    const stores = await adapter.connect();
    expect(await stores.attachmentStore.get({ streamPath: 'agents/a/1', conversationId: 'c', attachmentId: 'x' })).toBeNull();
    await adapter.close();
    await onDatabase(server(), (db) => expectStore(db));
  });

  it('two adapters on one server see each other\'s writes (nothing is cached per connection)', async () => {
    const writer = libsql(server());
    const reader = libsql(server());
    try {
      const readerStores = await reader.connect();
      expect(await readerStores.conversationStreamStore.getMeta('agents/a/1')).toBeNull();
      await (await writer.connect()).conversationStreamStore.createStream('agents/a/1', STREAM);
      expect(await readerStores.conversationStreamStore.getMeta('agents/a/1')).toMatchObject({ identity: STREAM });
    } finally {
      await writer.close();
      await reader.close();
    }
  });
});

describe.skipIf(OWN_SERVER_SKIP_REASON !== undefined)(`libsql() on a sqld it starts, stops and authenticates against${skipSuffix(OWN_SERVER_SKIP_REASON)}`, () => {
  let server: SqldServer;
  afterEach(async () => {
    vi.unstubAllEnvs();
    await server?.dispose();
  });
  afterAll(() => stopAllSqld());

  const schemaOn = (url: string, authToken?: string) => onDatabase({ url, authToken }, schemaOf);

  it('takes the token from LIBSQL_AUTH_TOKEN for an explicit server url', async () => {
    server = await startSqld({ auth: true });
    clearConnectionEnv();
    vi.stubEnv('LIBSQL_AUTH_TOKEN', server.tokens!.readWrite);
    const adapter = libsql({ url: server.url });
    vi.unstubAllEnvs();
    await adapter.migrate();
    await adapter.close();
    await onDatabase({ url: server.url, authToken: server.tokens!.readWrite }, (db) => expectStore(db));
  });

  it('without any token, migrate() on an auth server is refused (AUTH_FAILED) and creates nothing', async () => {
    server = await startSqld({ auth: true });
    clearConnectionEnv();
    const adapter = libsql({ url: server.url });
    const error = await rejectionOf(adapter.migrate());
    expect(error).toBeInstanceOf(LibsqlError);
    expect((error as LibsqlError).code).toBe('AUTH_FAILED');
    await adapter.close();
    expect(await schemaOn(server.url, server.tokens!.readWrite)).toEqual([]);
  });

  it('opens nothing until used: close() before any use resolves, even with the server down, and creates nothing', async () => {
    server = await startSqld();
    await server.stop();
    const adapter = libsql({ url: server.url });
    await adapter.close();
    await adapter.close();
    await server.restart();
    expect(await schemaOn(server.url)).toEqual([]);
  });

  it('does not cache a failure: with the server down migrate() rejects, once it is back the same adapter connects', async () => {
    server = await startSqld();
    await server.stop();
    const adapter = libsql({ url: server.url });
    try {
      const error = await rejectionOf(adapter.migrate());
      expect(error).toBeInstanceOf(LibsqlError);
      expect((error as LibsqlError).code).toBe('SERVER_UNREACHABLE');
      await expect(adapter.connect()).rejects.toMatchObject({ code: 'SERVER_UNREACHABLE' });

      await server.restart();
      const stores = await adapter.connect();
      expect(await stores.submissionStore.hasUnsettledSubmissions()).toBe(false);
      await stores.conversationStreamStore.createStream('agents/a/1', STREAM);
    } finally {
      await adapter.close();
    }
    await onDatabase(server.url, (db) => expectStore(db, ['agents/a/1']));
  });

  it('close() while a connect is failing (server down) resolves; the connect rejects with its own error', async () => {
    server = await startSqld();
    await server.stop();
    const adapter = libsql({ url: server.url });
    await expectCloseWhileConnectFails(adapter);
  });

  it('libsql({ url: file, syncUrl }) keeps the store on the server: the server and a replica on a new file read it', async () => {
    server = await startSqld();
    const folder = await mkdtemp(join(tmpdir(), 'flue-libsql-replica-'));
    try {
      const first = libsql({ url: `file:${join(folder, 'first.db')}`, syncUrl: server.url });
      try {
        const stores = await first.connect();
        await stores.conversationStreamStore.createStream('agents/a/1', STREAM);
        expect(await stores.conversationStreamStore.getMeta('agents/a/1')).toMatchObject({ identity: STREAM });
      } finally {
        await first.close();
      }

      await onDatabase(server.url, (db) => expectStore(db, ['agents/a/1']));

      const second = libsql({ url: `file:${join(folder, 'second.db')}`, syncUrl: server.url });
      try {
        const stores = await second.connect();
        expect(await stores.conversationStreamStore.getMeta('agents/a/1')).toMatchObject({ identity: STREAM });
      } finally {
        await second.close();
      }
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('keeps working across a server restart: the adapter connected before it reads and writes after it', async () => {
    server = await startSqld();
    const adapter = libsql({ url: server.url });
    try {
      const stores = await adapter.connect();
      await stores.conversationStreamStore.createStream('agents/a/1', STREAM);
      await server.restart();
      expect(await stores.conversationStreamStore.getMeta('agents/a/1')).toMatchObject({ identity: STREAM });
      await stores.conversationStreamStore.createStream('agents/a/2', { agentName: 'a', instanceId: '2' });
      expect(await stores.conversationStreamStore.getMeta('agents/a/2')).toMatchObject({ identity: { agentName: 'a', instanceId: '2' } });
    } finally {
      await adapter.close();
    }
  });
});

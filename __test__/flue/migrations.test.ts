/**
 * Migrations: `db.migrate(migrations, { set })`, `loadMigrations(folder)`, several processes
 * migrating one file (or one server) at once, and Flue's format stamp rules as the adapter
 * applies them.
 *
 * What holds for a file must hold on a libSQL server too: the migrator's checks, its
 * all-or-nothing transaction, the stamp rules and the race between processes are run again
 * against a fresh server database (`freshRemote()`: its own sqld, or the external test
 * server), skipped with the reason when there is none.
 *
 * Everything is driven through the built package (`dist/`), as an application would use it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PersistedFormatVersionError } from '@flue/runtime/adapter';
import {
  libsql,
  LibsqlError,
  loadMigrations,
  open,
  type Database,
  type LibsqlAdapter,
  type Migration,
} from '../../dist/index.js';
import type { Runner } from '../../lib/types.js';
import { clientRunner } from '../../scripts/libsql-client-runner.mjs';
import { flueTableNames, schemaOf, stampRows, writeStamp } from '../support/flue-stamp.js';
import { loadFormat1Fixture } from '../support/format1-fixture.js';
import { freshRemote, REMOTE_SKIP_REASON, skipSuffix } from '../support/remote-target.js';
import { expectLibsqlError } from '../support/runner-helpers.js';
import { stopAllSqld } from '../support/sqld-server.js';
import { emptyTempDatabase, type TempDatabase } from '../support/temp-database.js';

const fixture = await loadFormat1Fixture();

afterAll(() => stopAllSqld());

/** Where a database is: a `file:` url, or a server url and its token. */
interface Connection {
  url: string;
  authToken?: string;
}

/** A fresh, empty database somewhere, and how to get rid of it. */
interface Location {
  connection: Connection;
  dispose(): Promise<void>;
}

/** The places a store can be: a new local file, or a fresh database on a libSQL server. */
const locations: { kind: string; skipReason: string | undefined; create(): Promise<Location> }[] = [
  {
    kind: 'a file',
    skipReason: undefined,
    async create() {
      const database = await emptyTempDatabase();
      return { connection: { url: database.url }, dispose: () => database.remove() };
    },
  },
  {
    kind: 'a libSQL server',
    skipReason: REMOTE_SKIP_REASON,
    async create() {
      const remote = await freshRemote();
      return { connection: { url: remote.url, authToken: remote.authToken }, dispose: () => remote.dispose() };
    },
  },
];

/** `url` with the token in it (`?authToken=`), for code that takes a url only. */
function urlWithToken({ url, authToken }: Connection): string {
  if (authToken === undefined) return url;
  const withToken = new URL(url);
  withToken.searchParams.set('authToken', authToken);
  return withToken.href;
}

const openAt = (connection: Connection) => open({ url: connection.url, authToken: connection.authToken });
const adapterAt = (connection: Connection) => libsql({ url: connection.url, authToken: connection.authToken });

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface MigrationRecord {
  set_name: string;
  version: number;
  name: string;
  checksum: string;
  applied_at: number;
}

/** The migrator's bookkeeping rows ([] when the table does not exist yet). */
async function records(db: Runner, set?: string): Promise<MigrationRecord[]> {
  const [table] = await db.query(`SELECT 1 FROM sqlite_master WHERE name = '_flue_libsql_migrations'`);
  if (!table) return [];
  const rows = await db.query<MigrationRecord & Record<string, unknown>>(
    'SELECT set_name, version, name, checksum, applied_at FROM _flue_libsql_migrations ORDER BY set_name, version',
  );
  return set === undefined ? rows : rows.filter((row) => row.set_name === set);
}

async function tableNames(db: Runner): Promise<string[]> {
  const rows = await db.query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`);
  return rows.map((row) => String(row.name));
}

/** Every row of every table, for proving that a refused call changed nothing. */
async function contentsOf(db: Runner): Promise<Record<string, unknown[]>> {
  const contents: Record<string, unknown[]> = {};
  for (const name of await tableNames(db)) {
    contents[name] = await db.query(`SELECT * FROM "${name}" ORDER BY rowid`);
  }
  return contents;
}

/** A snapshot of schema and data: equal snapshots mean nothing was changed. */
async function snapshot(db: Runner) {
  return { schema: await schemaOf(db), contents: await contentsOf(db) };
}

const m = (version: number, name: string, sql: string): Migration => ({ version, name, sql });

const appMigrations: Migration[] = [
  m(1, 'create_users', 'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nCREATE TABLE side_effects (id INTEGER PRIMARY KEY AUTOINCREMENT, note TEXT);\nINSERT INTO side_effects (note) VALUES (\'migration 1\');'),
  m(2, 'add_email', 'ALTER TABLE users ADD COLUMN email TEXT;\nCREATE INDEX users_email ON users (email);'),
];

// ─── db.migrate ──────────────────────────────────────────────────────────────────────────

const targets = [
  { kind: 'file', open: async () => {
    const database = await emptyTempDatabase();
    const db = await open(database.url);
    return { db, dispose: async () => { await db.close(); await database.remove(); } };
  } },
  { kind: ':memory:', open: async () => {
    const db = await open(':memory:');
    return { db, dispose: () => db.close() };
  } },
  { kind: 'a libSQL server', skipReason: REMOTE_SKIP_REASON, open: async () => {
    const remote = await freshRemote();
    try {
      const db = await openAt(remote);
      return { db, dispose: async () => {
        try {
          await db.close();
        } finally {
          await remote.dispose();
        }
      } };
    } catch (error) {
      await remote.dispose();
      throw error;
    }
  } },
];

for (const target of targets as { kind: string; skipReason?: string; open(): Promise<{ db: Database; dispose(): Promise<void> }> }[])
describe.skipIf(target.skipReason !== undefined)(`db.migrate() on ${target.kind}${skipSuffix(target.skipReason)}`, () => {
  let db: Database;
  let dispose: () => Promise<void>;

  beforeEach(async () => {
    ({ db, dispose } = await target.open());
  });
  afterEach(async () => {
    await dispose();
  });

  it('applies a fresh list in order, in one call, and records each migration with its checksum', async () => {
    const before = Date.now();
    const report = await db.migrate(appMigrations);
    const after = Date.now();

    expect(report).toEqual({
      set: 'app',
      applied: appMigrations.map(({ version, name }) => ({ version, name })),
      version: appMigrations.at(-1)!.version,
    });
    // Migration 2's ALTER ran after migration 1's CREATE.
    const columns = await db.query(`SELECT name FROM pragma_table_info('users') ORDER BY cid`);
    expect(columns.map((column) => column.name)).toEqual(['id', 'name', 'email']);
    expect(await db.query(`SELECT note FROM side_effects`)).toEqual([{ note: 'migration 1' }]);

    const recorded = await records(db);
    expect(recorded.map(({ set_name, version, name, checksum }) => ({ set_name, version, name, checksum }))).toEqual(
      appMigrations.map(({ version, name, sql }) => ({ set_name: 'app', version, name, checksum: sha256(sql) })),
    );
    for (const record of recorded) {
      expect(record.applied_at).toBeGreaterThanOrEqual(before);
      expect(record.applied_at).toBeLessThanOrEqual(after);
    }
  });

  it('is a no-op when re-run: nothing applied, nothing re-executed, records untouched', async () => {
    await db.migrate(appMigrations);
    const afterFirst = await snapshot(db);

    const report = await db.migrate(appMigrations);
    expect(report).toEqual({ set: 'app', applied: [], version: 2 });
    expect(await snapshot(db)).toEqual(afterFirst);
    expect(await db.query('SELECT count(*) AS n FROM side_effects')).toEqual([{ n: 1 }]);
  });

  it('applies only the migrations added since the last run', async () => {
    await db.migrate(appMigrations.slice(0, 1));
    const report = await db.migrate([...appMigrations, m(3, 'add_age', 'ALTER TABLE users ADD COLUMN age INTEGER')]);
    expect(report).toEqual({ set: 'app', applied: [{ version: 2, name: 'add_email' }, { version: 3, name: 'add_age' }], version: 3 });
    expect(await db.query('SELECT count(*) AS n FROM side_effects')).toEqual([{ n: 1 }]);
    expect((await records(db)).map((record) => record.version)).toEqual([1, 2, 3]);
  });

  it('refuses a recorded migration whose SQL changed (MIGRATION_CHANGED) and changes nothing', async () => {
    await db.migrate(appMigrations);
    const before = await snapshot(db);

    const edited = [appMigrations[0]!, m(2, 'add_email', `${appMigrations[1]!.sql}\n-- edited after release`)];
    const pending = m(3, 'pending', 'CREATE TABLE must_not_exist (x)');
    const error = await expectLibsqlError(db.migrate([...edited, pending]), 'MIGRATION_CHANGED');
    expect(error.message).toContain("'add_email'");

    expect(await snapshot(db)).toEqual(before);
    expect(await tableNames(db)).not.toContain('must_not_exist');
    // The checksum is over the SQL only: renaming a migration is not an edit.
    expect((await db.migrate([appMigrations[0]!, { ...appMigrations[1]!, name: 'renamed' }])).applied).toEqual([]);
  });

  it('refuses a database migrated by newer code (MIGRATION_UNKNOWN) and changes nothing', async () => {
    await db.migrate([...appMigrations, m(3, 'from_the_future', 'CREATE TABLE future (x)')]);
    const before = await snapshot(db);

    const pending = m(4, 'pending', 'CREATE TABLE must_not_exist (x)');
    const error = await expectLibsqlError(db.migrate([...appMigrations, pending]), 'MIGRATION_UNKNOWN');
    expect(error.message).toContain('from_the_future');
    expect(await snapshot(db)).toEqual(before);

    // Older code that knows only a prefix is refused too.
    await expectLibsqlError(db.migrate(appMigrations.slice(0, 1)), 'MIGRATION_UNKNOWN');
    expect(await snapshot(db)).toEqual(before);
  });

  it('rolls a failing run back whole: migrations 1 and 2 of the same run leave no table and no record', async () => {
    const broken = [...appMigrations, m(3, 'broken', 'CREATE TABLE fine (x);\nINSERT INTO no_such_table VALUES (1);')];
    const error = await expectLibsqlError(db.migrate(broken), 'SQLITE_ERROR');
    expect(error.message).toContain('migration 3');
    expect(error.message).toContain('no_such_table');

    // Not even the bookkeeping table: the database is as empty as before the call.
    expect(await schemaOf(db)).toEqual([]);

    // Fixed, the same list applies from the start.
    const fixed = [...appMigrations, m(3, 'broken', 'CREATE TABLE fine (x)')];
    expect((await db.migrate(fixed)).applied.map((applied) => applied.version)).toEqual([1, 2, 3]);
    expect(await db.query('SELECT count(*) AS n FROM side_effects')).toEqual([{ n: 1 }]);
  });

  it('rolls a failing run back to the previous version on an already-migrated database', async () => {
    await db.migrate(appMigrations.slice(0, 1));
    const before = await snapshot(db);
    await expectLibsqlError(db.migrate([...appMigrations, m(3, 'broken', 'SELECT * FROM no_such_table')]), 'SQLITE_ERROR');
    expect(await snapshot(db)).toEqual(before);
  });

  it('keeps sets apart: each set has its own versions and records', async () => {
    const billing = [m(1, 'create_invoices', 'CREATE TABLE invoices (id INTEGER PRIMARY KEY)')];
    expect((await db.migrate(appMigrations)).set).toBe('app');
    expect(await db.migrate(billing, { set: 'billing' })).toEqual({
      set: 'billing',
      applied: [{ version: 1, name: 'create_invoices' }],
      version: 1,
    });
    // Neither set's records look unknown to the other.
    expect((await db.migrate(appMigrations)).applied).toEqual([]);
    expect((await db.migrate(billing, { set: 'billing' })).applied).toEqual([]);
    expect((await records(db)).map((record) => `${record.set_name}:${record.version}`)).toEqual(['app:1', 'app:2', 'billing:1']);
  });

  it('applies SQL with comments, a trigger body and quoted semicolons; a comment-only or empty migration is recorded too', async () => {
    const scripts = [
      m(1, 'notes', `-- a comment; with a semicolon
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, edits INTEGER NOT NULL DEFAULT 0);
/* a block; comment */
CREATE TRIGGER notes_edit AFTER UPDATE OF body ON notes BEGIN
  UPDATE notes SET edits = edits + 1 WHERE id = NEW.id;
END;
INSERT INTO notes (body) VALUES ('semi;colon ''quoted''');`),
      m(2, 'only_comments', '-- nothing to do here\n/* really nothing */\n'),
      m(3, 'empty', ''),
    ];
    expect(await db.migrate(scripts)).toEqual({ set: 'app', applied: scripts.map(({ version, name }) => ({ version, name })), version: 3 });
    expect(await db.query('SELECT id, body, edits FROM notes')).toEqual([{ id: 1, body: "semi;colon 'quoted'", edits: 0 }]);
    await db.query(`UPDATE notes SET body = 'edited' WHERE id = 1`);
    expect(await db.query('SELECT body, edits FROM notes')).toEqual([{ body: 'edited', edits: 1 }]);
    expect((await records(db)).map((record) => [record.version, record.checksum])).toEqual(scripts.map(({ version, sql }) => [version, sha256(sql)]));
    expect((await db.migrate(scripts)).applied).toEqual([]);
  });

  it('an empty list reports version 0 and records nothing', async () => {
    expect(await db.migrate([])).toEqual({ set: 'app', applied: [], version: 0 });
    expect(await records(db)).toEqual([]);
  });

  it.each([
    ['versions out of order', [m(2, 'b', 'SELECT 1'), m(1, 'a', 'SELECT 1')], RangeError],
    ['a repeated version', [m(1, 'a', 'SELECT 1'), m(1, 'b', 'SELECT 1')], RangeError],
    ['version 0', [m(0, 'zero', 'SELECT 1')], RangeError],
    ['an empty name', [m(1, ' ', 'SELECT 1')], TypeError],
    ['a non-integer version', [{ version: 1.5, name: 'a', sql: 'SELECT 1' }], TypeError],
    ['a missing sql', [{ version: 1, name: 'a' }], TypeError],
  ] as const)('refuses a list with %s before touching the database', async (_what, list, errorClass) => {
    await expect(db.migrate(list as unknown as Migration[])).rejects.toBeInstanceOf(errorClass);
    expect(await schemaOf(db)).toEqual([]);
  });

  it('refuses an empty set name and a non-array list', async () => {
    await expect(db.migrate(appMigrations, { set: '' })).rejects.toBeInstanceOf(TypeError);
    await expect(db.migrate('CREATE TABLE x (y)' as unknown as Migration[])).rejects.toBeInstanceOf(TypeError);
    expect(await schemaOf(db)).toEqual([]);
  });

  it('refuses to run inside its own transaction callback, which would wait on itself', async () => {
    await db.transaction(async () => {
      await expectLibsqlError(db.migrate(appMigrations), 'TRANSACTION_STATE');
    });
    expect(await records(db)).toEqual([]);
  });

  it('waits for a transaction in flight instead of running inside it', async () => {
    let releaseTransaction!: () => void;
    const held = new Promise<void>((resolve) => (releaseTransaction = resolve));
    const transaction = db.transaction(async (tx) => {
      await tx.query('CREATE TABLE from_transaction (x)');
      await held;
      throw new Error('roll back');
    });
    const migration = db.migrate(appMigrations);
    releaseTransaction();
    await expect(transaction).rejects.toThrow('roll back');
    expect((await migration).applied).toHaveLength(2);
    // The migration did not commit the transaction's table along with its own work.
    expect(await tableNames(db)).not.toContain('from_transaction');
  });

  it('rejects after close with CLIENT_CLOSED', async () => {
    await db.close();
    await expectLibsqlError(db.migrate(appMigrations), 'CLIENT_CLOSED');
  });
});

for (const location of locations) describe.skipIf(location.skipReason !== undefined)(`app and flue migration sets on one database on ${location.kind}${skipSuffix(location.skipReason)}`, () => {
  let database: Location;
  beforeEach(async () => {
    database = await location.create();
  });
  afterEach(async () => {
    await database.dispose();
  });

  it.each([
    ['Flue first, then the app', ['flue', 'app'] as const],
    ['the app first, then Flue', ['app', 'flue'] as const],
  ])('coexist: %s', async (_order, order) => {
    const db = await openAt(database.connection);
    try {
      for (const step of order) {
        if (step === 'app') {
          expect((await db.migrate(appMigrations)).applied).toHaveLength(2);
        } else {
          const adapter = adapterAt(database.connection);
          await adapter.migrate();
          await adapter.close();
        }
      }
      // Both again: neither set's records trip the other's checks.
      expect((await db.migrate(appMigrations)).applied).toEqual([]);
      const adapter = adapterAt(database.connection);
      try {
        await adapter.migrate();
        const stores = await adapter.connect();
        await stores.conversationStreamStore.createStream('agents/a/1', { agentName: 'a', instanceId: '1' });
        expect(await stores.conversationStreamStore.getMeta('agents/a/1')).toMatchObject({ identity: { agentName: 'a', instanceId: '1' } });
      } finally {
        await adapter.close();
      }

      expect((await records(db)).map((record) => `${record.set_name}:${record.version}:${record.name}`)).toEqual([
        'app:1:create_users',
        'app:2:add_email',
        'flue:1:flue_format_1',
      ]);
      expect(await stampRows(db)).toEqual([{ key: 'format_version', value: '1' }]);
      expect(await flueTableNames(db)).toEqual(fixture.flue_tables);
      expect(await db.query('SELECT count(*) AS n FROM side_effects')).toEqual([{ n: 1 }]);
    } finally {
      await db.close();
    }
  });

  it("a set named 'flue' passed to db.migrate() is checked against Flue's own records", async () => {
    const adapter = adapterAt(database.connection);
    await adapter.migrate();
    await adapter.close();
    const db = await openAt(database.connection);
    try {
      // The app cannot accidentally write into Flue's set: a different list is refused.
      await expectLibsqlError(db.migrate([m(1, 'mine', 'CREATE TABLE mine (x)')], { set: 'flue' }), 'MIGRATION_CHANGED');
      expect(await tableNames(db)).not.toContain('mine');
    } finally {
      await db.close();
    }
  });
});

// ─── several processes at once ───────────────────────────────────────────────────────────

const WORKER = fileURLToPath(new URL('../support/children/migrate-worker.mjs', import.meta.url));

interface WorkerResult {
  ok: boolean;
  report?: { set: string; applied: { version: number; name: string }[]; version: number };
  name?: string;
  code?: string;
  message?: string;
  startedAt: number;
  finishedAt: number;
}

/**
 * Starts `count` worker processes, waits until each has loaded the package, then releases
 * them together (one line on each stdin) so their open + migrate calls race.
 */
async function raceWorkers(count: number, url: string, mode: 'app' | 'flue', migrationsFile = ''): Promise<WorkerResult[]> {
  const workers = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [WORKER, url, mode, migrationsFile], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let onReady!: () => void;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('ready\n')) onReady();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { child, ready, exited, output: () => ({ stdout, stderr }) };
  });
  await Promise.all(workers.map((worker) =>
    Promise.race([worker.ready, worker.exited.then((code) => {
      throw new Error(`worker exited (${code}) before it was ready: ${worker.output().stderr}`);
    })])));
  for (const worker of workers) worker.child.stdin.end('go\n');
  const results: WorkerResult[] = [];
  for (const worker of workers) {
    const code = await worker.exited;
    const { stdout, stderr } = worker.output();
    expect({ exitCode: code, stderr }).toEqual({ exitCode: 0, stderr: '' });
    results.push(JSON.parse(stdout.split('\n').filter(Boolean).at(-1)!) as WorkerResult);
  }
  return results;
}

/**
 * The app migrations and a third one slow enough (a few hundred thousand inserts) that the
 * workers overlap, written to `dir` for them; the file's path.
 */
async function slowMigrationsFile(dir: string): Promise<string> {
  const migrations = [
    ...appMigrations,
    m(3, 'filler', `CREATE TABLE filler (x INTEGER);
      WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000) INSERT INTO filler SELECT x FROM n;`),
  ];
  const file = join(dir, 'migrations.json');
  await writeFile(file, JSON.stringify(migrations));
  return file;
}

/** Every worker succeeded, exactly one applied migrations 1-3, and it did so while all of them were racing. */
function expectOneApplier(results: WorkerResult[]): void {
  expect(results.map((result) => ({ ok: result.ok, code: result.code, message: result.message })))
    .toEqual(results.map(() => ({ ok: true, code: undefined, message: undefined })));
  const appliers = results.filter((result) => (result.report?.applied.length ?? 0) > 0);
  expect(appliers).toHaveLength(1);
  expect(appliers[0]!.report!.applied.map((applied) => applied.version)).toEqual([1, 2, 3]);
  for (const result of results) expect(result.report!.version).toBe(3);
  // The race was real: every worker had started before the applying one finished.
  for (const result of results) expect(result.startedAt).toBeLessThan(appliers[0]!.finishedAt);
}

/** `db` ran each of the slow migrations exactly once; closes it. */
async function expectMigratedOnce(db: Database): Promise<void> {
  try {
    expect(await db.query('SELECT count(*) AS n FROM side_effects')).toEqual([{ n: 1 }]);
    expect(await db.query('SELECT count(*) AS n FROM filler')).toEqual([{ n: 300000 }]);
    expect((await records(db)).map((record) => record.version)).toEqual([1, 2, 3]);
  } finally {
    await db.close();
  }
}

/** `db` holds Flue's tables, stamped format 1 and migrated once; closes it. */
async function expectStampedOnce(db: Database): Promise<void> {
  try {
    expect(await stampRows(db)).toEqual([{ key: 'format_version', value: '1' }]);
    expect(await flueTableNames(db)).toEqual(fixture.flue_tables);
    expect((await records(db, 'flue')).map((record) => record.version)).toEqual([1]);
  } finally {
    await db.close();
  }
}

describe('concurrent migrators (separate processes, one file)', () => {
  const WORKERS = 4;
  let dir: string;
  let database: TempDatabase;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flue-libsql-migrations-'));
    database = await emptyTempDatabase();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await database.remove();
  });

  it(`${WORKERS} processes migrating a new file at once all succeed, and each migration runs exactly once`, async () => {
    const results = await raceWorkers(WORKERS, database.url, 'app', await slowMigrationsFile(dir));
    expectOneApplier(results);
    await expectMigratedOnce(await open(database.url));
  });

  // Several processes switching one new file to WAL at the same instant can meet SQLite's
  // deadlock guard, which answers SQLITE_BUSY without calling the busy handler; open() waits
  // that out too (it failed about one round in seven before).
  it(`${WORKERS} processes opening and migrating a new file at the same instant, 30 times: every one succeeds`, async () => {
    for (let round = 0; round < 30; round++) {
      const fresh = await emptyTempDatabase();
      try {
        const results = await raceWorkers(WORKERS, fresh.url, 'flue');
        expect(results.map((result) => `round ${round}: ${result.ok ? 'ok' : result.message}`)).toEqual(results.map(() => `round ${round}: ok`));
      } finally {
        await fresh.remove();
      }
    }
  }, 120_000);

  it(`${WORKERS} processes running the Flue adapter's migrate() on a new file at once stamp it once`, async () => {
    const results = await raceWorkers(WORKERS, database.url, 'flue');
    expect(results.map((result) => ({ ok: result.ok, name: result.name, message: result.message })))
      .toEqual(results.map(() => ({ ok: true, name: undefined, message: undefined })));

    await expectStampedOnce(await open(database.url));
  });
});

/** The race on a server: each worker reaches it by its url (the token, if any, in the url). */
describe.skipIf(REMOTE_SKIP_REASON !== undefined)(`concurrent migrators (separate processes, one libSQL server)${skipSuffix(REMOTE_SKIP_REASON)}`, () => {
  const WORKERS = 4;
  let dir: string;
  let database: Location;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flue-libsql-migrations-'));
    database = await locations.find((location) => location.kind === 'a libSQL server')!.create();
  });
  afterEach(async () => {
    try {
      await rm(dir, { recursive: true, force: true });
    } finally {
      await database.dispose();
    }
  });

  it(`${WORKERS} processes migrating one server at once all succeed, and each migration runs exactly once`, async () => {
    const results = await raceWorkers(WORKERS, urlWithToken(database.connection), 'app', await slowMigrationsFile(dir));
    expectOneApplier(results);
    await expectMigratedOnce(await openAt(database.connection));
  });

  it(`${WORKERS} processes running the Flue adapter's migrate() on one new server database at once stamp it once, 5 times`, async () => {
    for (let round = 0; round < 5; round++) {
      const fresh = round === 0 ? database : await locations.find((location) => location.kind === 'a libSQL server')!.create();
      try {
        const results = await raceWorkers(WORKERS, urlWithToken(fresh.connection), 'flue');
        expect(results.map((result) => ({ round, ok: result.ok, name: result.name, message: result.message })))
          .toEqual(results.map(() => ({ round, ok: true, name: undefined, message: undefined })));

        await expectStampedOnce(await openAt(fresh.connection));
      } finally {
        if (fresh !== database) await fresh.dispose();
      }
    }
  });
});

// ─── loadMigrations ──────────────────────────────────────────────────────────────────────

describe('loadMigrations(folder)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flue-libsql-load-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function files(entries: Record<string, string>): Promise<void> {
    for (const [name, text] of Object.entries(entries)) await writeFile(join(dir, name), text);
  }

  it('reads NNNN_name.sql files in version order, ignoring other files', async () => {
    const written = {
      '0010_tenth.sql': 'CREATE TABLE tenth (x);',
      '0002_second.sql': 'CREATE TABLE second (x);\n-- with a comment\n',
      '0001_first_one.sql': 'CREATE TABLE first (x);',
      'README.md': '# not a migration',
      '0003_notes.txt': 'not sql either',
    };
    await files(written);
    await mkdir(join(dir, 'archive'));

    const loaded = await loadMigrations(dir);
    expect(loaded).toEqual([
      { version: 1, name: 'first_one', sql: written['0001_first_one.sql'] },
      { version: 2, name: 'second', sql: written['0002_second.sql'] },
      { version: 10, name: 'tenth', sql: written['0010_tenth.sql'] },
    ]);
  });

  it('feeds db.migrate(), and a re-load re-runs as a no-op', async () => {
    await files({ '0001_users.sql': 'CREATE TABLE users (id INTEGER PRIMARY KEY);', '0002_posts.sql': 'CREATE TABLE posts (id INTEGER PRIMARY KEY);' });
    const db = await open(':memory:');
    try {
      expect((await db.migrate(await loadMigrations(dir))).applied).toEqual([
        { version: 1, name: 'users' },
        { version: 2, name: 'posts' },
      ]);
      expect((await db.migrate(await loadMigrations(dir))).applied).toEqual([]);
      // Editing an applied file is detected through the checksum of what was loaded.
      await writeFile(join(dir, '0002_posts.sql'), 'CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT);');
      await expectLibsqlError(db.migrate(await loadMigrations(dir)), 'MIGRATION_CHANGED');
    } finally {
      await db.close();
    }
  });

  it.each(['create_users.sql', '0001-users.sql', '0001_.sql', 'v1_users.sql', '0001users.sql'])(
    'rejects the misnamed file %s',
    async (name) => {
      await files({ '0002_fine.sql': 'SELECT 1', [name]: 'SELECT 1' });
      await expect(loadMigrations(dir)).rejects.toThrow(name);
    },
  );

  it('rejects two files with one version', async () => {
    await files({ '0001_users.sql': 'SELECT 1', '1_accounts.sql': 'SELECT 1' });
    await expect(loadMigrations(dir)).rejects.toThrow(/share version 1/);
  });

  it('rejects a folder that does not exist', async () => {
    await expect(loadMigrations(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an empty folder is an empty list', async () => {
    expect(await loadMigrations(dir)).toEqual([]);
  });

  it('a 0000_ file loads, and migrate() refuses version 0 before touching the database', async () => {
    await files({ '0000_init.sql': 'CREATE TABLE init (x)' });
    const db = await open(':memory:');
    try {
      await expect(db.migrate(await loadMigrations(dir))).rejects.toBeInstanceOf(RangeError);
      expect(await schemaOf(db)).toEqual([]);
    } finally {
      await db.close();
    }
  });
});

// ─── Flue's format stamp, through the adapter ────────────────────────────────────────────

/**
 * The adapter paths: the native migrator (`libsql({ url })`), and the JS migrator behind
 * `libsql(runner)` over a foreign runner and over our own `Database` passed as a runner.
 */
const adapterPaths: { name: string; adapter(connection: Connection): Promise<LibsqlAdapter> }[] = [
  { name: 'libsql({ url })', adapter: async (connection) => adapterAt(connection) },
  { name: 'libsql(@libsql/client runner)', adapter: async (connection) => libsql(clientRunner(urlWithToken(connection))) },
  { name: 'libsql(open(url))', adapter: async (connection) => libsql(await openAt(connection)) },
];

async function expectFormatRefusal(promise: Promise<unknown>, storedVersion: string): Promise<void> {
  const error = await promise.then(
    () => {
      throw new Error('expected PersistedFormatVersionError, but the call succeeded');
    },
    (rejection: unknown) => rejection,
  );
  expect(error).toBeInstanceOf(PersistedFormatVersionError);
  expect((error as PersistedFormatVersionError).meta).toMatchObject({ storedVersion, supportedVersion: 1 });
}

for (const location of locations) for (const path of adapterPaths)
describe.skipIf(location.skipReason !== undefined)(`Flue's format stamp through ${path.name} on ${location.kind}${skipSuffix(location.skipReason)}`, () => {
  let database: Location;
  let raw: Database;
  const adapters: LibsqlAdapter[] = [];

  async function adapter(): Promise<LibsqlAdapter> {
    const next = await path.adapter(database.connection);
    adapters.push(next);
    return next;
  }

  /** A complete format-1 store holding one stream, made by the native adapter. */
  async function populatedStore(): Promise<void> {
    const seed = adapterAt(database.connection);
    const stores = await seed.connect();
    await stores.conversationStreamStore.createStream('agents/seed/1', { agentName: 'seed', instanceId: '1' });
    await seed.close();
  }

  beforeEach(async () => {
    database = await location.create();
    raw = await openAt(database.connection);
  });
  afterEach(async () => {
    try {
      for (const each of adapters.splice(0)) await each.close();
      await raw.close();
    } finally {
      await database.dispose();
    }
  });

  it('stamps a fresh store format_version 1 and creates every flue_* table', async () => {
    const each = await adapter();
    await each.migrate();
    expect(await stampRows(raw)).toEqual([{ key: 'format_version', value: '1' }]);
    expect(await flueTableNames(raw)).toEqual(fixture.flue_tables);
    const stores = await each.connect();
    expect(await stores.submissionStore.hasUnsettledSubmissions()).toBe(false);
  });

  it('writes the stamp in the same transaction as the tables: a failed stamp leaves no table', async () => {
    // A view named flue_meta passes the "no flue_* tables" check and makes the stamp write fail
    // after the tables were created in the same transaction.
    await raw.exec(`CREATE VIEW flue_meta AS SELECT 'k' AS key, 'v' AS value WHERE 0`);
    const before = await schemaOf(raw);
    await expect((await adapter()).migrate()).rejects.toThrow(/flue_meta/);
    expect(await schemaOf(raw)).toEqual(before);
  });

  it('treats an empty flue_meta with no flue_* tables as a new store', async () => {
    await raw.exec('CREATE TABLE flue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    await (await adapter()).migrate();
    expect(await stampRows(raw)).toEqual([{ key: 'format_version', value: '1' }]);
  });

  it('reopens a stamped store without changing it', async () => {
    await populatedStore();
    const before = await contentsOf(raw);
    const each = await adapter();
    await each.migrate();
    expect(await contentsOf(raw)).toEqual(before);
    expect(await (await each.connect()).conversationStreamStore.getMeta('agents/seed/1')).toMatchObject({ identity: { agentName: 'seed', instanceId: '1' } });
  });

  it.each(['2', 'abc', '0', '1.0', ''])(
    "refuses format_version '%s' with PersistedFormatVersionError, creating no table",
    async (stored) => {
      await writeStamp(raw, 'format_version', stored);
      const before = await snapshot(raw);
      const each = await adapter();
      await expectFormatRefusal(each.migrate(), stored);
      expect(await snapshot(raw)).toEqual(before);
      // connect() checks too (Flue may call it without migrate()).
      await expectFormatRefusal(each.connect(), stored);
      expect(await snapshot(raw)).toEqual(before);
    },
  );

  it("refuses format_version '2' on a populated store without writing a row", async () => {
    await populatedStore();
    await writeStamp(raw, 'format_version', '2');
    const before = await snapshot(raw);
    await expectFormatRefusal((await adapter()).migrate(), '2');
    expect(await snapshot(raw)).toEqual(before);
  });

  it("adopts a legacy schema_version '8' store by renaming its stamp, keeping its data", async () => {
    await populatedStore();
    await raw.query(`UPDATE flue_meta SET key = 'schema_version', value = '8' WHERE key = 'format_version'`);
    const streamsBefore = await raw.query('SELECT * FROM flue_conversation_streams');

    const each = await adapter();
    await each.migrate();
    expect(await stampRows(raw)).toEqual([{ key: 'format_version', value: '1' }]);
    expect(await raw.query('SELECT * FROM flue_conversation_streams')).toEqual(streamsBefore);
    expect(await (await each.connect()).conversationStreamStore.getMeta('agents/seed/1')).toMatchObject({ identity: { agentName: 'seed', instanceId: '1' } });
  });

  it.each(['7', '9', 'x'])("refuses a legacy schema_version '%s' without adopting it", async (legacy) => {
    await populatedStore();
    await raw.query(`UPDATE flue_meta SET key = 'schema_version', value = ? WHERE key = 'format_version'`, [legacy]);
    const before = await snapshot(raw);
    await expectFormatRefusal((await adapter()).migrate(), legacy);
    expect(await snapshot(raw)).toEqual(before);
  });

  it("refuses flue_* tables without a stamp as 'unversioned', creating no flue_meta", async () => {
    await raw.exec('CREATE TABLE flue_agent_submissions (sequence INTEGER PRIMARY KEY, submission_id TEXT)');
    await raw.query(`INSERT INTO flue_agent_submissions (submission_id) VALUES ('old')`);
    const before = await snapshot(raw);
    await expectFormatRefusal((await adapter()).migrate(), 'unversioned');
    expect(await snapshot(raw)).toEqual(before);
    expect(await tableNames(raw)).not.toContain('flue_meta');
  });

  it("refuses flue_* tables beside an empty flue_meta as 'unversioned'", async () => {
    await populatedStore();
    await raw.query('DELETE FROM flue_meta');
    const before = await snapshot(raw);
    await expectFormatRefusal((await adapter()).migrate(), 'unversioned');
    expect(await snapshot(raw)).toEqual(before);
  });

  it('does not cache a refusal: the same adapter migrates once the stamp is fixed', async () => {
    await writeStamp(raw, 'format_version', '2');
    const each = await adapter();
    await expectFormatRefusal(each.migrate(), '2');
    await writeStamp(raw, 'format_version', '1');
    await each.migrate();
    expect(await flueTableNames(raw)).toEqual(fixture.flue_tables);
  });
});

// Read the SQL the package ships, to prove the stamp is written by the migrators, not the file.
it('the shipped format-1 migration file creates no flue_meta and writes no stamp', async () => {
  const sql = await readFile(new URL('../../migrations/flue/0001_flue_format_1.sql', import.meta.url), 'utf8');
  const db = await open(':memory:');
  try {
    await db.exec(sql);
    expect(await stampRows(db)).toEqual([]);
    expect(await flueTableNames(db)).toEqual(fixture.flue_tables.filter((name) => name !== 'flue_meta'));
  } finally {
    await db.close();
  }
});

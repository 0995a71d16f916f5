/**
 * Drop-in compatibility with Flue's reference libSQL adapter: a database it wrote must read
 * back through our stores exactly as its expectations file lists, our migration must create
 * the same layout it did, and Flue's own runtime must serve and continue that database over
 * our stores.
 *
 * The fixture (`__test__/fixtures/`) lives in three homes: a private copy of the file; a sqld
 * serving that file itself as its database; and a libSQL server the fixture's schema and rows
 * were replayed into (any server: its own sqld, or the external test server). On each, the
 * data must be the fixture's, row for row, and read back the same through the native adapter
 * `libsql({ url })`; the `@libsql/client` runner handed to `libsql(runner)` (the foreign-runner
 * seam) reads the local copy and the served file too, and so does the adapter on a new
 * embedded replica of the served file. `migrate()` must change no table. The
 * layout check also covers the shipped migration file executed as is, and a migration made
 * on a server.
 */
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fauxAssistantMessage, fauxProvider } from '@earendil-works/pi-ai/providers/faux';
import { useModel } from '@flue/runtime';
import type {
  AgentSubmission,
  ConversationStreamBatch,
  PersistenceAdapter,
  PersistenceStores,
} from '@flue/runtime/adapter';
import { start, type Flue } from '@flue/runtime/node';
import { createAgentRouter } from '@flue/runtime/routing';
import { libsql, open } from '../../dist/index.js';
import type { Row, Runner } from '../../lib/types.js';
import { createStores } from '../../lib/flue/stores/index.js';
import { clientRunner } from '../../scripts/libsql-client-runner.mjs';
import { schemaOf } from '../support/flue-stamp.js';
import {
  canonicalJson,
  FIXTURE_DB_PATH,
  loadFormat1Fixture,
  replayFixtureInto,
  sha256,
  sqldServingFixture,
  type FixtureStream,
} from '../support/format1-fixture.js';
import {
  freshRemote,
  OWN_SERVER_SKIP_REASON,
  REMOTE_SKIP_REASON,
  skipSuffix,
} from '../support/remote-target.js';
import { stopAllSqld } from '../support/sqld-server.js';
import {
  copiedTempDatabase,
  emptyTempDatabase,
  migratedTempDatabase,
} from '../support/temp-database.js';

const fixture = await loadFormat1Fixture();

/** Where a database is: a `file:` url, or a server url and its token. */
interface Connection {
  url: string;
  authToken?: string;
}

/** The url `@libsql/client` opens, with the token in it (the client runner takes a url only). */
function clientUrl(connection: Connection): string {
  if (connection.authToken === undefined) return connection.url;
  const url = new URL(connection.url);
  url.searchParams.set('authToken', connection.authToken);
  return url.href;
}

interface Driver {
  name: string;
  /** A connection of this driver for the test's own SQL. */
  raw(connection: Connection): Promise<Runner>;
  /** The adapter a db.ts would export for this database. */
  adapter(connection: Connection): PersistenceAdapter & { migrate(): Promise<void>; close(): Promise<void> };
}

const clientDriver: Driver = {
  name: 'libsql(@libsql/client runner)',
  raw: async (connection) => clientRunner(clientUrl(connection)),
  adapter: (connection) => libsql(clientRunner(clientUrl(connection))),
};

const nativeDriver: Driver = {
  name: 'libsql({ url }) native',
  raw: (connection) => open({ url: connection.url, authToken: connection.authToken }),
  adapter: (connection) => libsql({ url: connection.url, authToken: connection.authToken }),
};

/**
 * The adapter on an embedded replica of the server (a new replica file per adapter, so what
 * it reads came from the server); its raw connection is the server itself.
 */
const replicaFolders: string[] = [];
const replicaDriver: Driver = {
  name: 'libsql({ url: <new replica file>, syncUrl }) embedded replica',
  raw: (connection) => nativeDriver.raw(connection),
  adapter(connection) {
    const folder = mkdtempSync(join(tmpdir(), 'flue-libsql-replica-'));
    replicaFolders.push(folder);
    return libsql({ url: pathToFileURL(join(folder, 'replica.db')).href, syncUrl: connection.url, authToken: connection.authToken });
  },
};
afterAll(async () => {
  for (const folder of replicaFolders.splice(0)) await rm(folder, { recursive: true, force: true });
});

const drivers: Driver[] = [clientDriver, nativeDriver];

/** A database holding the fixture's data, and how to get rid of it. */
interface FixtureDatabase {
  connection: Connection;
  dispose(): Promise<void>;
}

interface FixtureHome {
  name: string;
  /** Why this home cannot be made here (no server), or undefined. */
  skipReason: string | undefined;
  create(): Promise<FixtureDatabase>;
}

const fileCopy: FixtureHome = {
  name: 'a copy of the fixture file',
  skipReason: undefined,
  async create() {
    const database = await copiedTempDatabase(FIXTURE_DB_PATH);
    return { connection: { url: database.url }, dispose: () => database.remove() };
  },
};

const servedBySqld: FixtureHome = {
  name: 'a sqld serving the fixture file as its database',
  skipReason: OWN_SERVER_SKIP_REASON,
  async create() {
    const server = await sqldServingFixture();
    return { connection: { url: server.url }, dispose: () => server.dispose() };
  },
};

const replayedIntoServer: FixtureHome = {
  name: 'a libSQL server the fixture rows were replayed into',
  skipReason: REMOTE_SKIP_REASON,
  async create() {
    const remote = await freshRemote();
    try {
      const db = await open({ url: remote.url, authToken: remote.authToken });
      try {
        await replayFixtureInto(db);
      } finally {
        await db.close();
      }
    } catch (error) {
      await remote.dispose();
      throw error;
    }
    return { connection: { url: remote.url, authToken: remote.authToken }, dispose: () => remote.dispose() };
  },
};

/** Every (home, driver) the fixture is read back through. */
const readBackCases: { home: FixtureHome; driver: Driver }[] = [
  { home: fileCopy, driver: clientDriver },
  { home: fileCopy, driver: nativeDriver },
  { home: servedBySqld, driver: nativeDriver },
  { home: servedBySqld, driver: clientDriver },
  { home: servedBySqld, driver: replicaDriver },
  { home: replayedIntoServer, driver: nativeDriver },
];

/** The migrator's own bookkeeping: the only schema objects `migrate()` may add to the fixture. */
const BOOKKEEPING = new Set(['_flue_libsql_migrations', 'sqlite_autoindex__flue_libsql_migrations_1']);

afterAll(() => stopAllSqld());

/** How a fresh database gets the format-1 schema. */
const schemaCreators: { name: string; stamps: boolean; skipReason?: string; create(): Promise<FixtureDatabase> }[] = [
  // The file as shipped has no stamp: the migrators write flue_meta themselves.
  {
    name: 'the shipped migration file',
    stamps: false,
    async create() {
      const database = await migratedTempDatabase();
      return { connection: { url: database.url }, dispose: () => database.remove() };
    },
  },
  ...drivers.map((driver) => ({
    name: `${driver.name}.migrate()`,
    stamps: true,
    async create() {
      const database = await emptyTempDatabase();
      const adapter = driver.adapter({ url: database.url });
      await adapter.migrate();
      await adapter.close();
      return { connection: { url: database.url }, dispose: () => database.remove() };
    },
  })),
  {
    name: 'libsql({ url: <server> }).migrate() on a libSQL server',
    stamps: true,
    skipReason: REMOTE_SKIP_REASON,
    async create() {
      const remote = await freshRemote();
      const connection = { url: remote.url, authToken: remote.authToken };
      try {
        const adapter = nativeDriver.adapter(connection);
        try {
          await adapter.migrate();
        } finally {
          await adapter.close();
        }
      } catch (error) {
        await remote.dispose();
        throw error;
      }
      return { connection, dispose: () => remote.dispose() };
    },
  },
];

/** Instances that received messages, with the stream each has. */
const contacted = fixture.instances.flatMap((instance) =>
  instance.stream ? [[instance.id, instance, instance.stream] as const] : []);

/** Whitespace- and case-insensitive form of a CREATE statement, for comparing definitions. */
function normalizedSql(sql: string): string {
  return sql.replace(/\s+/g, ' ').replace(/\s*([(),])\s*/g, '$1').trim().toLowerCase();
}

for (const creator of schemaCreators) describe.skipIf(creator.skipReason !== undefined)(`format-1 migration by ${creator.name}${skipSuffix(creator.skipReason)}`, () => {
  let database: FixtureDatabase;
  let runner: Runner;

  beforeAll(async () => {
    database = await creator.create();
    // A neutral reader: the @libsql/client runner, for files and servers alike.
    runner = clientRunner(clientUrl(database.connection));
  });
  afterAll(async () => {
    try {
      await runner?.close();
    } finally {
      await database?.dispose();
    }
  });

  // flue_meta is the migrators', not the shipped file's; sqlite_sequence is SQLite's own.
  const ownTables = fixture.tables.filter((table) =>
    table.name !== 'sqlite_sequence' && (creator.stamps || table.name !== 'flue_meta'));

  it.each(ownTables.map((table) => [table.name, table] as const))(
    'creates %s with the fixture columns, keys and constraints',
    async (name, expected) => {
      const columns = await runner.query(`SELECT * FROM pragma_table_info(?) ORDER BY cid`, [name]);
      expect(columns.map((column) => ({
        name: column.name,
        type: column.type,
        notnull: column.notnull === 1,
        pk: column.pk,
        default: column.dflt_value,
      }))).toEqual(expected.columns);
      // The full definition also covers what table_info cannot show: CHECK, UNIQUE, AUTOINCREMENT.
      const [created] = await runner.query(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, [name]);
      expect(normalizedSql(String(created?.sql))).toBe(normalizedSql(expected.sql));
    },
  );

  it('creates exactly the fixture indexes on those tables', async () => {
    const owned = new Set(ownTables.map((table) => table.name));
    const expected = fixture.indexes.filter((index) => owned.has(index.table));
    const actual = await runner.query(
      `SELECT name, tbl_name AS "table", sql FROM sqlite_master
       WHERE type = 'index' AND tbl_name LIKE 'flue\\_%' ESCAPE '\\' ORDER BY name`,
    );
    expect(actual.map((index) => ({
      name: index.name,
      table: index.table,
      sql: typeof index.sql === 'string' ? normalizedSql(index.sql) : null,
    }))).toEqual(expected.map((index) => ({
      ...index,
      sql: index.sql === null ? null : normalizedSql(index.sql),
    })));
  });

  if (creator.stamps) it('stamps format 1 and creates exactly the fixture flue_* tables', async () => {
    expect(await runner.query('SELECT key, value FROM flue_meta ORDER BY key')).toEqual(fixture.format_version.flue_meta_rows);
    const flueTables = await runner.query(
      `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'flue\\_%' ESCAPE '\\' ORDER BY name`,
    );
    expect(flueTables.map((table) => table.name)).toEqual(fixture.flue_tables);
  });
});

/** Every batch of a stream, read through the store a page at a time. */
async function readWholeStream(stores: PersistenceStores, path: string): Promise<ConversationStreamBatch[]> {
  const batches: ConversationStreamBatch[] = [];
  let offset = '-1';
  for (;;) {
    const page = await stores.conversationStreamStore.read(path, { offset, limit: 1000 });
    batches.push(...page.batches);
    offset = page.nextOffset;
    if (page.upToDate) return batches;
  }
}

/** A digest per table of every row, blobs included, to prove reads leave the file as it was. */
async function tableDigests(runner: Runner): Promise<Record<string, string>> {
  const tables = await runner.query(
    `SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'flue\\_%' ESCAPE '\\' OR name = 'sqlite_sequence')
     ORDER BY name`,
  );
  const digests: Record<string, string> = {};
  for (const { name } of tables) {
    const rows = await runner.query(`SELECT * FROM "${String(name)}" ORDER BY rowid`);
    const comparable = rows.map((row: Row) => Object.fromEntries(Object.entries(row).map(([column, value]) => [
      column,
      value instanceof ArrayBuffer || value instanceof Uint8Array ? { blob: sha256(new Uint8Array(value)) } : value,
    ])));
    digests[String(name)] = sha256(canonicalJson(comparable));
  }
  return digests;
}

/**
 * The fixture file's own rows (digests) and schema, read from a private copy by the neutral
 * reader (`@libsql/client`, not the engine under test): the reference every home must match.
 */
let fileDigests: Record<string, string>;
let fileSchema: { type: unknown; name: unknown; sql: unknown }[];
beforeAll(async () => {
  const copy = await copiedTempDatabase(FIXTURE_DB_PATH);
  try {
    const db = clientRunner(copy.url);
    try {
      fileDigests = await tableDigests(db);
      fileSchema = await schemaOf(db);
    } finally {
      await db.close();
    }
  } finally {
    await copy.remove();
  }
});

it('the committed fixture file is the one its expectations file describes', async () => {
  const bytes = await readFile(FIXTURE_DB_PATH);
  expect({ name: basename(FIXTURE_DB_PATH), bytes: bytes.byteLength, sha256: sha256(bytes) })
    .toEqual({ name: fixture.db_file, bytes: fixture.db_bytes, sha256: fixture.db_sha256 });
});

for (const { home, driver } of readBackCases) describe.skipIf(home.skipReason !== undefined)(
  `format-1 fixture on ${home.name}, read back through the stores of ${driver.name}${skipSuffix(home.skipReason)}`,
  () => {
  let database: FixtureDatabase;
  let runner: Runner;
  let adapter: ReturnType<Driver['adapter']>;
  let stores: PersistenceStores;
  let digestsBeforeReads: Record<string, string>;
  let schemaBeforeMigrate: Awaited<ReturnType<typeof schemaOf>>;
  let schemaAfterMigrate: Awaited<ReturnType<typeof schemaOf>>;
  let digestsAfterMigrate: Record<string, string>;

  beforeAll(async () => {
    database = await home.create();
    runner = await driver.raw(database.connection);
    // Taken before migrate(): the adapter's migration must not change a format-1 store either.
    digestsBeforeReads = await tableDigests(runner);
    schemaBeforeMigrate = await schemaOf(runner);
    adapter = driver.adapter(database.connection);
    await adapter.migrate();
    digestsAfterMigrate = await tableDigests(runner);
    schemaAfterMigrate = await schemaOf(runner);
    stores = await adapter.connect();
  });
  afterAll(async () => {
    try {
      await adapter?.close();
      await runner?.close();
    } finally {
      await database?.dispose();
    }
  });

  it('holds exactly the fixture file\'s rows and schema before anything runs', () => {
    expect(digestsBeforeReads).toEqual(fileDigests);
    expect(schemaBeforeMigrate).toEqual(fileSchema);
  });

  it('migrate() changes no table: every row and definition stays, only the migrator\'s bookkeeping is added', () => {
    expect(digestsAfterMigrate).toEqual(digestsBeforeReads);
    const key = (object: { type: unknown; name: unknown }) => `${String(object.type)} ${String(object.name)}`;
    const after = new Map(schemaAfterMigrate.map((object) => [key(object), object]));
    // Everything that was there is there, unchanged.
    expect(schemaBeforeMigrate.map((object) => after.get(key(object)))).toEqual(schemaBeforeMigrate);
    const before = new Set(schemaBeforeMigrate.map(key));
    const added = schemaAfterMigrate.filter((object) => !before.has(key(object))).map((object) => String(object.name));
    expect(added.filter((name) => !BOOKKEEPING.has(name))).toEqual([]);
  });

  it('carries the format-1 stamp', async () => {
    expect(await runner.query('SELECT key, value FROM flue_meta ORDER BY key'))
      .toEqual(fixture.format_version.flue_meta_rows);
  });

  it('holds the listed tables with the listed row counts', async () => {
    const flueTables = await runner.query(
      `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'flue\\_%' ESCAPE '\\' ORDER BY name`,
    );
    expect(flueTables.map((table) => table.name)).toEqual(fixture.flue_tables);
    for (const table of fixture.tables) {
      const [{ count }] = await runner.query<{ count: number }>(`SELECT count(*) AS count FROM "${table.name}"`);
      expect({ table: table.name, rows: count }).toEqual({ table: table.name, rows: table.rows });
    }
  });

  it.each(fixture.submissions.map((entry) => [entry.submission_id, entry] as const))(
    'returns submission %s as recorded',
    async (submissionId, entry) => {
      const submission = await stores.submissionStore.getSubmission(submissionId);
      expect(submission).toEqual(entry.record);
      expect(submission).toMatchObject({ status: entry.status, kind: entry.kind, sequence: entry.sequence });
    },
  );

  it.each(fixture.queued_submissions.map((entry) => [entry.submission_id, entry] as const))(
    'returns the queued submission %s with its admitted input',
    async (submissionId, entry) => {
      expect(await stores.submissionStore.getSubmission(submissionId))
        .toMatchObject({ status: 'queued', input: entry.input });
    },
  );

  it('answers the store-wide submission queries as recorded', async () => {
    const store = stores.submissionStore;
    const ids = (submissions: { submissionId: string }[]) => submissions.map((submission) => submission.submissionId);
    const expected = fixture.store_queries;
    expect(await store.hasUnsettledSubmissions()).toBe(expected.hasUnsettledSubmissions);
    expect(ids(await store.listUnreadySubmissions())).toEqual(expected.listUnreadySubmissions);
    expect(ids(await store.listRunnableSubmissions())).toEqual(expected.listRunnableSubmissions);
    expect(ids(await store.listRunningSubmissions())).toEqual(expected.listRunningSubmissions);
    expect(await store.listPendingSubmissionSettlements()).toEqual(expected.listPendingSubmissionSettlements);
  });

  it.each(contacted)('replays the stream of %s batch for batch', async (_id, instance, expected: FixtureStream) => {
    const store = stores.conversationStreamStore;
    const meta = await store.getMeta(expected.path);
    expect(meta).toEqual(expected.meta);
    expect(meta?.incarnation).toBe(instance.incarnation);
    expect(meta?.nextOffset).toBe(expected.head_offset);

    const batches = await readWholeStream(stores, expected.path);
    expect(batches).toHaveLength(expected.batch_count);
    expect(batches.map((batch) => {
      const submissionIds = [...new Set(batch.records.flatMap((record) => record.submissionId ?? []))];
      return {
        offset: batch.offset,
        record_types: batch.records.map((record) => record.type),
        ...(submissionIds.length > 0 ? { submission_ids: submissionIds } : {}),
        sha256: sha256(canonicalJson(batch.records)),
      };
    })).toEqual(expected.batches);
    expect(batches.flatMap((batch) => batch.records)).toHaveLength(expected.record_count);
    expect(sha256(canonicalJson(batches))).toBe(expected.records_sha256);
    expect(batches[0]?.records[0]).toMatchObject({
      type: 'conversation_created',
      conversationId: instance.conversation_id,
      uid: instance.uid,
    });

    // The 'now' sentinel answers the head without batches.
    expect(await store.read(expected.path, { offset: 'now' }))
      .toEqual({ batches: [], nextOffset: expected.head_offset, upToDate: true });
  });

  it.each(contacted)('returns the fold checkpoint of %s as written', async (_id, _instance, expected) => {
    const store = stores.conversationStreamStore;
    const checkpoint = await store.getFoldCheckpoint?.(expected.path);
    if (expected.fold_checkpoint === null) {
      expect(checkpoint).toBeNull();
      return;
    }
    const { data_length, data_sha256, ...identity } = expected.fold_checkpoint;
    expect(checkpoint).toMatchObject(identity);
    expect(checkpoint?.data).toHaveLength(data_length);
    expect(sha256(checkpoint?.data ?? '')).toBe(data_sha256);
    // A bound at the head admits it; a bound before its offset withholds it.
    expect(await store.getFoldCheckpoint?.(expected.path, { atOrBefore: expected.head_offset })).toEqual(checkpoint);
    expect(await store.getFoldCheckpoint?.(expected.path, { atOrBefore: '-1' })).toBeNull();
  });

  it.each(fixture.instances.filter((instance) => instance.stream === null).map((instance) => [instance.id, instance] as const))(
    'reports no stream for %s, which was never contacted',
    async (_id, instance) => {
      const store = stores.conversationStreamStore;
      expect(await store.getMeta(instance.stream_path)).toBeNull();
      expect(await store.read(instance.stream_path)).toEqual({ batches: [], nextOffset: '-1', upToDate: true });
    },
  );

  it.each(fixture.attachments.map((entry) => [entry.ref.id, entry] as const))(
    'returns attachment %s byte for byte',
    async (attachmentId, entry) => {
      const stored = await stores.attachmentStore.get({
        streamPath: entry.stream_path,
        conversationId: entry.conversation_id,
        attachmentId,
      });
      expect(stored?.attachment).toEqual(entry.ref);
      expect(stored?.bytes.byteLength).toBe(entry.ref.size);
      expect(sha256(stored?.bytes ?? new Uint8Array())).toBe(entry.sha256);
    },
  );

  // Declared last on purpose: vitest runs a file's tests in order, so every read above has
  // happened by the time this compares the tables with their state before the first read.
  it('leaves every table as it found it', async () => {
    expect(await tableDigests(runner)).toEqual(digestsBeforeReads);
  });
  },
);

/** Every (home, driver) Flue's runtime is started on. */
const runtimeCases: { home: FixtureHome; driver: Driver }[] = [
  { home: fileCopy, driver: clientDriver },
  { home: fileCopy, driver: nativeDriver },
  { home: servedBySqld, driver: nativeDriver },
  { home: replayedIntoServer, driver: nativeDriver },
];

for (const { home, driver } of runtimeCases) describe.skipIf(home.skipReason !== undefined)(
  `Flue's runtime over ${driver.name} on the fixture on ${home.name}${skipSuffix(home.skipReason)}`,
  () => {
  const queued = fixture.queued_submissions[0]!;
  let database: FixtureDatabase;
  let runner: Runner;
  let flue: Flue | undefined;

  // The fixture's agent, rebuilt from its description. Only the queued prompt reaches the
  // model (settled turns replay from the stream), so the reply rule is needed for a single
  // text-only user message: "echo #<user messages so far>: <its text>".
  function InteropEcho() {
    useModel(fixture.agent.use_model);
    return fixture.agent.system_prompt;
  }
  InteropEcho.agentName = fixture.agent.name;

  beforeAll(async () => {
    database = await home.create();
    runner = await driver.raw(database.connection);
    const faux = fauxProvider({ provider: fixture.agent.provider, models: [{ id: fixture.agent.model_id }] });
    faux.setResponses([(context) => {
      const userMessages = context.messages.filter((message) => message.role === 'user');
      const last = userMessages.at(-1)?.content;
      const text = typeof last === 'string'
        ? last
        : (last ?? []).flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');
      return fauxAssistantMessage(`echo #${userMessages.length}: ${text}`);
    }]);
    flue = await start({
      agents: [InteropEcho],
      db: driver.adapter(database.connection),
      providers: [faux.provider],
    });
  });
  afterAll(async () => {
    try {
      await flue?.stop();
      await runner?.close();
    } finally {
      await database?.dispose();
    }
  });

  it.each(contacted.map(([id, instance]) => [id, instance] as const))(
    'serves the recorded history of %s',
    async (id, instance) => {
      const response = await createAgentRouter(InteropEcho).request(`/${id}?view=history`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(instance.history);
    },
  );

  it('runs the submission that was queued while no runtime ran, writing into the old file', async () => {
    const settled = await waitForSettlement(createStores(runner), queued.submission_id);
    expect(settled).toMatchObject({ status: 'settled', input: queued.input });
    expect(settled.error).toBeUndefined();

    const instance = queued.input.id;
    const response = await createAgentRouter(InteropEcho).request(`/${instance}?view=history`);
    expect(response.status).toBe(200);
    const prompt = queued.input.message.kind === 'user' ? queued.input.message.body : '';
    expect(await response.json()).toMatchObject({
      messages: [
        { role: 'user', submissionId: queued.submission_id, parts: [{ type: 'text', text: prompt }] },
        { role: 'assistant', submissionId: queued.submission_id, parts: [{ type: 'text', text: `echo #1: ${prompt}` }] },
      ],
      settlements: [{ submissionId: queued.submission_id, outcome: 'completed' }],
    });
  });
  },
);

/** Poll until the submission settles; the coordinator runs it in the background. */
async function waitForSettlement(stores: PersistenceStores, submissionId: string): Promise<AgentSubmission> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const submission = await stores.submissionStore.getSubmission(submissionId);
    if (submission?.status === 'settled') return submission;
    if (Date.now() > deadline) throw new Error(`Submission ${submissionId} did not settle: ${JSON.stringify(submission)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Flue's store contract suites against our stores, over five backends:
 *
 * - the `@libsql/client` runner on a fresh temp file per test (the foreign-runner seam:
 *   `libsql(runner)` must work over code written only to the three-function contract);
 * - the native runner (`open()`) on a fresh temp file per test;
 * - the native runner on a fresh `:memory:` database per test;
 * - the native runner over a libSQL server: a fresh, empty server database per test
 *   (`freshRemote()`: its own sqld, or the external test server emptied);
 * - the native runner over an embedded replica of a fresh sqld per test (reads from the
 *   local file, writes through to the server).
 *
 * The native backends get their schema from the native Flue migrator (`migrateFlueSchema`),
 * the client backend from the shipped migration file. Each backend also runs the submission
 * suite's format-version group through the adapter path it stands for: `libsql({ url })` for
 * the native file, `libsql(clientRunner(url))` for the client, `libsql(database)` (our own
 * `Database` handed over as a runner object) for `:memory:`, `libsql({ url, authToken })` for
 * the server, and `libsql({ url: 'file:…', syncUrl })` for the replica. The server backends
 * are skipped, saying why, when there is no server (support/remote-target.ts).
 */
import { afterAll, describe } from 'vitest';
import { libsql, open, type Database, type LibsqlAdapter, type Runner } from '../../dist/index.js';
import { clientRunner } from '../../scripts/libsql-client-runner.mjs';
import { defineAllContractSuites, type OpenedRunner } from '../support/contract-suites.js';
import { formatVersionBackend, type StampHandleParts } from '../support/flue-stamp.js';
import {
  freshRemote,
  OWN_SERVER_SKIP_REASON,
  REMOTE_SKIP_REASON,
  skipSuffix,
} from '../support/remote-target.js';
import { startSqld, stopAllSqld, type SqldServer } from '../support/sqld-server.js';
import { emptyTempDatabase, migratedTempDatabase, type TempDatabase } from '../support/temp-database.js';

async function openClientRunner(): Promise<OpenedRunner> {
  const database = await migratedTempDatabase();
  const runner = clientRunner(database.url);
  return {
    runner,
    async dispose() {
      await runner.close();
      await database.remove();
    },
  };
}

async function openNativeFile(): Promise<OpenedRunner> {
  const database = await emptyTempDatabase();
  const db = await open(database.url);
  await db.migrateFlueSchema();
  return {
    runner: db,
    async dispose() {
      await db.close();
      await database.remove();
    },
  };
}

async function openNativeMemory(): Promise<OpenedRunner> {
  const db = await open(':memory:');
  await db.migrateFlueSchema();
  return { runner: db, dispose: () => db.close() };
}

/** Runs `use(resource)`; on failure disposes of the resource before rethrowing. */
async function disposingOnFailure<R, T>(resource: R, dispose: (resource: R) => Promise<void>, use: (resource: R) => Promise<T>): Promise<T> {
  try {
    return await use(resource);
  } catch (error) {
    await dispose(resource);
    throw error;
  }
}

/** Closes `db`, then `release`s what it stood on, even if the close failed. */
function closeThen(db: { close(): Promise<void> }, release: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await db.close();
    } finally {
      await release();
    }
  };
}

/** `db` with Flue's schema from the native migrator; dispose() closes it, then `release`s the rest. Closed if the migration fails. */
function migratedRunner(db: Database, release: () => Promise<void>): Promise<OpenedRunner> {
  return disposingOnFailure(db, (d) => d.close(), async () => {
    await db.migrateFlueSchema();
    return { runner: db, dispose: closeThen(db, release) };
  });
}

/** Over a server, with the lanes at their default or at `concurrency: 1` (every call on one, in call order). */
async function openNativeServer(extra: { concurrency?: number } = {}): Promise<OpenedRunner> {
  const remote = await freshRemote();
  return disposingOnFailure(remote, (r) => r.dispose(), async () =>
    migratedRunner(await open({ url: remote.url, authToken: remote.authToken, ...extra }), () => remote.dispose()));
}

/** A fresh sqld and a temp folder for replica files, disposed of together. */
async function serverWithReplicaFolder(): Promise<{ server: SqldServer; folder: TempDatabase; dispose(): Promise<void> }> {
  const server = await startSqld();
  const folder = await disposingOnFailure(server, (s) => s.dispose(), () => emptyTempDatabase('replica.db'));
  return {
    server,
    folder,
    async dispose() {
      try {
        await server.dispose();
      } finally {
        await folder.remove();
      }
    },
  };
}

async function openNativeReplica(): Promise<OpenedRunner> {
  const setup = await serverWithReplicaFolder();
  return disposingOnFailure(setup, (s) => s.dispose(), async () =>
    migratedRunner(await open({ url: setup.folder.url, syncUrl: setup.server.url }), () => setup.dispose()));
}

/**
 * The stamp accessors' connection `raw`, and a migrate() through a new adapter from
 * `newAdapter` each call (closed after it); dispose() closes `raw`, then `release`s the rest.
 */
function stampParts(raw: Runner, newAdapter: () => LibsqlAdapter, release: () => Promise<void>): StampHandleParts {
  return {
    raw,
    async migrate() {
      const adapter = newAdapter();
      try {
        await adapter.migrate();
      } finally {
        await adapter.close();
      }
    },
    dispose: closeThen(raw, release),
  };
}

/**
 * A formatVersion backend over a fresh, un-migrated temp file: `openRaw` gives the stamp
 * accessors their connection; each `migrate()` runs through a new adapter from `adapterFor`.
 */
function freshStampBackend(openRaw: (url: string) => Promise<Runner>, adapterFor: (url: string) => LibsqlAdapter) {
  return formatVersionBackend(async () => {
    const database = await emptyTempDatabase();
    const raw = await openRaw(database.url);
    return stampParts(raw, () => adapterFor(database.url), () => database.remove());
  });
}

defineAllContractSuites('libSQL stores over @libsql/client', openClientRunner, {
  // A fresh adapter per migrate(): the suite migrates one database twice and expects the
  // second call to look at the stamp again (one adapter migrates once, as Flue calls it).
  formatVersion: freshStampBackend(async (url) => clientRunner(url), (url) => libsql(clientRunner(url))),
});

defineAllContractSuites('libSQL stores over the native runner (file)', openNativeFile, {
  formatVersion: freshStampBackend((url) => open(url), (url) => libsql({ url })),
});

defineAllContractSuites('libSQL stores over the native runner (:memory:)', openNativeMemory, {
  // One connection is the whole :memory: database, so the adapter gets the same Database
  // the stamp accessors use; closing the adapter would close it, so only dispose() does.
  formatVersion: formatVersionBackend(async () => {
    const db = await open(':memory:');
    return {
      raw: db,
      migrate: () => libsql(db).migrate(),
      dispose: () => db.close(),
    };
  }),
});

// One fresh server database per test database: stores can never see another test's rows.
// The stamp accessors use their own connection to the server; each migrate() a new adapter.
describe.skipIf(REMOTE_SKIP_REASON !== undefined)(`server backends${skipSuffix(REMOTE_SKIP_REASON)}`, () => {
  afterAll(() => stopAllSqld());

  defineAllContractSuites('libSQL stores over the native runner over sqld, concurrency 1', () => openNativeServer({ concurrency: 1 }));

  defineAllContractSuites('libSQL stores over the native runner over sqld', () => openNativeServer(), {
    formatVersion: formatVersionBackend(async () => {
      const remote = await freshRemote();
      const raw = await disposingOnFailure(remote, (r) => r.dispose(), () => open({ url: remote.url, authToken: remote.authToken }));
      return stampParts(raw, () => libsql({ url: remote.url, authToken: remote.authToken }), () => remote.dispose());
    }),
  });
});

// The replica is a file this process reads and the server the place its writes land. The
// stamp accessors talk to the server itself (the store's truth); each migrate() opens a new
// adapter on the same replica file, as a restarted app would, so a migration that trusted a
// stale local copy of the stamp would show.
describe.skipIf(OWN_SERVER_SKIP_REASON !== undefined)(`replica backends${skipSuffix(OWN_SERVER_SKIP_REASON)}`, () => {
  afterAll(() => stopAllSqld());

  defineAllContractSuites('libSQL stores over the native runner over an embedded replica of sqld', openNativeReplica, {
    formatVersion: formatVersionBackend(async () => {
      const setup = await serverWithReplicaFolder();
      const raw: Database = await disposingOnFailure(setup, (s) => s.dispose(), () => open(setup.server.url));
      return stampParts(raw, () => libsql({ url: setup.folder.url, syncUrl: setup.server.url }), () => setup.dispose());
    }),
  });
});

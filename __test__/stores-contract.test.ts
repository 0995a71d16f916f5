/**
 * Flue's store contract suites against our stores, over three backends:
 *
 * - the `@libsql/client` runner on a fresh temp file per test (the foreign-runner seam:
 *   `libsql(runner)` must work over code written only to the three-function contract);
 * - the native runner (`open()`) on a fresh temp file per test;
 * - the native runner on a fresh `:memory:` database per test.
 *
 * The native backends get their schema from the native Flue migrator (`migrateFlueSchema`),
 * the client backend from the shipped migration file. Each backend also runs the submission
 * suite's format-version group through the adapter path it stands for: `libsql({ url })` for
 * the native file, `libsql(clientRunner(url))` for the client, and `libsql(database)` (our own
 * `Database` handed over as a runner object) for `:memory:`.
 */
import { libsql, open, type LibsqlAdapter, type Runner } from '../dist/index.js';
import { clientRunner } from './support/client-runner.js';
import { defineAllContractSuites, type OpenedRunner } from './support/contract-suites.js';
import { formatVersionBackend } from './support/flue-stamp.js';
import { emptyTempDatabase, migratedTempDatabase } from './support/temp-database.js';

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

/**
 * A formatVersion backend over a fresh, un-migrated temp file: `openRaw` gives the stamp
 * accessors their connection; each `migrate()` runs through a new adapter from `adapterFor`.
 */
function freshStampBackend(openRaw: (url: string) => Promise<Runner>, adapterFor: (url: string) => LibsqlAdapter) {
  return formatVersionBackend(async () => {
    const database = await emptyTempDatabase();
    const raw = await openRaw(database.url);
    return {
      raw,
      async migrate() {
        const adapter = adapterFor(database.url);
        try {
          await adapter.migrate();
        } finally {
          await adapter.close();
        }
      },
      async dispose() {
        await raw.close();
        await database.remove();
      },
    };
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

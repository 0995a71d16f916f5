/**
 * Flue's store contract suites against our stores, driven by the `@libsql/client` runner on a
 * fresh temp file per test. To run them over another driver, pass another factory.
 */
import { clientRunner } from './support/client-runner.js';
import { defineAllContractSuites, type OpenedRunner } from './support/contract-suites.js';
import { migratedTempDatabase } from './support/temp-database.js';

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

defineAllContractSuites('libSQL stores over @libsql/client', openClientRunner);

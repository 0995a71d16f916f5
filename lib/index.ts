/**
 * flue-libsql: a native libSQL runner for Node.js, and Flue's persistence adapter on it.
 *
 * - `libsql(options)` — the Flue `PersistenceAdapter` (the whole of a db.ts).
 * - `open(urlOrOptions)` — the runner on its own: `query`, `transaction`, `close`, plus
 *   `execute`, `batch`, `exec`, `migrate`, `sync`.
 *
 * Flue's stores over any runner are in the `flue-libsql/stores` entry. This entry does not
 * load @flue/runtime until an adapter is migrated or connected.
 */
export { libsql, DEFAULT_URL, type LibsqlAdapter, type LibsqlAdapterOptions } from './flue/adapter.js';
export { open, Database } from './database/database.js';
export type {
  BatchResult,
  BatchStatement,
  ExecuteResult,
  Migration,
  MigrationReport,
  OpenOptions,
  Params,
  QueryRunner,
  Row,
  Runner,
  SyncResult,
  Transaction,
} from './types.js';
export { LibsqlError, RUNNER_ERROR_CODES, type LibsqlErrorCode, type RunnerErrorCode } from './errors.js';
export { loadMigrations } from './migrations.js';

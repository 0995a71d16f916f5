/**
 * Flue's format-1 schema over a runner that is not ours (`libsql(runner)`).
 *
 * Our own `Database` migrates natively (`migrateFlueSchema`). A runner written by hand for the
 * three-function seam has only `query`/`transaction`, so for it the native migrator hands out
 * its statements one by one (`FlueMigrationOverRunner`), run here inside the runner's
 * transaction: the same stamp rules, the same DDL, recorded the same way.
 */
import { FLUE_FORMAT_VERSION, PersistedFormatVersionError } from '@flue/runtime/adapter';
import { LibsqlError } from '../errors.js';
import { native } from '../native.js';
import type { Runner } from '../types.js';

/** Turns the native migrator's refusal into Flue's own error class. */
export function toFlueError(error: unknown): unknown {
  if (error instanceof LibsqlError && error.code === 'FLUE_FORMAT_VERSION') {
    const storedVersion = (error as LibsqlError & { storedVersion?: string }).storedVersion ?? 'unknown';
    return new PersistedFormatVersionError({ storedVersion, supportedVersion: FLUE_FORMAT_VERSION });
  }
  return error;
}

export async function migrateFlueSchemaOverRunner(runner: Runner): Promise<void> {
  await runner.transaction(async (tx) => {
    const migration = new native.FlueMigrationOverRunner();
    for (let statement = migration.next(); statement !== null; ) {
      const rows = await tx.query(statement.sql, statement.params);
      statement = migration.next(rows.map((row) => Object.values(row)));
    }
  });
}

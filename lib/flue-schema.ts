/**
 * Flue's format-1 schema over a runner that is not ours (`libsql(runner)`).
 *
 * Our own `Database` migrates natively (`migrateFlueSchema`, the Rust migrator). A runner
 * written by hand for the three-function seam has only `query`/`transaction`, so for it the
 * same stamp rules run here, over `runner.transaction`, with the same embedded DDL.
 */
import { FLUE_FORMAT_VERSION, PersistedFormatVersionError } from '@flue/runtime/adapter';
import { LibsqlError } from './errors.js';
import { native } from './load-native.js';
import type { QueryRunner, Runner } from './runner.js';

const LEGACY_SCHEMA_VERSION = '8';

/** Turns the native migrator's refusal into Flue's own error class. */
export function toFlueError(error: unknown): unknown {
  if (error instanceof LibsqlError && error.code === 'FLUE_FORMAT_VERSION') {
    const storedVersion = (error as LibsqlError & { storedVersion?: string }).storedVersion ?? 'unknown';
    return new PersistedFormatVersionError({ storedVersion, supportedVersion: FLUE_FORMAT_VERSION });
  }
  return error;
}

export async function migrateFlueSchemaOverRunner(runner: Runner): Promise<void> {
  const statements = native
    .flueMigrations()
    .flatMap((migration) => migration.sql.split(';'))
    .map((statement) => statement.trim())
    .filter((statement) => statement.replace(/--.*$/gm, '').trim() !== '');
  await runner.transaction(async (tx) => {
    const stamp = await readStamp(tx);
    for (const statement of statements) await tx.query(statement);
    await tx.query('CREATE TABLE IF NOT EXISTS flue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    if (stamp === 'new') {
      await tx.query(`INSERT OR IGNORE INTO flue_meta (key, value) VALUES ('format_version', ?)`, [String(FLUE_FORMAT_VERSION)]);
    } else if (stamp === 'legacy') {
      await tx.query(`UPDATE flue_meta SET key = 'format_version', value = ? WHERE key = 'schema_version'`, [String(FLUE_FORMAT_VERSION)]);
    }
  });
}

/** Reads the stamp before anything is written; refuses unknown, newer and unversioned stores. */
async function readStamp(tx: QueryRunner): Promise<'new' | 'current' | 'legacy'> {
  const refuse = (storedVersion: string) => new PersistedFormatVersionError({ storedVersion, supportedVersion: FLUE_FORMAT_VERSION });
  const hasMeta = (await tx.query(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flue_meta'`)).length > 0;
  if (hasMeta) {
    const [format] = await tx.query(`SELECT value FROM flue_meta WHERE key = 'format_version'`);
    if (format) {
      if (String(format.value) !== String(FLUE_FORMAT_VERSION)) throw refuse(String(format.value));
      return 'current';
    }
    const [legacy] = await tx.query(`SELECT value FROM flue_meta WHERE key = 'schema_version'`);
    if (legacy) {
      if (String(legacy.value) !== LEGACY_SCHEMA_VERSION) throw refuse(String(legacy.value));
      return 'legacy';
    }
  }
  const flueTables = await tx.query(
    String.raw`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name LIKE 'flue\_%' ESCAPE '\' AND name <> 'flue_meta' LIMIT 1`,
  );
  if (flueTables.length > 0) throw refuse('unversioned');
  return 'new';
}

/**
 * Raw access to Flue's format stamp (`flue_meta` rows) and to a database's schema, over any
 * runner: what the format-version contract group and the stamp-rule tests read and write
 * behind the adapter's back.
 */
import type { FormatVersionTestBackend, FormatVersionTestHandle } from '@flue/runtime/test-utils';
import type { QueryRunner, Runner } from '../../lib/types.js';

async function hasMetaTable(runner: QueryRunner): Promise<boolean> {
  const rows = await runner.query(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flue_meta'`);
  return rows.length > 0;
}

/** The stamp value at `key`, or undefined when it (or `flue_meta` itself) is absent. */
export async function readStamp(runner: QueryRunner, key: string): Promise<string | undefined> {
  if (!(await hasMetaTable(runner))) return undefined;
  const [row] = await runner.query(`SELECT value FROM flue_meta WHERE key = ?`, [key]);
  return row === undefined ? undefined : String(row.value);
}

/** Writes a stamp value, creating `flue_meta` (with Flue's layout) if needed. */
export async function writeStamp(runner: QueryRunner, key: string, value: string): Promise<void> {
  await runner.query('CREATE TABLE IF NOT EXISTS flue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  await runner.query(
    'INSERT INTO flue_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    [key, value],
  );
}

export async function deleteStamp(runner: QueryRunner, key: string): Promise<void> {
  if (await hasMetaTable(runner)) await runner.query('DELETE FROM flue_meta WHERE key = ?', [key]);
}

/** Every `flue_meta` row, ordered by key (empty when the table is absent). */
export async function stampRows(runner: QueryRunner): Promise<{ key: unknown; value: unknown }[]> {
  if (!(await hasMetaTable(runner))) return [];
  return runner.query('SELECT key, value FROM flue_meta ORDER BY key');
}

/** Every schema object (type, name, definition), SQLite's own included, in a stable order. */
export async function schemaOf(runner: QueryRunner): Promise<{ type: unknown; name: unknown; sql: unknown }[]> {
  return runner.query('SELECT type, name, sql FROM sqlite_master ORDER BY type, name');
}

/** Names of the tables whose name starts with `flue_`, sorted. */
export async function flueTableNames(runner: QueryRunner): Promise<string[]> {
  const rows = await runner.query(
    String.raw`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'flue\_%' ESCAPE '\' ORDER BY name`,
  );
  return rows.map((row) => String(row.name));
}

export interface StampHandleParts {
  /** A connection for raw reads and writes, separate from the one the migration uses. */
  raw: Runner;
  /** Migrates the database the way the adapter under test does, from scratch each call. */
  migrate(): Promise<void>;
  /** Closes `raw` and deletes whatever was created. */
  dispose(): Promise<void>;
}

/** Flue's `FormatVersionTestBackend` over a factory of fresh, un-migrated databases. */
export function formatVersionBackend(openParts: () => Promise<StampHandleParts>): FormatVersionTestBackend {
  return {
    async open(): Promise<FormatVersionTestHandle> {
      const parts = await openParts();
      return {
        migrate: () => parts.migrate(),
        readStamp: (key) => readStamp(parts.raw, key),
        writeStamp: (key, value) => writeStamp(parts.raw, key, value),
        deleteStamp: (key) => deleteStamp(parts.raw, key),
        cleanup: () => parts.dispose(),
      };
    },
  };
}

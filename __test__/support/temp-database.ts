/**
 * Throwaway database files for tests: each lives in its own temp directory (so the WAL and
 * SHM companions go with it) and is removed with that directory.
 */
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@libsql/client';

export const FORMAT_1_MIGRATION = new URL('../../migrations/flue/0001_flue_format_1.sql', import.meta.url);

export interface TempDatabase {
  path: string;
  /** `file:` URL for `@libsql/client`. */
  url: string;
  remove(): Promise<void>;
}

async function tempDatabase(fileName: string): Promise<TempDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'flue-libsql-'));
  const path = join(dir, fileName);
  return {
    path,
    url: pathToFileURL(path).href,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A path for a database that does not exist yet: the first connection creates it, empty. */
export function emptyTempDatabase(fileName = 'flue.db'): Promise<TempDatabase> {
  return tempDatabase(fileName);
}

/** A new database holding the format-1 tables, created from the migration file as shipped. */
export async function migratedTempDatabase(): Promise<TempDatabase> {
  const database = await tempDatabase('flue.db');
  const client = createClient({ url: database.url });
  try {
    await client.executeMultiple(await readFile(FORMAT_1_MIGRATION, 'utf8'));
  } finally {
    client.close();
  }
  return database;
}

/** A private, writable copy of an existing database file (fixtures are read-only). */
export async function copiedTempDatabase(source: string): Promise<TempDatabase> {
  const database = await tempDatabase('copy.db');
  await copyFile(source, database.path);
  return database;
}

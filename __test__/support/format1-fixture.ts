/**
 * The format-1 interop fixture: a database written by Flue's reference libSQL adapter, and the
 * JSON that lists what a compatible reader must find in it. Both are committed under
 * `__test__/fixtures/` (with the format-1 layout document they were made against), so a clean
 * clone tests itself; nothing here reads outside the repository.
 *
 * Also the two ways the tests put that same data on a libSQL server: sqld serving the fixture
 * file itself as its database, and the fixture's schema and rows replayed into any server.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  AgentSubmission,
  AgentSubmissionInput,
  AttachmentRef,
  ConversationStreamMeta,
  SubmissionSettlementObligation,
} from '@flue/runtime/adapter';

import { open, type BatchStatement, type Database } from '../../dist/index.js';
import { startSqld, type SqldServer } from './sqld-server.js';
import { copiedTempDatabase } from './temp-database.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);
export const FIXTURE_DB_PATH = fileURLToPath(new URL('flue-libsql-format1.db', FIXTURES));
export const FIXTURE_JSON_PATH = fileURLToPath(new URL('flue-libsql-format1.json', FIXTURES));

export interface FixtureColumn {
  name: string;
  type: string;
  notnull: boolean;
  pk: number;
  default: string | null;
}

export interface FixtureBatch {
  offset: string;
  record_types: string[];
  /** Distinct record `submissionId`s in first-appearance order; absent when there are none. */
  submission_ids?: string[];
  /** SHA-256 of the batch's records as {@link canonicalJson}. */
  sha256: string;
}

export interface FixtureStream {
  path: string;
  meta: ConversationStreamMeta;
  batch_count: number;
  head_offset: string;
  record_count: number;
  /** SHA-256 of `[{ offset, records }, …]` for the whole stream as {@link canonicalJson}. */
  records_sha256: string;
  fold_checkpoint: {
    offset: string;
    incarnation: string;
    formatVersion: number;
    data_length: number;
    data_sha256: string;
  } | null;
  batches: FixtureBatch[];
}

export interface FixtureInstance {
  id: string;
  stream_path: string;
  conversation_id?: string;
  incarnation?: string;
  uid?: string;
  prompts?: string[];
  replies?: string[];
  /** The instance's history view (`GET /<id>?view=history`) as Flue served it. */
  history?: Record<string, unknown>;
  stream: FixtureStream | null;
}

export interface Format1Fixture {
  /** The database file's name, size and SHA-256 as the generator wrote it. */
  db_file: string;
  db_bytes: number;
  db_sha256: string;
  format_version: { flue_meta_rows: { key: string; value: string }[] };
  flue_tables: string[];
  tables: { name: string; rows: number; columns: FixtureColumn[]; sql: string }[];
  indexes: { name: string; table: string; sql: string | null }[];
  agent: { name: string; system_prompt: string; provider: string; model_id: string; use_model: string };
  instances: FixtureInstance[];
  submissions: { submission_id: string; status: string; kind: string; sequence: number; record: AgentSubmission }[];
  queued_submissions: { submission_id: string; input: AgentSubmissionInput }[];
  store_queries: {
    hasUnsettledSubmissions: boolean;
    listUnreadySubmissions: string[];
    listRunnableSubmissions: string[];
    listRunningSubmissions: string[];
    listPendingSubmissionSettlements: SubmissionSettlementObligation[];
  };
  attachments: {
    stream_path: string;
    conversation_id: string;
    ref: AttachmentRef;
    sha256: string;
  }[];
}

export async function loadFormat1Fixture(): Promise<Format1Fixture> {
  return JSON.parse(await readFile(FIXTURE_JSON_PATH, 'utf8')) as Format1Fixture;
}

/** JSON with object keys sorted at every depth: the form the fixture's digests are taken over. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value).sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * A new sqld whose default database is the fixture file itself: started once (so its folder
 * exists), stopped, its default database folder replaced by a copy of the fixture alone, and
 * restarted. Finding a database file with no replication log, sqld adopts it ("replication log
 * not found, recovering from database file"). Callers check the data is there (and fail if a
 * sqld version stops doing this): nothing here assumes it worked.
 */
export async function sqldServingFixture(): Promise<SqldServer> {
  const server = await startSqld();
  try {
    await server.stop();
    const folder = join(server.dbPath, 'dbs', 'default');
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder, { recursive: true });
    await copyFile(FIXTURE_DB_PATH, join(folder, 'data'));
    await server.restart();
    return server;
  } catch (error) {
    await server.dispose();
    throw error;
  }
}

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Writes the fixture's schema (tables, then indexes, in creation order, as their original
 * CREATE text) and every row (rowids kept, blobs as blobs) into `target`, an empty database,
 * in one batch (one transaction); then sets `sqlite_sequence` to the fixture's values. The
 * rows are read from a copy of the file with the native runner.
 */
export async function replayFixtureInto(target: Database): Promise<void> {
  const copy = await copiedTempDatabase(FIXTURE_DB_PATH);
  try {
    const source = await open(copy.url);
    try {
      const statements: BatchStatement[] = [];
      const objects = await source.query<{ type: string; name: string; sql: string }>(
        `SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid`,
      );
      for (const object of objects) statements.push([object.sql]);
      for (const { name } of objects.filter((object) => object.type === 'table')) {
        const columns = await source.query<{ name: string; type: string; pk: number }>(`SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid`, [name]);
        const keys = columns.filter((column) => column.pk > 0);
        // An INTEGER PRIMARY KEY is the rowid itself; any other table gets its rowid set explicitly.
        const aliased = keys.length === 1 && keys[0]!.type.toUpperCase() === 'INTEGER';
        const names = [...(aliased ? [] : ['rowid']), ...columns.map((column) => column.name)];
        const insert = `INSERT INTO ${quoted(name)} (${names.map(quoted).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`;
        const rows = await source.query(`SELECT rowid AS "__replay_rowid", * FROM ${quoted(name)} ORDER BY rowid`);
        for (const row of rows) {
          statements.push([insert, [...(aliased ? [] : [row.__replay_rowid]), ...columns.map((column) => row[column.name])]]);
        }
      }
      const sequences = await source.query<{ name: string; seq: number }>(`SELECT name, seq FROM sqlite_sequence ORDER BY rowid`);
      statements.push(['DELETE FROM sqlite_sequence']);
      for (const { name, seq } of sequences) statements.push(['INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)', [name, seq]]);
      await target.batch(statements);
    } finally {
      await source.close();
    }
  } finally {
    await copy.remove();
  }
}

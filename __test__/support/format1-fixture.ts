/**
 * The format-1 interop fixture: a database written by Flue's reference libSQL adapter, and the
 * JSON that lists what a compatible reader must find in it. Both live beside this repository
 * (`../shared/fixtures`), as they do in CI.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type {
  AgentSubmission,
  AgentSubmissionInput,
  AttachmentRef,
  ConversationStreamMeta,
  SubmissionSettlementObligation,
} from '@flue/runtime/adapter';

const FIXTURES = new URL('../../../shared/fixtures/', import.meta.url);
export const FIXTURE_DB_PATH = fileURLToPath(new URL('flue-libsql-format1.db', FIXTURES));
const FIXTURE_JSON = new URL('flue-libsql-format1.json', FIXTURES);

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
  return JSON.parse(await readFile(FIXTURE_JSON, 'utf8')) as Format1Fixture;
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

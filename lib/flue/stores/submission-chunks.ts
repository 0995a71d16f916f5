/**
 * `flue_submission_chunks`: attachment data split out of a submission's payload at admission
 * (Flue's `prepareSubmissionAttachments` decides the split) and put back on every read.
 */
import type { SubmissionChunkRow, SubmissionChunkStore } from '@flue/runtime/adapter';
import type { QueryRunner, Row } from '../../types.js';
import type { AtomicStatement } from './atomic.js';

const CHUNK_ORDER = 'ORDER BY item_id, chunk_index';

/** The statement reading one submission's chunks; `parseChunkRows` makes its rows chunks. */
export function readChunks(submissionId: string): AtomicStatement {
  return [
    `SELECT item_id, chunk_index, chunk_count, data FROM flue_submission_chunks
     WHERE submission_id = ? ${CHUNK_ORDER}`,
    [submissionId],
  ];
}

export function parseChunkRows(rows: readonly Row[]): SubmissionChunkRow[] {
  return rows.map(parseChunkRow);
}

function parseChunkRow(row: Row): SubmissionChunkRow {
  const { item_id, chunk_index, chunk_count, data } = row;
  if (typeof item_id !== 'string' || typeof data !== 'string' ||
    typeof chunk_index !== 'number' || !Number.isInteger(chunk_index) ||
    typeof chunk_count !== 'number' || !Number.isInteger(chunk_count)) {
    throw new Error('[flue] Persisted submission chunk row is malformed.');
  }
  return { itemId: item_id, index: chunk_index, count: chunk_count, data };
}

/**
 * The chunk store for one query scope. Pass the transaction's `tx` during admission so the
 * chunks commit or roll back with the submission row they belong to.
 */
export function submissionChunkStore(db: QueryRunner): SubmissionChunkStore<Promise<void>> {
  return {
    async read(submissionId) {
      return parseChunkRows(await db.query(...readChunks(submissionId)));
    },
    async replace(submissionId, chunks) {
      await db.query('DELETE FROM flue_submission_chunks WHERE submission_id = ?', [submissionId]);
      for (const chunk of chunks) {
        await db.query(
          `INSERT INTO flue_submission_chunks (submission_id, item_id, chunk_index, chunk_count, data)
           VALUES (?, ?, ?, ?, ?)`,
          [submissionId, chunk.itemId, chunk.index, chunk.count, chunk.data],
        );
      }
    },
  };
}

/**
 * Chunks for many submissions in one statement, so listing N submissions costs two queries
 * rather than N + 1. The ids travel as one JSON parameter, which keeps the SQL text constant
 * (one cached statement) whatever the list length.
 */
export async function readChunksOf(
  db: QueryRunner,
  submissionIds: readonly string[],
): Promise<Map<string, SubmissionChunkRow[]>> {
  const bySubmission = new Map<string, SubmissionChunkRow[]>();
  if (submissionIds.length === 0) return bySubmission;
  const rows = await db.query(
    `SELECT submission_id, item_id, chunk_index, chunk_count, data FROM flue_submission_chunks
     WHERE submission_id IN (SELECT value FROM json_each(?)) ${CHUNK_ORDER}`,
    [JSON.stringify(submissionIds)],
  );
  for (const row of rows) {
    const submissionId = String(row.submission_id);
    const group = bySubmission.get(submissionId) ?? [];
    group.push(parseChunkRow(row));
    bySubmission.set(submissionId, group);
  }
  return bySubmission;
}

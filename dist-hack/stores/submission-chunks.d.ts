/**
 * `flue_submission_chunks`: attachment data split out of a submission's payload at admission
 * (Flue's `prepareSubmissionAttachments` decides the split) and put back on every read.
 */
import type { SubmissionChunkRow, SubmissionChunkStore } from '@flue/runtime/adapter';
import type { QueryRunner } from '../runner.js';
/**
 * The chunk store for one query scope. Pass the transaction's `tx` during admission so the
 * chunks commit or roll back with the submission row they belong to.
 */
export declare function submissionChunkStore(db: QueryRunner): SubmissionChunkStore<Promise<void>>;
/**
 * Chunks for many submissions in one statement, so listing N submissions costs two queries
 * rather than N + 1. The ids travel as one JSON parameter, which keeps the SQL text constant
 * (one cached statement) whatever the list length.
 */
export declare function readChunksOf(db: QueryRunner, submissionIds: readonly string[]): Promise<Map<string, SubmissionChunkRow[]>>;

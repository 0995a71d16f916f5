/**
 * Reading `flue_agent_submissions` rows back into Flue's types.
 *
 * A row is checked before it is trusted: the payload is what the runtime executes, so a row
 * whose columns contradict each other (a queued row with an attempt, a payload admitted under
 * another identity) must fail loudly rather than run as something it is not.
 */
import { type AgentSubmission, type SubmissionChunkRow, type SubmissionSettlementObligation } from '@flue/runtime/adapter';
import type { Row } from '../runner.js';
/** Columns every submission read selects (and every RETURNING returns), so all paths parse alike. */
export declare const SUBMISSION_COLUMNS: string;
/** Columns a settlement obligation is read from. */
export declare const OBLIGATION_COLUMNS = "submission_id, session_key, attempt_id, settlement_record_id, settlement_record";
/** Statuses that still hold their session's queue: everything but `settled`. */
export declare const UNSETTLED_STATUSES = "'queued', 'running', 'terminalizing', 'joining', 'joined'";
/**
 * Parse one submission row plus its payload chunks. Throws when the row is malformed; the
 * store decides whether that fails the call (a point read) or terminates the row (a list).
 */
export declare function parseSubmissionRow(row: Row, chunks: readonly SubmissionChunkRow[]): AgentSubmission;
/** Parse a row selected with {@link OBLIGATION_COLUMNS}. */
export declare function parseSettlementObligation(row: Row): SubmissionSettlementObligation;

/**
 * Reading `flue_agent_submissions` rows back into Flue's types.
 *
 * A row is checked before it is trusted: the payload is what the runtime executes, so a row
 * whose columns contradict each other (a queued row with an attempt, a payload admitted under
 * another identity) must fail loudly rather than run as something it is not.
 */
import {
  hydratePersistedSubmissionAttachments,
  isSubmissionPayload,
  type AgentSubmission,
  type SubmissionChunkRow,
  type SubmissionSettledRecord,
  type SubmissionSettlementObligation,
} from '@flue/runtime/adapter';
import type { Row } from '../../types.js';

/** Columns every submission read selects (and every RETURNING returns), so all paths parse alike. */
export const SUBMISSION_COLUMNS =
  'sequence, submission_id, session_key, kind, payload, status, accepted_at, canonical_ready_at, ' +
  'attempt_id, input_applied_at, abort_requested_at, started_at, joined_into, error, settled_at, ' +
  'attempt_count, max_attempts, timeout_at, owner_id, lease_expires_at';

/** Columns a settlement obligation is read from. */
export const OBLIGATION_COLUMNS =
  'submission_id, session_key, attempt_id, settlement_record_id, settlement_record';

/** Statuses that still hold their session's queue: everything but `settled`. */
export const UNSETTLED_STATUSES = `'queued', 'running', 'terminalizing', 'joining', 'joined'`;

type SubmissionStatus = AgentSubmission['status'];

const STATUSES: ReadonlySet<string> = new Set<SubmissionStatus>([
  'queued',
  'running',
  'terminalizing',
  'settled',
  'joining',
  'joined',
]);

function malformedRow(): never {
  throw new Error('[flue] Persisted agent submission row is malformed.');
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : malformedRow();
}

function optionalText(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : text(value);
}

function integer(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : malformedRow();
}

function optionalInteger(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : integer(value);
}

/**
 * Parse one submission row plus its payload chunks. Throws when the row is malformed; the
 * store decides whether that fails the call (a point read) or terminates the row (a list).
 */
export function parseSubmissionRow(row: Row, chunks: readonly SubmissionChunkRow[]): AgentSubmission {
  const sequence = integer(row.sequence);
  const submissionId = text(row.submission_id);
  const sessionKey = text(row.session_key);
  const kind = row.kind === 'dispatch' || row.kind === 'direct' ? row.kind : malformedRow();
  const payload = text(row.payload);
  const status = typeof row.status === 'string' && STATUSES.has(row.status)
    ? (row.status as SubmissionStatus)
    : malformedRow();
  const acceptedAt = integer(row.accepted_at);
  const canonicalReadyAt = optionalInteger(row.canonical_ready_at);
  const attemptId = optionalText(row.attempt_id);
  const inputAppliedAt = optionalInteger(row.input_applied_at);
  const abortRequestedAt = optionalInteger(row.abort_requested_at);
  const startedAt = optionalInteger(row.started_at);
  const joinedInto = optionalText(row.joined_into);
  const error = optionalText(row.error);
  const settledAt = optionalInteger(row.settled_at);
  const ownerId = optionalText(row.owner_id);

  // Lifecycle invariants: each status implies which coordination columns exist. A row that
  // breaks them was torn or hand-edited, and acting on it could run work twice.
  if (status === 'queued' && (attemptId !== undefined || inputAppliedAt !== undefined ||
    startedAt !== undefined || joinedInto !== undefined)) malformedRow();
  if ((status === 'joining' || status === 'joined') && joinedInto === undefined) malformedRow();
  if ((status === 'running' || status === 'terminalizing') &&
    (attemptId === undefined || startedAt === undefined)) malformedRow();

  const input = hydratePersistedSubmissionAttachments(JSON.parse(payload), chunks);
  if (!isSubmissionPayload(input, { kind, submissionId, sessionKey, acceptedAt })) {
    throw new Error('[flue] Persisted agent submission payload is malformed.');
  }

  return {
    sequence,
    submissionId,
    sessionKey,
    kind,
    input,
    status,
    acceptedAt,
    canonicalReadyAt: canonicalReadyAt ?? null,
    ...(attemptId !== undefined ? { attemptId } : {}),
    ...(inputAppliedAt !== undefined ? { inputAppliedAt } : {}),
    ...(abortRequestedAt !== undefined ? { abortRequestedAt } : {}),
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(joinedInto !== undefined ? { joinedInto } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(settledAt !== undefined ? { settledAt } : {}),
    attemptCount: integer(row.attempt_count),
    maxAttempts: integer(row.max_attempts),
    timeoutAt: integer(row.timeout_at),
    ...(ownerId !== undefined ? { ownerId } : {}),
    leaseExpiresAt: optionalInteger(row.lease_expires_at) ?? 0,
  };
}

/** Parse a row selected with {@link OBLIGATION_COLUMNS}. */
export function parseSettlementObligation(row: Row): SubmissionSettlementObligation {
  const { submission_id, session_key, attempt_id, settlement_record_id, settlement_record } = row;
  if (typeof submission_id !== 'string' || typeof session_key !== 'string' ||
    typeof attempt_id !== 'string' || typeof settlement_record_id !== 'string' ||
    typeof settlement_record !== 'string') {
    throw new Error('[flue] Persisted submission settlement obligation is malformed.');
  }
  return {
    submissionId: submission_id,
    sessionKey: session_key,
    attemptId: attempt_id,
    recordId: settlement_record_id,
    record: JSON.parse(settlement_record) as SubmissionSettledRecord,
  };
}

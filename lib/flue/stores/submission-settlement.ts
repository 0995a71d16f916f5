/**
 * Settling submissions: the two-step reserve/finalize of a settlement record, the one-step
 * settle of a running or queued row, and the fan-out that carries a host's outcome to the
 * deliveries joined into it.
 */
import type {
  SubmissionAttemptRef,
  SubmissionSettledRecord,
  SubmissionSettlementObligation,
} from '@flue/runtime/adapter';
import type { QueryRunner, Row, Runner } from '../../types.js';
import { runAtomically, sideBySide, type AtomicStatement } from './atomic.js';
import { OBLIGATION_COLUMNS, parseSettlementObligation } from './submission-rows.js';
import { updateMatched } from './submission-sql.js';

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The `error.message` a settlement record carries, when it carries one. */
function recordErrorMessage(record: SubmissionSettledRecord): string | undefined {
  const { error } = record;
  if (error && typeof error === 'object' && 'message' in error && typeof error.message === 'string') {
    return error.message;
  }
  return undefined;
}

export async function reserveSubmissionSettlement(
  runner: QueryRunner,
  attempt: SubmissionAttemptRef,
  settlement: { recordId: string; record: SubmissionSettledRecord },
): Promise<SubmissionSettlementObligation | null> {
  if (settlement.record.id !== settlement.recordId) return null;
  const recordJson = JSON.stringify(settlement.record);
  // Either the submission runs under this attempt, or it is a delivery joined into a host
  // that does: the host then settles it under its own authority and the row adopts the
  // host's attempt id.
  const [reserved] = await runner.query(
    `UPDATE flue_agent_submissions AS current
     SET status = 'terminalizing', settlement_record_id = ?, settlement_record = ?,
         attempt_id = ?, started_at = COALESCE(started_at, ?)
     WHERE current.submission_id = ? AND current.settlement_record_id IS NULL
       AND ((current.status = 'running' AND current.attempt_id = ? AND current.owner_id IS NOT NULL)
         OR (current.status = 'joined' AND EXISTS (
               SELECT 1 FROM flue_agent_submissions AS host
               WHERE host.submission_id = current.joined_into
                 AND host.status = 'running' AND host.attempt_id = ?)))
     RETURNING ${OBLIGATION_COLUMNS}`,
    [settlement.recordId, recordJson, attempt.attemptId, Date.now(), attempt.submissionId,
      attempt.attemptId, attempt.attemptId],
  );
  if (reserved) return parseSettlementObligation(reserved);
  // Not reservable now. An exact retry of a reservation that already happened still
  // succeeds; anything else (stale attempt, another record) is a refusal. This read needs
  // no transaction: a reserved obligation is only ever finalized, never rewritten.
  const [existing] = await runner.query(
    `SELECT ${OBLIGATION_COLUMNS} FROM flue_agent_submissions
     WHERE submission_id = ? AND status = 'terminalizing' AND attempt_id = ?
       AND settlement_record_id = ? AND settlement_record = ?`,
    [attempt.submissionId, attempt.attemptId, settlement.recordId, recordJson],
  );
  return existing ? parseSettlementObligation(existing) : null;
}

export async function finalizeSubmissionSettlement(
  runner: Runner,
  attempt: SubmissionAttemptRef,
  recordId: string,
  options?: { errorMessage?: string },
): Promise<boolean> {
  return runner.transaction(async (tx) => {
    const [pending] = await tx.query(
      `SELECT settlement_record FROM flue_agent_submissions
       WHERE submission_id = ? AND status = 'terminalizing' AND attempt_id = ?
         AND settlement_record_id = ?`,
      [attempt.submissionId, attempt.attemptId, recordId],
    );
    if (!pending) return false;
    const record = JSON.parse(String(pending.settlement_record)) as SubmissionSettledRecord;
    // The error column mirrors the canonical outcome; the caller's raw message beats the
    // record's client-safe one.
    const error = record.outcome === 'completed'
      ? null
      : options?.errorMessage ?? recordErrorMessage(record) ?? 'The submission did not complete.';
    const settled = await tx.query(
      `UPDATE flue_agent_submissions SET status = 'settled', settled_at = ?, error = ?
       WHERE submission_id = ? AND status = 'terminalizing' AND attempt_id = ?
         AND settlement_record_id = ?
       RETURNING submission_id`,
      [Date.now(), error, attempt.submissionId, attempt.attemptId, recordId],
    );
    if (settled.length === 0) return false;
    await settleJoinedDeliveries(tx, attempt.submissionId, error);
    return true;
  });
}

export async function completeSubmission(runner: Runner, attempt: SubmissionAttemptRef): Promise<boolean> {
  return settleRunning(runner, attempt, null);
}

export async function failSubmission(
  runner: Runner,
  attempt: SubmissionAttemptRef,
  error: unknown,
): Promise<boolean> {
  return settleRunning(runner, attempt, messageOf(error));
}

export async function settleQueuedSubmission(
  runner: QueryRunner,
  submissionId: string,
  error: unknown,
): Promise<boolean> {
  // The outcome has no column of its own in format 1: the row records it as its error.
  return updateMatched(
    runner,
    `UPDATE flue_agent_submissions SET status = 'settled', settled_at = ?, error = ?
     WHERE submission_id = ? AND status = 'queued'
     RETURNING submission_id`,
    [Date.now(), messageOf(error), submissionId],
  );
}

/** Settle a row an operational listing could not parse, recording its parse error. */
export async function settleMalformedSubmission(runner: Runner, row: Row, error: unknown): Promise<void> {
  // Without a usable sequence and status the row cannot be addressed safely: surface it.
  if (typeof row.sequence !== 'number' || typeof row.status !== 'string') throw error;
  console.error('[flue] Terminating malformed submission (sequence %d):', row.sequence, error);
  const message = messageOf(error);
  await runner.transaction(async (tx) => {
    // Conditional on the status we read, so a row that moved on meanwhile is left alone.
    const [settled] = await tx.query(
      `UPDATE flue_agent_submissions SET status = 'settled', settled_at = ?, error = ?
       WHERE sequence = ? AND status = ?
       RETURNING submission_id`,
      [Date.now(), message, row.sequence, row.status],
    );
    if (row.status === 'running' && typeof settled?.submission_id === 'string') {
      await settleJoinedDeliveries(tx, settled.submission_id, message);
    }
  });
}

/**
 * Settle a running submission owned by `attempt`, fanning out to its joined deliveries, as
 * statements known up front (one request to a server): the fan-out runs first, conditioned
 * on the host still running under `attempt` — the host update's own condition — so it
 * applies exactly when that update does (it touches only `joined`/`joining` rows, never the host).
 */
async function settleRunning(
  runner: Runner,
  attempt: SubmissionAttemptRef,
  error: string | null,
): Promise<boolean> {
  const hostRunning = {
    sql: `AND EXISTS (SELECT 1 FROM flue_agent_submissions AS host
      WHERE host.submission_id = ? AND host.status = 'running' AND host.attempt_id = ?)`,
    params: [attempt.submissionId, attempt.attemptId],
  };
  const fanOut = joinedDeliveriesFanOut(attempt.submissionId, error, hostRunning);
  const settleHost: AtomicStatement = [
    `UPDATE flue_agent_submissions SET status = 'settled', settled_at = ?, error = ?
     WHERE submission_id = ? AND status = 'running' AND attempt_id = ?
     RETURNING submission_id`,
    [Date.now(), error, attempt.submissionId, attempt.attemptId],
  ];
  const rows = await runAtomically(runner, [...fanOut, settleHost]);
  return rows[fanOut.length].length > 0;
}

/** The host's settle fan-out in a transaction of the host's settle, after the host was settled in it. */
async function settleJoinedDeliveries(tx: QueryRunner, hostSubmissionId: string, error: string | null): Promise<void> {
  // Disjoint rows (by status), so called together: a server takes both in one request.
  await sideBySide(tx, joinedDeliveriesFanOut(hostSubmissionId, error));
}

/**
 * The host's settle fan-out: confirmed (`joined`) deliveries settle with the host's outcome;
 * unconfirmed (`joining`) ones go back to the queue so they run on their own instead of
 * vanishing with a response that never had them. `condition` (SQL starting with AND, and its
 * parameters) is added to both.
 */
function joinedDeliveriesFanOut(
  hostSubmissionId: string,
  error: string | null,
  condition: { sql: string; params: readonly unknown[] } = { sql: '', params: [] },
): AtomicStatement[] {
  return [
    [`UPDATE flue_agent_submissions SET status = 'settled', settled_at = ?, error = ?
      WHERE joined_into = ? AND status = 'joined' ${condition.sql}`, [Date.now(), error, hostSubmissionId, ...condition.params]],
    [`UPDATE flue_agent_submissions SET status = 'queued', joined_into = NULL, input_applied_at = NULL
      WHERE joined_into = ? AND status = 'joining' ${condition.sql}`, [hostSubmissionId, ...condition.params]],
  ];
}

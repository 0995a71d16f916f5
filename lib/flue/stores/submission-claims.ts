/**
 * Claims and leases: taking a queued submission to running under an attempt and an owner,
 * installing its retry budget, keeping its lease alive, finding expired leases, handing it
 * back to the queue or to a new attempt, and flagging a session's submissions for abort.
 */
import {
  DURABILITY_DEFAULT_MAX_ATTEMPTS,
  DURABILITY_DEFAULT_TIMEOUT_MS,
  LEASE_DURATION_MS,
  type AgentSubmission,
  type SubmissionAttemptRef,
  type SubmissionClaimRef,
  type SubmissionDurability,
} from '@flue/runtime/adapter';
import type { QueryRunner, Runner } from '../../types.js';
import { listOperational, submissionAfter } from './submission-reads.js';
import { SUBMISSION_COLUMNS } from './submission-rows.js';
import { IS_SESSION_HEAD, updateMatched } from './submission-sql.js';

export async function claimSubmission(
  runner: QueryRunner,
  claim: SubmissionClaimRef,
): Promise<AgentSubmission | null> {
  const now = Date.now();
  // One statement: the head check and the queued -> running write cannot be split by a
  // competing claim, so two claimers never both get a row back.
  return submissionAfter(
    runner,
    claim.submissionId,
    `UPDATE flue_agent_submissions AS current
     SET status = 'running', attempt_id = ?, started_at = ?, attempt_count = attempt_count + 1,
         max_attempts = ?, timeout_at = CASE WHEN timeout_at = 0 THEN ? ELSE timeout_at END,
         owner_id = ?, lease_expires_at = ?
     WHERE current.submission_id = ? AND current.status = 'queued'
       AND current.canonical_ready_at IS NOT NULL AND ${IS_SESSION_HEAD}
     RETURNING ${SUBMISSION_COLUMNS}`,
    [claim.attemptId, now, DURABILITY_DEFAULT_MAX_ATTEMPTS, now + DURABILITY_DEFAULT_TIMEOUT_MS,
      claim.ownerId, claim.leaseExpiresAt, claim.submissionId],
  );
}

export async function markSubmissionInputApplied(
  runner: QueryRunner,
  attempt: SubmissionAttemptRef,
  durability?: SubmissionDurability,
): Promise<boolean> {
  const now = Date.now();
  // input_applied_at is the once-guard: the budget is installed only by the first call.
  return updateMatched(
    runner,
    `UPDATE flue_agent_submissions
     SET input_applied_at = COALESCE(input_applied_at, ?),
         max_attempts = CASE WHEN input_applied_at IS NULL THEN ? ELSE max_attempts END,
         timeout_at = CASE WHEN input_applied_at IS NULL THEN ? ELSE timeout_at END
     WHERE submission_id = ? AND status = 'running' AND attempt_id = ?
     RETURNING submission_id`,
    [now, durability?.maxAttempts ?? DURABILITY_DEFAULT_MAX_ATTEMPTS,
      durability?.timeoutAt ?? now + DURABILITY_DEFAULT_TIMEOUT_MS,
      attempt.submissionId, attempt.attemptId],
  );
}

export async function replaceSubmissionAttempt(
  runner: QueryRunner,
  attempt: SubmissionAttemptRef,
  nextAttemptId: string,
  lease?: { ownerId: string; leaseExpiresAt: number },
): Promise<AgentSubmission | null> {
  // abort_requested_at is deliberately untouched: a pending abort must survive the handoff.
  return submissionAfter(
    runner,
    attempt.submissionId,
    `UPDATE flue_agent_submissions
     SET attempt_id = ?, started_at = ?, attempt_count = attempt_count + 1,
         owner_id = COALESCE(?, owner_id), lease_expires_at = COALESCE(?, lease_expires_at)
     WHERE submission_id = ? AND status = 'running' AND attempt_id = ?
     RETURNING ${SUBMISSION_COLUMNS}`,
    [nextAttemptId, Date.now(), lease?.ownerId ?? null, lease?.leaseExpiresAt ?? null,
      attempt.submissionId, attempt.attemptId],
  );
}

export async function requeueSubmission(
  runner: QueryRunner,
  attempt: SubmissionAttemptRef,
): Promise<boolean> {
  // attempt_count and timeout_at stay: the retry budget spans requeues.
  return updateMatched(
    runner,
    `UPDATE flue_agent_submissions
     SET status = 'queued', attempt_id = NULL, input_applied_at = NULL, started_at = NULL,
         owner_id = NULL, lease_expires_at = 0
     WHERE submission_id = ? AND status = 'running' AND attempt_id = ?
     RETURNING submission_id`,
    [attempt.submissionId, attempt.attemptId],
  );
}

export async function requestSessionAbort(runner: QueryRunner, sessionKey: string): Promise<string[]> {
  // terminalizing and settled rows are left alone: their outcome is already committed.
  const rows = await runner.query(
    `UPDATE flue_agent_submissions SET abort_requested_at = COALESCE(abort_requested_at, ?)
     WHERE session_key = ? AND status IN ('queued', 'running', 'joining', 'joined')
     RETURNING sequence, submission_id`,
    [Date.now(), sessionKey],
  );
  // RETURNING order is unspecified; admission order makes the answer deterministic.
  return rows
    .sort((left, right) => Number(left.sequence) - Number(right.sequence))
    .map((row) => String(row.submission_id));
}

export async function renewLeases(
  runner: QueryRunner,
  ownerId: string,
  submissionIds: string[],
): Promise<void> {
  if (submissionIds.length === 0) return;
  await runner.query(
    `UPDATE flue_agent_submissions SET lease_expires_at = ?
     WHERE owner_id = ? AND status = 'running'
       AND submission_id IN (SELECT value FROM json_each(?))`,
    [Date.now() + LEASE_DURATION_MS, ownerId, JSON.stringify(submissionIds)],
  );
}

export async function listExpiredSubmissions(runner: Runner): Promise<AgentSubmission[]> {
  // lease_expires_at = 0 means "no lease recorded", which is not the same as expired.
  return listOperational(
    runner,
    `SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions
     WHERE status = 'running' AND lease_expires_at > 0 AND lease_expires_at < ?
     ORDER BY sequence ASC`,
    [Date.now()],
  );
}

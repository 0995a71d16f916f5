/**
 * Turn-boundary joins: a running host takes the queued submissions behind it in its
 * session into its current turn (`joining`), then confirms each (`joined`) or gives it back
 * to the queue. Every step is conditional on the host still running under its attempt.
 */
import type { AgentSubmission, SubmissionAttemptRef } from '@flue/runtime/adapter';
import type { QueryRunner, Runner } from '../../types.js';
import { readChunksOf } from './submission-chunks.js';
import { listOperational } from './submission-reads.js';
import { parseSubmissionRow, SUBMISSION_COLUMNS } from './submission-rows.js';
import { updateMatched } from './submission-sql.js';

/** The host of a join still runs under the given attempt (parameters: host id, attempt id). */
const HOST_STILL_RUNS = `EXISTS (
  SELECT 1 FROM flue_agent_submissions AS host
  WHERE host.submission_id = ? AND host.status = 'running' AND host.attempt_id = ?)`;

export async function claimJoinableSubmissions(
  runner: Runner,
  host: SubmissionAttemptRef,
  agentName: string,
): Promise<AgentSubmission[]> {
  return runner.transaction(async (tx) => {
    const [hostRow] = await tx.query(
      `SELECT session_key FROM flue_agent_submissions
       WHERE submission_id = ? AND status = 'running' AND attempt_id = ?`,
      [host.submissionId, host.attemptId],
    );
    if (!hostRow) return [];
    const queued = await tx.query(
      `SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions
       WHERE session_key = ? AND status = 'queued' ORDER BY sequence ASC`,
      [hostRow.session_key],
    );
    // The joinable prefix ends at the first row that cannot join; skipping it instead
    // would deliver later messages before it and break admission order.
    const prefixEnd = queued.findIndex(
      (row) => row.canonical_ready_at === null || row.abort_requested_at !== null,
    );
    const candidates = prefixEnd === -1 ? queued : queued.slice(0, prefixEnd);
    const chunks = await readChunksOf(tx, candidates.map((row) => String(row.submission_id)));
    const claimed: AgentSubmission[] = [];
    for (const row of candidates) {
      let submission: AgentSubmission;
      try {
        submission = parseSubmissionRow(row, chunks.get(String(row.submission_id)) ?? []);
      } catch {
        break;
      }
      if (submission.input.agent !== agentName) break;
      claimed.push({ ...submission, status: 'joining', joinedInto: host.submissionId });
    }
    if (claimed.length > 0) {
      await tx.query(
        `UPDATE flue_agent_submissions SET status = 'joining', joined_into = ?
         WHERE status = 'queued' AND submission_id IN (SELECT value FROM json_each(?))`,
        [host.submissionId, JSON.stringify(claimed.map((submission) => submission.submissionId))],
      );
    }
    return claimed;
  });
}

/**
 * Moves a submission that is joining `host` out of `joining` (`SET …`), while the host still
 * runs the attempt it joined; the `SET` clause's own parameters come first in `params`.
 */
function updateJoining(runner: QueryRunner, host: SubmissionAttemptRef, submissionId: string, set: string, params: unknown[]): Promise<boolean> {
  return updateMatched(
    runner,
    `UPDATE flue_agent_submissions
     SET ${set}
     WHERE submission_id = ? AND status = 'joining' AND joined_into = ? AND ${HOST_STILL_RUNS}
     RETURNING submission_id`,
    [...params, submissionId, host.submissionId, host.submissionId, host.attemptId],
  );
}

export async function finalizeJoinedSubmission(
  runner: QueryRunner,
  host: SubmissionAttemptRef,
  submissionId: string,
): Promise<boolean> {
  return updateJoining(runner, host, submissionId, `status = 'joined', input_applied_at = COALESCE(input_applied_at, ?)`, [Date.now()]);
}

export async function revertJoiningSubmission(
  runner: QueryRunner,
  host: SubmissionAttemptRef,
  submissionId: string,
): Promise<boolean> {
  return updateJoining(runner, host, submissionId, `status = 'queued', joined_into = NULL, input_applied_at = NULL`, []);
}

export async function listJoinedSubmissions(
  runner: Runner,
  hostSubmissionId: string,
): Promise<AgentSubmission[]> {
  return listOperational(
    runner,
    `SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions
     WHERE joined_into = ? AND status IN ('joining', 'joined') ORDER BY sequence ASC`,
    [hostSubmissionId],
  );
}

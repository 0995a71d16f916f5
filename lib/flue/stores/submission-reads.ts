/**
 * Reading submissions: point reads and the operational listings the runtime polls, plus
 * the two read paths every other group returns its rows through, so a row parses the same
 * way whichever operation produced it.
 */
import type { AgentSubmission, SubmissionSettlementObligation } from '@flue/runtime/adapter';
import type { QueryRunner, Row, Runner } from '../../types.js';
import { readChunksOf, submissionChunkStore } from './submission-chunks.js';
import {
  OBLIGATION_COLUMNS,
  parseSettlementObligation,
  parseSubmissionRow,
  SUBMISSION_COLUMNS,
  UNSETTLED_STATUSES,
} from './submission-rows.js';
import { settleMalformedSubmission } from './submission-settlement.js';
import { IS_SESSION_HEAD } from './submission-sql.js';

export function getSubmission(runner: QueryRunner, submissionId: string): Promise<AgentSubmission | null> {
  return submissionAfter(runner, submissionId, `SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions WHERE submission_id = ?`, [
    submissionId,
  ]);
}

/**
 * Runs `sql` — one statement returning the submission's row, or none — and reads the
 * submission's chunks in the same breath: runners send statements called together in one
 * request, so a server answers both in one round trip instead of two. No transaction binds
 * the two either way, so reading the chunks beside the statement sees what reading them
 * after it would (they are written only when the submission is admitted).
 */
export async function submissionAfter(
  runner: QueryRunner,
  submissionId: string,
  sql: string,
  params: readonly unknown[],
): Promise<AgentSubmission | null> {
  const [rows, chunks] = await Promise.all([runner.query(sql, params), submissionChunkStore(runner).read(submissionId)]);
  return rows[0] ? parseSubmissionRow(rows[0], chunks) : null;
}

export async function hasUnsettledSubmissions(runner: QueryRunner): Promise<boolean> {
  const rows = await runner.query(
    `SELECT 1 FROM flue_agent_submissions WHERE status IN (${UNSETTLED_STATUSES}) LIMIT 1`,
  );
  return rows.length > 0;
}

export async function listRunnableSubmissions(runner: Runner): Promise<AgentSubmission[]> {
  return listOperational(
    runner,
    `SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions AS current
     WHERE current.status = 'queued' AND current.canonical_ready_at IS NOT NULL
       AND ${IS_SESSION_HEAD}
     ORDER BY current.sequence ASC`,
  );
}

export async function listUnreadySubmissions(runner: Runner): Promise<AgentSubmission[]> {
  return listOperational(
    runner,
    `SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions
     WHERE status = 'queued' AND canonical_ready_at IS NULL ORDER BY sequence ASC`,
  );
}

export async function listRunningSubmissions(runner: Runner): Promise<AgentSubmission[]> {
  return listOperational(
    runner,
    `SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions
     WHERE status = 'running' ORDER BY sequence ASC`,
  );
}

export async function listPendingSubmissionSettlements(
  runner: QueryRunner,
): Promise<SubmissionSettlementObligation[]> {
  const rows = await runner.query(
    `SELECT ${OBLIGATION_COLUMNS} FROM flue_agent_submissions
     WHERE status = 'terminalizing' ORDER BY sequence ASC`,
  );
  return rows.map(parseSettlementObligation);
}

/**
 * Parse the rows of an operational listing. A malformed row is settled with its parse
 * error instead of failing the whole list: one bad row must not wedge every session, and
 * it can never run anyway.
 */
export async function listOperational(
  runner: Runner,
  sql: string,
  params: readonly unknown[] = [],
): Promise<AgentSubmission[]> {
  const rows = await runner.query(sql, params);
  const chunks = await readChunksOf(runner, rows.map((row) => String(row.submission_id)));
  const submissions: AgentSubmission[] = [];
  for (const row of rows) {
    try {
      submissions.push(parseSubmissionRow(row, chunks.get(String(row.submission_id)) ?? []));
    } catch (error) {
      await settleMalformedSubmission(runner, row, error);
    }
  }
  return submissions;
}

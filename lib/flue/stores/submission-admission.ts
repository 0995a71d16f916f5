/**
 * Admitting submissions: Flue's admission protocol (`admitSubmissionWithBackend`) run over
 * one transaction, so a submission row and its payload chunks commit together or not at all,
 * and the queued row's later move to canonical-ready.
 */
import {
  admitSubmissionWithBackend,
  createDispatchAgentSubmissionInput,
  type AgentDispatchAdmission,
  type AgentSubmission,
  type AgentSubmissionInput,
  type DispatchInput,
} from '@flue/runtime/adapter';
import type { QueryRunner, Row, Runner } from '../../types.js';
import { submissionChunkStore } from './submission-chunks.js';
import { submissionAfter } from './submission-reads.js';
import { parseSubmissionRow, SUBMISSION_COLUMNS } from './submission-rows.js';

export async function admitDispatch(runner: Runner, input: DispatchInput): Promise<AgentDispatchAdmission> {
  return admit(runner, createDispatchAgentSubmissionInput(input));
}

export async function admitDirect(runner: Runner, input: AgentSubmissionInput): Promise<AgentSubmission> {
  const admission = await admit(runner, input);
  if (admission.kind !== 'submission') {
    throw new Error(
      `[flue] Direct admission of "${input.submissionId}" returned an unexpected result: ` +
      'that submission id is already admitted with a different payload.',
    );
  }
  return admission.submission;
}

export async function markSubmissionCanonicalReady(
  runner: QueryRunner,
  submissionId: string,
): Promise<AgentSubmission | null> {
  return submissionAfter(
    runner,
    submissionId,
    `UPDATE flue_agent_submissions SET canonical_ready_at = COALESCE(canonical_ready_at, ?)
     WHERE submission_id = ? AND status = 'queued'
     RETURNING ${SUBMISSION_COLUMNS}`,
    [Date.now(), submissionId],
  );
}

function admit(runner: Runner, input: AgentSubmissionInput): Promise<AgentDispatchAdmission> {
  return runner.transaction(async (tx) => {
    const chunks = submissionChunkStore(tx);
    const getRow = async (submissionId: string) =>
      (await tx.query(`SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions WHERE submission_id = ?`, [submissionId]))[0];
    // Flue asks for the row and then its chunks right after the insert. They are read beside
    // the insert — one request to a server instead of three — inside this transaction, whose
    // write lock keeps them what reading them next would return; replacing the chunks drops
    // the early read.
    let early: { submissionId: string; row: ReturnType<typeof getRow>; chunks: ReturnType<typeof chunks.read> } | null = null;
    const earlyFor = (submissionId: string) => (early?.submissionId === submissionId ? early : null);
    return admitSubmissionWithBackend<Row>(input, {
      async insertIfAbsent(row) {
        const inserted = tx.query(
          `INSERT INTO flue_agent_submissions
             (submission_id, session_key, kind, payload, status, accepted_at)
           VALUES (?, ?, ?, ?, 'queued', ?)
           ON CONFLICT (submission_id) DO NOTHING`,
          [row.submissionId, row.sessionKey, row.kind, row.payload, row.acceptedAt],
        );
        early = { submissionId: row.submissionId, row: getRow(row.submissionId), chunks: chunks.read(row.submissionId) };
        // Read or not, their failures belong to the calls that use them (or to the insert's).
        early.row.catch(() => {});
        early.chunks.catch(() => {});
        await inserted;
      },
      getExisting: (submissionId) => earlyFor(submissionId)?.row ?? getRow(submissionId),
      readChunks: (submissionId) => earlyFor(submissionId)?.chunks ?? chunks.read(submissionId),
      replaceChunks: (submissionId, rows) => {
        early = null;
        return chunks.replace(submissionId, rows);
      },
      parseSubmission: parseSubmissionRow,
    });
  });
}

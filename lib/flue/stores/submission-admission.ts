/**
 * Admitting submissions: Flue's admission protocol (`admitSubmissionWithBackend`) run over
 * one transaction, so a submission row and its payload chunks commit together or not at all
 * (one request to a server when there are no chunks), and the queued row's later move to
 * canonical-ready.
 */
import {
  admitSubmissionWithBackend,
  createDispatchAgentSubmissionInput,
  prepareSubmissionAttachments,
  type AgentDispatchAdmission,
  type AgentSubmission,
  type AgentSubmissionInput,
  type DispatchInput,
  type SubmissionChunkRow,
  type SubmissionInsertRow,
} from '@flue/runtime/adapter';
import type { QueryRunner, Row, Runner } from '../../types.js';
import { runAtomically, type AtomicStatement } from './atomic.js';
import { parseChunkRows, readChunks, submissionChunkStore } from './submission-chunks.js';
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
  if (prepareSubmissionAttachments(input).chunks.length === 0) return admitWithoutChunks(runner, input);
  return runner.transaction(async (tx) => {
    const chunks = submissionChunkStore(tx);
    const getRow = async (submissionId: string) => (await tx.query(...readRow(submissionId)))[0];
    // Flue asks for the row and then its chunks right after the insert. They are read beside
    // the insert — one request to a server instead of three — inside this transaction, whose
    // write lock keeps them what reading them next would return; replacing the chunks drops
    // the early read.
    let early: { submissionId: string; row: ReturnType<typeof getRow>; chunks: ReturnType<typeof chunks.read> } | null = null;
    const earlyFor = (submissionId: string) => (early?.submissionId === submissionId ? early : null);
    return admitSubmissionWithBackend<Row>(input, {
      async insertIfAbsent(row) {
        const inserted = tx.query(...insertIfAbsent(row));
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

/**
 * An admission whose payload has no attachment chunks writes nothing but its row: the insert
 * and the two reads Flue's protocol asks for next run as statements known up front — on a
 * server one request, where the transaction above costs a COMMIT more. The protocol then only
 * compares; it writes chunks only for a payload that has some.
 */
async function admitWithoutChunks(runner: Runner, input: AgentSubmissionInput): Promise<AgentDispatchAdmission> {
  let admitted: Promise<{ row: Row | undefined; chunks: SubmissionChunkRow[] }> | undefined;
  const read = async <T>(submissionId: string, pick: (found: Awaited<NonNullable<typeof admitted>>) => T): Promise<T> => {
    if (!admitted) throw new Error(`[flue-libsql] admission of "${submissionId}" read before it wrote`);
    return pick(await admitted);
  };
  return admitSubmissionWithBackend<Row>(input, {
    async insertIfAbsent(row) {
      admitted = runAtomically(runner, [insertIfAbsent(row), readRow(row.submissionId), readChunks(row.submissionId)])
        .then(([, rows, chunks]) => ({ row: rows[0], chunks: parseChunkRows(chunks) }));
      await admitted;
    },
    getExisting: (submissionId) => read(submissionId, (found) => found.row),
    readChunks: (submissionId) => read(submissionId, (found) => found.chunks),
    replaceChunks: (submissionId) => {
      throw new Error(`[flue-libsql] admission of "${submissionId}" has no attachment chunks, yet was asked to write some`);
    },
    parseSubmission: parseSubmissionRow,
  });
}

function insertIfAbsent(row: SubmissionInsertRow): AtomicStatement {
  return [
    `INSERT INTO flue_agent_submissions
       (submission_id, session_key, kind, payload, status, accepted_at)
     VALUES (?, ?, ?, ?, 'queued', ?)
     ON CONFLICT (submission_id) DO NOTHING`,
    [row.submissionId, row.sessionKey, row.kind, row.payload, row.acceptedAt],
  ];
}

function readRow(submissionId: string): AtomicStatement {
  return [`SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions WHERE submission_id = ?`, [submissionId]];
}

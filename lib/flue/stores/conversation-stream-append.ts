/**
 * A conversation stream `append` in one request, for the common case: the current producer
 * appends its next batch, owned by no submission or by the one attempt it is authorized by.
 *
 * Flue's fence reads the stream head, looks for a retry, checks the submission, then writes
 * — four reads and two writes, each awaited, in one transaction. Here the same decision is
 * the WHERE clause of the writes, so the statements are known up front and run as one
 * all-or-nothing request (atomic.ts):
 *
 *   1. the head advances only if the producer, its epoch, the incarnation and the expected
 *      sequence all match, and (for a submission) the attempt runs the submission on this
 *      stream's agent instance — what the fence requires of a new batch;
 *   2. the batch is inserted at the offset the head just gave up, only if step 1 changed a
 *      row (`changes()`: the previous statement on this connection, inside this transaction).
 *
 * The two apply together or not at all. When nothing applied — a retry (the head's sequence
 * has moved on), a stale producer, a submission that does not run here, anything else —
 * the caller hands the batch to the fence, which tells a retry from a refusal and raises
 * Flue's own errors. So this path only ever appends what the fence would append, at the
 * offset it would choose, with the same columns and JSON.
 */
import { createSessionStorageKey, formatOffset, type ConversationStreamStore } from '@flue/runtime/adapter';
import type { Runner } from '../../types.js';
import { runAtomically } from './atomic.js';

type AppendInput = Parameters<ConversationStreamStore['append']>[0];

/**
 * Larger batches go through the fence, which enforces Flue's per-batch ceiling (12 MB, not
 * exported) with its own error; a conversation's batches are far below this.
 */
const ONE_REQUEST_MAX_DATA_LENGTH = 1 << 20;

/** The fixed start of a session storage key; what follows it is a JSON array of four strings. */
const SESSION_KEY_PREFIX = (() => {
  const key = createSessionStorageKey('', '', '', '');
  return key.slice(0, key.length - JSON.stringify(['', '', '', '']).length);
})();

/** The JSON array of a session storage key (an SQL expression over the submission's row). */
const SESSION_PARTS = `substr(submission.session_key, ${SESSION_KEY_PREFIX.length + 1})`;

/**
 * "The submission runs under this attempt, for the agent instance the stream belongs to":
 * the fence's authorization of a running attempt (parse the session key, compare agent name
 * and instance id with the stream's identity) in SQL. The JSON functions are reached only
 * through `json_valid`, so a malformed row is a mismatch, never an error.
 */
const ATTEMPT_RUNS_ON_STREAM = `AND EXISTS (
  SELECT 1 FROM flue_agent_submissions AS submission
  WHERE submission.submission_id = ? AND submission.status = 'running' AND submission.attempt_id = ?
    AND substr(submission.session_key, 1, ${SESSION_KEY_PREFIX.length}) = ?
    AND CASE WHEN json_valid(${SESSION_PARTS}) AND json_valid(stream.identity_json)
      THEN json_type(${SESSION_PARTS}) = 'array' AND json_array_length(${SESSION_PARTS}) = 4
        AND json_type(${SESSION_PARTS}, '$[0]') = 'text' AND json_type(${SESSION_PARTS}, '$[1]') = 'text'
        AND json_type(${SESSION_PARTS}, '$[2]') = 'text' AND json_type(${SESSION_PARTS}, '$[3]') = 'text'
        AND json_type(stream.identity_json, '$.agentName') = 'text'
        AND json_type(stream.identity_json, '$.instanceId') = 'text'
        AND json_extract(${SESSION_PARTS}, '$[0]') = json_extract(stream.identity_json, '$.agentName')
        AND json_extract(${SESSION_PARTS}, '$[1]') = json_extract(stream.identity_json, '$.instanceId')
      ELSE 0 END)`;

/** Appends `input` in one request and resolves to its offset, or to null when the fence must decide. */
export async function appendInOneRequest(runner: Runner, input: AppendInput): Promise<{ offset: string } | null> {
  if (input.records.length === 0) return null;
  if (!ownedOnlyBy(input)) return null;
  const data = JSON.stringify(input.records);
  if (data.length > ONE_REQUEST_MAX_DATA_LENGTH) return null;
  const { path, producerId, producerEpoch, incarnation, producerSequence, submission } = input;
  const producer = [path, producerId, producerEpoch, incarnation];
  const [advanced] = await runAtomically(runner, [
    [
      `UPDATE flue_conversation_streams AS stream
       SET next_offset = next_offset + 1, next_producer_sequence = next_producer_sequence + 1
       WHERE path = ? AND producer_id = ? AND producer_epoch = ? AND incarnation = ? AND next_producer_sequence = ?
         ${submission ? ATTEMPT_RUNS_ON_STREAM : ''}
       RETURNING next_offset - 1 AS seq`,
      [...producer, producerSequence,
        ...(submission ? [submission.submissionId, submission.attemptId, SESSION_KEY_PREFIX] : [])],
    ],
    [
      `INSERT INTO flue_conversation_stream_batches
         (path, seq, producer_id, producer_epoch, producer_sequence, data, submission_id, attempt_id)
       SELECT path, next_offset - 1, ?, ?, ?, ?, ?, ? FROM flue_conversation_streams
       WHERE changes() = 1
         AND path = ? AND producer_id = ? AND producer_epoch = ? AND incarnation = ? AND next_producer_sequence = ?`,
      [producerId, producerEpoch, producerSequence, data, submission?.submissionId ?? null,
        submission?.attemptId ?? null, ...producer, producerSequence + 1],
    ],
  ]);
  const [head] = advanced;
  return head ? { offset: formatOffset(Number(head.seq)) } : null;
}

/**
 * True when every record that names a submission or attempt names exactly the one the
 * append is authorized by (so none may without one). Records of deliveries joined into the
 * attempt, and refusals, are the fence's to judge.
 */
function ownedOnlyBy({ records, submission }: AppendInput): boolean {
  return records.every((record) => {
    const owned = record.submissionId !== undefined || record.attemptId !== undefined;
    return !owned || (submission !== undefined && record.submissionId === submission.submissionId && record.attemptId === submission.attemptId);
  });
}

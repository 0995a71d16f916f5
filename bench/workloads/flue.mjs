/**
 * The Flue workload: whole turns through an adapter's stores.
 *
 * One turn, as the runtime drives a direct prompt on one agent instance: admit a direct
 * submission, mark it canonical-ready, claim it, acquire the conversation's producer,
 * append one batch of two records fenced by the claimed attempt, read the stream from the
 * previous head (this turn's batch), complete the submission. All turns of a conversation share
 * one agent instance and one stream (created once, before timing), so each turn does the same
 * work. Concurrent conversations (the concurrency section) each get their own instance, stream
 * and ids (`setupConversation(stores, k)`), so they contend only for the database.
 */
import { percentile, rate, timeConcurrent } from '../timing.mjs';

/**
 * `conversations` loops of turns at once on `stores`, each on its own agent instance, for a
 * warm-up period and then at least `durationMs` (bench/timing.mjs, `timeConcurrent`): turns,
 * time, turns/s and the turns' latency percentiles (ms).
 */
export async function timeConversations(stores, { conversations, warmupMs, durationMs }) {
  const loops = [];
  for (let k = 1; k <= conversations; k++) loops.push(await setupConversation(stores, k));
  const timed = await timeConcurrent((loop, n) => turn(stores, loops[loop], n), { loops: conversations, warmupMs, durationMs });
  const { latencies } = timed;
  return { ...rate(timed), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: percentile(latencies, 100) };
}

export async function setupConversation(stores, k = 1) {
  const instanceId = `instance-${k}`;
  const path = `agents/bench/${instanceId}`;
  await stores.conversationStreamStore.createStream(path, { agentName: 'bench', instanceId });
  return { path, offset: '-1', instanceId, conversationId: `conv_bench_${k}`, prefix: `c${k}-` };
}

const record = (conversationId, id, text) => ({
  v: 1,
  id,
  type: 'user_message',
  conversationId,
  harness: 'default',
  session: 'default',
  timestamp: new Date(1_700_000_000_000).toISOString(),
  messageId: id,
  parentId: null,
  content: [{ type: 'text', text }],
});

export async function turn(stores, conversation, n) {
  const { submissionStore, conversationStreamStore } = stores;
  const { prefix, conversationId } = conversation;
  const submissionId = `${prefix}sub-${n}`;
  const attemptId = `${prefix}attempt-${n}`;
  const producerId = `${prefix}producer-${n}`;
  await submissionStore.admitDirect({
    kind: 'direct',
    submissionId,
    agent: 'bench',
    id: conversation.instanceId,
    message: { kind: 'user', body: `turn ${n}` },
    acceptedAt: new Date(1_700_000_000_000 + n).toISOString(),
  });
  await submissionStore.markSubmissionCanonicalReady(submissionId);
  const claimed = await submissionStore.claimSubmission({ submissionId, attemptId, ownerId: 'bench', leaseExpiresAt: Date.now() + 60_000 });
  if (!claimed) throw new Error(`turn ${n}: the submission could not be claimed`);
  const producer = await conversationStreamStore.acquireProducer(conversation.path, producerId);
  const { offset } = await conversationStreamStore.append({
    path: conversation.path,
    producerId,
    producerEpoch: producer.producerEpoch,
    incarnation: producer.incarnation,
    producerSequence: producer.nextProducerSequence,
    submission: { submissionId, attemptId },
    records: [record(conversationId, `${prefix}rec-${n}-1`, `question ${n}`), record(conversationId, `${prefix}rec-${n}-2`, `answer ${n}`)],
  });
  const read = await conversationStreamStore.read(conversation.path, { offset: conversation.offset });
  if (read.batches.length !== 1) throw new Error(`turn ${n}: read ${read.batches.length} batches, expected 1`);
  conversation.offset = offset;
  if (!(await submissionStore.completeSubmission({ submissionId, attemptId }))) {
    throw new Error(`turn ${n}: the submission could not be completed`);
  }
}

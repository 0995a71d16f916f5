// A Flue workload for reliability/crash.test.ts, killed with SIGKILL at random moments.
//
//   node reliability-crash-worker.mjs <db path> <run> <durability> workload
//     Opens the database through the real adapter (libsql() -> migrate() -> connect()), takes
//     over the shared conversation stream with a new producer, then loops forever: admits a
//     submission (and on every other turn marks it ready and claims it), appends a batch of
//     2..6 records, and puts an attachment of 1..24 KiB random bytes.
//   node reliability-crash-worker.mjs <db path> <run> <durability> migrate
//     Prints `opening`, migrates a (fresh) file through the adapter, prints `migrated`, exits.
//
// Every write is reported on stdout as one JSON line AFTER its promise resolved: the line is
// the acknowledgement the parent holds the database to. stdout is a pipe, which Node writes
// synchronously on Linux, so a line that was written is in the pipe even if the process is
// killed right after. Imports the shipped JavaScript, like a user's program.
import { createHash, randomBytes } from 'node:crypto';
import { createAttachmentRef } from '@flue/runtime/adapter';
import { libsql } from '../../../dist/index.js';

const [path, run, durability, mode] = process.argv.slice(2);
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const adapter = libsql({ url: `file:${path}`, durability });

if (mode === 'migrate') {
  say({ t: 'opening' });
  const startedAt = performance.now();
  await adapter.migrate();
  say({ t: 'migrated', ms: performance.now() - startedAt });
  await adapter.close();
  process.exit(0);
}

const STREAM = 'agents/crash/main';
const CONVERSATION = 'conv_crash';

await adapter.migrate();
const { submissionStore, conversationStreamStore, attachmentStore } = await adapter.connect();
await conversationStreamStore.createStream(STREAM, { agentName: 'crash', instanceId: 'main' });
const producerId = `producer-${run}`;
const producer = await conversationStreamStore.acquireProducer(STREAM, producerId);
let producerSequence = producer.nextProducerSequence;
say({ t: 'ready', producerId, epoch: producer.producerEpoch });

const record = (id, text) => ({
  v: 1,
  id,
  type: 'user_message',
  conversationId: CONVERSATION,
  harness: 'default',
  session: 'default',
  timestamp: new Date().toISOString(),
  messageId: id,
  parentId: null,
  content: [{ type: 'text', text }],
});

for (let i = 0; ; i++) {
  // A submission, each in a session of its own so that every one is its session's head.
  const submissionId = `s-${run}-${i}`;
  await submissionStore.admitDirect({
    kind: 'direct',
    submissionId,
    agent: 'crash',
    id: `instance-${run}-${i}`,
    message: { kind: 'user', body: `message ${i} of run ${run}` },
    acceptedAt: new Date().toISOString(),
  });
  say({ t: 'sub', id: submissionId, state: 'queued' });
  if (i % 2 === 0) {
    if (!(await submissionStore.markSubmissionCanonicalReady(submissionId))) throw new Error(`markReady ${submissionId} failed`);
    say({ t: 'sub', id: submissionId, state: 'ready' });
    const attemptId = `attempt-${run}-${i}`;
    const claimed = await submissionStore.claimSubmission({ submissionId, attemptId, ownerId: `owner-${run}`, leaseExpiresAt: Date.now() + 60_000 });
    if (!claimed) throw new Error(`claim ${submissionId} failed`);
    say({ t: 'sub', id: submissionId, state: 'running', attemptId });
  }

  // A batch of several records: it must be stored whole or not at all.
  const count = 2 + (i % 5);
  const records = Array.from({ length: count }, (_, k) => record(`r-${run}-${i}-${k + 1}of${count}`, `record ${k + 1} of ${count}`));
  const { offset } = await conversationStreamStore.append({
    path: STREAM,
    producerId,
    producerEpoch: producer.producerEpoch,
    incarnation: producer.incarnation,
    producerSequence,
    records,
  });
  producerSequence += 1;
  say({ t: 'batch', offset, ids: records.map((r) => r.id) });

  // An attachment of random bytes; the parent checks them against this sha256.
  const bytes = new Uint8Array(randomBytes(1024 + Math.floor(Math.random() * 23 * 1024)));
  const attachment = await createAttachmentRef({ id: `a-${run}-${i}`, mimeType: 'application/octet-stream', bytes });
  await attachmentStore.put({ streamPath: STREAM, conversationId: CONVERSATION, attachment, bytes });
  say({ t: 'att', id: attachment.id, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
}

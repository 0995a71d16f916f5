// The README's main job: open `file:` storage through the Flue adapter, migrate, write a
// submission, a conversation batch and an attachment through Flue's stores, read them back.
// Run it twice: the second run finds the first run's data still there.
import { createAttachmentRef } from '@flue/runtime/adapter';
import { libsql, open } from 'flue-libsql';

const url = process.argv[2] ?? 'file:.flue/demo.db';
const adapter = libsql({ url });
await adapter.migrate();
const { submissionStore, conversationStreamStore, attachmentStore } = await adapter.connect();

const run = Date.now().toString(36);
const submissionId = `demo-${run}`;
const path = 'agents/demo/instance-1';

// A direct prompt goes through its whole lifecycle: admitted, ready, claimed, completed.
await submissionStore.admitDirect({
  kind: 'direct',
  submissionId,
  agent: 'demo',
  id: 'instance-1',
  message: { kind: 'user', body: `hello from run ${run}` },
  acceptedAt: new Date().toISOString(),
});
await submissionStore.markSubmissionCanonicalReady(submissionId);
const attemptId = `attempt-${run}`;
await submissionStore.claimSubmission({ submissionId, attemptId, ownerId: 'demo', leaseExpiresAt: Date.now() + 30_000 });

// The conversation: one batch with two records, appended by a fenced producer.
await conversationStreamStore.createStream(path, { agentName: 'demo', instanceId: 'instance-1' });
const producer = await conversationStreamStore.acquireProducer(path, `demo-producer-${run}`);
const record = (id, text) => ({
  v: 1, id, type: 'user_message', conversationId: 'conv_demo', harness: 'default', session: 'default',
  timestamp: new Date().toISOString(), messageId: id, parentId: null, content: [{ type: 'text', text }],
});
await conversationStreamStore.append({
  path,
  producerId: `demo-producer-${run}`,
  producerEpoch: producer.producerEpoch,
  incarnation: producer.incarnation,
  producerSequence: producer.nextProducerSequence,
  records: [record(`rec-${run}-1`, 'first'), record(`rec-${run}-2`, 'second')],
});

// An attachment: immutable bytes, verified by size and SHA-256 digest.
const bytes = new TextEncoder().encode(`attachment of run ${run}`);
const attachment = await createAttachmentRef({ id: `att-${run}`, mimeType: 'text/plain', bytes });
await attachmentStore.put({ streamPath: path, conversationId: 'conv_demo', attachment, bytes });

await submissionStore.completeSubmission({ submissionId, attemptId });

// Read everything back.
const submission = await submissionStore.getSubmission(submissionId);
const stream = await conversationStreamStore.read(path, { limit: 1000 });
const stored = await attachmentStore.get({ streamPath: path, attachmentId: attachment.id, conversationId: 'conv_demo' });
console.log(`submission ${submissionId}: ${submission?.status}`);
console.log(`stream ${path}: ${stream.batches.length} batch(es), ${stream.batches.reduce((n, b) => n + b.records.length, 0)} record(s) in all runs so far`);
console.log(`attachment ${attachment.id}: ${new TextDecoder().decode(stored?.bytes)}`);
await adapter.close();

// The same file through the runner on its own.
const db = await open(url);
const [{ n }] = await db.query('SELECT count(*) AS n FROM flue_agent_submissions');
const [{ value }] = await db.query(`SELECT value FROM flue_meta WHERE key = 'format_version'`);
console.log(`${url}: ${n} submission(s) stored, Flue format ${value}`);
await db.close();

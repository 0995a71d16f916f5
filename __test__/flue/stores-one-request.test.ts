/**
 * The store operations that run as one request (lib/flue/stores/atomic.ts and its users):
 * - a conversation stream `append` in one request appends exactly what Flue's own fence
 *   appends — same answers, same errors, same rows — over a script of current, retried,
 *   stale, gapped, foreign and malformed appends, and it is the path the common case takes
 *   (the script's reads and fold checkpoints are compared the same way);
 * - over a server, the calls of a Flue turn cost the requests the docs claim, counted at a proxy.
 */
import { ConversationStreamStoreError, defineSqlConversationStreamStore, type ConversationStreamStore } from '@flue/runtime/adapter';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COMBINES_CALLS } from '../../lib/database/combined-calls.js';
import { libsqlDialect } from '../../lib/flue/stores/conversation-stream-store.js';
import { createConversationStreamStore, createSubmissionStore } from '../../lib/flue/stores/index.js';
import type { Row, Runner } from '../../lib/types.js';
import { libsql, open, type Database } from '../../dist/index.js';
import { freshRemote, OWN_SERVER_SKIP_REASON, skipSuffix, type RemoteDatabase } from '../support/remote-target.js';
import { countRequests } from '../support/request-counter.js';
import { migratedTempDatabase, type TempDatabase } from '../support/temp-database.js';

const PATH = 'agents/echo/i1';
const record = (id: string, owner: { submissionId?: string; attemptId?: string } = {}) => ({
  v: 1, id, type: 'user_message', conversationId: 'c1', harness: 'default', session: 'default',
  timestamp: '2026-01-01T00:00:00.000Z', messageId: id, parentId: null, content: [{ type: 'text', text: id }], ...owner,
}) as never;

/** Flue's fence as Flue ships it, over the same kind of runner. */
const fenceStore = (runner: Runner): ConversationStreamStore => defineSqlConversationStreamStore(libsqlDialect(runner));

/**
 * `db` as a runner recording which of its calls a store used; `combines`: marked as one whose
 * calls combine, as on a server (statements known up front then go as one `batch()`).
 */
function recording(db: Database, combines = true): { runner: Runner; calls: string[] } {
  const calls: string[] = [];
  const runner = {
    [COMBINES_CALLS]: combines,
    query: (sql: string, params?: unknown[]) => (calls.push('query'), db.query(sql, params)),
    transaction: <T>(fn: Parameters<Database['transaction']>[0]) => (calls.push('transaction'), db.transaction(fn)) as Promise<T>,
    batch: (statements: Parameters<Database['batch']>[0]) => (calls.push('batch'), db.batch(statements)),
    close: () => db.close(),
  };
  return { runner: runner as unknown as Runner, calls };
}

/**
 * One database with the stream and three submissions: s1 running under a1 on this stream's
 * agent instance, s2 running under a2 for another agent with the same instance id, s3
 * running under a3 with a session key that does not parse.
 */
async function preparedDatabase(file: TempDatabase): Promise<Database> {
  const db = await open(file.url);
  await db.query(`INSERT INTO flue_conversation_streams (path, identity_json, incarnation) VALUES (?, ?, 'inc-1')`,
    [PATH, JSON.stringify({ agentName: 'echo', instanceId: 'i1' })]);
  const submissions = createSubmissionStore(db);
  for (const [submissionId, agent] of [['s1', 'echo'], ['s2', 'other']]) {
    await submissions.admitDirect({ kind: 'direct', submissionId, agent, id: 'i1', message: { kind: 'user', body: submissionId },
      acceptedAt: '2026-01-01T00:00:00.000Z' } as never);
    await submissions.markSubmissionCanonicalReady(submissionId);
    expect(await submissions.claimSubmission({ submissionId, attemptId: `a${submissionId.slice(1)}`, ownerId: 'o', leaseExpiresAt: Date.now() + 60_000 })).not.toBeNull();
  }
  await db.query(`INSERT INTO flue_agent_submissions (submission_id, session_key, kind, payload, status, accepted_at, attempt_id)
    VALUES ('s3', 'not a session key', 'direct', '{}', 'running', 0, 'a3')`);
  return db;
}

type Step = [name: string, call: (store: ConversationStreamStore) => Promise<unknown>];

const append = (producerId: string, producerEpoch: number, producerSequence: number, records: unknown[], submission?: { submissionId: string; attemptId: string }) =>
  (store: ConversationStreamStore) => store.append({ path: PATH, producerId, producerEpoch, incarnation: 'inc-1', producerSequence, records: records as never, submission });

const SCRIPT: Step[] = [
  ['acquire p1', (store) => store.acquireProducer(PATH, 'p1')],
  ['append, unowned', append('p1', 1, 0, [record('r1'), record('r2')])],
  ['exact retry', append('p1', 1, 0, [record('r1'), record('r2')])],
  ['conflicting retry', append('p1', 1, 0, [record('r9')])],
  ['sequence gap', append('p1', 1, 2, [record('r3')])],
  ['owned record without a submission', append('p1', 1, 1, [record('r3', { submissionId: 's1', attemptId: 'a1' })])],
  ['append for s1 under a1', append('p1', 1, 1, [record('r3', { submissionId: 's1', attemptId: 'a1' }), record('r4')], { submissionId: 's1', attemptId: 'a1' })],
  ['stale attempt', append('p1', 1, 2, [record('r5')], { submissionId: 's1', attemptId: 'a0' })],
  ['another agent with the same instance id', append('p1', 1, 2, [record('r5')], { submissionId: 's2', attemptId: 'a2' })],
  ['unparsable session key', append('p1', 1, 2, [record('r5')], { submissionId: 's3', attemptId: 'a3' })],
  ['unknown submission', append('p1', 1, 2, [record('r5')], { submissionId: 's4', attemptId: 'a4' })],
  ['record of another attempt', append('p1', 1, 2, [record('r5', { submissionId: 's1', attemptId: 'a9' })], { submissionId: 's1', attemptId: 'a1' })],
  ['wrong incarnation', (store) => store.append({ path: PATH, producerId: 'p1', producerEpoch: 1, incarnation: 'inc-0', producerSequence: 2, records: [record('r5')] })],
  ['missing stream', (store) => store.append({ path: 'agents/echo/none', producerId: 'p1', producerEpoch: 1, incarnation: 'inc-1', producerSequence: 0, records: [record('r5')] })],
  ['empty batch', append('p1', 1, 2, [])],
  ['acquire p2', (store) => store.acquireProducer(PATH, 'p2')],
  ['replaced producer', append('p1', 1, 2, [record('r5')])],
  ['append as p2', append('p2', 2, 0, [record('r5')], { submissionId: 's1', attemptId: 'a1' })],
  ['read all', (store) => store.read(PATH)],
  ['read after 0, limit 1', (store) => store.read(PATH, { offset: '0000000000000000_0000000000000000', limit: 1 })],
  ['read now', (store) => store.read(PATH, { offset: 'now' })],
  ['read past the head', (store) => store.read(PATH, { offset: '0000000000000000_0000000000000009' })],
  ['read an unparsable offset', (store) => store.read(PATH, { offset: 'soon' })],
  ['read a missing stream', (store) => store.read('agents/echo/none')],
  ['put a fold checkpoint', (store) => store.putFoldCheckpoint!(PATH, { offset: '0000000000000000_0000000000000001', incarnation: 'inc-1', formatVersion: 3, data: 'state 1' })],
  ['put a newer fold checkpoint', (store) => store.putFoldCheckpoint!(PATH, { offset: '0000000000000000_0000000000000002', incarnation: 'inc-1', formatVersion: 3, data: 'state 2' })],
  ['get the fold checkpoint', (store) => store.getFoldCheckpoint!(PATH)],
  ['acquire on a missing stream', (store) => store.acquireProducer('agents/echo/none', 'p3')],
];

/** Each step's answer, or its error's class, message and own fields (Flue's errors carry the reason there). */
async function outcomes(store: ConversationStreamStore, steps: Step[]): Promise<unknown[]> {
  const seen: unknown[] = [];
  for (const [name, call] of steps) {
    try {
      seen.push([name, await call(store)]);
    } catch (error) {
      seen.push([name, (error as Error).constructor.name, (error as Error).message, { ...(error as object) }]);
    }
  }
  return seen;
}

const tables = (db: Database): Promise<Row[][]> => Promise.all([
  db.query('SELECT * FROM flue_conversation_streams ORDER BY path'),
  db.query('SELECT * FROM flue_conversation_stream_batches ORDER BY path, seq'),
  db.query('SELECT * FROM flue_conversation_fold_checkpoints ORDER BY path'),
]);

describe('conversation stream append in one request', () => {
  const files: TempDatabase[] = [];
  const opened: Database[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.close()));
    await Promise.all(files.splice(0).map((file) => file.remove()));
  });
  const prepared = async () => {
    const file = await migratedTempDatabase();
    files.push(file);
    const db = await preparedDatabase(file);
    opened.push(db);
    return db;
  };

  // Statements known up front run as one batch where calls combine (a server), else as
  // statements side by side in one transaction (a local file, any other runner): both ways.
  it.each([
    ['statements in a transaction', (db: Database) => db],
    ['one batch', (db: Database) => recording(db).runner],
  ])('answers, refuses and writes exactly as Flue\'s fence does (%s)', async (_how, runnerOf) => {
    const [ours, theirs] = [await prepared(), await prepared()];
    const ourOutcomes = await outcomes(createConversationStreamStore(runnerOf(ours)), SCRIPT);
    const theirOutcomes = await outcomes(fenceStore(theirs), SCRIPT);
    expect(ourOutcomes).toEqual(theirOutcomes);
    // The script reaches both kinds of answer, and errors with Flue's own class.
    const errorClasses = new Set(theirOutcomes.filter((outcome) => (outcome as unknown[]).length === 4).map((outcome) => (outcome as unknown[])[1]));
    expect(errorClasses).toEqual(new Set(['ConversationStreamStoreError', 'Error']));
    expect(await tables(ours)).toEqual(await tables(theirs));
    const [, batches] = await tables(ours);
    expect(batches.map((batch) => [batch.seq, batch.producer_id, batch.producer_sequence, batch.submission_id])).toEqual([
      [0, 'p1', 0, null], [1, 'p1', 1, 's1'], [2, 'p2', 0, 's1'],
    ]);
  });

  it.each([
    ['where calls combine: one batch', true, 'batch'],
    ['elsewhere: one transaction', false, 'transaction'],
  ])('takes one all-or-nothing call for a current append, and hands anything else to the fence (%s)', async (_how, combines, call) => {
    const { runner, calls } = recording(await prepared(), combines);
    const store = createConversationStreamStore(runner);
    await store.acquireProducer(PATH, 'p1');
    calls.length = 0;
    await store.append({ path: PATH, producerId: 'p1', producerEpoch: 1, incarnation: 'inc-1', producerSequence: 0, records: [record('r1')], submission: { submissionId: 's1', attemptId: 'a1' } });
    expect(calls).toEqual([call]);
    calls.length = 0;
    // An exact retry: the conditioned writes change nothing, the fence finds the earlier batch.
    const retried = await store.append({ path: PATH, producerId: 'p1', producerEpoch: 1, incarnation: 'inc-1', producerSequence: 0, records: [record('r1')], submission: { submissionId: 's1', attemptId: 'a1' } });
    expect(retried.offset).toBe('0000000000000000_0000000000000000');
    expect(calls).toEqual([call, 'transaction']);
  });

  it('tells subscribers of every append, whichever path made it', async () => {
    const store = createConversationStreamStore(await prepared());
    const woken: string[] = [];
    const unsubscribe = store.subscribe(PATH, () => woken.push('woken'));
    await store.acquireProducer(PATH, 'p1');
    await store.append({ path: PATH, producerId: 'p1', producerEpoch: 1, incarnation: 'inc-1', producerSequence: 0, records: [record('r1')] });
    // Owned by a delivery joined into the attempt: the fence judges it (and refuses it here).
    await expect(store.append({ path: PATH, producerId: 'p1', producerEpoch: 1, incarnation: 'inc-1', producerSequence: 1,
      records: [record('r2', { submissionId: 's2', attemptId: 'a1' })], submission: { submissionId: 's1', attemptId: 'a1' } })).rejects.toThrow(ConversationStreamStoreError);
    await store.append({ path: PATH, producerId: 'p1', producerEpoch: 1, incarnation: 'inc-1', producerSequence: 1, records: [record('big'.repeat(400_000))] });
    expect(woken).toEqual(['woken', 'woken']);
    unsubscribe();
  });
});

describe('settling a host in one request', () => {
  it('fans out to its joined deliveries exactly when the host itself settles', async () => {
    const file = await migratedTempDatabase();
    const db = await open(file.url);
    try {
      const store = createSubmissionStore(db);
      const dispatch = (submissionId: string) => ({ submissionId, agent: 'assistant', id: 'agent-1',
        message: { kind: 'signal', type: 'test.event', body: 'Hello' }, acceptedAt: '2026-06-03T00:00:00.000Z' }) as never;
      for (const submissionId of ['host-1', 'queued-1', 'queued-2']) {
        await store.admitDispatch(dispatch(submissionId));
        await store.markSubmissionCanonicalReady(submissionId);
        if (submissionId === 'host-1') await store.claimSubmission({ submissionId, attemptId: 'attempt-1', ownerId: 'o', leaseExpiresAt: Date.now() + 30_000 });
      }
      const host = { submissionId: 'host-1', attemptId: 'attempt-1' };
      await store.claimJoinableSubmissions(host, 'assistant');
      await store.finalizeJoinedSubmission(host, 'queued-1');
      const statuses = async () => (await Promise.all(['host-1', 'queued-1', 'queued-2'].map((id) => store.getSubmission(id)))).map((row) => row?.status);

      // A stale attempt settles nothing, and so fans out nothing.
      expect(await store.completeSubmission({ submissionId: 'host-1', attemptId: 'attempt-0' })).toBe(false);
      expect(await statuses()).toEqual(['running', 'joined', 'joining']);
      expect(await store.failSubmission(host, new Error('host exploded'))).toBe(true);
      expect(await statuses()).toEqual(['settled', 'settled', 'queued']);
      expect((await store.getSubmission('queued-1'))?.error).toBe('host exploded');
      // Settled already: the second settle changes nothing.
      expect(await store.completeSubmission(host)).toBe(false);
      expect((await store.getSubmission('host-1'))?.error).toBe('host exploded');
    } finally {
      await db.close();
      await file.remove();
    }
  });
});

// Counted at a proxy of plain HTTP: on a sqld the tests start.
describe.skipIf(OWN_SERVER_SKIP_REASON !== undefined)(`a Flue turn's requests to a server${skipSuffix(OWN_SERVER_SKIP_REASON)}`, () => {
  let server: RemoteDatabase;
  beforeAll(async () => {
    server = await freshRemote();
  });
  afterAll(() => server?.dispose());

  it('costs one request per call', async () => {
    const counter = await countRequests(server.server!.httpUrl);
    const adapter = libsql({ url: counter.url, authToken: server.authToken });
    try {
      const { submissionStore, conversationStreamStore } = await adapter.connect();
      await conversationStreamStore.createStream(PATH, { agentName: 'echo', instanceId: 'i1' });
      const requests: Record<string, number> = {};
      const counted = async <T>(name: string, call: () => Promise<T>): Promise<T> => {
        const before = counter.requests;
        const result = await call();
        requests[name] = counter.requests - before;
        return result;
      };
      await counted('admitDirect', () => submissionStore.admitDirect({ kind: 'direct', submissionId: 's1', agent: 'echo', id: 'i1',
        message: { kind: 'user', body: 'hi' }, acceptedAt: '2026-01-01T00:00:00.000Z' } as never));
      await counted('markSubmissionCanonicalReady', () => submissionStore.markSubmissionCanonicalReady('s1'));
      expect(await counted('claimSubmission', () => submissionStore.claimSubmission({ submissionId: 's1', attemptId: 'a1', ownerId: 'o', leaseExpiresAt: Date.now() + 60_000 }))).not.toBeNull();
      const producer = await counted('acquireProducer', () => conversationStreamStore.acquireProducer(PATH, 'p1'));
      const { offset } = await counted('append', () => conversationStreamStore.append({ path: PATH, producerId: 'p1', producerEpoch: producer.producerEpoch,
        incarnation: producer.incarnation, producerSequence: 0, records: [record('r1', { submissionId: 's1', attemptId: 'a1' })], submission: { submissionId: 's1', attemptId: 'a1' } }));
      const read = await counted('read', () => conversationStreamStore.read(PATH, { offset: '-1' }));
      expect(read.batches.map((batch) => batch.offset)).toEqual([offset]);
      expect(await counted('completeSubmission', () => submissionStore.completeSubmission({ submissionId: 's1', attemptId: 'a1' }))).toBe(true);
      expect(requests).toEqual({
        admitDirect: 1, markSubmissionCanonicalReady: 1, claimSubmission: 1,
        acquireProducer: 1, append: 1, read: 1, completeSubmission: 1,
      });
      expect((await submissionStore.getSubmission('s1'))?.status).toBe('settled');
    } finally {
      await adapter.close();
      await counter.close();
    }
  });
});

/**
 * Contention: many callers at once, in one process and across processes, and nothing is
 * lost, duplicated or surfaced as an error.
 *
 * - 1000 concurrent promises through one adapter's stores (admissions, claims raced in
 *   pairs, appends to ten streams, reads, attachment puts and gets, listings).
 * - 1000 concurrent promises mixing Flue's stores and the caller's own read-modify-write
 *   transactions on one shared `Database`.
 * - Two and four processes writing 500 rows each into one file in transactions, each also
 *   doing a read-modify-write of a shared counter (lost updates would show).
 * - `claimSubmission` raced by two adapters in two processes on the same queued
 *   submission, 200 times, started at the same instant: exactly one winner each time.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAttachmentRef, type AgentSubmission, type ConversationProducerClaim, type ConversationRecord } from '@flue/runtime/adapter';
import { libsql, open, type Database } from '../../dist/index.js';
import { CLAIMED_ROWS_SQL, claimedRows, expectOneWinnerPerRound, queueRaceSubmissions, raceClaims } from '../support/claim-race.js';
import { lastJsonLine, makeTempDir, runNodeChild, type TempDir } from '../support/runner-helpers.js';

const WORKER = fileURLToPath(new URL('../support/children/reliability-contention-worker.mjs', import.meta.url));

function directInput(submissionId: string, instance: string) {
  return {
    kind: 'direct' as const,
    submissionId,
    agent: 'contention',
    id: instance,
    message: { kind: 'user' as const, body: `body of ${submissionId}` },
    acceptedAt: new Date().toISOString(),
  };
}

function conversationRecord(id: string): ConversationRecord {
  return ({
    v: 1, id, type: 'user_message', conversationId: 'conv_contention', harness: 'default', session: 'default',
    timestamp: new Date().toISOString(), messageId: id, parentId: null, content: [{ type: 'text', text: id }],
  }) as unknown as ConversationRecord;
}

async function integrity(path: string): Promise<unknown> {
  const db = await open(`file:${path}`);
  try {
    return await db.query('PRAGMA integrity_check');
  } finally {
    await db.close();
  }
}

describe('1000 concurrent promises in one process', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('through one adapter’s stores: 0 errors, every result correct', async () => {
    const path = dir.file('stores.db');
    const adapter = libsql({ url: `file:${path}` });
    await adapter.migrate();
    const { submissionStore, conversationStreamStore, attachmentStore } = await adapter.connect();

    const STREAMS = 10;
    const producers: { path: string; id: string; claim: ConversationProducerClaim; next: number }[] = [];
    for (let s = 0; s < STREAMS; s++) {
      const streamPath = `agents/contention/${s}`;
      await conversationStreamStore.createStream(streamPath, { agentName: 'contention', instanceId: String(s) });
      producers.push({ path: streamPath, id: `producer-${s}`, claim: await conversationStreamStore.acquireProducer(streamPath, `producer-${s}`), next: 0 });
      producers[s].next = producers[s].claim.nextProducerSequence;
    }

    const all: Promise<unknown>[] = [];
    const track = <T>(promise: Promise<T>): Promise<T> => {
      all.push(promise);
      return promise;
    };
    const claims: { i: number; first: Promise<AgentSubmission | null>; second: Promise<AgentSubmission | null> }[] = [];
    const gets: { i: number; got: Promise<AgentSubmission | null> }[] = [];
    const appends: { stream: number; ids: string[]; result: Promise<{ offset: string }> }[] = [];
    const reads: { stream: number; result: Promise<{ batches: { offset: string }[] }> }[] = [];
    const attachments: { i: number; bytes: Uint8Array; got: Promise<{ bytes: Uint8Array } | null> }[] = [];
    const listings: Promise<unknown[]>[] = [];
    const unsettledFlags: Promise<boolean>[] = [];

    const refs = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const bytes = new Uint8Array(256 + i * 37).map((_, k) => (k * 31 + i) & 0xff);
      return { bytes, attachment: await createAttachmentRef({ id: `att-${i}`, mimeType: 'application/octet-stream', bytes }) };
    }));

    // Everything below is called without awaiting: 1000 promises in flight at once. Where one
    // call depends on another (a get after its put), it is chained, not awaited.
    for (let i = 0; i < 100; i++) {
      const id = `sub-${i}`;
      track(submissionStore.admitDirect(directInput(id, `instance-${i}`)));
      track(submissionStore.markSubmissionCanonicalReady(id));
      const producer = producers[i % STREAMS];
      for (let twice = 0; twice < 2; twice++) {
        const ids = [1, 2, 3].map((k) => `rec-${i}-${twice}-${k}`);
        appends.push({
          stream: i % STREAMS,
          ids,
          result: track(conversationStreamStore.append({
            path: producer.path,
            producerId: producer.id,
            producerEpoch: producer.claim.producerEpoch,
            incarnation: producer.claim.incarnation,
            producerSequence: producer.next++,
            records: ids.map(conversationRecord),
          })),
        });
      }
      claims.push({
        i,
        first: track(submissionStore.claimSubmission({ submissionId: id, attemptId: `first-${i}`, ownerId: 'first', leaseExpiresAt: Date.now() + 60_000 })),
        second: track(submissionStore.claimSubmission({ submissionId: id, attemptId: `second-${i}`, ownerId: 'second', leaseExpiresAt: Date.now() + 60_000 })),
      });
      gets.push({ i, got: track(submissionStore.getSubmission(id)) });
      const { bytes, attachment } = refs[i];
      const put = track(attachmentStore.put({ streamPath: producers[i % STREAMS].path, conversationId: 'conv_contention', attachment, bytes }));
      if (i % 2 === 0) {
        // An exact repeat of a put is accepted (idempotent), even while the first is in flight.
        track(attachmentStore.put({ streamPath: producers[i % STREAMS].path, conversationId: 'conv_contention', attachment, bytes: bytes.slice() }));
        attachments.push({
          i,
          bytes,
          got: track(put.then(() => attachmentStore.get({ streamPath: producers[i % STREAMS].path, attachmentId: `att-${i}`, conversationId: 'conv_contention' }))),
        });
        reads.push({ stream: i % STREAMS, result: track(conversationStreamStore.read(producers[i % STREAMS].path, { limit: 1000 })) });
      } else {
        if (i % 6 === 5) unsettledFlags.push(track(submissionStore.hasUnsettledSubmissions()));
        else listings.push(track(i % 6 === 1 ? submissionStore.listRunnableSubmissions() : submissionStore.listRunningSubmissions()));
      }
    }
    expect(all.length).toBe(1000);

    const settled = await Promise.allSettled(all);
    const rejected = settled.flatMap((outcome, index) => (outcome.status === 'rejected' ? [`#${index}: ${String(outcome.reason)}`] : []));
    expect(rejected).toEqual([]);

    // Claims: exactly one of each pair wins, and it is the one called first.
    for (const { i, first, second } of claims) {
      const [a, b] = [await first, await second];
      expect([a !== null, b !== null], `claims of sub-${i}`).toEqual([true, false]);
      expect(a!.attemptId).toBe(`first-${i}`);
    }
    // Reads called after the claims in call order see the claimed state.
    for (const { i, got } of gets) {
      const submission = await got;
      expect(submission?.status, `sub-${i}`).toBe('running');
      expect(submission?.attemptId).toBe(`first-${i}`);
    }
    // Appends: every batch stored whole, in call order, with increasing offsets per stream.
    for (let s = 0; s < STREAMS; s++) {
      const mine = appends.filter((a) => a.stream === s);
      const offsets = await Promise.all(mine.map((a) => a.result.then((r) => r.offset)));
      expect([...offsets].sort()).toEqual(offsets);
      expect(new Set(offsets).size).toBe(offsets.length);
      const final = await conversationStreamStore.read(producers[s].path, { limit: 1000 });
      expect(final.batches.map((b) => b.offset)).toEqual(offsets);
      expect(final.batches.map((b) => b.records.map((r) => (r as { id: string }).id))).toEqual(mine.map((a) => a.ids));
      // A concurrent read saw a prefix of the final stream, never a hole or a reordering.
      for (const read of reads.filter((r) => r.stream === s)) {
        const seen = (await read.result).batches.map((b) => b.offset);
        expect(seen).toEqual(offsets.slice(0, seen.length));
      }
    }
    for (const { i, bytes, got } of attachments) {
      const stored = await got;
      expect(stored, `att-${i}`).not.toBeNull();
      expect(Buffer.from(stored!.bytes).equals(Buffer.from(bytes))).toBe(true);
    }
    for (const listing of listings) expect(Array.isArray(await listing)).toBe(true);
    for (const flag of unsettledFlags) expect(await flag).toBe(true);

    await adapter.close();
    const db = await open(`file:${path}`);
    const [counts] = await db.query(`SELECT
      (SELECT count(*) FROM flue_agent_submissions) AS submissions,
      (SELECT count(*) FROM flue_agent_submissions WHERE status = 'running') AS running,
      (SELECT count(*) FROM flue_conversation_stream_batches) AS batches,
      (SELECT count(*) FROM flue_attachments) AS attachments`);
    expect(counts).toEqual({ submissions: 100, running: 100, batches: 200, attachments: 100 });
    expect(await db.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    await db.close();
  });

  it('stores and the caller’s own transactions on one shared Database: 0 errors, no lost update', async () => {
    const path = dir.file('shared.db');
    const db: Database = await open(`file:${path}`);
    const adapter = libsql(db); // the runner form: Flue's stores on the caller's own connection
    await adapter.migrate();
    const { submissionStore } = await adapter.connect();
    await db.exec('CREATE TABLE counter(id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0);');

    const all: Promise<unknown>[] = [];
    const increments: Promise<number>[] = [];
    const admitted: Promise<unknown>[] = [];
    const counts: { issuedAfter: number; n: Promise<number> }[] = [];
    let issuedIncrements = 0;
    for (let i = 0; i < 250; i++) {
      const admit = submissionStore.admitDirect(directInput(`shared-${i}`, `shared-instance-${i}`));
      admitted.push(admit);
      all.push(admit);
      // A read-modify-write with a real await between the read and the write.
      const increment = db.transaction(async (tx) => {
        const [{ n }] = await tx.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
        await new Promise((resolve) => setImmediate(resolve));
        await tx.execute('UPDATE counter SET n = ? WHERE id = 1', [n + 1]);
        return n;
      });
      issuedIncrements += 1;
      increments.push(increment);
      all.push(increment);
      const n = db.query<{ n: number }>('SELECT n FROM counter WHERE id = 1').then((rows) => rows[0].n);
      counts.push({ issuedAfter: issuedIncrements, n });
      all.push(n);
      all.push(submissionStore.getSubmission(`shared-${i}`));
    }
    expect(all.length).toBe(1000);
    const settled = await Promise.allSettled(all);
    expect(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);

    // Each transaction saw the previous one's write: the values read are exactly 0..249.
    expect((await Promise.all(increments)).sort((a, b) => a - b)).toEqual(Array.from({ length: 250 }, (_, k) => k));
    // A top-level read called after the k-th transaction sees exactly k increments (call order kept).
    for (const { issuedAfter, n } of counts) expect(await n).toBe(issuedAfter);
    expect(await db.query('SELECT n FROM counter')).toEqual([{ n: 250 }]);
    expect(await db.query('SELECT count(*) AS n FROM flue_agent_submissions')).toEqual([{ n: 250 }]);
    await adapter.close();
    expect(db.closed).toBe(true);
    expect(await integrity(path)).toEqual([{ integrity_check: 'ok' }]);
  });
});

describe('processes sharing one file', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  interface RowsReport {
    writer: string;
    committed: number;
    transactions: number;
    errors: { seq: number; code?: string; message: string }[];
    maxWaitMs: number;
  }

  it.each([2, 4])('%i processes × 500 rows in transactions: 0 errors, every row present, no lost update', async (processes) => {
    const path = dir.file('rows.db');
    const setup = await open(`file:${path}`);
    await setup.exec(`
      CREATE TABLE rows(writer TEXT NOT NULL, seq INTEGER NOT NULL, txn INTEGER NOT NULL, PRIMARY KEY (writer, seq));
      CREATE TABLE counter(id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
      INSERT INTO counter VALUES (1, 0);`);
    await setup.close();

    const ready: Promise<void>[] = [];
    const children = Array.from({ length: processes }, (_, w) => {
      let markReady!: () => void;
      ready.push(new Promise<void>((resolve) => (markReady = resolve)));
      return runNodeChild(WORKER, ['rows', path, `w${w}`, '500'], {
        onStdoutLine: (line) => {
          if (line === 'ready') markReady();
        },
      });
    });
    await Promise.all(ready);
    for (const { child } of children) child.stdin!.write('go\n'); // the barrier: all start together
    const results = await Promise.all(children.map((c) => c.done));
    const reports = results.map((result) => {
      expect(result.code, result.stderr).toBe(0);
      return lastJsonLine<RowsReport>(result);
    });

    expect(reports.flatMap((r) => r.errors)).toEqual([]);
    expect(reports.map((r) => r.committed)).toEqual(Array(processes).fill(500));
    const db = await open(`file:${path}`);
    const perWriter = await db.query<{ writer: string; n: number; lo: number; hi: number }>(
      'SELECT writer, count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM rows GROUP BY writer ORDER BY writer');
    expect(perWriter).toEqual(Array.from({ length: processes }, (_, w) => ({ writer: `w${w}`, n: 500, lo: 0, hi: 499 })));
    const transactions = reports.reduce((sum, r) => sum + r.transactions, 0);
    expect(await db.query('SELECT n FROM counter')).toEqual([{ n: transactions }]);
    expect(await db.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    await db.close();
    console.log(`[reliability-contention] ${processes} processes: ${transactions} transactions, longest wait for the lock ${Math.max(...reports.map((r) => r.maxWaitMs)).toFixed(0)} ms`);
  });

  it('claimSubmission raced by two processes on the same submission, 200 times: exactly one winner each time', async () => {
    const ROUNDS = 200;
    const path = dir.file('claims.db');
    const adapter = libsql({ url: `file:${path}` });
    await adapter.migrate();
    const { submissionStore } = await adapter.connect();
    await queueRaceSubmissions(submissionStore, ROUNDS);
    await adapter.close();

    const { racers, results } = raceClaims((who, onStdoutLine) =>
      runNodeChild(WORKER, ['claim', `file:${path}`, who, String(ROUNDS)], { onStdoutLine }));
    const finished = await Promise.all(racers.map((r) => r.done));
    for (const result of finished) expect(result.code, result.stderr).toBe(0);

    // The two calls really raced: in most rounds their calls overlapped in time.
    expectOneWinnerPerRound(results, ROUNDS, (overlapping, winsA) =>
      console.log(`[reliability-contention] claim race: ${overlapping}/${ROUNDS} rounds overlapped in time; A won ${winsA}, B won ${ROUNDS - winsA}`));

    // The database agrees with the winners: one attempt, the winner's, per submission.
    const db = await open(`file:${path}`);
    expect(await db.query(CLAIMED_ROWS_SQL)).toEqual(claimedRows(results, ROUNDS));
    await db.close();
  });
});

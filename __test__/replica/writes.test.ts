/**
 * An embedded replica's writes (src/engine/replica/): they reach the primary as a server
 * connection's do — the same round trips — and reads see them at once (on the primary until
 * the file has caught up, then on the file); the file catches up once the calls pause and
 * before close(); two replicas of one primary in two processes see each other's writes after
 * a sync and race claims correctly. Against a real sqld the tests start.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startLatencyProxy } from '../../scripts/latency-proxy.mjs';
import { libsql } from '../../dist/index.js';
import { CLAIM_WORKER, CLAIMED_ROWS_SQL, claimedRows, expectOneWinnerPerRound, queueRaceSubmissions, raceClaims } from '../support/claim-race.js';
import { expectWritesInCallOrder, PIPELINED_TABLE } from '../support/pipelined-writes.js';
import { OWN_SERVER_SKIP_REASON, skipSuffix } from '../support/remote-target.js';
import { makeTempDir, open, runNodeChild, sleep, type Database, type OpenOptions } from '../support/runner-helpers.js';
import { startSqld, stopAllSqld, TEST_TRANSPORT, type SqldServer } from '../support/sqld-server.js';

const REPLICA_PEER = new URL('../support/children/replica-peer.mjs', import.meta.url).pathname;

/** Everything a test opened or started, undone in reverse order after it. */
const cleanups: (() => unknown)[] = [];
const later = <T>(value: T, undo: (value: T) => unknown): T => (cleanups.push(() => undo(value)), value);
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(() => stopAllSqld());

async function server(): Promise<SqldServer> {
  const started = later(await startSqld({ auth: true }), (s) => s.dispose());
  cleanups.push(() => started.resume());
  return started;
}
async function tempFile(name: string): Promise<string> {
  const dir = later(await makeTempDir(), (d) => d.remove());
  return dir.file(name);
}
async function opened(options: OpenOptions): Promise<Database> {
  return later(await open(options), (db) => db.close());
}
const token = (primary: SqldServer) => primary.tokens!.readWrite;
const replicaOf = (primary: SqldServer, file: string, extra: Partial<OpenOptions> = {}): OpenOptions => ({
  url: `file:${file}`,
  syncUrl: primary.url,
  authToken: token(primary),
  ...extra,
});
/** A url through `proxyUrl` in the transport the tests run on (the proxy passes either). */
const sameTransport = (proxyUrl: string) => (TEST_TRANSPORT === 'ws' ? proxyUrl.replace(/^http/, 'ws') : proxyUrl);

/** Store operations of a few Flue turns: admit, mark ready, claim. */
async function storeOperations(adapter: ReturnType<typeof libsql>, prefix: string): Promise<void> {
  const { submissionStore } = await adapter.connect();
  for (let i = 0; i < 3; i++) {
    const submissionId = `${prefix}-${i}`;
    await submissionStore.admitDirect({
      kind: 'direct', submissionId, agent: 'writes', id: `${submissionId}-instance`,
      message: { kind: 'user', body: `body of ${submissionId}` }, acceptedAt: new Date().toISOString(),
    });
    expect(await submissionStore.markSubmissionCanonicalReady(submissionId)).not.toBeNull();
    const claimed = await submissionStore.claimSubmission({ submissionId, attemptId: `${submissionId}-attempt`, ownerId: 'me', leaseExpiresAt: Date.now() + 60_000 });
    expect(claimed?.attemptId).toBe(`${submissionId}-attempt`);
  }
}

describe.skipIf(OWN_SERVER_SKIP_REASON !== undefined)(`an embedded replica's writes${skipSuffix(OWN_SERVER_SKIP_REASON)}`, () => {
  it('Flue store operations on a replica wait for the primary no more often than on a server connection (round trips counted at a proxy)', async () => {
    const primary = await server();
    const proxy = later(await startLatencyProxy(primary.httpUrl, { delayMs: 0 }), (p) => p.close());
    const url = sameTransport(proxy.url);
    const onServer = later(libsql({ url, authToken: token(primary) }), (a) => a.close());
    await onServer.migrate();
    const onReplica = later(libsql(replicaOf(primary, await tempFile('replica.db'), { syncUrl: url })), (a) => a.close());
    await onReplica.migrate();
    await onServer.connect();
    await onReplica.connect();

    const roundTrips = async (work: () => Promise<void>) => {
      const before = proxy.stats().roundTrips;
      await work();
      return proxy.stats().roundTrips - before;
    };
    const server_ = await roundTrips(() => storeOperations(onServer, 'server'));
    const replica = await roundTrips(() => storeOperations(onReplica, 'replica'));
    expect(server_).toBeGreaterThan(0);
    // Through the libsql crate's write delegation the same operations cost 7× the round trips.
    expect(replica).toBeLessThanOrEqual(server_);
  });

  it('a read sees the replica’s write at once; once the writes pause the file has it — reads going on all the while — and reads answer with the server paused', async () => {
    const primary = await server();
    const writer = await opened({ url: primary.url, authToken: token(primary) });
    await writer.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
    const replica = await opened(replicaOf(primary, await tempFile('replica.db'), { requestTimeout: 3000 }));
    await replica.sync();

    const value = `v-${randomUUID()}`;
    await replica.execute('INSERT INTO t(v) VALUES (?)', [value]);
    expect(await replica.query('SELECT v FROM t')).toEqual([{ v: value }]);
    // In a transaction, reads run on the primary, with the transaction's writes.
    await replica.transaction(async (tx) => {
      await tx.execute("INSERT INTO t(v) VALUES ('in-tx')");
      expect(await tx.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 2 }]);
    });

    // Reads without a pause (on the primary at first): the file still catches up.
    const until = Date.now() + 400;
    while (Date.now() < until) expect(await replica.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 2 }]);
    await primary.pause();
    const read = await Promise.race([replica.query('SELECT v FROM t ORDER BY id'), sleep(1500).then(() => 'still waiting')]);
    expect(read).toEqual([{ v: value }, { v: 'in-tx' }]);
    primary.resume();
  });

  it('over a slow link, writes of callers in turns of their own reach the primary in call order on one connection and are read back at once; over WebSocket, several are in flight at once (pipelined)', async () => {
    const primary = await server();
    const proxy = later(await startLatencyProxy(primary.httpUrl, { delayMs: 10 }), (p) => p.close());
    const db = await opened(replicaOf(primary, await tempFile('pipelined.db'), { syncUrl: sameTransport(proxy.url) }));
    await db.exec(PIPELINED_TABLE);
    // The replica learns the link's round trip from its first writes.
    for (let i = 0; i < 3; i++) await db.execute('INSERT INTO p(caller, i) VALUES (-1, ?)', [i]);
    await expectWritesInCallOrder(db, proxy, TEST_TRANSPORT === 'ws');
  });

  it('close() leaves the writes made through the replica in its file: reopened with the server down, it reads them', async () => {
    const primary = await server();
    const writer = await opened({ url: primary.url, authToken: token(primary) });
    await writer.exec('CREATE TABLE t(v TEXT)');
    const file = await tempFile('replica.db');
    const replica = await open(replicaOf(primary, file));
    await replica.execute("INSERT INTO t(v) VALUES ('written just before close')");
    await replica.close();
    await primary.stop();
    const reopened = await opened(replicaOf(primary, file, { requestTimeout: 2000 }));
    expect(await reopened.query('SELECT v FROM t')).toEqual([{ v: 'written just before close' }]);
  });

  it('close() while the file’s catch-up sync runs lets it finish: no wait for requestTimeout, and the file has the writes', async () => {
    const primary = await server();
    const writer = await opened({ url: primary.url, authToken: token(primary) });
    await writer.exec('CREATE TABLE t(v INTEGER)');
    const file = await tempFile('replica.db');
    const replica = await open(replicaOf(primary, file, { requestTimeout: 30_000 }));
    for (let v = 0; v < 20; v++) {
      await replica.execute('INSERT INTO t(v) VALUES (?)', [v]);
      await replica.query('SELECT count(*) AS n FROM t');
    }
    // The catch-up starts once the writes pause (50 ms).
    await sleep(60);
    const started = performance.now();
    await replica.close();
    // A catch-up stopped halfway made close() wait the whole requestTimeout.
    expect(performance.now() - started).toBeLessThan(5_000);
    await primary.stop();
    const reopened = await opened(replicaOf(primary, file, { requestTimeout: 2000 }));
    expect(await reopened.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 20 }]);
  });

  it.each([
    ['at once', 0],
    ['while the file’s catch-up sync retries in the background', 300],
  ])('with the primary gone right after a write, %s: writes fail SERVER_UNREACHABLE without waiting, reads are answered from the file', async (_, waitMs) => {
    const primary = await server();
    const writer = await opened({ url: primary.url, authToken: token(primary) });
    await writer.exec("CREATE TABLE t(v TEXT); INSERT INTO t(v) VALUES ('synced')");
    const replica = await opened(replicaOf(primary, await tempFile('replica.db'), { requestTimeout: 5000 }));
    await replica.execute("INSERT INTO t(v) VALUES ('maybe not in the file yet')");
    await primary.stop();
    await sleep(waitMs);
    const started = performance.now();
    await expect(replica.execute("INSERT INTO t(v) VALUES ('x')")).rejects.toMatchObject({ code: 'SERVER_UNREACHABLE' });
    const rows = await replica.query<{ v: string }>('SELECT v FROM t ORDER BY rowid');
    expect(rows[0]).toEqual({ v: 'synced' });
    // A sync of an unreachable server retries its handshake once a second: nothing above waited for one.
    expect(performance.now() - started).toBeLessThan(800);
  });

  it('two processes: a write through replica A is read through replica B after B’s sync(), and within B’s syncInterval without one', async () => {
    const primary = await server();
    const writer = await opened({ url: primary.url, authToken: token(primary) });
    await writer.exec('CREATE TABLE t(v TEXT)');
    const a = await opened(replicaOf(primary, await tempFile('a.db')));

    const peer = (file: string, ...extra: string[]) => {
      const lines: string[] = [];
      const waiting: ((line: string) => void)[] = [];
      const child = runNodeChild(REPLICA_PEER, [file, primary.url, token(primary), ...extra], {
        onStdoutLine: (line) => (waiting.length > 0 ? waiting.shift()!(line) : lines.push(line)),
      });
      later(child, (c) => c.child.kill('SIGKILL'));
      const next = () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise<string>((resolve) => waiting.push(resolve)));
      const ask = async (command: string) => {
        child.child.stdin!.write(`${command}\n`);
        return JSON.parse(await next());
      };
      return { ready: next(), ask, done: child.done };
    };

    const b = peer(await tempFile('b.db'));
    expect(await b.ready).toBe('"ready"');
    await a.execute("INSERT INTO t(v) VALUES ('from A')");
    expect(await b.ask('query SELECT v FROM t')).toEqual({ rows: [] });
    expect(await b.ask('sync')).toEqual({ synced: true });
    expect(await b.ask('query SELECT v FROM t')).toEqual({ rows: [{ v: 'from A' }] });

    const c = peer(await tempFile('c.db'), '0.2');
    expect(await c.ready).toBe('"ready"');
    await a.execute("INSERT INTO t(v) VALUES ('again from A')");
    const started = Date.now();
    let seen: unknown;
    while (Date.now() - started < 5000) {
      seen = await c.ask('query SELECT v FROM t ORDER BY rowid');
      if (JSON.stringify(seen).includes('again from A')) break;
      await sleep(50);
    }
    expect(seen).toEqual({ rows: [{ v: 'from A' }, { v: 'again from A' }] });
    for (const child of [b, c]) {
      child.ask('close').catch(() => {});
      expect((await child.done).code).toBe(0);
    }
  });

  it('claimSubmission raced by two processes through replicas of their own, 200 rounds: exactly one winner each time, and the primary agrees', async () => {
    const ROUNDS = 200;
    const primary = await server();
    const adapter = later(libsql({ url: primary.url, authToken: token(primary) }), (a) => a.close());
    await adapter.migrate();
    const { submissionStore } = await adapter.connect();
    await queueRaceSubmissions(submissionStore, ROUNDS);

    const files = { A: await tempFile('a.db'), B: await tempFile('b.db') };
    const { racers, results } = raceClaims((who, onStdoutLine) =>
      runNodeChild(CLAIM_WORKER, ['claim', primary.url, who, String(ROUNDS), token(primary), files[who]], { onStdoutLine }));
    cleanups.push(() => racers.forEach((racer) => racer.child.kill('SIGKILL')));
    for (const result of await Promise.all(racers.map((racer) => racer.done))) expect(result.code, result.stderr).toBe(0);

    expectOneWinnerPerRound(results, ROUNDS, (overlapping, winsA) =>
      console.log(`[replica-writes] claim race through two replicas: ${ROUNDS} rounds, ${overlapping} overlapped in time; A won ${winsA}, B won ${ROUNDS - winsA}`));
    const db = await opened({ url: primary.url, authToken: token(primary) });
    expect(await db.query(CLAIMED_ROWS_SQL)).toEqual(claimedRows(results, ROUNDS));
  }, 120_000);
});

/**
 * A server connection's lanes (src/executor/pool.rs) against a sqld the tests start: reads of
 * independent callers overlap, writes called meanwhile travel together as one group commit
 * (src/engine/remote/group.rs) in which every call still ends as it would alone, claims race
 * correctly, a restart loses nothing acknowledged, and close() leaves no connection open.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startLatencyProxy, type LatencyProxy } from '../../scripts/latency-proxy.mjs';
import { libsql } from '../../dist/index.js';
import { queueRaceSubmissions } from '../support/claim-race.js';
import { expectWritesInCallOrder, PIPELINED_TABLE } from '../support/pipelined-writes.js';
import { OWN_SERVER_SKIP_REASON, overWebSocket, skipSuffix } from '../support/remote-target.js';
import { open, rejectionOf, sleep, type Database } from '../support/runner-helpers.js';
import { startSqld, stopAllSqld, TEST_TRANSPORT, type SqldServer } from '../support/sqld-server.js';

/** A read that keeps the server busy for a while (hundreds of ms), starting with SELECT. */
const SLOW_READ = 'SELECT (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c) AS n';

async function serverWithDatabase(extra: { concurrency?: number; requestTimeout?: number } = {}): Promise<{ server: SqldServer; db: Database; dispose(): Promise<void> }> {
  const server = await startSqld();
  const db = await open({ url: server.url, ...extra });
  return { server, db, dispose: async () => (await db.close(), await server.dispose()) };
}

/**
 * `use` with a Database on a sqld behind the latency proxy (10 ms each way), in the test run's
 * transport; then closes it and checks that no connection stayed open.
 */
async function overSlowLink(extra: { concurrency?: number }, use: (db: Database, proxy: LatencyProxy) => Promise<void>): Promise<void> {
  const server = await startSqld();
  const proxy = await startLatencyProxy(server.httpUrl, { delayMs: 10 });
  try {
    const db = await open({ url: TEST_TRANSPORT === 'ws' ? overWebSocket(proxy.url) : proxy.url, ...extra });
    await use(db, proxy);
    await db.close();
    // A closed socket reaches the proxy one hold (10 ms) later.
    await sleep(100);
    expect(proxy.openConnections()).toBe(0);
  } finally {
    await proxy.close();
    await server.dispose();
  }
}

describe.skipIf(OWN_SERVER_SKIP_REASON !== undefined)(`a server connection's lanes${skipSuffix(OWN_SERVER_SKIP_REASON)}`, () => {
  afterAll(() => stopAllSqld());

  it.each([
    ['by default, a slow read holds up neither reads nor writes called after it', {}, ['read 0', 'read 1', 'read 2', 'write', 'slow read']],
    ['with concurrency: 1, every call waits for the ones made before it', { concurrency: 1 }, ['slow read', 'read 0', 'read 1', 'read 2', 'write']],
  ] as const)('%s', async (_, extra, expected) => {
    const { db, dispose } = await serverWithDatabase(extra);
    try {
      await db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
      const order: string[] = [];
      const started = performance.now();
      const slow = db.query<{ n: number }>(SLOW_READ).then(([row]) => {
        order.push('slow read');
        return { n: row.n, ms: performance.now() - started };
      });
      await sleep(20);
      for (let i = 0; i < 3; i++) {
        expect(await db.query('SELECT ? AS i', [i])).toEqual([{ i }]);
        order.push(`read ${i}`);
      }
      await db.execute("INSERT INTO t(v) VALUES ('w')");
      order.push('write');
      const { n, ms } = await slow;
      expect(n).toBe(3_000_000);
      // The slow read really was slow: long enough for the others to overtake it.
      expect(ms).toBeGreaterThan(100);
      expect(order).toEqual(expected);
    } finally {
      await dispose();
    }
  });

  it('over a slow link, reads of many callers are in flight at once, on no more connections than concurrency; none stays open after close()', async () => {
    await overSlowLink({ concurrency: 6 }, async (db, proxy) => {
      // The lanes learn the link's round trip from a few requests.
      for (let i = 0; i < 3; i++) await db.query('SELECT 1');
      const started = performance.now();
      // 12 callers, each starting in a turn of its own, 4 reads one after another.
      await Promise.all(
        Array.from({ length: 12 }, async (_, k) => {
          await sleep(k);
          for (let i = 0; i < 4; i++) expect(await db.query('SELECT ? AS k, ? AS i', [k, i])).toEqual([{ k, i }]);
        }),
      );
      const ms = performance.now() - started;
      const { connections } = proxy.stats();
      // One lane at a time would take 48 round trips of 20 ms (or, sharing requests, far more than 12).
      expect(ms).toBeLessThan(48 * 20);
      expect(connections).toBeGreaterThan(2);
      expect(connections).toBeLessThanOrEqual(6);
    });
  });

  it('over a slow link, writes of callers in turns of their own commit in call order on the writer\'s one connection; over WebSocket, several are in flight at once (pipelined)', async () => {
    await overSlowLink({}, async (db, proxy) => {
      await db.exec(PIPELINED_TABLE);
      // The lanes learn the link's round trip from a few requests; the writer's stream is open.
      for (let i = 0; i < 3; i++) await db.query('SELECT 1');
      await db.execute('INSERT INTO p(caller, i) VALUES (-1, -1)');
      await expectWritesInCallOrder(db, proxy, TEST_TRANSPORT === 'ws');
    });
  });

  it('writes called together commit together; a statement that fails, and a batch that fails, fail alone and leave nothing', async () => {
    const { db, dispose } = await serverWithDatabase();
    try {
      await db.exec("CREATE TABLE g(id INTEGER PRIMARY KEY, v TEXT UNIQUE); INSERT INTO g(v) VALUES ('taken')");
      const settled = await Promise.allSettled([
        db.execute("INSERT INTO g(v) VALUES ('a')"),
        db.execute("INSERT INTO g(v) VALUES ('taken')"),
        db.batch(["INSERT INTO g(v) VALUES ('b1')", "INSERT INTO g(v) VALUES ('taken')"]),
        db.batch(["INSERT INTO g(v) VALUES ('c1')", "INSERT INTO g(v) VALUES ('c2')"]),
        db.execute("INSERT INTO g(v) VALUES ('d')"),
        db.query("SELECT count(*) AS n FROM g WHERE v IN ('a', 'c1')"),
      ]);
      expect(settled.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect((settled[1] as PromiseRejectedResult).reason.code).toBe('SQLITE_CONSTRAINT_UNIQUE');
      expect((settled[2] as PromiseRejectedResult).reason.message).toMatch(/batch statement 2 of 2 failed, nothing was applied/);
      expect((settled[3] as PromiseFulfilledResult<{ rowsAffected: number }[]>).value.map((r) => r.rowsAffected)).toEqual([1, 1]);
      expect(await db.query('SELECT v FROM g ORDER BY id')).toEqual(['taken', 'a', 'c1', 'c2', 'd'].map((v) => ({ v })));
    } finally {
      await dispose();
    }
  });

  it('a write whose error rolls back the whole group (ON CONFLICT ROLLBACK): every call ends as it would alone, none applied twice', async () => {
    const { db, dispose } = await serverWithDatabase();
    try {
      await db.exec("CREATE TABLE g(id INTEGER PRIMARY KEY, v TEXT UNIQUE); INSERT INTO g(v) VALUES ('taken')");
      // Held back until the end of the turn, the three travel together.
      const calls = [
        db.execute("INSERT INTO g(v) VALUES ('x')"),
        db.execute("INSERT OR ROLLBACK INTO g(v) VALUES ('taken')"),
        db.execute("INSERT INTO g(v) VALUES ('y')"),
      ];
      expect((await calls[0]).rowsAffected).toBe(1);
      expect((await rejectionOf(calls[1])).code).toBe('SQLITE_CONSTRAINT_UNIQUE');
      expect((await calls[2]).rowsAffected).toBe(1);
      expect(await db.query('SELECT v FROM g ORDER BY id')).toEqual(['taken', 'x', 'y'].map((v) => ({ v })));
    } finally {
      await dispose();
    }
  });

  it('200 submissions, each claimed by 3 callers at once through one Database: exactly one winner each, and the database agrees', async () => {
    const server = await startSqld();
    const adapter = libsql({ url: server.url });
    try {
      await adapter.migrate();
      const { submissionStore } = await adapter.connect();
      await queueRaceSubmissions(submissionStore, 200);
      const claims: Promise<{ i: number; who: string; won: boolean }>[] = [];
      for (let i = 0; i < 200; i++) {
        for (const who of ['A', 'B', 'C']) {
          const claim = { submissionId: `race-${i}`, attemptId: `${who}-attempt-${i}`, ownerId: who, leaseExpiresAt: Date.now() + 60_000 };
          claims.push(submissionStore.claimSubmission(claim).then((claimed) => ({ i, who, won: Boolean(claimed) })));
        }
      }
      const results = await Promise.all(claims);
      const winners = Array.from({ length: 200 }, (_, i) => results.filter((r) => r.i === i && r.won));
      expect(winners.filter((won) => won.length !== 1)).toEqual([]);
      const db = await open({ url: server.url });
      const rows = await db.query<{ submission_id: string; attempt_id: string; attempt_count: number }>(
        "SELECT submission_id, attempt_id, attempt_count FROM flue_agent_submissions WHERE status = 'running' ORDER BY sequence",
      );
      await db.close();
      expect(rows).toEqual(winners.map(([winner]) => ({ submission_id: `race-${winner.i}`, attempt_id: `${winner.who}-attempt-${winner.i}`, attempt_count: 1 })));
    } finally {
      await adapter.close?.();
      await server.dispose();
    }
  });

  it('50 conversations writing and reading while the server restarts: every acknowledged write there once, every failed one all or nothing, every conversation finishes', { timeout: 60_000 }, async () => {
    const { server, db, dispose } = await serverWithDatabase({ requestTimeout: 5000 });
    try {
      await db.exec('CREATE TABLE turns(conversation INTEGER, turn INTEGER, part INTEGER, PRIMARY KEY (conversation, turn, part))');
      const TURNS = 30;
      const acknowledged = new Set<string>();
      const failures: string[] = [];
      let restarted = false;
      // At least TURNS turns, and 5 once the server is back: calls fail at once while it is
      // down, and a conversation that ran out of turns then would prove nothing about recovery.
      const conversation = async (c: number) => {
        for (let turn = 0, afterRestart = 0; turn < TURNS || afterRestart < 5; turn++, afterRestart += restarted ? 1 : 0) {
          try {
            await db.batch([
              ['INSERT INTO turns VALUES (?, ?, 0)', [c, turn]],
              ['INSERT INTO turns VALUES (?, ?, 1)', [c, turn]],
            ]);
            acknowledged.add(`${c}/${turn}`);
            await db.query('SELECT count(*) AS n FROM turns WHERE conversation = ?', [c]);
          } catch (error) {
            failures.push((error as { code?: string }).code ?? String(error));
          }
        }
      };
      const running = Promise.all(Array.from({ length: 50 }, (_, c) => conversation(c)));
      await sleep(100);
      const before = acknowledged.size;
      await server.restart();
      restarted = true;
      await running;
      // The restart came while the conversations ran.
      expect(before).toBeGreaterThan(0);
      expect(before).toBeLessThan(50 * TURNS);
      expect(failures.filter((code) => !['SERVER_UNREACHABLE', 'REQUEST_TIMEOUT', 'TRANSACTION_EXPIRED'].includes(code))).toEqual([]);
      const rows = await db.query<{ conversation: number; turn: number; parts: number }>('SELECT conversation, turn, count(*) AS parts FROM turns GROUP BY conversation, turn');
      // All or nothing: no turn has one part without the other.
      expect(rows.filter((row) => row.parts !== 2)).toEqual([]);
      const stored = new Set(rows.map((row) => `${row.conversation}/${row.turn}`));
      expect([...acknowledged].filter((key) => !stored.has(key))).toEqual([]);
      expect(acknowledged.size).toBeGreaterThan(before);
      console.log(`[remote-lanes] restart: ${acknowledged.size} of ${50 * TURNS} turns acknowledged (${before} before the restart), ${failures.length} failed calls, ${stored.size} stored`);
    } finally {
      await dispose();
    }
  });
});

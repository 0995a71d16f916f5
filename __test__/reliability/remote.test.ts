/**
 * A failing libSQL server: unreachable at boot, restarted between calls, killed inside a
 * transaction, down, not answering, idle past its stream timeout, and raced by two processes.
 *
 * - An unreachable server at boot needs no server at all (a closed loopback port), and the
 *   documented limits are read from the shipped files: these tests ALWAYS run.
 * - Everything else runs on sqld servers the tests start, stop, kill, pause and restart
 *   themselves (support/sqld-server.ts): the sqld of scripts/sqld-binary.mjs. Without one
 *   those suites are skipped, with the reason in their names. Every server runs with JWT auth,
 *   so every error met on the way is also checked for the token (and the child processes'
 *   whole output, with RUST_LOG=trace, for any log line carrying it).
 * No fake server is written here: a fake would prove only that the fake behaves.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { libsql, LibsqlError, open, type Database, type OpenOptions, type Transaction } from '../../dist/index.js';
import { startFaultProxy } from '../../scripts/fault-proxy.mjs';
import { CLAIM_WORKER, CLAIMED_ROWS_SQL, claimedRows, expectOneWinnerPerRound, queueRaceSubmissions, raceClaims } from '../support/claim-race.js';
import { OWN_SERVER_SKIP_REASON, skipSuffix } from '../support/remote-target.js';
import { DIST_ENTRY_URL, lastJsonLine, rejectionOf, runNodeChild, sleep, type ChildResult } from '../support/runner-helpers.js';
import { assertNoToken, secretsOf } from '../support/secrets.js';
import { startSqld, stopAllSqld, TEST_TRANSPORT, type SqldServer } from '../support/sqld-server.js';

const SECRET = 'SECRET-TOKEN-123';

function allTokens(server: SqldServer): string[] {
  return Object.values(server.tokens ?? {});
}

/** A loopback port nothing listens on: bind an ephemeral port, then release it. */
async function closedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** How a call ended: its value, or its error. */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error & { code?: string } };
function outcomeOf<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then((value) => ({ ok: true as const, value }), (error: Error & { code?: string }) => ({ ok: false as const, error }));
}

/** Resolves to how long `promise` took to settle, and its outcome. */
async function timed<T>(promise: Promise<T>): Promise<{ elapsed: number } & Outcome<T>> {
  const startedAt = performance.now();
  const outcome = await outcomeOf(promise);
  return { elapsed: performance.now() - startedAt, ...outcome };
}

/**
 * The servers and databases of one test, cleaned up when it ends, passed or failed (also when
 * tests run concurrently: each test owns only its own). Servers go first: a paused server
 * would hold a database's close() until the request timed out.
 */
function scope(onTestFinished: TestContext['onTestFinished']) {
  const servers: SqldServer[] = [];
  const databases: Database[] = [];
  onTestFinished(async () => {
    await Promise.all(servers.map((server) => server.dispose()));
    await Promise.all(databases.map((db) => Promise.race([db.close().catch(() => {}), sleep(5000)])));
  });
  return {
    async server(): Promise<SqldServer> {
      const server = await startSqld({ auth: true });
      servers.push(server);
      return server;
    },
    async open(options: OpenOptions): Promise<Database> {
      const db = await open(options);
      databases.push(db);
      return db;
    },
  };
}

/** The labels of table `t`, in insertion order. */
async function labels(db: Database, like = '%'): Promise<string[]> {
  return (await db.query<{ label: string }>('SELECT label FROM t WHERE label LIKE ? ORDER BY id', [like])).map((row) => row.label);
}

const CREATE_T = 'CREATE TABLE t(id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE)';

/** A test's scope, a server of its own, and a Database on it (readWrite token, plus `options`) with table `t`. */
async function serverWithTable(onTestFinished: TestContext['onTestFinished'], options: Partial<OpenOptions> = {}) {
  const own = scope(onTestFinished);
  const server = await own.server();
  const db = await own.open({ url: server.url, authToken: server.tokens!.readWrite, ...options });
  await db.exec(CREATE_T);
  return { own, server, db };
}

/**
 * A timed call that must have rejected: with a LibsqlError of `code`, in < 5 s, showing none of
 * `server`'s tokens. Its error. (`what` names the call in failure messages.)
 */
function expectTimedRejection(
  outcome: { elapsed: number } & Outcome<unknown>,
  code: string,
  server: SqldServer,
  what?: string,
): Error & { code?: string } {
  expect(outcome.ok, what).toBe(false);
  if (outcome.ok) throw new Error(`${what ?? 'the call'} resolved`);
  expect(outcome.error, what).toBeInstanceOf(LibsqlError);
  expect(outcome.error.code, what ? `${what}: ${outcome.error.message}` : outcome.error.message).toBe(code);
  expect(outcome.elapsed, what).toBeLessThan(5000);
  assertNoToken(outcome.error, ...allTokens(server));
  return outcome.error;
}

/** A query, and an execute, exec and batch that each would write a row labelled after `label`. */
function plainCalls(db: Database, label: string): [string, () => Promise<unknown>][] {
  return [
    ['query', () => db.query('SELECT label FROM t')],
    ['execute', () => db.execute(`INSERT INTO t(label) VALUES ('${label}')`)],
    ['exec', () => db.exec(`INSERT INTO t(label) VALUES ('${label}, exec')`)],
    ['batch', () => db.batch([`INSERT INTO t(label) VALUES ('${label}, batch')`])],
  ];
}

describe('a server that is unreachable at boot (no server needed: always runs)', () => {
  it.each(['http', 'https', 'libsql', 'ws', 'wss'])('libsql({ url: %s://127.0.0.1:<closed port> }).migrate() fails fast with SERVER_UNREACHABLE, without the token', async (scheme) => {
    const port = await closedLoopbackPort();
    const adapter = libsql({ url: `${scheme}://127.0.0.1:${port}`, authToken: SECRET });
    const startedAt = Date.now();
    const error = await rejectionOf(adapter.migrate());
    const elapsed = Date.now() - startedAt;
    expect(error).toBeInstanceOf(LibsqlError);
    expect(error.code).toBe('SERVER_UNREACHABLE');
    expect(error.message).toMatch(/Connection refused|connect/);
    assertNoToken(error, SECRET);
    expect(elapsed).toBeLessThan(10_000); // a clear error at boot, not a hang

    // The failure is not cached: the next boot attempt tries again (and fails again, clearly),
    // and connect() reports the same instead of handing out stores over a dead connection.
    const again = await rejectionOf(adapter.migrate());
    expect(again.code).toBe('SERVER_UNREACHABLE');
    const connecting = await rejectionOf(adapter.connect());
    expect(connecting.code).toBe('SERVER_UNREACHABLE');
    assertNoToken(connecting, SECRET);
    await adapter.close();
  });

  it('open() of an unreachable server succeeds lazily; its first statement fails with SERVER_UNREACHABLE, and so does every later one', async () => {
    const port = await closedLoopbackPort();
    const db = await open({ url: `http://127.0.0.1:${port}/?authToken=${SECRET}` });
    try {
      for (const call of [() => db.query('SELECT 1'), () => db.execute('SELECT 1'), () => db.transaction((tx) => tx.query('SELECT 1')), () => db.query('SELECT 1')]) {
        const error = await rejectionOf(call());
        expect(error).toBeInstanceOf(LibsqlError);
        expect(error.code).toBe('SERVER_UNREACHABLE');
        assertNoToken(error, SECRET);
      }
    } finally {
      await db.close();
    }
  });
});

describe('the documented limits (no server needed: always runs)', () => {
  it('docs/api.md documents the requestTimeout option with its default, 30000 ms, and the remote error codes', async () => {
    const api = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');
    // One row of the options table, like `busyTimeout`'s: | `requestTimeout` | number (ms) | `30000` | …
    const row = api.split('\n').find((line) => /^\|\s*`requestTimeout`\s*\|/.test(line));
    expect(row, 'docs/api.md: no `requestTimeout` row in the options table of open()').toBeDefined();
    expect(row).toMatch(/`?30[ _,]?000`?/);
    const missing = ['SERVER_UNREACHABLE', 'REQUEST_TIMEOUT', 'AUTH_FAILED', 'TRANSACTION_EXPIRED', 'SERVER_ERROR'].filter((code) => !api.includes(code));
    expect(missing, 'error codes docs/api.md does not mention').toEqual([]);
  });

  it('OpenOptions (dist/types.d.ts) declares requestTimeout', async () => {
    const types = await readFile(new URL('../../dist/types.d.ts', import.meta.url), 'utf8');
    const declaration = types.slice(types.indexOf('interface OpenOptions'), types.indexOf('}', types.indexOf('interface OpenOptions')));
    expect(/\brequestTimeout\?:\s*number/.test(declaration), 'interface OpenOptions has no `requestTimeout?: number`').toBe(true);
  });
});

// ---- on sqld servers the tests control ---------------------------------------------------

const ownSkip = OWN_SERVER_SKIP_REASON;
const suffix = skipSuffix(ownSkip);

afterAll(() => stopAllSqld());

/** sqld forgets a stream ~10 s after its last request (rounded up to the next second); measured: gone after 11 s. */
const IDLE_PAST_STREAM_TIMEOUT_MS = 13_000;

type Kind = 'query' | 'execute' | 'transaction' | 'batch';
const KINDS: Kind[] = ['query', 'execute', 'transaction', 'batch'];

/** One call of `kind`; checks its own result; resolves to the label it wrote, if any. */
async function callOf(db: Database, kind: Kind, label: string): Promise<string | undefined> {
  switch (kind) {
    case 'query':
      expect(await db.query('SELECT ? AS label', [label])).toEqual([{ label }]);
      return undefined;
    case 'execute':
      expect((await db.execute('INSERT INTO t(label) VALUES (?)', [label])).rowsAffected).toBe(1);
      return label;
    case 'transaction':
      expect(await db.transaction(async (tx) => {
        await tx.execute('INSERT INTO t(label) VALUES (?)', [label]);
        return tx.query('SELECT label FROM t WHERE label = ?', [label]);
      })).toEqual([{ label }]);
      return label;
    case 'batch': {
      const results = await db.batch([['INSERT INTO t(label) VALUES (?)', [label]], ['SELECT label FROM t WHERE label = ?', [label]]]);
      expect(results.map((r) => r.rows)).toEqual([[], [{ label }]]);
      return label;
    }
  }
}

describe.skipIf(ownSkip !== undefined)(`a server that restarts between calls${suffix}`, () => {
  it.for([
    ['killed (SIGKILL)', false],
    ['stopped gracefully (SIGTERM)', true],
  ] as const)('%s and restarted 3 times before each kind of call: the same Database recovers by itself (the first call works, or fails once and the next works)', async ([, graceful], { onTestFinished }) => {
    const { server, db } = await serverWithTable(onTestFinished, { requestTimeout: 5000 });
    await db.execute("INSERT INTO t(label) VALUES ('before any restart')");

    const acknowledged = ['before any restart'];
    const failedAttempts: string[] = [];
    const firstCallFailures: string[] = [];
    for (let round = 1; round <= 3; round++) {
      for (const kind of KINDS) {
        await server.stop({ graceful });
        await server.restart();
        for (let attempt = 1; ; attempt++) {
          const label = `${kind} after restart ${round}, attempt ${attempt}`;
          const outcome = await outcomeOf(callOf(db, kind, label));
          if (outcome.ok) {
            if (outcome.value !== undefined) acknowledged.push(outcome.value);
            break;
          }
          const { error } = outcome;
          failedAttempts.push(label);
          firstCallFailures.push(`${label}: ${error.code} ${error.message}`);
          assertNoToken(error, ...allTokens(server));
          // A failure after a restart is the transport's (a kept-alive connection the old
          // server closed), never a wrong result, a refused credential or a lost transaction.
          expect(error, String(error)).toBeInstanceOf(LibsqlError);
          expect(error.code).toBe('SERVER_UNREACHABLE');
          expect(attempt, `the call after the failed one must work:\n${firstCallFailures.join('\n')}`).toBe(1);
        }
      }
    }
    // Every acknowledged write is there exactly once (UNIQUE label); anything else is a failed attempt's.
    const stored = await labels(db);
    expect(stored.filter((label) => acknowledged.includes(label))).toEqual(acknowledged);
    expect(stored.filter((label) => !acknowledged.includes(label)).every((label) => failedAttempts.includes(label))).toBe(true);
    console.log(`[reliability-remote] ${graceful ? 'graceful' : 'SIGKILL'} restarts: ${firstCallFailures.length} of 12 first calls failed${firstCallFailures.length ? `:\n  ${firstCallFailures.join('\n  ')}` : ''}`);
  });

  it('an adapter whose migrate() failed while the server was down boots on the next migrate() once it is up', async ({ onTestFinished }) => {
    const own = scope(onTestFinished);
    const server = await own.server();
    await server.stop();
    const adapter = libsql({ url: server.url, authToken: server.tokens!.readWrite });
    onTestFinished(() => adapter.close());
    const down = await rejectionOf(adapter.migrate());
    expect(down.code).toBe('SERVER_UNREACHABLE');
    assertNoToken(down, ...allTokens(server));
    await server.restart();
    await adapter.migrate();
    const { submissionStore } = await adapter.connect();
    expect(await submissionStore.hasUnsettledSubmissions()).toBe(false);
  });
});

describe.skipIf(ownSkip !== undefined)(`a request lost with its connection (reset before it reaches the server)${suffix}`, () => {
  it("a transaction's first request, which commits nothing, is sent again on a new connection and the transaction commits once; an autocommit write is not sent again (it may have run): SERVER_UNREACHABLE", async ({ onTestFinished }) => {
    const server = await startSqld({ auth: true });
    onTestFinished(() => server.dispose());
    const proxy = await startFaultProxy(server.url);
    onTestFinished(() => proxy.close());
    const db = await open({ url: TEST_TRANSPORT === 'ws' ? proxy.url.replace(/^http/, 'ws') : proxy.url, authToken: server.tokens!.readWrite });
    onTestFinished(() => db.close());
    await db.exec('CREATE TABLE t(label TEXT UNIQUE)');

    proxy.resetNextRequest();
    await db.transaction(async (tx) => {
      await tx.execute("INSERT INTO t(label) VALUES ('in a transaction')");
    });
    proxy.resetNextRequest();
    const refused = await rejectionOf(db.execute("INSERT INTO t(label) VALUES ('autocommit')"));
    expect(refused).toBeInstanceOf(LibsqlError);
    expect((refused as LibsqlError).code).toBe('SERVER_UNREACHABLE');
    expect(proxy.stats().resetsBeforeForward).toBe(2);
    expect(await db.query('SELECT label FROM t ORDER BY label')).toEqual([{ label: 'in a transaction' }]);
  });
});

describe.skipIf(ownSkip !== undefined)(`a server that is down${suffix}`, () => {
  it.for([
    ['killed (SIGKILL)', false],
    ['stopped gracefully (SIGTERM)', true],
  ] as const)('%s: every call rejects with SERVER_UNREACHABLE in < 5 s, without the token; after the restart the same Database works and has all its data', async ([, graceful], { onTestFinished }) => {
    const { server, db } = await serverWithTable(onTestFinished);
    const token = server.tokens!.readWrite;
    await db.batch(["INSERT INTO t(label) VALUES ('a')", "INSERT INTO t(label) VALUES ('b')"]);
    const adapter = libsql({ url: server.url, authToken: token });
    onTestFinished(() => adapter.close());
    await server.stop({ graceful });

    const calls: [string, () => Promise<unknown>][] = [
      ...plainCalls(db, 'while down'),
      ['transaction', () => db.transaction((tx) => tx.execute("INSERT INTO t(label) VALUES ('while down, tx')"))],
      ['migrate', () => db.migrate([{ version: 1, name: 'one', sql: 'CREATE TABLE m(a)' }])],
      ['libsql().migrate()', () => adapter.migrate()],
    ];
    for (const [what, call] of calls) expectTimedRejection(await timed(call()), 'SERVER_UNREACHABLE', server, what);

    await server.restart();
    expect(await labels(db)).toEqual(['a', 'b']);
    await db.execute("INSERT INTO t(label) VALUES ('after the restart')");
    expect(await labels(db)).toEqual(['a', 'b', 'after the restart']);
  });
});

describe.skipIf(ownSkip !== undefined)(`a server killed inside transaction(fn)${suffix}`, () => {
  /**
   * A server and a Database on it that made 20 acknowledged writes of every kind; `before`:
   * the table as it must be found after any failure.
   */
  async function serverWithAcknowledgedWrites(onTestFinished: TestContext['onTestFinished']) {
    const { server, db } = await serverWithTable(onTestFinished);
    return { server, db, before: await acknowledgedWrites(db) };
  }

  async function acknowledgedWrites(db: Database): Promise<string[]> {
    for (let i = 0; i < 10; i++) await db.execute('INSERT INTO t(label) VALUES (?)', [`execute ${i}`]);
    await db.batch(Array.from({ length: 5 }, (_, i) => ['INSERT INTO t(label) VALUES (?)', [`batch ${i}`]] as const));
    await db.transaction(async (tx) => {
      for (let i = 0; i < 5; i++) await tx.execute('INSERT INTO t(label) VALUES (?)', [`transaction ${i}`]);
    });
    const expected = [...Array.from({ length: 10 }, (_, i) => `execute ${i}`), ...Array.from({ length: 5 }, (_, i) => `batch ${i}`), ...Array.from({ length: 5 }, (_, i) => `transaction ${i}`)];
    expect(await labels(db)).toEqual(expected);
    return expected;
  }

  /** Three writes inside the transaction, none of which may ever be found. */
  async function doomedWrites(tx: Transaction): Promise<void> {
    for (let i = 0; i < 3; i++) await tx.execute('INSERT INTO t(label) VALUES (?)', [`doomed ${i}`]);
  }

  /** A transaction whose callback makes its writes, then `loses` the server and returns: its rejection (the COMMIT's). */
  function commitAfter(db: Database, loses: () => Promise<unknown>): Promise<Error & { code?: string }> {
    return rejectionOf(db.transaction(async (tx) => {
      await doomedWrites(tx);
      await loses();
      return 'the callback resolved';
    }));
  }

  it('SIGKILL after 3 tx writes: the next tx statement and the transaction reject; after the restart none of its writes exist and all 20 acknowledged ones do', async ({ onTestFinished }) => {
    const { server, db, before } = await serverWithAcknowledgedWrites(onTestFinished);

    let inner: Error & { code?: string } = new Error('not reached');
    const error = await rejectionOf(db.transaction(async (tx) => {
      await doomedWrites(tx);
      expect(await tx.query("SELECT count(*) AS n FROM t WHERE label LIKE 'doomed %'")).toEqual([{ n: 3 }]);
      await server.stop();
      inner = await rejectionOf(tx.execute("INSERT INTO t(label) VALUES ('doomed, server dead')"));
      throw inner;
    }));
    expect(inner).toBeInstanceOf(LibsqlError);
    // Over WebSocket the client usually sees the socket close before it sends (the transaction
    // is then known lost, not merely unreachable); when the close arrives just after the send,
    // the statement's fate is unknown to it, as over HTTP.
    expect(TEST_TRANSPORT === 'ws' ? ['TRANSACTION_EXPIRED', 'SERVER_UNREACHABLE'] : ['SERVER_UNREACHABLE']).toContain(inner.code);
    expect(error).toBe(inner);
    assertNoToken(error, ...allTokens(server));

    await server.restart();
    expect(await labels(db)).toEqual(before);
    // The same Database runs transactions again.
    await db.transaction((tx) => tx.execute("INSERT INTO t(label) VALUES ('after the restart')"));
    expect(await labels(db)).toEqual([...before, 'after the restart']);
  });

  it('SIGKILL after the callback\'s last statement: the COMMIT rejects as outcome unknown (SERVER_UNREACHABLE), or over WebSocket as never sent (TRANSACTION_EXPIRED); after the restart none of its writes exist', async ({ onTestFinished }) => {
    const { server, db, before } = await serverWithAcknowledgedWrites(onTestFinished);

    const error = await commitAfter(db, () => server.stop());
    expect(error).toBeInstanceOf(LibsqlError);
    if (TEST_TRANSPORT === 'ws') {
      // The socket closed before the COMMIT went out: nothing of the transaction was committed.
      expect(error.code).toBe('TRANSACTION_EXPIRED');
      expect(error.message).toMatch(/nothing of it was committed/);
    } else {
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toMatch(/COMMIT/);
    }
    assertNoToken(error, ...allTokens(server));

    await server.restart();
    expect(await labels(db)).toEqual(before);
  });

  it('SIGKILL and restart inside the callback: the next tx statement rejects with TRANSACTION_EXPIRED and so does the transaction; nothing of it is committed', async ({ onTestFinished }) => {
    const { server, db, before } = await serverWithAcknowledgedWrites(onTestFinished);

    let inner: Error & { code?: string } = new Error('not reached');
    const error = await rejectionOf(db.transaction(async (tx) => {
      await doomedWrites(tx);
      await server.restart();
      inner = await rejectionOf(tx.execute("INSERT INTO t(label) VALUES ('doomed, new server')"));
      throw inner;
    }));
    expect(error).toBe(inner);
    expect(inner).toBeInstanceOf(LibsqlError);
    expect(inner.code, inner.message).toBe('TRANSACTION_EXPIRED');
    assertNoToken(error, ...allTokens(server));
    expect(await labels(db)).toEqual(before);
    await db.transaction((tx) => tx.execute("INSERT INTO t(label) VALUES ('next transaction')"));
    expect(await labels(db)).toEqual([...before, 'next transaction']);
  });

  it('SIGKILL and restart inside a callback that swallows the error and goes on: every later tx statement is refused (none runs outside the transaction), the commit too (TRANSACTION_EXPIRED); nothing is committed', async ({ onTestFinished }) => {
    const { server, db, before } = await serverWithAcknowledgedWrites(onTestFinished);

    const refusals: (Error & { code?: string })[] = [];
    const error = await rejectionOf(db.transaction(async (tx) => {
      await tx.execute("INSERT INTO t(label) VALUES ('doomed 0')");
      await server.restart();
      refusals.push(await rejectionOf(tx.execute("INSERT INTO t(label) VALUES ('doomed, new server')")));
      refusals.push(await rejectionOf(tx.query('SELECT count(*) AS n FROM t')));
      refusals.push(await rejectionOf(tx.execute("INSERT INTO t(label) VALUES ('doomed, after the loss')")));
      return 'the callback resolved';
    }));
    expect(refusals.map((e) => e.code)).toEqual(['TRANSACTION_EXPIRED', 'TRANSACTION_EXPIRED', 'TRANSACTION_EXPIRED']);
    expect(error).toBeInstanceOf(LibsqlError);
    expect(error.code, error.message).toBe('TRANSACTION_EXPIRED');
    for (const e of [error, ...refusals]) assertNoToken(e, ...allTokens(server));
    expect(await labels(db)).toEqual(before);
  });

  it('SIGKILL and restart after the callback\'s last statement: the COMMIT rejects with TRANSACTION_EXPIRED; nothing is committed', async ({ onTestFinished }) => {
    const { server, db, before } = await serverWithAcknowledgedWrites(onTestFinished);

    const error = await commitAfter(db, () => server.restart());
    expect(error).toBeInstanceOf(LibsqlError);
    expect(error.code, error.message).toBe('TRANSACTION_EXPIRED');
    assertNoToken(error, ...allTokens(server));
    expect(await labels(db)).toEqual(before);
  });
});

describe.skipIf(ownSkip !== undefined)(`a server that stops answering (SIGSTOP)${suffix}`, () => {
  it('with requestTimeout: 500, each call rejects with REQUEST_TIMEOUT after ≥ 500 ms and < 5 s; after resume() the same Database works at once', async ({ onTestFinished }) => {
    const { server, db } = await serverWithTable(onTestFinished, { requestTimeout: 500 });
    await db.execute("INSERT INTO t(label) VALUES ('before the pause')");
    await server.pause();
    const elapsed: Record<string, number> = {};
    for (const [what, call] of plainCalls(db, 'while paused')) {
      const outcome = await timed(call());
      const error = expectTimedRejection(outcome, 'REQUEST_TIMEOUT', server, what);
      expect(error.message).toMatch(/500 ms/);
      expect(outcome.elapsed, what).toBeGreaterThanOrEqual(450);
      elapsed[what] = Math.round(outcome.elapsed);
    }
    console.log(`[reliability-remote] REQUEST_TIMEOUT after (ms): ${JSON.stringify(elapsed)}`);

    server.resume();
    const read = await timed(db.query("SELECT label FROM t WHERE label = 'before the pause'"));
    expect(read.ok && read.value).toEqual([{ label: 'before the pause' }]);
    expect(read.elapsed).toBeLessThan(450); // at once, not after a timeout
    const write = await timed(db.transaction((tx) => tx.execute("INSERT INTO t(label) VALUES ('after the resume')")));
    expect(write.ok, write.ok ? '' : String(write.error)).toBe(true);
    expect(await labels(db, 'after the resume')).toEqual(['after the resume']);
  });

  it('without requestTimeout (default 30 s), a call to a server paused for 2 s waits, then gets its answer once it resumes', async ({ onTestFinished }) => {
    const own = scope(onTestFinished);
    const server = await own.server();
    const db = await own.open({ url: server.url, authToken: server.tokens!.readWrite });
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await server.pause();
    let settled = false;
    const pending = outcomeOf(db.query('SELECT 2 AS two')).finally(() => { settled = true; });
    await sleep(2000);
    expect(settled).toBe(false);
    server.resume();
    const outcome = await pending;
    expect(outcome.ok ? outcome.value : String(outcome.error)).toEqual([{ two: 2 }]);
  });
});

/**
 * The slow cases (sqld's stream timeout, a lock the server holds for a lost transaction) run
 * concurrently, each on its own server, so the file sleeps about 15 s in all, not 60.
 */
describe.skipIf(ownSkip !== undefined)(`a transaction the server lost (idle past its stream timeout, or a request that timed out)${suffix}`, { concurrent: true }, () => {
  /**
   * What an idle transaction may do: reject with TRANSACTION_EXPIRED (without `server`'s
   * tokens) and leave nothing, or work and leave everything. Never anything in between, and
   * never a success without its writes.
   */
  function expectAllOrNothing(
    expectOf: TestContext['expect'],
    outcome: Outcome<unknown>,
    stored: string[],
    written: string[],
    server: SqldServer,
  ): void {
    if (outcome.ok) {
      expectOf(stored).toEqual(written);
    } else {
      expectOf(outcome.error).toBeInstanceOf(LibsqlError);
      expectOf(outcome.error.code, outcome.error.message).toBe('TRANSACTION_EXPIRED');
      expectOf(outcome.error.message).toMatch(/expired|lost/i);
      expectOf(stored).toEqual([]);
      assertNoToken(outcome.error, ...allTokens(server));
    }
  }

  it(`idle ${IDLE_PAST_STREAM_TIMEOUT_MS / 1000} s, then a statement: it (and the transaction) reject with TRANSACTION_EXPIRED and nothing is written, or all of it works`, async ({ expect, onTestFinished }) => {
    const { server, db } = await serverWithTable(onTestFinished);
    const outcome = await outcomeOf(db.transaction(async (tx) => {
      await tx.execute("INSERT INTO t(label) VALUES ('idle 1')");
      await sleep(IDLE_PAST_STREAM_TIMEOUT_MS);
      await tx.execute("INSERT INTO t(label) VALUES ('idle 2')");
      return 'committed';
    }));
    expectAllOrNothing(expect, outcome, await labels(db), ['idle 1', 'idle 2'], server);
    console.log(`[reliability-remote] idle ${IDLE_PAST_STREAM_TIMEOUT_MS} ms then a statement: ${outcome.ok ? 'committed' : `${outcome.error.code}: ${outcome.error.message}`}`);
    // The same Database goes on: a new transaction works.
    await db.transaction((tx) => tx.execute("INSERT INTO t(label) VALUES ('next')"));
    expect(await labels(db, 'next')).toEqual(['next']);
  });

  it(`idle ${IDLE_PAST_STREAM_TIMEOUT_MS / 1000} s, then the callback returns: the COMMIT rejects with TRANSACTION_EXPIRED and nothing is written, or all of it works`, async ({ expect, onTestFinished }) => {
    const { server, db } = await serverWithTable(onTestFinished);
    const outcome = await outcomeOf(db.transaction(async (tx) => {
      await tx.execute("INSERT INTO t(label) VALUES ('idle 1')");
      await tx.execute("INSERT INTO t(label) VALUES ('idle 2')");
      await sleep(IDLE_PAST_STREAM_TIMEOUT_MS);
      return 'committed';
    }));
    expectAllOrNothing(expect, outcome, await labels(db), ['idle 1', 'idle 2'], server);
    await db.transaction((tx) => tx.execute("INSERT INTO t(label) VALUES ('next')"));
    expect(await labels(db, 'next')).toEqual(['next']);
  });

  it(`idle ${IDLE_PAST_STREAM_TIMEOUT_MS / 1000} s, then a callback that swallows the error and goes on: no later statement runs outside the transaction, and it rejects`, async ({ expect, onTestFinished }) => {
    const { db } = await serverWithTable(onTestFinished);
    const seen: Outcome<unknown>[] = [];
    const outcome = await outcomeOf(db.transaction(async (tx) => {
      await tx.execute("INSERT INTO t(label) VALUES ('idle 1')");
      await sleep(IDLE_PAST_STREAM_TIMEOUT_MS);
      seen.push(await outcomeOf(tx.execute("INSERT INTO t(label) VALUES ('idle 2')")));
      seen.push(await outcomeOf(tx.query('SELECT count(*) AS n FROM t')));
      seen.push(await outcomeOf(tx.execute("INSERT INTO t(label) VALUES ('idle 3')")));
      return 'the callback resolved';
    }));
    const stored = await labels(db);
    if (seen[0].ok) {
      // The stream outlived the idle: everything worked, and all of it is committed.
      expect(seen.every((s) => s.ok)).toBe(true);
      expect(outcome.ok).toBe(true);
      expect(stored).toEqual(['idle 1', 'idle 2', 'idle 3']);
    } else {
      expect(seen.map((s) => (s.ok ? 'resolved' : s.error.code))).toEqual(['TRANSACTION_EXPIRED', 'TRANSACTION_EXPIRED', 'TRANSACTION_EXPIRED']);
      expect(outcome.ok ? 'resolved' : outcome.error.code).toBe('TRANSACTION_EXPIRED');
      expect(stored).toEqual([]); // not even 'idle 3', which would have run on a stream of its own
    }
  });

  it(`a Database idle ${IDLE_PAST_STREAM_TIMEOUT_MS / 1000} s runs every kind of call at the first try; a transaction idle 5 s (within the timeout) commits`, async ({ expect, onTestFinished }) => {
    const own = scope(onTestFinished);
    const server = await own.server();
    const idle = await own.open({ url: server.url, authToken: server.tokens!.readWrite });
    const other = await own.open({ url: server.url, authToken: server.tokens!.readWrite });
    await idle.exec(CREATE_T);
    expect(await idle.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    const short = other.transaction(async (tx) => {
      await tx.execute("INSERT INTO t(label) VALUES ('short idle 1')");
      await sleep(5000);
      await tx.execute("INSERT INTO t(label) VALUES ('short idle 2')");
      return 'committed';
    });
    await sleep(IDLE_PAST_STREAM_TIMEOUT_MS);
    expect(await short).toBe('committed');
    for (const kind of KINDS) await callOf(idle, kind, `after the idle: ${kind}`);
    await idle.exec("INSERT INTO t(label) VALUES ('after the idle: exec')");
    expect(await labels(idle)).toEqual(['short idle 1', 'short idle 2', 'after the idle: execute', 'after the idle: transaction', 'after the idle: batch', 'after the idle: exec']);
  });

  /** Retries `write` every 200 ms until it works (its error once `within` ms have passed); its wait in ms. */
  async function whenFree(write: () => Promise<unknown>, within: number): Promise<number> {
    const startedAt = Date.now();
    for (;;) {
      const outcome = await outcomeOf(write());
      if (outcome.ok) return Date.now() - startedAt;
      if (Date.now() - startedAt > within) throw outcome.error;
      await sleep(200);
    }
  }

  /** A write through another Database (default timeout), retried until the lock is free; its wait in ms. */
  const writeWhenFree = (db: Database, label: string, within: number) =>
    whenFree(() => db.execute('INSERT INTO t(label) VALUES (?)', [label]), within);

  /** Retries a write transaction on `db` until it works; its wait in ms. */
  const transactionWhenFree = (db: Database, label: string, within: number) =>
    whenFree(() => db.transaction((tx) => tx.execute('INSERT INTO t(label) VALUES (?)', [label])), within);

  it('a COMMIT that times out (requestTimeout: 500) rejects with REQUEST_TIMEOUT saying its outcome is unknown; the transaction is then all there or not at all; the same Database works again', async ({ expect, onTestFinished }) => {
    const { own, server, db } = await serverWithTable(onTestFinished, { requestTimeout: 500 });
    const other = await own.open({ url: server.url, authToken: server.tokens!.readWrite });
    const outcome = await timed(db.transaction(async (tx) => {
      await tx.execute("INSERT INTO t(label) VALUES ('commit timeout 1')");
      await tx.execute("INSERT INTO t(label) VALUES ('commit timeout 2')");
      await server.pause();
      return 'committed';
    }));
    server.resume();
    const error = expectTimedRejection(outcome, 'REQUEST_TIMEOUT', server);
    expect(error.message).toMatch(/COMMIT/);
    expect(error.message).toMatch(/unknown|may or may not/);

    // Reads work at once; writes once the server has settled the transaction it was left with.
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    const waited = await writeWhenFree(other, 'settled', 15_000);
    const stored = await labels(db, 'commit timeout %');
    expect([[], ['commit timeout 1', 'commit timeout 2']]).toContainEqual(stored);
    const again = await transactionWhenFree(db, 'same Database again', 15_000);
    console.log(`[reliability-remote] COMMIT timeout: the transaction was ${stored.length ? 'committed' : 'rolled back'}; another writer waited ${waited} ms, the same Database ${again} ms more`);
  });

  it('a transaction whose first statement times out (requestTimeout: 500) rejects with REQUEST_TIMEOUT; its write is never committed; the same Database works again', async ({ expect, onTestFinished }) => {
    const { own, server, db } = await serverWithTable(onTestFinished, { requestTimeout: 500 });
    const other = await own.open({ url: server.url, authToken: server.tokens!.readWrite });
    const outcome = await timed(db.transaction(async (tx) => {
      await server.pause();
      await tx.execute("INSERT INTO t(label) VALUES ('first statement timeout')");
      return 'committed';
    }));
    server.resume();
    expectTimedRejection(outcome, 'REQUEST_TIMEOUT', server);
    expect(outcome.elapsed).toBeGreaterThanOrEqual(450);

    const waited = await writeWhenFree(other, 'settled', 15_000);
    expect(await labels(db, 'first statement timeout')).toEqual([]); // no COMMIT was ever sent for it
    const again = await transactionWhenFree(db, 'same Database again', 15_000);
    expect(await labels(db)).toEqual(['settled', 'same Database again']);
    console.log(`[reliability-remote] first statement timeout: another writer waited ${waited} ms, the same Database ${again} ms more`);
  });
});

// ---- processes -------------------------------------------------------------------------

/**
 * The child processes. Both import the shipped package. The claim racers are
 * support/children/reliability-contention-worker.mjs's `claim`, given the server's url and
 * token (support/claim-race.ts); the fault child is support/children/reliability-remote-faults-child.mjs.
 */
const FAULT_CHILD = fileURLToPath(new URL('../support/children/reliability-remote-faults-child.mjs', import.meta.url));

describe.skipIf(ownSkip !== undefined)(`processes on one server${suffix}`, () => {
  /** Spawns `script` with Rust's and Node's most talkative logging, so a token in any log would show. */
  function child(script: string, args: string[], onStdoutLine?: (line: string) => void) {
    const saved = { RUST_LOG: process.env.RUST_LOG, RUST_BACKTRACE: process.env.RUST_BACKTRACE };
    process.env.RUST_LOG = 'trace';
    process.env.RUST_BACKTRACE = 'full';
    try {
      return runNodeChild(script, args, { onStdoutLine });
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  }

  function expectNoSecretIn(result: ChildResult, ...tokens: string[]): void {
    for (const secret of secretsOf(...tokens)) {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
    }
  }

  it('claimSubmission raced by two processes on one sqld, 200 rounds: exactly one winner each time, and the database agrees', async ({ onTestFinished }) => {
    const ROUNDS = 200;
    const own = scope(onTestFinished);
    const server = await own.server();
    const token = server.tokens!.readWrite;
    const adapter = libsql({ url: server.url, authToken: token });
    onTestFinished(() => adapter.close());
    await adapter.migrate();
    const { submissionStore } = await adapter.connect();
    await queueRaceSubmissions(submissionStore, ROUNDS);

    const startedAt = Date.now();
    const { racers, results } = raceClaims((who, onStdoutLine) => child(CLAIM_WORKER, ['claim', server.url, who, String(ROUNDS), token], onStdoutLine));
    onTestFinished(() => { for (const racer of racers) racer.child.kill('SIGKILL'); });
    const finished = await Promise.all(racers.map((r) => r.done));
    for (const result of finished) {
      expect(result.code, result.stderr).toBe(0);
      expectNoSecretIn(result, token);
    }

    expectOneWinnerPerRound(results, ROUNDS, (overlapping, winsA) =>
      console.log(`[reliability-remote] claim race on sqld: ${ROUNDS} rounds in ${Date.now() - startedAt} ms, ${overlapping} overlapped in time; A won ${winsA}, B won ${ROUNDS - winsA}`));

    const db = await own.open({ url: server.url, authToken: token });
    expect(await db.query(CLAIMED_ROWS_SQL)).toEqual(claimedRows(results, ROUNDS));
  });

  it('a process that meets every fault (down, not answering, restarted inside a transaction, refused credentials) shows its token in no error and no log line (RUST_LOG=trace)', async ({ onTestFinished }) => {
    const own = scope(onTestFinished);
    const server = await own.server();
    const token = server.tokens!.readWrite;
    const badToken = `not-a-jwt-${SECRET}`;
    const setup = await own.open({ url: server.url, authToken: token });
    await setup.exec(CREATE_T);

    const said: { step: string; ok: boolean; error?: { code?: string; message: string; string: string; stack: string; inspect: string } }[] = [];
    const waiters: ((line: { step: string }) => void)[] = [];
    const faults = child(FAULT_CHILD, [server.url, token, badToken], (line) => {
      if (!line.startsWith('{')) return;
      const parsed = JSON.parse(line);
      said.push(parsed);
      waiters.shift()?.(parsed);
    });
    onTestFinished(() => { faults.child.kill('SIGKILL'); });
    const run = (command: string) => {
      const answered = new Promise<{ step: string; ok: boolean; error?: { code?: string } }>((resolve) => waiters.push(resolve as never));
      faults.child.stdin!.write(`${command}\n`);
      return answered;
    };

    expect(await run('query')).toMatchObject({ step: 'query', ok: true });
    expect(await run('write')).toMatchObject({ step: 'write', ok: true });
    await server.stop();
    expect(await run('query')).toMatchObject({ ok: false, error: { code: 'SERVER_UNREACHABLE' } });
    expect(await run('write')).toMatchObject({ ok: false, error: { code: 'SERVER_UNREACHABLE' } });
    await server.restart();
    expect(await run('query')).toMatchObject({ ok: true });
    await server.pause();
    expect(await run('query')).toMatchObject({ ok: false, error: { code: 'REQUEST_TIMEOUT' } });
    server.resume();
    expect(await run('query')).toMatchObject({ ok: true });
    expect(await run('hold')).toMatchObject({ step: 'hold', ok: true });
    await server.restart();
    const lost = await run('continue');
    expect(lost).toMatchObject({ step: 'transaction', ok: false });
    expect(await run('migrate-bad')).toMatchObject({ step: 'migrate-bad', ok: false, error: { code: 'AUTH_FAILED' } });
    expect(await run('exit')).toMatchObject({ step: 'exit', ok: true });
    const result = await faults.done;
    expect(result.code, result.stderr).toBe(0);

    // Every error the child met, in every form it can be shown, and its whole output.
    const errors = said.filter((s) => !s.ok);
    expect(errors.length).toBe(5);
    for (const { error } of errors) {
      for (const secret of secretsOf(token, badToken, ...allTokens(server))) {
        for (const text of [error!.message, error!.string, error!.stack, error!.inspect]) expect(text).not.toContain(secret);
      }
    }
    expectNoSecretIn(result, token, badToken, ...allTokens(server));
    expect(lastJsonLine<{ step: string }>(result)).toEqual({ step: 'exit', ok: true });
  });
});

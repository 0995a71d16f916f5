/**
 * Credentials on a libSQL server that checks them: a sqld started with a JWT key
 * (support/sqld-server.ts, `startSqld({ auth: true })`), through `open()` and through the Flue
 * adapter `libsql()`.
 *
 * - No token, an empty one, a string that is no JWT, an expired token and a token signed by
 *   another key are refused: AUTH_FAILED on every kind of call, nothing written.
 * - A read-only token reads, and every kind of write is refused (over HTTP sqld answers 403;
 *   over WebSocket it drops the socket) without writing anything or leaving a lock behind.
 * - The read-write token works through every url form.
 * - No token ever appears in an error's message, String(), stack or inspect().
 *
 * Needs a sqld (scripts/sqld-binary.mjs); skipped without one, with the reason in
 * the suite's name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libsql, LibsqlError, open, type Database } from '../../dist/index.js';
import { OWN_SERVER_SKIP_REASON, skipSuffix } from '../support/remote-target.js';
import { rejectionOf } from '../support/runner-helpers.js';
import { assertNoToken } from '../support/secrets.js';
import { startSqld, stopAllSqld, TEST_TRANSPORT, type SqldServer } from '../support/sqld-server.js';

const skipReason = OWN_SERVER_SKIP_REASON;

/** A token that is no JWT: the engine's redaction of JWT-looking words cannot hide it. */
const NOT_A_JWT = 'SECRET-not-a-jwt-7f3a9c2e';

type Call = [what: string, run: () => Promise<unknown>];

describe.skipIf(skipReason !== undefined)(`a libSQL server that checks tokens${skipSuffix(skipReason)}`, () => {
  let server: SqldServer;
  /** Opened with the read-write token: sets up, and checks what others left. */
  let owner: Database;
  const opened: Database[] = [];

  beforeAll(async () => {
    server = await startSqld({ auth: true });
    owner = await open({ url: server.url, authToken: server.tokens!.readWrite });
    await owner.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('seed');");
  });
  afterAll(async () => {
    await Promise.all([owner, ...opened].map((db) => db?.close().catch(() => {})));
    await server?.dispose();
    await stopAllSqld();
  });

  async function openWith(options: { url?: string; authToken?: string } | string): Promise<Database> {
    const db = await open(typeof options === 'string' ? options : { url: server.url, ...options });
    opened.push(db);
    return db;
  }

  const everyToken = () => [...Object.values(server.tokens!), NOT_A_JWT];

  /** Every table and every row, as the owner sees them. */
  async function snapshot(): Promise<unknown> {
    return {
      tables: await owner.query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"),
      rows: await owner.query('SELECT id, v FROM t ORDER BY id'),
    };
  }

  function expectRefused(error: Error & { code?: string }, what: string): void {
    expect(error, what).toBeInstanceOf(LibsqlError);
    expect(error.code, `${what}: ${error.message}`).toBe('AUTH_FAILED');
    expect(error.message, what).toMatch(/credentials|401|403|unauthorized|forbidden/i);
    assertNoToken(error, ...everyToken());
  }

  /**
   * A write the read-only token may not make. Over HTTP sqld answers 403; over WebSocket it
   * drops the socket without a reason, so the error can only say that the connection was lost
   * during the request, and why that happens.
   */
  function expectWriteRefused(error: Error & { code?: string }, what: string): void {
    if (TEST_TRANSPORT === 'http') return expectRefused(error, what);
    expect(error, what).toBeInstanceOf(LibsqlError);
    expect(error.code, `${what}: ${error.message}`).toBe('SERVER_UNREACHABLE');
    expect(error.message, what).toMatch(/lost the connection .* during a request .* read-only token/);
    assertNoToken(error, ...everyToken());
  }

  const reads = (db: Database): [...Call, unknown][] => [
    ['query', () => db.query('SELECT v FROM t ORDER BY id'), [{ v: 'seed' }]],
    ['execute SELECT', () => db.execute('SELECT v FROM t'), { rowsAffected: 0, lastInsertRowid: 0 }],
    ['batch of SELECTs', () => db.batch(['SELECT v FROM t', 'SELECT count(*) AS n FROM t']).then((r) => r.map((x) => x.rows)), [[{ v: 'seed' }], [{ n: 1 }]]],
    ['transaction of reads', () => db.transaction(async (tx) => [await tx.query('SELECT v FROM t'), await tx.query('SELECT count(*) AS n FROM t')]), [[{ v: 'seed' }], [{ n: 1 }]]],
    ['exec SELECT', () => db.exec('SELECT v FROM t'), undefined],
  ];

  const writes = (db: Database): Call[] => [
    ['execute INSERT', () => db.execute("INSERT INTO t(v) VALUES ('refused: execute')")],
    ['query INSERT … RETURNING', () => db.query("INSERT INTO t(v) VALUES ('refused: query') RETURNING id")],
    ['exec CREATE TABLE', () => db.exec('CREATE TABLE created_by_exec(a)')],
    ['exec INSERT', () => db.exec("INSERT INTO t(v) VALUES ('refused: exec')")],
    ['batch of INSERTs', () => db.batch(["INSERT INTO t(v) VALUES ('refused: batch 1')", "INSERT INTO t(v) VALUES ('refused: batch 2')"])],
    ['batch of a SELECT, then an INSERT', () => db.batch(['SELECT count(*) FROM t', "INSERT INTO t(v) VALUES ('refused: batch 3')"])],
    ['transaction that writes first', () => db.transaction((tx) => tx.execute("INSERT INTO t(v) VALUES ('refused: tx 1')"))],
    ['transaction that reads, then writes', () => db.transaction(async (tx) => {
      await tx.query('SELECT count(*) FROM t');
      await tx.execute("INSERT INTO t(v) VALUES ('refused: tx 2')");
    })],
    ['migrate()', () => db.migrate([{ version: 1, name: 'one', sql: 'CREATE TABLE created_by_migrate(a)' }])],
  ];

  const refusedTokens: [string, () => string | undefined][] = [
    ['no token', () => undefined],
    ['an empty token', () => ''],
    ['a string that is no JWT', () => NOT_A_JWT],
    ['an expired token', () => server.tokens!.expired],
    ['a token signed by a foreign key', () => server.tokens!.foreign],
  ];

  it.each(refusedTokens)('%s → AUTH_FAILED on every kind of call, reads and writes; nothing is written; no token in any error', async (_what, token) => {
    const before = await snapshot();
    const db = await openWith({ authToken: token() });
    for (const [what, call] of [...reads(db), ...writes(db)]) expectRefused(await rejectionOf(call()), what);
    expect(await snapshot()).toEqual(before);
  });

  it('an expired token is refused with the reason: the token has expired', async () => {
    const db = await openWith({ authToken: server.tokens!.expired });
    const error = await rejectionOf(db.query('SELECT 1'));
    expectRefused(error, 'query');
    expect(error.message).toMatch(/expired/i);
  });

  it.each([
    ['a string that is no JWT', () => NOT_A_JWT],
    ['an expired token', () => server.tokens!.expired],
  ])('%s in the url (?authToken=) → AUTH_FAILED; the url’s token is in no error', async (_what, token) => {
    const db = await openWith(`${server.url}/?authToken=${encodeURIComponent(token())}`);
    expectRefused(await rejectionOf(db.query('SELECT 1')), 'query');
    expectRefused(await rejectionOf(db.execute("INSERT INTO t(v) VALUES ('refused: url token')")), 'execute');
  });

  it('the read-only token: every kind of read works', async () => {
    const db = await openWith({ authToken: server.tokens!.readOnly });
    for (const [what, call, expected] of reads(db)) expect(await call(), what).toEqual(expected);
  });

  it('the read-only token: every kind of write → AUTH_FAILED and nothing is written; reads still work afterwards, and the owner writes at once (no lock left behind)', async () => {
    const before = await snapshot();
    const db = await openWith({ authToken: server.tokens!.readOnly });
    for (const [what, call] of writes(db)) expectWriteRefused(await rejectionOf(call()), what);
    expect(await snapshot()).toEqual(before);
    expect(await db.query('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'seed' }]);

    const startedAt = Date.now();
    await owner.transaction((tx) => tx.execute("INSERT INTO t(v) VALUES ('owner after the refusals')"));
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(await db.query('SELECT v FROM t ORDER BY id')).toEqual([{ v: 'seed' }, { v: 'owner after the refusals' }]);
    await owner.execute("DELETE FROM t WHERE v = 'owner after the refusals'");
  });

  it('the read-only token: a write refused inside a transaction is reported as refused credentials, not as a lost stream (expired, restarted)', async () => {
    const db = await openWith({ authToken: server.tokens!.readOnly });
    const error = await rejectionOf(db.transaction(async (tx) => {
      await tx.query('SELECT count(*) FROM t');
      await tx.execute("INSERT INTO t(v) VALUES ('refused: tx 3')");
    }));
    expectWriteRefused(error, 'transaction');
    expect(error.message, error.message).not.toMatch(/expired|restarted|stream/i);
  });

  it.each([
    ['http://', () => ({ url: server.httpUrl, authToken: server.tokens!.readWrite })],
    ['ws://', () => ({ url: server.httpUrl.replace('http://', 'ws://'), authToken: server.tokens!.readWrite })],
    ['libsql://…?tls=0', () => ({ url: `${server.httpUrl.replace('http://', 'libsql://')}?tls=0`, authToken: server.tokens!.readWrite })],
    ['?authToken= in the url', () => ({ url: `${server.httpUrl}/?authToken=${server.tokens!.readWrite}` })],
  ])('the read-write token works through %s: reads, every kind of write, and they are stored', async (what, options) => {
    const db = await openWith(options());
    const tag = `written through ${what}`;
    expect(await db.query('SELECT v FROM t WHERE id = 1')).toEqual([{ v: 'seed' }]);
    expect((await db.execute('INSERT INTO t(v) VALUES (?)', [`${tag}: execute`])).rowsAffected).toBe(1);
    await db.exec(`INSERT INTO t(v) VALUES ('${tag}: exec')`);
    await db.batch([['INSERT INTO t(v) VALUES (?)', [`${tag}: batch`]]]);
    await db.transaction(async (tx) => {
      await tx.query('SELECT count(*) FROM t');
      await tx.execute('INSERT INTO t(v) VALUES (?)', [`${tag}: transaction`]);
    });
    expect((await owner.query('SELECT v FROM t WHERE v LIKE ? ORDER BY id', [`${tag}:%`])).map((row) => row.v)).toEqual(
      ['execute', 'exec', 'batch', 'transaction'].map((kind) => `${tag}: ${kind}`));
    await owner.execute('DELETE FROM t WHERE v LIKE ?', [`${tag}:%`]);
  });

  describe('through the Flue adapter, libsql({ url, authToken })', () => {
    const flueTables = async () => (await owner.query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'flue\\_%' ESCAPE '\\'")).length;

    it.each([...refusedTokens, ['the read-only token', () => server.tokens!.readOnly] as [string, () => string]])('%s: migrate() and connect() → AUTH_FAILED, no Flue table is created, no token in the error', async (what, token) => {
      expect(await flueTables()).toBe(0);
      const adapter = libsql({ url: server.url, authToken: token() });
      // The migration's first write is what the read-only token is refused.
      const expectFailed = what === 'the read-only token' ? expectWriteRefused : expectRefused;
      try {
        expectFailed(await rejectionOf(adapter.migrate()), 'migrate()');
        // Not cached as a success, nor as a failure: the next call asks the server again.
        expectFailed(await rejectionOf(adapter.migrate()), 'migrate() again');
        expectFailed(await rejectionOf(adapter.connect()), 'connect()');
      } finally {
        await adapter.close();
      }
      expect(await flueTables()).toBe(0);
    });

    it('a bad token from LIBSQL_AUTH_TOKEN (the environment) → AUTH_FAILED at migrate(), without the token', async () => {
      const saved = process.env.LIBSQL_AUTH_TOKEN;
      process.env.LIBSQL_AUTH_TOKEN = NOT_A_JWT;
      try {
        const adapter = libsql({ url: server.url });
        expectRefused(await rejectionOf(adapter.migrate()), 'migrate()');
        await adapter.close();
      } finally {
        if (saved === undefined) delete process.env.LIBSQL_AUTH_TOKEN;
        else process.env.LIBSQL_AUTH_TOKEN = saved;
      }
      expect(await flueTables()).toBe(0);
    });

    it('the read-write token: migrate() creates Flue’s schema, and the stores write through connect()', async () => {
      const adapter = libsql({ url: server.url, authToken: server.tokens!.readWrite });
      try {
        await adapter.migrate();
        const { submissionStore } = await adapter.connect();
        await submissionStore.admitDirect({
          kind: 'direct', submissionId: 'auth-1', agent: 'auth', id: 'auth-instance',
          message: { kind: 'user', body: 'hello' }, acceptedAt: new Date().toISOString(),
        });
        expect((await submissionStore.getSubmission('auth-1'))?.status).toBe('queued');
      } finally {
        await adapter.close();
      }
      expect(await flueTables()).toBeGreaterThan(0);
      expect(await owner.query('SELECT submission_id FROM flue_agent_submissions')).toEqual([{ submission_id: 'auth-1' }]);
    });
  });
});

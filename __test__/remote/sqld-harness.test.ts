/**
 * The sqld test harness (support/sqld-server.ts) proven against a real server with plain Hrana
 * HTTP requests, so later remote tests can trust what it says about starts, auth, restarts,
 * kills and pauses. Needs a sqld (scripts/sqld-binary.mjs); skipped without one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { sqldBinary, startSqld, stopAllSqld, TEST_TRANSPORT, type SqldServer } from '../support/sqld-server.js';

const binary = sqldBinary();
const skipReason = 'skipReason' in binary ? binary.skipReason : undefined;
if (skipReason) console.warn(`sqld harness tests skipped: ${skipReason}`);

interface PipelineAnswer { status: number; body: any }

/** One Hrana v3 pipeline over HTTP: each statement, then close. */
async function pipeline(server: SqldServer, sqls: string[], options: { token?: string; signal?: AbortSignal } = {}): Promise<PipelineAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const requests = [...sqls.map((sql) => ({ type: 'execute', stmt: { sql } })), { type: 'close' }];
  const response = await fetch(`${server.httpUrl}/v3/pipeline`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ baton: null, requests }),
    signal: options.signal,
  });
  return { status: response.status, body: await response.json() };
}

/** The rows of the statement at `index`, after checking every result is ok. */
function rows(answer: PipelineAnswer, index = 0): unknown[][] {
  expect(answer.status).toBe(200);
  for (const result of answer.body.results) expect(result.type, JSON.stringify(result)).toBe('ok');
  return answer.body.results[index].response.result.rows;
}

const ONE = [[{ type: 'integer', value: '1' }]];

/** The error `fetch` rejected with, and the code of its cause (ECONNREFUSED, ...). */
async function fetchFailure(promise: Promise<unknown>): Promise<{ name: string; code: unknown }> {
  const error = await promise.then(() => expect.unreachable('the request should have failed'), (e: unknown) => e as Error & { cause?: { code?: unknown } });
  return { name: error.name, code: error.cause?.code };
}

describe.skipIf(skipReason !== undefined)(`sqld harness${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  afterAll(() => stopAllSqld());

  it('a plain server answers GET /health and a Hrana pipeline', async () => {
    const server = await startSqld();
    expect(server.httpUrl).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.url).toBe(TEST_TRANSPORT === 'ws' ? `ws://127.0.0.1:${server.port}` : server.httpUrl);
    const health = await fetch(`${server.httpUrl}/health`);
    expect(health.status).toBe(200);
    expect(rows(await pipeline(server, ['SELECT 1']))).toEqual(ONE);
    expect(server.tokens).toBeUndefined();
    await server.dispose();
  });

  it('an auth server refuses no token, an expired token, a foreign key and a write with a read-only token', async () => {
    const server = await startSqld({ auth: true });
    const tokens = server.tokens!;
    expect(await pipeline(server, ['SELECT 1'])).toEqual({
      status: 401,
      body: { error: 'Unauthorized: `Expected authorization header but none given`' },
    });
    expect(await pipeline(server, ['SELECT 1'], { token: tokens.expired })).toEqual({
      status: 401,
      body: { error: 'Unauthorized: `The JWT has expired`' },
    });
    expect(await pipeline(server, ['SELECT 1'], { token: tokens.foreign })).toEqual({
      status: 401,
      body: { error: 'Unauthorized: `The JWT is invalid`' },
    });
    expect(rows(await pipeline(server, ['SELECT 1'], { token: tokens.readWrite }))).toEqual(ONE);
    expect(rows(await pipeline(server, ['SELECT 1'], { token: tokens.readOnly }))).toEqual(ONE);
    // A write with a read-only token is refused for the whole request (HTTP 403), not inside results.
    expect(await pipeline(server, ['CREATE TABLE x(a)'], { token: tokens.readOnly })).toEqual({
      status: 403,
      body: { error: "Authorization forbidden: Current session doesn't not have Write permission to namespace default" },
    });
    rows(await pipeline(server, ['CREATE TABLE x(a)'], { token: tokens.readWrite }));
    await server.dispose();
  });

  it('restart() keeps what was written, on the same url, with the same key', async () => {
    const server = await startSqld({ auth: true });
    const { url, port, dbPath, pid } = server;
    const token = server.tokens!.readWrite;
    rows(await pipeline(server, ['CREATE TABLE t(a)', "INSERT INTO t VALUES ('before restart')"], { token }));
    await server.restart();
    expect({ url: server.url, port: server.port, dbPath: server.dbPath }).toEqual({ url, port, dbPath });
    expect(server.pid).not.toBe(pid);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(rows(await pipeline(server, ['SELECT a FROM t'], { token }))).toEqual([[{ type: 'text', value: 'before restart' }]]);
    await server.dispose();
  });

  it('stop() ends the process, then requests fail to connect; stop() again is a no-op', async () => {
    const server = await startSqld();
    rows(await pipeline(server, ['SELECT 1']));
    await server.stop();
    expect(() => process.kill(server.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(await fetchFailure(pipeline(server, ['SELECT 1']))).toEqual({ name: 'TypeError', code: 'ECONNREFUSED' });
    await server.stop();
    await server.stop({ graceful: true });
    await server.dispose();
  });

  it('stop({ graceful: true }) ends a paused server too', async () => {
    const server = await startSqld();
    await server.pause();
    await server.stop({ graceful: true });
    expect(() => process.kill(server.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await server.dispose();
  });

  it('pause() makes requests time out, resume() makes them answer again', async () => {
    const server = await startSqld();
    rows(await pipeline(server, ['SELECT 1']));
    await server.pause();
    expect(await fetchFailure(pipeline(server, ['SELECT 1'], { signal: AbortSignal.timeout(500) }))).toEqual({
      name: 'TimeoutError',
      code: undefined,
    });
    server.resume();
    expect(rows(await pipeline(server, ['SELECT 1'], { signal: AbortSignal.timeout(5000) }))).toEqual(ONE);
    await server.dispose();
  });
});

/**
 * A failing libSQL server: unreachable at boot, refusing credentials, stopped and restarted.
 *
 * - An unreachable server at `migrate()` needs no server at all (a closed loopback port):
 *   these tests ALWAYS run.
 * - Wrong and expired tokens need a real server that checks tokens: set FLUE_LIBSQL_TEST_URL
 *   and FLUE_LIBSQL_TEST_AUTH_TOKEN. Without them they are skipped, with the reason printed.
 * - Stopping and restarting the server needs a way to do it: set FLUE_LIBSQL_TEST_SERVER_CMD
 *   to a shell command that takes `stop` or `start` as its last argument (for example
 *   `docker compose -f sqld.yml` or `./scripts/sqld.sh`). Without it they are skipped.
 * No fake server is written here: a fake would prove only that the fake behaves.
 */
import { execSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { libsql, LibsqlError, open, type Database } from '../dist/index.js';
import { rejectionOf, remoteConfig, sleep } from './support/runner-helpers.js';

const SECRET = 'SECRET-TOKEN-123';

function assertNoToken(error: unknown, ...tokens: string[]): void {
  const e = error as Error;
  for (const text of [String(e?.message), String(e?.stack), inspect(error)]) {
    for (const token of tokens) expect(text).not.toContain(token);
  }
}

/** A loopback port nothing listens on: bind an ephemeral port, then release it. */
async function closedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('a server that is unreachable at boot (no server needed: always runs)', () => {
  it.each(['http', 'https', 'libsql'])('libsql({ url: %s://127.0.0.1:<closed port> }).migrate() fails fast with SERVER_UNREACHABLE, without the token', async (scheme) => {
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

const config = remoteConfig();
const serverSkip = 'skipReason' in config ? config.skipReason : undefined;
const tokenSkip = serverSkip ?? (!('authToken' in config) || !config.authToken ? 'FLUE_LIBSQL_TEST_AUTH_TOKEN is not set (a server without auth accepts any token)' : undefined);
const controlSkip = serverSkip ?? (process.env.FLUE_LIBSQL_TEST_SERVER_CMD ? undefined : 'FLUE_LIBSQL_TEST_SERVER_CMD is not set (no way to stop and start the server)');
if (tokenSkip) console.warn(`[reliability-remote] skipping the wrong/expired token tests: ${tokenSkip}`);
if (controlSkip) console.warn(`[reliability-remote] skipping the stop/restart tests: ${controlSkip}`);

function remoteUrl(): string {
  if ('skipReason' in config) throw new Error(config.skipReason);
  return config.url;
}

/** A JWT that is well formed and expired an hour ago, signed with a key the server does not have. */
function expiredJwt(): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${encode({ alg: 'EdDSA', typ: 'JWT' })}.${encode({ iat: now - 7200, exp: now - 3600, a: 'rw' })}.${Buffer.from(randomUUID()).toString('base64url')}`;
}

describe.skipIf(tokenSkip !== undefined)(`a server that refuses the credentials${tokenSkip ? ` (skipped: ${tokenSkip})` : ''}`, () => {
  it.each([
    ['a wrong token', () => SECRET],
    ['an expired token', expiredJwt],
  ])('%s → AUTH_FAILED at migrate(), without the token', async (_what, token) => {
    const value = token();
    const adapter = libsql({ url: remoteUrl(), authToken: value });
    const error = await rejectionOf(adapter.migrate());
    expect(error).toBeInstanceOf(LibsqlError);
    expect(error.code).toBe('AUTH_FAILED');
    expect(error.message).toMatch(/credentials|401|403|unauthorized|forbidden/i);
    assertNoToken(error, value, value.slice(-20));
    await adapter.close();
  });

  it('a wrong token in the url → AUTH_FAILED on the first statement, without the token', async () => {
    const url = new URL(remoteUrl());
    url.searchParams.set('authToken', SECRET);
    const db = await open(url.toString());
    try {
      const error = await rejectionOf(db.query('SELECT 1'));
      expect(error.code).toBe('AUTH_FAILED');
      assertNoToken(error, SECRET);
    } finally {
      await db.close();
    }
  });
});

describe.skipIf(controlSkip !== undefined)(`a server that stops and restarts${controlSkip ? ` (skipped: ${controlSkip})` : ''}`, () => {
  const table = `flue_libsql_reliability_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const server = (action: 'stop' | 'start') => execSync(`${process.env.FLUE_LIBSQL_TEST_SERVER_CMD} ${action}`, { stdio: 'inherit', timeout: 60_000 });

  async function untilReachable(db: Database): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await db.query('SELECT 1');
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(250);
      }
    }
  }

  it('statements fail clearly while it is down, and the same Database works again after the restart; committed data survives', async () => {
    const { url, authToken } = config as { url: string; authToken?: string };
    const db = await open({ url, authToken });
    try {
      await db.exec(`CREATE TABLE ${table}(id INTEGER PRIMARY KEY, v TEXT)`);
      await db.execute(`INSERT INTO ${table}(v) VALUES ('before the stop')`);
      server('stop');
      try {
        const startedAt = Date.now();
        const error = await rejectionOf(db.query(`SELECT v FROM ${table}`));
        expect(error).toBeInstanceOf(LibsqlError);
        expect(error.code).toBe('SERVER_UNREACHABLE');
        expect(Date.now() - startedAt).toBeLessThan(30_000);
        if (authToken) assertNoToken(error, authToken);
        const migrating = await rejectionOf(libsql({ url, authToken }).migrate());
        expect(migrating.code).toBe('SERVER_UNREACHABLE');
      } finally {
        server('start');
      }
      await untilReachable(db);
      expect(await db.query(`SELECT v FROM ${table}`)).toEqual([{ v: 'before the stop' }]);
      await db.execute(`INSERT INTO ${table}(v) VALUES ('after the restart')`);
      expect(await db.query(`SELECT count(*) AS n FROM ${table}`)).toEqual([{ n: 2 }]);
    } finally {
      await db.exec(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
      await db.close();
    }
  });

  it('a transaction cut by the stop rejects, and none of it is committed', async () => {
    const { url, authToken } = config as { url: string; authToken?: string };
    const db = await open({ url, authToken });
    try {
      await db.exec(`CREATE TABLE ${table}_tx(id INTEGER PRIMARY KEY, v TEXT)`);
      const error = await rejectionOf(db.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${table}_tx(v) VALUES ('uncommitted')`);
        server('stop');
        await tx.execute(`INSERT INTO ${table}_tx(v) VALUES ('never reaches the server')`);
      }));
      expect(error).toBeInstanceOf(LibsqlError);
      server('start');
      await untilReachable(db);
      expect(await db.query(`SELECT v FROM ${table}_tx`)).toEqual([]);
    } finally {
      await db.exec(`DROP TABLE IF EXISTS ${table}_tx`).catch(() => {});
      await db.close();
    }
  });
});

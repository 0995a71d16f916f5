/**
 * A real libSQL server (sqld) for tests: started on loopback, on a free port, in its own temp
 * folder, optionally with JWT auth; killed, paused or restarted on demand. Never left behind: an
 * exit hook SIGKILLs whatever a failing test did not stop. The binary: FLUE_LIBSQL_SQLD, else the `sqld` dev dependency's (scripts/sqld-binary.mjs).
 */
import { sqldBinary } from '../../scripts/sqld-binary.mjs';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTlsTerminator } from './tls-terminator.js';

const HEALTH_TIMEOUT_MS = 20_000;
const RESTART_RETRY_MS = 5_000; // the old listener's port may take a moment to come free
const START_ATTEMPTS = 5; // another process may take the free port before sqld binds it
const TAIL_CHARS = 8192;

export { sqldBinary };

/**
 * How the tests' clients speak to the servers started here: Hrana over HTTP (default) or over
 * WebSocket (`FLUE_LIBSQL_TEST_TRANSPORT=ws`; scripts/test.mjs runs the remote suites both ways).
 */
export const TEST_TRANSPORT: 'http' | 'ws' = process.env.FLUE_LIBSQL_TEST_TRANSPORT === 'ws' ? 'ws' : 'http';

/**
 * With `FLUE_LIBSQL_TEST_TLS_DIR` (the test command's TLS pass), every server started here sits
 * behind a TLS terminator (support/tls-terminator.ts) serving that folder's `server.pem`, and
 * hands out `https://` / `wss://` urls; the pass's processes trust its CA through
 * NODE_EXTRA_CA_CERTS, as a Node user trusts a private CA.
 */
export const TEST_TLS_DIR: string | undefined = process.env.FLUE_LIBSQL_TEST_TLS_DIR || undefined;

export interface SqldTokens { readWrite: string; readOnly: string; expired: string; /** signed by a different key */ foreign: string }

export interface SqldServer {
  /**
   * The url clients are given: `http://127.0.0.1:PORT`, or `ws://…` when the tests run over
   * WebSocket (FLUE_LIBSQL_TEST_TRANSPORT=ws, see `TEST_TRANSPORT`); `https://` / `wss://` on
   * the TLS terminator's port in the TLS pass (`TEST_TLS_DIR`).
   */
  url: string;
  /** `http://127.0.0.1:PORT` whatever the transport (health checks, proxies of plain HTTP). */
  httpUrl: string;
  port: number;
  dbPath: string; // the --db-path folder
  pid: number;
  tokens?: SqldTokens; // present when started with { auth: true }
  /** SIGKILL (or SIGTERM with { graceful: true }) and wait for exit; idempotent. */
  stop(options?: { graceful?: boolean }): Promise<void>;
  /** Stops (if running) and starts again on the same dbPath and port; waits for /health. Same key file if auth. */
  restart(): Promise<void>;
  /**
   * SIGSTOP, then waits until every thread of sqld has stopped: the signal is asynchronous,
   * and a request sent at once could still be answered by a thread not yet stopped.
   */
  pause(): Promise<void>;
  /** SIGCONT */
  resume(): void;
  /** Removes the temp folder after stopping. */
  dispose(): Promise<void>;
}

/** One sqld process: its exit as a promise (spawn errors count as exit) and its output's tail. */
interface Launch { child: ChildProcess; ended: Promise<void>; tail(): string }
interface Entry { dir: string; launch?: Launch; server?: SqldServer }

const entries = new Set<Entry>();
const running = (launch?: Launch): launch is Launch =>
  launch !== undefined && launch.child.pid !== undefined && launch.child.exitCode === null && launch.child.signalCode === null;

// Synchronous on purpose: 'exit' handlers cannot await. Covers tests that threw before stop().
process.on('exit', () => {
  for (const { dir, launch } of entries) {
    if (running(launch)) try { process.kill(launch.child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    try { rmSync(dir, { recursive: true, force: true, maxRetries: 2 }); } catch { /* best effort */ }
  }
});

/** Stops every server still registered and removes its temp folder (for afterAll hooks). */
export async function stopAllSqld(): Promise<void> {
  await Promise.all([...entries].map((entry) => entry.server?.dispose()));
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((ok, fail) => probe.once('error', fail).listen(0, '127.0.0.1', ok));
  const { port } = probe.address() as AddressInfo;
  await new Promise((ok) => probe.close(ok));
  return port;
}

function launch(binary: string, dir: string, port: number, keyFile?: string): Launch {
  const args = ['--db-path', join(dir, 'data.sqld'), '--http-listen-addr', `127.0.0.1:${port}`, '--no-welcome'];
  if (keyFile) args.push('--auth-jwt-key-file', keyFile);
  // Only PATH and HOME: any inherited SQLD_* variable could add listeners or change auth.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
  if (process.env.SQLD_CACHE_DIR) env.SQLD_CACHE_DIR = process.env.SQLD_CACHE_DIR;
  const child = spawn(binary, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  // Read both pipes (a full pipe would block sqld), keeping only the tail for error messages.
  let text = '';
  const keep = (chunk: Buffer) => { text = (text + chunk.toString('utf8')).slice(-TAIL_CHARS); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const ended = new Promise<void>((done) => {
    child.once('exit', () => done());
    child.once('error', (error) => { keep(Buffer.from(`spawn failed: ${error.message}\n`)); done(); });
  });
  return { child, ended, tail: () => text };
}

/** Polls GET /health until 200, the process exits, or the deadline passes. */
async function healthy(launched: Launch, url: string, deadline: number): Promise<'ok' | 'exited' | 'timeout'> {
  let exited = false;
  void launched.ended.then(() => { exited = true; });
  while (Date.now() < deadline) {
    if (exited) return 'exited';
    // A 200 after our process exited came from whoever else took the port: check `exited` again.
    const status = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) })
      .then(async (response) => (await response.arrayBuffer(), response.status)).catch(() => 0); // 0: not up yet
    if (status === 200 && !exited) return 'ok';
    await Promise.race([sleep(50), launched.ended]);
  }
  return exited ? 'exited' : 'timeout';
}

/** Waits until every thread of `pid` is in the stopped state (Linux /proc), for up to 2 s. */
async function allThreadsStopped(pid: number): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    let states: string[];
    try {
      const tasks = await readdir(`/proc/${pid}/task`);
      states = await Promise.all(
        tasks.map(async (task) => {
          const stat = await readFile(`/proc/${pid}/task/${task}/stat`, 'utf8').catch(() => ') T');
          return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        }),
      );
    } catch {
      // No /proc (not Linux): give the signal a moment instead.
      await sleep(100);
      return;
    }
    if (states.every((state) => state === 'T' || state === 't')) return;
    if (Date.now() > deadline) throw new Error(`sqld (pid ${pid}) did not stop within 2 s of SIGSTOP: thread states ${states.join('')}`);
    await sleep(2);
  }
}

function jwt(key: KeyObject, claims: object): string {
  const b64u = (value: string | Buffer) => Buffer.from(value).toString('base64url');
  const head = `${b64u(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' }))}.${b64u(JSON.stringify(claims))}`;
  return `${head}.${b64u(sign(null, Buffer.from(head), key))}`;
}

/** Starts a fresh sqld on 127.0.0.1 on a free port, in a new temp folder, and waits until GET /health answers 200. */
export async function startSqld(options: { auth?: boolean; binary?: string } = {}): Promise<SqldServer> {
  const found = options.binary ? { path: resolve(process.cwd(), options.binary) } : sqldBinary();
  if (!('path' in found)) throw new Error(`startSqld: ${found.skipReason}`);
  const binary = found.path;
  const dir = await mkdtemp(join(tmpdir(), 'flue-libsql-sqld-'));
  const entry: Entry = { dir };
  entries.add(entry);

  let keyFile: string | undefined;
  let tokens: SqldTokens | undefined;
  if (options.auth) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const stranger = generateKeyPairSync('ed25519').privateKey;
    keyFile = join(dir, 'jwt-public.pem');
    await writeFile(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    tokens = {
      readWrite: jwt(privateKey, { a: 'rw' }),
      readOnly: jwt(privateKey, { a: 'ro' }),
      // sqld allows 60 s of clock skew past `exp` (jsonwebtoken's default leeway): an hour is expired.
      expired: jwt(privateKey, { a: 'rw', exp: Math.floor(Date.now() / 1000) - 3600 }),
      foreign: jwt(stranger, { a: 'rw' }),
    };
  }
  // Error text carries sqld's output; tokens never go in it, even if sqld were to log one.
  const redact = (text: string) => Object.values(tokens ?? {}).reduce((t, token) => t.split(token).join('<token>'), text);
  const failure = (what: string, launched: Launch) => {
    const { exitCode: code, signalCode: signal } = launched.child;
    const status = code !== null || signal !== null ? ` (exit code ${code}, signal ${signal})` : '';
    return new Error(`${what}${status}; sqld ${binary} in ${dir}\n--- sqld output (tail) ---\n${redact(launched.tail()).trimEnd()}`);
  };
  const cleanup = async () => { entries.delete(entry); await rm(dir, { recursive: true, force: true }); };

  let port = 0;
  const stop = async ({ graceful = false } = {}) => {
    const launched = entry.launch;
    if (!running(launched)) return;
    launched.child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    if (graceful) launched.child.kill('SIGCONT'); // a paused process would hold the SIGTERM forever
    const force = setTimeout(() => launched.child.kill('SIGKILL'), 10_000);
    await launched.ended.finally(() => clearTimeout(force));
  };

  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const launched = (entry.launch = launch(binary, dir, port, keyFile));
    const state = await healthy(launched, `http://127.0.0.1:${port}`, Date.now() + HEALTH_TIMEOUT_MS);
    if (state === 'ok') break;
    await stop();
    if (state === 'exited' && attempt < START_ATTEMPTS) continue;
    await cleanup();
    throw failure(state === 'exited'
      ? `sqld exited before answering /health on 127.0.0.1:${port}, ${attempt} attempts`
      : `sqld did not answer /health on 127.0.0.1:${port} within ${HEALTH_TIMEOUT_MS} ms`, launched);
  }

  const httpUrl = `http://127.0.0.1:${port}`;
  const terminator = TEST_TLS_DIR
    ? await startTlsTerminator(port, { certPath: join(TEST_TLS_DIR, 'server.pem'), keyPath: join(TEST_TLS_DIR, 'server-key.pem') })
    : undefined;
  const [scheme, clientPort] = terminator ? [TEST_TRANSPORT === 'ws' ? 'wss' : 'https', terminator.port] : [TEST_TRANSPORT, port];
  const server: SqldServer = {
    url: `${scheme}://127.0.0.1:${clientPort}`,
    httpUrl,
    port,
    dbPath: join(dir, 'data.sqld'),
    pid: entry.launch!.child.pid!,
    tokens,
    stop,
    async restart() {
      await stop();
      const retryUntil = Date.now() + RESTART_RETRY_MS;
      for (;;) {
        const launched = (entry.launch = launch(binary, dir, port, keyFile));
        const state = await healthy(launched, httpUrl, Date.now() + HEALTH_TIMEOUT_MS);
        if (state === 'ok') { server.pid = launched.child.pid!; return; }
        await stop();
        if (state === 'exited' && Date.now() < retryUntil) { await sleep(200); continue; }
        throw failure(`sqld did not come back on ${server.url} after restart (${state})`, launched);
      }
    },
    async pause() {
      if (!running(entry.launch)) return;
      const pid = entry.launch.child.pid!;
      process.kill(pid, 'SIGSTOP');
      await allThreadsStopped(pid);
    },
    resume() { if (running(entry.launch)) process.kill(entry.launch.child.pid!, 'SIGCONT'); },
    async dispose() { await terminator?.close(); await stop(); await cleanup(); },
  };
  entry.server = server;
  return server;
}

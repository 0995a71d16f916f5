/**
 * A Flue app built with `vite build` (Node target) and run as `node dist/server.mjs`, for the
 * tests that ship one (`packaging/deploy-vite.test.ts`, `failover/flue-servers.test.ts`): the
 * project's sources, the server's start and stop, and its HTTP routes (a prompt, the history
 * view).
 *
 * The model is the echo model of support/faux-model.ts (copied in as src/faux-model.ts) on
 * pi-ai's faux provider, registered in app.ts with Flue's `setProvider()`.
 * `FAUX_REPLY_MS` in the server's environment makes each reply wait that long (turns stay in
 * flight), and the server prints `faux model call <n>` as each call starts, so a test can wait
 * for a turn to be running on it.
 *
 * Sandbox note: the built server listens on every interface (Flue's `server.mjs` reads only
 * `PORT`), and servers here must stay on loopback, so the server runs with a preload
 * (`--import ./loopback-only.mjs`, written by `writeLoopbackPreload()`) that makes a `listen()`
 * without a host use 127.0.0.1; `dist/server.mjs` itself is run unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { freePort, TEST_NODE } from './packed-project.js';

/** vite.config.ts exactly as Flue's deploy guide shows it for the Node target. */
export const VITE_CONFIG = `import { flue } from '@flue/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [flue()],
});
`;

export const AGENT_TS = `'use agent';
import { useModel } from '@flue/runtime';

export function Echo() {
  useModel('faux-e2e/echo-model');
  return 'You repeat what you hear.';
}
`;

/** The route map, plus the faux model registered as a custom provider (Flue's setProvider()). */
export const APP_TS = `import type { AssistantMessage, Context } from '@earendil-works/pi-ai';
import { fauxAssistantMessage, fauxProvider } from '@earendil-works/pi-ai/providers/faux';
import { setProvider } from '@flue/runtime';
import { createAgentRouter } from '@flue/runtime/routing';
import { Hono } from 'hono';
import { setTimeout as sleep } from 'node:timers/promises';
import { Echo } from './agents/echo.ts';
import { echoReply } from './faux-model.ts';

const replyMs = Number(process.env.FAUX_REPLY_MS ?? 0);

async function reply(context: Context, _options: unknown, state: { callCount: number }): Promise<AssistantMessage> {
  console.log(\`faux model call \${state.callCount}\`);
  if (replyMs > 0) await sleep(replyMs);
  return fauxAssistantMessage(echoReply(context));
}

const faux = fauxProvider({ provider: 'faux-e2e', models: [{ id: 'echo-model' }] });
faux.setResponses(Array.from({ length: 1000 }, () => reply));
setProvider(faux.provider);

const app = new Hono();
app.get('/health', (c) => c.json({ pid: process.pid, modelCalls: faux.state.callCount }));
app.route('/agents/echo', createAgentRouter(Echo));

export default app;
`;

/** The faux model (support/faux-model.ts), for the project's src/faux-model.ts. */
export const FAUX_MODEL_TS = readFileSync(new URL('./faux-model.ts', import.meta.url), 'utf8');

/** Test-harness preload (not part of the app): a listen() without a host binds 127.0.0.1. */
const LOOPBACK_ONLY_MJS = `import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\\d+$/.test(args[0]))) {
    if (args[1] === undefined || args[1] === null) args[1] = '127.0.0.1';
    else if (typeof args[1] === 'function') args.splice(1, 0, '127.0.0.1');
  } else if (args[0] && typeof args[0] === 'object' && args[0].path === undefined && args[0].fd === undefined && !args[0].host) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
`;

/** Writes the loopback preload `startServer()` runs the server with into `dir`. */
export function writeLoopbackPreload(dir: string): Promise<void> {
  return writeFile(join(dir, 'loopback-only.mjs'), LOOPBACK_ONLY_MJS);
}

export interface Server {
  child: ChildProcess;
  port: number;
  output(): string;
  /** Resolves once the server's output matches `pattern` (now or later). */
  printed(pattern: RegExp): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Turn {
  role: string;
  submissionId?: string;
  text: string;
}

const running = new Set<Server>();

/** Starts `node dist/server.mjs` in `cwd` (which holds the loopback preload) and waits until it listens. */
export async function startServer(cwd: string, env: NodeJS.ProcessEnv): Promise<Server> {
  const port = await freePort();
  const child = spawn(TEST_NODE, ['--import', './loopback-only.mjs', 'dist/server.mjs'], { cwd, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const watchers = new Set<{ pattern: RegExp; found(): void }>();
  const append = (chunk: string) => {
    output += chunk;
    for (const watcher of watchers) {
      if (!watcher.pattern.test(output)) continue;
      watchers.delete(watcher);
      watcher.found();
    }
  };
  child.stdout!.setEncoding('utf8').on('data', append);
  child.stderr!.setEncoding('utf8').on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const printed = (pattern: RegExp) =>
    pattern.test(output)
      ? Promise.resolve()
      : new Promise<void>((found, fail) => {
          watchers.add({ pattern, found });
          void exited.then((how) => fail(new Error(`the server exited (${JSON.stringify(how)}) before printing ${pattern}:\n${output}`)));
        });
  const server: Server = { child, port, output: () => output, printed, exited };
  running.add(server);
  void exited.then(() => running.delete(server));
  const timeout = new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`the server did not start in 30 s:\n${output}`)), 30_000).unref());
  await Promise.race([printed(/Server listening/), timeout]);
  return server;
}

export async function stopServer(server: Server, signal: 'SIGTERM' | 'SIGKILL') {
  server.child.kill(signal);
  return server.exited;
}

/** SIGKILLs every server still running (for afterEach hooks: a failed test must not leave one behind). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => stopServer(server, 'SIGKILL')));
}

export interface Admission {
  submissionId: string;
  deduplicated?: boolean;
}

/** POSTs a user prompt to conversation `id` (with Flue's `idempotencyKey` when given); expects 202. */
export async function admit(server: Server, id: string, body: string, options: { idempotencyKey?: string } = {}): Promise<Admission> {
  const response = await fetch(`http://127.0.0.1:${server.port}/agents/echo/${id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'user', body, ...options }),
  });
  expect(response.status, await response.clone().text()).toBe(202);
  const admission = (await response.json()) as Admission;
  expect(admission.submissionId).toMatch(/^sub_/);
  return admission;
}

/** `admit()` without a key: the new submission's id. */
export async function prompt(server: Server, id: string, body: string): Promise<string> {
  return (await admit(server, id, body)).submissionId;
}

export async function snapshot(server: Server, id: string) {
  const response = await fetch(`http://127.0.0.1:${server.port}/agents/echo/${id}?view=history`);
  expect(response.status).toBe(200);
  return (await response.json()) as {
    messages: { role: string; submissionId?: string; parts: { type: string; text?: string }[] }[];
    settlements: { submissionId: string; outcome: string }[];
  };
}

export async function history(server: Server, id: string): Promise<Turn[]> {
  return (await snapshot(server, id)).messages
    .filter((message) => message.role === 'user' || message.role === 'assistant')
    .map((message) => ({
      role: message.role,
      submissionId: message.submissionId,
      text: message.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join(''),
    }));
}

/** Waits (polling the history view: the server offers no event for it) until `submissionId` settles; returns its outcome. */
export async function settled(server: Server, id: string, submissionId: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await snapshot(server, id)).settlements.find((entry) => entry.submissionId === submissionId);
    if (found) return found.outcome;
    if (Date.now() > deadline) throw new Error(`${submissionId} did not settle in ${timeoutMs} ms:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function replyTo(server: Server, id: string, submissionId: string): Promise<string> {
  const turns = await history(server, id);
  return turns.find((turn) => turn.role === 'assistant' && turn.submissionId === submissionId)?.text ?? '';
}

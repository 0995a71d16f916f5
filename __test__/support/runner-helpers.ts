/**
 * Shared helpers for the runner's own tests (`__test__/runner-*.test.ts`).
 *
 * Every runner test imports the package from `../../dist/index.js`, the shipped JavaScript
 * (`npm run build:ts` refreshes it), never from `lib/`: the tests exercise exactly what users
 * load, and the child processes some tests spawn load the same files.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect } from 'vitest';
import { LibsqlError, open, type Database, type OpenOptions } from '../../dist/index.js';
import { freshRemote, overWebSocket, REMOTE_SKIP_REASON, skipSuffix } from './remote-target.js';

export { LibsqlError, open };
export type { Database, OpenOptions };

/** The package entry point the children import (as a `file:` URL, for `import()`). */
export const DIST_ENTRY_URL = pathToFileURL(fileURLToPath(new URL('../../dist/index.js', import.meta.url))).href;

/** The local targets most behaviours are proven against. */
export const LOCAL_KINDS = ['memory', 'file'] as const;
export type LocalKind = (typeof LOCAL_KINDS)[number];

/**
 * Every target the runner's semantics must hold on: the local ones, and a libSQL server over
 * each transport (Hrana over HTTP for `http://`, over WebSocket for `ws://`).
 */
export const RUNNER_KINDS = ['memory', 'file', 'remote', 'remote-ws'] as const;
export type RunnerKind = (typeof RUNNER_KINDS)[number];

export const isRemoteKind = (kind: RunnerKind): boolean => kind === 'remote' || kind === 'remote-ws';

/**
 * `describe(`${name} (${kind})`)` for each kind; the remote one is skipped, saying why, when
 * no libSQL server is available (support/remote-target.ts).
 */
export function describeEachKind(name: string, kinds: readonly RunnerKind[], body: (kind: RunnerKind) => void): void {
  for (const kind of kinds) {
    const skipReason = isRemoteKind(kind) ? REMOTE_SKIP_REASON : undefined;
    describe.skipIf(skipReason !== undefined)(`${name} (${kind})${skipSuffix(skipReason)}`, () => body(kind));
  }
}

/** A temp directory under `os.tmpdir()`; `remove()` deletes it with everything inside. */
export interface TempDir {
  path: string;
  file(name: string): string;
  remove(): Promise<void>;
}

export async function makeTempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), 'flue-libsql-runner-'));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

/** An open database of one kind, and how to clean up after it. */
export interface TestDatabase {
  db: Database;
  kind: RunnerKind;
  /** The database file (file kind only). */
  path: string | undefined;
  /** Opens the same target again (file and remote kinds; a `:memory:` database is private). */
  reopen(extra?: Omit<OpenOptions, 'url'>): Promise<Database>;
  /** Closes every database opened through this object and removes the temp directory. */
  dispose(): Promise<void>;
}

/** Opens a fresh `:memory:` database or a fresh file in its own temp directory. */
/**
 * Gives each test of the surrounding `describe` a fresh `kind` database holding the table
 * `t(id INTEGER PRIMARY KEY, v TEXT)`, handed to `use` before the test and disposed after it.
 */
export function withTableEachTest(kind: RunnerKind, use: (opened: TestDatabase) => void): void {
  let opened: TestDatabase;
  beforeEach(async () => {
    opened = await openTarget(kind);
    await opened.db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
    use(opened);
  });
  afterEach(() => opened.dispose());
}

export async function openTarget(kind: RunnerKind, extra: Omit<OpenOptions, 'url'> = {}): Promise<TestDatabase> {
  const opened: Database[] = [];
  if (isRemoteKind(kind)) {
    const server = await freshRemote();
    const url = kind === 'remote-ws' ? overWebSocket(server.url) : server.url;
    const reopen = async (more: Omit<OpenOptions, 'url'> = {}) => {
      const db = await open({ url, authToken: server.authToken, ...more });
      opened.push(db);
      return db;
    };
    return {
      db: await reopen(extra),
      kind,
      path: undefined,
      reopen,
      dispose: async () => {
        await Promise.all(opened.map((d) => d.close()));
        await server.dispose();
      },
    };
  }
  if (kind === 'memory') {
    const db = await open({ url: ':memory:', ...extra });
    opened.push(db);
    return {
      db,
      kind,
      path: undefined,
      reopen: () => Promise.reject(new Error('a :memory: database cannot be reopened')),
      dispose: async () => {
        await Promise.all(opened.map((d) => d.close()));
      },
    };
  }
  const dir = await makeTempDir();
  const path = dir.file('test.db');
  const db = await open({ url: `file:${path}`, ...extra });
  opened.push(db);
  return {
    db,
    kind,
    path,
    reopen: async (more = {}) => {
      const again = await open({ url: `file:${path}`, ...more });
      opened.push(again);
      return again;
    },
    dispose: async () => {
      await Promise.all(opened.map((d) => d.close()));
      await dir.remove();
    },
  };
}

/**
 * Awaits `promise`, fails the test if it resolves, and returns what it rejected with, so the
 * test can check the error's class, code and message.
 */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string; rawCode?: number }> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as Error & { code?: string; rawCode?: number };
  }
  throw new Error(`expected a rejection, but it resolved to ${safeInspect(value)}`);
}

/** Asserts a `LibsqlError` with `code` (and optionally a message fragment); returns it. */
export async function expectLibsqlError(
  promise: Promise<unknown>,
  code: string,
  message?: string | RegExp,
): Promise<LibsqlError> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(LibsqlError);
  expect(error.name).toBe('LibsqlError');
  expect(error.code).toBe(code);
  if (message !== undefined) expect(error.message).toMatch(message);
  return error as LibsqlError;
}

function safeInspect(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  } catch {
    return String(value);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise with its resolve function exposed (to hold a transaction open on cue). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a Node ES module (source text, written to `dir`) in a child process with the same
 * Node binary as the tests. `onStdoutLine` sees each line as it arrives.
 */
export function runNodeChild(
  scriptPath: string,
  args: string[] = [],
  options: { nodeFlags?: string[]; env?: NodeJS.ProcessEnv; onStdoutLine?: (line: string, child: ReturnType<typeof spawn>) => void } = {},
): { child: ReturnType<typeof spawn>; done: Promise<ChildResult> } {
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), scriptPath, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      options.onStdoutLine?.(line, child);
    }
  });
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** The last line of a child's stdout parsed as JSON (children print one JSON report last). */
export function lastJsonLine<T>(result: ChildResult): T {
  const lines = result.stdout.trim().split('\n');
  const last = lines[lines.length - 1];
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`child printed no JSON report (exit ${result.code}).\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

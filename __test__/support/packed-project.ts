/**
 * Packing and installing flue-libsql the way a user gets it, for the install and deploy tests
 * (`packaging/package-install.test.ts`, `packaging/deploy-vite.test.ts`).
 *
 * - `packPackages()` runs `npm pack` on the main package (the repo root) and on the platform
 *   package (a temp copy of `npm/<platform>/` with the built `.node` copied in, so the repo's
 *   `npm/` folder never holds a binary).
 * - `createProject()` makes a fresh project under `os.tmpdir()` and `npm install`s the two
 *   tarballs plus registry packages, with an environment that has no Rust toolchain and no
 *   `npm_*` variables inherited from a surrounding `npm test`.
 * - Everything runs under the Node that runs the tests (`TEST_NODE`, first on PATH, so `npm`
 *   runs under it too): the repo's Node 22 (`node_modules/node/bin/node`) in the main run, Node
 *   24 or 26 when the test command runs the suite under those (scripts/test.mjs).
 *
 * The npm cache lives in `node_modules/.cache/flue-libsql-tests/npm` (kept between runs, never
 * required: a clean machine fills it from the registry).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const NODE22 = join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node');
/**
 * The Node the generated projects run under: the one running this test file (scripts/test.mjs
 * runs vitest under Node 22, 24 and 26), or the repo's Node 22 when that is older than Flue's
 * minimum (vitest started by a system Node 20).
 */
export const TEST_NODE = Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : NODE22;
export const NPM_CACHE = join(REPO_ROOT, 'node_modules', '.cache', 'flue-libsql-tests', 'npm');

/** Registry versions the generated projects install (the versions these tests prove). */
export const VERSIONS = {
  /** The newest @flue/runtime the peer range admits (package.json `peerDependencies`). */
  flueRuntime: '2.1.0',
  /** The oldest: the one @flue/vite 2.0.3 pins exactly, so an app built with it runs on it. */
  flueRuntimeOldest: '2.0.3',
  flueVite: '2.0.3',
  vite: '^8.0.0',
  piAi: '0.83',
  typescript: '5.9',
  hono: '^4.12.0',
  typesNode: '^22',
} as const;

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (async, so vitest's timeouts still fire), capturing output. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number; input?: string },
): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
    // A child that exits without reading its stdin (`sh -c 'command -v cargo'`) makes this
    // write fail with EPIPE; that is not an error of the command, and must not be unhandled.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** `run()` that throws with the command's output when it does not exit 0. */
export async function runOk(command: string, args: string[], options: Parameters<typeof run>[2]): Promise<CommandResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `\`${command} ${args.join(' ')}\` in ${options.cwd} exited with ${result.code ?? result.signal}\n` +
        `--- stdout\n${result.stdout.slice(-4000)}\n--- stderr\n${result.stderr.slice(-4000)}`,
    );
  }
  return result;
}

/** What building from source would use: a fresh project must never find them. */
const RUST_TOOLS = /^(cargo|rustc|rustup|rustdoc|rustfmt|rust-gdb|rust-lldb|clippy-driver|cargo-.*)(-web)?$/;

/**
 * `dir` as a PATH entry without Rust's tools: itself when it holds none; else a folder of links
 * to everything else in it (a system folder such as /usr/bin can hold Debian's `rustc` beside
 * `npm`), made once per process.
 */
function withoutRust(dir: string): string {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return dir;
  }
  if (!names.some((name) => RUST_TOOLS.test(name))) return dir;
  const mirrors = join(tmpdir(), `flue-libsql-path-${process.pid}`);
  const mirror = join(mirrors, dir.replace(/[^a-zA-Z0-9]+/g, '_'));
  if (!existsSync(mirror)) {
    if (!existsSync(mirrors)) process.once('exit', () => rmSync(mirrors, { recursive: true, force: true }));
    mkdirSync(mirror, { recursive: true });
    for (const name of names) if (!RUST_TOOLS.test(name)) symlinkSync(join(dir, name), join(mirror, name));
  }
  return mirror;
}

/**
 * The environment a user's shell would give a fresh project, minus Rust: PATH is Node 22's
 * folder, then the current PATH without ~/.cargo/bin and without Rust's tools in any other
 * folder; no CARGO_ / RUSTUP_ variables; no `npm_*` variables from a surrounding `npm test`
 * (they would point npm at this repo's config).
 */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const cargoBin = join(process.env.CARGO_HOME ?? join(homedir(), '.cargo'), 'bin');
  const path = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && dir !== cargoBin && dir !== join(homedir(), '.cargo', 'bin'))
    .map(withoutRust);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const lower = key.toLowerCase();
    if (lower.startsWith('npm_') || key === 'INIT_CWD' || /^(CARGO|RUSTUP|RUSTC)/.test(key)) continue;
    if (/^(LIBSQL|TURSO)_/.test(key) || key === 'PORT' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  env.PATH = [dirname(TEST_NODE), ...path].join(delimiter);
  env.npm_config_cache = NPM_CACHE;
  env.npm_config_update_notifier = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  return { ...env, ...extra };
}

/** The platform name of the native module built at the repo root, e.g. `linux-x64-gnu`. */
export function builtPlatform(): string | undefined {
  // This machine's (another may sit beside it: `npm run build:arm64` on x64, or the musl module
  // of `npm run build:musl` beside the gnu one): on Linux, the one for this Node's libc.
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const libc = process.platform !== 'linux' ? '' : report?.header?.glibcVersionRuntime ? '-gnu' : '-musl';
  const prefix = `flue-libsql.${process.platform}-${process.arch}`;
  const names = readdirSync(REPO_ROOT).filter((name) => name.startsWith(prefix) && name.endsWith('.node'));
  const built = names.find((name) => name === `${prefix}${libc}.node`) ?? (libc ? undefined : names[0]);
  return built?.slice('flue-libsql.'.length, -'.node'.length);
}

/** Why the packing tests cannot run here, or undefined when they can. */
export function cannotPackReason(): string | undefined {
  if (!existsSync(TEST_NODE)) return `Node 22 is not installed at ${TEST_NODE} (run npm install in the repo)`;
  const platform = builtPlatform();
  if (!platform) return 'no native module at the repo root (flue-libsql.<platform>.node): run `npm run build:native` first';
  if (!existsSync(join(REPO_ROOT, 'npm', platform, 'package.json'))) return `no platform package folder npm/${platform}/`;
  for (const file of ['index.js', 'index.cjs', 'flue/cli.js']) {
    if (!existsSync(join(REPO_ROOT, 'dist', file))) return `dist/${file} is missing: run \`npm run build:ts\` first`;
  }
  return undefined;
}

export interface PackedTarball {
  name: string;
  version: string;
  path: string;
  files: string[];
  packageJson: Record<string, unknown>;
}

export interface PackedPackages {
  platform: string;
  main: PackedTarball;
  native: PackedTarball;
}

async function pack(dir: string, destination: string, env: NodeJS.ProcessEnv): Promise<PackedTarball> {
  const result = await runOk('npm', ['pack', '--json', '--pack-destination', destination], { cwd: dir, env, timeoutMs: 120_000 });
  const [report] = JSON.parse(result.stdout.slice(result.stdout.indexOf('['))) as {
    name: string;
    version: string;
    filename: string;
    files: { path: string }[];
  }[];
  return {
    name: report!.name,
    version: report!.version,
    path: join(destination, report!.filename),
    files: report!.files.map((file) => file.path),
    packageJson: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>,
  };
}

/** Packs the main package and this machine's platform package into `destination`. */
export async function packPackages(destination: string): Promise<PackedPackages> {
  const platform = builtPlatform();
  if (!platform) throw new Error('no native module built at the repo root');
  await mkdir(destination, { recursive: true });
  const env = userEnv();
  const platformCopy = await mkdtemp(join(tmpdir(), 'flue-libsql-platform-'));
  try {
    await cp(join(REPO_ROOT, 'npm', platform), platformCopy, { recursive: true });
    await cp(join(REPO_ROOT, `flue-libsql.${platform}.node`), join(platformCopy, `flue-libsql.${platform}.node`));
    const native = await pack(platformCopy, destination, env);
    const main = await pack(REPO_ROOT, destination, env);
    return { platform, main, native };
  } finally {
    await rm(platformCopy, { recursive: true, force: true });
  }
}

export interface Project {
  dir: string;
  env: NodeJS.ProcessEnv;
  installMs: number;
  file(...parts: string[]): string;
  write(relative: string, text: string): Promise<void>;
}

/**
 * A fresh project in `dir` (created): a package.json naming the tarballs (as `file:` specs)
 * and the registry packages (`{ name: range }`), then one `npm install`.
 */
export async function createProject(
  dir: string,
  options: { name: string; tarballs: PackedTarball[]; dependencies: Record<string, string>; devDependencies?: Record<string, string> },
): Promise<Project> {
  await mkdir(dir, { recursive: true });
  const manifest = {
    name: options.name,
    private: true,
    type: 'module',
    dependencies: {
      ...Object.fromEntries(options.tarballs.map((tarball) => [tarball.name, `file:${tarball.path}`])),
      ...options.dependencies,
    },
    devDependencies: options.devDependencies ?? {},
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const env = userEnv();
  const started = performance.now();
  await runOk('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'], { cwd: dir, env, timeoutMs: 600_000 });
  const installMs = Math.round(performance.now() - started);
  return {
    dir,
    env,
    installMs,
    file: (...parts) => join(dir, ...parts),
    async write(relative, text) {
      await mkdir(dirname(join(dir, relative)), { recursive: true });
      await writeFile(join(dir, relative), text);
    },
  };
}

/**
 * The `src/db.ts` the README shows: the one ```ts block whose first line is the comment
 * `// src/db.ts…`, verbatim. Throws when the README has none or several (the tests must break
 * when the README drifts, not pick one silently).
 */
export function readmeDbTs(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
  const dbBlocks = blocks.filter((block) => /^\/\/ src\/db\.ts\b/.test(block));
  if (dbBlocks.length !== 1) {
    throw new Error(`README.md must show src/db.ts in exactly one \`\`\`ts block starting with "// src/db.ts"; found ${dbBlocks.length}`);
  }
  return dbBlocks[0]!;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Removes a temp tree unless FLUE_LIBSQL_KEEP_TEMP is set (then says where it is). */
export async function removeTemp(dir: string | undefined): Promise<void> {
  if (!dir) return;
  if (process.env.FLUE_LIBSQL_KEEP_TEMP) {
    console.log(`kept ${dir} (FLUE_LIBSQL_KEEP_TEMP is set)`);
    return;
  }
  await rm(dir, { recursive: true, force: true });
}

/**
 * What the benchmark needs before the first cell, and what it records about where it ran.
 *
 * - `NODE`: every cell runs under the repo's Node 22 (node_modules/node), the Node the npm
 *   scripts use; the machine's own node may be older.
 * - better-sqlite3 is a native module compiled for one Node ABI at `npm install` time (with
 *   the machine's node); it is rebuilt against the repo's Node 22 headers only when it fails
 *   to load there.
 * - flue-libsql itself must be built (dist/ and the .node addon); `npm run build` runs only
 *   when `open()` fails to load (a fresh clone).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPO_NODE = join(ROOT, 'node_modules', 'node', 'bin', 'node');
export const NODE = existsSync(REPO_NODE) ? REPO_NODE : process.execPath;

const log = (message) => process.stderr.write(`bench: ${message}\n`);

/** Runs a snippet under NODE in the repo; true when it exits 0. */
function loads(source) {
  return spawnSync(NODE, ['--input-type=module', '-e', source], { cwd: ROOT, stdio: 'ignore', timeout: 60_000 }).status === 0;
}

const BETTER_SQLITE3_LOADS = `import { createRequire } from 'node:module';
const Database = createRequire(import.meta.url)('better-sqlite3'); new Database(':memory:').close();`;
const FLUE_LIBSQL_LOADS = `const { open } = await import('./dist/index.js'); await (await open(':memory:')).close();`;

export function ensureBetterSqlite3() {
  if (loads(BETTER_SQLITE3_LOADS)) return;
  const nodeBin = dirname(NODE);
  const headers = join(dirname(nodeBin), 'node_modules');
  const nodedir = existsSync(headers)
    ? readdirSync(headers).map((name) => join(headers, name)).find((dir) => existsSync(join(dir, 'include', 'node')))
    : undefined;
  log(`better-sqlite3 does not load under Node ${nodeVersion()}: rebuilding it (about a minute)`);
  execFileSync('npm', ['rebuild', 'better-sqlite3', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PATH: `${nodeBin}:${process.env.PATH}` },
  });
  if (!loads(BETTER_SQLITE3_LOADS)) throw new Error('better-sqlite3 still does not load after `npm rebuild better-sqlite3`');
}

export function ensureFlueLibsql() {
  if (loads(FLUE_LIBSQL_LOADS)) return;
  log('flue-libsql is not built (dist/ or the native addon is missing): running `npm run build`');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (!loads(FLUE_LIBSQL_LOADS)) throw new Error('flue-libsql does not load after `npm run build`');
}

export function nodeVersion() {
  return execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim();
}

const readJson = (path) => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));

/** The crate version Cargo.lock pins for `name`. */
function lockedCrate(name) {
  const lock = readFileSync(join(ROOT, 'Cargo.lock'), 'utf8');
  return lock.match(new RegExp(`\\[\\[package\\]\\]\\nname = "${name}"\\nversion = "([^"]+)"`))?.[1] ?? 'unknown';
}

export function packageVersions() {
  const version = (name) => readJson(`node_modules/${name}/package.json`).version;
  return {
    'flue-libsql': readJson('package.json').version,
    'libsql (crate, Cargo.lock)': lockedCrate('libsql'),
    '@libsql/client': version('@libsql/client'),
    'libsql (npm, under @libsql/client)': version('libsql'),
    'better-sqlite3': version('better-sqlite3'),
    '@flue/runtime': version('@flue/runtime'),
  };
}

export function machine() {
  const read = (path) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
  const cpu = read('/proc/cpuinfo').match(/^model name\s*:\s*(.+)$/m)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const distro = read('/etc/os-release').match(/^PRETTY_NAME="?([^"\n]+)"?$/m)?.[1] ?? os.type();
  return {
    cpu,
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${distro}, ${os.type()} ${os.release()} ${os.arch()}`,
  };
}

// Builds only what is out of date: the native module when a Rust source, the crate manifest or
// the embedded migrations are newer than it, the JavaScript when a TypeScript source or the
// binding's declarations are newer than dist/. `npm run demo` on a built tree starts at once.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/** The newest modification time among `paths` (files, or folders searched recursively). */
function newest(paths) {
  let latest = 0;
  for (const path of paths.map((p) => join(root, p)).filter(existsSync)) {
    const stat = statSync(path);
    if (stat.isDirectory()) latest = Math.max(latest, newest(readdirSync(path).map((name) => join(path.slice(root.length), name))));
    else latest = Math.max(latest, stat.mtimeMs);
  }
  return latest;
}

function build(script) {
  const result = spawnSync('npm', ['run', script], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// This machine's module (another platform's may sit beside it: `npm run build:arm64`, or on Linux
// the other libc's: `npm run build:musl`).
const libc = process.platform !== 'linux' ? '' : process.report?.getReport()?.header?.glibcVersionRuntime ? '-gnu' : '-musl';
const prefix = `flue-libsql.${process.platform}-${process.arch}`;
const modules = readdirSync(root).filter((name) => name.startsWith(prefix) && name.endsWith('.node'));
const native = modules.find((name) => name === `${prefix}${libc}.node`) ?? (libc ? undefined : modules[0]);
if (!native || newest(['src', 'Cargo.toml', 'Cargo.lock', 'build.rs', 'migrations']) > statSync(join(root, native)).mtimeMs) {
  build('build:native');
}
if (!existsSync(join(root, 'dist', 'index.js')) || newest(['lib', 'index.d.ts', 'tsconfig.json']) > newest(['dist'])) {
  build('build:ts');
}

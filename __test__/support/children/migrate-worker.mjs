// A child process that migrates one database file when told to, for the concurrent-migrator
// tests. Usage: node migrate-worker.mjs <url> <app|flue> <migrations.json>
//
// Protocol: loads the package, prints `ready`, waits for one line on stdin (the barrier),
// then opens the database (racing the other workers, file creation included), migrates,
// and prints one JSON line: { ok, report?, code?, name?, message?, startedAt, finishedAt }.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [url, mode, migrationsFile] = process.argv.slice(2);
const { libsql, open } = await import(new URL('../../../dist/index.js', import.meta.url).href);
const migrations = mode === 'app' ? JSON.parse(readFileSync(migrationsFile, 'utf8')) : [];

process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
await new Promise((resolve) => lines.once('line', resolve));
lines.close();

const startedAt = performance.timeOrigin + performance.now();
let result;
try {
  if (mode === 'app') {
    const db = await open(url);
    try {
      result = { ok: true, report: await db.migrate(migrations) };
    } finally {
      await db.close();
    }
  } else {
    const adapter = libsql({ url });
    try {
      await adapter.migrate();
      result = { ok: true };
    } finally {
      await adapter.close();
    }
  }
} catch (error) {
  result = { ok: false, name: error?.constructor?.name, code: error?.code, message: String(error?.message ?? error) };
}
const finishedAt = performance.timeOrigin + performance.now();
process.stdout.write(`${JSON.stringify({ ...result, startedAt, finishedAt })}\n`);

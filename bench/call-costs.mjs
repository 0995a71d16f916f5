/**
 * Where a point SELECT's time goes: the same query (workload a, a row by primary key as an
 * object) measured layer by layer, in one process, interleaved rounds, medians of ns per call.
 *
 *   node bench/call-costs.mjs [--rounds N] [--calls N]
 *
 * Layers:
 * - better-sqlite3 `.get()`: V8's C++ API into SQLite, no promise;
 * - better-sqlite3 `.get()` awaited: the same plus what `await` of a value costs;
 * - `await` of an already resolved promise, nothing else: the floor every async API pays;
 * - flue-libsql's native `query` called directly (N-API, statement cache lookup, SQLite, the
 *   row built by a JS row builder), no promise;
 * - flue-libsql `db.query()` awaited: the whole call (ordering, group commit's turn tracking,
 *   the shared-sync check, the promise).
 *
 * Prints a markdown table (docs/performance.md quotes one run).
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { native } from '../dist/native.js';
import { open } from '../dist/index.js';

const require = createRequire(import.meta.url);
const BetterSqlite3 = require('better-sqlite3');
const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, calls: { type: 'string', default: '200000' } } });
const ROUNDS = Number(args.rounds);
const CALLS = Number(args.calls);
const ROWS = 10_000;
const SQL = 'SELECT id, name, payload FROM items WHERE id = ?';

const dir = mkdtempSync(join(tmpdir(), 'flue-libsql-call-costs-'));
const path = join(dir, 'items.db');
const db = await open({ url: `file:${path}` });
await db.exec('CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, payload TEXT)');
await db.transaction(async (tx) => {
  for (let i = 1; i <= ROWS; i++) await tx.execute('INSERT INTO items(name, payload) VALUES (?, ?)', [`n${i}`, 'p'.repeat(200)]);
});
const nativeDb = await native.openDatabase({ url: `file:${path}` });
const nativeQuery = nativeDb.statementFunctions().query;
const better = new BetterSqlite3(path);
const point = better.prepare(SQL);
const resolved = Promise.resolve({ id: 1 });

const layers = {
  'better-sqlite3 .get()': () => {
    for (let i = 0; i < CALLS; i++) point.get(1 + (i % ROWS));
  },
  'better-sqlite3 .get(), awaited': async () => {
    for (let i = 0; i < CALLS; i++) await point.get(1 + (i % ROWS));
  },
  'await of a resolved promise alone': async () => {
    for (let i = 0; i < CALLS; i++) await resolved;
  },
  'flue-libsql native query, called directly': () => {
    for (let i = 0; i < CALLS; i++) nativeQuery(SQL, [1 + (i % ROWS)]);
  },
  'flue-libsql db.query(), awaited': async () => {
    for (let i = 0; i < CALLS; i++) await db.query(SQL, [1 + (i % ROWS)]);
  },
};

const samples = Object.fromEntries(Object.keys(layers).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(layers)) {
    const started = process.hrtime.bigint();
    await run();
    samples[name].push(Number(process.hrtime.bigint() - started) / CALLS);
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ns = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));

better.close();
await nativeDb.close();
await db.close();
rmSync(dir, { recursive: true, force: true });

const reference = ns['better-sqlite3 .get()'];
console.log(`${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.versions.node}, better-sqlite3 ${require('better-sqlite3/package.json').version}; ${ROUNDS} rounds of ${CALLS} calls, median ns per call`);
console.log('');
console.log('| layer | ns per call | × better-sqlite3 .get() |');
console.log('|---|---:|---:|');
for (const [name, value] of Object.entries(ns)) console.log(`| ${name} | ${value.toFixed(0)} | ${(value / reference).toFixed(2)} |`);

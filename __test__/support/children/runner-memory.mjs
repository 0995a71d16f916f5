// A memory probe for runner/memory.test.ts (run with --expose-gc). Runs bursts of 100k calls
// in a plain `for` loop that never yields to the event loop, and reports process memory after
// each burst (after a full GC) as one JSON line.
import { open } from '../../../dist/index.js';

const [url, burstText, roundsText] = process.argv.slice(2);
const perBurst = Number(burstText);
const rounds = Number(roundsText);
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

const db = await open({ url, durability: 'normal' });
await db.exec(`
  CREATE TABLE IF NOT EXISTS counter(id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
  INSERT OR IGNORE INTO counter VALUES (1, 0);
  CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v BLOB NOT NULL);
`);

// Payloads large enough that keeping any of them per call would show: 100k calls × 4 KiB.
const blob = new Uint8Array(4096).fill(7);
const text = 'é'.repeat(2048);
let updates = 0;

/** 100k calls, no await, no yield; the promises are dropped at once. */
function burst() {
  let last;
  for (let i = 0; i < perBurst; i++) {
    switch (i % 8) {
      case 0:
      case 4:
        last = db.query('SELECT ? AS i, randomblob(4096) AS b, ? AS t', [i, text]);
        break;
      case 1:
      case 5:
        last = db.execute('INSERT OR REPLACE INTO kv(k, v) VALUES (?, ?)', [i % 64, blob]);
        break;
      case 2:
        updates++;
        last = db.execute('UPDATE counter SET n = n + 1 WHERE id = 1');
        break;
      case 3:
        // 1000 distinct SQL texts: more than the statement cache holds, so it must evict.
        last = db.query(`SELECT ${i % 1000} AS distinct_sql, ? AS named`, [text]);
        break;
      case 6:
        // The error paths: a refused parameter (TypeError) and a SQLite error (LibsqlError).
        last = db.query('SELECT ?', [Symbol('x')]).catch((error) => error.name);
        break;
      case 7:
        last = db.execute('INSERT INTO kv(k, v) VALUES (NULL, NULL)').catch((error) => error.code);
        break;
    }
  }
  return last;
}

function measure(label) {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return { label, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

const samples = [];
const bursts = [];
await new Promise((resolve) => setImmediate(resolve));
samples.push(measure('baseline'));
for (let round = 1; round <= rounds; round++) {
  let immediateRan = false;
  let microtaskRan = false;
  setImmediate(() => {
    immediateRan = true;
  });
  queueMicrotask(() => {
    microtaskRan = true;
  });
  const started = performance.now();
  const last = burst();
  const ms = performance.now() - started;
  // Checked synchronously after the loop: nothing else got to run during it.
  const yielded = immediateRan || microtaskRan;
  const lastResult = await last;
  // Let the dropped promises' rejection handlers run before measuring.
  await new Promise((resolve) => setImmediate(resolve));
  bursts.push({ round, ms, yielded, lastResult: JSON.parse(JSON.stringify(lastResult, (_k, v) => (v instanceof Uint8Array ? v.length : v))) });
  samples.push(measure(`after burst ${round}`));
}
const [{ n }] = await db.query('SELECT n FROM counter WHERE id = 1');
const [{ c }] = await db.query('SELECT count(*) AS c FROM kv');
await db.close();
console.log(JSON.stringify({ samples, bursts, updates, counter: n, kvRows: c }));

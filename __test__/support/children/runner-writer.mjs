// A writer process for runner/concurrency.test.ts: opens the database file it is given,
// prints "ready", waits for "go" on stdin, then writes its rows in transactions and prints
// one JSON report. Imports the shipped JavaScript, like a user's program would.
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { open } from '../../../dist/index.js';

const [path, writer, rowsText, perTransactionText] = process.argv.slice(2);
const rows = Number(rowsText);
const perTransaction = Number(perTransactionText);

const db = await open({ url: `file:${path}` });
const lines = createInterface({ input: process.stdin });
const go = new Promise((resolve) => lines.once('line', resolve));
console.log('ready');
await go;
lines.close();
const startedAt = Date.now();

const errors = [];
let committed = 0;
let firstCommitAt = null;
let lastCommitAt = null;
for (let seq = 0; seq < rows; seq += perTransaction) {
  try {
    await db.transaction(async (tx) => {
      for (let i = seq; i < Math.min(seq + perTransaction, rows); i++) {
        await tx.execute('INSERT INTO rows(writer, seq, pid) VALUES (?, ?, ?)', [writer, i, process.pid]);
      }
      // Hold the write lock for a moment so the other process has to wait for it.
      await sleep(2);
    });
    committed += Math.min(perTransaction, rows - seq);
    lastCommitAt = Date.now();
    firstCommitAt ??= lastCommitAt;
  } catch (error) {
    errors.push({ seq, code: error.code, message: error.message });
  }
}
await db.close();
console.log(JSON.stringify({ writer, committed, errors, startedAt, firstCommitAt, lastCommitAt }));

// Writes for reliability/shared-fsync.test.ts, run under strace: every result this process is given is
// reported by a write to `<db path>.acks` made right after its promise resolved, so the
// parent can see, in the order of the system calls, whether the WAL was synced before it.
//
//   node shared-fsync-child.mjs <db path> <durability> <scenario> [<method> <statement>]
//     concurrent  40 callers at once, 5 rounds: an INSERT, a transaction of two INSERTs and a
//                 SELECT each (400 commits)
//     sequential  50 INSERTs, each awaited before the next
//   With a method (query, execute, exec) and a statement (a `PRAGMA synchronous` setting), the
//   application runs the statement through that method first.
// Imports the shipped JavaScript, like a user's program.
import { openSync, writeSync } from 'node:fs';
import { open } from '../../../dist/index.js';

const [path, durability, scenario, method, statement] = process.argv.slice(2);
const acks = openSync(`${path}.acks`, 'w');
const ack = (what) => writeSync(acks, `${what}\n`);

const db = await open({ url: `file:${path}`, durability });
await db.exec('CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, caller INTEGER, round INTEGER)');

async function caller(id, round) {
  await db.execute('INSERT INTO t(caller, round) VALUES (?, ?)', [id, round]);
  ack('write');
  await db.transaction(async (tx) => {
    await tx.execute('INSERT INTO t(caller, round) VALUES (?, ?)', [id, round]);
    await tx.execute('INSERT INTO t(caller, round) VALUES (?, ?)', [-id, round]);
  });
  ack('write');
  await db.query('SELECT count(*) AS n FROM t WHERE round = ?', [round]);
  ack('read');
}

if (method) await db[method](statement);
if (scenario === 'sequential') {
  for (let i = 0; i < 50; i++) {
    await db.execute('INSERT INTO t(caller, round) VALUES (?, ?)', [i, 0]);
    ack('write');
  }
} else {
  for (let round = 0; round < 5; round++) {
    await Promise.all(Array.from({ length: 40 }, (_, id) => caller(id + 1, round)));
  }
}
await db.close();

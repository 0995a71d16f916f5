// Processes that share one database file, for reliability/contention.test.ts. Imports the
// shipped JavaScript, like a user's program.
//
//   node reliability-contention-worker.mjs rows <db path> <writer> <rows>
//     Prints `ready`, waits for `go` on stdin, then writes <rows> rows in transactions of 1..9
//     rows; every transaction also does a read-modify-write of a shared counter (read, await,
//     write back + 1), which loses updates unless transactions really are serialized across
//     processes. Prints one JSON report: { writer, committed, transactions, errors, maxWaitMs }.
//
//   node reliability-contention-worker.mjs claim <url> <who> <rounds> [<token>] [<replica file>]
//     For each round i: prints `ready <i>`, waits for `go <i> <wall-clock ms>`, spins until
//     that moment (so both racers call at the same instant), then claims submission `race-<i>`
//     through the adapter on <url> (a `file:` url, or a server's with its token; with a replica
//     file, an embedded replica of that server kept in the file) and prints
//     { i, won, attemptId, start, end } (or { error } with its code, message, String(), stack
//     and inspect()). Ends with { done: true }. Also used by reliability/remote.test.ts and
//     replica/writes.test.ts.
import { createInterface } from 'node:readline';
import { inspect } from 'node:util';
import { libsql, open } from '../../../dist/index.js';

const [mode, path, who, countText, token, replicaFile] = process.argv.slice(2);
const count = Number(countText);
const say = (line) => process.stdout.write(`${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
const lines = createInterface({ input: process.stdin });
const queued = [];
const waiting = [];
lines.on('line', (line) => (waiting.length > 0 ? waiting.shift()(line) : queued.push(line)));
const nextLine = () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve) => waiting.push(resolve)));
const wallClock = () => performance.timeOrigin + performance.now();

if (mode === 'rows') {
  const db = await open({ url: `file:${path}` });
  say('ready');
  await nextLine();
  const errors = [];
  let committed = 0;
  let transactions = 0;
  let maxWaitMs = 0;
  for (let seq = 0; seq < count; ) {
    const size = Math.min(1 + (transactions % 9), count - seq);
    const calledAt = performance.now();
    try {
      await db.transaction(async (tx) => {
        maxWaitMs = Math.max(maxWaitMs, performance.now() - calledAt);
        for (let k = 0; k < size; k++) {
          await tx.execute('INSERT INTO rows(writer, seq, txn) VALUES (?, ?, ?)', [who, seq + k, transactions]);
        }
        const [{ n }] = await tx.query('SELECT n FROM counter WHERE id = 1');
        // Yield to the event loop (and to the other processes) between the read and the write.
        await new Promise((resolve) => setImmediate(resolve));
        await tx.execute('UPDATE counter SET n = ? WHERE id = 1', [n + 1]);
      });
      committed += size;
      transactions += 1;
    } catch (error) {
      errors.push({ seq, code: error?.code, message: String(error?.message ?? error) });
    }
    seq += size;
  }
  await db.close();
  say({ writer: who, committed, transactions, errors, maxWaitMs });
  process.exit(0);
}

if (mode === 'claim') {
  const adapter = libsql(replicaFile ? { url: `file:${replicaFile}`, syncUrl: path, authToken: token } : { url: path, authToken: token });
  const { submissionStore } = await adapter.connect();
  for (let i = 0; i < count; i++) {
    say(`ready ${i}`);
    const [, round, at] = (await nextLine()).split(' ');
    if (Number(round) !== i) throw new Error(`expected go ${i}, got go ${round}`);
    while (wallClock() < Number(at)) {
      // spin to the agreed instant
    }
    const start = wallClock();
    let result;
    try {
      const claimed = await submissionStore.claimSubmission({
        submissionId: `race-${i}`,
        attemptId: `${who}-attempt-${i}`,
        ownerId: who,
        leaseExpiresAt: Date.now() + 60_000,
      });
      result = { i, won: claimed !== null, attemptId: claimed?.attemptId ?? null, start, end: wallClock() };
    } catch (error) {
      const described = { code: error?.code, name: error?.name, message: String(error?.message ?? error), string: String(error), stack: String(error?.stack), inspect: inspect(error) };
      result = { i, won: false, error: described, start, end: wallClock() };
    }
    say(result);
  }
  await adapter.close();
  say({ done: true });
  process.exit(0);
}

throw new Error(`unknown mode ${mode}`);

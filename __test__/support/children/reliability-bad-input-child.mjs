// Bad-input cases that need a process of their own, for reliability/bad-input.test.ts.
// Imports the shipped JavaScript. Prints one JSON line per step, then `{"alive":true}` last:
// the parent checks that the process was still up after every refused operation.
//
//   node reliability-bad-input-child.mjs readonly <db path> [uid]
//     Drops root to `uid` first (when given), so that file permissions apply; then opens the
//     read-only database, reads, and tries to write (a statement, a transaction, a batch).
//   node reliability-bad-input-child.mjs fsize <db path>
//     Run under a file-size limit (prlimit --fsize): writes that would grow a file past the
//     limit fail with EFBIG. SIGXFSZ is ignored so write() returns the error instead of the
//     signal killing the process. Tries a large insert and a large transaction, then a small
//     insert that fits, then a burst of concurrent inserts (one group commit) that outgrows
//     the limit part way through.
const [mode, path, uid] = process.argv.slice(2);

if (mode === 'fsize') process.on('SIGXFSZ', () => {});
if (mode === 'readonly' && uid !== undefined) process.setuid(Number(uid));

const { open } = await import('../../../dist/index.js');
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

async function step(name, fn) {
  try {
    const value = await fn();
    say({ step: name, ok: true, value });
  } catch (error) {
    say({ step: name, ok: false, name: error?.constructor?.name, code: error?.code, message: String(error?.message ?? error) });
  }
}

if (mode === 'readonly') {
  say({ step: 'uid', ok: true, value: process.getuid() });
  let db;
  await step('open', async () => {
    db = await open(`file:${path}`);
    return db.kind;
  });
  if (db) {
    await step('read', () => db.query('SELECT id, v FROM data ORDER BY id'));
    await step('execute', () => db.execute(`INSERT INTO data(v) VALUES ('from a read-only process')`));
    await step('transaction', () => db.transaction((tx) => tx.execute(`INSERT INTO data(v) VALUES ('in a transaction')`)));
    await step('batch', () => db.batch([`INSERT INTO data(v) VALUES ('in a batch')`]));
    await step('read again', () => db.query('SELECT id, v FROM data ORDER BY id'));
    await step('close', () => db.close());
  }
} else if (mode === 'fsize') {
  const db = await open(`file:${path}`);
  await step('large insert', () => db.execute('INSERT INTO data(v) VALUES (?)', [new Uint8Array(4_000_000).fill(7)]));
  await step('large transaction', () =>
    db.transaction(async (tx) => {
      await tx.execute(`INSERT INTO data(v) VALUES ('first row of a transaction that cannot fit')`);
      for (let i = 0; i < 20; i++) await tx.execute('INSERT INTO data(v) VALUES (?)', [new Uint8Array(200_000).fill(i)]);
    }));
  await step('small insert', () => db.execute(`INSERT INTO data(v) VALUES ('small row after the failures')`));
  await step('read', () => db.query('SELECT id, typeof(v) AS t, length(v) AS n FROM data ORDER BY id'));
  await step('burst', async () => {
    const inserts = Array.from({ length: 40 }, (_, i) => db.execute('INSERT INTO data(v) VALUES (?)', [`burst ${i} ${'x'.repeat(50_000)}`]));
    const settled = await Promise.allSettled(inserts);
    return {
      fulfilled: settled.flatMap((s, i) => (s.status === 'fulfilled' ? [i] : [])),
      codes: [...new Set(settled.flatMap((s) => (s.status === 'rejected' ? [s.reason?.code] : [])))],
    };
  });
  await step('close', () => db.close());
} else {
  throw new Error(`unknown mode ${mode}`);
}
say({ alive: true });

// The fault child of reliability/remote.test.ts ("processes on one server"): one process's
// calls against a server the test stops, kills and pauses. Imports the shipped package.
//
//   node reliability-remote-faults-child.mjs <server url> <token> <bad token>
//     Reads one command a line (query, write, hold, continue, migrate-bad, exit), runs it and
//     prints { step, ok, error? } with the error's code, message, String(), stack and inspect().
import { createInterface } from 'node:readline';
import { inspect } from 'node:util';
import { libsql, open } from '../../../dist/index.js';

const [url, token, badToken] = process.argv.slice(2);
const say = (line) => process.stdout.write((typeof line === 'string' ? line : JSON.stringify(line)) + '\n');
const lines = createInterface({ input: process.stdin });
const queued = [];
const waiting = [];
lines.on('line', (line) => (waiting.length > 0 ? waiting.shift()(line) : queued.push(line)));
const nextLine = () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve) => waiting.push(resolve)));
const described = (error) => ({ code: error?.code, name: error?.name, message: String(error?.message ?? error), string: String(error), stack: String(error?.stack), inspect: inspect(error) });

const db = await open({ url, authToken: token, requestTimeout: 500 });
const report = async (step, promise) => {
  try {
    await promise;
    say({ step, ok: true });
  } catch (error) {
    say({ step, ok: false, error: described(error) });
  }
};
for (;;) {
  const command = await nextLine();
  if (command === 'query') await report(command, db.query('SELECT 1'));
  else if (command === 'write') await report(command, db.execute("INSERT INTO t(label) VALUES ('child ' || random())"));
  else if (command === 'hold') {
    // A transaction that writes, says so, waits for 'continue', then writes again.
    await report('transaction', db.transaction(async (tx) => {
      await tx.execute("INSERT INTO t(label) VALUES ('child tx 1')");
      say({ step: 'hold', ok: true });
      await nextLine();
      await tx.execute("INSERT INTO t(label) VALUES ('child tx 2')");
    }));
  } else if (command === 'migrate-bad') {
    const adapter = libsql({ url, authToken: badToken });
    await report(command, adapter.migrate());
    await adapter.close();
  } else if (command === 'exit') {
    await db.close();
    say({ step: 'exit', ok: true });
    process.exit(0);
  } else {
    say({ step: command, ok: false, error: { message: 'unknown command' } });
  }
}

// An embedded replica in a process of its own, for replica/writes.test.ts: another machine's
// copy of the same primary. Imports the shipped JavaScript, like a user's program.
//
//   node replica-peer.mjs <file> <syncUrl> <token> [<syncInterval seconds>]
//     Opens the replica, prints `ready`, then answers each stdin line — `sync` or `query <sql>`
//     — with one JSON line: { synced: true }, { rows }, or { error: { code, message } }.
//     `close` closes it and exits.
import { createInterface } from 'node:readline';
import { open } from '../../../dist/index.js';

const [file, syncUrl, authToken, syncInterval] = process.argv.slice(2);
const db = await open({ url: `file:${file}`, syncUrl, authToken, ...(syncInterval ? { syncInterval: Number(syncInterval) } : {}) });
const say = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
say('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const [command, ...rest] = line.split(' ');
  try {
    if (command === 'sync') say((await db.sync(), { synced: true }));
    else if (command === 'query') say({ rows: await db.query(rest.join(' ')) });
    else if (command === 'close') break;
    else throw new Error(`unknown command ${command}`);
  } catch (error) {
    say({ error: { code: error?.code, message: String(error?.message ?? error) } });
  }
}
await db.close();
process.exit(0);

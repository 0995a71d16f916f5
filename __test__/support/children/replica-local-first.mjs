// For replica/embedded.test.ts: a replica opened after a local database in the same fresh
// process (the libsql crate's one-time setup). Imports the shipped JavaScript.
//
//   node replica-local-first.mjs <replica file> <syncUrl> <local file>
//     Opens :memory:, then a local file (creating a table), then the replica; prints one JSON
//     line with a query on the first and on the replica.
import { open } from '../../../dist/index.js';

const [file, syncUrl, localFile] = process.argv.slice(2);
const memory = await open(':memory:');
const local = await open('file:' + localFile);
await local.exec('CREATE TABLE x(a)');
const replica = await open({ url: 'file:' + file, syncUrl });
console.log(JSON.stringify({ memory: await memory.query('SELECT 1 AS one'), replica: await replica.query('SELECT v FROM t') }));
await Promise.all([memory.close(), local.close(), replica.close()]);

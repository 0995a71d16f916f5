// For replica/embedded.test.ts: a process that closes its replica, the background sync
// running, must exit on its own. Imports the shipped JavaScript.
//
//   node replica-close-exits.mjs <replica file> <syncUrl>
//     Syncs, reads `t`, lets a few background syncs run, closes; prints one JSON line with the
//     rows and the time of the close.
import { open } from '../../../dist/index.js';

const [file, syncUrl] = process.argv.slice(2);
const db = await open({ url: 'file:' + file, syncUrl, syncInterval: 0.1 });
await db.sync();
const rows = await db.query('SELECT v FROM t');
await new Promise((resolve) => setTimeout(resolve, 300)); // a few background syncs
await db.close();
console.log(JSON.stringify({ rows, closedAt: Date.now() }));
// No process.exit(): the event loop must empty by itself.

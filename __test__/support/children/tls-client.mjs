// A program of a user's, for remote/tls.test.ts: trust comes from the environment it is started
// with (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE), read once per process. Imports the shipped package.
//
//   node tls-client.mjs <token> <url>... [replica=<file>:<syncUrl>]...
//     For each url: opens it (a replica of syncUrl kept in file for `replica=`), writes a row,
//     reads it back and closes; prints one JSON line per target:
//     { target, wrote, rows, ms } or { target, error: { code, message }, ms }.
import { open } from '../../../dist/index.js';

const [authToken, ...targets] = process.argv.slice(2);
for (const target of targets) {
  const started = performance.now();
  const options = target.startsWith('replica=')
    ? (([file, ...syncUrl]) => ({ url: `file:${file}`, syncUrl: syncUrl.join(':') }))(target.slice('replica='.length).split(':'))
    : { url: target };
  let db;
  try {
    db = await open({ ...options, authToken, requestTimeout: 10_000 });
    await db.execute('CREATE TABLE IF NOT EXISTS t(v TEXT)');
    const wrote = `${target} from ${process.pid}`;
    await db.execute('INSERT INTO t(v) VALUES (?)', [wrote]);
    const rows = await db.query('SELECT v FROM t WHERE v = ?', [wrote]);
    console.log(JSON.stringify({ target, wrote, rows, ms: performance.now() - started }));
  } catch (error) {
    console.log(JSON.stringify({ target, error: { code: error?.code, message: String(error?.message ?? error) }, ms: performance.now() - started }));
  } finally {
    await db?.close();
  }
}

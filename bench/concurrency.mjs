/**
 * The concurrency section ("many conversations at once"): `conversations` agent conversations,
 * each a loop of Flue turns (bench/workloads/flue.mjs) on its own agent instance, all at once
 * on one database, for the cell's duration (bench/cell.mjs, `concurrencyCell`). On a local
 * file, at each durability, for the three Flue adapters; on sqld (bench/remote/section.mjs),
 * for flue-libsql and our stores over the client runner on both transports, on loopback and
 * through the latency proxy (`wideConcurrencyGroups`).
 */
import { join } from 'node:path';
import { DURABILITIES, OURS, OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS, OURS_WS } from './config.mjs';
import { FLUE_ADAPTERS } from './peers/flue-adapters.mjs';
import { removeDatabase } from './rounds.mjs';

const cellOf = (config, peer, where) => ({
  suite: 'concurrency',
  workload: 'flue',
  peer,
  conversations: config.conversations,
  warmupMs: config.warmupMs,
  durationMs: config.durationMs,
  ...where,
});

/** One group per durability, each cell on a fresh file in `work`. */
export function localConcurrencyGroups(config, work) {
  const path = join(work, 'concurrency.db');
  return Object.keys(DURABILITIES).map((durability) => ({
    peers: Object.keys(FLUE_ADAPTERS),
    cell: (peer) => cellOf(config, peer, { durability, path }),
    after: () => removeDatabase(path),
  }));
}

/** One group on the server at `url`; `reset` empties it before each cell, `after` cleans up after it. */
export function serverConcurrencyGroups(config, url, reset, after) {
  return [
    {
      peers: [OURS, OURS_WS, OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS],
      cell: (peer) => cellOf(config, peer, { target: 'sqld', url }),
      before: reset,
      after,
    },
  ];
}

/** Through the latency proxy in front of the server at `url`: one group per number of conversations. */
export function wideConcurrencyGroups(config, url, reset, after) {
  return config.conversations.map((conversations) => ({
    peers: [OURS, OURS_WS, OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS],
    cell: (peer) => ({
      suite: 'latency-concurrency',
      workload: 'flue',
      peer,
      url,
      delayMs: config.delayMs,
      conversations,
      warmupMs: config.warmupMs,
      durationMs: config.durationMs,
    }),
    before: reset,
    after,
  }));
}

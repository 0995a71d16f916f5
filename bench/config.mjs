/**
 * The two modes: the full run behind BENCHMARKS.md, and `--quick`, a CI smoke test of the harness.
 *
 * - `remote`: runner workloads and Flue turns over sqld on loopback. 10k rows, not 100k: every
 *   replica cell syncs the whole table, and what a point read costs over a server does not
 *   depend on the table's size. `burst` is workload e's number of concurrent operations.
 * - `latency`: Flue turns through the latency proxy (scripts/latency-proxy.mjs), `delayMs`
 *   each way (`--delay-ms`). A turn there takes hundreds of ms: a few turns, counted, not timed.
 * - `concurrency`: `conversations` concurrent loops of Flue turns on one database.
 * - `wideConcurrency`: that many conversations at once (each count a cell) over the server
 *   through the latency proxy, `delayMs` each way.
 * - `cli`: the operator CLI (bench/cli.mjs) on a file of `conversations` conversations of `turns`
 *   turns (about 12 records a turn), each read-only command timed `repeats` times.
 */
export const MODES = {
  full: {
    rows: 100_000, rounds: 5, burst: 1000, warmupMs: 300, durationMs: 1500,
    remote: { rows: 10_000, rounds: 3, burst: 100, warmupMs: 300, durationMs: 1000 },
    latency: { delayMs: 10, rounds: 2, warmupTurns: 2, turns: 10 },
    concurrency: { conversations: 50, rounds: 3, warmupMs: 300, durationMs: 2000 },
    wideConcurrency: { delayMs: 10, conversations: [1, 20, 50], rounds: 2, warmupMs: 1000, durationMs: 3000 },
    cli: { conversations: 10_000, turns: 8, repeats: 3 },
  },
  quick: {
    rows: 5_000, rounds: 1, burst: 100, warmupMs: 20, durationMs: 100,
    remote: { rows: 500, rounds: 1, burst: 20, warmupMs: 20, durationMs: 100 },
    latency: { delayMs: 10, rounds: 1, warmupTurns: 0, turns: 2 },
    concurrency: { conversations: 10, rounds: 1, warmupMs: 20, durationMs: 200 },
    wideConcurrency: { delayMs: 10, conversations: [1, 5], rounds: 1, warmupMs: 0, durationMs: 200 },
    cli: { conversations: 50, turns: 2, repeats: 1 },
  },
};

/** The reference peers, named as in RUNNER_PEERS / FLUE_ADAPTERS. */
export const OURS = 'flue-libsql';
/** flue-libsql opened with its defaults, the sync level set by the application's own `PRAGMA synchronous`. */
export const OURS_PRAGMA = 'flue-libsql (PRAGMA)';
export const OURS_WS = 'flue-libsql (ws)';
export const BETTER_SQLITE3 = 'better-sqlite3';
export const PEER1 = '@libsql/client runner';
export const FLUE_SQLITE = 'Flue sqlite()';
export const OURS_OVER_PEER1 = 'flue-libsql stores over @libsql/client runner';

/** The remote sections' peers (bench/peers/remote-peers.mjs): peer 1 over each of its transports. */
export const CLIENT_HTTP = '@libsql/client runner (http)';
export const CLIENT_WS = '@libsql/client runner (ws)';
export const OURS_OVER_CLIENT_HTTP = 'flue-libsql stores over @libsql/client runner (http)';
export const OURS_OVER_CLIENT_WS = 'flue-libsql stores over @libsql/client runner (ws)';
export const REPLICA = 'flue-libsql replica';
export const REPLICA_WS = 'flue-libsql replica (ws)';
export const LOCAL_FILE = 'flue-libsql local file';

/**
 * The targets for flue-libsql, as ratios of medians (ops/s); the runner workloads' are checked
 * for flue-libsql with the `durability` option and with the application's own `PRAGMA
 * synchronous` (`OURS_PRAGMA`). `rssMarginMB` is checked on each runner workload:
 * flue-libsql's median peak RSS may exceed better-sqlite3's by at most this much (MB = 10^6
 * bytes).
 */
export const TARGETS = {
  a: [{ vs: BETTER_SQLITE3, ratio: 0.9 }, { vs: PEER1, ratio: 6 }],
  b: [{ vs: BETTER_SQLITE3, ratio: 0.9 }],
  c: [{ vs: BETTER_SQLITE3, ratio: 0.9 }],
  d: [{ vs: BETTER_SQLITE3, ratio: 1.2 }],
  e: [{ vs: PEER1, ratio: 3 }, { errors: 0 }],
  flue: [{ vs: FLUE_SQLITE, ratio: 1 }, { vs: OURS_OVER_PEER1, ratio: 3 }],
  rssMarginMB: 10,
};

/**
 * The remote targets. Against peer 1, the better of its two transports per workload (so
 * neither transport's weakness flatters us):
 * - `workloads`: each runner workload over sqld, flue-libsql's ops/s ≥ ratio × the client's;
 * - `turnLatency`: a Flue turn through the latency proxy, flue-libsql's median latency ≤ ratio ×
 *   our stores over the client runner (Flue's stores cost the same on both sides: the
 *   difference is the transport and the round trips);
 * - `replicaReads`: reads on an embedded replica ≥ ratio × the same reads on a local file.
 */
export const REMOTE_TARGETS = {
  workloads: { ratio: 1.5, vs: [CLIENT_HTTP, CLIENT_WS] },
  turnLatency: { ratio: 0.5, vs: [OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS] },
  replicaReads: { ratio: 0.8, vs: LOCAL_FILE, workloads: ['a', 'd'] },
};

/**
 * An embedded replica's Flue turn against the server it copies (the better of each side's two
 * transports): at the latency proxy, round trips per turn ≤ `turnRoundTrips`, the median turn ≤
 * `latencyRatio` × the server's, open + migrate ≤ `openRoundTrips`, kB per turn ≤ `bytesRatio` ×
 * the server's; on loopback, turns/s ≥ `loopbackRatio` × the server's over ws.
 */
/** How long a latency cell watches the link after its last turn, before it closes. */
export const AFTER_TURNS_MS = 500;

export const REPLICA_TARGETS = { turnRoundTrips: 8, latencyRatio: 1.2, openRoundTrips: 15, bytesRatio: 2, loopbackRatio: 0.9 };

/**
 * Many conversations over a server at a wide-area round trip (the latency proxy), for
 * flue-libsql on each transport: at `conversations` at once, turns/s in all ≥ `turnsPerSec` and
 * the median turn ≤ `latencyRatio` × a lone conversation's median turn. On loopback, 50
 * conversations' turns/s ≥ `loopbackRatio` × one conversation's (the remote Flue cell).
 */
export const SERVER_CONCURRENCY_TARGETS = {
  wide: [
    { conversations: 20, turnsPerSec: 100, latencyRatio: 2 },
    { conversations: 50, turnsPerSec: 200, latencyRatio: 3 },
  ],
  loopbackRatio: 3,
};

/** Many conversations at once: flue-libsql's turns/s ≥ ratio × Flue sqlite()'s at FULL, with a p99 latency no worse. */
export const CONCURRENCY_TARGET = { vs: FLUE_SQLITE, ratio: 3, durability: 'full' };

/**
 * The durability levels each workload runs at. 'full' (synchronous=FULL, flue-libsql's default:
 * every commit is fsynced) is the headline. Writes at FULL are bound by the fsync, which costs
 * every peer the same and hides what the drivers themselves cost (better-sqlite3 itself reaches
 * ~2x peer 1 on e there), so the write workloads also run at 'normal' (synchronous=NORMAL, WAL:
 * commits are not fsynced, checkpoints are), where the driver's own cost shows.
 */
export const DURABILITIES = {
  full: { synchronous: 'FULL', workloads: ['a', 'b', 'c', 'd', 'e', 'flue'] },
  normal: { synchronous: 'NORMAL', workloads: ['b', 'c', 'e', 'flue'] },
};

/**
 * The operator CLI on real volumes (issue #21, item 6): on 10,000 conversations and about a
 * million records, the best of each read-only command's runs within `maxMs`; `copy` to a sqld
 * on loopback at `minRecordsPerSec` at least.
 */
export const CLI_TARGETS = {
  commands: { conversations: { maxMs: 2000 }, stats: { maxMs: 2000 }, show: { maxMs: 200 }, 'show --messages --tools': { maxMs: 200 } },
  copy: { minRecordsPerSec: 10_000 },
};

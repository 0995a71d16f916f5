/** The two modes: the full run behind BENCHMARKS.md, and `--quick`, a CI smoke test of the harness. */
export const MODES = {
  full: { rows: 100_000, rounds: 5, burst: 1000, warmupMs: 300, durationMs: 1500 },
  quick: { rows: 5_000, rounds: 1, burst: 100, warmupMs: 20, durationMs: 100 },
};

/** The reference peers, named as in RUNNER_PEERS / FLUE_ADAPTERS. */
export const OURS = 'flue-libsql';
export const BETTER_SQLITE3 = 'better-sqlite3';
export const PEER1 = '@libsql/client runner';
export const FLUE_SQLITE = 'Flue sqlite()';
export const OURS_OVER_PEER1 = 'flue-libsql stores over @libsql/client runner';

/**
 * The targets for flue-libsql, as ratios of medians (ops/s). `rssMarginMB` is checked on
 * each runner workload: flue-libsql's median peak RSS may exceed better-sqlite3's by at most
 * this much (MB = 10^6 bytes).
 */
export const TARGETS = {
  a: [{ vs: BETTER_SQLITE3, ratio: 0.75 }, { vs: PEER1, ratio: 6 }],
  b: [{ vs: BETTER_SQLITE3, ratio: 0.9 }],
  c: [{ vs: BETTER_SQLITE3, ratio: 0.9 }],
  d: [{ vs: BETTER_SQLITE3, ratio: 0.8 }],
  e: [{ vs: PEER1, ratio: 3 }, { errors: 0 }],
  flue: [{ vs: FLUE_SQLITE, ratio: 1 }, { vs: OURS_OVER_PEER1, ratio: 3 }],
  rssMarginMB: 10,
};

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

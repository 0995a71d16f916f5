/**
 * One benchmark cell in its own process: one peer, one workload, one round. The parent
 * (run.mjs) passes the cell as JSON in argv[2] and reads one JSON line from stdout.
 *
 *   { suite: 'runner', peer, workload, durability, path, rows, burst, warmupMs, durationMs }
 *     path is a fresh copy of the seeded 100k-row database
 *   { suite: 'flue', peer, durability, path, warmupMs, durationMs }
 *     path is a fresh, empty file
 *   { suite: 'seed', path, rows }
 *     writes the seeded database the runner cells copy
 *   { suite: 'remote', peer, workload, url, rows, burst, warmupMs, durationMs }
 *     runner workloads over sqld at `url`, its `items` table reset to the seeded rows
 *   { suite: 'replica', peer, workload, url, path, rows, warmupMs, durationMs }
 *     reads on a replica of `url` made at `path`, or on `path`, a copy of the same rows
 *   { suite: 'remote-flue', peer, url, path, warmupMs, durationMs }
 *     Flue turns over sqld, emptied of Flue's tables (path: a replica's file, if one)
 *   { suite: 'latency', peer, url, path, delayMs, warmupTurns, turns }
 *     Flue turns through the latency proxy (bench/remote/latency-cell.mjs)
 *   { suite: 'latency-concurrency', peer, url, delayMs, conversations, warmupMs, durationMs }
 *     many conversations' Flue turns at once through the latency proxy
 *   { suite: 'concurrency', peer, durability, path | url, conversations, warmupMs, durationMs }
 *     many conversations' Flue turns at once, on a fresh file (path) or emptied sqld (url)
 */
import v8 from 'node:v8';
import { seedDatabase } from './seed.mjs';
import { CHUNK, rate, timeSteps } from './timing.mjs';

const cell = JSON.parse(process.argv[2]);

/** The runner peer the cell names: on a file, over the server, or on a replica. */
async function openRunnerPeer() {
  if (cell.suite === 'runner') return (await import('./peers/runner-peers.mjs')).RUNNER_PEERS[cell.peer](cell.path, cell.durability);
  const { REMOTE_RUNNER_PEERS, REPLICA_PEERS } = await import('./peers/remote-peers.mjs');
  return (cell.suite === 'replica' ? REPLICA_PEERS : REMOTE_RUNNER_PEERS)[cell.peer](cell);
}

/** The Flue adapter the cell names: on a file (path), or over the server (url). */
async function openAdapter() {
  if (!cell.url) return (await import('./peers/flue-adapters.mjs')).FLUE_ADAPTERS[cell.peer](cell.path, cell.durability);
  return (await import('./peers/remote-peers.mjs')).REMOTE_FLUE_ADAPTERS[cell.peer](cell);
}

async function runnerCell() {
  const { workloadStep } = await import('./workloads/runner.mjs');
  const peer = await openRunnerPeer();
  const pragmas = await peer.pragmas();
  const { step, opsPerStep, state } = workloadStep(cell.workload, peer, cell);
  const timed = await timeSteps(step, {
    isAsync: peer.async,
    warmupMs: cell.warmupMs,
    durationMs: cell.durationMs,
    minSteps: cell.workload === 'e' ? 2 : 1,
    chunk: CHUNK[cell.workload],
  });
  await peer.close();
  return {
    ...rate(timed, opsPerStep),
    // Workload e: failed operations over warm-up and timed bursts, and one burst's duration.
    ...(cell.workload === 'e' ? { errors: state.errors, firstError: state.firstError, burstMs: timed.ms / timed.steps } : {}),
    pragmas,
  };
}

/** import + open + migrate + connect, timed from nothing (the cell's first import of the adapter). */
async function connectAdapter() {
  const start = performance.now();
  const adapter = await openAdapter();
  await adapter.migrate();
  const stores = await adapter.connect();
  return { adapter, stores, openMs: performance.now() - start };
}

async function flueCell() {
  const { adapter, stores, openMs } = await connectAdapter();
  const { setupConversation, turn } = await import('./workloads/flue.mjs');
  const conversation = await setupConversation(stores);
  const timed = await timeSteps((n) => turn(stores, conversation, n), {
    isAsync: true,
    warmupMs: cell.warmupMs,
    durationMs: cell.durationMs,
    chunk: CHUNK.turn,
  });
  await adapter.close();
  return { ...rate(timed), openMs };
}

/** `conversations` loops of turns at once, each on its own agent instance; turns/s and latency percentiles. */
async function concurrencyCell() {
  const { adapter, stores, openMs } = await connectAdapter();
  const { timeConversations } = await import('./workloads/flue.mjs');
  const timed = await timeConversations(stores, cell);
  await adapter.close();
  return { ...timed, openMs };
}

const SUITES = {
  seed: () => seedDatabase(cell.path, cell.rows),
  runner: runnerCell,
  remote: runnerCell,
  replica: runnerCell,
  flue: flueCell,
  'remote-flue': flueCell,
  concurrency: concurrencyCell,
  latency: async () => (await import('./remote/latency-cell.mjs')).latencyCell(cell),
  'latency-concurrency': async () => (await import('./remote/latency-cell.mjs')).latencyConcurrencyCell(cell),
};

async function main() {
  const result = await SUITES[cell.suite]();
  if (cell.suite === 'seed') return result;
  // Peak resident set of this whole process (KiB on Linux), taken after the work is done, and
  // how far V8 grew its young generation (it grows with the rate of surviving allocations,
  // which an awaited loop has more of than a synchronous one).
  const newSpace = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  return { ...result, maxRssKB: process.resourceUsage().maxRSS, newSpaceBytes: newSpace?.space_size ?? 0 };
}

main().then(
  (result) => process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`),
  (error) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(error?.stack ?? error) })}\n`);
    process.exitCode = 1;
  },
);

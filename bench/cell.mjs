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
 */
import v8 from 'node:v8';
import { seedDatabase } from './seed.mjs';
import { CHUNK, timeSteps } from './timing.mjs';

const cell = JSON.parse(process.argv[2]);

async function runnerCell() {
  const { RUNNER_PEERS } = await import('./peers/runner-peers.mjs');
  const { workloadStep } = await import('./workloads/runner.mjs');
  const peer = await RUNNER_PEERS[cell.peer](cell.path, cell.durability);
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
  const ops = timed.steps * opsPerStep;
  return {
    ops,
    ms: timed.ms,
    opsPerSec: ops / (timed.ms / 1000),
    // Workload e: failed operations over warm-up and timed bursts, and one burst's duration.
    ...(cell.workload === 'e' ? { errors: state.errors, firstError: state.firstError, burstMs: timed.ms / timed.steps } : {}),
    pragmas,
  };
}

async function flueCell() {
  const start = performance.now();
  const { FLUE_ADAPTERS } = await import('./peers/flue-adapters.mjs');
  const adapter = await FLUE_ADAPTERS[cell.peer](cell.path, cell.durability);
  await adapter.migrate();
  const stores = await adapter.connect();
  const openMs = performance.now() - start;
  const { setupConversation, turn } = await import('./workloads/flue.mjs');
  const conversation = await setupConversation(stores);
  const timed = await timeSteps((n) => turn(stores, conversation, n), {
    isAsync: true,
    warmupMs: cell.warmupMs,
    durationMs: cell.durationMs,
    chunk: CHUNK.turn,
  });
  await adapter.close();
  return { ops: timed.steps, ms: timed.ms, opsPerSec: timed.steps / (timed.ms / 1000), openMs };
}

async function main() {
  if (cell.suite === 'seed') return seedDatabase(cell.path, cell.rows);
  const result = cell.suite === 'runner' ? await runnerCell() : await flueCell();
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

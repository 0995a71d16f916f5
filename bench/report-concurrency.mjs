/**
 * The report's concurrency section ("many conversations at once", bench/concurrency.mjs), with
 * its target (config.mjs, CONCURRENCY_TARGET). From results.json's `concurrency` only.
 */
import {
  CONCURRENCY_TARGET,
  DURABILITIES,
  OURS,
  OURS_OVER_CLIENT_HTTP,
  OURS_OVER_CLIENT_WS,
  OURS_OVER_PEER1,
  OURS_WS,
  SERVER_CONCURRENCY_TARGETS,
} from './config.mjs';
import { bestOf, num, peerName, ratio, summarize, table, targetsTable } from './report-kit.mjs';

const onFile = (cells) => cells.filter((cell) => cell.suite === 'concurrency' && cell.target !== 'sqld');
const onServer = (cells) => cells.filter((cell) => cell.suite === 'concurrency' && cell.target === 'sqld');
/** Through the latency proxy, `conversations` at once. */
const overWideLink = (cells, conversations) => cells.filter((cell) => cell.suite === 'latency-concurrency' && cell.conversations === conversations);

function evaluate(cells) {
  const { vs, ratio: wanted, durability } = CONCURRENCY_TARGET;
  const peers = summarize(onFile(cells), 'flue', durability);
  const ours = peers.get(OURS);
  const them = peers.get(vs);
  const value = ours && them ? ours.median / them.median : NaN;
  const [p99, theirP99] = [ours?.of('p99Ms'), them?.of('p99Ms')];
  const level = `synchronous=${DURABILITIES[durability].synchronous}`;
  return [
    { what: `turns/s, ${level}`, target: `≥ ${wanted}× ${vs}`, measured: `${ratio(value)} (${num(ours?.median)} vs ${num(them?.median)})`, met: value >= wanted },
    { what: `p99 turn latency, ${level}`, target: `≤ ${vs}'s`, measured: `${num(p99)} ms vs ${num(theirP99)} ms`, met: p99 <= theirP99 },
  ];
}

/** One row per adapter: turns/s, latency percentiles, and the ratio to `reference` (an entry). */
function turnsTable(peers, reference, referenceLabel) {
  return table(
    ['adapter', 'median turns/s', 'min – max', 'p50 turn (ms)', 'p99 turn (ms)', 'max turn (ms)', `× ${referenceLabel}`],
    [...peers.values()].map((p) => [
      peerName(p),
      num(p.median),
      `${num(p.min)} – ${num(p.max)}`,
      num(p.of('p50Ms')),
      num(p.of('p99Ms')),
      num(p.of('maxMs')),
      ratio(p.median / reference?.median),
    ]),
  );
}

/**
 * The targets of many conversations over a server (SERVER_CONCURRENCY_TARGETS), for flue-libsql
 * on each transport. `loneTurns` are the remote sections' one-conversation Flue cells on loopback.
 */
function evaluateServer(cells, loneTurns) {
  const rows = [];
  for (const peer of [OURS, OURS_WS]) {
    const lone = summarize(overWideLink(cells, 1), 'flue', 'full').get(peer);
    for (const target of SERVER_CONCURRENCY_TARGETS.wide) {
      const many = summarize(overWideLink(cells, target.conversations), 'flue', 'full').get(peer);
      const slower = many?.of('p50Ms') / lone?.of('p50Ms');
      rows.push(
        { what: `${peer}: ${target.conversations} conversations, turns/s`, target: `≥ ${target.turnsPerSec}`, measured: num(many?.median), met: many?.median >= target.turnsPerSec },
        {
          what: `${peer}: ${target.conversations} conversations, median turn`,
          target: `≤ ${target.latencyRatio}× a lone turn's`,
          measured: `${ratio(slower)} (${num(many?.of('p50Ms'))} vs ${num(lone?.of('p50Ms'))} ms)`,
          met: slower <= target.latencyRatio,
        },
      );
    }
    const fifty = summarize(onServer(cells), 'flue', 'full').get(peer);
    const one = summarize(loneTurns, 'flue', 'full').get(peer);
    const gain = fifty?.median / one?.median;
    rows.push({
      what: `${peer}: loopback, many conversations vs one`,
      target: `≥ ${SERVER_CONCURRENCY_TARGETS.loopbackRatio}× one's turns/s`,
      measured: `${ratio(gain)} (${num(fifty?.median)} vs ${num(one?.median)})`,
      met: gain >= SERVER_CONCURRENCY_TARGETS.loopbackRatio,
    });
  }
  return rows;
}

/** Per number of conversations, one row per adapter: turns/s, latencies, and against a lone turn. */
function wideTable(cells, counts) {
  const rows = [];
  for (const conversations of counts) {
    for (const p of summarize(overWideLink(cells, conversations), 'flue', 'full').values()) {
      const lone = summarize(overWideLink(cells, 1), 'flue', 'full').get(p.peer);
      rows.push([
        String(conversations),
        peerName(p),
        num(p.median),
        num(p.of('p50Ms')),
        num(p.of('p99Ms')),
        ratio(p.of('p50Ms') / lone?.of('p50Ms')),
        num(p.of('connections')),
        num(p.of('openAfterClose')),
      ]);
    }
  }
  return table(['conversations', 'adapter', 'median turns/s', 'p50 turn (ms)', 'p99 turn (ms)', 'p50 × a lone turn\'s', 'connections opened', 'open after close()'], rows);
}

/** The section on many conversations over a server through the latency proxy. */
function renderWide(cells, config, remote) {
  const w = config.wideConcurrency;
  const lines = [`## Many conversations over a server at ${2 * (w?.delayMs ?? 10)} ms RTT`, ''];
  if (!w || !cells.some((cell) => cell.suite === 'latency-concurrency')) {
    lines.push(`Not run: ${remote?.skipped ?? 'these results predate this section'}.`, '');
    return lines;
  }
  lines.push(
    `N agent conversations (N = ${w.conversations.join(', ')}), each a loop of the Flue turn, all at once on one adapter, through the`,
    `latency proxy (each chunk held ${w.delayMs} ms each way) in front of sqld; a warm-up of ${w.warmupMs} ms, then at least ${w.durationMs} ms;`,
    `${w.rounds} round(s), interleaved, the server reset before each cell. flue-libsql runs independent calls side by side on up to`,
    '`concurrency` lanes (default 32; docs/performance.md, "Many conversations on one server"); "connections opened" counts the',
    'TCP connections the adapter made through the proxy over the whole cell, "open after close()" those still open once it closed.',
    '',
    '### Targets (many conversations over a server)',
    '',
    ...targetsTable(evaluateServer(cells, (remote?.cells ?? []).filter((cell) => cell.suite === 'remote-flue'))),
    '',
    wideTable(cells, w.conversations),
    '',
  );
  return lines;
}

/** The concurrency section's markdown lines. `remote` says whether (and why not) sqld ran. */
export function renderConcurrency(concurrency, config, remote) {
  if (!concurrency) return ['## Many conversations at once', '', 'Not run: these results predate the concurrency section.', ''];
  const { cells } = concurrency;
  const c = config.concurrency;
  const lines = [
    '## Many conversations at once',
    '',
    `${c.conversations} agent conversations on one database, each a loop of the Flue turn above on its own agent instance`,
    '(its own stream and ids), all running at once in one process on one adapter: each loop awaits its turn, then starts',
    `the next. Each cell warms up for ${c.warmupMs} ms, then runs for at least ${c.durationMs} ms (until every loop's last turn ends);`,
    `${c.rounds} round(s), interleaved, one process per cell, a fresh file per cell. turns/s counts every conversation's turns;`,
    'latency is one turn\'s, from its first store call to its last (the percentiles are over all timed turns of the cell, medians over rounds).',
    '',
    '### Target (concurrency)',
    '',
    ...targetsTable(evaluate(cells)),
    '',
  ];
  for (const durability of Object.keys(DURABILITIES)) {
    const peers = summarize(onFile(cells), 'flue', durability);
    if (peers.size === 0) continue;
    lines.push(`At synchronous=${DURABILITIES[durability].synchronous}:`, '', turnsTable(peers, peers.get(CONCURRENCY_TARGET.vs), CONCURRENCY_TARGET.vs), '');
  }
  lines.push(`### ${c.conversations} conversations over sqld (loopback)`, '');
  const served = summarize(onServer(cells), 'flue', 'full');
  if (served.size === 0) {
    lines.push(`Not run: ${remote?.skipped ?? 'no sqld'}.`, '');
  } else {
    const client = bestOf(served, [OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS], (p) => p.median);
    lines.push('The same, over the server (reset before each cell, as in the remote sections).', '', turnsTable(served, client, `${OURS_OVER_PEER1}, better transport`), '');
  }
  lines.push(...renderWide(cells, config, remote));
  return lines;
}

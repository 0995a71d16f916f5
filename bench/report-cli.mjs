/**
 * The report's "Operator CLI on real volumes" section (bench/cli.mjs): the file's size, each
 * command's wall time, the copy rate, and the targets of issue #21, item 6 (config.mjs,
 * CLI_TARGETS). From results.json's `cli` only.
 */
import { CLI_TARGETS } from './config.mjs';
import { groupCommas, num, table, targetsTable } from './report-kit.mjs';

const count = (n) => groupCommas(String(n));
const best = (command) => Math.min(...command.runsMs);
const copyRate = (copy) => copy.records / (copy.ms / 1000);

function evaluate(cli) {
  const rows = cli.commands.map((command) => ({
    what: `\`${command.name}\``,
    target: `≤ ${num(CLI_TARGETS.commands[command.name].maxMs)} ms`,
    measured: `${num(best(command))} ms`,
    met: best(command) <= CLI_TARGETS.commands[command.name].maxMs,
  }));
  rows.push({
    what: '`copy` to sqld on loopback',
    target: `≥ ${count(CLI_TARGETS.copy.minRecordsPerSec)} records/s`,
    measured: cli.copy.skipped ? `not run: ${cli.copy.skipped}` : `${num(copyRate(cli.copy))} records/s`,
    met: !cli.copy.skipped && copyRate(cli.copy) >= CLI_TARGETS.copy.minRecordsPerSec,
  });
  return rows;
}

export function renderCli(cli) {
  const lines = ['## Operator CLI on real volumes', ''];
  if (!cli || cli.failed) return [...lines, `Not run: ${cli ? `failed: ${cli.failed}` : 'no CLI section in these results'}.`, ''];
  const repeats = cli.commands[0].runsMs.length;
  lines.push(
    `\`flue-libsql\`'s commands (docs/cli.md) on a file of ${count(cli.streams)} conversations, ${count(cli.records)} records`,
    `(${count(cli.batches)} batches), ${count(cli.submissions)} submissions, ${num(cli.fileBytes / 1e6)} MB: one conversation of ${cli.turns} turns (a tool`,
    `call and a reply each) written through Flue's runtime on a faux model, then cloned in SQL; built in ${num(cli.buildMs / 1000)} s.`,
    `Each command is a process, as a user runs it (\`node dist/flue/cli.js …\`, on the machine above), run ${repeats}`,
    `time(s); its time is the best run's wall time, from spawn to exit.`,
    '',
    table(
      ['command', 'best (ms)', 'runs (ms)'],
      cli.commands.map((command) => [`\`${command.command}\``, num(best(command)), command.runsMs.map(num).join(', ')]),
    ),
    '',
    cli.copy.skipped
      ? `\`copy\` to a sqld: not run (${cli.copy.skipped}).`
      : `\`copy\` to ${cli.copy.sqld} on loopback, once, into an empty server: ${count(cli.copy.rows)} rows (${count(cli.copy.records)} records on the server afterwards) in ${num(cli.copy.ms)} ms, ${num(copyRate(cli.copy))} records/s.`,
    '',
    '### Targets (CLI, issue #21)',
    '',
    ...targetsTable(evaluate(cli)),
    'Where the time goes, and why the misses stay: [docs/cli.md](docs/cli.md), "Performance".',
    '',
  );
  return lines;
}

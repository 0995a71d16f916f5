/**
 * The parent's side of cells: each cell runs in a fresh child process (bench/cell.mjs), and a
 * section's cells run in interleaved rounds. Every section (local, remote, latency,
 * concurrency) goes through `runRounds`, so all are run, logged and recorded alike.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { NODE, ROOT } from './setup.mjs';

const log = (message) => process.stderr.write(`bench: ${message}\n`);

/** Runs one cell in a fresh child process and returns its parsed result line. */
export function runCell(cell) {
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

/** Removes a database file a cell used, with its WAL, shared-memory and journal files. */
export const removeDatabase = (path) => ['', '-wal', '-shm', '-journal'].forEach((suffix) => rmSync(path + suffix, { force: true }));

// Peers take turns inside each group, starting one later each round, so slow drift on a
// shared machine spreads over all of them.
const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);

/** What a finished cell's log line shows: its rate, and its latencies when it measured them. */
function shown(result) {
  if (!result.ok) return `FAILED: ${result.error.split('\n')[0]}`;
  const parts = [`${Math.round(result.opsPerSec).toLocaleString('en-US')}/s`];
  if (result.p50Ms !== undefined) parts.push(`p50 ${result.p50Ms.toFixed(1)} ms`);
  if (result.p99Ms !== undefined) parts.push(`p99 ${result.p99Ms.toFixed(1)} ms`);
  if (result.roundTripsPerTurn !== undefined) parts.push(`${result.roundTripsPerTurn.toFixed(1)} round trips/turn`);
  return parts.join(', ');
}

/**
 * Runs `rounds` rounds over `groups` (each `{ peers, cell(peer), before?(cell), after?(cell) }`,
 * e.g. one group per workload): every round runs each group's peers in turn. `before` prepares
 * what the cell runs on (a copy of the seed, a reset server) and `after` undoes it; both may be
 * async. When `before` throws, the cell is recorded as failed without running. Returns the recorded cells: the cell's fields
 * (without `path`, a temp file) and its result.
 */
export async function runRounds(name, rounds, groups) {
  const cells = [];
  const total = rounds * groups.reduce((sum, group) => sum + group.peers.length, 0);
  for (let round = 1; round <= rounds; round++) {
    for (const group of groups) {
      for (const peer of rotate(group.peers, round - 1)) {
        const cell = { ...group.cell(peer), round };
        let result;
        try {
          await group.before?.(cell);
          result = runCell(cell);
        } catch (error) {
          result = { ok: false, error: `preparing the cell: ${error?.stack ?? error}` };
        }
        await group.after?.(cell);
        const { path: _path, ...kept } = cell;
        cells.push({ ...kept, ...result });
        const what = [cell.durability, cell.workload, peer].filter(Boolean).join(' ');
        log(`${name} [${cells.length}/${total}] round ${round} ${what}: ${shown(result)}`);
      }
    }
  }
  return cells;
}

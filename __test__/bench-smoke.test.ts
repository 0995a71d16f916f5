/**
 * `npm run bench -- --quick` still works: every cell (peer × workload) runs in its child
 * process and measures something, and the report is written. A smoke test of the harness,
 * never a speed assertion: the quick mode's numbers mean nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const out = mkdtempSync(join(tmpdir(), 'flue-libsql-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Cell {
  suite: 'runner' | 'flue';
  durability: 'full' | 'normal';
  pragmas?: { synchronous: number };
  workload: string;
  peer: string;
  ok: boolean;
  error?: string;
  opsPerSec: number;
  maxRssKB: number;
  errors?: number;
  openMs?: number;
}

// Up to a minute more when better-sqlite3 must first be rebuilt for this Node.
test('npm run bench -- --quick runs every cell and writes the report', { timeout: 180_000 }, () => {
  const run = spawnSync(process.execPath, ['bench/run.mjs', '--quick', '--out', out], { encoding: 'utf8', timeout: 170_000 });
  expect(run.status, run.stderr).toBe(0);

  const { meta, cells } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { meta: { mode: string }; cells: Cell[] };
  expect(meta.mode).toBe('quick');
  // One round: 4 runner peers × (5 workloads at FULL + b, c, e at NORMAL), 3 Flue adapters × 2 levels.
  expect(cells.filter((c) => c.suite === 'runner')).toHaveLength(32);
  expect(cells.filter((c) => c.suite === 'flue')).toHaveLength(6);
  expect(cells.filter((c) => c.durability === 'normal').map((c) => c.workload).sort()).toEqual(
    [...Array(4).fill('b'), ...Array(4).fill('c'), ...Array(4).fill('e'), ...Array(3).fill('flue')],
  );
  // Each peer's connection really ran at the level its cell asked for (2 = FULL, 1 = NORMAL).
  for (const cell of cells.filter((c) => c.suite === 'runner')) {
    expect(cell.pragmas?.synchronous, `${cell.durability} ${cell.workload} ${cell.peer}`).toBe(cell.durability === 'normal' ? 1 : 2);
  }
  for (const cell of cells) {
    const name = `${cell.workload} ${cell.peer}`;
    expect(cell.ok, `${name}: ${cell.error}`).toBe(true);
    expect(cell.opsPerSec, name).toBeGreaterThan(0);
    expect(cell.maxRssKB, name).toBeGreaterThan(0);
    if (cell.suite === 'flue') expect(cell.openMs, name).toBeGreaterThan(0);
    if (cell.workload === 'e') expect(cell.errors, name).toBeTypeOf('number');
  }

  const report = readFileSync(join(out, 'BENCHMARKS.md'), 'utf8');
  expect(report).toContain('# Benchmarks');
  expect(report).toContain('## Targets (flue-libsql)');
  expect(report).toContain('## Flue workload');
  expect(report).not.toContain('## Failed cells');
  // Quick mode never touches the checked-in report.
  expect(existsSync(join(out, 'BENCHMARKS.md'))).toBe(true);
});

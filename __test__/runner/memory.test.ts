/**
 * Memory: bursts of 100k calls that never yield to the event loop do not grow native memory
 * without bound.
 *
 * What proves it: a child process (`--expose-gc`) runs the same 100k-call burst several times
 * in a plain `for` loop — no await, so no promise callback, timer or finalizer gets to run
 * during it — and reports `process.memoryUsage()` after a full GC following each burst. Each
 * call moves 4 KiB in or out (a bound blob or text, a returned blob), runs through the
 * statement cache's eviction (1000 distinct SQL texts) and the error paths, so keeping even
 * one payload per call would add over 200 MB per burst, and any per-call native leak would
 * add up linearly across bursts. Memory that was needed once (allocator arenas, V8's heap
 * high-water mark, SQLite's page cache) shows up in the first burst and then stays flat.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJsonLine, makeTempDir, runNodeChild, type TempDir } from '../support/runner-helpers.js';

const MB = 1024 * 1024;
const CALLS_PER_BURST = 100_000;
const script = fileURLToPath(new URL('../support/children/runner-memory.mjs', import.meta.url));

interface Sample {
  label: string;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}
interface Report {
  samples: Sample[];
  bursts: { round: number; ms: number; yielded: boolean; lastResult: unknown }[];
  updates: number;
  counter: number;
  kvRows: number;
}

async function probe(url: string, rounds: number): Promise<Report> {
  const { done } = runNodeChild(script, [url, String(CALLS_PER_BURST), String(rounds)], {
    // V8's young generation has a fixed size here: newer V8s (Node 24) grow it over the first
    // bursts, which is the heap's own sizing, not memory the runner keeps.
    nodeFlags: ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'],
  });
  const result = await done;
  expect(result.code, result.stderr).toBe(0);
  return lastJsonLine<Report>(result);
}

function describeSamples(samples: Sample[]): string {
  return samples
    .map((s) => `${s.label}: rss ${(s.rss / MB).toFixed(1)} MB, heap ${(s.heapUsed / MB).toFixed(1)} MB, external ${(s.external / MB).toFixed(1)} MB`)
    .join('\n');
}

describe.each([
  { kind: 'memory', rounds: 6 },
  { kind: 'file', rounds: 4 },
])('100k non-yielding calls per burst ($kind)', ({ kind, rounds }) => {
  let dir: TempDir;
  let report: Report;

  beforeAll(async () => {
    dir = await makeTempDir();
    report = await probe(kind === 'memory' ? ':memory:' : `file:${dir.file('memory.db')}`, rounds);
  }, 180_000);
  afterAll(() => dir.remove());

  it('every burst ran to the end without yielding, and every call took effect', () => {
    expect(report.bursts).toHaveLength(rounds);
    for (const burst of report.bursts) {
      expect(burst.yielded).toBe(false);
      expect(burst.lastResult).toBe('SQLITE_CONSTRAINT_NOTNULL'); // the last call (i % 8 == 7) of a burst
    }
    expect(report.updates).toBe((rounds * CALLS_PER_BURST) / 8);
    expect(report.counter).toBe(report.updates);
    expect(report.kvRows).toBe(16);
  });

  it('the first burst grows memory by a bounded amount', () => {
    const [baseline, first] = report.samples;
    const detail = describeSamples(report.samples);
    // Typically ~80 MB; in some runs ~125–135 MB (Node 26: 4 of 15 runs of one probe, with the
    // same JS heap and external memory: pages the allocator kept after the burst's garbage was
    // collected, which later bursts do not add to). One payload kept per call would be ~400 MB.
    expect(first.rss - baseline.rss, detail).toBeLessThan(192 * MB);
    expect(first.external - baseline.external, detail).toBeLessThan(16 * MB);
    expect(first.heapUsed - baseline.heapUsed, detail).toBeLessThan(16 * MB);
  });

  it('later bursts leave memory flat', () => {
    const detail = describeSamples(report.samples);
    const afterSecond = report.samples[2];
    const last = report.samples[report.samples.length - 1];
    const laterBursts = report.samples.length - 3;
    expect(laterBursts).toBeGreaterThanOrEqual(1);
    // Allocator fragmentation may step rss up a little before it settles; a per-call leak of
    // 100 bytes would add 10 MB per burst, and of one payload 400 MB.
    expect(last.rss - afterSecond.rss, detail).toBeLessThan(16 * MB + laterBursts * 8 * MB);
    // No burst after the first adds more than a sliver on its own.
    for (let k = 2; k < report.samples.length; k++) {
      expect(report.samples[k].rss - report.samples[k - 1].rss, detail).toBeLessThan(32 * MB);
    }
    expect(last.external - afterSecond.external, detail).toBeLessThan(4 * MB);
    expect(last.heapUsed - afterSecond.heapUsed, detail).toBeLessThan(8 * MB);
  });
});

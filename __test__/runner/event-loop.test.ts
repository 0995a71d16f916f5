/**
 * Event loop: a long local query blocks the loop for the query itself and no longer.
 *
 * Local statements run on the JS thread (as in better-sqlite3), so while one runs, nothing
 * else does; what must never happen is the loop staying blocked beyond that — extra waiting,
 * a second run, or work left for later. Every bound below is deliberately loose (hundreds of
 * milliseconds over a ~200 ms query) so a busy machine cannot make the test flaky, yet each
 * would catch blocking that is a multiple of the query's own cost.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_KINDS, openTarget, sleep, type Database, type TestDatabase } from '../support/runner-helpers.js';

/** About 200 ms of pure SQLite work on this machine; the result is checkable arithmetic. */
const N = 1_300_000;
const LONG_QUERY = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT count(*) AS n, sum(x) AS s FROM c';
const SLACK_MS = 500;

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(2);
}

describe.each(LOCAL_KINDS)('event loop (%s)', (kind) => {
  let target: TestDatabase;
  let db: Database;

  beforeEach(async () => {
    target = await openTarget(kind);
    db = target.db;
  });
  afterEach(() => target.dispose());

  it('a long query blocks the loop no longer than the query itself; timers resume right after', async () => {
    const ticks: number[] = [];
    const interval = setInterval(() => ticks.push(performance.now()), 5);
    let start = 0;
    let end = 0;
    let timerFiredAt = 0;
    let rows: unknown[] = [];
    try {
      await until(() => ticks.length >= 3);
      // Scheduled before the query starts: it must fire once the query lets go of the loop.
      const timer = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now()), 0));
      start = performance.now();
      rows = await db.query(LONG_QUERY, [N]);
      end = performance.now();
      timerFiredAt = await timer;
      await until(() => ticks.filter((t) => t > end).length >= 3);
    } finally {
      clearInterval(interval);
    }

    expect(rows).toEqual([{ n: N, s: (N * (N + 1)) / 2 }]);
    const queryMs = end - start;
    // The query was long enough for the timing checks to mean something.
    expect(queryMs).toBeGreaterThan(30);
    // The earlier timer fired, and soon after the query finished.
    expect(timerFiredAt).toBeGreaterThan(0);
    expect(timerFiredAt - end).toBeLessThan(SLACK_MS);
    // The interval went on ticking right after the query ...
    const firstTickAfter = ticks.find((t) => t > end)!;
    expect(firstTickAfter - end).toBeLessThan(SLACK_MS);
    // ... and the longest pause between ticks was the query, not more.
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]);
    expect(Math.max(...gaps)).toBeLessThan(queryMs + SLACK_MS);
  });
});

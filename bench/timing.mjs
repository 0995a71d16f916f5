/**
 * The timing loop: runs `step(n)` (n = 0, 1, 2, …) for a warm-up period, then for at least
 * `durationMs` (and at least `minSteps` steps), reading the clock once per `chunk` steps so
 * the clock costs nothing next to fast operations. Async steps are awaited one at a time.
 */
export async function timeSteps(step, { isAsync, warmupMs, durationMs, minSteps = 1, chunk = 1 }) {
  let n = 0;
  const runFor = async (ms, atLeast) => {
    const start = performance.now();
    let steps = 0;
    let elapsed = 0;
    do {
      if (isAsync) for (let i = 0; i < chunk; i++) await step(n++);
      else for (let i = 0; i < chunk; i++) step(n++);
      steps += chunk;
      elapsed = performance.now() - start;
    } while (elapsed < ms || steps < atLeast);
    return { steps, ms: elapsed };
  };
  if (warmupMs > 0) await runFor(warmupMs, 1);
  return runFor(durationMs, minSteps);
}

/** How many steps to run between clock reads, so one chunk takes roughly a few µs at least. */
export const CHUNK = { a: 64, b: 1, c: 1, d: 8, e: 1, turn: 1 };

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

/** A timed run as a cell reports it: operations (`perStep` per step), timed ms, and their rate. */
export function rate(timed, perStep = 1) {
  const ops = timed.steps * perStep;
  return { ops, ms: timed.ms, opsPerSec: ops / (timed.ms / 1000) };
}

/** How many steps to run between clock reads, so one chunk takes roughly a few µs at least. */
export const CHUNK = { a: 64, b: 1, c: 1, d: 8, e: 1, turn: 1 };

/** `step` wrapped so that each call's duration (ms) is pushed to `latencies` while `on.recording`. */
export function recordLatencies(step) {
  const latencies = [];
  const on = { recording: false };
  const recorded = async (...args) => {
    const start = performance.now();
    await step(...args);
    if (on.recording) latencies.push(performance.now() - start);
  };
  return { step: recorded, latencies, on };
}

/**
 * `loops` concurrent loops of `step(loop, n)` (n counts each loop's steps from 0), awaited one
 * at a time inside a loop: a warm-up period, then at least `durationMs`. The timed period ends
 * when the last loop's last step does (so a slow step is counted whole, never cut off), and
 * only steps started in it are timed. A failing step ends the run: the failure is the result.
 */
export async function timeConcurrent(step, { loops, warmupMs, durationMs }) {
  const next = new Array(loops).fill(0);
  const { step: timedStep, latencies, on } = recordLatencies(step);
  const runFor = async (ms) => {
    const start = performance.now();
    let steps = 0;
    await Promise.all(
      next.map(async (_, loop) => {
        do {
          await timedStep(loop, next[loop]++);
          steps++;
        } while (performance.now() - start < ms);
      }),
    );
    return { steps, ms: performance.now() - start };
  };
  if (warmupMs > 0) await runFor(warmupMs);
  on.recording = true;
  const timed = await runFor(durationMs);
  return { ...timed, latencies };
}

/** The p-th percentile (0–100) of `values`, nearest rank. */
export function percentile(values, p) {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

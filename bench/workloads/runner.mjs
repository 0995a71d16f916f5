/**
 * Runner workloads a–e: each is an operation the timing loop repeats, counted in ops.
 *
 * Async peers are awaited one operation at a time (Flue awaits every store call); sync
 * peers are called directly. Workload e fires 1000 operations at once at an async peer and
 * awaits them together; a sync peer cannot overlap calls, so it runs the same 1000
 * operations in a loop (the report says so).
 */

export const RUNNER_WORKLOADS = {
  a: { title: 'a. point SELECT by primary key (row as object)', unit: 'queries/s' },
  b: { title: 'b. single-row INSERT, autocommit', unit: 'inserts/s' },
  c: { title: 'c. write transaction of 10 INSERTs', unit: 'transactions/s' },
  d: { title: 'd. SELECT of 100 rows as objects', unit: 'queries/s' },
  e: { title: 'e. a burst of concurrent operations (½ point SELECT, ½ INSERT)', unit: 'ops/s' },
};

/** Deterministic ids in 1..rows (the same sequence for every peer). */
export function randomIds(rows, count, seed = 0x2545f491) {
  const ids = new Int32Array(count);
  let x = seed >>> 0;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    ids[i] = 1 + (x % rows);
  }
  return ids;
}

/**
 * The unit of work for one workload: `step(n)` does `opsPerStep` operations (a promise for
 * async peers). `errors` counts operations that failed (workload e only; elsewhere a
 * failure ends the cell).
 */
export function workloadStep(workload, peer, { rows, burst }) {
  const ids = randomIds(rows, 1 << 16);
  const mask = ids.length - 1;
  const rangeStarts = ids.map((id) => Math.max(1, id - 100));
  const state = { errors: 0, firstError: null };
  const fail = (error) => {
    state.errors++;
    state.firstError ??= String(error?.message ?? error);
  };
  switch (workload) {
    case 'a':
      return { state, opsPerStep: 1, step: (n) => peer.point(ids[n & mask]) };
    case 'b':
      return { state, opsPerStep: 1, step: (n) => peer.insert(n) };
    case 'c':
      return { state, opsPerStep: 1, step: (n) => peer.tx10(n) };
    case 'd':
      return { state, opsPerStep: 1, step: (n) => peer.range(rangeStarts[n & mask]) };
    case 'e':
      return { state, opsPerStep: burst, step: peer.async ? asyncBurst(peer, ids, burst, fail) : syncBurst(peer, ids, burst, fail) };
    default:
      throw new Error(`unknown runner workload ${workload}`);
  }
}

/** Fires `burst` operations without awaiting, then awaits them all together. */
function asyncBurst(peer, ids, burst, fail) {
  const mask = ids.length - 1;
  return async (n) => {
    const pending = new Array(burst);
    for (let i = 0; i < burst; i++) {
      const k = n * burst + i;
      try {
        pending[i] = i & 1 ? peer.insert(k) : peer.point(ids[k & mask]);
      } catch (error) {
        pending[i] = Promise.reject(error);
      }
    }
    for (const result of await Promise.allSettled(pending)) if (result.status === 'rejected') fail(result.reason);
  };
}

/** The same operations, one after another (a sync peer cannot overlap calls). */
function syncBurst(peer, ids, burst, fail) {
  const mask = ids.length - 1;
  return (n) => {
    for (let i = 0; i < burst; i++) {
      const k = n * burst + i;
      try {
        if (i & 1) peer.insert(k);
        else peer.point(ids[k & mask]);
      } catch (error) {
        fail(error);
      }
    }
  };
}

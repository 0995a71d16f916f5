/**
 * Waiting for a lock held by another connection (in this process or another). Local
 * connections report `SQLITE_BUSY` at once instead of sleeping on the JS thread (see
 * src/engine/open.rs), so the event loop — and the other connection's transaction — keeps
 * running while this one waits with timers. Retrying is safe: a statement refused with
 * `SQLITE_BUSY`, or a refused `BEGIN`, changed nothing.
 */
import { LibsqlError, SQLITE_BUSY } from '../errors.js';

export function isBusy(error: unknown): boolean {
  return error instanceof LibsqlError && error.rawCode !== undefined && (error.rawCode & 0xff) === SQLITE_BUSY;
}

/** Runs `call`, retrying while the database is locked, for up to `busyTimeoutMs`. */
export function whileLocked<T>(call: () => T, busyTimeoutMs: number): T | Promise<T> {
  try {
    return call();
  } catch (error) {
    if (!isBusy(error)) throw error;
  }
  return retryWhileLocked(call, busyTimeoutMs);
}

async function retryWhileLocked<T>(call: () => T, busyTimeoutMs: number): Promise<T> {
  const deadline = Date.now() + busyTimeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 25)) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    try {
      return call();
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
    }
  }
}

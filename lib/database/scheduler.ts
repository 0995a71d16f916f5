/**
 * How one connection's calls run: one scheduler per execution model, chosen at open by where
 * the native side runs them (src/executor/mod.rs):
 *
 * - `inline-scheduler.ts`, local targets: native calls run on the JS thread and return their
 *   values; statements of one turn share a commit, commits of one event-loop turn a sync, and a
 *   call refused for another connection's lock waits for it with timers.
 * - `worker-scheduler.ts`, servers and replicas: native calls are handed to the worker (or a
 *   server's lanes) and return promises; the statements called in one turn travel together.
 *
 * Both keep one rule: while a transaction (or `close()`) holds the gate (`gate.ts`), top-level
 * calls wait for it, first come first served, and never run inside it.
 */
import { LibsqlError } from '../errors.js';
import type { ExecuteResult, Params, Row, Transaction } from '../types.js';

export interface Scheduler {
  /** Whether calls leave the JS thread, so that combining them pays (combined-calls.ts). */
  readonly combinesCalls: boolean;
  readonly closed: boolean;
  query<R extends Row>(sql: string, params: Params | undefined): Promise<R[]>;
  execute(sql: string, params: Params | undefined): Promise<ExecuteResult>;
  /** A native call other than a statement (`batch`, `exec`, `migrate`, `sync`), in call order with the statements. */
  call<T>(what: string, op: () => T): Promise<Awaited<T>>;
  transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T>;
  /** Closes the connection after the work already queued; idempotent. */
  close(): Promise<void>;
}

export function closedError(): LibsqlError {
  return new LibsqlError('the database is closed', 'CLIENT_CLOSED');
}

/**
 * The mark of a runner whose calls leave the JS thread — flue-libsql's `Database` on a libSQL
 * server or an embedded replica — where combining them saves what a call costs: `batch()` is
 * one all-or-nothing request to a server (one job for the worker of a replica), and the
 * statements called in one turn travel together. The Flue stores ask for it in one place
 * (lib/flue/stores/atomic.ts); on a local file, where statements run inline in microseconds,
 * plain statements one after another cost less than a batch or a group.
 *
 * A runner without the mark — any other runner, or a `Database` of another copy of this
 * package — gets the calls any runner gets: the same outcomes, in more requests.
 */
import type { BatchResult, BatchStatement, Runner } from '../types.js';

export const COMBINES_CALLS: unique symbol = Symbol('flue-libsql.combines-calls');

export interface CombiningRunner extends Runner {
  readonly [COMBINES_CALLS]: true;
  batch(statements: readonly BatchStatement[]): Promise<BatchResult[]>;
}

export function combinesCalls(runner: Runner): runner is CombiningRunner {
  return COMBINES_CALLS in runner && runner[COMBINES_CALLS] === true;
}

/**
 * The mark of a runner whose calls leave the JS thread — flue-libsql's `Database` on a libSQL
 * server or an embedded replica — where combining them saves what a call costs: `batch()` is
 * one all-or-nothing request to a server (one job for the worker of a replica), and the
 * statements called in one turn travel together. The Flue stores shape their calls by it; on a
 * local file, where statements run inline in microseconds, plain statements one after another
 * cost less than a batch or a group.
 *
 * The stores check for the mark rather than for the class, because a symbol from the global
 * registry is the same in every copy of this package's modules (tests load the stores from
 * source beside a built `Database`).
 */
import type { BatchResult, BatchStatement, Runner } from '../types.js';

export const COMBINES_CALLS: unique symbol = Symbol.for('flue-libsql.combines-calls') as never;

export interface CombiningRunner extends Runner {
  readonly [COMBINES_CALLS]: true;
  batch(statements: readonly BatchStatement[]): Promise<BatchResult[]>;
}

export function combinesCalls(runner: Runner): runner is CombiningRunner {
  return (runner as Partial<CombiningRunner>)[COMBINES_CALLS] === true;
}

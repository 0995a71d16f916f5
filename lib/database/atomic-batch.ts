/**
 * The mark of a runner whose `batch()` runs its statements all-or-nothing in one request:
 * flue-libsql's `Database`. The stores check for it rather than for the class, because a
 * symbol from the global registry is the same in every copy of this package's modules
 * (tests load the stores from source beside a built `Database`).
 */
import type { BatchResult, BatchStatement, Runner } from '../types.js';

export const ATOMIC_BATCH: unique symbol = Symbol.for('flue-libsql.atomic-batch') as never;

export interface AtomicBatchRunner extends Runner {
  readonly [ATOMIC_BATCH]: true;
  batch(statements: readonly BatchStatement[]): Promise<BatchResult[]>;
}

export function hasAtomicBatch(runner: Runner): runner is AtomicBatchRunner {
  return (runner as Partial<AtomicBatchRunner>)[ATOMIC_BATCH] === true;
}

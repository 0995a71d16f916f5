/**
 * Statements known up front, run all-or-nothing: the shape of a store operation whose writes
 * are conditioned in SQL rather than on values read back first.
 *
 * On our own database on a server (or replica) this is `batch()`: one request (BEGIN, the
 * statements and COMMIT travel together), where a transaction callback costs one request per
 * awaited statement plus its COMMIT. Any other runner, a local file included (where inline
 * statements cost less than a batch), gets the same statements in one transaction, called
 * side by side, in order.
 */
import { combinesCalls } from '../../database/combined-calls.js';
import type { QueryRunner, Row, Runner } from '../../types.js';

export type AtomicStatement = readonly [sql: string, params: readonly unknown[]];

/** Runs `statements` in order in one transaction; resolves to each one's rows. */
export async function runAtomically(runner: Runner, statements: readonly AtomicStatement[]): Promise<Row[][]> {
  if (combinesCalls(runner)) return (await runner.batch(statements)).map((result) => result.rows);
  return runner.transaction((tx) => sideBySide(tx, statements));
}

/** Calls `statements` in one turn, in order (a server gets them in one request); each one's rows. */
export function sideBySide(runner: QueryRunner, statements: readonly AtomicStatement[]): Promise<Row[][]> {
  return Promise.all(statements.map(([sql, params]) => runner.query(sql, params)));
}

/**
 * How the stores' calls combine: the one place that asks what the runner can combine. The
 * stores say what they mean — statements all-or-nothing (`runAtomically`), statements called
 * together (`sideBySide`), a read that will likely follow (`readAhead`) — and get the cheapest
 * form for the runner.
 *
 * Where calls combine (our own database on a server or a replica: combined-calls.ts),
 * statements known up front are one `batch()`, one request (BEGIN, the statements and COMMIT
 * travel together), where a transaction callback costs one request per awaited statement plus
 * its COMMIT; and the statements called in one turn travel in one request. Any other runner,
 * a local file included (where inline statements cost less than a batch), gets the same
 * statements in one transaction, called side by side, in order; and reads only once needed.
 */
import { combinesCalls } from '../../database/combined-calls.js';
import type { QueryRunner, Row, Runner } from '../../types.js';

export type AtomicStatement = readonly [sql: string, params: readonly unknown[]];

/** Runs `statements` in order in one transaction; resolves to each one's rows, in their order. */
export async function runAtomically(runner: Runner, statements: readonly AtomicStatement[]): Promise<Row[][]> {
  if (combinesCalls(runner)) return (await runner.batch(statements)).map((result) => result.rows);
  return runner.transaction((tx) => sideBySide(tx, statements));
}

/** Calls `statements` in one turn, in order (a server gets them in one request); each one's rows. */
export function sideBySide(runner: QueryRunner, statements: readonly AtomicStatement[]): Promise<Row[][]> {
  return Promise.all(statements.map(([sql, params]) => runner.query(sql, params)));
}

/**
 * A read that will likely be needed after the one just called: started now where calls
 * combine, so that both travel in one request (its failure then belongs to whoever asks for
 * it); elsewhere started when asked for, as a read that turns out unneeded costs more there
 * than the separate call saves.
 */
export function readAhead<T>(runner: Runner, read: () => Promise<T>): () => Promise<T> {
  if (!combinesCalls(runner)) return read;
  const early = read();
  early.catch(() => {});
  return () => early;
}

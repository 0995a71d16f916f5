/**
 * Servers and replicas: the statements called in one turn of the microtask queue travel to the
 * worker together. The native side holds each statement it is given (src/executor/worker.rs,
 * `Worker::send_held`) until `sendHeld()` at the end of the turn, or until an operation of
 * another kind is called, which sends them first; a server then gets them in one request
 * (concurrent promises, a store's statements issued side by side, in a transaction or not).
 */
import type { StatementFunctions } from './transaction.js';

const RESOLVED = Promise.resolve();

/** `statements` whose `query` and `execute` send what they held at the end of the turn. */
export function sendingTogether(statements: StatementFunctions): StatementFunctions {
  let scheduled = false;
  const send = (): void => {
    scheduled = false;
    statements.sendHeld();
  };
  const schedule = (): void => {
    if (!scheduled) {
      scheduled = true;
      RESOLVED.then(send);
    }
  };
  return {
    ...statements,
    query: <R>(sql: string, params?: unknown, transaction?: number) => {
      schedule();
      return statements.query<R>(sql, params, transaction);
    },
    execute: (sql, params, transaction) => {
      schedule();
      return statements.execute(sql, params, transaction);
    },
  };
}

/**
 * What a `transaction(fn)` callback runs on: its `tx`, dead once the transaction ends, and the
 * record of which transaction's callback is running (to catch calls that would wait on
 * themselves).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { LibsqlError } from '../errors.js';
import type { NativeDatabase } from '../native.js';
import type { Params, Transaction } from '../types.js';

/** The per-statement native operations, bound to one connection (see src/api/statement_functions.rs). */
export type StatementFunctions = ReturnType<NativeDatabase['statementFunctions']>;

/** The transaction whose callback is running. */
export const currentTransaction = new AsyncLocalStorage<TransactionHandle>();

/** A native result as a promise: inline (local) calls return the value itself, remote ones a promise of it. */
export function settle(result: unknown, inline: boolean): Promise<unknown> {
  return inline ? Promise.resolve(result) : (result as Promise<unknown>);
}

/**
 * The `tx` a transaction callback receives; dead once the transaction ends. `id` names the
 * transaction to the native side, where a server runs several at once (src/executor/pool.rs);
 * elsewhere it is undefined.
 */
export class TransactionHandle {
  #open = true;
  readonly tx: Transaction;

  constructor(statements: StatementFunctions, inline: boolean, readonly id?: number) {
    const run = (statement: (sql: string, params?: Params, transaction?: number) => unknown, sql: string, params: Params | undefined): Promise<never> => {
      if (!this.#open) {
        return Promise.reject(
          new LibsqlError('this transaction has already committed or rolled back; its tx can no longer run statements', 'TRANSACTION_CLOSED'),
        );
      }
      try {
        return settle(statement(sql, params, id), inline) as Promise<never>;
      } catch (error) {
        return Promise.reject(error);
      }
    };
    this.tx = {
      query: (sql, params) => run(statements.query, sql, params),
      execute: (sql, params) => run(statements.execute, sql, params),
    };
  }

  end(): void {
    this.#open = false;
  }
}

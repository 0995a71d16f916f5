/**
 * A `transaction(fn)` as both schedulers run it: BEGIN IMMEDIATE, the callback on a `tx` that
 * is dead once the transaction ends, then COMMIT — or ROLLBACK when the callback fails; and
 * the record of which transactions' callbacks are running, to refuse calls that would wait
 * on themselves. When a transaction may start is the scheduler's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { LibsqlError } from '../errors.js';
import type { NativeDatabase } from '../native.js';
import type { Params, Row, Transaction } from '../types.js';
import { whileLocked } from './busy.js';

/** The per-statement native operations, bound to one connection (see src/api/statement_functions.rs). */
export type StatementFunctions = ReturnType<NativeDatabase['statementFunctions']>;

/** The transaction whose callback is running. */
const currentTransaction = new AsyncLocalStorage<TransactionHandle>();

/**
 * The `tx` a transaction callback receives; dead once the transaction ends. `id` names the
 * transaction to the native side, where a server runs several at once (src/executor/pool.rs);
 * elsewhere it is undefined.
 */
class TransactionHandle {
  #open = true;
  readonly tx: Transaction;

  constructor(statements: StatementFunctions, readonly id?: number) {
    const run = <T>(statement: (sql: string, params?: Params, transaction?: number) => T | Promise<T>, sql: string, params: Params | undefined): Promise<T> => {
      if (!this.#open) {
        return Promise.reject(
          new LibsqlError('this transaction has already committed or rolled back; its tx can no longer run statements', 'TRANSACTION_CLOSED'),
        );
      }
      try {
        // Inline (local) calls return the value itself, the others a promise of it.
        return Promise.resolve(statement(sql, params, id));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    this.tx = {
      query: <R extends Row>(sql: string, params?: Params) => run(statements.query<R>, sql, params),
      execute: (sql, params) => run(statements.execute, sql, params),
    };
  }

  end(): void {
    this.#open = false;
  }
}

/** One connection's transactions: runs them, and knows whose callbacks are running (one at most, but on a server). */
export class Transactions {
  readonly #statements: StatementFunctions;
  readonly #busyTimeoutMs: number;
  readonly #running = new Set<TransactionHandle>();

  constructor(statements: StatementFunctions, busyTimeoutMs: number) {
    this.#statements = statements;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  /** Whether a transaction's callback may be running. */
  get running(): boolean {
    return this.#running.size > 0;
  }

  /** BEGIN IMMEDIATE, `fn(tx)`, then COMMIT — or ROLLBACK when `fn` fails. `id`: see `TransactionHandle`. */
  async run<T>(fn: (tx: Transaction) => Promise<T> | T, id?: number): Promise<T> {
    const handle = new TransactionHandle(this.#statements, id);
    this.#running.add(handle);
    try {
      const begun = whileLocked(() => this.#statements.begin(id), this.#busyTimeoutMs);
      if (begun instanceof Promise) await begun;
      let result: T;
      try {
        result = await currentTransaction.run(handle, fn, handle.tx);
      } catch (error) {
        handle.end();
        await this.#rollbackQuietly(id);
        throw error;
      }
      handle.end();
      const committed = this.#statements.commit(id);
      if (committed instanceof Promise) await committed;
      return result;
    } finally {
      handle.end();
      this.#running.delete(handle);
    }
  }

  /**
   * Waiting on the outer database from inside its own transaction callback would deadlock
   * (where the transaction holds the gate, or every lane of a server); outside the
   * transaction it would be a surprise either way.
   */
  refuseInside(what: string): void {
    const inside = currentTransaction.getStore();
    if (inside !== undefined && this.#running.has(inside)) {
      throw new LibsqlError(
        `db.${what}() was called inside this database's transaction callback, where it would wait for the ` +
          `transaction to end; use the callback's tx.query() / tx.execute() instead`,
        'TRANSACTION_STATE',
      );
    }
  }

  async #rollbackQuietly(id: number | undefined): Promise<void> {
    try {
      await this.#statements.rollback(id);
    } catch {
      // The callback's error is the one worth reporting; a failed rollback leaves SQLite
      // rolling back on its own (the connection stays usable, checked by the next BEGIN).
    }
  }
}

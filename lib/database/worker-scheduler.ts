/**
 * The scheduler of servers and embedded replicas: native calls are handed to the worker that
 * owns the connection (or to a server's lanes, src/executor/pool.rs) and return promises; the
 * statements called in one turn travel together (`send-together.ts`). A server's transactions
 * run side by side, each on a lane of its own, and top-level calls run beside them; a
 * replica's wait for the gate, as on a local file.
 */
import type { NativeDatabase } from '../native.js';
import type { ExecuteResult, Params, Row, Transaction } from '../types.js';
import { Gate } from './gate.js';
import { closedError, type Scheduler } from './scheduler.js';
import { sendingTogether } from './send-together.js';
import { Transactions, type StatementFunctions } from './transaction.js';

export class WorkerScheduler implements Scheduler {
  readonly combinesCalls = true;
  readonly #native: NativeDatabase;
  readonly #statements: StatementFunctions;
  /** A server's transactions run side by side, each on a lane of its own (src/executor/pool.rs). */
  readonly #overlaps: boolean;
  /** Held by a transaction that does not overlap, or by close. */
  readonly #gate = new Gate();
  readonly #transactions: Transactions;
  /** A server's transactions still running, each settled once it has ended. */
  readonly #ending = new Set<Promise<unknown>>();
  #nextTransactionId = 0;
  #closing: Promise<void> | null = null;

  constructor(nativeDatabase: NativeDatabase) {
    this.#native = nativeDatabase;
    this.#statements = sendingTogether(nativeDatabase.statementFunctions());
    this.#overlaps = nativeDatabase.overlapsTransactions;
    this.#transactions = new Transactions(this.#statements, nativeDatabase.busyTimeoutMs);
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  query<R extends Row>(sql: string, params: Params | undefined): Promise<R[]> {
    return this.call('query', () => this.#statements.query<R>(sql, params));
  }

  execute(sql: string, params: Params | undefined): Promise<ExecuteResult> {
    return this.call('execute', () => this.#statements.execute(sql, params));
  }

  /** Statements come this way too: past the gate, the worker keeps the order of everything. */
  call<T>(what: string, op: () => T): Promise<Awaited<T>> {
    if (this.#gate.held || this.#closing) return this.#queued(what, op);
    try {
      // From inside one of a server's transaction callbacks, refused as where the transaction holds the gate.
      if (this.#transactions.running) this.#transactions.refuseInside(what);
      return Promise.resolve(op());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    this.#transactions.refuseInside('transaction');
    if (this.#closing) throw closedError();
    if (this.#overlaps) return this.#overlapping(fn);
    const turn = this.#gate.acquire();
    if (turn) await turn;
    try {
      return await this.#transactions.run(fn);
    } finally {
      this.#gate.release();
    }
  }

  /** A server: the transaction runs on a lane of its own, beside other calls and transactions; `close()` waits for it. */
  #overlapping<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    const running = this.#transactions.run(fn, this.#nextTransactionId++);
    const ended = running.then(ignore, ignore);
    this.#ending.add(ended);
    void ended.then(() => this.#ending.delete(ended));
    return running;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#gate.acquire();
      // A server's transactions run beside the gate: each ends (commits or rolls back) first.
      while (this.#ending.size > 0) await Promise.all(this.#ending);
      await this.#native.close();
      // The gate stays held: nothing runs after close.
    })();
    return this.#closing;
  }

  /** A call that must wait for the transaction (or close) holding the gate. */
  async #queued<T>(what: string, call: () => T): Promise<Awaited<T>> {
    this.#transactions.refuseInside(what);
    if (this.#closing) throw closedError();
    await this.#gate.acquire();
    try {
      return await call();
    } finally {
      this.#gate.release();
    }
  }
}

function ignore(): void {}

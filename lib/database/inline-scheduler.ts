/**
 * The scheduler of local targets (`:memory:`, files): native calls run to completion on the JS
 * thread and return their values. Statements called in one turn share a commit
 * (`group-commit.ts`), a local file's commits of one event-loop turn share a sync
 * (`shared-fsync.ts`), and a call refused for another connection's lock waits for it with
 * timers behind the gate (`busy.ts`). The first statement of a turn, the common case, costs
 * nothing more than its promise.
 */
import type { NativeDatabase } from '../native.js';
import type { ExecuteResult, Params, Row, Transaction } from '../types.js';
import { isBusy, whileLocked } from './busy.js';
import { Gate } from './gate.js';
import { GroupCommit, mustRunAlone } from './group-commit.js';
import { closedError, type Scheduler } from './scheduler.js';
import { SharedFsync } from './shared-fsync.js';
import { Transactions, type StatementFunctions } from './transaction.js';

const RESOLVED = Promise.resolve();

export class InlineScheduler implements Scheduler {
  readonly combinesCalls = false;
  readonly #native: NativeDatabase;
  readonly #statements: StatementFunctions;
  readonly #busyTimeoutMs: number;
  /** Held by a transaction, by close, or by a call waiting for another connection's lock. */
  readonly #gate = new Gate();
  readonly #transactions: Transactions;
  readonly #group: GroupCommit;
  /** Local files at durability 'full': results wait for the sync that makes their turn's commits durable. */
  readonly #sharedFsync: SharedFsync | null;
  #closing: Promise<void> | null = null;
  /** A top-level statement already ran in this turn of the microtask queue (see group-commit.ts). */
  #busyTurn = false;

  constructor(nativeDatabase: NativeDatabase) {
    this.#native = nativeDatabase;
    this.#statements = nativeDatabase.statementFunctions();
    this.#busyTimeoutMs = nativeDatabase.busyTimeoutMs;
    this.#transactions = new Transactions(this.#statements, this.#busyTimeoutMs);
    this.#sharedFsync = nativeDatabase.sharesFsyncs ? new SharedFsync(this.#statements) : null;
    this.#group = new GroupCommit(nativeDatabase, this.#statements, this.#sharedFsync, (call) => this.#run(call));
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  query<R extends Row>(sql: string, params: Params | undefined): Promise<R[]> {
    return this.#statement('query', this.#statements.query<R>, sql, params);
  }

  execute(sql: string, params: Params | undefined): Promise<ExecuteResult> {
    return this.#statement('execute', this.#statements.execute, sql, params);
  }

  /** The first of a turn allocates nothing more than its promise. */
  #statement<T>(what: string, run: (sql: string, params?: Params) => T, sql: string, params: Params | undefined): Promise<Awaited<T>> {
    if (this.#gate.held || this.#closing) return this.#queued(what, () => run(sql, params));
    if (this.#group.open || this.#busyTurn) return this.#inTurn(sql, () => run(sql, params));
    this.#busyTurn = true;
    RESOLVED.then(this.#endTurn);
    try {
      return Promise.resolve(this.#durable(run(sql, params)));
    } catch (error) {
      return this.#refused(error, () => run(sql, params));
    }
  }

  /** After any group, in gate order. */
  call<T>(what: string, op: () => T): Promise<Awaited<T>> {
    this.#group.commit();
    if (this.#gate.held || this.#closing) return this.#queued(what, op);
    return this.#run(op);
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    this.#transactions.refuseInside('transaction');
    if (this.#closing) throw closedError();
    this.#group.commit();
    // Awaits are skipped where nothing is pending: each costs a turn of the microtask queue.
    const turn = this.#gate.acquire();
    if (turn) await turn;
    try {
      // Released now; the result waits for its sync without holding up the next caller.
      return this.#durable(await this.#transactions.run(fn));
    } finally {
      this.#gate.release();
    }
  }

  close(): Promise<void> {
    this.#group.commit();
    this.#closing ??= (async () => {
      await this.#gate.acquire();
      this.#sharedFsync?.flush();
      await this.#native.close();
      // The gate stays held: nothing runs after close.
    })();
    return this.#closing;
  }

  /** Runs a native call at once; a thrown error becomes a rejection. */
  #run<T>(call: () => T): Promise<Awaited<T>> {
    try {
      return Promise.resolve(this.#durable(call()));
    } catch (error) {
      return this.#refused(error, call);
    }
  }

  /** A call that threw at once: waits for the lock if another connection holds it, else rejects. */
  #refused<T>(error: unknown, call: () => T): Promise<Awaited<T>> {
    // Another connection holds the write lock. Take the gate first, so that calls made
    // after this one keep waiting behind it, then wait for the lock with timers.
    if (isBusy(error)) return this.#queued('query', call);
    return Promise.reject(error);
  }

  /** A statement called while a group is open, or after another in the same turn. */
  #inTurn<T>(sql: string, call: () => T): Promise<Awaited<T>> {
    if (!mustRunAlone(sql)) return this.#group.join(call);
    this.#group.commit();
    return this.#run(call);
  }

  readonly #endTurn = (): void => {
    this.#busyTurn = false;
  };

  /** A call that must wait for the transaction (or close, or lock wait) holding the gate. */
  async #queued<T>(what: string, call: () => T): Promise<Awaited<T>> {
    this.#transactions.refuseInside(what);
    if (this.#closing) throw closedError();
    await this.#gate.acquire();
    try {
      // Returned, not awaited: the gate passes on before the sync.
      return this.#durable(await whileLocked(call, this.#busyTimeoutMs));
    } finally {
      this.#gate.release();
    }
  }

  /** A result, or on a local file with unsynced commits a promise of it once they are on disk (shared-fsync.ts). */
  readonly #durable = <T>(value: T): T | Promise<T> => (this.#sharedFsync ? this.#sharedFsync.after(value) : value);
}

/**
 * `open()` and `Database`: the promise-level runner over the native connection.
 *
 * Statements execute in Rust (on the JS thread for local targets, on the async runtime for
 * remote ones); this class only orders the calls. The rule it keeps: while a transaction is
 * open, top-level calls wait for it (first come, first served, `gate.ts`) and never run inside
 * it. Local statements called in one turn share a commit (`group-commit.ts`), and a local
 * file's commits of one event-loop turn share a sync (`shared-fsync.ts`).
 */
import { LibsqlError } from '../errors.js';
import { native, type NativeDatabase } from '../native.js';
import type {
  BatchResult,
  BatchStatement,
  ExecuteResult,
  Migration,
  MigrationReport,
  OpenOptions,
  Params,
  Row,
  Runner,
  SyncResult,
  Transaction,
} from '../types.js';
import { COMBINES_CALLS } from './combined-calls.js';
import { isBusy, whileLocked } from './busy.js';
import { SharedFsync } from './shared-fsync.js';
import { Gate } from './gate.js';
import { GroupCommit, mustRunAlone } from './group-commit.js';
import { sendingTogether } from './send-together.js';
import { checkMigrations, normalizeBatch } from './normalize.js';
import { currentTransaction, TransactionHandle, type StatementFunctions } from './transaction.js';

/** Opens a database; see `OpenOptions` for the targets. */
export async function open(urlOrOptions: string | OpenOptions): Promise<Database> {
  const options = typeof urlOrOptions === 'string' ? { url: urlOrOptions } : urlOrOptions;
  if (options === null || typeof options !== 'object') {
    throw new TypeError('open() takes a url string or an options object');
  }
  return new Database(await native.openDatabase(options as unknown as Record<string, unknown>), openToken);
}

const openToken = Symbol('open');
const RESOLVED = Promise.resolve();

export class Database implements Runner {
  readonly #native: NativeDatabase;
  readonly #statements: StatementFunctions;
  /** Local targets return results directly; remote ones return promises. */
  readonly #inline: boolean;
  /** A server's transactions run side by side, each on a lane of its own (src/executor/pool.rs). */
  readonly #overlaps: boolean;
  readonly #busyTimeoutMs: number;
  /** Held by a transaction, by close, or by a call waiting for another connection's lock. */
  readonly #gate = new Gate();
  readonly #group: GroupCommit;
  /** Local files at durability 'full': results wait for the sync that makes their turn's commits durable. */
  readonly #sharedFsync: SharedFsync | null;
  /** The transactions whose callbacks may be running (one at most, but on a server). */
  readonly #active = new Set<TransactionHandle>();
  /** A server's transactions still running, each settled once it has ended. */
  readonly #ending = new Set<Promise<unknown>>();
  #nextTransactionId = 0;
  #closing: Promise<void> | null = null;
  /** A top-level statement already ran in this turn of the microtask queue (see group-commit.ts). */
  #busyTurn = false;

  /** @internal use `open()`. */
  constructor(nativeDatabase: NativeDatabase, token: symbol) {
    if (token !== openToken) throw new TypeError('use open() to create a Database');
    this.#native = nativeDatabase;
    this.#inline = nativeDatabase.runsInline;
    this.#overlaps = nativeDatabase.overlapsTransactions;
    const statements = nativeDatabase.statementFunctions();
    this.#statements = this.#inline ? statements : sendingTogether(statements);
    this.#busyTimeoutMs = nativeDatabase.busyTimeoutMs;
    this.#sharedFsync = nativeDatabase.sharesFsyncs ? new SharedFsync(this.#statements) : null;
    const sharedFsync = this.#sharedFsync;
    this.#group = new GroupCommit(nativeDatabase, this.#statements, (call) => this.#run(call), (value, resolve, reject) =>
      sharedFsync ? sharedFsync.release(value, resolve, reject) : resolve(value),
    );
  }

  /** Calls leave the JS thread, so combining them pays (what the Flue stores look for: combined-calls.ts). */
  get [COMBINES_CALLS](): boolean {
    return !this.#inline;
  }

  /** `memory`, `file`, `remote` or `replica`. */
  get kind(): 'memory' | 'file' | 'remote' | 'replica' {
    return this.#native.kind as 'memory' | 'file' | 'remote' | 'replica';
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  /** Runs one statement and resolves to its rows as plain objects. */
  query<R extends Row = Row>(sql: string, params?: Params): Promise<R[]> {
    return this.#statement('query', this.#statements.query, sql, params) as Promise<R[]>;
  }

  /** Runs one statement and resolves to what it changed. */
  execute(sql: string, params?: Params): Promise<ExecuteResult> {
    return this.#statement('execute', this.#statements.execute, sql, params) as Promise<ExecuteResult>;
  }

  /** A top-level statement. The first of a turn on a local connection, the common case, allocates nothing more than its promise. */
  #statement(what: string, run: (sql: string, params?: Params) => unknown, sql: string, params: Params | undefined): Promise<unknown> {
    if (this.#gate.held || this.#closing) return this.#queued(what, () => run(sql, params));
    if (!this.#inline) return this.#beside(what) ?? this.#run(() => run(sql, params));
    if (this.#group.open || this.#busyTurn) return this.#inTurn(sql, () => run(sql, params));
    this.#busyTurn = true;
    RESOLVED.then(this.#endTurn);
    try {
      return Promise.resolve(this.#durable(run(sql, params)));
    } catch (error) {
      return this.#refused(error, () => run(sql, params));
    }
  }

  /** Runs statements in one transaction: all of them, or (on the first error) none. */
  batch<R extends Row = Row>(statements: readonly BatchStatement[]): Promise<BatchResult<R>[]> {
    let pairs: [string, Params?][];
    try {
      pairs = normalizeBatch(statements);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#gated('batch', () => this.#native.batch(pairs)) as Promise<BatchResult<R>[]>;
  }

  /** Runs a script of statements without parameters (DDL, seed data). */
  exec(sql: string): Promise<void> {
    return this.#gated('exec', () => this.#native.exec(sql)) as Promise<void>;
  }

  /**
   * Applies pending migrations of `set` (default `'app'`) in one transaction; see docs/api.md.
   * Refuses a changed or unknown recorded migration without changing anything.
   */
  migrate(migrations: readonly Migration[], options: { set?: string } = {}): Promise<MigrationReport> {
    const set = options.set ?? 'app';
    return this.#gated('migrate', () => this.#native.migrate(set, checkMigrations(migrations), false)) as Promise<MigrationReport>;
  }

  /** @internal Flue's built-in schema with its format stamp (used by the adapter). */
  migrateFlueSchema(): Promise<MigrationReport> {
    return this.#gated('migrate', () => this.#native.migrate('flue', native.flueMigrations(), true)) as Promise<MigrationReport>;
  }

  /** Embedded replicas: pull the primary's new frames now. Other targets: a no-op. */
  sync(): Promise<SyncResult> {
    return this.#gated('sync', () => this.#native.sync()) as Promise<SyncResult>;
  }

  /**
   * Runs `fn(tx)` inside one write transaction (`BEGIN IMMEDIATE`): commits when it returns
   * or resolves, rolls back when it throws or rejects, and resolves to its value.
   */
  async transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError('transaction() takes a function (tx) => …');
    this.#refuseInsideOwnTransaction('transaction');
    if (this.#closing) throw closedError();
    if (this.#overlaps) return this.#overlapping(fn);
    this.#group.commit();
    // Awaits are skipped where nothing is pending: each costs a turn of the microtask queue.
    const turn = this.#gate.acquire();
    if (turn) await turn;
    const handle = new TransactionHandle(this.#statements, this.#inline);
    this.#active.add(handle);
    try {
      // Released now; the result waits for its sync without holding up the next caller.
      return this.#durable(await this.#transact(handle, fn));
    } finally {
      this.#active.delete(handle);
      this.#gate.release();
    }
  }

  /** A server: the transaction runs on a lane of its own, beside other calls and transactions; `close()` waits for it. */
  #overlapping<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    const handle = new TransactionHandle(this.#statements, false, this.#nextTransactionId++);
    this.#active.add(handle);
    const running = this.#transact(handle, fn);
    const ended = running.then(
      () => this.#active.delete(handle),
      () => this.#active.delete(handle),
    );
    this.#ending.add(ended);
    void ended.then(() => this.#ending.delete(ended));
    return running;
  }

  /** BEGIN IMMEDIATE, the callback, then COMMIT — or ROLLBACK when the callback fails. */
  async #transact<T>(handle: TransactionHandle, fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    try {
      const begun = whileLocked(() => this.#statements.begin(handle.id), this.#busyTimeoutMs);
      if (begun instanceof Promise) await begun;
      let result: T;
      try {
        result = await currentTransaction.run(handle, fn, handle.tx);
      } catch (error) {
        handle.end();
        await this.#rollbackQuietly(handle.id);
        throw error;
      }
      handle.end();
      const committed = this.#statements.commit(handle.id);
      if (committed instanceof Promise) await committed;
      return result;
    } finally {
      handle.end();
    }
  }

  /** Closes the connection after the work already queued; idempotent. */
  close(): Promise<void> {
    this.#group.commit();
    this.#closing ??= (async () => {
      await this.#gate.acquire();
      // A server's transactions run beside the gate: each ends (commits or rolls back) first.
      while (this.#ending.size > 0) await Promise.all(this.#ending);
      this.#sharedFsync?.flush();
      await this.#native.close();
      // The gate stays held: nothing runs after close.
    })();
    return this.#closing;
  }

  // ---- ordering ----------------------------------------------------------------------

  /** Runs a native call at once; a thrown error becomes a rejection. */
  #run(call: () => unknown): Promise<unknown> {
    try {
      return this.#inline ? Promise.resolve(this.#durable(call())) : (call() as Promise<unknown>);
    } catch (error) {
      return this.#refused(error, call);
    }
  }

  /** A call that threw at once: waits for the lock if another connection holds it, else rejects. */
  #refused(error: unknown, call: () => unknown): Promise<unknown> {
    // Another connection holds the write lock. Take the gate first, so that calls made
    // after this one keep waiting behind it, then wait for the lock with timers.
    if (isBusy(error)) return this.#queued('query', call);
    return Promise.reject(error);
  }

  /** A statement called while a group is open, or after another in the same turn. */
  #inTurn(sql: string, call: () => unknown): Promise<unknown> {
    if (!mustRunAlone(sql)) return this.#group.join(call);
    this.#group.commit();
    return this.#run(call);
  }

  readonly #endTurn = (): void => {
    this.#busyTurn = false;
  };

  /** A call that must wait for the transaction (or close) holding the gate. */
  async #queued<T>(what: string, call: () => unknown): Promise<T> {
    this.#refuseInsideOwnTransaction(what);
    if (this.#closing) throw closedError();
    await this.#gate.acquire();
    try {
      // Returned, not awaited: the gate passes on before the sync.
      return this.#durable(await whileLocked(call, this.#busyTimeoutMs)) as T;
    } finally {
      this.#gate.release();
    }
  }

  /** A whole-connection operation (batch, exec, migrate, sync): after any group, in gate order. */
  #gated<T>(what: string, call: () => unknown): Promise<T> {
    this.#group.commit();
    if (this.#gate.held || this.#closing) return this.#queued(what, call);
    const refused = this.#beside(what);
    if (refused) return refused;
    return this.#run(call) as Promise<T>;
  }

  /** A result, or on a local file with unsynced commits a promise of it once they are on disk (shared-fsync.ts). */
  readonly #durable = <T>(value: T): T | Promise<T> => (this.#sharedFsync ? this.#sharedFsync.after(value) : value);

  /**
   * A server's call made while its transactions run beside it: refused (a rejection) when made
   * from inside one of their callbacks, as it is where the transaction holds the gate.
   */
  #beside(what: string): Promise<never> | undefined {
    if (this.#active.size === 0) return undefined;
    try {
      this.#refuseInsideOwnTransaction(what);
    } catch (error) {
      return Promise.reject(error);
    }
    return undefined;
  }

  /**
   * Waiting on the outer database from inside its own transaction callback would deadlock
   * (where the transaction holds the gate, or every lane of a server); outside the
   * transaction it would be a surprise either way.
   */
  #refuseInsideOwnTransaction(what: string): void {
    const inside = currentTransaction.getStore();
    if (inside !== undefined && this.#active.has(inside)) {
      throw new LibsqlError(
        `db.${what}() was called inside this database's transaction callback, where it would wait for the ` +
          `transaction to end; use the callback's tx.query() / tx.execute() instead`,
        'TRANSACTION_STATE',
      );
    }
  }

  async #rollbackQuietly(transaction: number | undefined): Promise<void> {
    try {
      await this.#statements.rollback(transaction);
    } catch {
      // The callback's error is the one worth reporting; a failed rollback leaves SQLite
      // rolling back on its own (the connection stays usable, checked by the next BEGIN).
    }
  }
}

function closedError(): LibsqlError {
  return new LibsqlError('the database is closed', 'CLIENT_CLOSED');
}

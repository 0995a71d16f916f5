/**
 * `open()` and `Database`: the promise-level runner over the native connection.
 *
 * Statements execute in Rust (on the JS thread for local targets, on the async runtime for
 * remote ones); this file only orders the calls. The rule it keeps: while a transaction is
 * open, top-level calls wait for it (first come, first served) and never run inside it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { LibsqlError } from './errors.js';
import { native } from './load-native.js';
import type { NativeDatabase } from './native-binding.js';
import { compileRowBuilder, executeResult } from './results.js';
import type { Params, QueryRunner, Row, Runner } from './runner.js';

/** The per-statement native operations, bound to one connection (see src/statement_functions.rs). */
type StatementFunctions = ReturnType<NativeDatabase['statementFunctions']>;

native.registerErrorClass(LibsqlError);
native.registerResultBuilders(compileRowBuilder, executeResult);

export interface OpenOptions {
  /**
   * `:memory:`, `file:path.db` (or a plain path), or a libSQL server: `libsql://…` (TLS),
   * `https://…`, `http://…`; `wss://…` and `ws://…` are accepted too. Servers are spoken to in
   * Hrana over HTTP.
   */
  url: string;
  /** Token for sqld / Turso (also accepted as `?authToken=` in the url). */
  authToken?: string;
  /** Makes `url` (a `file:` url) an embedded replica of this libSQL server. */
  syncUrl?: string;
  /** Embedded replica: sync automatically every this many seconds. */
  syncInterval?: number;
  /** Embedded replica: reads see this process's writes at once (default true). */
  readYourWrites?: boolean;
  /** Encrypts a local file (or replica) at rest with this key (AES-256). */
  encryptionKey?: string;
  /** How long to wait for another process's lock, in ms (default 5000). */
  busyTimeout?: number;
  /**
   * `'full'` (default): every commit is fsynced; survives process crash and power loss.
   * `'normal'`: survives a process crash; the last commits before a power loss may be lost.
   */
  durability?: 'full' | 'normal';
  /**
   * Servers and replicas: how long one request to the server may take, in ms (default 30000).
   * A call past it rejects with `REQUEST_TIMEOUT`; no effect on local files.
   */
  requestTimeout?: number;
}

export interface ExecuteResult {
  rowsAffected: number;
  /** A number, or a bigint beyond 2^53. */
  lastInsertRowid: number | bigint;
}

export interface BatchResult<R extends Row = Row> extends ExecuteResult {
  rows: R[];
}

export type BatchStatement = string | { sql: string; params?: Params } | readonly [string, Params?];

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export interface MigrationReport {
  set: string;
  applied: { version: number; name: string }[];
  version: number;
}

export interface SyncResult {
  frameNo: number | null;
  framesSynced: number;
}

/** What a transaction callback gets: statements that run inside the transaction. */
export interface Transaction extends QueryRunner {
  execute(sql: string, params?: Params): Promise<ExecuteResult>;
}

/** The transaction whose callback is running, to catch calls that would wait on themselves. */
const currentTransaction = new AsyncLocalStorage<TransactionHandle>();

/** Opens a database; see `OpenOptions` for the targets. */
export async function open(urlOrOptions: string | OpenOptions): Promise<Database> {
  const options = typeof urlOrOptions === 'string' ? { url: urlOrOptions } : urlOrOptions;
  if (options === null || typeof options !== 'object') {
    throw new TypeError('open() takes a url string or an options object');
  }
  return new Database(await native.openDatabase(options as unknown as Record<string, unknown>), openToken);
}

const openToken = Symbol('open');

export class Database implements Runner {
  readonly #native: NativeDatabase;
  readonly #statements: StatementFunctions;
  /** Local targets return results directly; remote ones return promises. */
  readonly #inline: boolean;
  readonly #busyTimeoutMs: number;
  /** Held by a transaction (or close, or a call waiting for another connection's lock); top-level calls queue behind it while set. */
  #locked = false;
  readonly #waiters: (() => void)[] = [];
  #active: TransactionHandle | null = null;
  #closing: Promise<void> | null = null;
  /** A top-level statement already ran in this turn of the microtask queue (see "group commit"). */
  #busyTurn = false;
  /** The open group commit: statements run inside it, waiting for its COMMIT to settle. */
  #group: GroupMember[] | null = null;

  /** @internal use `open()`. */
  constructor(nativeDatabase: NativeDatabase, token: symbol) {
    if (token !== openToken) throw new TypeError('use open() to create a Database');
    this.#native = nativeDatabase;
    this.#statements = nativeDatabase.statementFunctions();
    this.#inline = nativeDatabase.runsInline;
    this.#busyTimeoutMs = nativeDatabase.busyTimeoutMs;
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
    if (this.#locked || this.#closing) return this.#later(what, () => run(sql, params));
    if (!this.#inline) return this.#now(() => run(sql, params));
    if (this.#group !== null || this.#busyTurn) return this.#local(sql, () => run(sql, params));
    this.#busyTurn = true;
    RESOLVED.then(this.#endTurn);
    try {
      return Promise.resolve(run(sql, params));
    } catch (error) {
      return this.#failedNow(error, () => run(sql, params));
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
    this.#commitGroup();
    // Awaits are skipped where nothing is pending: each costs a turn of the microtask queue.
    const turn = this.#acquire();
    if (turn) await turn;
    const handle = new TransactionHandle(this.#statements, this.#inline);
    this.#active = handle;
    try {
      const begun = this.#whileLocked(() => this.#statements.begin());
      if (begun instanceof Promise) await begun;
      let result: T;
      try {
        result = await currentTransaction.run(handle, fn, handle.tx);
      } catch (error) {
        handle.end();
        await this.#rollbackQuietly();
        throw error;
      }
      handle.end();
      const committed = this.#statements.commit();
      if (committed instanceof Promise) await committed;
      return result;
    } finally {
      handle.end();
      this.#active = null;
      this.#release();
    }
  }

  /** Closes the connection after the work already queued; idempotent. */
  close(): Promise<void> {
    this.#commitGroup();
    this.#closing ??= (async () => {
      await this.#acquire();
      await this.#native.close();
      // The lock stays held: nothing runs after close.
    })();
    return this.#closing;
  }

  // ---- ordering ----------------------------------------------------------------------

  /** Runs a native call now; a thrown error becomes a rejection. */
  #now(call: () => unknown): Promise<unknown> {
    try {
      return settle(call(), this.#inline);
    } catch (error) {
      return this.#failedNow(error, call);
    }
  }

  /** A call that threw at once: waits for the lock if another connection holds it, else rejects. */
  #failedNow(error: unknown, call: () => unknown): Promise<unknown> {
    // Another connection holds the write lock. Take the gate first, so that calls made
    // after this one keep waiting behind it, then wait for the lock with timers.
    if (isBusy(error)) return this.#later('query', call);
    return Promise.reject(error);
  }

  // ---- group commit ------------------------------------------------------------------
  //
  // Statements called in the same turn of the microtask queue (a burst of concurrent
  // requests: `Promise.all`, many handlers at once) share one write transaction and one
  // commit — one fsync for all of them instead of one each. The first statement of a turn
  // runs on its own (autocommit), as do all statements of code that awaits each one: only a
  // second statement in the same turn opens a group. Each statement still resolves only once
  // it is committed, in call order; one that fails is rolled back alone by SQLite and
  // rejects alone. If the group's transaction itself is lost (a statement error that rolls
  // back the whole transaction, or a failed COMMIT), its statements run again one by one on
  // their own — nothing of them was visible or acknowledged — so every statement ends as it
  // would have without the group.

  /** A statement called while a group is open, or after another in the same turn. */
  #local(sql: string, call: () => unknown): Promise<unknown> {
    if (!mustRunAlone(sql)) return this.#grouped(call);
    this.#commitGroup();
    return this.#now(call);
  }

  readonly #endTurn = (): void => {
    this.#busyTurn = false;
  };

  #grouped(call: () => unknown): Promise<unknown> {
    if (this.#group === null) {
      // A transaction the application opened with SAVEPOINT: statements run inside it, as before.
      if (this.#native.inTransaction) return this.#now(call);
      try {
        this.#statements.begin();
      } catch {
        // No group: another connection holds the write lock, or this one cannot write (a
        // read-only file, `PRAGMA query_only`). The statement runs on its own, as it would
        // have without groups, and ends in its own result or error.
        return this.#now(call);
      }
      this.#group = [];
      RESOLVED.then(this.#commitGroupLater);
    }
    let result: unknown;
    try {
      result = call();
    } catch (error) {
      if (!this.#native.inTransaction) this.#replayGroup();
      return Promise.reject(error);
    }
    const group = this.#group;
    const committed = new Promise((resolve) => group.push({ call, result, resolve }));
    // A long burst that never yields commits as it goes: its transaction, and the results
    // waiting for it, stay bounded.
    if (group.length >= GROUP_LIMIT) this.#commitGroup();
    return committed;
  }

  readonly #commitGroupLater = (): void => this.#commitGroup();

  /** Commits the open group, settling its statements; a no-op when none is open. */
  #commitGroup(): void {
    const members = this.#group;
    if (members === null) return;
    try {
      this.#statements.commit();
    } catch {
      // The native COMMIT rolled back what it could not commit.
      this.#replayGroup();
      return;
    }
    this.#group = null;
    for (const member of members) member.resolve(member.result);
  }

  /** The group's transaction is gone: its statements run again, each on its own. */
  #replayGroup(): void {
    const members = this.#group ?? [];
    this.#group = null;
    if (this.#native.inTransaction) this.#statements.rollback();
    for (const member of members) member.resolve(this.#now(member.call));
  }

  /** A call that must wait for the transaction (or close) holding the connection. */
  async #later<T>(what: string, call: () => unknown): Promise<T> {
    this.#refuseInsideOwnTransaction(what);
    if (this.#closing) throw closedError();
    await this.#acquire();
    try {
      return (await this.#whileLocked(call)) as T;
    } finally {
      this.#release();
    }
  }

  /**
   * Runs `call`, retrying while another connection (in this process or another) holds the
   * database lock, for up to `busyTimeout`. Local connections report a lock at once instead
   * of sleeping on the JS thread (see src/session.rs), so the event loop — and the other
   * connection's transaction — keeps running while this one waits. Retrying is safe: a
   * statement refused with SQLITE_BUSY, or a refused BEGIN, changed nothing.
   */
  #whileLocked(call: () => unknown): unknown {
    try {
      return call();
    } catch (error) {
      if (!isBusy(error)) throw error;
    }
    return this.#retryWhileLocked(call);
  }

  async #retryWhileLocked(call: () => unknown): Promise<unknown> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 25)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        return call();
      } catch (error) {
        if (!isBusy(error) || Date.now() >= deadline) throw error;
      }
    }
  }

  #gated<T>(what: string, call: () => unknown): Promise<T> {
    this.#commitGroup();
    if (this.#locked || this.#closing) return this.#later(what, call);
    return this.#now(call) as Promise<T>;
  }

  #acquire(): Promise<void> | void {
    if (!this.#locked) {
      this.#locked = true;
      return;
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#locked = false;
  }

  /** Waiting on the outer database from inside its own transaction callback would deadlock. */
  #refuseInsideOwnTransaction(what: string): void {
    const inside = currentTransaction.getStore();
    if (inside !== undefined && inside === this.#active) {
      throw new LibsqlError(
        `db.${what}() was called inside this database's transaction callback, where it would wait for the ` +
          `transaction to end; use the callback's tx.query() / tx.execute() instead`,
        'TRANSACTION_STATE',
      );
    }
  }

  async #rollbackQuietly(): Promise<void> {
    try {
      await this.#statements.rollback();
    } catch {
      // The callback's error is the one worth reporting; a failed rollback leaves SQLite
      // rolling back on its own (the connection stays usable, checked by the next BEGIN).
    }
  }
}

/** The `tx` a transaction callback receives; dead once the transaction ends. */
class TransactionHandle {
  #open = true;
  readonly tx: Transaction;

  constructor(statements: StatementFunctions, inline: boolean) {
    const run = (statement: (sql: string, params?: Params) => unknown, sql: string, params: Params | undefined): Promise<never> => {
      if (!this.#open) {
        return Promise.reject(
          new LibsqlError('this transaction has already committed or rolled back; its tx can no longer run statements', 'TRANSACTION_CLOSED'),
        );
      }
      try {
        return settle(statement(sql, params), inline) as Promise<never>;
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

/** A native result as a promise: inline (local) calls return the value itself, remote ones a promise of it. */
function settle(result: unknown, inline: boolean): Promise<unknown> {
  return inline ? Promise.resolve(result) : (result as Promise<unknown>);
}

function isBusy(error: unknown): boolean {
  return error instanceof LibsqlError && error.rawCode !== undefined && (error.rawCode & 0xff) === 5;
}

/**
 * A statement waiting in a group commit for the group's COMMIT. It never rejects from here: it
 * resolves to its result, or, when the group is lost, to the outcome of running it again.
 */
interface GroupMember {
  call: () => unknown;
  result: unknown;
  resolve: (value: unknown) => void;
}

const RESOLVED = Promise.resolve();

/** The most statements one group commit holds. */
const GROUP_LIMIT = 1000;

/**
 * Statements that must not run inside a group's transaction: SQLite ignores some pragmas
 * there (`foreign_keys`) and refuses others (`journal_mode`), as it refuses VACUUM, ATTACH and
 * DETACH; and savepoints belong to the application's own transaction, not to a group's.
 */
const RUNS_ALONE = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*(?:PRAGMA|VACUUM|ATTACH|DETACH|SAVEPOINT|RELEASE|ROLLBACK)\b/i;

function mustRunAlone(sql: string): boolean {
  return typeof sql !== 'string' || RUNS_ALONE.test(sql);
}

function closedError(): LibsqlError {
  return new LibsqlError('the database is closed', 'CLIENT_CLOSED');
}

function normalizeBatch(statements: readonly BatchStatement[]): [string, Params?][] {
  if (!Array.isArray(statements)) {
    throw new TypeError('batch() takes an array of statements: strings, { sql, params } or [sql, params]');
  }
  return statements.map((statement, index) => {
    if (typeof statement === 'string') return [statement];
    if (Array.isArray(statement)) return [statement[0], statement[1]];
    if (statement !== null && typeof statement === 'object' && 'sql' in statement) return [statement.sql, statement.params];
    throw new TypeError(`batch statement ${index + 1} is not a string, { sql, params } or [sql, params]`);
  });
}

function checkMigrations(migrations: readonly Migration[]): Migration[] {
  if (!Array.isArray(migrations)) throw new TypeError('migrate() takes an array of { version, name, sql }');
  return migrations.map((migration, index) => {
    const { version, name, sql } = (migration ?? {}) as Partial<Migration>;
    if (!Number.isSafeInteger(version) || typeof name !== 'string' || typeof sql !== 'string') {
      throw new TypeError(`migration ${index + 1} must be { version: integer, name: string, sql: string }`);
    }
    return { version: version as number, name, sql };
  });
}

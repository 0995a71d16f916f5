/**
 * `open()` and `Database`: the promise-level runner over the native connection — argument
 * checks, results, lifecycle. How the calls run is the scheduler's, chosen at open by where
 * the native side runs them (scheduler.ts).
 */
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
import { InlineScheduler } from './inline-scheduler.js';
import { checkMigrations, normalizeBatch } from './normalize.js';
import type { Scheduler } from './scheduler.js';
import { WorkerScheduler } from './worker-scheduler.js';

/** Opens a database; see `OpenOptions` for the targets. */
export async function open(urlOrOptions: string | OpenOptions): Promise<Database> {
  const options = typeof urlOrOptions === 'string' ? { url: urlOrOptions } : urlOrOptions;
  if (options === null || typeof options !== 'object') {
    throw new TypeError('open() takes a url string or an options object');
  }
  return new Database(await native.openDatabase(options), openToken);
}

const openToken = Symbol('open');

export class Database implements Runner {
  readonly #native: NativeDatabase;
  readonly #scheduler: Scheduler;

  /** @internal use `open()`. */
  constructor(nativeDatabase: NativeDatabase, token: symbol) {
    if (token !== openToken) throw new TypeError('use open() to create a Database');
    this.#native = nativeDatabase;
    this.#scheduler = nativeDatabase.runsInline ? new InlineScheduler(nativeDatabase) : new WorkerScheduler(nativeDatabase);
  }

  /** Calls leave the JS thread, so combining them pays (what the Flue stores look for: combined-calls.ts). */
  get [COMBINES_CALLS](): boolean {
    return this.#scheduler.combinesCalls;
  }

  /** `memory`, `file`, `remote` or `replica`. */
  get kind(): 'memory' | 'file' | 'remote' | 'replica' {
    return this.#native.kind;
  }

  get closed(): boolean {
    return this.#scheduler.closed;
  }

  /** Runs one statement and resolves to its rows as plain objects. */
  query<R extends Row = Row>(sql: string, params?: Params): Promise<R[]> {
    return this.#scheduler.query<R>(sql, params);
  }

  /** Runs one statement and resolves to what it changed. */
  execute(sql: string, params?: Params): Promise<ExecuteResult> {
    return this.#scheduler.execute(sql, params);
  }

  /** Runs statements in one transaction: all of them, or (on the first error) none. */
  batch<R extends Row = Row>(statements: readonly BatchStatement[]): Promise<BatchResult<R>[]> {
    let pairs: [string, Params?][];
    try {
      pairs = normalizeBatch(statements);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#scheduler.call('batch', () => this.#native.batch<R>(pairs));
  }

  /** Runs a script of statements without parameters (DDL, seed data). */
  exec(sql: string): Promise<void> {
    return this.#scheduler.call('exec', () => this.#native.exec(sql));
  }

  /**
   * Applies pending migrations of `set` (default `'app'`) in one transaction; see docs/api.md.
   * Refuses a changed or unknown recorded migration without changing anything.
   */
  migrate(migrations: readonly Migration[], options: { set?: string } = {}): Promise<MigrationReport> {
    const set = options.set ?? 'app';
    return this.#scheduler.call('migrate', () => this.#native.migrate(set, checkMigrations(migrations), false));
  }

  /** @internal Flue's built-in schema with its format stamp (used by the adapter). */
  migrateFlueSchema(): Promise<MigrationReport> {
    return this.#scheduler.call('migrate', () => this.#native.migrate('flue', native.flueMigrations(), true));
  }

  /** Embedded replicas: pull the primary's new frames now. Other targets: a no-op. */
  sync(): Promise<SyncResult> {
    return this.#scheduler.call('sync', () => this.#native.sync());
  }

  /**
   * Runs `fn(tx)` inside one write transaction (`BEGIN IMMEDIATE`): commits when it returns
   * or resolves, rolls back when it throws or rejects, and resolves to its value.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(new TypeError('transaction() takes a function (tx) => …'));
    return this.#scheduler.transaction(fn);
  }

  /** Closes the connection after the work already queued; idempotent. */
  close(): Promise<void> {
    return this.#scheduler.close();
  }
}

/**
 * The package's shared types: the runner seam Flue's libSQL stores run on (three functions,
 * nothing else), and what `open()` takes and a `Database` resolves to.
 *
 * `open()` returns a `Database` that satisfies `Runner`; any hand-written object with
 * the same three functions (for example over `@libsql/client`) satisfies it too, which
 * is what lets `libsql(runner)` accept code written for the seam.
 */

/** One result row: column name -> value. */
export type Row = Record<string, unknown>;

/** Positional (`?`) parameters as an array, or named (`:name`, `@name`, `$name`) as an object. */
export type Params = readonly unknown[] | Readonly<Record<string, unknown>>;

export interface QueryRunner {
  /** Run one statement; resolves to its rows as plain objects (empty for statements without rows). */
  query<R extends Row = Row>(sql: string, params?: Params): Promise<R[]>;
}

export interface Runner extends QueryRunner {
  /**
   * Run `fn` inside one write transaction: commit when it resolves, roll back when it
   * throws or rejects, resolve to its value.
   */
  transaction<T>(fn: (tx: QueryRunner) => Promise<T> | T): Promise<T>;
  /** Release the connection; waits for work in flight. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /**
   * `:memory:`, `file:path.db` (or a plain path), or a libSQL server: `libsql://…` (TLS),
   * `https://…`, `http://…` (Hrana over HTTP), `wss://…`, `ws://…` (Hrana over WebSocket;
   * see docs/api.md, "Servers and replicas").
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
  /**
   * Server urls: how many requests may be in flight at once, each on a connection of its own
   * to the server (default 32, 1 to 128). Reads of independent callers run side by side; writes
   * and transactions share one connection, and the writes called meanwhile one commit. 1: every
   * call in the order it was made. Not for local files or embedded replicas.
   */
  concurrency?: number;
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

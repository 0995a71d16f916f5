import type { NativeDatabase } from './native-binding.js';
import type { Params, QueryRunner, Row, Runner } from './runner.js';
export interface OpenOptions {
    /** `:memory:`, `file:path.db` (or a plain path), `libsql://…`, `https://…`, `http://…`. */
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
}
export interface ExecuteResult {
    rowsAffected: number;
    /** A number, or a bigint beyond 2^53. */
    lastInsertRowid: number | bigint;
}
export interface BatchResult<R extends Row = Row> extends ExecuteResult {
    rows: R[];
}
export type BatchStatement = string | {
    sql: string;
    params?: Params;
} | readonly [string, Params?];
export interface Migration {
    version: number;
    name: string;
    sql: string;
}
export interface MigrationReport {
    set: string;
    applied: {
        version: number;
        name: string;
    }[];
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
/** Opens a database; see `OpenOptions` for the targets. */
export declare function open(urlOrOptions: string | OpenOptions): Promise<Database>;
export declare class Database implements Runner {
    #private;
    /** @internal use `open()`. */
    constructor(nativeDatabase: NativeDatabase, token: symbol);
    /** `memory`, `file`, `remote` or `replica`. */
    get kind(): 'memory' | 'file' | 'remote' | 'replica';
    get closed(): boolean;
    /** Runs one statement and resolves to its rows as plain objects. */
    query<R extends Row = Row>(sql: string, params?: Params): Promise<R[]>;
    /** Runs one statement and resolves to what it changed. */
    execute(sql: string, params?: Params): Promise<ExecuteResult>;
    /** Runs statements in one transaction: all of them, or (on the first error) none. */
    batch<R extends Row = Row>(statements: readonly BatchStatement[]): Promise<BatchResult<R>[]>;
    /** Runs a script of statements without parameters (DDL, seed data). */
    exec(sql: string): Promise<void>;
    /**
     * Applies pending migrations of `set` (default `'app'`) in one transaction; see docs/api.md.
     * Refuses a changed or unknown recorded migration without changing anything.
     */
    migrate(migrations: readonly Migration[], options?: {
        set?: string;
    }): Promise<MigrationReport>;
    /** @internal Flue's built-in schema with its format stamp (used by the adapter). */
    migrateFlueSchema(): Promise<MigrationReport>;
    /** Embedded replicas: pull the primary's new frames now. Other targets: a no-op. */
    sync(): Promise<SyncResult>;
    /**
     * Runs `fn(tx)` inside one write transaction (`BEGIN IMMEDIATE`): commits when it returns
     * or resolves, rolls back when it throws or rejects, and resolves to its value.
     */
    transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T>;
    /** Closes the connection after the work already queued; idempotent. */
    close(): Promise<void>;
}

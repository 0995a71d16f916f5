/**
 * The runner seam Flue's libSQL stores run on: three functions, nothing else.
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

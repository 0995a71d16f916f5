/**
 * Row builders: the JS half of turning query results into row objects (see src/output.rs).
 *
 * The native side calls a statement's builder as `builder(rows, ...values)` with the values of
 * one or more whole rows; the builder appends one object per row and returns the array. Each
 * distinct column list gets its builder compiled once, with the row written as an object
 * literal: V8 allocates a literal with its final shape at once, several times cheaper than
 * adding the properties one by one. Keys are JSON-quoted; a column named `__proto__` is
 * written as a computed key, so it becomes an ordinary own property instead of setting the
 * prototype. A later column wins over an earlier one of the same name, as in better-sqlite3.
 */
import type { Row } from './runner.js';
export type RowBuilder = (rows: Row[] | undefined, ...values: unknown[]) => Row[];
export declare function compileRowBuilder(columns: readonly string[]): RowBuilder;

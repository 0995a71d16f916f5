/**
 * The JS half of building results (see src/js/row_builder.rs): objects made here as literals get
 * their final shape at once, where properties set one by one from native code walk V8's
 * property lookup and map transitions for each.
 *
 * Row builders turn query values into row objects. The native side calls a statement's builder
 * as `builder(rows, ...values)` with the values of one or more whole rows (one call, where
 * storing values into an array from native code costs a generic element store each); the
 * builder appends one object per row and returns the array. Each distinct column list gets its
 * builder compiled once, with the row written as an object literal. Keys are JSON-quoted; a
 * column named `__proto__` is written as a computed key, so it becomes an ordinary own property
 * instead of setting the prototype. A later column wins over an earlier one of the same name,
 * as in better-sqlite3.
 */
import type { ExecuteResult, Row } from './types.js';

export type RowBuilder = (rows: Row[] | undefined, ...values: unknown[]) => Row[];

/** Distinct column lists seen; reset when full, so ad-hoc SQL cannot grow it without bound. */
const builders = new Map<string, RowBuilder>();
const MAX_BUILDERS = 1000;

export function compileRowBuilder(columns: readonly string[]): RowBuilder {
  const key = columns.join('\u0000');
  let build = builders.get(key);
  if (build === undefined) {
    if (builders.size >= MAX_BUILDERS) builders.clear();
    const properties = columns.map((name, index) => {
      const quoted = JSON.stringify(name);
      return `${name === '__proto__' ? `[${quoted}]` : quoted}: v[i + ${index}]`;
    });
    const row = `{ ${properties.join(', ')} }`;
    build = new Function(
      'rows',
      '...v',
      `if (rows === undefined) rows = [];
      for (let i = 0; i < v.length; i += ${columns.length}) rows.push(${row});
      return rows;`,
    ) as RowBuilder;
    builders.set(key, build);
  }
  return build;
}

/** What `execute()` resolves to. */
export function executeResult(rowsAffected: number, lastInsertRowid: number | bigint): ExecuteResult {
  return { rowsAffected, lastInsertRowid };
}

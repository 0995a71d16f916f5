/**
 * Row objects from the native result format `[columns, v0, v1, …]` (see src/output.rs).
 *
 * Each distinct column list gets an object-literal factory, compiled once: V8 allocates a
 * literal with its final shape, which is several times cheaper than adding the properties one
 * by one from native code. Keys are JSON-quoted; a column named `__proto__` is written as a
 * computed key, so it becomes an ordinary own property instead of setting the prototype. A
 * later column wins over an earlier one of the same name, as in better-sqlite3.
 */
import type { Row } from './runner.js';

type RowFactory = (values: readonly unknown[], at: number) => Row;

/** Distinct column lists seen; reset when full, so ad-hoc SQL cannot grow it without bound. */
const factories = new Map<string, RowFactory>();
const MAX_FACTORIES = 1000;

export function toRows<R extends Row = Row>(flat: unknown): R[] {
  const values = flat as unknown[];
  const columns = values[0] as string[];
  const width = columns.length;
  const rows: R[] = [];
  if (width === 0 || values.length === 1) return rows;
  const make = factoryFor(columns);
  for (let at = 1; at < values.length; at += width) rows.push(make(values, at) as R);
  return rows;
}

function factoryFor(columns: readonly string[]): RowFactory {
  const key = columns.length === 1 ? columns[0] : columns.join('\u0000');
  let make = factories.get(key);
  if (make === undefined) {
    if (factories.size >= MAX_FACTORIES) factories.clear();
    const properties = columns.map((name, index) => {
      const quoted = JSON.stringify(name);
      return `${name === '__proto__' ? `[${quoted}]` : quoted}: v[i + ${index}]`;
    });
    make = new Function('v', 'i', `return { ${properties.join(', ')} };`) as RowFactory;
    factories.set(key, make);
  }
  return make;
}

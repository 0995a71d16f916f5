/** The argument forms `batch()` and `migrate()` accept, checked and brought to one shape. */
import type { BatchStatement, Migration, Params } from '../types.js';

export function normalizeBatch(statements: readonly BatchStatement[]): [string, Params?][] {
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

export function checkMigrations(migrations: readonly Migration[]): Migration[] {
  if (!Array.isArray(migrations)) throw new TypeError('migrate() takes an array of { version, name, sql }');
  return migrations.map((migration, index) => {
    const { version, name, sql } = (migration ?? {}) as Partial<Migration>;
    if (!Number.isSafeInteger(version) || typeof name !== 'string' || typeof sql !== 'string') {
      throw new TypeError(`migration ${index + 1} must be { version: integer, name: string, sql: string }`);
    }
    return { version: version as number, name, sql };
  });
}

// The connection settings every benchmarked peer gets, set explicitly on each connection so
// no library's defaults (better-sqlite3 ships cache_size=-16000 and busy_timeout=5000,
// node:sqlite ships -2000 and 0, …) make one peer's file behave differently from another's.
// `durability` picks the synchronous level: 'full' (every commit fsynced; flue-libsql's
// default) or 'normal' (WAL commits not fsynced; see bench/config.mjs for why both are run).
export function pragmasFor(durability = 'full') {
  return [
    'journal_mode = WAL',
    `synchronous = ${durability === 'normal' ? 'NORMAL' : 'FULL'}`,
    'foreign_keys = ON',
    'busy_timeout = 5000',
    'cache_size = -16000',
  ];
}

/** The statements that read the settings (and the SQLite version) back; one row each. */
export const PRAGMA_READBACK = [
  ...['journal_mode', 'synchronous', 'foreign_keys', 'busy_timeout', 'cache_size'].map((name) => `PRAGMA ${name}`),
  'SELECT sqlite_version() AS sqlite_version',
];

/** `[{ synchronous: 2 }, { timeout: 5000 }, …]` → `{ synchronous: 2, timeout: 5000, … }`. */
export function mergeRows(rows) {
  return Object.assign({}, ...rows.map((row) => ({ ...row })));
}

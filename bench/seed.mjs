/**
 * The seeded database every runner cell starts from (each cell gets its own copy):
 * `items (id INTEGER PRIMARY KEY, name, payload)` with `rows` rows of ~200-byte payloads,
 * in WAL mode, checkpointed so the copy is one self-contained file. The remote sections seed
 * sqld with the same rows (bench/remote/server-data.mjs).
 */
export const ITEMS_TABLE = 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, payload TEXT NOT NULL)';
export const INSERT_ITEM = 'INSERT INTO items (id, name, payload) VALUES (?, ?, ?)';
const FILLER = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(6);
/** Row `id` of the seeded table, as INSERT_ITEM's parameters. */
export const seededRow = (id) => [id, `name-${id}`, `${id}:${FILLER}`.slice(0, 200)];

export async function seedDatabase(path, rows) {
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = OFF');
  db.exec(ITEMS_TABLE);
  const insert = db.prepare(INSERT_ITEM);
  db.exec('BEGIN');
  for (let id = 1; id <= rows; id++) insert.run(...seededRow(id));
  db.exec('COMMIT');
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
  return { rows };
}

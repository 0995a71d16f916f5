/**
 * The seeded database every runner cell starts from (each cell gets its own copy):
 * `items (id INTEGER PRIMARY KEY, name, payload)` with `rows` rows of ~200-byte payloads,
 * in WAL mode, checkpointed so the copy is one self-contained file.
 */
export async function seedDatabase(path, rows) {
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = OFF');
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, payload TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO items (id, name, payload) VALUES (?, ?, ?)');
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(6);
  db.exec('BEGIN');
  for (let id = 1; id <= rows; id++) insert.run(id, `name-${id}`, `${id}:${filler}`.slice(0, 200));
  db.exec('COMMIT');
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
  return { rows };
}

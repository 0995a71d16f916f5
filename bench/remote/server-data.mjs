/**
 * What the server holds between cells. It is seeded once with the rows the local runner cells
 * use (bench/seed.mjs), and reset before every remote cell, so that no cell sees another's
 * writes: `items` back to its seeded rows, and every other table (Flue's, the migrations
 * record) dropped, so each Flue cell migrates an empty database as a local cell gets a new file.
 * Done in the parent over flue-libsql's own remote client (one HTTP request per call, nothing
 * held open while the cells run).
 */
import { INSERT_ITEM, ITEMS_TABLE, seededRow } from '../seed.mjs';

const BATCH_ROWS = 500; // rows per request: keeps each Hrana batch well under sqld's body limit

const openServer = async (url) => (await import('../../dist/index.js')).open({ url });

export async function seedServer(url, rows) {
  const db = await openServer(url);
  try {
    await db.exec('DROP TABLE IF EXISTS items');
    await db.exec(ITEMS_TABLE);
    for (let first = 1; first <= rows; first += BATCH_ROWS) {
      const count = Math.min(BATCH_ROWS, rows - first + 1);
      await db.batch(Array.from({ length: count }, (_, i) => [INSERT_ITEM, seededRow(first + i)]));
    }
  } finally {
    await db.close();
  }
}

export async function resetServer(url, rows) {
  const db = await openServer(url);
  try {
    await db.execute('DELETE FROM items WHERE id > ?', [rows]);
    let left = await db.query(
      `SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view') AND name <> 'items' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`,
    );
    // sqld runs with foreign_keys=ON, so a table still referenced cannot go first: drop what
    // can be dropped and go round again (a pass that drops nothing means a real failure).
    while (left.length > 0) {
      const failed = [];
      for (const object of left) {
        await db.exec(`DROP ${object.type.toUpperCase()} IF EXISTS "${object.name.replaceAll('"', '""')}"`).catch((error) => failed.push({ object, error }));
      }
      if (failed.length === left.length) throw failed[0].error;
      left = failed.map(({ object }) => object);
    }
  } finally {
    await db.close();
  }
}

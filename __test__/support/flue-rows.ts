/**
 * Every row of every Flue table of a database, each table's rows sorted by their content (not
 * by rowid, which a copy need not keep): what two databases compare by.
 */
import { open } from '../../dist/index.js';

export async function flueRows(target: { url: string; authToken?: string }): Promise<Record<string, unknown[]>> {
  const db = await open({ url: target.url, authToken: target.authToken });
  try {
    const tables = await db.query<{ name: string }>(String.raw`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'flue\_%' ESCAPE '\' ORDER BY name`);
    const sorted = (rows: unknown[]) => rows.map((row) => [JSON.stringify(row), row] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
    return Object.fromEntries(await Promise.all(tables.map(async ({ name }) => [name, sorted(await db.query(`SELECT * FROM "${name}"`))])));
  } finally {
    await db.close();
  }
}

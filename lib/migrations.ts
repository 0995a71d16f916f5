/** Loading an application's migrations from a folder of `NNNN_name.sql` files. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Migration } from './types.js';

const FILE_NAME = /^(\d+)_([^/\\]+)\.sql$/;

/**
 * Reads `0001_create_users.sql`, `0002_add_email.sql`, … into `{ version, name, sql }` in
 * version order, for `db.migrate()`. Other files are ignored; a `.sql` file that does not
 * follow the pattern, or two files with one version, is an error.
 */
export async function loadMigrations(folder: string): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const file of await readdir(folder)) {
    if (!file.endsWith('.sql')) continue;
    const match = FILE_NAME.exec(file);
    if (!match) throw new TypeError(`migration file '${file}' in ${folder} is not named NNNN_name.sql`);
    const version = Number(match[1]);
    const twin = migrations.find((m) => m.version === version);
    if (twin) throw new TypeError(`migration files '${twin.name}' and '${match[2]}' in ${folder} share version ${version}`);
    migrations.push({ version, name: match[2], sql: await readFile(join(folder, file), 'utf8') });
  }
  return migrations.sort((a, b) => a.version - b.version);
}

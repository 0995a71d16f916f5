import type { Migration } from './database.js';
/**
 * Reads `0001_create_users.sql`, `0002_add_email.sql`, … into `{ version, name, sql }` in
 * version order, for `db.migrate()`. Other files are ignored; a `.sql` file that does not
 * follow the pattern, or two files with one version, is an error.
 */
export declare function loadMigrations(folder: string): Promise<Migration[]>;

/**
 * The schema commands, `status`, `migrate` and `check`: each prints where the database is,
 * whether it answers, then its own report.
 */
import type { Database } from '../../database/database.js';
import { parseCommandArgs } from './args.js';
import { connect, redactedUrl } from './connect.js';

type Native = typeof import('../../native.js')['native'];

export async function maintenanceCommand(command: 'status' | 'migrate' | 'check', argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {}, 0);
  const { native } = await import('../../native.js');
  console.log(`database: ${await redactedUrl(values)}`);
  let db: Database;
  try {
    db = await connect(values);
  } catch (error) {
    console.log('reachable: no');
    throw error;
  }
  try {
    console.log(`target: ${db.kind}\nreachable: yes`);
    if (command === 'status') await status(db, native);
    if (command === 'migrate') await migrate(db, native);
    if (command === 'check') return await check(db);
    return 0;
  } finally {
    await db.close();
  }
}

async function status(db: Database, native: Native): Promise<void> {
  const tables = await db.query<{ name: string }>(
    String.raw`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'flue\_%' ESCAPE '\' ORDER BY name`,
  );
  const hasMeta = tables.some((table) => table.name === 'flue_meta');
  const stamp = hasMeta ? await db.query<{ key: string; value: string }>('SELECT key, value FROM flue_meta') : [];
  const version = stamp.find((row) => row.key === 'format_version') ?? stamp.find((row) => row.key === 'schema_version');
  console.log(`format version: ${version ? `${version.key} = ${version.value}` : 'none (not migrated)'}`);

  const table = native.migrationsTable();
  const recorded = (await db.query(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, [table])).length
    ? await db.query<{ version: number }>(`SELECT version FROM "${table}" WHERE set_name = 'flue'`)
    : [];
  const pending = native.flueMigrations().filter((m) => !recorded.some((r) => r.version === m.version));
  console.log(`pending migrations: ${pending.length ? pending.map((m) => `${m.version} ${m.name}`).join(', ') : 'none'}`);
  for (const { name } of tables) {
    const [{ n }] = await db.query<{ n: number }>(`SELECT count(*) AS n FROM "${name}"`);
    console.log(`  ${name}: ${n} row(s)`);
  }
}

async function migrate(db: Database, native: Native): Promise<void> {
  try {
    const report = await db.migrateFlueSchema();
    const applied = report.applied.map((m) => `${m.version} ${m.name}`).join(', ');
    console.log(applied ? `applied: ${applied}` : 'already up to date');
    console.log(`schema version: ${report.version}, format version: ${native.flueFormatVersion()}`);
  } catch (error) {
    throw (await import('../schema.js')).toFlueError(error);
  }
}

async function check(db: Database): Promise<number> {
  const rows = await db.query<{ integrity_check: string }>('PRAGMA integrity_check');
  const problems = rows.map((row) => row.integrity_check).filter((line) => line !== 'ok');
  console.log(problems.length ? `integrity: FAILED\n${problems.join('\n')}` : 'integrity: ok');
  return problems.length ? 1 : 0;
}

#!/usr/bin/env node
/**
 * `npx flue-libsql <status|migrate|check>` — for the people who run a Flue app's database.
 * Reads the same options and environment as `libsql()` (`--url`, `LIBSQL_URL`,
 * `TURSO_DATABASE_URL`, `LIBSQL_AUTH_TOKEN`, `TURSO_AUTH_TOKEN`); never prints a token.
 */
import { parseArgs } from 'node:util';
import type { Database } from '../database/database.js';

// The package's modules load inside main(), not as static imports: when the native module
// cannot load (no prebuilt package for this platform), the loader's message is printed as one
// clean line-per-fact error instead of an uncaught exception with a stack.
const loadPackage = async () => {
  const [{ resolveOptions }, { open }, { native }] = await Promise.all([
    import('./adapter.js'),
    import('../database/database.js'),
    import('../native.js'),
  ]);
  return { resolveOptions, open, native };
};
type Package = Awaited<ReturnType<typeof loadPackage>>;

const USAGE = `usage: flue-libsql <status|migrate|check> [--url URL] [--sync-url URL]

  status   target kind, whether it is reachable, Flue format version, pending migrations,
           and the row count of every flue_* table
  migrate  create or upgrade Flue's schema (idempotent) and report what was applied
  check    PRAGMA integrity_check

The database comes from --url, else LIBSQL_URL, else TURSO_DATABASE_URL, else file:.flue/flue.db;
the token from LIBSQL_AUTH_TOKEN or TURSO_AUTH_TOKEN.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { url: { type: 'string' }, 'sync-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals[0];
  if (values.help || !command || !['status', 'migrate', 'check'].includes(command) || positionals.length > 1) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const { resolveOptions, open, native } = await loadPackage();
  const options = resolveOptions({ url: values.url, syncUrl: values['sync-url'] });
  // The url without any credential it may carry: the same redaction as every error message.
  console.log(`database: ${native.redact(options.url)}`);
  let db: Database;
  try {
    db = await open(options);
    await db.query('SELECT 1');
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

async function status(db: Database, native: Package['native']): Promise<void> {
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

async function migrate(db: Database, native: Package['native']): Promise<void> {
  try {
    const report = await db.migrateFlueSchema();
    const applied = report.applied.map((m) => `${m.version} ${m.name}`).join(', ');
    console.log(applied ? `applied: ${applied}` : 'already up to date');
    console.log(`schema version: ${report.version}, format version: ${native.flueFormatVersion()}`);
  } catch (error) {
    throw (await import('./schema.js')).toFlueError(error);
  }
}

async function check(db: Database): Promise<number> {
  const rows = await db.query<{ integrity_check: string }>('PRAGMA integrity_check');
  const problems = rows.map((row) => row.integrity_check).filter((line) => line !== 'ok');
  console.log(problems.length ? `integrity: FAILED\n${problems.join('\n')}` : 'integrity: ok');
  return problems.length ? 1 : 0;
}


main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const { code, message } = error as { code?: string; message?: string };
    const text = message ?? String(error);
    // The loader's own message already starts with the package name.
    console.error(text.startsWith('flue-libsql') ? text : `flue-libsql: ${code ? `${code}: ` : ''}${text}`);
    process.exit(1);
  },
);

/**
 * The database a command reads: from `--url`/`--sync-url`, else the environment, exactly as
 * `libsql()` resolves it. Reachability is checked with one query so that an unreachable server
 * fails here, as one line, before any output.
 */
import type { Database } from '../../database/database.js';
import type { OpenOptions } from '../../types.js';
import { CONNECTION_OPTIONS } from './args.js';

type ConnectionValues = { [K in keyof typeof CONNECTION_OPTIONS]?: string };

export async function connect(values: ConnectionValues): Promise<Database> {
  const [options, { open }] = await Promise.all([connectionOptions(values), import('../../database/database.js')]);
  const db = await open(options);
  try {
    await db.query('SELECT 1');
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

/** What `connect` opens: for a command that opens the same database again (stats' workers). */
export async function connectionOptions(values: ConnectionValues): Promise<OpenOptions> {
  const { resolveOptions } = await import('../adapter.js');
  return resolveOptions({ url: values.url, syncUrl: values['sync-url'] });
}

/** The url as printed: without any credential it may carry (the errors' own redaction). */
export async function redactedUrl(values: ConnectionValues): Promise<string> {
  const [{ resolveOptions }, { native }] = await Promise.all([import('../adapter.js'), import('../../native.js')]);
  return native.redact(resolveOptions({ url: values.url, syncUrl: values['sync-url'] }).url);
}

/**
 * Refuses a database the read commands cannot interpret: no Flue tables, or a format other
 * than the one this package reads. Reads only.
 */
export async function assertFlueFormat(db: Database): Promise<void> {
  // The format this package writes, from the native module already loaded (importing Flue's
  // adapter module for its constant would add a third of a second to every command).
  const { native } = await import('../../native.js');
  const FLUE_FORMAT_VERSION = native.flueFormatVersion();
  const tables = await db.query(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flue_meta'`);
  const stamp = tables.length
    ? await db.query<{ value: string }>(`SELECT value FROM flue_meta WHERE key = 'format_version'`)
    : [];
  if (!stamp.length) throw new Error('no Flue data here: the database has no format stamp (run `flue-libsql status`)');
  if (stamp[0]!.value !== String(FLUE_FORMAT_VERSION)) {
    throw new Error(`Flue format ${stamp[0]!.value} here, this flue-libsql reads format ${FLUE_FORMAT_VERSION}`);
  }
}

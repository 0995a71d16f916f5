/**
 * `flue-libsql copy --to URL [--from URL]`: copies Flue's rows from one database to another (a
 * file to sqld or Turso, a server to a file as a backup). The source is `--from`, else the
 * usual `--url` / environment; the target's token comes from `LIBSQL_TO_AUTH_TOKEN` (or its
 * url's `?authToken=`).
 *
 * Each table is read page by page in key order; a page's rows the target lacks are inserted in
 * one transaction, rows it holds identically are skipped, and a row that differs — or a unique
 * key of the target taken by another row — is a conflict (fold checkpoints, a cache over the
 * stream, are replaced instead). A target that already holds rows is first compared in full
 * without writing, so a conflict is refused, naming the first one, before anything is copied.
 * A second run copies nothing, and a run killed halfway leaves whole pages that the next run
 * completes: the result equals one uninterrupted copy. The target is refused when it holds
 * another Flue format; an empty one is migrated first.
 */
import type { Database } from '../../database/database.js';
import type { Row } from '../../types.js';
import { parseCommandArgs, UsageError } from './args.js';
import { assertFlueFormat, connect } from './connect.js';
import { count } from './format.js';

/** Flue's format-1 tables in copy order, each with its primary key first, then its other unique keys. */
const TABLES: { name: string; keys: string[][]; cache?: true }[] = [
  { name: 'flue_conversation_streams', keys: [['path']] },
  { name: 'flue_conversation_stream_batches', keys: [['path', 'seq'], ['path', 'producer_id', 'producer_epoch', 'producer_sequence']] },
  { name: 'flue_conversation_fold_checkpoints', keys: [['path']], cache: true },
  { name: 'flue_agent_submissions', keys: [['submission_id'], ['sequence']] },
  { name: 'flue_submission_chunks', keys: [['submission_id', 'item_id', 'chunk_index']] },
  { name: 'flue_attachments', keys: [['stream_path', 'attachment_id']] },
];

/** Rows per page: one read of the source, one of the target, one write transaction. */
const PAGE_ROWS = 1000;

export async function copyCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { to: { type: 'string' }, from: { type: 'string' } }, 0);
  if (!values.to) throw new UsageError('copy needs --to URL');
  const sourceUrl = values.from ?? values.url;
  const [{ resolveOptions }, { open }, { native }] = await Promise.all([
    import('../adapter.js'),
    import('../../database/database.js'),
    import('../../native.js'),
  ]);
  const targetOptions = { url: values.to, authToken: process.env.LIBSQL_TO_AUTH_TOKEN || undefined };
  if (resolveOptions({ url: sourceUrl }).url === targetOptions.url) throw new UsageError('the source and the target are the same database');

  const source = await connect({ url: sourceUrl, 'sync-url': values['sync-url'] });
  try {
    await assertFlueFormat(source);
    const target = await open(targetOptions);
    try {
      await prepareTarget(source, target, native.redact(targetOptions.url));
      const progress = progressBar();
      // An empty target needs no comparing: every row is missing from it.
      const compare = await holdsRows(target);
      let results = [];
      if (compare) for (const table of TABLES) results.push(await copyTable(source, target, table, { write: false, compare, progress }));
      // The comparing pass found rows to copy (or there was none): the writing pass.
      if (!compare || results.some((r) => r.copied > 0)) {
        results = [];
        for (const table of TABLES) results.push(await copyTable(source, target, table, { write: true, compare, progress }));
      }
      progress.done();
      const copied = results.reduce((n, r) => n + r.copied, 0);
      const present = results.reduce((n, r) => n + r.present, 0);
      console.log(`${native.redact(resolveOptions({ url: sourceUrl }).url)} -> ${native.redact(targetOptions.url)}`);
      for (const r of results) console.log(`  ${r.table}: ${count(r.copied)} copied, ${count(r.present)} already there`);
      console.log(copied ? `copied ${count(copied)} row(s); ${count(present)} were already there` : `nothing to copy: the target already holds all ${count(present)} row(s)`);
      return 0;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** Migrates an empty target; refuses one of another Flue format (the stamp is compared first). */
async function prepareTarget(source: Database, target: Database, targetName: string): Promise<void> {
  const stamp = async (db: Database) => {
    const meta = await db.query(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flue_meta'`);
    if (!meta.length) return undefined;
    const [row] = await db.query<{ value: string }>(`SELECT value FROM flue_meta WHERE key = 'format_version'`);
    return row?.value;
  };
  const [sourceVersion, targetVersion] = await Promise.all([stamp(source), stamp(target)]);
  if (targetVersion !== undefined && targetVersion !== sourceVersion) {
    throw new Error(`${targetName} holds Flue format ${targetVersion}, the source format ${sourceVersion}: not copying`);
  }
  const { toFlueError } = await import('../schema.js');
  try {
    await target.migrateFlueSchema();
  } catch (error) {
    throw toFlueError(error);
  }
}

/** A value as comparable text: BLOBs by their bytes, everything else as JSON. */
function comparable(value: unknown): string {
  if (value instanceof Uint8Array) return `blob:${Buffer.from(value).toString('base64')}`;
  return typeof value === 'bigint' ? `bigint:${value}` : JSON.stringify(value);
}

const keyText = (row: Row, key: string[]) => comparable(key.map((column) => comparable(row[column])));
const describeKey = (row: Row, key: string[]) => key.map((column) => `${column}=${String(row[column])}`).join(', ');

async function holdsRows(target: Database): Promise<boolean> {
  const rows = await target.query(TABLES.map((table) => `SELECT 1 FROM ${table.name}`).join(' UNION ALL ') + ' LIMIT 1');
  return rows.length > 0;
}

/**
 * Copies one table's rows the target lacks; with `compare`, each page is first looked up in the
 * target (throwing at the first conflict); without `write`, nothing is written. The next source
 * page is read while the current one is written.
 */
async function copyTable(
  source: Database,
  target: Database,
  table: (typeof TABLES)[number],
  { write, compare, progress }: { write: boolean; compare: boolean; progress: ReturnType<typeof progressBar> },
) {
  const [primary, ...uniques] = table.keys as [string[], ...string[][]];
  const [{ total }] = await source.query<{ total: number }>(`SELECT count(*) AS total FROM ${table.name}`);
  const result = { table: table.name, copied: 0, present: 0 };
  const keyList = primary.join(', ');
  const pageAfter = (after: Row | undefined) =>
    source.query(
      `SELECT * FROM ${table.name} ${after ? `WHERE (${keyList}) > (${primary.map(() => '?').join(', ')})` : ''} ORDER BY ${keyList} LIMIT ${PAGE_ROWS}`,
      after ? primary.map((column) => after[column]) : [],
    );
  for (let next = pageAfter(undefined); ; ) {
    const page = await next;
    if (!page.length) break;
    next = pageAfter(page.at(-1));
    const columns = Object.keys(page[0]!);
    const missing: Row[] = [];
    const stale: Row[] = [];
    const none = new Map<string, Row>();
    const held = compare ? await rowsWithKeys(target, table.name, primary, page) : none;
    const takenByKey = await Promise.all(uniques.map((key) => (compare ? rowsWithKeys(target, table.name, key, page) : none)));
    for (const row of page) {
      const existing = held.get(keyText(row, primary));
      if (existing === undefined) {
        uniques.forEach((key, i) => {
          const other = takenByKey[i]!.get(keyText(row, key));
          if (other) throw new Error(`conflict: ${table.name} (${describeKey(row, key)}) is another row in the target (${describeKey(other, primary)}); not copying`);
        });
        missing.push(row);
      } else if (columns.some((column) => comparable(existing[column]) !== comparable(row[column]))) {
        if (!table.cache) throw new Error(`conflict: ${table.name} (${describeKey(row, primary)}) differs between the source and the target; not copying`);
        stale.push(row);
      } else {
        result.present += 1;
      }
    }
    const insert = (verb: string) => `${verb} INTO ${table.name} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
    const statements = [
      ...missing.map((row) => [insert('INSERT'), columns.map((column) => row[column])] as const),
      ...stale.map((row) => [insert('INSERT OR REPLACE'), columns.map((column) => row[column])] as const),
    ];
    if (write && statements.length) await target.batch(statements);
    result.copied += missing.length + stale.length;
    progress.update(`${write ? 'copying' : 'comparing'} ${table.name}`, result.copied + result.present, total);
  }
  return result;
}

/** The target's rows whose `key` equals that of one of `rows`, by key text. */
async function rowsWithKeys(target: Database, table: string, key: string[], rows: Row[]): Promise<Map<string, Row>> {
  const tuple = `(${key.map(() => '?').join(', ')})`;
  const found = await target.query(
    `SELECT * FROM ${table} WHERE (${key.join(', ')}) IN (VALUES ${rows.map(() => tuple).join(', ')})`,
    rows.flatMap((row) => key.map((column) => row[column])),
  );
  return new Map(found.map((row) => [keyText(row, key), row]));
}

/** On a TTY, one line on stderr redrawn as pages are copied; elsewhere nothing. */
function progressBar() {
  const tty = process.stderr.isTTY;
  return {
    update(step: string, done: number, total: number) {
      if (!tty) return;
      const width = 30;
      const filled = total ? Math.round((done / total) * width) : width;
      process.stderr.write(`\r${step.padEnd(44)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${count(done)}/${count(total)}\x1b[K`);
    },
    done() {
      if (tty) process.stderr.write('\r\x1b[K');
    },
  };
}

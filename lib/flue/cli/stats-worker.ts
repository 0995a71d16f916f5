/**
 * One range of `stats`' record figures (stats.ts), on a connection of its own: the worker opens
 * the database with the options the command resolved, runs the one query, posts its rows.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { open } from '../../database/database.js';
import type { OpenOptions } from '../../types.js';

const { options, sql, params } = workerData as { options: OpenOptions; sql: string; params: (string | null)[] };
const db = await open(options);
try {
  parentPort!.postMessage(await db.query(sql, params));
} finally {
  await db.close();
}

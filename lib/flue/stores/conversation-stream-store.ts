/**
 * Flue's `ConversationStreamStore` over `flue_conversation_streams`,
 * `flue_conversation_stream_batches` and `flue_conversation_fold_checkpoints`.
 *
 * Flue's own `defineSqlConversationStreamStore` (the shared fence: producer epochs, retry
 * detection, submission authorization, fold checkpoints) does the work, over libSQL, with
 * the same columns, JSON and offsets as every other libSQL adapter. The three calls of a
 * turn, and the fold checkpoint's write, are ours, each one request to a server where the
 * fence awaits statement after statement: `acquireProducer` is its one `UPDATE … RETURNING`
 * without a transaction around it, `read` reads the batches ahead, beside the head (where
 * calls combine: atomic.ts),
 * `putFoldCheckpoint` sends its delete and insert together, and `append` first tries the
 * common case as statements conditioned in SQL (conversation-stream-append.ts), handing
 * anything else — retries, stale producers, joins, errors to report — to the fence.
 */
import {
  clampLimit,
  defineSqlConversationStreamStore,
  formatOffset,
  MAX_READ_LIMIT,
  parseOffset,
  StreamListenerRegistry,
  type ConversationStreamStore,
  type SqlConversationDialect,
} from '@flue/runtime/adapter';
import type { Runner } from '../../types.js';
import { readAhead, runAtomically } from './atomic.js';
import { appendInOneRequest } from './conversation-stream-append.js';

/** A conversation stream store that is known to persist fold checkpoints. */
export type CheckpointingConversationStreamStore = ConversationStreamStore &
  Required<Pick<ConversationStreamStore, 'putFoldCheckpoint' | 'getFoldCheckpoint'>>;

/** The batches `read` returns when no limit is given (the fence's default). */
const DEFAULT_LIMIT = 100;

/** libSQL described to Flue's SQL conversation-stream code (exported for the tests that compare with it). */
export function libsqlDialect(runner: Runner): SqlConversationDialect {
  return {
    placeholder: () => '?',
    // SQLite has no row locks; the runner's BEGIN IMMEDIATE takes the write lock up front,
    // which is what FOR UPDATE buys on Postgres/MySQL.
    lockClause: '',
    insertIgnorePrefix: 'INSERT',
    insertIgnoreSuffix: 'ON CONFLICT (path) DO NOTHING',
    supportsReturning: true,
    query: (sql, params) => runner.query(sql, params),
    // Flue's fence runs every statement of an operation through the `tx` it is handed, which
    // is what the runner requires while its transaction is open.
    transaction: (fn) => runner.transaction(fn),
  };
}

export function createConversationStreamStore(runner: Runner): CheckpointingConversationStreamStore {
  const fence = defineSqlConversationStreamStore(libsqlDialect(runner));
  // The checkpoint pair is optional in Flue's interface, and a store without it still works
  // (full replay on every cold load). Fail at construction instead of silently degrading,
  // should a Flue release ever stop providing its read here.
  if (!fence.getFoldCheckpoint) {
    throw new Error('[flue-libsql] Flue\'s SQL conversation stream store no longer provides fold checkpoints.');
  }
  // Appends are announced here, whichever path made them (the fence announces its own to a
  // registry of its own, which nobody subscribes to).
  const listeners = new StreamListenerRegistry();

  return {
    createStream: (path, identity) => fence.createStream(path, identity),
    getMeta: (path) => fence.getMeta(path),
    async putFoldCheckpoint(path, checkpoint) {
      // The fence's delete and insert, as statements known up front: one request to a server.
      await runAtomically(runner, [
        ['DELETE FROM flue_conversation_fold_checkpoints WHERE path = ?', [path]],
        [`INSERT INTO flue_conversation_fold_checkpoints (path, head_offset, incarnation, format_version, data)
          VALUES (?, ?, ?, ?, ?)`, [path, checkpoint.offset, checkpoint.incarnation, checkpoint.formatVersion, checkpoint.data]],
      ]);
    },
    getFoldCheckpoint: (path, options) => fence.getFoldCheckpoint!(path, options),
    subscribe: (path, listener) => listeners.subscribe(path, listener),

    async acquireProducer(path, producerId) {
      // One statement is atomic on its own: the fence's transaction around it adds a COMMIT.
      const [row] = await runner.query(
        `UPDATE flue_conversation_streams
         SET producer_id = ?, producer_epoch = producer_epoch + 1, next_producer_sequence = 0
         WHERE path = ?
         RETURNING producer_epoch, next_offset, incarnation`,
        [producerId, path],
      );
      // The fence raises Flue's own error for a missing stream.
      if (!row) return fence.acquireProducer(path, producerId);
      return {
        producerId,
        producerEpoch: Number(row.producer_epoch),
        incarnation: String(row.incarnation),
        nextProducerSequence: 0,
        offset: formatOffset(Number(row.next_offset) - 1),
      };
    },

    async append(input) {
      const appended = await appendInOneRequest(runner, input);
      if (appended) {
        listeners.notify(input.path);
        return appended;
      }
      const result = await fence.append(input);
      // Also when the fence answered a retry from an earlier batch: a notification only
      // wakes readers (Flue's long polls and live streams), who read and find nothing new.
      listeners.notify(input.path);
      return result;
    },

    async read(path, options) {
      const rawOffset = options?.offset ?? '-1';
      const startAfter = rawOffset === 'now' ? undefined : readableOffset(rawOffset);
      const limit = clampLimit(options?.limit, DEFAULT_LIMIT, MAX_READ_LIMIT);
      const batchesAfter = (after: number) => runner.query(
        `SELECT seq, data FROM flue_conversation_stream_batches
         WHERE path = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
        [path, after, limit + 1],
      );
      const meta = runner.query('SELECT next_offset FROM flue_conversation_streams WHERE path = ?', [path]);
      // The batches are read ahead, beside the head where calls combine: a batch the head does
      // not cover yet is one appended meanwhile, which reading after the head would return too.
      const ahead = startAfter === undefined ? undefined : { after: startAfter, rows: readAhead(runner, () => batchesAfter(startAfter)) };
      const [head] = await meta;
      if (!head) return { batches: [], nextOffset: '-1', upToDate: true };
      if (rawOffset === 'now') return { batches: [], nextOffset: formatOffset(Number(head.next_offset) - 1), upToDate: true };
      // An offset that does not parse, or one past the head: the fence raises Flue's own error.
      if (ahead === undefined || ahead.after > Number(head.next_offset) - 1) return fence.read(path, options);
      const batchRows = await ahead.rows();
      const batches = batchRows.slice(0, limit).map((row) => ({
        offset: formatOffset(Number(row.seq)),
        records: JSON.parse(String(row.data)),
      }));
      return {
        batches,
        nextOffset: batches.at(-1)?.offset ?? formatOffset(ahead.after),
        upToDate: batchRows.length <= limit,
      };
    },
  };
}

/** The sequence an offset names, or undefined for one Flue would refuse to read after. */
function readableOffset(offset: string): number | undefined {
  try {
    const sequence = parseOffset(offset);
    return Number.isSafeInteger(sequence) ? sequence : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Flue's `ConversationStreamStore` over `flue_conversation_streams`,
 * `flue_conversation_stream_batches` and `flue_conversation_fold_checkpoints`.
 *
 * The producer fence, retry detection, submission authorization and fold-checkpoint slot are
 * Flue's own `defineSqlConversationStreamStore`; this file only describes libSQL to it. Using
 * the shared fence (rather than a copy) keeps our streams byte-compatible with every other
 * libSQL adapter: same columns, same JSON, same offsets.
 */
import {
  defineSqlConversationStreamStore,
  type ConversationStreamStore,
  type SqlConversationDialect,
} from '@flue/runtime/adapter';
import type { Runner } from '../../types.js';

/** A conversation stream store that is known to persist fold checkpoints. */
export type CheckpointingConversationStreamStore = ConversationStreamStore &
  Required<Pick<ConversationStreamStore, 'putFoldCheckpoint' | 'getFoldCheckpoint'>>;

function libsqlDialect(runner: Runner): SqlConversationDialect {
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
  const store = defineSqlConversationStreamStore(libsqlDialect(runner));
  // The checkpoint pair is optional in Flue's interface, and a store without it still works
  // (full replay on every cold load). Fail at construction instead of silently degrading,
  // should a Flue release ever stop providing it here.
  if (!store.putFoldCheckpoint || !store.getFoldCheckpoint) {
    throw new Error('[flue-libsql] Flue\'s SQL conversation stream store no longer provides fold checkpoints.');
  }
  return store as CheckpointingConversationStreamStore;
}

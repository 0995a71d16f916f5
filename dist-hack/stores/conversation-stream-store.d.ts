/**
 * Flue's `ConversationStreamStore` over `flue_conversation_streams`,
 * `flue_conversation_stream_batches` and `flue_conversation_fold_checkpoints`.
 *
 * The producer fence, retry detection, submission authorization and fold-checkpoint slot are
 * Flue's own `defineSqlConversationStreamStore`; this file only describes libSQL to it. Using
 * the shared fence (rather than a copy) keeps our streams byte-compatible with every other
 * libSQL adapter: same columns, same JSON, same offsets.
 */
import { type ConversationStreamStore } from '@flue/runtime/adapter';
import type { Runner } from '../runner.js';
/** A conversation stream store that is known to persist fold checkpoints. */
export type CheckpointingConversationStreamStore = ConversationStreamStore & Required<Pick<ConversationStreamStore, 'putFoldCheckpoint' | 'getFoldCheckpoint'>>;
export declare function createConversationStreamStore(runner: Runner): CheckpointingConversationStreamStore;

/**
 * Flue's three persistence stores over one runner. The stores keep no state of their own
 * between calls, so building them is cheap and any number can share a database.
 */
import type { PersistenceStores } from '@flue/runtime/adapter';
import type { Runner } from '../runner.js';
export declare function createStores(runner: Runner): PersistenceStores;
export { createAttachmentStore } from './attachment-store.js';
export { createConversationStreamStore, type CheckpointingConversationStreamStore, } from './conversation-stream-store.js';
export { createSubmissionStore } from './submission-store.js';

/**
 * Flue's three persistence stores over one runner. The stores keep no state of their own
 * between calls, so building them is cheap and any number can share a database.
 */
import type { PersistenceStores } from '@flue/runtime/adapter';
import type { Runner } from '../../types.js';
import { createAttachmentStore } from './attachment-store.js';
import { createConversationStreamStore } from './conversation-stream-store.js';
import { createSubmissionStore } from './submission-store.js';

export function createStores(runner: Runner): PersistenceStores {
  return {
    submissionStore: createSubmissionStore(runner),
    conversationStreamStore: createConversationStreamStore(runner),
    attachmentStore: createAttachmentStore(runner),
  };
}

export { createAttachmentStore } from './attachment-store.js';
export {
  createConversationStreamStore,
  type CheckpointingConversationStreamStore,
} from './conversation-stream-store.js';
export { createSubmissionStore } from './submission-store.js';

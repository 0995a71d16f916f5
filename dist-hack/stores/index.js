import { createAttachmentStore } from './attachment-store.js';
import { createConversationStreamStore } from './conversation-stream-store.js';
import { createSubmissionStore } from './submission-store.js';
export function createStores(runner) {
    return {
        submissionStore: createSubmissionStore(runner),
        conversationStreamStore: createConversationStreamStore(runner),
        attachmentStore: createAttachmentStore(runner),
    };
}
export { createAttachmentStore } from './attachment-store.js';
export { createConversationStreamStore, } from './conversation-stream-store.js';
export { createSubmissionStore } from './submission-store.js';

/**
 * Flue's `AttachmentStore` over `flue_attachments`: one immutable row per
 * (stream_path, attachment_id), bytes in a single BLOB.
 *
 * Rows are written once and never updated or deleted by this store, so `put` needs no
 * transaction: the insert either wins or meets the row an earlier put wrote, and comparing
 * against an immutable row cannot race.
 */
import { type AttachmentStore } from '@flue/runtime/adapter';
import type { Runner } from '../runner.js';
export declare function createAttachmentStore(runner: Runner): AttachmentStore;

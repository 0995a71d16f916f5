/**
 * Flue's `AttachmentStore` over `flue_attachments`: one immutable row per
 * (stream_path, attachment_id), bytes in a single BLOB.
 *
 * Rows are written once and never updated or deleted by this store, so `put` needs no
 * transaction: the insert either wins or meets the row an earlier put wrote, and comparing
 * against an immutable row cannot race.
 */
import {
  AttachmentConflictError,
  attachmentBytesEqual,
  copyAttachmentBytes,
  sameAttachmentRef,
  verifyAttachmentBytes,
  type AttachmentRef,
  type AttachmentStore,
  type GetAttachmentInput,
  type PutAttachmentInput,
  type StoredAttachment,
} from '@flue/runtime/adapter';
import type { Runner } from '../../types.js';

export function createAttachmentStore(runner: Runner): AttachmentStore {
  return {
    async put(input: PutAttachmentInput): Promise<void> {
      // Integrity first: bytes that do not match their ref never reach the table.
      await verifyAttachmentBytes(input.attachment, input.bytes);
      const { streamPath, attachment, bytes, conversationId } = input;
      const inserted = await runner.query(
        `INSERT INTO flue_attachments
           (stream_path, attachment_id, mime_type, byte_size, digest, conversation_id, bytes, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (stream_path, attachment_id) DO NOTHING
         RETURNING 1 AS inserted`,
        [streamPath, attachment.id, attachment.mimeType, attachment.size, attachment.digest,
          conversationId, bytes, Date.now()],
      );
      if (inserted.length > 0) return;
      // The id was taken, by an earlier put or a concurrent one: only an exact repeat
      // (same ref, conversation and bytes; the filename is not identity) succeeds.
      const existing = await readAttachment(runner, streamPath, attachment.id);
      if (!existing || existing.conversationId !== conversationId ||
        !sameAttachmentRef(existing.attachment, attachment) ||
        !attachmentBytesEqual(existing.bytes, bytes)) {
        throw new AttachmentConflictError({ path: streamPath, attachmentId: attachment.id });
      }
    },

    async get(input: GetAttachmentInput): Promise<StoredAttachment | null> {
      const stored = await readAttachment(runner, input.streamPath, input.attachmentId);
      // Another conversation's attachment is reported as absent, not as a conflict, so a
      // caller cannot probe ids outside its own conversation.
      if (!stored || stored.conversationId !== input.conversationId) return null;
      // Verify on every read: a damaged row must fail loudly, never reach a model as content.
      await verifyAttachmentBytes(stored.attachment, stored.bytes);
      return { attachment: stored.attachment, bytes: stored.bytes };
    },
  };
}

interface AttachmentRow {
  attachment: AttachmentRef;
  conversationId: string;
  bytes: Uint8Array;
}

async function readAttachment(
  runner: Runner,
  streamPath: string,
  attachmentId: string,
): Promise<AttachmentRow | null> {
  const [row] = await runner.query(
    `SELECT mime_type, byte_size, digest, conversation_id, bytes FROM flue_attachments
     WHERE stream_path = ? AND attachment_id = ?`,
    [streamPath, attachmentId],
  );
  if (!row) return null;
  return {
    attachment: {
      id: attachmentId,
      mimeType: String(row.mime_type),
      size: Number(row.byte_size),
      digest: String(row.digest),
    },
    conversationId: String(row.conversation_id),
    bytes: ownedBytes(row.bytes, attachmentId),
  };
}

/**
 * A private copy of a BLOB value. The native runner returns Uint8Array; a hand-written runner
 * over `@libsql/client` passes its ArrayBuffer through. Copying means callers can mutate what
 * they get without touching what another read returns.
 */
function ownedBytes(value: unknown, attachmentId: string): Uint8Array {
  if (value instanceof Uint8Array) return copyAttachmentBytes(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  throw new TypeError(`[flue] Persisted bytes of attachment "${attachmentId}" are not binary data.`);
}

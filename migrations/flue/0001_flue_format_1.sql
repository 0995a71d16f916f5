-- Flue libSQL storage, format 1: every flue_* table except flue_meta, with its indexes.
-- The layout is fixed by the shared format-1 document (flue-libsql-format-1.md): a file written by any format-1
-- libSQL adapter must open here unchanged, so names, column order, types and keys must not drift.
-- The runner executes this file as one batch inside its migration transaction and writes the
-- format stamp itself. Every statement is idempotent so re-running it on an existing store is a no-op.

-- Overflow parts of submission payloads (large attachment data split out at admission).
CREATE TABLE IF NOT EXISTS flue_submission_chunks (
  submission_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  chunk_index INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (submission_id, item_id, chunk_index)
);

-- The submission ledger. AUTOINCREMENT keeps admission order (sequence) strictly increasing
-- even across deletes, which queue ordering relies on.
CREATE TABLE IF NOT EXISTS flue_agent_submissions (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  submission_id TEXT NOT NULL UNIQUE,
  session_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  canonical_ready_at INTEGER,
  attempt_id TEXT,
  input_applied_at INTEGER,
  abort_requested_at INTEGER,
  started_at INTEGER,
  joined_into TEXT,
  settled_at INTEGER,
  error TEXT,
  attempt_count INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 10,
  timeout_at INTEGER NOT NULL DEFAULT 0,
  owner_id TEXT,
  lease_expires_at INTEGER NOT NULL DEFAULT 0,
  settlement_record_id TEXT,
  settlement_record TEXT
);

CREATE INDEX IF NOT EXISTS flue_agent_submissions_status_sequence_idx
  ON flue_agent_submissions (status, sequence ASC);

CREATE INDEX IF NOT EXISTS flue_agent_submissions_session_status_sequence_idx
  ON flue_agent_submissions (session_key, status, sequence ASC);

-- Partial: only join rows carry joined_into, and only the settle fan-out looks them up.
CREATE INDEX IF NOT EXISTS flue_agent_submissions_joined_into_idx
  ON flue_agent_submissions (joined_into) WHERE joined_into IS NOT NULL;

-- One row per canonical conversation stream: identity, head and producer fence.
CREATE TABLE IF NOT EXISTS flue_conversation_streams (
  path TEXT PRIMARY KEY,
  identity_json TEXT NOT NULL,
  next_offset INTEGER NOT NULL DEFAULT 0,
  producer_id TEXT,
  producer_epoch INTEGER NOT NULL DEFAULT 0,
  next_producer_sequence INTEGER NOT NULL DEFAULT 0,
  incarnation TEXT NOT NULL
);

-- Append-only batches. The unique producer key is what makes a retried append detectable.
CREATE TABLE IF NOT EXISTS flue_conversation_stream_batches (
  path TEXT NOT NULL,
  seq INTEGER NOT NULL,
  producer_id TEXT NOT NULL,
  producer_epoch INTEGER NOT NULL,
  producer_sequence INTEGER NOT NULL,
  data TEXT NOT NULL,
  submission_id TEXT,
  attempt_id TEXT,
  PRIMARY KEY (path, seq),
  UNIQUE (path, producer_id, producer_epoch, producer_sequence)
);

-- One cached fold per stream; a cache over the log, never authoritative.
CREATE TABLE IF NOT EXISTS flue_conversation_fold_checkpoints (
  path TEXT PRIMARY KEY,
  head_offset TEXT NOT NULL,
  incarnation TEXT NOT NULL,
  format_version INTEGER NOT NULL,
  data TEXT NOT NULL
);

-- Immutable attachment bytes, owned by one conversation within one stream.
CREATE TABLE IF NOT EXISTS flue_attachments (
  stream_path TEXT NOT NULL,
  attachment_id TEXT NOT NULL,
  mime_type TEXT NOT NULL,
  byte_size INTEGER NOT NULL CHECK (byte_size >= 0),
  digest TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  bytes BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (stream_path, attachment_id)
);

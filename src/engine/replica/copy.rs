//! The replica's file, through the `libsql` crate, which owns its replication: opening it (and
//! its first sync), syncing it, and reading from it on the replica's task. Every call that may
//! reach the server fails when the server stops answering for `requestTimeout`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use libsql::{ffi, Builder};

use crate::error::{DbError, DbResult, ErrorCode};
use crate::options::OpenOptions;
use crate::sql::params::{match_parameters, Placeholders, SqlPlaceholders};
use crate::sql::text::ensure_single_statement;
use crate::values::Params;

use super::super::remote::tls::https_connector;
use super::super::{Rows, StatementResult};

pub(super) struct ReplicaCopy {
    /// Shared with a sync running in the background (`ReplicaConnection::catch_up_in_background`).
    database: Arc<libsql::Database>,
    /// Reads of the replica's task (those the JS thread's reader did not take).
    conn: libsql::Connection,
    path: PathBuf,
    request_timeout: Duration,
}

impl ReplicaCopy {
    /// Opens the replica's file. One whose file exists opens without the server (it serves
    /// reads at once); a new one makes its first sync before it is handed out, so it never
    /// answers from an empty copy as if the database were empty — and if that sync fails, the
    /// files it created are removed again, so the next open tries afresh.
    pub(super) async fn open(options: &OpenOptions, path: &Path, sync_url: &str) -> DbResult<ReplicaCopy> {
        let is_new = !path.exists();
        let before = if is_new { sibling_files(path) } else { Vec::new() };
        let built = async {
            let database = build(options, path, sync_url).await.map_err(DbError::from)?;
            if is_new {
                database.sync().await.map_err(|err| DbError { code: ErrorCode::SyncFailed, ..DbError::from(err) }.context("the first sync failed"))?;
            }
            Ok(database)
        };
        let built = while_progressing(options.request_timeout, path, built).await;
        if built.is_err() && is_new {
            for created in sibling_files(path).into_iter().filter(|file| !before.contains(file)) {
                let _ = std::fs::remove_file(created);
            }
        }
        let database = built.map_err(|err| match err.message.contains("file is not a database") {
            // The crate reports a wrong or missing key as a replication failure.
            true if options.encryption_key.is_some() => DbError::sqlite(ffi::SQLITE_NOTADB, "the encryptionKey is wrong, or the file is not a database"),
            true => DbError::sqlite(ffi::SQLITE_NOTADB, "the file is not a database (or it is encrypted: pass encryptionKey)"),
            false => err,
        })?;
        let conn = database.connect()?;
        // The file is written by replication only; only local settings apply.
        conn.busy_timeout(options.busy_timeout)?;
        Ok(ReplicaCopy { database: Arc::new(database), conn, path: path.to_owned(), request_timeout: options.request_timeout })
    }

    /// Pulls the server's new frames into the file: `(frame_no, frames_synced)`. Owns what it
    /// needs, so it may run in a task of its own.
    pub(super) fn sync(&self) -> impl Future<Output = DbResult<(Option<u64>, u64)>> + Send + 'static {
        let (database, path, timeout) = (Arc::clone(&self.database), self.path.clone(), self.request_timeout);
        async move {
            let replicated = while_progressing(timeout, &path, async { database.sync().await.map_err(DbError::from) })
                .await
                // A sync that cannot reach the server is a failed sync, whatever broke.
                .map_err(|err| DbError { code: ErrorCode::SyncFailed, ..err })?;
            Ok((replicated.frame_no(), replicated.frames_synced() as u64))
        }
    }

    /// A read from the file. Parameters are matched to the placeholders here, as a local
    /// statement matches them, and passed under each placeholder's exact name (`:v`, `@v`,
    /// `$v`): the engine finds a named placeholder only by its full name.
    pub(super) async fn read(&self, sql: &str, params: Params) -> DbResult<StatementResult> {
        ensure_single_statement(sql)?;
        let placeholders = SqlPlaceholders::scan(sql);
        let values = match_parameters(&placeholders, params)?;
        let params = match (1..=values.len()).all(|index| placeholders.name(index).is_none()) {
            true => libsql::params::Params::Positional(values),
            false => libsql::params::Params::Named(
                values
                    .into_iter()
                    .enumerate()
                    .map(|(at, value)| (placeholders.name(at + 1).map_or_else(|| format!("?{}", at + 1), str::to_owned), value))
                    .collect(),
            ),
        };
        let mut rows = self.conn.query(sql, params).await?;
        let width = rows.column_count();
        let columns = (0..width).map(|i| rows.column_name(i).unwrap_or("").to_owned()).collect();
        let mut values = Vec::new();
        while let Some(row) = rows.next().await? {
            for i in 0..width {
                values.push(row.get_value(i)?);
            }
        }
        Ok(StatementResult { rows: Rows { columns, values }, rows_affected: 0, last_insert_rowid: 0 })
    }
}

async fn build(options: &OpenOptions, path: &Path, sync_url: &str) -> libsql::Result<libsql::Database> {
    // Frame replication (sync protocol v1), which sqld and Turso both serve: what is tested
    // here is what runs. It also opens without asking the server anything (the automatic
    // choice probes the server first), so a replica whose file exists serves reads while the
    // server is down. The crate's own read-your-writes belongs to writes it delegates; ours go
    // to the primary through our client (`mod.rs`).
    let token = options.auth_token.clone().unwrap_or_default();
    let mut builder = Builder::new_remote_replica(path, sync_url.to_owned(), token)
        .sync_protocol(libsql::SyncProtocol::V1)
        .read_your_writes(false)
        // Trusting what the primary's writes trust (remote/tls.rs).
        .connector(https_connector(None));
    if let Some(interval) = options.sync_interval {
        builder = builder.sync_interval(interval.max(Duration::from_millis(100)));
    }
    if let Some(key) = &options.encryption_key {
        let config = libsql::EncryptionConfig::new(libsql::Cipher::Aes256Cbc, bytes::Bytes::copy_from_slice(key.as_bytes()));
        builder = builder.encryption_config(config);
    }
    builder.build().await
}

/// A sync: may run long (a large database's first sync moves all of it, ~3 MB/s measured), so
/// it has no deadline as a whole; it fails when the replica's files stop growing for
/// `requestTimeout` — a server that stopped answering — instead.
async fn while_progressing<T>(timeout: Duration, path: &Path, operation: impl Future<Output = DbResult<T>>) -> DbResult<T> {
    let mut operation = pin!(operation);
    let mut size = replica_size(path);
    loop {
        match tokio::time::timeout(timeout, &mut operation).await {
            Ok(outcome) => return outcome,
            Err(_) => {
                let now = replica_size(path);
                if now == size {
                    return Err(DbError::libsql(
                        ErrorCode::RequestTimeout,
                        format!("the libSQL server sent nothing for requestTimeout ({} ms) during the sync", timeout.as_millis()),
                    ));
                }
                size = now;
            }
        }
    }
}

/// The bytes of the replica's file and the files kept beside it (`-wal`, `-shm`, …).
fn replica_size(path: &Path) -> u64 {
    sibling_files(path).iter().filter_map(|file| std::fs::metadata(file).ok()).map(|meta| meta.len()).sum()
}

/// The replica's file and the files the crate keeps beside it (`-wal`, `-shm`, `-client_wal_index`, …).
fn sibling_files(path: &Path) -> Vec<PathBuf> {
    let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else { return Vec::new() };
    let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
    let name = name.to_string_lossy().into_owned();
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok())
                .filter(|entry| entry.file_name().to_string_lossy().starts_with(&name))
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default()
}

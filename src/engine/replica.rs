//! Embedded replicas, through the `libsql` crate: reads on the local file, writes on the
//! server. Every call that may reach the server fails when the server stops answering for
//! `requestTimeout`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::time::Duration;

use crate::error::{DbError, DbResult};
use crate::sql::params::{match_parameters, Placeholders, SqlPlaceholders};
use crate::sql::text::ensure_single_statement;

use super::{Rows, StatementResult};
use crate::values::Params;

/// The replica's calls that reach the server (writes, sync) fail after `requestTimeout`
/// instead of waiting for a server that stopped answering.
pub(super) async fn within<T>(timeout: Duration, operation: impl std::future::Future<Output = DbResult<T>>) -> DbResult<T> {
    tokio::time::timeout(timeout, operation).await.unwrap_or_else(|_| {
        Err(DbError::libsql(
            "REQUEST_TIMEOUT",
            format!("the libSQL server did not answer within requestTimeout ({} ms)", timeout.as_millis()),
        ))
    })
}

/// A sync: may run long (a large database's first sync moves all of it, ~3 MB/s measured), so
/// it has no deadline as a whole; it fails when the replica's files stop growing for
/// `requestTimeout` — a server that stopped answering — instead.
pub(super) async fn while_progressing<T>(timeout: Duration, path: &Path, operation: impl Future<Output = DbResult<T>>) -> DbResult<T> {
    let mut operation = pin!(operation);
    let mut size = replica_size(path);
    loop {
        match tokio::time::timeout(timeout, &mut operation).await {
            Ok(outcome) => return outcome,
            Err(_) => {
                let now = replica_size(path);
                if now == size {
                    return Err(DbError::libsql(
                        "REQUEST_TIMEOUT",
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
pub(super) fn sibling_files(path: &Path) -> Vec<PathBuf> {
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

/// A statement on a replica: reads run on the local file, writes on the server. Parameters are
/// matched to the placeholders here, as a local statement matches them, and passed under each
/// placeholder's exact name (`:v`, `@v`, `$v`): the local engine finds a named placeholder only
/// by its full name, and the server binds a named one only by name.
pub(super) async fn replica_statement(conn: &libsql::Connection, sql: &str, params: Params) -> DbResult<StatementResult> {
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
    let changes_before = conn.total_changes();
    let mut rows = conn.query(sql, params).await?;
    let width = rows.column_count();
    let columns = (0..width).map(|i| rows.column_name(i).unwrap_or("").to_owned()).collect();
    let mut values = Vec::new();
    while let Some(row) = rows.next().await? {
        for i in 0..width {
            values.push(row.get_value(i)?);
        }
    }
    // `changes()` keeps the last write's count across reads; report it only for a write.
    let rows_affected = if conn.total_changes() != changes_before { conn.changes() } else { 0 };
    Ok(StatementResult { rows: Rows { columns, values }, rows_affected, last_insert_rowid: conn.last_insert_rowid() })
}

/// Pulls the server's new frames now.
pub(super) async fn sync(database: &libsql::Database, path: &Path, timeout: Duration) -> DbResult<(Option<u64>, u64)> {
    let replicated = while_progressing(timeout, path, async { database.sync().await.map_err(DbError::from) }).await.map_err(|err| {
        // A sync that cannot reach the server is a failed sync, whatever broke.
        DbError { code: "SYNC_FAILED".into(), ..err }
    })?;
    Ok((replicated.frame_no(), replicated.frames_synced() as u64))
}

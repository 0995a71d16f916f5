//! Embedded replicas, through the `libsql` crate: reads on the local file, writes on the
//! server. Every call that may reach the server has the `requestTimeout` deadline.

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
pub(super) async fn sync(database: &libsql::Database, timeout: Duration) -> DbResult<(Option<u64>, u64)> {
    let replicated = within(timeout, async { database.sync().await.map_err(DbError::from) }).await.map_err(|err| {
        // A sync that cannot reach the server is a failed sync, whatever broke.
        DbError { code: "SYNC_FAILED".into(), ..err }
    })?;
    Ok((replicated.frame_no(), replicated.frames_synced() as u64))
}

//! Running a local statement: prepared (or taken from the cache), bound, stepped, its rows
//! handed to a sink as SQLite produces them.

use crate::error::DbResult;
use crate::sql::params::match_parameters;
use crate::values::Params;

use super::super::{Rows, StatementResult};
use super::cache::{CachedStatement, StatementCache};
use super::connection::{LocalConnection, LocalStatement, Running};

/// Receives a local query's rows as SQLite produces them, so they can become JS values
/// without an owned copy in between (`js/results.rs` builds the row objects).
pub trait RowSink<A> {
    fn row(&mut self, row: &Running<'_>) -> DbResult<()>;
    /// After the last row: the statement, for its column names and what is kept with it.
    fn finish(&mut self, statement: &mut CachedStatement<A>) -> DbResult<()>;
}

/// Matches the user's parameters to the statement's placeholders, so a wrong count or an
/// unknown name is an error instead of a silently NULL-bound placeholder.
fn bind_to_statement(statement: &LocalStatement, params: Params) -> DbResult<()> {
    for (index, value) in match_parameters(statement, params)?.iter().enumerate() {
        statement.bind(index + 1, value)?;
    }
    Ok(())
}

/// Prepares (or reuses), binds and runs one local statement, handing its rows to `sink`. A
/// pragma that ran may have changed what commits that share syncs rely on (`shared_fsync.rs`).
pub fn run_local<A: Default>(
    statements: &mut StatementCache<A>,
    conn: &mut LocalConnection,
    sql: &str,
    params: Params,
    sink: &mut dyn RowSink<A>,
) -> DbResult<()> {
    let cached = statements.get(conn, sql)?;
    let is_pragma = cached.is_pragma;
    let ran = run_cached(cached, params, sink);
    // Also after a failed run: the pragma took effect as it was prepared.
    let rechecked = if is_pragma { conn.recheck_shared_fsyncs() } else { Ok(()) };
    ran.and(rechecked)
}

fn run_cached<A>(cached: &mut CachedStatement<A>, params: Params, sink: &mut dyn RowSink<A>) -> DbResult<()> {
    bind_to_statement(&cached.statement, params)?;
    let mut running = cached.statement.run();
    while running.step()? {
        sink.row(&running)?;
    }
    drop(running);
    sink.finish(cached)
}

pub fn local_statement<A: Default>(
    statements: &mut StatementCache<A>,
    conn: &mut LocalConnection,
    sql: &str,
    params: Params,
    keep_rows: bool,
) -> DbResult<StatementResult> {
    let changes_before = conn.total_changes();
    let mut rows = Rows::default();
    match keep_rows {
        true => run_local(statements, conn, sql, params, &mut rows)?,
        false => run_local(statements, conn, sql, params, &mut SkipRows)?,
    }
    // `changes()` keeps the count of the last write even across SELECTs; only report it when
    // this statement actually changed something.
    let rows_affected = if conn.total_changes() != changes_before { conn.changes() } else { 0 };
    Ok(StatementResult { rows, rows_affected, last_insert_rowid: conn.last_insert_rowid() })
}

/// Rows nobody reads (`execute()`, the runner's own BEGIN/COMMIT): stepped through, not read.
struct SkipRows;

impl<A> RowSink<A> for SkipRows {
    fn row(&mut self, _row: &Running<'_>) -> DbResult<()> {
        Ok(())
    }

    fn finish(&mut self, _statement: &mut CachedStatement<A>) -> DbResult<()> {
        Ok(())
    }
}

/// Owned rows, for the runner's own statements (migrations, batches) and remote results.
impl<A> RowSink<A> for Rows {
    fn row(&mut self, row: &Running<'_>) -> DbResult<()> {
        self.values.extend((0..row.width()).map(|i| row.value(i)));
        Ok(())
    }

    fn finish(&mut self, cached: &mut CachedStatement<A>) -> DbResult<()> {
        let statement = &cached.statement;
        self.columns = (0..statement.column_count())
            .map(|i| String::from_utf8_lossy(statement.column_name_bytes(i)).into_owned())
            .collect();
        Ok(())
    }
}


//! One open database and its one connection, and every operation the runner performs on it.
//!
//! Three backends: local targets go through the libSQL engine's C API (`local/`); libSQL
//! servers through our Hrana client (`remote/`); embedded replicas write through that client
//! to their primary and read their file, which the `libsql` crate replicates (`replica/`). Operations are `async` because the
//! remote ones need the network; local ones never wait, and the executor runs them to
//! completion on the JS thread. Either way an operation has the connection to itself
//! (`&mut self`): that is the serialization that keeps one process from ever racing itself
//! into `SQLITE_BUSY`.
//!
//! `A` is what the layer above keeps with each cached local statement (the JS layer: the
//! statement's row builder); the engine only stores it.

use std::time::Duration;

use crate::error::{DbError, DbResult, ErrorCode};
use crate::options::Target;
use crate::sql::text::{has_sql_tokens, is_transaction_control, nul_in_sql};
use crate::values::Params;

use super::local::{local_statement, run_local, LocalConnection, RowSink, StatementCache};
use super::remote::RemoteConnection;
use super::replica::{CatchUp, ReplicaConnection};
use super::StatementResult;

pub struct Connection<A> {
    pub(super) backend: Backend<A>,
    pub(super) target: Target,
    pub(super) busy_timeout: Duration,
}

// Field order is drop order: statements are finalized before their connection closes.
pub(super) enum Backend<A> {
    Local { statements: StatementCache<A>, conn: LocalConnection },
    Remote(RemoteConnection),
    Replica(ReplicaConnection),
}

impl<A: Default> Connection<A> {
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// A server connection's next lane (`RemoteConnection::another`); `None` for the other
    /// backends, which have one connection.
    pub fn another_lane(&self) -> Option<Connection<A>> {
        let Backend::Remote(conn) = &self.backend else { return None };
        Some(Connection {
            backend: Backend::Remote(conn.another()),
            target: self.target.clone(),
            busy_timeout: self.busy_timeout,
        })
    }

    /// A lane on a server connection's stream (an embedded replica's: its primary's),
    /// pipelining requests beside it (`RemoteConnection::pipelined`); `None` for local targets
    /// and over HTTP.
    pub fn pipelined_lane(&self) -> Option<Connection<A>> {
        let lane = match &self.backend {
            Backend::Remote(conn) => conn.pipelined()?,
            Backend::Replica(conn) => conn.primary_pipelined()?,
            Backend::Local { .. } => return None,
        };
        Some(Connection { backend: Backend::Remote(lane), target: self.target.clone(), busy_timeout: self.busy_timeout })
    }

    /// An embedded replica's write goes to its primary on a lane of its own
    /// (`executor/serial.rs`): reads wait for the file to have it (`ReplicaConnection::write_sent`).
    pub fn replica_write_sent(&mut self) {
        if let Backend::Replica(conn) = &mut self.backend {
            conn.write_sent();
        }
    }

    /// A pipelined lane's place in the order its stream's requests go out in
    /// (`RemoteConnection::take_turn`), and giving it up when its job sent nothing.
    pub fn take_turn(&mut self) {
        if let Backend::Remote(conn) = &mut self.backend {
            conn.take_turn();
        }
    }

    pub fn end_turn(&mut self) {
        if let Backend::Remote(conn) = &mut self.backend {
            conn.end_turn();
        }
    }

    /// A server connection lets go of its kept stream: its next request starts a new one (a
    /// new connection on the server, which reads the schema afresh).
    pub fn forget_stream(&mut self) {
        if let Backend::Remote(conn) = &mut self.backend {
            conn.forget_stream();
        }
    }

    pub fn in_transaction(&self) -> bool {
        match &self.backend {
            Backend::Local { conn, .. } => conn.in_transaction(),
            Backend::Remote(conn) => conn.in_transaction(),
            Backend::Replica(conn) => conn.in_transaction(),
        }
    }

    /// Whether local commits share their syncs (`local/shared_fsync.rs`): a file at durability
    /// 'full' in WAL mode.
    pub fn shares_fsyncs(&self) -> bool {
        matches!(&self.backend, Backend::Local { conn, .. } if conn.shares_fsyncs())
    }

    /// Whether a local commit waits for the sync it shares with others (`local/shared_fsync.rs`).
    pub fn awaits_fsync(&self) -> bool {
        matches!(&self.backend, Backend::Local { conn, .. } if conn.awaits_fsync())
    }

    /// Makes the local commits made so far durable, with one sync for all of them.
    pub fn fsync_commits(&mut self) -> DbResult<()> {
        match &mut self.backend {
            Backend::Local { conn, .. } => conn.fsync_commits(),
            _ => Ok(()),
        }
    }

    /// Opens a write transaction (`BEGIN IMMEDIATE`).
    pub async fn begin(&mut self) -> DbResult<()> {
        if self.in_transaction() {
            return Err(DbError::libsql(ErrorCode::TransactionState, "a transaction is already open on this connection"));
        }
        match &mut self.backend {
            Backend::Remote(conn) => conn.begin(),
            Backend::Replica(conn) => conn.begin(),
            _ => self.plain("BEGIN IMMEDIATE").await,
        }
    }

    pub async fn commit(&mut self) -> DbResult<()> {
        let committed = match &mut self.backend {
            Backend::Remote(conn) => return conn.commit().await,
            Backend::Replica(conn) => return conn.commit().await,
            _ => self.plain("COMMIT").await,
        };
        if committed.is_err() {
            // A failed COMMIT (disk full, I/O error) may leave the transaction open; never
            // leave it dangling for the next caller.
            self.rollback_if_open().await;
        }
        committed
    }

    /// `query()` on a local target, delivering rows to `sink` as they are read. `None` for
    /// remote targets, which go through `run`.
    pub fn query_local(&mut self, sql: &str, params: Params, sink: &mut dyn RowSink<A>) -> Option<DbResult<()>> {
        let Backend::Local { statements, conn } = &mut self.backend else { return None };
        Some(refuse_transaction_control(sql).and_then(|()| run_local(statements, conn, sql, params, sink)))
    }

    /// Whether `sql` only reads (and is no pragma, which may change the connection itself), so a
    /// replica's reader may run it. Local connections only.
    pub fn only_reads(&mut self, sql: &str) -> DbResult<bool> {
        let Backend::Local { statements, conn } = &mut self.backend else { return Ok(false) };
        let cached = statements.get(conn, sql)?;
        Ok(!cached.is_pragma && cached.statement.is_read_only())
    }

    /// Runs one statement with its parameters and collects everything it returns.
    pub async fn statement(&mut self, sql: &str, params: Params) -> DbResult<StatementResult> {
        match &mut self.backend {
            Backend::Local { statements, conn } => local_statement(statements, conn, sql, params, true),
            Backend::Remote(conn) => conn.statement(sql, params, true).await,
            Backend::Replica(conn) => conn.statement(sql, params, true).await,
        }
    }

    /// Runs one statement for what it changes: rows it returns are not kept (locally they are
    /// not even read into values). `rows` of the result is empty.
    pub async fn statement_for_effect(&mut self, sql: &str, params: Params) -> DbResult<StatementResult> {
        match &mut self.backend {
            Backend::Local { statements, conn } => local_statement(statements, conn, sql, params, false),
            Backend::Remote(conn) => conn.statement(sql, params, false).await,
            Backend::Replica(conn) => conn.statement(sql, params, false).await,
        }
    }

    /// A statement of the runner's own, with no parameters and no rows wanted.
    pub async fn plain(&mut self, sql: &str) -> DbResult<()> {
        self.statement_for_effect(sql, Params::None).await.map(|_| ())
    }

    pub async fn batch(&mut self, statements: Vec<(String, Params)>) -> DbResult<Vec<StatementResult>> {
        if self.in_transaction() {
            return Err(DbError::libsql(ErrorCode::TransactionState, "batch() cannot run inside an open transaction"));
        }
        for (sql, _) in &statements {
            refuse_transaction_control(sql)?;
        }
        match &mut self.backend {
            Backend::Remote(conn) => return conn.batch(statements).await,
            Backend::Replica(conn) => return conn.batch(statements).await,
            Backend::Local { .. } => {}
        }
        self.begin().await?;
        let outcome = self.statements_in_order(statements).await;
        self.end_transaction(outcome).await
    }

    async fn statements_in_order(&mut self, statements: Vec<(String, Params)>) -> DbResult<Vec<StatementResult>> {
        let count = statements.len();
        let mut results = Vec::with_capacity(count);
        for (index, (sql, params)) in statements.into_iter().enumerate() {
            let result = self.statement(&sql, params).await;
            results.push(result.map_err(|err| err.context(&format!("batch statement {} of {count} failed, nothing was applied", index + 1)))?);
        }
        Ok(results)
    }

    /// Ends the transaction the runner opened for `outcome`'s work: commits it when the work
    /// succeeded, rolls it back when the work or the commit failed.
    pub async fn end_transaction<T>(&mut self, outcome: DbResult<T>) -> DbResult<T> {
        match outcome {
            Ok(value) => self.commit().await.map(|()| value),
            Err(err) => {
                self.rollback_if_open().await;
                Err(err)
            }
        }
    }

    /// Runs a script of statements without parameters (DDL, migrations).
    pub async fn exec(&mut self, script: &str) -> DbResult<()> {
        if script.contains('\0') {
            return Err(nul_in_sql());
        }
        if !has_sql_tokens(script) {
            return Ok(());
        }
        match &mut self.backend {
            Backend::Local { statements, conn } => {
                // A script cannot be retried from the JS layer (its first statements may
                // already have committed), so it waits for locks inside SQLite, blocking for at
                // most busy_timeout.
                conn.set_busy_timeout(self.busy_timeout);
                let result = conn.exec(script);
                conn.set_busy_timeout(Duration::ZERO);
                // The script may have changed the schema the cached statements were prepared against.
                statements.clear();
                // Also after a failed script: its pragmas before the failure took effect.
                let rechecked = conn.recheck_shared_fsyncs();
                result.and(rechecked)
            }
            Backend::Remote(conn) => conn.exec(script).await,
            Backend::Replica(conn) => conn.exec(script).await,
        }
    }

    /// Ends the open transaction, if any, without committing.
    pub async fn rollback(&mut self) -> DbResult<()> {
        match &mut self.backend {
            Backend::Remote(conn) => conn.rollback().await,
            Backend::Replica(conn) => conn.rollback().await,
            Backend::Local { conn, .. } if conn.in_transaction() => self.plain("ROLLBACK").await?,
            Backend::Local { .. } => {}
        }
        Ok(())
    }

    /// Embedded replicas: pulls the server's new frames now; `(frame_no, frames_synced)`.
    /// Other targets have nothing to sync.
    pub async fn sync(&mut self) -> DbResult<(Option<u64>, u64)> {
        match &mut self.backend {
            Backend::Replica(conn) => conn.sync().await,
            _ => Ok((None, 0)),
        }
    }

    /// An embedded replica starts a sync of its file in the background when one is due
    /// (`replica/`); how long until it should be asked again (`None`: not before the next call).
    pub fn catch_up(&mut self) -> Option<std::time::Duration> {
        match &mut self.backend {
            Backend::Replica(conn) => conn.catch_up(),
            _ => None,
        }
    }

    /// An embedded replica's account of its file's lag, for the JS thread's reader.
    pub fn file_lag(&self) -> Option<std::sync::Arc<CatchUp>> {
        match &self.backend {
            Backend::Replica(conn) => Some(conn.file_lag()),
            _ => None,
        }
    }

    /// Lets the server go of what this connection holds (a server connection's kept stream).
    pub async fn close(&mut self) {
        match &mut self.backend {
            Backend::Remote(conn) => conn.close().await,
            Backend::Replica(conn) => conn.close().await,
            Backend::Local { .. } => {}
        }
    }

    /// Best effort: used on paths that are already failing with a more useful error.
    pub async fn rollback_if_open(&mut self) {
        match &mut self.backend {
            Backend::Remote(conn) => conn.rollback().await,
            Backend::Replica(conn) => conn.rollback().await,
            Backend::Local { conn, .. } if conn.in_transaction() => {
                let _ = self.plain("ROLLBACK").await;
            }
            Backend::Local { .. } => {}
        }
    }
}

pub(super) fn refuse_transaction_control(sql: &str) -> DbResult<()> {
    if is_transaction_control(sql) {
        return Err(DbError::libsql(
            ErrorCode::TransactionState,
            "BEGIN, COMMIT and ROLLBACK cannot run through query()/execute()/batch(): use db.transaction(fn), \
             which begins, commits and rolls back for you",
        ));
    }
    Ok(())
}


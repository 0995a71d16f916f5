//! The operations the runner performs, as values: what the executor queues and what each
//! produced. Rarely-used operations are boxed: their futures are large, and keeping them out of
//! `run`'s state machine keeps the per-query future small (it is moved on every call).

use crate::error::{DbError, DbResult, ErrorCode};
use crate::sql::text::{leading_keyword_is, reads_only};
use crate::values::Params;

use super::connection::refuse_transaction_control;
use super::migrate::{self, Migration, MigrationReport};
use super::connection::Backend;
use super::remote::{Call, CallResult};
use super::{Connection, Rows, StatementResult};

/// What an operation asks of the connection.
pub enum Op {
    Query { sql: String, params: Params },
    Execute { sql: String, params: Params },
    Batch(Vec<(String, Params)>),
    Exec(String),
    Begin,
    Commit,
    Rollback,
    Migrate { set: String, migrations: Vec<Migration>, flue_format: bool },
    Sync,
}

/// What an operation produced; `js/results.rs` turns it into JS values.
pub enum Output {
    Rows(Rows),
    Execute(StatementResult),
    Batch(Vec<StatementResult>),
    Done,
    Migrated(MigrationReport),
    Synced { frame_no: Option<u64>, frames_synced: u64 },
}


impl Op {
    /// A single statement outside the runner's own bookkeeping: what the JS thread holds until
    /// the end of its turn, to send together.
    pub fn is_statement(&self) -> bool {
        matches!(self, Op::Query { .. } | Op::Execute { .. })
    }

    /// What only reads, so a server may run it beside writes on another connection: a
    /// statement whose first keyword is SELECT or VALUES. Anything else — a write, a pragma, a
    /// batch (`BEGIN IMMEDIATE`) — counts as a write.
    pub fn only_reads(&self) -> bool {
        match self {
            Op::Query { sql, .. } | Op::Execute { sql, .. } => reads_only(sql),
            _ => false,
        }
    }

    /// What may change the schema: scripts, migrations, and CREATE / ALTER / DROP statements.
    /// A server's other connections may go on answering from the schema they had
    /// (`executor/pool.rs` gives its readers new streams after one).
    pub fn changes_schema(&self) -> bool {
        match self {
            Op::Exec(_) | Op::Migrate { .. } => true,
            Op::Query { sql, .. } | Op::Execute { sql, .. } => ["CREATE", "ALTER", "DROP"].iter().any(|keyword| leading_keyword_is(sql, keyword)),
            Op::Batch(statements) => statements.iter().any(|(sql, _)| ["CREATE", "ALTER", "DROP"].iter().any(|keyword| leading_keyword_is(sql, keyword))),
            _ => false,
        }
    }

    /// What may travel in one request with other calls (`Connection::run_together`).
    pub fn travels_together(&self) -> bool {
        matches!(self, Op::Query { .. } | Op::Execute { .. } | Op::Batch(_))
    }
}

impl<A: Default> Connection<A> {
    pub async fn run(&mut self, op: Op) -> DbResult<Output> {
        match op {
            Op::Query { sql, params } => {
                refuse_transaction_control(&sql)?;
                Ok(Output::Rows(self.statement(&sql, params).await?.rows))
            }
            Op::Execute { sql, params } => {
                refuse_transaction_control(&sql)?;
                Ok(Output::Execute(self.statement_for_effect(&sql, params).await?))
            }
            Op::Batch(statements) => Ok(Output::Batch(Box::pin(self.batch(statements)).await?)),
            Op::Exec(script) => {
                let was_in_transaction = self.in_transaction();
                Box::pin(self.exec(&script)).await?;
                if !was_in_transaction && self.in_transaction() {
                    // Nobody would ever end it, and every later transaction() would fail.
                    self.rollback_if_open().await;
                    return Err(DbError::libsql(
                        ErrorCode::TransactionState,
                        "the script left a transaction open; it was rolled back (end it in the script, or use transaction())",
                    ));
                }
                Ok(Output::Done)
            }
            Op::Begin => self.begin().await.map(|()| Output::Done),
            Op::Commit => self.commit().await.map(|()| Output::Done),
            Op::Rollback => self.rollback().await.map(|()| Output::Done),
            Op::Migrate { set, migrations, flue_format } => {
                Ok(Output::Migrated(Box::pin(migrate::run(self, &set, &migrations, flue_format)).await?))
            }
            Op::Sync => {
                let (frame_no, frames_synced) = Box::pin(self.sync()).await?;
                Ok(Output::Synced { frame_no, frames_synced })
            }
        }
    }

    /// Statements (`Op::Query`, `Op::Execute`) and batches (`Op::Batch`) called together: on a
    /// server or an embedded replica (whose writes go to its primary) in one request, in a
    /// transaction or not; locally one after another. In order, each on its own, each with its
    /// own outcome.
    pub async fn run_together(&mut self, ops: Vec<Op>) -> Vec<DbResult<Output>> {
        // Per op: what its result becomes, or why it was refused before sending.
        let mut kinds = Vec::with_capacity(ops.len());
        let mut calls = Vec::with_capacity(ops.len());
        for op in ops {
            let (call, kind) = match op {
                Op::Query { sql, params } => (refuse_transaction_control(&sql).map(|()| Call::Statement { sql, params, want_rows: true }), Kind::Rows),
                Op::Execute { sql, params } => (refuse_transaction_control(&sql).map(|()| Call::Statement { sql, params, want_rows: false }), Kind::Execute),
                Op::Batch(statements) => {
                    let refused = statements.iter().try_for_each(|(sql, _)| refuse_transaction_control(sql));
                    (refused.map(|()| Call::Batch(statements)), Kind::Batch)
                }
                _ => unreachable!("only statements and batches run together"),
            };
            match call {
                Ok(call) => {
                    kinds.push(Ok(kind));
                    calls.push(call);
                }
                Err(err) => kinds.push(Err(err)),
            }
        }
        let mut results = match &mut self.backend {
            Backend::Remote(conn) => conn.calls(calls).await,
            Backend::Replica(conn) => conn.calls(calls).await,
            // No round trip to share.
            Backend::Local { .. } => self.calls_one_by_one(calls).await,
        }
        .into_iter();
        kinds
            .into_iter()
            .map(|kind| {
                let kind = kind?;
                Ok(match (kind, results.next().expect("one result per call sent")?) {
                    (Kind::Rows, CallResult::Statement(result)) => Output::Rows(result.rows),
                    (Kind::Execute, CallResult::Statement(result)) => Output::Execute(result),
                    (Kind::Batch, CallResult::Batch(results)) => Output::Batch(results),
                    _ => unreachable!("a call's result is of its kind"),
                })
            })
            .collect()
    }

    async fn calls_one_by_one(&mut self, calls: Vec<Call>) -> Vec<DbResult<CallResult>> {
        let mut results = Vec::with_capacity(calls.len());
        for call in calls {
            results.push(match call {
                Call::Statement { sql, params, want_rows: true } => self.statement(&sql, params).await.map(CallResult::Statement),
                Call::Statement { sql, params, want_rows: false } => self.statement_for_effect(&sql, params).await.map(CallResult::Statement),
                Call::Batch(statements) => Box::pin(self.batch(statements)).await.map(CallResult::Batch),
            });
        }
        results
    }
}

/// What a call's result becomes.
enum Kind {
    Rows,
    Execute,
    Batch,
}

#[cfg(test)]
mod tests {
    use crate::options::{OpenOptions, OptionValue};

    use super::{Connection, Op};

    /// Futures the JS thread creates on its own stack — `open()`'s (`api/database.rs`), and an
    /// inline operation's (`executor/inline.rs` polls it where it is) — stay small: V8 checks the
    /// native stack against its limit, so a future of hundreds of kB there made the next call
    /// into JS after an AsyncLocalStorage hook fail with "Maximum call stack size exceeded", or
    /// crash the process.
    #[test]
    fn the_js_threads_futures_are_small() {
        const LIMIT: usize = 16 * 1024;
        let options = |url: &str| OpenOptions::parse(vec![("url".into(), OptionValue::Str(url.into()))]).unwrap();
        let replica = OpenOptions::parse(vec![
            ("url".into(), OptionValue::Str("file:/nonexistent/replica.db".into())),
            ("syncUrl".into(), OptionValue::Str("https://example.invalid".into())),
        ])
        .unwrap();
        for opening in [options(":memory:"), options("https://example.invalid"), replica] {
            let future = Connection::<()>::open(&opening);
            assert!(std::mem::size_of_val(&future) < LIMIT, "open(): {} bytes", std::mem::size_of_val(&future));
        }
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut connection = runtime.block_on(Connection::<()>::open(&options(":memory:"))).unwrap();
        let running = connection.run(Op::Query { sql: "SELECT 1".into(), params: crate::values::Params::None });
        assert!(std::mem::size_of_val(&running) < LIMIT, "run(): {} bytes", std::mem::size_of_val(&running));
    }
}

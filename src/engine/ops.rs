//! The operations the runner performs, as values: what the executor queues and what each
//! produced. Rarely-used operations are boxed: their futures are large, and keeping them out of
//! `run`'s state machine keeps the per-query future small (it is moved on every call).

use crate::error::{DbError, DbResult};
use crate::values::Params;

use super::connection::refuse_transaction_control;
use super::migrate::{self, Migration, MigrationReport};
use super::connection::Backend;
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
                        "TRANSACTION_STATE",
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
}

impl Op {
    /// A single statement outside the runner's own bookkeeping: what may travel together.
    pub fn is_statement(&self) -> bool {
        matches!(self, Op::Query { .. } | Op::Execute { .. })
    }
}

impl<A: Default> Connection<A> {
    /// Whether statements called together can travel to the server in one request: on a
    /// server, in a transaction or not.
    pub fn runs_together(&self) -> bool {
        matches!(&self.backend, Backend::Remote(_))
    }

    /// Statements (`Op::Query`, `Op::Execute`) called together, run in order, each on its own
    /// (see `runs_together`); each gets its own outcome.
    pub async fn run_together(&mut self, ops: Vec<Op>) -> Vec<DbResult<Output>> {
        let Backend::Remote(conn) = &mut self.backend else { unreachable!("only a server runs statements together") };
        // Per op: whether it is a query (rows wanted), or why it was refused before sending.
        let mut kinds = Vec::with_capacity(ops.len());
        let mut statements = Vec::with_capacity(ops.len());
        for op in ops {
            let (sql, params, is_query) = match op {
                Op::Query { sql, params } => (sql, params, true),
                Op::Execute { sql, params } => (sql, params, false),
                _ => unreachable!("only statements run together"),
            };
            match refuse_transaction_control(&sql) {
                Ok(()) => {
                    kinds.push(Ok(is_query));
                    statements.push((sql, params, is_query));
                }
                Err(err) => kinds.push(Err(err)),
            }
        }
        let mut results = conn.statements(statements).await.into_iter();
        kinds
            .into_iter()
            .map(|kind| {
                let is_query = kind?;
                let result = results.next().expect("one result per statement sent")?;
                Ok(if is_query { Output::Rows(result.rows) } else { Output::Execute(result) })
            })
            .collect()
    }
}

//! The operations the runner performs, as values: what the executor queues and what each
//! produced. Rarely-used operations are boxed: their futures are large, and keeping them out of
//! `run`'s state machine keeps the per-query future small (it is moved on every call).

use crate::error::{DbError, DbResult};
use crate::values::Params;

use super::connection::refuse_transaction_control;
use super::migrate::{self, Migration, MigrationReport};
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

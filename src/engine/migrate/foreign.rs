//! Migrations over a runner that is not ours (`libsql(runner)`: any `{ query, transaction,
//! close }`), driven from JS one statement at a time, inside the runner's own transaction.
//!
//! The same `apply` runs as on our connection; only its target differs: each statement it asks
//! for is handed out by `next`, and its rows come back with the next call. Between calls the
//! migration is a paused future, polled once per call on the JS thread — no thread, no waker.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use libsql::Value;

use crate::error::{DbError, DbResult, ErrorCode};
use crate::sql::text::split_statements;

use super::{apply, Migration, MigrationReport, MigrationTarget};

/// What the migration needs next.
pub enum Step {
    /// Run this statement and call `next` with its rows.
    Statement { sql: String, params: Vec<Value> },
    Done,
}

pub struct ForeignMigration {
    exchange: Rc<RefCell<Exchange>>,
    migration: Pin<Box<dyn Future<Output = DbResult<MigrationReport>>>>,
}

/// The statement the paused migration asked for, and the rows that answer it.
#[derive(Default)]
struct Exchange {
    request: Option<(String, Vec<Value>)>,
    answer: Option<Vec<Vec<Value>>>,
}

impl ForeignMigration {
    pub fn new(set: String, migrations: Vec<Migration>, flue_format: bool) -> ForeignMigration {
        let exchange = Rc::new(RefCell::new(Exchange::default()));
        let mut target = ForeignTarget { exchange: Rc::clone(&exchange) };
        let migration = Box::pin(async move { apply(&mut target, &set, &migrations, flue_format).await });
        ForeignMigration { exchange, migration }
    }

    /// The next statement, given the rows of the previous one (`None` at the start).
    pub fn next(&mut self, rows: Option<Vec<Vec<Value>>>) -> DbResult<Step> {
        self.exchange.borrow_mut().answer = rows;
        match self.migration.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(outcome) => outcome.map(|_| Step::Done),
            Poll::Pending => match self.exchange.borrow_mut().request.take() {
                Some((sql, params)) => Ok(Step::Statement { sql, params }),
                None => Err(DbError::libsql(ErrorCode::TransactionState, "the migration is waiting for the rows of its last statement")),
            },
        }
    }
}

struct ForeignTarget {
    exchange: Rc<RefCell<Exchange>>,
}

impl MigrationTarget for ForeignTarget {
    async fn query(&mut self, sql: &str, params: Vec<Value>) -> DbResult<Vec<Vec<Value>>> {
        Ok(Ask { exchange: Rc::clone(&self.exchange), request: Some((sql.to_owned(), params)) }.await)
    }

    /// The runner takes one statement per call.
    async fn exec(&mut self, script: &str) -> DbResult<()> {
        for statement in split_statements(script)? {
            self.query(statement, Vec::new()).await?;
        }
        Ok(())
    }
}

/// Hands its statement out on the first poll, then waits for the rows.
struct Ask {
    exchange: Rc<RefCell<Exchange>>,
    request: Option<(String, Vec<Value>)>,
}

impl Future for Ask {
    type Output = Vec<Vec<Value>>;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(request) = self.request.take() {
            self.exchange.borrow_mut().request = Some(request);
            return Poll::Pending;
        }
        match self.exchange.borrow_mut().answer.take() {
            Some(rows) => Poll::Ready(rows),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a Flue migration over canned answers: a new store asks for the probes, the
    /// bookkeeping table, the schema statement by statement, the record and the stamp.
    #[test]
    fn a_new_store_is_created_statement_by_statement_and_stamped() {
        let mut migration = ForeignMigration::new("flue".into(), super::super::flue_migrations(), true);
        let mut asked = Vec::new();
        let mut rows = None;
        loop {
            match migration.next(rows.take()).unwrap() {
                Step::Statement { sql, .. } => {
                    asked.push(sql);
                    rows = Some(Vec::new());
                }
                Step::Done => break,
            }
        }
        assert!(asked[0].contains("flue_meta"), "{asked:?}");
        assert!(asked.iter().any(|sql| sql.contains("INSERT INTO _flue_libsql_migrations")));
        assert!(asked.last().unwrap().contains("format_version"));
        assert!(asked.iter().all(|sql| split_statements(sql).unwrap().len() == 1), "one statement per request");
    }

    #[test]
    fn a_newer_stamp_is_refused_before_anything_is_written() {
        let mut migration = ForeignMigration::new("flue".into(), super::super::flue_migrations(), true);
        assert!(matches!(migration.next(None).unwrap(), Step::Statement { .. }));
        assert!(matches!(migration.next(Some(vec![vec![Value::Integer(1)]])).unwrap(), Step::Statement { .. }));
        let err = migration.next(Some(vec![vec![Value::Text("2".into())]])).err().unwrap();
        assert_eq!(err.code, ErrorCode::FlueFormatVersion);
    }
}

//! Group commit on a server: calls made together outside a transaction — statements and
//! batches of independent callers — share one transaction and one COMMIT, in one request.
//!
//! sqld commits each autocommit statement on its own: measured here, 50 INSERTs in one request
//! took ~30 ms as 50 commits and ~1.7 ms inside one transaction. The writer lane
//! (`executor/pool.rs`) sends what many conversations wrote meanwhile together, so their
//! commits are where a server's time goes.
//!
//! Each call still ends as it would alone: a statement that fails is rolled back alone by
//! SQLite and fails alone; a batch runs inside a savepoint, released when all its statements
//! ran, rolled back to when one failed, so it stays all-or-nothing. Results are given only once
//! the COMMIT succeeded. If the group's transaction is lost — BEGIN refused, a statement whose
//! error rolls back the whole transaction (`ON CONFLICT ROLLBACK`, a full disk), a failed
//! COMMIT — nothing of it was committed, and every call runs again on its own (`calls`), as the
//! local group commit does (lib/database/group-commit.ts).

use libsql_hrana::proto::{
    Batch, BatchCond, BatchCondList, BatchResult, BatchStep, BatchStreamReq, ExecuteStreamResp, Stmt, StmtResult, StreamRequest,
    StreamResponse,
};

use std::time::{Duration, Instant};

use crate::error::DbResult;
use crate::sql::text::leading_keyword_is;

use super::errors::statement_error;
use super::hrana::{response, unexpected};
use super::{CallResult, RemoteConnection};

const SAVEPOINT: &str = "flue_libsql_group";

/// Statements SQLite refuses or ignores inside a transaction, and savepoints of the caller's own.
const RUN_ALONE: &[&str] = &["PRAGMA", "VACUUM", "ATTACH", "DETACH", "SAVEPOINT", "RELEASE", "ROLLBACK"];

/// The statements of a prepared call: an execute request's one, or a batch request's (between
/// its BEGIN and its COMMIT and ROLLBACK, `batch::batch_request`).
fn statements_of(request: &StreamRequest) -> &[BatchStep] {
    match request {
        StreamRequest::Batch(batch) => &batch.batch.steps[1..batch.batch.steps.len() - 2],
        _ => &[],
    }
}

/// Whether `requests` (execute and batch requests) may share one transaction: more than one,
/// none holding a statement that must run alone.
pub(super) fn may_group(requests: &[&StreamRequest]) -> bool {
    let runs_alone = |stmt: &Stmt| stmt.sql.as_deref().is_some_and(|sql| RUN_ALONE.iter().any(|keyword| leading_keyword_is(sql, keyword)));
    requests.len() > 1
        && requests.iter().all(|request| match request {
            StreamRequest::Execute(execute) => !runs_alone(&execute.stmt),
            StreamRequest::Batch(_) => statements_of(request).iter().all(|step| !runs_alone(&step.stmt)),
            _ => false,
        })
}

impl RemoteConnection {
    /// `requests` (execute and batch requests, `may_group`) in one transaction and one request,
    /// each call's outcome in order. `None` when the group's transaction was lost before
    /// anything of it was committed: the caller sends the requests again, each on its own.
    pub(super) async fn grouped(&mut self, requests: &[&StreamRequest]) -> DbResult<Option<Vec<DbResult<CallResult>>>> {
        let open = || BatchCond::Not { cond: Box::new(BatchCond::IsAutocommit {}) };
        let mut steps = vec![BatchStep { condition: None, stmt: Stmt::new("BEGIN IMMEDIATE", false) }];
        // Per request, where its steps start.
        let mut starts = Vec::with_capacity(requests.len());
        for request in requests {
            match request {
                StreamRequest::Execute(execute) => {
                    starts.push(steps.len());
                    steps.push(BatchStep { condition: Some(open()), stmt: execute.stmt.clone() });
                }
                _ => {
                    let savepoint = steps.len();
                    starts.push(savepoint);
                    steps.push(BatchStep { condition: Some(open()), stmt: Stmt::new(format!("SAVEPOINT {SAVEPOINT}"), false) });
                    for step in statements_of(request) {
                        steps.push(BatchStep { condition: Some(BatchCond::Ok { step: (steps.len() - 1) as u32 }), stmt: step.stmt.clone() });
                    }
                    let last = (steps.len() - 1) as u32;
                    steps.push(BatchStep { condition: Some(BatchCond::Ok { step: last }), stmt: Stmt::new(format!("RELEASE {SAVEPOINT}"), false) });
                    // One of its statements failed: undo what the others did, and end the savepoint.
                    let failed = BatchCond::And(BatchCondList {
                        conds: vec![BatchCond::Ok { step: savepoint as u32 }, BatchCond::Not { cond: Box::new(BatchCond::Ok { step: last }) }, open()],
                    });
                    steps.push(BatchStep { condition: Some(failed), stmt: Stmt::new(format!("ROLLBACK TO {SAVEPOINT}"), false) });
                    let undone = (steps.len() - 1) as u32;
                    steps.push(BatchStep { condition: Some(BatchCond::Ok { step: undone }), stmt: Stmt::new(format!("RELEASE {SAVEPOINT}"), false) });
                }
            }
        }
        let commit = steps.len();
        steps.push(BatchStep { condition: Some(open()), stmt: Stmt::new("COMMIT", false) });
        // A COMMIT that failed may leave the transaction open on the stream.
        let rollback =
            BatchCond::And(BatchCondList { conds: vec![BatchCond::Not { cond: Box::new(BatchCond::Ok { step: commit as u32 }) }, open()] });
        steps.push(BatchStep { condition: Some(rollback), stmt: Stmt::new("ROLLBACK", false) });

        let group = StreamRequest::Batch(BatchStreamReq { batch: Batch { steps, replication_index: None } });
        let waiting_since = Instant::now();
        let mut pause = Duration::from_millis(5);
        let BatchResult { step_results: mut results, step_errors: mut errors, .. } = loop {
            let answer = response(self.outside_transaction(&[&group]).await?.into_iter().next())?;
            let StreamResponse::Batch(answer) = answer else { return Err(unexpected("batch")) };
            // Another connection holds the server's write lock past the server's own wait (a
            // transaction, another process, another of our writer lanes): nothing of the group
            // ran, so it waits and tries again, up to `busyTimeout`, as a local file's calls do.
            let begin_busy = answer.result.step_errors.first().and_then(Option::as_ref).is_some_and(|error| error.code == "SQLITE_BUSY");
            if !begin_busy || waiting_since.elapsed() + pause > self.busy_timeout {
                break answer.result;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        };
        if results.len() != errors.len() || results.get(commit).is_none_or(Option::is_none) {
            return Ok(None);
        }
        let mut take = |step: usize| (results.get_mut(step).and_then(Option::take), errors.get_mut(step).and_then(Option::take));
        let mut outcomes = Vec::with_capacity(requests.len());
        for (request, start) in requests.iter().zip(starts) {
            let outcome = match request {
                StreamRequest::Execute(_) => {
                    let answer = match take(start) {
                        (Some(result), _) => Ok(StreamResponse::Execute(ExecuteStreamResp { result })),
                        (None, Some(error)) => Err(statement_error(error)),
                        (None, None) => Err(unexpected("statement")),
                    };
                    self.executed(answer, request).await.map(CallResult::Statement)
                }
                _ => {
                    let statements = statements_of(request);
                    let count = statements.len();
                    let mut done: Vec<StmtResult> = Vec::with_capacity(count);
                    let mut failure = None;
                    for (index, step) in statements.iter().enumerate() {
                        match take(start + 1 + index) {
                            (Some(result), _) => done.push(result),
                            (None, error) => {
                                let err = match error {
                                    Some(error) => self.explain_refusal(statement_error(error), &step.stmt).await,
                                    None => unexpected("batch step"),
                                };
                                failure = Some(err.context(&format!("batch statement {} of {count} failed, nothing was applied", index + 1)));
                                break;
                            }
                        }
                    }
                    match failure {
                        Some(err) => Err(err),
                        None => Ok(CallResult::Batch(done.into_iter().map(|result| self.statement_result(result)).collect())),
                    }
                }
            };
            outcomes.push(outcome);
        }
        Ok(Some(outcomes))
    }
}

//! `batch()` in one request: a Hrana batch whose steps run only while the previous one
//! succeeded, ending in COMMIT, or in ROLLBACK when anything failed.

use libsql_hrana::proto::{Batch, BatchCond, BatchStep, BatchStreamReq, Stmt, StreamRequest, StreamResponse};

use crate::error::{DbError, DbResult, ErrorCode};
use crate::sql::text::ensure_single_statement;
use crate::values::Params;

use super::errors::statement_error;
use super::hrana::{response, new_stmt, unexpected};
use super::{RemoteConnection, StatementResult};

impl RemoteConnection {
    /// All statements in one transaction, in one request.
    pub async fn batch(&mut self, statements: Vec<(String, Params)>) -> DbResult<Vec<StatementResult>> {
        let request = batch_request(statements)?;
        let answer = match self.in_transaction() {
            true => Err(batch_in_transaction()),
            false => response(self.outside_transaction(&[&request]).await?.into_iter().next()),
        };
        self.batch_answer(answer, &request).await
    }

    /// The outcome of a batch request: every statement's result, or why nothing was applied.
    pub(super) async fn batch_answer(&mut self, answer: DbResult<StreamResponse>, request: &StreamRequest) -> DbResult<Vec<StatementResult>> {
        let StreamRequest::Batch(batch) = request else { unreachable!("a batch request") };
        // BEGIN, the statements, COMMIT, ROLLBACK.
        let count = batch.batch.steps.len() - 3;
        let outcome = match answer? {
            StreamResponse::Batch(batch) => batch.result,
            _ => return Err(unexpected("batch")),
        };
        let mut step_results = outcome.step_results.into_iter();
        let mut step_errors = outcome.step_errors.into_iter();
        if let Some(Some(error)) = step_errors.next() {
            return Err(statement_error(error).context("batch() could not begin its transaction"));
        }
        step_results.next();
        let mut results = Vec::with_capacity(count);
        for index in 0..count {
            if let Some(Some(error)) = step_errors.next() {
                let err = self.explain_refusal(statement_error(error), &batch.batch.steps[index + 1].stmt).await;
                return Err(err.context(&format!("batch statement {} of {count} failed, nothing was applied", index + 1)));
            }
            match step_results.next().flatten() {
                Some(result) => results.push(result),
                None => return Err(unexpected("batch step")),
            }
        }
        if let Some(Some(error)) = step_errors.next() {
            return Err(statement_error(error).context("batch() could not commit, nothing was applied"));
        }
        Ok(results.into_iter().map(|result| self.statement_result(result)).collect())
    }
}

/// `statements` as one Hrana batch: BEGIN IMMEDIATE, each statement while the previous step
/// succeeded, COMMIT, and ROLLBACK unless the COMMIT succeeded.
pub(super) fn batch_request(statements: Vec<(String, Params)>) -> DbResult<StreamRequest> {
    let count = statements.len();
    let mut steps = vec![BatchStep { condition: None, stmt: Stmt::new("BEGIN IMMEDIATE", false) }];
    for (index, (sql, params)) in statements.into_iter().enumerate() {
        ensure_single_statement(&sql).map_err(|err| err.context(&format!("batch statement {}", index + 1)))?;
        steps.push(BatchStep { condition: Some(BatchCond::Ok { step: index as u32 }), stmt: new_stmt(&sql, params, true) });
    }
    let commit = count as u32 + 1;
    steps.push(BatchStep { condition: Some(BatchCond::Ok { step: count as u32 }), stmt: Stmt::new("COMMIT", false) });
    steps.push(BatchStep {
        condition: Some(BatchCond::Not { cond: Box::new(BatchCond::Ok { step: commit }) }),
        stmt: Stmt::new("ROLLBACK", false),
    });
    Ok(StreamRequest::Batch(BatchStreamReq { batch: Batch { steps, replication_index: None } }))
}

pub(super) fn batch_in_transaction() -> DbError {
    DbError::libsql(ErrorCode::TransactionState, "batch() cannot run inside an open transaction")
}

//! A connection to a libSQL server (sqld, Turso) over Hrana 3 on HTTP.
//!
//! Outside a transaction every call is one request on a new stream that the same request
//! closes: nothing is held between calls, so nothing can go stale — an idle connection, a
//! server restart or a failover costs no call of ours an error. A transaction is one stream,
//! held by its baton from the first statement to COMMIT or ROLLBACK; its `BEGIN IMMEDIATE`
//! travels with its first statement and its COMMIT closes the stream, so a transaction of
//! n statements takes n + 1 requests. `batch()` is one request: a Hrana batch whose steps run
//! only if the previous one succeeded, ending in COMMIT, or ROLLBACK when anything failed.
//!
//! A stream the server lost (restart, idle past its stream timeout) takes its transaction
//! with it: the server rolls it back. The connection then refuses the transaction's further
//! statements until it is rolled back, so no statement meant for it runs outside it.

mod errors;
mod http;

use std::time::Duration;

use libsql::Value;
use libsql_hrana::proto::{
    self, Batch, BatchCond, BatchStep, BatchStreamReq, CloseStreamReq, ExecuteStreamReq, GetAutocommitStreamReq,
    PipelineRespBody, SequenceStreamReq, Stmt, StmtResult, StreamRequest, StreamResponse, StreamResult,
};

use crate::error::{DbError, DbResult, ErrorClass};
use crate::sql::params::{match_parameters, SqlPlaceholders};
use crate::sql::text::ensure_single_statement;
use crate::values::Params;

use super::{Rows, StatementResult};
use errors::statement_error;
use http::HranaHttp;

pub struct RemoteConnection {
    http: HranaHttp,
    transaction: Transaction,
    /// SQLite reports the last insert of the connection, also after statements that insert
    /// nothing; each request here has a stream of its own, so the value is kept here.
    last_insert_rowid: i64,
}

enum Transaction {
    None,
    /// `begin()` was called; BEGIN goes out with the first statement.
    Pending,
    Open { baton: String, stream_url: Option<String> },
    /// The server lost the stream (and rolled the transaction back): why, for every later call.
    Lost(DbError),
}

impl RemoteConnection {
    /// Opening sends nothing: the first call finds out whether the server is there.
    pub fn new(url: &str, token: Option<&str>, request_timeout: Duration) -> DbResult<RemoteConnection> {
        Ok(RemoteConnection { http: HranaHttp::new(url, token, request_timeout)?, transaction: Transaction::None, last_insert_rowid: 0 })
    }

    pub fn in_transaction(&self) -> bool {
        !matches!(self.transaction, Transaction::None)
    }

    pub fn begin(&mut self) -> DbResult<()> {
        if self.in_transaction() {
            return Err(DbError::libsql("TRANSACTION_STATE", "a transaction is already open on this connection"));
        }
        self.transaction = Transaction::Pending;
        Ok(())
    }

    /// Runs one statement; rows are sent back only when `want_rows`.
    pub async fn statement(&mut self, sql: &str, params: Params, want_rows: bool) -> DbResult<StatementResult> {
        ensure_single_statement(sql)?;
        let request = StreamRequest::Execute(ExecuteStreamReq { stmt: statement_of(sql, params, want_rows) });
        match self.on_stream(&request).await {
            Ok(StreamResponse::Execute(execute)) => Ok(self.statement_result(execute.result)),
            Ok(_) => Err(unexpected("execute")),
            Err(err) => Err(self.explain_refusal(err, stmt_of(&request)).await),
        }
    }

    /// Runs a script of statements without parameters.
    pub async fn exec(&mut self, script: &str) -> DbResult<()> {
        let sequence = StreamRequest::Sequence(SequenceStreamReq { sql: Some(script.to_owned()), sql_id: None, replication_index: None });
        if self.in_transaction() {
            return self.on_stream(&sequence).await.map(|_| ());
        }
        let state = StreamRequest::GetAutocommit(GetAutocommitStreamReq {});
        let mut results = self.autocommit(&[&sequence, &state]).await?.into_iter();
        response(results.next())?;
        match response(results.next())? {
            // Closing the stream rolled it back; every later transaction would fail otherwise.
            StreamResponse::GetAutocommit(state) if !state.is_autocommit => Err(DbError::libsql(
                "TRANSACTION_STATE",
                "the script left a transaction open; it was rolled back (end it in the script, or use transaction())",
            )),
            _ => Ok(()),
        }
    }

    /// All statements in one transaction, in one request.
    pub async fn batch(&mut self, statements: Vec<(String, Params)>) -> DbResult<Vec<StatementResult>> {
        if self.in_transaction() {
            return Err(DbError::libsql("TRANSACTION_STATE", "batch() cannot run inside an open transaction"));
        }
        let count = statements.len();
        let mut steps = vec![BatchStep { condition: None, stmt: Stmt::new("BEGIN IMMEDIATE", false) }];
        for (index, (sql, params)) in statements.into_iter().enumerate() {
            ensure_single_statement(&sql).map_err(|err| err.context(&format!("batch statement {}", index + 1)))?;
            steps.push(BatchStep { condition: Some(BatchCond::Ok { step: index as u32 }), stmt: statement_of(&sql, params, true) });
        }
        let commit = count as u32 + 1;
        steps.push(BatchStep { condition: Some(BatchCond::Ok { step: count as u32 }), stmt: Stmt::new("COMMIT", false) });
        steps.push(BatchStep {
            condition: Some(BatchCond::Not { cond: Box::new(BatchCond::Ok { step: commit }) }),
            stmt: Stmt::new("ROLLBACK", false),
        });
        let request = StreamRequest::Batch(BatchStreamReq { batch: Batch { steps, replication_index: None } });
        let mut results = self.autocommit(&[&request]).await?.into_iter();
        let outcome = match response(results.next())? {
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
                let StreamRequest::Batch(batch) = &request else { unreachable!("built above") };
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

    pub async fn commit(&mut self) -> DbResult<()> {
        match std::mem::replace(&mut self.transaction, Transaction::None) {
            Transaction::None => Err(DbError::libsql("TRANSACTION_STATE", "no transaction is open to commit")),
            Transaction::Pending => Ok(()),
            Transaction::Lost(err) => Err(err),
            Transaction::Open { baton, stream_url } => {
                let requests = [&execute_plain("COMMIT"), &StreamRequest::Close(CloseStreamReq {})];
                let answer = self.http.pipeline(stream_url.as_deref(), Some(&baton), &requests).await.map_err(|err| match err.code.as_str() {
                    "SERVER_UNREACHABLE" | "REQUEST_TIMEOUT" => {
                        err.context("the COMMIT was sent but its outcome is unknown (check before retrying)")
                    }
                    _ => lost_stream(err),
                })?;
                response(answer.results.into_iter().next()).map(|_| ())
            }
        }
    }

    /// Ends the transaction, if any, without committing. A failure is not reported: the server
    /// rolls back a stream that is closed or that it lost.
    pub async fn rollback(&mut self) {
        if let Transaction::Open { baton, stream_url } = std::mem::replace(&mut self.transaction, Transaction::None) {
            let requests = [&execute_plain("ROLLBACK"), &StreamRequest::Close(CloseStreamReq {})];
            let _ = self.http.pipeline(stream_url.as_deref(), Some(&baton), &requests).await;
        }
    }

    /// Sends `request` on the open transaction's stream (beginning it first if needed), or
    /// on a stream of its own outside a transaction.
    async fn on_stream(&mut self, request: &StreamRequest) -> DbResult<StreamResponse> {
        match std::mem::replace(&mut self.transaction, Transaction::None) {
            Transaction::None => response(self.autocommit(&[request]).await?.into_iter().next()),
            Transaction::Lost(err) => {
                let again = err.clone();
                self.transaction = Transaction::Lost(err);
                Err(again)
            }
            Transaction::Pending => {
                let answer = self.http.pipeline(None, None, &[&execute_plain("BEGIN IMMEDIATE"), request]).await?;
                let mut results = answer.results.into_iter();
                response(results.next()).map_err(|err| err.context("could not begin the transaction"))?;
                self.keep_stream(answer.baton, answer.base_url)?;
                response(results.next())
            }
            Transaction::Open { baton, stream_url } => {
                let answer = match self.http.pipeline(stream_url.as_deref(), Some(&baton), &[request]).await {
                    Ok(answer) => answer,
                    Err(err) => {
                        let err = lost_stream(err);
                        self.transaction = Transaction::Lost(err.clone());
                        return Err(err);
                    }
                };
                let PipelineRespBody { baton, base_url, results } = answer;
                self.keep_stream(baton, base_url)?;
                response(results.into_iter().next())
            }
        }
    }

    /// Requests on a new stream, closed by the same request.
    async fn autocommit(&self, requests: &[&StreamRequest]) -> DbResult<Vec<StreamResult>> {
        let close = StreamRequest::Close(CloseStreamReq {});
        let mut all = Vec::with_capacity(requests.len() + 1);
        all.extend_from_slice(requests);
        all.push(&close);
        Ok(self.http.pipeline(None, None, &all).await?.results)
    }

    /// The error a local file gives for what the server refused in its own words: the
    /// placeholders that do not match, and a unique constraint that is the primary key.
    /// Costs nothing unless a statement failed.
    async fn explain_refusal(&mut self, err: DbError, stmt: &Stmt) -> DbError {
        let sql = stmt.sql.as_deref().unwrap_or_default();
        if err.class == ErrorClass::Range {
            let shape = if stmt.named_args.is_empty() {
                Params::Positional(vec![Value::Null; stmt.args.len()])
            } else {
                let bare = |name: &str| name.trim_start_matches([':', '@', '$']).to_owned();
                Params::Named(stmt.named_args.iter().map(|arg| (bare(&arg.name), Value::Null)).collect())
            };
            let shape = if stmt.args.is_empty() && stmt.named_args.is_empty() { Params::None } else { shape };
            return match_parameters(&SqlPlaceholders::scan(sql), shape).err().unwrap_or(err);
        }
        if err.code == "SQLITE_CONSTRAINT_UNIQUE" {
            if let Some(refined) = self.primary_key_violation(&err).await {
                return refined;
            }
        }
        err
    }

    /// SQLite names a primary key violation `UNIQUE constraint failed: t.id` too, with
    /// its own extended code; the server sends only the message. Asks which columns are `t`'s
    /// primary key.
    async fn primary_key_violation(&mut self, err: &DbError) -> Option<DbError> {
        let columns = err.message.strip_prefix("UNIQUE constraint failed: ")?;
        let columns: Vec<(&str, &str)> = columns.split(", ").map(|column| column.split_once('.')).collect::<Option<_>>()?;
        let table = columns.first()?.0;
        let mut stmt = Stmt::new("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", true);
        stmt.bind(proto::Value::Text { value: table.into() });
        let answer = self.on_stream(&StreamRequest::Execute(ExecuteStreamReq { stmt })).await.ok()?;
        let StreamResponse::Execute(execute) = answer else { return None };
        let key: Vec<String> = execute.result.rows.into_iter().filter_map(|row| match row.values.into_iter().next() {
            Some(proto::Value::Text { value }) => Some(value.to_string()),
            _ => None,
        }).collect();
        let violated: Vec<&str> = columns.iter().map(|(_, column)| *column).collect();
        (!key.is_empty() && key == violated).then(|| DbError::sqlite(1555, err.message.clone()))
    }

    fn keep_stream(&mut self, baton: Option<String>, stream_url: Option<String>) -> DbResult<()> {
        match baton {
            Some(baton) => {
                self.transaction = Transaction::Open { baton, stream_url };
                Ok(())
            }
            None => {
                let err = lost_stream(DbError::libsql("STREAM_EXPIRED", "the server closed the transaction's stream"));
                self.transaction = Transaction::Lost(err.clone());
                Err(err)
            }
        }
    }

    fn statement_result(&mut self, result: StmtResult) -> StatementResult {
        if let Some(rowid) = result.last_insert_rowid {
            self.last_insert_rowid = rowid;
        }
        let columns = result.cols.into_iter().map(|col| col.name.unwrap_or_default()).collect();
        let values = result.rows.into_iter().flat_map(|row| row.values).map(value_from_server).collect();
        StatementResult { rows: Rows { columns, values }, rows_affected: result.affected_row_count, last_insert_rowid: self.last_insert_rowid }
    }
}

/// The transaction cannot go on: its stream is gone (the server rolled back what it held), or
/// the request on it failed. A stream the server lost becomes `TRANSACTION_EXPIRED`; any other
/// failure keeps its own code and words.
fn lost_stream(err: DbError) -> DbError {
    if err.code != "STREAM_EXPIRED" {
        return err.context("the transaction cannot go on and was not committed");
    }
    DbError { code: "TRANSACTION_EXPIRED".to_owned(), ..err }.context(
        "the transaction was lost and rolled back by the server (its stream expired after idling past the server's \
         stream timeout, or the server restarted); nothing of it was committed",
    )
}

fn response(result: Option<StreamResult>) -> DbResult<StreamResponse> {
    match result {
        Some(StreamResult::Ok { response }) => Ok(response),
        Some(StreamResult::Error { error }) => Err(statement_error(error)),
        Some(StreamResult::None) | None => Err(unexpected("request")),
    }
}

fn unexpected(what: &str) -> DbError {
    DbError::libsql("SERVER_ERROR", format!("the server's answer to a {what} is missing or of the wrong kind"))
}

fn stmt_of(request: &StreamRequest) -> &Stmt {
    match request {
        StreamRequest::Execute(execute) => &execute.stmt,
        _ => unreachable!("only execute requests carry one statement"),
    }
}

fn execute_plain(sql: &str) -> StreamRequest {
    StreamRequest::Execute(ExecuteStreamReq { stmt: Stmt::new(sql, false) })
}

fn statement_of(sql: &str, params: Params, want_rows: bool) -> Stmt {
    let mut stmt = Stmt::new(sql, want_rows);
    match params {
        Params::None => {}
        Params::Positional(values) => stmt.args = values.into_iter().map(value_to_server).collect(),
        // The server looks a placeholder's name up with and without its prefix, so a bare key
        // serves `:name`, `@name` and `$name`, as it does locally.
        Params::Named(pairs) => {
            stmt.named_args = pairs.into_iter().map(|(name, value)| proto::NamedArg { name, value: value_to_server(value) }).collect()
        }
    }
    stmt
}

fn value_to_server(value: Value) -> proto::Value {
    match value {
        Value::Null => proto::Value::Null,
        Value::Integer(value) => proto::Value::Integer { value },
        Value::Real(value) => proto::Value::Float { value },
        Value::Text(value) => proto::Value::Text { value: value.into() },
        Value::Blob(value) => proto::Value::Blob { value: value.into() },
    }
}

fn value_from_server(value: proto::Value) -> Value {
    match value {
        proto::Value::None | proto::Value::Null => Value::Null,
        proto::Value::Integer { value } => Value::Integer(value),
        proto::Value::Float { value } => Value::Real(value),
        proto::Value::Text { value } => Value::Text(value.to_string()),
        proto::Value::Blob { value } => Value::Blob(value.to_vec()),
    }
}

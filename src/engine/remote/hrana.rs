//! Hrana's shapes: statements and values to the server, results and values from it.

use libsql::Value;
use libsql_hrana::proto::{self, ExecuteStreamReq, Stmt, StreamRequest, StreamResponse, StreamResult};

use crate::error::{DbError, DbResult, ErrorCode};
use crate::sql::text::ensure_single_statement;
use crate::values::Params;

use super::errors::statement_error;

pub fn response(result: Option<StreamResult>) -> DbResult<StreamResponse> {
    match result {
        Some(StreamResult::Ok { response }) => Ok(response),
        Some(StreamResult::Error { error }) => Err(statement_error(error)),
        Some(StreamResult::None) | None => Err(unexpected("request")),
    }
}

pub fn unexpected(what: &str) -> DbError {
    DbError::libsql(ErrorCode::ServerError, format!("the server's answer to a {what} is missing or of the wrong kind"))
}

/// The statement an execute request runs.
pub fn executed_stmt(request: &StreamRequest) -> &Stmt {
    match request {
        StreamRequest::Execute(execute) => &execute.stmt,
        _ => unreachable!("only execute requests carry one statement"),
    }
}

pub fn execute_plain(sql: &str) -> StreamRequest {
    StreamRequest::Execute(ExecuteStreamReq { stmt: Stmt::new(sql, false) })
}

/// A Hrana statement: `sql` with its parameters as the server takes them.
pub fn new_stmt(sql: &str, params: Params, want_rows: bool) -> Stmt {
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

pub fn value_from_server(value: proto::Value) -> Value {
    match value {
        proto::Value::None | proto::Value::Null => Value::Null,
        proto::Value::Integer { value } => Value::Integer(value),
        proto::Value::Float { value } => Value::Real(value),
        proto::Value::Text { value } => Value::Text(value.to_string()),
        proto::Value::Blob { value } => Value::Blob(value.to_vec()),
    }
}

/// Each result of a request as an answer of its own.
pub(super) fn answers(results: Vec<StreamResult>) -> Vec<DbResult<StreamResponse>> {
    results.into_iter().map(|result| response(Some(result))).collect()
}

/// One statement as an execute request, refused before sending when the text holds none or several.
pub(super) fn execute_request(sql: &str, params: Params, want_rows: bool) -> DbResult<StreamRequest> {
    ensure_single_statement(sql)?;
    Ok(StreamRequest::Execute(ExecuteStreamReq { stmt: new_stmt(sql, params, want_rows) }))
}

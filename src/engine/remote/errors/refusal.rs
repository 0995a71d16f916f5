//! What the server refused, said as a local file says it: placeholders that do not match the
//! statement, and a unique constraint that is the primary key. Costs nothing unless a statement
//! failed.

use libsql::{ffi, Value};
use libsql_hrana::proto::{self, ExecuteStreamReq, Stmt, StreamRequest, StreamResponse};

use crate::error::{DbError, ErrorClass};
use crate::sql::params::{match_parameters, SqlPlaceholders};
use crate::values::Params;

use super::super::RemoteConnection;

impl RemoteConnection {
    /// The error a local file gives for what the server refused in its own words.
    pub(in crate::engine::remote) async fn explain_refusal(&mut self, err: DbError, stmt: &Stmt) -> DbError {
        if err.class == ErrorClass::Range {
            // What the user passed (its shape is all the matching needs), against the SQL's placeholders.
            let shape = match (stmt.args.len(), stmt.named_args.is_empty()) {
                (0, true) => Params::None,
                (count, true) => Params::Positional(vec![Value::Null; count]),
                (_, false) => Params::Named(
                    stmt.named_args.iter().map(|arg| (arg.name.trim_start_matches([':', '@', '$']).to_owned(), Value::Null)).collect(),
                ),
            };
            let sql = stmt.sql.as_deref().unwrap_or_default();
            return match_parameters(&SqlPlaceholders::scan(sql), shape).err().unwrap_or(err);
        }
        if err.raw_code == Some(ffi::SQLITE_CONSTRAINT_UNIQUE) {
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
        (!key.is_empty() && key == violated).then(|| DbError::sqlite(ffi::SQLITE_CONSTRAINT_PRIMARYKEY, err.message.clone()))
    }
}

//! What a libSQL server's refusal of a statement means, as the same error a local file gives.
//!
//! sqld reports a statement's failure with SQLite's primary code name (`SQLITE_CONSTRAINT`)
//! and SQLite's message, or with a code of its own (`SQL_PARSE_ERROR`: it parses statements
//! before SQLite sees them). The extended code a local connection reports is recovered from
//! SQLite's message, which names the kind of constraint.

use libsql::ffi;
use libsql_hrana::proto;

use crate::error::{redact, sqlite_code_of, DbError, ErrorCode};

pub fn statement_error(error: proto::Error) -> DbError {
    let message = error.message.strip_prefix("SQLite error: ").unwrap_or(&error.message);
    let message = redact(message);
    let code = error.code.as_str();
    if is_auth_refusal(code, &message) {
        return DbError::libsql(ErrorCode::AuthFailed, format!("the server refused the credentials: {message}"));
    }
    match code {
        "SQLITE_CONSTRAINT" => DbError::sqlite(constraint_code(&message), message),
        // The server's own parser refused the text: SQLite calls that SQLITE_ERROR.
        "SQL_PARSE_ERROR" | "SQL_INPUT_ERROR" => DbError::sqlite(ffi::SQLITE_ERROR, message),
        "SQL_NO_STATEMENT" | "SQL_MANY_STATEMENTS" => DbError::sqlite(ffi::SQLITE_MISUSE, message),
        // The server names SQLite's generic error as its Rust binding does.
        "SQLITE_UNKNOWN" => DbError::sqlite(ffi::SQLITE_ERROR, message),
        "ARGS_INVALID" | "ARGS_NOT_FOUND" => DbError::range_error(message),
        code if code.starts_with("SQLITE_") => match sqlite_code_of(code) {
            Some(raw) => DbError::sqlite(raw, message),
            None => DbError::libsql(ErrorCode::ServerError, format!("{message} ({code})")),
        },
        code if code.starts_with("STREAM_") => DbError::libsql(ErrorCode::StreamExpired, format!("{message} ({code})")),
        "" => DbError::libsql(ErrorCode::ServerError, message),
        code => DbError::libsql(ErrorCode::ServerError, format!("{message} ({code})")),
    }
}

/// sqld refuses a write made with a read-only token inside the answer, not with an HTTP status.
fn is_auth_refusal(code: &str, message: &str) -> bool {
    code.starts_with("AUTH_")
        || message.starts_with("Authorization forbidden")
        || message.starts_with("Unauthorized")
        || message.contains("does not have Write permission")
        || message.contains("doesn't not have Write permission")
}

/// SQLite's extended constraint code from its message (`UNIQUE constraint failed: t.v`).
fn constraint_code(message: &str) -> i32 {
    const BY_MESSAGE: &[(&str, i32)] = &[
        ("UNIQUE constraint failed", ffi::SQLITE_CONSTRAINT_UNIQUE),
        ("NOT NULL constraint failed", ffi::SQLITE_CONSTRAINT_NOTNULL),
        ("CHECK constraint failed", ffi::SQLITE_CONSTRAINT_CHECK),
        ("FOREIGN KEY constraint failed", ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
        ("cannot store", ffi::SQLITE_CONSTRAINT_DATATYPE),
    ];
    BY_MESSAGE.iter().find(|(prefix, _)| message.starts_with(prefix)).map_or(ffi::SQLITE_CONSTRAINT, |(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, message: &str) -> proto::Error {
        proto::Error { code: code.into(), message: message.into() }
    }

    #[test]
    fn constraint_errors_get_their_extended_code() {
        let err = statement_error(error("SQLITE_CONSTRAINT", "SQLite error: UNIQUE constraint failed: t.v"));
        assert_eq!((err.code.as_str(), err.raw_code), ("SQLITE_CONSTRAINT_UNIQUE", Some(2067)));
        assert_eq!(err.message, "UNIQUE constraint failed: t.v");
        let err = statement_error(error("SQLITE_CONSTRAINT", "NOT NULL constraint failed: t.v"));
        assert_eq!(err.code.as_str(), "SQLITE_CONSTRAINT_NOTNULL");
        let err = statement_error(error("SQLITE_CONSTRAINT", "something else"));
        assert_eq!(err.code.as_str(), "SQLITE_CONSTRAINT");
    }

    #[test]
    fn parse_errors_are_sqlite_error_and_auth_refusals_are_auth_failed() {
        let err = statement_error(error("SQL_PARSE_ERROR", "SQL string could not be parsed: near SELEC"));
        assert_eq!((err.code.as_str(), err.raw_code), ("SQLITE_ERROR", Some(1)));
        let err = statement_error(error(
            "",
            "Authorization forbidden: Current session doesn't not have Write permission to namespace default",
        ));
        assert_eq!(err.code, ErrorCode::AuthFailed);
        let err = statement_error(error("SQLITE_BUSY", "database is locked"));
        assert_eq!((err.code.as_str(), err.raw_code), ("SQLITE_BUSY", Some(5)));
    }
}

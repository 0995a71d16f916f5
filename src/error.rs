//! One error type for everything the core can refuse.
//!
//! Every failure leaves Rust as a `DbError`; only on the JS thread is it turned into a JS
//! exception (`js/error.rs`). Messages are built here, so this is also the one place that
//! makes sure no credential ever reaches a message.

use std::fmt;


/// Which JavaScript error class a `DbError` becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// `LibsqlError`: anything the database or the connection refused.
    Libsql,
    /// `TypeError`: a value or option of the wrong type.
    Type,
    /// `RangeError`: a value of the right type outside what SQLite can hold.
    Range,
}

/// A `DbError`'s code, what a JS error's `code` says: SQLite's name of the result code it came
/// with (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_BUSY`, …), or one of the runner's own. The runner's
/// list (`ErrorCode::RUNNER`) is checked against lib/errors.ts's `LibsqlErrorCode` and
/// docs/api.md's table of codes by __test__/repo/error-codes.test.ts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// SQLite's name of a (primary or extended) result code (`SQLITE_CODE_NAMES`).
    Sqlite(&'static str),
    ClientClosed,
    TransactionState,
    TransactionClosed,
    TransactionExpired,
    MigrationChanged,
    MigrationUnknown,
    MigrationState,
    FlueFormatVersion,
    ServerUnreachable,
    /// A TLS handshake failed (untrusted or mismatched certificate, a port without TLS).
    TlsFailed,
    RequestTimeout,
    AuthFailed,
    ServerError,
    /// The server no longer has a stream. Mostly handled before it reaches JS (a call outside a
    /// transaction runs on a new stream; inside one it becomes `TransactionExpired`).
    StreamExpired,
    SyncFailed,
    SyncNotSupported,
    ConnectionFailed,
    /// An error of the `libsql` crate's that none of the above describes.
    LibsqlError,
    Internal,
    /// `TypeError`s: a bad `open()` option, a value of the wrong type.
    InvalidOption,
    InvalidArgType,
    /// `RangeError`s: a value SQLite cannot hold, parameters that do not match the placeholders.
    OutOfRange,
}

impl ErrorCode {
    /// Every code of the runner's own, in the order docs/api.md lists them.
    pub const RUNNER: [ErrorCode; 22] = [
        ErrorCode::ClientClosed,
        ErrorCode::TransactionState,
        ErrorCode::TransactionClosed,
        ErrorCode::TransactionExpired,
        ErrorCode::MigrationChanged,
        ErrorCode::MigrationUnknown,
        ErrorCode::MigrationState,
        ErrorCode::FlueFormatVersion,
        ErrorCode::ServerUnreachable,
        ErrorCode::TlsFailed,
        ErrorCode::RequestTimeout,
        ErrorCode::AuthFailed,
        ErrorCode::ServerError,
        ErrorCode::StreamExpired,
        ErrorCode::SyncFailed,
        ErrorCode::SyncNotSupported,
        ErrorCode::ConnectionFailed,
        ErrorCode::LibsqlError,
        ErrorCode::Internal,
        ErrorCode::InvalidOption,
        ErrorCode::InvalidArgType,
        ErrorCode::OutOfRange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Sqlite(name) => name,
            ErrorCode::ClientClosed => "CLIENT_CLOSED",
            ErrorCode::TransactionState => "TRANSACTION_STATE",
            ErrorCode::TransactionClosed => "TRANSACTION_CLOSED",
            ErrorCode::TransactionExpired => "TRANSACTION_EXPIRED",
            ErrorCode::MigrationChanged => "MIGRATION_CHANGED",
            ErrorCode::MigrationUnknown => "MIGRATION_UNKNOWN",
            ErrorCode::MigrationState => "MIGRATION_STATE",
            ErrorCode::FlueFormatVersion => "FLUE_FORMAT_VERSION",
            ErrorCode::ServerUnreachable => "SERVER_UNREACHABLE",
            ErrorCode::TlsFailed => "TLS_FAILED",
            ErrorCode::RequestTimeout => "REQUEST_TIMEOUT",
            ErrorCode::AuthFailed => "AUTH_FAILED",
            ErrorCode::ServerError => "SERVER_ERROR",
            ErrorCode::StreamExpired => "STREAM_EXPIRED",
            ErrorCode::SyncFailed => "SYNC_FAILED",
            ErrorCode::SyncNotSupported => "SYNC_NOT_SUPPORTED",
            ErrorCode::ConnectionFailed => "CONNECTION_FAILED",
            ErrorCode::LibsqlError => "LIBSQL_ERROR",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::InvalidOption => "INVALID_OPTION",
            ErrorCode::InvalidArgType => "ERR_INVALID_ARG_TYPE",
            ErrorCode::OutOfRange => "ERR_OUT_OF_RANGE",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    pub class: ErrorClass,
    pub code: ErrorCode,
    /// The SQLite extended result code, when SQLite produced one.
    pub raw_code: Option<i32>,
    pub message: String,
    /// One extra property for the JS error object (e.g. `storedVersion` of a refused store).
    pub detail: Option<(&'static str, String)>,
}

pub type DbResult<T> = std::result::Result<T, DbError>;

impl DbError {
    pub fn libsql(code: ErrorCode, message: impl Into<String>) -> Self {
        DbError { class: ErrorClass::Libsql, code, raw_code: None, message: message.into(), detail: None }
    }

    /// An error of the runner's own named as SQLite names that kind of failure (no result code:
    /// SQLite did not produce it).
    pub fn sqlite_named(name: &'static str, message: impl Into<String>) -> Self {
        DbError::libsql(ErrorCode::Sqlite(name), message)
    }

    pub fn type_error(message: impl Into<String>) -> Self {
        DbError { class: ErrorClass::Type, code: ErrorCode::InvalidArgType, raw_code: None, message: message.into(), detail: None }
    }

    pub fn range_error(message: impl Into<String>) -> Self {
        DbError { class: ErrorClass::Range, code: ErrorCode::OutOfRange, raw_code: None, message: message.into(), detail: None }
    }

    pub fn invalid_option(message: impl Into<String>) -> Self {
        DbError { class: ErrorClass::Type, code: ErrorCode::InvalidOption, raw_code: None, message: message.into(), detail: None }
    }

    pub fn closed() -> Self {
        DbError::libsql(ErrorCode::ClientClosed, "the database is closed")
    }

    /// A failure reported by SQLite with its extended result code.
    pub fn sqlite(extended_code: i32, message: impl Into<String>) -> Self {
        DbError {
            class: ErrorClass::Libsql,
            code: ErrorCode::Sqlite(sqlite_code_name(extended_code)),
            raw_code: Some(extended_code),
            message: message.into(),
            detail: None,
        }
    }

    /// Prefixes the message with what was being done, keeping code and class.
    pub fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<libsql::Error> for DbError {
    fn from(err: libsql::Error) -> Self {
        match err {
            libsql::Error::SqliteFailure(code, message) => DbError::sqlite(code, message),
            libsql::Error::RemoteSqliteFailure(_, extended, message) => DbError::sqlite(extended, message),
            libsql::Error::Hrana(inner) => remote_error(&inner.to_string()),
            libsql::Error::WriteDelegation(inner) => remote_error(&inner.to_string()),
            libsql::Error::Replication(inner) => DbError::libsql(ErrorCode::SyncFailed, redact(&inner.to_string())),
            libsql::Error::Sync(inner) => DbError::libsql(ErrorCode::SyncFailed, redact(&inner.to_string())),
            libsql::Error::ConnectionFailed(message) => DbError::libsql(ErrorCode::ConnectionFailed, redact(&message)),
            libsql::Error::SyncNotSupported(mode) => {
                DbError::libsql(ErrorCode::SyncNotSupported, format!("sync() needs an embedded replica; this database is {mode}"))
            }
            other => DbError::libsql(ErrorCode::LibsqlError, redact(&other.to_string())),
        }
    }
}

/// Errors from the HTTP (Hrana) client: a refused statement keeps SQLite's code when the
/// server sent one; everything else is a transport failure.
fn remote_error(text: &str) -> DbError {
    let text = redact(text);
    let lower = text.to_ascii_lowercase();
    if lower.contains("401") || lower.contains("403") || lower.contains("unauthorized") || lower.contains("forbidden") {
        return DbError::libsql(ErrorCode::AuthFailed, format!("the server refused the credentials: {text}"));
    }
    if let Some(code) = SQLITE_CODE_NAMES.iter().find(|(_, name)| text.contains(name)).map(|(code, _)| *code) {
        return DbError::sqlite(code, text);
    }
    DbError::libsql(ErrorCode::ServerUnreachable, text)
}

/// Hides anything that looks like a credential: bearer tokens, `authToken=` query values
/// and JWT-shaped strings. Messages from lower layers (HTTP clients, replication) may echo
/// request details, so every such message passes through here.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&redact_word(word));
    }
    out
}

fn redact_word(word: &str) -> String {
    if let Some(pos) = word.find("authToken=") {
        let start = pos + "authToken=".len();
        let end = word[start..].find(['&', '"', '\'']).map_or(word.len(), |e| start + e);
        return format!("{}[redacted]{}", &word[..start], &word[end..]);
    }
    let looks_like_jwt = word.len() > 40 && word.split('.').count() == 3 && word.starts_with("ey");
    if looks_like_jwt {
        return "[redacted]".to_owned();
    }
    word.to_owned()
}

/// The `SQLITE_*` name of a (primary or extended) result code.
pub fn sqlite_code_name(code: i32) -> &'static str {
    SQLITE_CODE_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .or_else(|| SQLITE_CODE_NAMES.iter().find(|(c, _)| *c == code & 0xff))
        .map_or("SQLITE_ERROR", |(_, name)| name)
}

/// The result code of a `SQLITE_*` name.
pub fn sqlite_code_of(name: &str) -> Option<i32> {
    SQLITE_CODE_NAMES.iter().find(|(_, known)| *known == name).map(|(code, _)| *code)
}

// Extended codes first so `remote_error`'s substring search prefers the most specific name.
const SQLITE_CODE_NAMES: &[(i32, &str)] = &[
    (1555, "SQLITE_CONSTRAINT_PRIMARYKEY"),
    (2067, "SQLITE_CONSTRAINT_UNIQUE"),
    (787, "SQLITE_CONSTRAINT_FOREIGNKEY"),
    (1299, "SQLITE_CONSTRAINT_NOTNULL"),
    (275, "SQLITE_CONSTRAINT_CHECK"),
    (1811, "SQLITE_CONSTRAINT_TRIGGER"),
    (2579, "SQLITE_CONSTRAINT_ROWID"),
    (3091, "SQLITE_CONSTRAINT_DATATYPE"),
    (1043, "SQLITE_CONSTRAINT_FUNCTION"),
    (2323, "SQLITE_CONSTRAINT_PINNED"),
    (531, "SQLITE_CONSTRAINT_COMMITHOOK"),
    (1795, "SQLITE_CONSTRAINT_VTAB"),
    (517, "SQLITE_BUSY_SNAPSHOT"),
    (261, "SQLITE_BUSY_RECOVERY"),
    (773, "SQLITE_BUSY_TIMEOUT"),
    (262, "SQLITE_LOCKED_SHAREDCACHE"),
    (1032, "SQLITE_READONLY_DBMOVED"),
    (264, "SQLITE_READONLY_RECOVERY"),
    (520, "SQLITE_READONLY_CANTLOCK"),
    (776, "SQLITE_READONLY_ROLLBACK"),
    (1288, "SQLITE_READONLY_CANTINIT"),
    (1544, "SQLITE_READONLY_DIRECTORY"),
    (270, "SQLITE_CANTOPEN_NOTEMPDIR"),
    (526, "SQLITE_CANTOPEN_ISDIR"),
    (782, "SQLITE_CANTOPEN_FULLPATH"),
    (1038, "SQLITE_CANTOPEN_CONVPATH"),
    (266, "SQLITE_IOERR_READ"),
    (522, "SQLITE_IOERR_SHORT_READ"),
    (778, "SQLITE_IOERR_WRITE"),
    (1034, "SQLITE_IOERR_FSYNC"),
    (1290, "SQLITE_IOERR_DIR_FSYNC"),
    (1546, "SQLITE_IOERR_TRUNCATE"),
    (3338, "SQLITE_IOERR_NOMEM"),
    (4874, "SQLITE_IOERR_SHMOPEN"),
    (267, "SQLITE_CORRUPT_VTAB"),
    (1, "SQLITE_ERROR"),
    (2, "SQLITE_INTERNAL"),
    (3, "SQLITE_PERM"),
    (4, "SQLITE_ABORT"),
    (5, "SQLITE_BUSY"),
    (6, "SQLITE_LOCKED"),
    (7, "SQLITE_NOMEM"),
    (8, "SQLITE_READONLY"),
    (9, "SQLITE_INTERRUPT"),
    (10, "SQLITE_IOERR"),
    (11, "SQLITE_CORRUPT"),
    (12, "SQLITE_NOTFOUND"),
    (13, "SQLITE_FULL"),
    (14, "SQLITE_CANTOPEN"),
    (15, "SQLITE_PROTOCOL"),
    (16, "SQLITE_EMPTY"),
    (17, "SQLITE_SCHEMA"),
    (18, "SQLITE_TOOBIG"),
    (19, "SQLITE_CONSTRAINT"),
    (20, "SQLITE_MISMATCH"),
    (21, "SQLITE_MISUSE"),
    (22, "SQLITE_NOLFS"),
    (23, "SQLITE_AUTH"),
    (24, "SQLITE_FORMAT"),
    (25, "SQLITE_RANGE"),
    (26, "SQLITE_NOTADB"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_codes_have_specific_names() {
        assert_eq!(sqlite_code_name(1555), "SQLITE_CONSTRAINT_PRIMARYKEY");
        assert_eq!(sqlite_code_name(2067), "SQLITE_CONSTRAINT_UNIQUE");
        assert_eq!(sqlite_code_name(5), "SQLITE_BUSY");
        assert_eq!(sqlite_code_name(26), "SQLITE_NOTADB");
    }

    #[test]
    fn unknown_extended_code_falls_back_to_its_primary_code() {
        // 19 | (99 << 8): an extended constraint code this table does not list.
        assert_eq!(sqlite_code_name(19 | (99 << 8)), "SQLITE_CONSTRAINT");
    }

    #[test]
    fn redact_hides_tokens_in_query_strings_and_jwts() {
        let jwt = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJhIjoicnciLCJpYXQiOjE3MDB9.c2lnbmF0dXJlc2lnbmF0dXJl";
        let text = format!("GET https://db.example/v2?authToken=secret123&x=1 failed; bearer {jwt}");
        let out = redact(&text);
        assert!(!out.contains("secret123"), "{out}");
        assert!(!out.contains(jwt), "{out}");
        assert!(out.contains("authToken=[redacted]&x=1"), "{out}");
    }

    #[test]
    fn remote_errors_keep_sqlite_codes_and_spot_auth_failures() {
        let err = remote_error("SQLITE_CONSTRAINT_UNIQUE: UNIQUE constraint failed: t.id");
        assert_eq!(err.code.as_str(), "SQLITE_CONSTRAINT_UNIQUE");
        assert_eq!(remote_error("http error 401 Unauthorized").code, ErrorCode::AuthFailed);
        assert_eq!(remote_error("error trying to connect: Connection refused").code, ErrorCode::ServerUnreachable);
    }
}

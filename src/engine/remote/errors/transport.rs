//! The errors both transports (`http.rs`, `ws.rs`) say the same way: a server that cannot be
//! reached, does not answer in time, refuses the credentials, or answers in something else.
//! The url they name carries no credentials; the server's own words pass through `redact`.

use std::time::Duration;

use crate::error::{redact, DbError, ErrorCode};

pub fn unreachable(url: &str, cause: &str) -> DbError {
    DbError::libsql(ErrorCode::ServerUnreachable, redact(&format!("could not reach the libSQL server at {url}: {cause}")))
}

pub fn timed_out(url: &str, timeout: Duration) -> DbError {
    DbError::libsql(
        ErrorCode::RequestTimeout,
        format!(
            "the libSQL server at {url} did not answer within requestTimeout ({} ms); a write in this request may or may not have been applied",
            timeout.as_millis()
        ),
    )
}

pub fn auth_failed(url: &str, status: &str, message: &str) -> DbError {
    DbError::libsql(ErrorCode::AuthFailed, format!("the libSQL server at {url} refused the credentials ({status}): {}", redact(message)))
}

pub fn not_a_server(url: &str) -> DbError {
    DbError::libsql(ErrorCode::ServerError, format!("{url} answered 404 to a Hrana request: is this the url of a libSQL server?"))
}

pub fn server_error(url: &str, what: &str) -> DbError {
    DbError::libsql(ErrorCode::ServerError, format!("the libSQL server at {url} {what}"))
}

pub fn answer_not_hrana(url: &str, why: &str) -> DbError {
    DbError::libsql(ErrorCode::ServerError, format!("the server at {url} sent an answer that is not Hrana: {why}"))
}

//! `open()` options: what the user may pass, and which libSQL target a url names.
//!
//! Parsing is plain Rust over `OptionValue`s so it is unit-tested without Node; the napi
//! side only reads the object's own properties into that shape.

use std::time::Duration;

use crate::error::{DbError, DbResult};

mod url;

pub use url::Target;
use url::parse_target;

/// How hard a commit is pushed to disk (local files and replicas).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `PRAGMA synchronous=FULL`: the WAL is fsynced at every commit; a committed
    /// transaction survives a process crash and a power loss.
    Full,
    /// `PRAGMA synchronous=NORMAL`: a committed transaction survives a process crash; the
    /// last commits before a power loss may be rolled back (the file stays consistent).
    Normal,
}

impl Durability {
    pub fn pragma_value(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenOptions {
    pub target: Target,
    pub auth_token: Option<String>,
    pub sync_interval: Option<Duration>,
    pub read_your_writes: bool,
    pub encryption_key: Option<String>,
    pub busy_timeout: Duration,
    pub durability: Durability,
    /// Remote targets and replicas: how long one request to the server may take.
    pub request_timeout: Duration,
    /// Server urls: how many requests may be in flight at once (each on a lane of its own: a
    /// stream, and an HTTP connection or a socket). See `executor/pool.rs`.
    pub concurrency: usize,
}

pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_millis(5000);
/// Long enough for a slow statement on a distant server, short enough that a server that
/// stopped answering is reported while the caller still cares.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(30_000);
/// Enough lanes that 50 conversations' turns over a 20 ms round trip overlap instead of
/// queueing (docs/performance.md, "Many conversations on one server"); few enough that one
/// process holds a modest number of the server's connections.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// sqld's own default limit of concurrent requests.
pub const MAX_CONCURRENCY: usize = 128;

/// A JS option value, reduced to what option parsing needs to tell apart.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Missing,
    Str(String),
    Num(f64),
    Bool(bool),
    Other(&'static str),
}

const KNOWN_OPTIONS: &[&str] =
    &["url", "authToken", "syncUrl", "syncInterval", "readYourWrites", "encryptionKey", "busyTimeout", "durability", "requestTimeout", "concurrency"];

impl OpenOptions {
    /// Parses the options object's own properties (name, value).
    pub fn parse(entries: Vec<(String, OptionValue)>) -> DbResult<OpenOptions> {
        let mut url = None;
        let mut auth_token = None;
        let mut sync_url = None;
        let mut sync_interval = None;
        let mut read_your_writes = true;
        let mut encryption_key = None;
        let mut busy_timeout = DEFAULT_BUSY_TIMEOUT;
        let mut durability = Durability::Full;
        let mut request_timeout = DEFAULT_REQUEST_TIMEOUT;
        let mut concurrency = None;

        for (name, value) in entries {
            if value == OptionValue::Missing {
                continue; // `undefined` means "not given", as in `{ url, authToken: process.env.X }`.
            }
            match name.as_str() {
                "url" => url = Some(string_option(&name, value)?),
                "authToken" => auth_token = Some(string_option(&name, value)?).filter(|t: &String| !t.is_empty()),
                "syncUrl" => sync_url = Some(string_option(&name, value)?),
                "encryptionKey" => {
                    let key = string_option(&name, value)?;
                    if key.is_empty() {
                        return Err(DbError::invalid_option("option `encryptionKey` must not be empty"));
                    }
                    encryption_key = Some(key)
                }
                "syncInterval" => {
                    let seconds = number_option(&name, value)?;
                    if seconds <= 0.0 {
                        return Err(DbError::invalid_option("option `syncInterval` must be a positive number of seconds"));
                    }
                    sync_interval = Some(Duration::from_secs_f64(seconds))
                }
                "busyTimeout" => busy_timeout = milliseconds_option(&name, value, 0)?,
                "requestTimeout" => request_timeout = milliseconds_option(&name, value, 1)?,
                "concurrency" => {
                    let n = number_option(&name, value)?;
                    if !(1.0..=MAX_CONCURRENCY as f64).contains(&n) || n.fract() != 0.0 {
                        return Err(DbError::invalid_option(format!(
                            "option `concurrency` must be a whole number from 1 to {MAX_CONCURRENCY}, got {n}"
                        )));
                    }
                    concurrency = Some(n as usize)
                }
                "readYourWrites" => match value {
                    OptionValue::Bool(b) => read_your_writes = b,
                    other => return Err(wrong_type(&name, "a boolean", &other)),
                },
                "durability" => {
                    durability = match string_option(&name, value)?.as_str() {
                        "full" => Durability::Full,
                        "normal" => Durability::Normal,
                        other => {
                            return Err(DbError::invalid_option(format!(
                                "option `durability` must be 'full' or 'normal', got '{other}'"
                            )))
                        }
                    }
                }
                _ => {
                    return Err(DbError::invalid_option(format!(
                        "unknown option `{name}`; known options: {}",
                        KNOWN_OPTIONS.join(", ")
                    )))
                }
            }
        }

        let url = url.ok_or_else(|| DbError::invalid_option("option `url` is required"))?;
        let (target, token_in_url) = parse_target(&url, sync_url.as_deref())?;
        let auth_token = auth_token.or(token_in_url);

        if sync_interval.is_some() && !matches!(target, Target::Replica { .. }) {
            return Err(DbError::invalid_option("option `syncInterval` needs `syncUrl` (an embedded replica)"));
        }
        if encryption_key.is_some() && matches!(target, Target::Remote { .. }) {
            return Err(DbError::invalid_option(
                "option `encryptionKey` encrypts local files and replicas; the server manages its own storage",
            ));
        }
        if concurrency.is_some() && !matches!(target, Target::Remote { .. }) {
            return Err(DbError::invalid_option(
                "option `concurrency` applies to server urls (libsql://, https://, wss://, …); a local file or an embedded \
                 replica runs its calls on one connection",
            ));
        }
        if encryption_key.is_some() && target == Target::Memory {
            return Err(DbError::invalid_option("option `encryptionKey` needs a file: url, not :memory:"));
        }

        Ok(OpenOptions {
            target,
            auth_token,
            sync_interval,
            read_your_writes,
            encryption_key,
            busy_timeout,
            durability,
            request_timeout,
            concurrency: concurrency.unwrap_or(DEFAULT_CONCURRENCY),
        })
    }
}

fn string_option(name: &str, value: OptionValue) -> DbResult<String> {
    match value {
        OptionValue::Str(s) => Ok(s),
        other => Err(wrong_type(name, "a string", &other)),
    }
}

/// A whole number of milliseconds, at least `min`.
fn milliseconds_option(name: &str, value: OptionValue, min: u32) -> DbResult<Duration> {
    let ms = number_option(name, value)?;
    if ms < f64::from(min) || ms.fract() != 0.0 || ms > i32::MAX as f64 {
        return Err(DbError::invalid_option(format!("option `{name}` must be a whole number of milliseconds >= {min}")));
    }
    Ok(Duration::from_millis(ms as u64))
}

fn number_option(name: &str, value: OptionValue) -> DbResult<f64> {
    match value {
        OptionValue::Num(n) if n.is_finite() => Ok(n),
        other => Err(wrong_type(name, "a finite number", &other)),
    }
}

fn wrong_type(name: &str, expected: &str, got: &OptionValue) -> DbError {
    let got = match got {
        OptionValue::Missing => "undefined",
        OptionValue::Str(_) => "a string",
        OptionValue::Num(n) if !n.is_finite() => "a non-finite number",
        OptionValue::Num(_) => "a number",
        OptionValue::Bool(_) => "a boolean",
        OptionValue::Other(kind) => kind,
    };
    DbError::invalid_option(format!("option `{name}` must be {expected}, got {got}"))
}

/// Reads a url (and the optional replica `syncUrl`) into a target. Returns an auth token
/// found in the url's query (`?authToken=`), which `@libsql/client` urls may carry.

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, OptionValue)]) -> DbResult<OpenOptions> {
        OpenOptions::parse(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn s(v: &str) -> OptionValue {
        OptionValue::Str(v.into())
    }





    #[test]
    fn defaults() {
        let o = opts(&[("url", s(":memory:"))]).unwrap();
        assert_eq!(o.busy_timeout, DEFAULT_BUSY_TIMEOUT);
        assert_eq!(o.durability, Durability::Full);
        assert!(o.read_your_writes);
        assert_eq!(o.auth_token, None);
        assert_eq!(o.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(o.concurrency, DEFAULT_CONCURRENCY);
    }

    #[test]
    fn concurrency_is_a_bounded_whole_number_for_servers() {
        let o = opts(&[("url", s("ws://h")), ("concurrency", OptionValue::Num(1.0))]).unwrap();
        assert_eq!(o.concurrency, 1);
        for bad in [0.0, 2.5, 129.0, -1.0] {
            let err = opts(&[("url", s("http://h")), ("concurrency", OptionValue::Num(bad))]).unwrap_err();
            assert!(err.message.contains("whole number from 1 to 128"), "{}", err.message);
        }
        let err = opts(&[("url", s("file:x.db")), ("concurrency", OptionValue::Num(4.0))]).unwrap_err();
        assert!(err.message.contains("applies to server urls"), "{}", err.message);
        let err = opts(&[("url", s("file:x.db")), ("syncUrl", s("libsql://h")), ("concurrency", OptionValue::Num(4.0))]).unwrap_err();
        assert!(err.message.contains("applies to server urls"), "{}", err.message);
    }

    #[test]
    fn undefined_options_are_ignored_and_unknown_ones_named() {
        let o = opts(&[("url", s("file:x.db")), ("authToken", OptionValue::Missing)]).unwrap();
        assert_eq!(o.auth_token, None);
        let err = opts(&[("url", s("x.db")), ("authtoken", s("t"))]).unwrap_err();
        assert!(err.message.contains("unknown option `authtoken`"), "{}", err.message);
        assert_eq!(err.code, crate::error::ErrorCode::InvalidOption);
    }

    #[test]
    fn option_types_and_ranges_are_checked() {
        let err = opts(&[("url", OptionValue::Num(1.0))]).unwrap_err();
        assert!(err.message.contains("option `url` must be a string, got a number"), "{}", err.message);
        assert!(opts(&[("url", s("x.db")), ("busyTimeout", OptionValue::Num(-1.0))]).unwrap_err().message.contains("busyTimeout"));
        assert!(opts(&[("url", s("x.db")), ("busyTimeout", OptionValue::Num(f64::NAN))]).unwrap_err().message.contains("finite"));
        assert!(opts(&[("url", s("x.db")), ("durability", s("fast"))]).unwrap_err().message.contains("'fast'"));
        assert!(opts(&[("url", s("x.db")), ("readYourWrites", s("yes"))]).unwrap_err().message.contains("boolean"));
        assert!(opts(&[]).unwrap_err().message.contains("`url` is required"));
        assert!(opts(&[("url", s("http://h")), ("requestTimeout", OptionValue::Num(0.0))]).unwrap_err().message.contains("requestTimeout"));
        let o = opts(&[("url", s("http://h")), ("requestTimeout", OptionValue::Num(250.0))]).unwrap();
        assert_eq!(o.request_timeout, Duration::from_millis(250));
    }

    #[test]
    fn option_combinations_are_checked() {
        assert!(opts(&[("url", s("x.db")), ("syncInterval", OptionValue::Num(5.0))]).unwrap_err().message.contains("syncUrl"));
        assert!(opts(&[("url", s("libsql://h")), ("encryptionKey", s("k"))]).unwrap_err().message.contains("encryptionKey"));
        let o = opts(&[("url", s("file:r.db")), ("syncUrl", s("libsql://h")), ("syncInterval", OptionValue::Num(2.5))]).unwrap();
        assert_eq!(o.sync_interval, Some(Duration::from_millis(2500)));
    }

    #[test]
    fn explicit_token_wins_over_token_in_url() {
        let o = opts(&[("url", s("libsql://h?authToken=fromurl")), ("authToken", s("explicit"))]).unwrap();
        assert_eq!(o.auth_token.as_deref(), Some("explicit"));
        let o = opts(&[("url", s("libsql://h?authToken=fromurl")), ("authToken", s(""))]).unwrap();
        assert_eq!(o.auth_token.as_deref(), Some("fromurl"));
    }
}

//! `open()` options: what the user may pass, and which libSQL target a url names.
//!
//! Parsing is plain Rust over `OptionValue`s so it is unit-tested without Node; the napi
//! side only reads the object's own properties into that shape.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{DbError, DbResult};

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A private in-memory database, gone when closed.
    Memory,
    /// A local SQLite/libSQL file.
    File(PathBuf),
    /// A libSQL server (sqld) or Turso over HTTP(S).
    Remote { url: String },
    /// A local file kept in sync with a remote primary; writes go to the primary.
    Replica { path: PathBuf, sync_url: String },
}

impl Target {
    /// Local targets run statements on the JS thread; the others go through the async runtime.
    pub fn is_local(&self) -> bool {
        matches!(self, Target::Memory | Target::File(_))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Target::Memory => "memory",
            Target::File(_) => "file",
            Target::Remote { .. } => "remote",
            Target::Replica { .. } => "replica",
        }
    }
}

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
}

pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_millis(5000);
/// Long enough for a slow statement on a distant server, short enough that a server that
/// stopped answering is reported while the caller still cares.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(30_000);

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
    &["url", "authToken", "syncUrl", "syncInterval", "readYourWrites", "encryptionKey", "busyTimeout", "durability", "requestTimeout"];

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
                "busyTimeout" => {
                    let ms = number_option(&name, value)?;
                    if ms < 0.0 || ms.fract() != 0.0 || ms > i32::MAX as f64 {
                        return Err(DbError::invalid_option(
                            "option `busyTimeout` must be a whole number of milliseconds >= 0",
                        ));
                    }
                    busy_timeout = Duration::from_millis(ms as u64)
                }
                "requestTimeout" => {
                    let ms = number_option(&name, value)?;
                    if ms < 1.0 || ms.fract() != 0.0 || ms > i32::MAX as f64 {
                        return Err(DbError::invalid_option(
                            "option `requestTimeout` must be a whole number of milliseconds >= 1",
                        ));
                    }
                    request_timeout = Duration::from_millis(ms as u64)
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
        })
    }
}

fn string_option(name: &str, value: OptionValue) -> DbResult<String> {
    match value {
        OptionValue::Str(s) => Ok(s),
        other => Err(wrong_type(name, "a string", &other)),
    }
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
pub fn parse_target(url: &str, sync_url: Option<&str>) -> DbResult<(Target, Option<String>)> {
    let url = url.trim();
    if url.is_empty() {
        return Err(DbError::invalid_option("option `url` is empty"));
    }
    let local = parse_local(url)?;
    match (local, sync_url) {
        (Some(Target::File(path)), Some(sync)) => {
            let (remote, token) = parse_remote(sync, "syncUrl")?;
            Ok((Target::Replica { path, sync_url: remote }, token))
        }
        (Some(_), Some(_)) => Err(DbError::invalid_option(
            "an embedded replica needs a file: url for its local copy, not :memory:",
        )),
        (Some(target), None) => Ok((target, None)),
        (None, Some(_)) => Err(DbError::invalid_option(
            "option `syncUrl` makes an embedded replica and needs `url` to be a file: url for the local copy",
        )),
        (None, None) => {
            let (remote, token) = parse_remote(url, "url")?;
            Ok((Target::Remote { url: remote }, token))
        }
    }
}

/// `Some` for `:memory:`, `file:` urls and plain paths; `None` for urls with another scheme.
fn parse_local(url: &str) -> DbResult<Option<Target>> {
    if url == ":memory:" || url == "file::memory:" {
        return Ok(Some(Target::Memory));
    }
    if let Some(rest) = url.strip_prefix("file:") {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if !query.is_empty() {
            return Err(DbError::invalid_option(format!(
                "file: urls take no query parameters (got '?{query}'); use open() options instead"
            )));
        }
        // file:///abs/path and file://localhost/abs/path name absolute paths; file:rel and
        // file:/abs are the short forms libSQL clients accept.
        let path = match path.strip_prefix("//") {
            Some(authority_and_path) => match authority_and_path.find('/') {
                Some(0) => authority_and_path,
                Some(slash) if &authority_and_path[..slash] == "localhost" => &authority_and_path[slash..],
                _ => {
                    return Err(DbError::invalid_option(format!(
                        "file: url '{url}' names a host; use file:///absolute/path or file:relative/path"
                    )))
                }
            },
            None => path,
        };
        let path = percent_decode(path)?;
        if path.is_empty() {
            return Err(DbError::invalid_option("file: url has no path"));
        }
        return Ok(Some(Target::File(PathBuf::from(path))));
    }
    match scheme_of(url) {
        Some(_) => Ok(None),
        None => Ok(Some(Target::File(PathBuf::from(url)))),
    }
}

/// The scheme of `url` (`libsql` in `libsql://...`), if it has one. A single letter before
/// the colon is a Windows drive (`C:\data\app.db`), not a scheme.
fn scheme_of(url: &str) -> Option<&str> {
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let valid = scheme.len() > 1
        && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

fn parse_remote(url: &str, option: &str) -> DbResult<(String, Option<String>)> {
    let url = url.trim();
    let scheme = scheme_of(url).ok_or_else(|| {
        DbError::invalid_option(format!("option `{option}` must be a libsql://, https:// or http:// url"))
    })?;
    let rest = &url[scheme.len() + 1..];
    let mut scheme = scheme.to_ascii_lowercase();
    // The HTTP client speaks Hrana over HTTP; websocket urls name the same servers.
    scheme = match scheme.as_str() {
        "libsql" | "https" | "http" => scheme,
        "wss" => "https".into(),
        "ws" => "http".into(),
        other => {
            return Err(DbError::invalid_option(format!(
                "unknown url scheme '{other}:' in option `{option}`; expected file:, :memory:, libsql:, https: or http:"
            )))
        }
    };
    let Some(after_slashes) = rest.strip_prefix("//") else {
        return Err(DbError::invalid_option(format!("option `{option}` is not a valid {scheme}:// url")));
    };
    let (address, query) = after_slashes.split_once('?').unwrap_or((after_slashes, ""));
    let host = address.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(DbError::invalid_option(format!("option `{option}` has no host")));
    }
    let mut token = None;
    let mut tls = true;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "authToken" => token = Some(percent_decode(value)?),
            "tls" => match value {
                "0" => tls = false,
                "1" => tls = true,
                _ => return Err(DbError::invalid_option(format!("query parameter `tls` in option `{option}` must be 0 or 1"))),
            },
            other => {
                return Err(DbError::invalid_option(format!(
                    "unknown query parameter `{other}` in option `{option}` (known: authToken, tls)"
                )))
            }
        }
    }
    if scheme == "libsql" && !tls {
        scheme = "http".into();
    }
    Ok((format!("{scheme}://{address}"), token))
}

fn percent_decode(text: &str) -> DbResult<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                None => return Err(DbError::invalid_option(format!("invalid percent-escape in url '{text}'"))),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| DbError::invalid_option("url percent-escapes do not decode to UTF-8"))
}

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
    fn memory_and_file_forms() {
        assert_eq!(parse_target(":memory:", None).unwrap().0, Target::Memory);
        assert_eq!(parse_target("file::memory:", None).unwrap().0, Target::Memory);
        assert_eq!(parse_target("file:data/app.db", None).unwrap().0, Target::File("data/app.db".into()));
        assert_eq!(parse_target("file:///tmp/app.db", None).unwrap().0, Target::File("/tmp/app.db".into()));
        assert_eq!(parse_target("file://localhost/tmp/a.db", None).unwrap().0, Target::File("/tmp/a.db".into()));
        assert_eq!(parse_target("file:/tmp/my%20app.db", None).unwrap().0, Target::File("/tmp/my app.db".into()));
        assert_eq!(parse_target("./app.db", None).unwrap().0, Target::File("./app.db".into()));
        assert_eq!(parse_target("/var/lib/app.db", None).unwrap().0, Target::File("/var/lib/app.db".into()));
        assert_eq!(parse_target(r"C:\data\app.db", None).unwrap().0, Target::File(r"C:\data\app.db".into()));
    }

    #[test]
    fn remote_forms_and_token_in_query() {
        let (t, token) = parse_target("libsql://db-org.turso.io?authToken=abc", None).unwrap();
        assert_eq!(t, Target::Remote { url: "libsql://db-org.turso.io".into() });
        assert_eq!(token.as_deref(), Some("abc"));
        assert_eq!(parse_target("http://127.0.0.1:8080", None).unwrap().0, Target::Remote { url: "http://127.0.0.1:8080".into() });
        assert_eq!(parse_target("wss://h.example", None).unwrap().0, Target::Remote { url: "https://h.example".into() });
        assert_eq!(parse_target("libsql://h:8080?tls=0", None).unwrap().0, Target::Remote { url: "http://h:8080".into() });
    }

    #[test]
    fn replica_needs_a_file_and_a_remote_sync_url() {
        let (t, _) = parse_target("file:replica.db", Some("libsql://db.turso.io")).unwrap();
        assert_eq!(t, Target::Replica { path: "replica.db".into(), sync_url: "libsql://db.turso.io".into() });
        assert!(parse_target(":memory:", Some("libsql://x")).unwrap_err().message.contains(":memory:"));
        assert!(parse_target("libsql://a", Some("libsql://b")).unwrap_err().message.contains("syncUrl"));
        assert!(parse_target("file:r.db", Some("ftp://b")).unwrap_err().message.contains("ftp"));
    }

    #[test]
    fn bad_urls_are_named() {
        assert!(parse_target("", None).unwrap_err().message.contains("empty"));
        assert!(parse_target("postgres://x/y", None).unwrap_err().message.contains("unknown url scheme 'postgres:'"));
        assert!(parse_target("libsql://", None).unwrap_err().message.contains("no host"));
        assert!(parse_target("file:a.db?mode=ro", None).unwrap_err().message.contains("query parameters"));
        assert!(parse_target("file://host/a.db", None).unwrap_err().message.contains("names a host"));
        assert!(parse_target("https://h?foo=1", None).unwrap_err().message.contains("`foo`"));
        assert!(parse_target("file:%zz", None).unwrap_err().message.contains("percent"));
    }

    #[test]
    fn defaults() {
        let o = opts(&[("url", s(":memory:"))]).unwrap();
        assert_eq!(o.busy_timeout, DEFAULT_BUSY_TIMEOUT);
        assert_eq!(o.durability, Durability::Full);
        assert!(o.read_your_writes);
        assert_eq!(o.auth_token, None);
        assert_eq!(o.request_timeout, DEFAULT_REQUEST_TIMEOUT);
    }

    #[test]
    fn undefined_options_are_ignored_and_unknown_ones_named() {
        let o = opts(&[("url", s("file:x.db")), ("authToken", OptionValue::Missing)]).unwrap();
        assert_eq!(o.auth_token, None);
        let err = opts(&[("url", s("x.db")), ("authtoken", s("t"))]).unwrap_err();
        assert!(err.message.contains("unknown option `authtoken`"), "{}", err.message);
        assert_eq!(err.code, "INVALID_OPTION");
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

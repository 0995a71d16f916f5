//! Which libSQL target a url names: `:memory:`, a file, a server, or (with `syncUrl`) an
//! embedded replica of one; and a token carried in the url.

use std::path::PathBuf;

use crate::error::{DbError, DbResult};

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A private in-memory database, gone when closed.
    Memory,
    /// A local SQLite/libSQL file.
    File(PathBuf),
    /// A libSQL server (sqld) or Turso: Hrana over HTTP for `http(s)://` and `libsql://`, over
    /// WebSocket for `ws(s)://`.
    Remote { url: String },
    /// A local file kept in sync with a remote primary; writes go to the primary.
    /// `sync_url`: where the `libsql` crate replicates from (over HTTP); `primary_url`: the
    /// `syncUrl` as given, where writes go (over WebSocket for `ws://` and `wss://`).
    Replica { path: PathBuf, sync_url: String, primary_url: String },
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

pub fn parse_target(url: &str, sync_url: Option<&str>) -> DbResult<(Target, Option<String>)> {
    let url = url.trim();
    if url.is_empty() {
        return Err(DbError::invalid_option("option `url` is empty"));
    }
    let local = parse_local(url)?;
    match (local, sync_url) {
        (Some(Target::File(path)), Some(sync)) => {
            let (remote, token) = parse_remote(sync, "syncUrl")?;
            // The replica's sync is libsql's own, over HTTP: a websocket url names the same server.
            let sync_url = match remote.split_once("://") {
                Some(("wss", rest)) => format!("https://{rest}"),
                Some(("ws", rest)) => format!("http://{rest}"),
                _ => remote.clone(),
            };
            Ok((Target::Replica { path, sync_url, primary_url: remote }, token))
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
    match scheme.as_str() {
        "libsql" | "https" | "http" | "wss" | "ws" => {}
        other => {
            return Err(DbError::invalid_option(format!(
                "unknown url scheme '{other}:' in option `{option}`; expected file:, :memory:, libsql:, https:, http:, wss: or ws:"
            )))
        }
    }
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
        assert_eq!(parse_target("wss://h.example", None).unwrap().0, Target::Remote { url: "wss://h.example".into() });
        assert_eq!(parse_target("WS://h:8080/", None).unwrap().0, Target::Remote { url: "ws://h:8080/".into() });
        assert_eq!(parse_target("libsql://h:8080?tls=0", None).unwrap().0, Target::Remote { url: "http://h:8080".into() });
    }

    #[test]
    fn replica_needs_a_file_and_a_remote_sync_url() {
        let (t, _) = parse_target("file:replica.db", Some("libsql://db.turso.io")).unwrap();
        let turso = "libsql://db.turso.io".to_owned();
        assert_eq!(t, Target::Replica { path: "replica.db".into(), sync_url: turso.clone(), primary_url: turso });
        // Replication speaks HTTP; writes go over the WebSocket the url names.
        let (t, _) = parse_target("file:replica.db", Some("ws://127.0.0.1:8080")).unwrap();
        let (sync_url, primary_url) = ("http://127.0.0.1:8080".into(), "ws://127.0.0.1:8080".into());
        assert_eq!(t, Target::Replica { path: "replica.db".into(), sync_url, primary_url });
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
}

//! Opening a connection: the local file's settings, the replica (`replica/`), the remote
//! client (which sends nothing until the first call).

use std::time::Duration;

use libsql::ffi;

use crate::error::{DbError, DbResult};
use crate::options::{Durability, OpenOptions, Target};

use super::connection::Backend;
use super::local::{LocalConnection, StatementCache};
use super::remote::RemoteConnection;
use super::replica::ReplicaConnection;
use super::Connection;

impl<A: Default> Connection<A> {
    pub async fn open(options: &OpenOptions) -> DbResult<Connection<A>> {
        let backend = match &options.target {
            Target::Memory => Backend::Local { statements: StatementCache::default(), conn: open_local(":memory:", options)? },
            Target::File(path) => {
                ensure_parent_dir(path)?;
                let path = path.to_str().ok_or_else(|| DbError::invalid_option("the database path is not valid UTF-8"))?;
                let mut conn = open_local(path, options).map_err(|err| err.context(&format!("could not open '{path}'")))?;
                if options.durability == Durability::Full {
                    conn.share_fsyncs()?;
                }
                Backend::Local { statements: StatementCache::default(), conn }
            }
            Target::Remote { url } => {
                Backend::Remote(RemoteConnection::new(url, options.auth_token.as_deref(), options.request_timeout, options.busy_timeout)?)
            }
            Target::Replica { path, sync_url, primary_url } => {
                ensure_parent_dir(path)?;
                // Boxed: the replica's opening (the `libsql` crate's builder and first sync, raced
                // with a request of ours) is a large future, and every caller's future would
                // carry its size — on the JS thread's stack, where `open()` creates it.
                let replica = Box::pin(ReplicaConnection::open(options, path, sync_url, primary_url)).await;
                Backend::Replica(replica.map_err(|err| err.context(&format!("could not open {}", describe(&options.target))))?)
            }
        };
        Ok(Connection {
            backend,
            target: options.target.clone(),
            busy_timeout: options.busy_timeout,
        })
    }
}

impl<A: Default> Connection<A> {
    /// A second, read-only connection to an embedded replica's file, for its reads: they then
    /// run on the JS thread at a local file's speed instead of crossing to the worker that owns
    /// the replica. Replication keeps the file in WAL mode, where this reader never waits for it.
    pub fn open_replica_reader(options: &OpenOptions) -> DbResult<Connection<A>> {
        let Target::Replica { path, .. } = &options.target else { unreachable!("only replicas have a reader") };
        let path = path.to_str().ok_or_else(|| DbError::invalid_option("the database path is not valid UTF-8"))?;
        let conn = LocalConnection::open_read_only(path, options.encryption_key.as_deref())?;
        conn.set_busy_timeout(Duration::ZERO);
        Ok(Connection {
            backend: Backend::Local { statements: StatementCache::default(), conn },
            target: options.target.clone(),
            busy_timeout: options.busy_timeout,
        })
    }
}

/// Opens a local connection with its settings. WAL lets readers in other processes work
/// while one writes; foreign keys are on because schemas that declare them expect them enforced.
///
/// Busy waiting: local statements run on the JS thread, where SQLite's own busy handler would
/// sleep with the event loop stopped — and a lock held by another connection of the same
/// process could then never be released. So after opening (which may wait, e.g. for another
/// process switching a new file to WAL) a local connection reports `SQLITE_BUSY` at once, and
/// the JS layer waits for the lock with timers, keeping the calls in order. `exec()` scripts
/// are the exception (see `Connection::exec`).
fn open_local(path: &str, options: &OpenOptions) -> DbResult<LocalConnection> {
    let conn = LocalConnection::open(path, options.encryption_key.as_deref())?;
    conn.set_busy_timeout(options.busy_timeout);
    if path != ":memory:" {
        // The first read of the file: a garbage file or a wrong key fails here, at open.
        retry_while_busy(options.busy_timeout, || conn.exec("PRAGMA journal_mode = WAL")).map_err(|err| match err.raw_code {
            Some(ffi::SQLITE_NOTADB) if options.encryption_key.is_some() => {
                err.context("the encryptionKey is wrong, or the file is not a database")
            }
            Some(ffi::SQLITE_NOTADB) => err.context("the file is not a database (or it is encrypted: pass encryptionKey)"),
            _ => err,
        })?;
        conn.exec(&format!("PRAGMA synchronous = {}", options.durability.pragma_value()))?;
    }
    conn.exec("PRAGMA foreign_keys = ON")?;
    conn.set_busy_timeout(Duration::ZERO);
    Ok(conn)
}

/// Runs `attempt` again while it fails with SQLITE_BUSY, for up to `timeout`. SQLite skips the
/// busy handler where waiting could deadlock — two connections upgrading their locks at once, as
/// when several processes switch a new file to WAL together — and reports SQLITE_BUSY at once.
/// At open nothing of ours holds a lock across the pause, so waiting and trying again is safe;
/// it runs on a worker thread, never the JS thread.
fn retry_while_busy<T>(timeout: Duration, mut attempt: impl FnMut() -> DbResult<T>) -> DbResult<T> {
    let deadline = std::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match attempt() {
            Err(err) if err.raw_code.is_some_and(|code| code & 0xff == ffi::SQLITE_BUSY) && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            outcome => return outcome,
        }
    }
}

fn describe(target: &Target) -> String {
    match target {
        Target::Memory => "the in-memory database".into(),
        Target::File(path) => format!("'{}'", path.display()),
        Target::Remote { url } => format!("the libSQL server at {url}"),
        Target::Replica { path, primary_url, .. } => format!("the replica '{}' of {primary_url}", path.display()),
    }
}

fn ensure_parent_dir(path: &std::path::Path) -> DbResult<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.exists() => std::fs::create_dir_all(parent)
            .map_err(|err| DbError::sqlite_named("SQLITE_CANTOPEN", format!("could not create folder '{}': {err}", parent.display()))),
        _ => Ok(()),
    }
}


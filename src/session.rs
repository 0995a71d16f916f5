//! One open database and its one connection, and every operation the runner performs on it.
//!
//! Three engines: local targets go through the libSQL engine's C API (`local.rs`); libSQL
//! servers through our Hrana client (`remote/`); embedded replicas through the `libsql`
//! crate, which owns their replication. Operations are `async` because the remote ones need
//! the network; local ones never wait, and `database.rs` runs them to completion on the JS
//! thread. Either way an operation has the session to itself
//! (`&mut self`): that is the serialization that keeps one process from ever racing itself
//! into `SQLITE_BUSY`.

use std::time::Duration;

use libsql::{Builder, Value};

use crate::error::{DbError, DbResult};
use crate::local::{LocalConnection, LocalStatement, Running};
use crate::migrate::{self, Migration, MigrationReport};
use crate::options::{OpenOptions, Target};
use crate::params::{match_parameters, Placeholders, SqlPlaceholders};
use crate::remote::RemoteConnection;
use crate::sql_text::{ensure_single_statement, has_sql_tokens, is_transaction_control, nul_in_sql};
use crate::statement_cache::{CachedStatement, StatementCache};
use crate::value::BoundParams;

pub struct Session {
    engine: Engine,
    target: Target,
    busy_timeout: Duration,
    request_timeout: Duration,
}

// Field order is drop order: statements are finalized before their connection closes.
enum Engine {
    Local { statements: StatementCache, conn: LocalConnection },
    Remote(RemoteConnection),
    Replica { conn: libsql::Connection, database: libsql::Database },
}

/// Rows of one statement: column names, and all values row after row.
#[derive(Debug, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub values: Vec<Value>,
}

#[derive(Debug, Default)]
pub struct StatementResult {
    pub rows: Rows,
    pub rows_affected: u64,
    pub last_insert_rowid: i64,
}

/// Receives a local query's rows as SQLite produces them, so they can become JS values
/// without an owned copy in between (`output.rs` builds the row objects).
pub trait RowSink {
    fn row(&mut self, row: &Running<'_>) -> DbResult<()>;
    /// After the last row: the statement, for its column names and what is kept with it.
    fn finish(&mut self, statement: &mut CachedStatement) -> DbResult<()>;
}

/// What an operation asks of the session.
pub enum Op {
    Query { sql: String, params: BoundParams },
    Execute { sql: String, params: BoundParams },
    Batch(Vec<(String, BoundParams)>),
    Exec(String),
    Begin,
    Commit,
    Rollback,
    Migrate { set: String, migrations: Vec<Migration>, flue_format: bool },
    Sync,
}

/// What an operation produced; `output.rs` turns it into JS values.
pub enum Output {
    Rows(Rows),
    Execute(StatementResult),
    Batch(Vec<StatementResult>),
    Done,
    Migrated(MigrationReport),
    Synced { frame_no: Option<u64>, frames_synced: u64 },
}

impl Session {
    pub async fn open(options: &OpenOptions) -> DbResult<Session> {
        let engine = match &options.target {
            Target::Memory => Engine::Local { statements: StatementCache::default(), conn: open_local(":memory:", options)? },
            Target::File(path) => {
                ensure_parent_dir(path)?;
                let path = path.to_str().ok_or_else(|| DbError::invalid_option("the database path is not valid UTF-8"))?;
                let conn = open_local(path, options).map_err(|err| err.context(&format!("could not open '{path}'")))?;
                Engine::Local { statements: StatementCache::default(), conn }
            }
            Target::Remote { url } => {
                Engine::Remote(RemoteConnection::new(url, options.auth_token.as_deref(), options.request_timeout)?)
            }
            Target::Replica { .. } => {
                let database = build_replica(options).await?;
                let conn = database.connect()?;
                // The replica's file is written by replication; only local settings apply.
                conn.busy_timeout(options.busy_timeout)?;
                Engine::Replica { conn, database }
            }
        };
        Ok(Session {
            engine,
            target: options.target.clone(),
            busy_timeout: options.busy_timeout,
            request_timeout: options.request_timeout,
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn in_transaction(&self) -> bool {
        match &self.engine {
            Engine::Local { conn, .. } => conn.in_transaction(),
            Engine::Remote(conn) => conn.in_transaction(),
            Engine::Replica { conn, .. } => !conn.is_autocommit(),
        }
    }

    pub async fn run(&mut self, op: Op) -> DbResult<Output> {
        match op {
            Op::Query { sql, params } => {
                refuse_transaction_control(&sql)?;
                Ok(Output::Rows(self.statement(&sql, params).await?.rows))
            }
            Op::Execute { sql, params } => {
                refuse_transaction_control(&sql)?;
                Ok(Output::Execute(self.statement_for_effect(&sql, params).await?))
            }
            // Rarely-used operations are boxed: their futures are large, and keeping them out
            // of this state machine keeps the per-query future small (it is moved on every call).
            Op::Batch(statements) => Ok(Output::Batch(Box::pin(self.batch(statements)).await?)),
            Op::Exec(script) => {
                let was_in_transaction = self.in_transaction();
                Box::pin(self.exec(&script)).await?;
                if !was_in_transaction && self.in_transaction() {
                    // Nobody would ever end it, and every later transaction() would fail.
                    self.rollback_if_open().await;
                    return Err(DbError::libsql(
                        "TRANSACTION_STATE",
                        "the script left a transaction open; it was rolled back (end it in the script, or use transaction())",
                    ));
                }
                Ok(Output::Done)
            }
            Op::Begin => self.begin().await.map(|()| Output::Done),
            Op::Commit => self.commit().await.map(|()| Output::Done),
            Op::Rollback => {
                if let Engine::Remote(conn) = &mut self.engine {
                    conn.rollback().await;
                } else if self.in_transaction() {
                    self.plain("ROLLBACK").await?;
                }
                Ok(Output::Done)
            }
            Op::Migrate { set, migrations, flue_format } => {
                Ok(Output::Migrated(Box::pin(migrate::run(self, &set, &migrations, flue_format)).await?))
            }
            Op::Sync => match &self.engine {
                Engine::Replica { database, .. } => {
                    let replicated = Box::pin(within(self.request_timeout, async { database.sync().await.map_err(DbError::from) })).await.map_err(|err| {
                        // A sync that cannot reach the server is a failed sync, whatever broke.
                        DbError { code: "SYNC_FAILED".into(), ..err }
                    })?;
                    Ok(Output::Synced {
                        frame_no: replicated.frame_no(),
                        frames_synced: replicated.frames_synced() as u64,
                    })
                }
                _ => Ok(Output::Synced { frame_no: None, frames_synced: 0 }),
            },
        }
    }

    /// Opens a write transaction (`BEGIN IMMEDIATE`).
    pub async fn begin(&mut self) -> DbResult<()> {
        if self.in_transaction() {
            return Err(DbError::libsql("TRANSACTION_STATE", "a transaction is already open on this connection"));
        }
        match &mut self.engine {
            Engine::Remote(conn) => conn.begin(),
            _ => self.plain("BEGIN IMMEDIATE").await,
        }
    }

    pub async fn commit(&mut self) -> DbResult<()> {
        let committed = match &mut self.engine {
            Engine::Remote(conn) => return conn.commit().await,
            _ => self.plain("COMMIT").await,
        };
        if committed.is_err() {
            // A failed COMMIT (disk full, I/O error) may leave the transaction open; never
            // leave it dangling for the next caller.
            self.rollback_if_open().await;
        }
        committed
    }

    /// `query()` on a local target, delivering rows to `sink` as they are read. `None` for
    /// remote targets, which go through `run`.
    pub fn query_local(&mut self, sql: &str, params: BoundParams, sink: &mut dyn RowSink) -> Option<DbResult<()>> {
        let Engine::Local { statements, conn } = &mut self.engine else { return None };
        Some(refuse_transaction_control(sql).and_then(|()| run_local(statements, conn, sql, params, sink)))
    }

    /// Runs one statement with its parameters and collects everything it returns.
    pub async fn statement(&mut self, sql: &str, params: BoundParams) -> DbResult<StatementResult> {
        match &mut self.engine {
            Engine::Local { statements, conn } => local_statement(statements, conn, sql, params, true),
            Engine::Remote(conn) => conn.statement(sql, params, true).await,
            Engine::Replica { conn, .. } => within(self.request_timeout, replica_statement(conn, sql, params)).await,
        }
    }

    /// Runs one statement for what it changes: rows it returns are not kept (locally they are
    /// not even read into values). `rows` of the result is empty.
    pub async fn statement_for_effect(&mut self, sql: &str, params: BoundParams) -> DbResult<StatementResult> {
        match &mut self.engine {
            Engine::Local { statements, conn } => local_statement(statements, conn, sql, params, false),
            Engine::Remote(conn) => conn.statement(sql, params, false).await,
            Engine::Replica { conn, .. } => {
                let mut result = within(self.request_timeout, replica_statement(conn, sql, params)).await?;
                result.rows = Rows::default();
                Ok(result)
            }
        }
    }

    /// A statement of the runner's own, with no parameters and no rows wanted.
    pub async fn plain(&mut self, sql: &str) -> DbResult<()> {
        self.statement_for_effect(sql, BoundParams::None).await.map(|_| ())
    }

    async fn batch(&mut self, statements: Vec<(String, BoundParams)>) -> DbResult<Vec<StatementResult>> {
        if self.in_transaction() {
            return Err(DbError::libsql("TRANSACTION_STATE", "batch() cannot run inside an open transaction"));
        }
        let count = statements.len();
        for (sql, _) in &statements {
            refuse_transaction_control(sql)?;
        }
        if let Engine::Remote(conn) = &mut self.engine {
            return conn.batch(statements).await;
        }
        self.begin().await?;
        let mut results = Vec::with_capacity(count);
        for (index, (sql, params)) in statements.into_iter().enumerate() {
            match self.statement(&sql, params).await {
                Ok(result) => results.push(result),
                Err(err) => {
                    self.rollback_if_open().await;
                    return Err(err.context(&format!("batch statement {} of {count} failed, nothing was applied", index + 1)));
                }
            }
        }
        if let Err(err) = self.plain("COMMIT").await {
            self.rollback_if_open().await;
            return Err(err);
        }
        Ok(results)
    }

    /// Runs a script of statements without parameters (DDL, migrations).
    pub async fn exec(&mut self, script: &str) -> DbResult<()> {
        if script.contains('\0') {
            return Err(nul_in_sql());
        }
        if !has_sql_tokens(script) {
            return Ok(());
        }
        match &mut self.engine {
            Engine::Local { statements, conn } => {
                // A script cannot be retried from the JS layer (its first statements may
                // already have committed), so it waits for locks inside SQLite, blocking for at
                // most busy_timeout.
                conn.set_busy_timeout(self.busy_timeout);
                let result = conn.exec(script);
                conn.set_busy_timeout(Duration::ZERO);
                // The script may have changed the schema the cached statements were prepared against.
                statements.clear();
                result
            }
            Engine::Remote(conn) => conn.exec(script).await,
            Engine::Replica { conn, .. } => {
                within(self.request_timeout, async { conn.execute_batch(script).await.map(|_| ()).map_err(DbError::from) }).await
            }
        }
    }

    /// Best effort: used on paths that are already failing with a more useful error.
    pub async fn rollback_if_open(&mut self) {
        if let Engine::Remote(conn) = &mut self.engine {
            return conn.rollback().await;
        }
        if self.in_transaction() {
            let _ = self.plain("ROLLBACK").await;
        }
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
/// are the exception (see `Session::exec`).
fn open_local(path: &str, options: &OpenOptions) -> DbResult<LocalConnection> {
    let conn = LocalConnection::open(path, options.encryption_key.as_deref())?;
    conn.set_busy_timeout(options.busy_timeout);
    if path != ":memory:" {
        // The first read of the file: a garbage file or a wrong key fails here, at open.
        retry_while_busy(options.busy_timeout, || conn.exec("PRAGMA journal_mode = WAL")).map_err(|err| match err.code.as_str() {
            "SQLITE_NOTADB" if options.encryption_key.is_some() => {
                err.context("the encryptionKey is wrong, or the file is not a database")
            }
            "SQLITE_NOTADB" => err.context("the file is not a database (or it is encrypted: pass encryptionKey)"),
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
            Err(err) if err.raw_code.is_some_and(|code| code & 0xff == 5) && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            outcome => return outcome,
        }
    }
}

/// The replica's calls that reach the server (writes, sync) fail after `requestTimeout`
/// instead of waiting for a server that stopped answering.
async fn within<T>(timeout: Duration, operation: impl std::future::Future<Output = DbResult<T>>) -> DbResult<T> {
    tokio::time::timeout(timeout, operation).await.unwrap_or_else(|_| {
        Err(DbError::libsql(
            "REQUEST_TIMEOUT",
            format!("the libSQL server did not answer within requestTimeout ({} ms)", timeout.as_millis()),
        ))
    })
}

async fn build_replica(options: &OpenOptions) -> DbResult<libsql::Database> {
    let token = options.auth_token.clone().unwrap_or_default();
    let built = match &options.target {
        Target::Replica { path, sync_url } => {
            ensure_parent_dir(path)?;
            // Frame replication (sync protocol v1), which sqld and Turso both serve: what is
            // tested here is what runs. It also opens without asking the server anything
            // (the automatic choice probes the server first), so a replica whose file exists
            // serves reads while the server is down.
            let mut builder = Builder::new_remote_replica(path, sync_url.clone(), token)
                .sync_protocol(libsql::SyncProtocol::V1)
                .read_your_writes(options.read_your_writes);
            if let Some(interval) = options.sync_interval {
                builder = builder.sync_interval(interval.max(Duration::from_millis(100)));
            }
            if let Some(key) = &options.encryption_key {
                let config = libsql::EncryptionConfig::new(
                    libsql::Cipher::Aes256Cbc,
                    bytes::Bytes::copy_from_slice(key.as_bytes()),
                );
                builder = builder.encryption_config(config);
            }
            within(options.request_timeout, async { builder.build().await.map_err(DbError::from) }).await
        }
        Target::Memory | Target::File(_) | Target::Remote { .. } => unreachable!("only replicas are built by the libsql crate"),
    };
    built.map_err(|err| {
        // The crate reports a wrong or missing key as a replication failure.
        let err = match err.message.contains("file is not a database") {
            true if options.encryption_key.is_some() => {
                DbError::sqlite(26, "the encryptionKey is wrong, or the file is not a database")
            }
            true => DbError::sqlite(26, "the file is not a database (or it is encrypted: pass encryptionKey)"),
            false => err,
        };
        err.context(&format!("could not open {}", describe(&options.target)))
    })
}

fn describe(target: &Target) -> String {
    match target {
        Target::Memory => "the in-memory database".into(),
        Target::File(path) => format!("'{}'", path.display()),
        Target::Remote { url } => format!("the libSQL server at {url}"),
        Target::Replica { path, sync_url } => format!("the replica '{}' of {sync_url}", path.display()),
    }
}

fn ensure_parent_dir(path: &std::path::Path) -> DbResult<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.exists() => std::fs::create_dir_all(parent)
            .map_err(|err| DbError::libsql("SQLITE_CANTOPEN", format!("could not create folder '{}': {err}", parent.display()))),
        _ => Ok(()),
    }
}

/// Matches the user's parameters to the statement's placeholders, so a wrong count or an
/// unknown name is an error instead of a silently NULL-bound placeholder.
fn bind_to_statement(statement: &LocalStatement, params: BoundParams) -> DbResult<()> {
    for (index, value) in match_parameters(statement, params)?.iter().enumerate() {
        statement.bind(index + 1, value)?;
    }
    Ok(())
}

fn refuse_transaction_control(sql: &str) -> DbResult<()> {
    if is_transaction_control(sql) {
        return Err(DbError::libsql(
            "TRANSACTION_STATE",
            "BEGIN, COMMIT and ROLLBACK cannot run through query()/execute()/batch(): use db.transaction(fn), \
             which begins, commits and rolls back for you",
        ));
    }
    Ok(())
}

/// Prepares (or reuses), binds and runs one local statement, handing its rows to `sink`.
fn run_local(
    statements: &mut StatementCache,
    conn: &LocalConnection,
    sql: &str,
    params: BoundParams,
    sink: &mut dyn RowSink,
) -> DbResult<()> {
    let cached = statements.get(conn, sql)?;
    bind_to_statement(&cached.statement, params)?;
    let mut running = cached.statement.run();
    while running.step()? {
        sink.row(&running)?;
    }
    drop(running);
    sink.finish(cached)
}

fn local_statement(
    statements: &mut StatementCache,
    conn: &LocalConnection,
    sql: &str,
    params: BoundParams,
    keep_rows: bool,
) -> DbResult<StatementResult> {
    let changes_before = conn.total_changes();
    let mut rows = Rows::default();
    match keep_rows {
        true => run_local(statements, conn, sql, params, &mut rows)?,
        false => run_local(statements, conn, sql, params, &mut SkipRows)?,
    }
    // `changes()` keeps the count of the last write even across SELECTs; only report it when
    // this statement actually changed something.
    let rows_affected = if conn.total_changes() != changes_before { conn.changes() } else { 0 };
    Ok(StatementResult { rows, rows_affected, last_insert_rowid: conn.last_insert_rowid() })
}

/// Rows nobody reads (`execute()`, the runner's own BEGIN/COMMIT): stepped through, not read.
struct SkipRows;

impl RowSink for SkipRows {
    fn row(&mut self, _row: &Running<'_>) -> DbResult<()> {
        Ok(())
    }

    fn finish(&mut self, _statement: &mut CachedStatement) -> DbResult<()> {
        Ok(())
    }
}

/// Owned rows, for the runner's own statements (migrations, batches) and remote results.
impl RowSink for Rows {
    fn row(&mut self, row: &Running<'_>) -> DbResult<()> {
        self.values.extend((0..row.width()).map(|i| row.value(i)));
        Ok(())
    }

    fn finish(&mut self, cached: &mut CachedStatement) -> DbResult<()> {
        let statement = &cached.statement;
        self.columns = (0..statement.column_count())
            .map(|i| String::from_utf8_lossy(statement.column_name_bytes(i)).into_owned())
            .collect();
        Ok(())
    }
}

/// A statement on a replica: reads run on the local file, writes on the server. Parameters are
/// matched to the placeholders here, as a local statement matches them, and passed under each
/// placeholder's exact name (`:v`, `@v`, `$v`): the local engine finds a named placeholder only
/// by its full name, and the server binds a named one only by name.
async fn replica_statement(conn: &libsql::Connection, sql: &str, params: BoundParams) -> DbResult<StatementResult> {
    ensure_single_statement(sql)?;
    let placeholders = SqlPlaceholders::scan(sql);
    let values = match_parameters(&placeholders, params)?;
    let params = match (1..=values.len()).all(|index| placeholders.name(index).is_none()) {
        true => libsql::params::Params::Positional(values),
        false => libsql::params::Params::Named(
            values
                .into_iter()
                .enumerate()
                .map(|(at, value)| (placeholders.name(at + 1).map_or_else(|| format!("?{}", at + 1), str::to_owned), value))
                .collect(),
        ),
    };
    let changes_before = conn.total_changes();
    let mut rows = conn.query(sql, params).await?;
    let width = rows.column_count();
    let columns = (0..width).map(|i| rows.column_name(i).unwrap_or("").to_owned()).collect();
    let mut values = Vec::new();
    while let Some(row) = rows.next().await? {
        for i in 0..width {
            values.push(row.get_value(i)?);
        }
    }
    // `changes()` keeps the last write's count across reads; report it only for a write.
    let rows_affected = if conn.total_changes() != changes_before { conn.changes() } else { 0 };
    Ok(StatementResult { rows: Rows { columns, values }, rows_affected, last_insert_rowid: conn.last_insert_rowid() })
}

//! One open database and its one connection, and every operation the runner performs on it.
//!
//! Operations are `async` because remote targets (sqld, Turso, replica writes) need the
//! network; local ones never actually wait, and `database.rs` runs them to completion on the
//! JS thread. Either way an operation has the session to itself (`&mut self`): that is the
//! serialization that keeps one process from ever racing itself into `SQLITE_BUSY`.

use std::time::Duration;

use libsql::{Builder, Connection, Database, Value};

use crate::error::{DbError, DbResult};
use crate::migrate::{self, Migration, MigrationReport};
use crate::options::{OpenOptions, Target};
use crate::statement_cache::StatementCache;
use crate::sql_text::{ensure_single_statement, has_sql_tokens};
use crate::value::BoundParams;

// Field order is drop order: statements are finalized before their connection closes.
pub struct Session {
    statements: StatementCache,
    conn: Connection,
    database: Database,
    target: Target,
    busy_timeout: Duration,
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
        let database = build_database(options).await?;
        let conn = database.connect()?;
        let session = Session {
            statements: StatementCache::default(),
            conn,
            database,
            target: options.target.clone(),
            busy_timeout: options.busy_timeout,
        };
        session.configure(options).await?;
        Ok(session)
    }

    /// Connection settings. WAL lets readers in other processes work while one writes;
    /// foreign keys are on because schemas that declare them expect them enforced.
    ///
    /// Busy waiting: statements of local targets run on the JS thread, where SQLite's own
    /// busy handler would sleep with the event loop stopped — and a lock held by another
    /// connection of the same process could then never be released. So after opening (which
    /// may wait, e.g. for another process switching a new file to WAL) a local connection
    /// reports `SQLITE_BUSY` at once, and the JS layer waits for the lock with timers,
    /// keeping the calls in order. `exec()` scripts are the exception (see `exec`).
    async fn configure(&self, options: &OpenOptions) -> DbResult<()> {
        match &self.target {
            Target::Memory | Target::File(_) => {
                self.conn.busy_timeout(options.busy_timeout)?;
                if matches!(self.target, Target::File(_)) {
                    // The first read of the file: a garbage file or a wrong key fails here, at open.
                    self.pragma("journal_mode = WAL").await?;
                    self.pragma(&format!("synchronous = {}", options.durability.pragma_value())).await?;
                }
                self.pragma("foreign_keys = ON").await?;
                self.conn.busy_timeout(Duration::ZERO)?;
            }
            Target::Replica { .. } => {
                // The replica's file is written by replication; only local settings apply.
                self.conn.busy_timeout(options.busy_timeout)?;
            }
            Target::Remote { .. } => {}
        }
        Ok(())
    }

    async fn pragma(&self, pragma: &str) -> DbResult<()> {
        let mut rows = self.conn.query(&format!("PRAGMA {pragma}"), ()).await?;
        while rows.next().await?.is_some() {}
        Ok(())
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    pub fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    pub async fn run(&mut self, op: Op) -> DbResult<Output> {
        match op {
            Op::Query { sql, params } => Ok(Output::Rows(self.statement(&sql, params).await?.rows)),
            Op::Execute { sql, params } => Ok(Output::Execute(self.statement(&sql, params).await?)),
            // Rarely-used operations are boxed: their futures are large, and keeping them out
            // of this state machine keeps the per-query future small (it is moved on every call).
            Op::Batch(statements) => Ok(Output::Batch(Box::pin(self.batch(statements)).await?)),
            Op::Exec(script) => {
                Box::pin(self.exec(&script)).await?;
                Ok(Output::Done)
            }
            Op::Begin => {
                if self.in_transaction() {
                    return Err(DbError::libsql("TRANSACTION_STATE", "a transaction is already open on this connection"));
                }
                self.plain("BEGIN IMMEDIATE").await?;
                Ok(Output::Done)
            }
            Op::Commit => {
                if let Err(err) = self.plain("COMMIT").await {
                    // A failed COMMIT (disk full, I/O error) may leave the transaction open;
                    // never leave it dangling for the next caller.
                    self.rollback_if_open().await;
                    return Err(err);
                }
                Ok(Output::Done)
            }
            Op::Rollback => {
                if self.in_transaction() {
                    self.plain("ROLLBACK").await?;
                }
                Ok(Output::Done)
            }
            Op::Migrate { set, migrations, flue_format } => {
                Ok(Output::Migrated(Box::pin(migrate::run(self, &set, &migrations, flue_format)).await?))
            }
            Op::Sync => match self.target {
                Target::Replica { .. } => {
                    let replicated = Box::pin(self.database.sync()).await?;
                    Ok(Output::Synced {
                        frame_no: replicated.frame_no(),
                        frames_synced: replicated.frames_synced() as u64,
                    })
                }
                _ => Ok(Output::Synced { frame_no: None, frames_synced: 0 }),
            },
        }
    }

    /// Runs one statement with its parameters and collects everything it returns.
    pub async fn statement(&mut self, sql: &str, params: BoundParams) -> DbResult<StatementResult> {
        if self.target.is_local() {
            self.local_statement(sql, params).await
        } else {
            self.remote_statement(sql, params).await
        }
    }

    async fn local_statement(&mut self, sql: &str, params: BoundParams) -> DbResult<StatementResult> {
        let conn = &self.conn;
        let changes_before = conn.total_changes();
        let statement = self.statements.get(conn, sql).await?;
        let values = bind_to_statement(statement, params)?;
        let result = collect(statement.query(values).await).await;
        // Reset at once: a statement left mid-iteration would pin a read snapshot and block
        // checkpoints and `BEGIN IMMEDIATE` in other connections.
        statement.reset();
        let rows = result?;
        // `changes()` keeps the count of the last write even across SELECTs; only report it
        // when this statement actually changed something.
        let rows_affected = if conn.total_changes() != changes_before { conn.changes() } else { 0 };
        Ok(StatementResult { rows, rows_affected, last_insert_rowid: conn.last_insert_rowid() })
    }

    async fn remote_statement(&mut self, sql: &str, params: BoundParams) -> DbResult<StatementResult> {
        ensure_single_statement(sql)?;
        let params = match params {
            BoundParams::None => libsql::params::Params::None,
            BoundParams::Positional(values) => libsql::params::Params::Positional(values),
            // The server matches names by their prefix; a bare JS key means `:name`.
            BoundParams::Named(pairs) => libsql::params::Params::Named(
                pairs
                    .into_iter()
                    .map(|(name, value)| if name.starts_with([':', '@', '$']) { (name, value) } else { (format!(":{name}"), value) })
                    .collect(),
            ),
        };
        let rows = collect(self.conn.query(sql, params).await).await?;
        Ok(StatementResult { rows, rows_affected: self.conn.changes(), last_insert_rowid: self.conn.last_insert_rowid() })
    }

    /// A statement of the runner's own, with no parameters and no rows wanted.
    pub async fn plain(&mut self, sql: &str) -> DbResult<()> {
        self.statement(sql, BoundParams::None).await.map(|_| ())
    }

    async fn batch(&mut self, statements: Vec<(String, BoundParams)>) -> DbResult<Vec<StatementResult>> {
        if self.in_transaction() {
            return Err(DbError::libsql("TRANSACTION_STATE", "batch() cannot run inside an open transaction"));
        }
        let count = statements.len();
        self.plain("BEGIN IMMEDIATE").await?;
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
            return Err(DbError::type_error("the SQL text contains a NUL character"));
        }
        if !has_sql_tokens(script) {
            return Ok(());
        }
        // A script cannot be retried from the JS layer (its first statements may already have
        // committed), so it waits for locks inside SQLite, blocking for at most busy_timeout.
        let waits_inline = self.target.is_local();
        if waits_inline {
            self.conn.busy_timeout(self.busy_timeout)?;
        }
        let result = self.conn.execute_batch(script).await;
        if waits_inline {
            self.conn.busy_timeout(Duration::ZERO)?;
        }
        // The script may have changed the schema the cached statements were prepared against.
        self.statements.clear();
        result.map(|_| ()).map_err(DbError::from)
    }

    /// Best effort: used on paths that are already failing with a more useful error.
    pub async fn rollback_if_open(&mut self) {
        if self.in_transaction() {
            let _ = self.statement("ROLLBACK", BoundParams::None).await;
        }
    }
}

async fn build_database(options: &OpenOptions) -> DbResult<Database> {
    let token = options.auth_token.clone().unwrap_or_default();
    let encryption = options.encryption_key.as_ref().map(|key| {
        libsql::EncryptionConfig::new(libsql::Cipher::Aes256Cbc, bytes::Bytes::copy_from_slice(key.as_bytes()))
    });
    let built = match &options.target {
        Target::Memory => Builder::new_local(":memory:").build().await,
        Target::File(path) => {
            ensure_parent_dir(path)?;
            let mut builder = Builder::new_local(path);
            if let Some(config) = encryption {
                builder = builder.encryption_config(config);
            }
            builder.build().await
        }
        Target::Remote { url } => Builder::new_remote(url.clone(), token).build().await,
        Target::Replica { path, sync_url } => {
            ensure_parent_dir(path)?;
            let mut builder = Builder::new_remote_replica(path, sync_url.clone(), token)
                .read_your_writes(options.read_your_writes);
            if let Some(interval) = options.sync_interval {
                builder = builder.sync_interval(interval.max(Duration::from_millis(100)));
            }
            if let Some(config) = encryption {
                builder = builder.encryption_config(config);
            }
            builder.build().await
        }
    };
    built.map_err(|err| DbError::from(err).context(&format!("could not open {}", describe(&options.target))))
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
fn bind_to_statement(statement: &libsql::Statement, params: BoundParams) -> DbResult<Vec<Value>> {
    let expected = statement.parameter_count();
    match params {
        BoundParams::None if expected == 0 => Ok(Vec::new()),
        BoundParams::None => Err(DbError::range_error(format!(
            "the statement has {expected} parameter{} but no params were given",
            plural(expected)
        ))),
        BoundParams::Positional(values) => {
            if values.len() != expected {
                return Err(DbError::range_error(format!(
                    "the statement has {expected} parameter{} but {} were given",
                    plural(expected),
                    values.len()
                )));
            }
            Ok(values)
        }
        BoundParams::Named(mut pairs) => {
            let mut values = Vec::with_capacity(expected);
            for index in 1..=expected as i32 {
                let Some(name) = statement.parameter_name(index) else {
                    return Err(DbError::type_error(format!(
                        "parameter {index} is a positional ? placeholder; pass params as an array, or name every placeholder"
                    )));
                };
                let bare = &name[1..];
                let found = pairs.iter().position(|(key, _)| key == bare || key == name);
                match found {
                    Some(at) => values.push(pairs.swap_remove(at).1),
                    // The same name may appear twice in the SQL (`:a ... :a` binds one slot),
                    // and SQLite reports each distinct name once, so a miss here is real.
                    None => {
                        return Err(DbError::range_error(format!("missing named parameter `{bare}` (for {name})")))
                    }
                }
            }
            if let Some((unknown, _)) = pairs.first() {
                return Err(DbError::range_error(format!("unknown named parameter `{unknown}`: the statement has no :{unknown}, @{unknown} or ${unknown}")));
            }
            Ok(values)
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

async fn collect(rows: libsql::Result<libsql::Rows>) -> DbResult<Rows> {
    let mut rows = rows?;
    let width = rows.column_count();
    let columns = (0..width).map(|i| rows.column_name(i).unwrap_or("").to_owned()).collect();
    let mut values = Vec::new();
    while let Some(row) = rows.next().await? {
        for i in 0..width {
            values.push(row.get_value(i)?);
        }
    }
    Ok(Rows { columns, values })
}

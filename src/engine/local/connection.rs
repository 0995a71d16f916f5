//! Local databases (`:memory:`, files) through the libSQL engine's C API, `libsql::ffi`.
//!
//! Why not the `libsql` crate's `Connection` here: its local row reader turns TEXT into a Rust
//! string through `CStr` (cutting the value at the first NUL) and `to_str().unwrap()` (a panic
//! on TEXT that is not valid UTF-8, which also left our cached statement mid-iteration), and
//! it clones and boxes per statement and per row. Reading columns by their byte length from
//! the same engine fixes both and is the hot path of every local query. Remote targets and
//! embedded replicas use the `libsql` crate (`engine/replica.rs`).

use std::cell::Cell;
use std::ffi::{c_int, c_void, CStr, CString};
use std::ptr;
use std::time::Duration;

use libsql::ffi;
use libsql::Value;

use crate::error::{DbError, DbResult};
use crate::sql::params::Placeholders;
use crate::sql::text::{empty_sql, has_sql_tokens, nul_in_sql, several_statements};
use crate::values::ColumnRef;

use super::synchronous::{watch_synchronous, SynchronousWatch, SHARED_FSYNCS_LEVEL};

/// One open connection. Only ever used by one thread at a time (its `Connection` is owned by
/// one executor, which runs one operation at a time), so it is opened without SQLite's own
/// per-call mutex.
pub struct LocalConnection {
    pub(super) handle: *mut ffi::sqlite3,
    /// Set while commits share their fsyncs (`shared_fsync.rs`).
    pub(super) shared_fsync: Option<SharedFsync>,
    /// Opened at durability 'full' in WAL mode: whenever its level is FULL, its commits share
    /// syncs (`shared_fsync.rs`).
    pub(super) shares_fsyncs_at_full: bool,
    /// What the application did with `PRAGMA synchronous` (boxed: SQLite holds its address).
    pub(super) synchronous: Box<SynchronousWatch>,
}

/// The commits of a connection whose commits share syncs (`shared_fsync.rs`).
pub(super) struct SharedFsync {
    /// Commits so far, counted by the commit hook (boxed: SQLite holds its address).
    pub(super) commits: Box<Cell<u64>>,
    /// Commits a sync has covered.
    pub(super) synced: u64,
}

/// The commit hook: counts the commit and lets it go ahead.
pub(super) unsafe extern "C" fn count_commit(commits: *mut c_void) -> c_int {
    // SAFETY: the pointer is the connection's boxed counter, unregistered before it is dropped.
    let commits = unsafe { &*(commits as *const Cell<u64>) };
    commits.set(commits.get() + 1);
    0
}

// SAFETY: the connection is opened with SQLITE_OPEN_NOMUTEX and has one owner that uses it
// from one thread at a time; moving it between threads (opened on a worker, then used on the
// JS thread) is allowed.
unsafe impl Send for LocalConnection {}

impl LocalConnection {
    /// Opens (creating if missing) `path`, or a private in-memory database for `:memory:`.
    pub fn open(path: &str, encryption_key: Option<&str>) -> DbResult<LocalConnection> {
        Self::open_with(path, encryption_key, ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE)
    }

    /// Opens an existing `path` for reading only (an embedded replica's file, which only
    /// replication writes).
    pub fn open_read_only(path: &str, encryption_key: Option<&str>) -> DbResult<LocalConnection> {
        Self::open_with(path, encryption_key, ffi::SQLITE_OPEN_READONLY)
    }

    fn open_with(path: &str, encryption_key: Option<&str>, mode: c_int) -> DbResult<LocalConnection> {
        configure_engine_once();
        let c_path = CString::new(path).map_err(|_| DbError::invalid_option("the database path contains a NUL character"))?;
        let mut handle = ptr::null_mut();
        let flags = mode | ffi::SQLITE_OPEN_NOMUTEX;
        let rc = unsafe { ffi::sqlite3_open_v2(c_path.as_ptr(), &mut handle, flags, ptr::null()) };
        // Even a failed open may return a handle, which carries the message and must be closed.
        let conn = LocalConnection { handle, shared_fsync: None, shares_fsyncs_at_full: false, synchronous: Box::default() };
        if rc != ffi::SQLITE_OK {
            return Err(if handle.is_null() { DbError::sqlite(rc, errstr(rc)) } else { conn.last_error() });
        }
        unsafe { ffi::sqlite3_extended_result_codes(handle, 1) };
        watch_synchronous(handle, &conn.synchronous);
        if let Some(key) = encryption_key {
            let cipher = libsql::Cipher::Aes256Cbc.cipher_id();
            // The same calls libsql's own local builder makes, so files stay interchangeable.
            if unsafe { libsql_sys::connection::set_encryption_cipher(handle, cipher) } == -1
                || unsafe { libsql_sys::connection::set_encryption_key(handle, key.as_bytes()) } != ffi::SQLITE_OK
            {
                return Err(DbError::sqlite_named("SQLITE_MISUSE", "could not set the encryption key"));
            }
        }
        Ok(conn)
    }

    pub fn set_busy_timeout(&self, timeout: Duration) {
        let ms = timeout.as_millis().min(c_int::MAX as u128) as c_int;
        unsafe { ffi::sqlite3_busy_timeout(self.handle, ms) };
    }

    /// Runs a script (statements without parameters; rows are discarded).
    pub fn exec(&self, script: &str) -> DbResult<()> {
        self.synchronous.clear();
        let c_script = CString::new(script).map_err(|_| nul_in_sql())?;
        let rc = unsafe { ffi::sqlite3_exec(self.handle, c_script.as_ptr(), None, ptr::null_mut(), ptr::null_mut()) };
        if rc != ffi::SQLITE_OK {
            return Err(self.last_error());
        }
        Ok(())
    }

    /// Prepares exactly one statement of the application's; empty text and trailing
    /// statements are refused. Reading `PRAGMA synchronous` while commits share syncs gives the
    /// level the connection gives, FULL, not SQLite's NORMAL (`synchronous.rs`).
    pub fn prepare(&self, sql: &str) -> DbResult<LocalStatement> {
        self.synchronous.clear();
        let statement = self.prepare_own(sql)?;
        if self.synchronous.read.get() && self.shared_fsync.is_some() {
            return self.prepare_own(SHARED_FSYNCS_LEVEL);
        }
        Ok(statement)
    }

    /// Prepares exactly one statement, as SQLite compiles it.
    pub(super) fn prepare_own(&self, sql: &str) -> DbResult<LocalStatement> {
        if sql.contains('\0') {
            return Err(nul_in_sql());
        }
        let len = c_int::try_from(sql.len()).map_err(|_| DbError::range_error("the SQL text is longer than 2 GiB"))?;
        let mut raw = ptr::null_mut();
        let mut tail = ptr::null();
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.handle,
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT as u32,
                &mut raw,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.last_error());
        }
        if raw.is_null() {
            return Err(empty_sql());
        }
        let statement = LocalStatement { raw };
        let consumed = if tail.is_null() { sql.len() } else { tail as usize - sql.as_ptr() as usize };
        if has_sql_tokens(&sql[consumed.min(sql.len())..]) {
            return Err(several_statements());
        }
        Ok(statement)
    }

    pub fn in_transaction(&self) -> bool {
        unsafe { ffi::sqlite3_get_autocommit(self.handle) == 0 }
    }

    pub fn changes(&self) -> u64 {
        unsafe { ffi::sqlite3_changes64(self.handle) as u64 }
    }

    pub fn total_changes(&self) -> u64 {
        unsafe { ffi::sqlite3_total_changes64(self.handle) as u64 }
    }

    pub fn last_insert_rowid(&self) -> i64 {
        unsafe { ffi::sqlite3_last_insert_rowid(self.handle) }
    }

    pub(super) fn last_error(&self) -> DbError {
        last_error(self.handle)
    }
}

impl Drop for LocalConnection {
    fn drop(&mut self) {
        // The commit hook and the authorizer point into `shared_fsync` and `synchronous`, which
        // are dropped after this.
        unsafe { ffi::sqlite3_commit_hook(self.handle, None, ptr::null_mut()) };
        unsafe { ffi::sqlite3_set_authorizer(self.handle, None, ptr::null_mut()) };
        // close_v2: any statement not yet finalized keeps the connection alive until it is.
        unsafe { ffi::sqlite3_close_v2(self.handle) };
    }
}

/// Process-wide engine settings, before anything initializes the engine.
///
/// The `libsql` crate (replicas) sets the engine's threading mode once per process and insists
/// on being first: after the engine is initialized that setting is refused, and the crate
/// then panics on every replica opened in the process. So its one-time setup runs here, before
/// the first local connection initializes the engine, by opening (and dropping) an in-memory
/// database through it. Before that: no allocation statistics (they take a global mutex on
/// every allocation SQLite makes, and nothing here reads them — better-sqlite3 compiles them
/// out for the same reason).
fn configure_engine_once() {
    static CONFIGURE: std::sync::Once = std::sync::Once::new();
    CONFIGURE.call_once(|| {
        // SQLITE_MISUSE when a replica initialized the engine first; the setting is an
        // optimization, so that is fine.
        unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) };
        // Opening a local database does no I/O that waits, so one blocking poll completes it.
        let _ = futures::executor::block_on(libsql::Builder::new_local(":memory:").build());
    });
}

fn last_error(handle: *mut ffi::sqlite3) -> DbError {
    let code = unsafe { ffi::sqlite3_extended_errcode(handle) };
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(handle)) }.to_string_lossy().into_owned();
    DbError::sqlite(code, message)
}

fn errstr(code: c_int) -> String {
    unsafe { CStr::from_ptr(ffi::sqlite3_errstr(code)) }.to_string_lossy().into_owned()
}

/// A prepared statement, finalized on drop.
pub struct LocalStatement {
    raw: *mut ffi::sqlite3_stmt,
}

// SAFETY: as for LocalConnection: one owner, one thread at a time.
unsafe impl Send for LocalStatement {}

impl LocalStatement {
    /// Binds `value` to the 1-based `index` (SQLite copies text and blobs).
    pub fn bind(&self, index: usize, value: &Value) -> DbResult<()> {
        let i = index as c_int;
        let rc = unsafe {
            match value {
                Value::Null => ffi::sqlite3_bind_null(self.raw, i),
                Value::Integer(n) => ffi::sqlite3_bind_int64(self.raw, i, *n),
                Value::Real(f) => ffi::sqlite3_bind_double(self.raw, i, *f),
                Value::Text(s) => ffi::sqlite3_bind_text64(
                    self.raw,
                    i,
                    s.as_ptr().cast(),
                    s.len() as u64,
                    ffi::SQLITE_TRANSIENT(),
                    ffi::SQLITE_UTF8 as u8,
                ),
                Value::Blob(b) => {
                    ffi::sqlite3_bind_blob64(self.raw, i, b.as_ptr().cast(), b.len() as u64, ffi::SQLITE_TRANSIENT())
                }
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(last_error(unsafe { ffi::sqlite3_db_handle(self.raw) }).context(&format!("binding parameter {index}")));
        }
        Ok(())
    }

    /// Whether running the statement leaves the database as it is (SQLite's own judgement).
    pub fn is_read_only(&self) -> bool {
        unsafe { ffi::sqlite3_stmt_readonly(self.raw) != 0 }
    }

    pub fn column_count(&self) -> usize {
        unsafe { ffi::sqlite3_column_count(self.raw) as usize }
    }

    /// How many times SQLite has recompiled this statement after a schema change; its
    /// columns may differ after each.
    pub fn recompile_count(&self) -> i32 {
        unsafe { ffi::sqlite3_stmt_status(self.raw, ffi::SQLITE_STMTSTATUS_REPREPARE, 0) }
    }

    /// The column's name as SQLite holds it (UTF-8), valid while the statement lives.
    pub fn column_name_bytes(&self, index: usize) -> &[u8] {
        let name = unsafe { ffi::sqlite3_column_name(self.raw, index as c_int) };
        if name.is_null() {
            return &[];
        }
        unsafe { CStr::from_ptr(name) }.to_bytes()
    }

    /// Starts executing; the returned guard resets the statement however execution ends (an
    /// error, an early return, a panic), so a cached statement never keeps a read snapshot or
    /// resumes a half-read result.
    pub fn run(&self) -> Running<'_> {
        Running { statement: self }
    }
}

impl Drop for LocalStatement {
    fn drop(&mut self) {
        unsafe { ffi::sqlite3_finalize(self.raw) };
    }
}

pub struct Running<'a> {
    statement: &'a LocalStatement,
}

impl Running<'_> {
    /// Advances to the next row: `true` when there is one.
    pub fn step(&mut self) -> DbResult<bool> {
        match unsafe { ffi::sqlite3_step(self.statement.raw) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            _ => Err(last_error(unsafe { ffi::sqlite3_db_handle(self.statement.raw) })),
        }
    }

    /// Values per row, as of the current step (a recompile inside the first step may change it).
    pub fn width(&self) -> usize {
        self.statement.column_count()
    }

    /// The current row's value in column `index`, borrowed from SQLite until the next step.
    /// TEXT is read by its byte length, so NUL characters survive.
    pub fn column(&self, index: usize) -> ColumnRef<'_> {
        let raw = self.statement.raw;
        let i = index as c_int;
        unsafe {
            match ffi::sqlite3_column_type(raw, i) {
                ffi::SQLITE_INTEGER => ColumnRef::Integer(ffi::sqlite3_column_int64(raw, i)),
                ffi::SQLITE_FLOAT => ColumnRef::Real(ffi::sqlite3_column_double(raw, i)),
                ffi::SQLITE_TEXT => {
                    let text = ffi::sqlite3_column_text(raw, i);
                    ColumnRef::Text(bytes_of(text, ffi::sqlite3_column_bytes(raw, i)))
                }
                ffi::SQLITE_BLOB => {
                    let blob = ffi::sqlite3_column_blob(raw, i);
                    ColumnRef::Blob(bytes_of(blob.cast(), ffi::sqlite3_column_bytes(raw, i)))
                }
                _ => ColumnRef::Null,
            }
        }
    }

    /// The current row's value in column `index`, owned. TEXT that is not valid UTF-8 (only
    /// possible through casts of blobs) is read with U+FFFD replacements, as V8 does.
    pub fn value(&self, index: usize) -> Value {
        match self.column(index) {
            ColumnRef::Null => Value::Null,
            ColumnRef::Integer(n) => Value::Integer(n),
            ColumnRef::Real(f) => Value::Real(f),
            ColumnRef::Text(bytes) => Value::Text(match std::str::from_utf8(bytes) {
                Ok(valid) => valid.to_owned(),
                Err(_) => String::from_utf8_lossy(bytes).into_owned(),
            }),
            ColumnRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        unsafe { ffi::sqlite3_reset(self.statement.raw) };
    }
}

unsafe fn bytes_of<'a>(data: *const u8, len: c_int) -> &'a [u8] {
    if data.is_null() || len <= 0 {
        &[]
    } else {
        std::slice::from_raw_parts(data, len as usize)
    }
}

impl Placeholders for LocalStatement {
    fn count(&self) -> usize {
        unsafe { ffi::sqlite3_bind_parameter_count(self.raw) as usize }
    }

    fn name(&self, index: usize) -> Option<&str> {
        let name = unsafe { ffi::sqlite3_bind_parameter_name(self.raw, index as c_int) };
        if name.is_null() {
            return None;
        }
        unsafe { CStr::from_ptr(name) }.to_str().ok()
    }
}

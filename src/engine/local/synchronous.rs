//! `PRAGMA synchronous` as the application sets and reads it.
//!
//! A connection whose commits share their syncs (`shared_fsync.rs`) runs SQLite at NORMAL and
//! syncs the WAL itself, giving FULL's durability. So SQLite's own level is not what the
//! connection gives: the application's `PRAGMA synchronous = NORMAL` would read like ours and
//! change nothing, and reading the level would say NORMAL on a connection that syncs every
//! commit. Both are told apart here by what SQLite itself parsed, whatever the spelling
//! (case, spacing, comments, quotes, `main.`, `(…)`): the authorizer sees every pragma as it
//! is prepared, with its name and value, before it takes effect.
//!
//! SQLite applies a level and computes a level it returns when the pragma is *prepared*, not
//! when it runs, so the statement cache never keeps a pragma (`cache.rs`).

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr};

use libsql::ffi;

/// What the authorizer saw of `PRAGMA [main.]synchronous` since it was last cleared.
#[derive(Default)]
pub(super) struct SynchronousWatch {
    /// A level was set (it has taken effect in SQLite).
    pub(super) set: Cell<bool>,
    /// The level was read.
    pub(super) read: Cell<bool>,
}

impl SynchronousWatch {
    pub(super) fn clear(&self) {
        self.set.set(false);
        self.read.set(false);
    }
}

/// The level the connection gives while its commits share syncs: FULL.
pub(super) const SHARED_FSYNCS_LEVEL: &str = "SELECT 2 AS synchronous";

/// Installs the watch as the connection's authorizer; `watch` must outlive the connection's
/// use of it (it is boxed in the connection and unregistered before it is dropped).
pub(super) fn watch_synchronous(handle: *mut ffi::sqlite3, watch: &SynchronousWatch) {
    let data = watch as *const SynchronousWatch as *mut c_void;
    unsafe { ffi::sqlite3_set_authorizer(handle, Some(authorize), data) };
}

/// Notes `PRAGMA synchronous` on the main database and allows everything.
unsafe extern "C" fn authorize(data: *mut c_void, action: c_int, name: *const c_char, value: *const c_char, database: *const c_char, _trigger: *const c_char) -> c_int {
    if action == ffi::SQLITE_PRAGMA && is(name, b"synchronous") && (database.is_null() || is(database, b"main")) {
        // SAFETY: the pointer is the connection's boxed watch (see `watch_synchronous`).
        let watch = unsafe { &*(data as *const SynchronousWatch) };
        match value.is_null() {
            true => watch.read.set(true),
            false => watch.set.set(true),
        }
    }
    ffi::SQLITE_OK
}

/// Whether the C string `text` is `expected`, ignoring ASCII case (as SQLite matches names).
fn is(text: *const c_char, expected: &[u8]) -> bool {
    !text.is_null() && unsafe { CStr::from_ptr(text) }.to_bytes().eq_ignore_ascii_case(expected)
}

//! Commits that share one fsync: local files at durability `'full'`.
//!
//! At `synchronous=FULL` SQLite fsyncs the WAL inside every COMMIT, on the JS thread, so the
//! commits of concurrent work (many conversations at once) each pay a sync, one after another.
//! Such a connection runs at `synchronous=NORMAL` instead, which writes the very same bytes to
//! the WAL and keeps the syncs that guard its structure (the WAL header's after a restart, the
//! ones around checkpoints) but leaves out the sync at commit; it counts its commits (a commit
//! hook) and syncs the WAL itself, once for all the commits made since the last sync. The JS
//! layer holds every result until such a sync has covered it (lib/database/shared-fsync.ts), so
//! nothing is acknowledged before it is on disk, as at FULL.
//!
//! Only in WAL mode: at NORMAL a rollback journal is not safe against power loss. A connection
//! switched out of WAL (`PRAGMA journal_mode`) goes back to FULL as soon as the pragma has run.
//! A level the application sets with `PRAGMA synchronous` is the level it gets
//! (`synchronous.rs`).

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ptr;

use libsql::ffi;

use crate::error::{DbError, DbResult};
use crate::values::ColumnRef;

use super::connection::{count_commit, SharedFsync, LocalConnection};

impl LocalConnection {
    /// Switches the connection to commits that share syncs, if it is in WAL mode; else it
    /// keeps syncing at every commit.
    pub fn share_fsyncs(&mut self) -> DbResult<()> {
        if self.pragma("journal_mode")?.as_deref() != Some("wal") {
            return Ok(());
        }
        self.shares_fsyncs_at_full = true;
        self.start_sharing()
    }

    /// SQLite at NORMAL, the commits counted, to be synced by `fsync_commits`.
    fn start_sharing(&mut self) -> DbResult<()> {
        self.exec("PRAGMA synchronous = NORMAL")?;
        if self.shared_fsync.is_none() {
            let commits = Box::new(Cell::new(0));
            let counter = &*commits as *const Cell<u64> as *mut c_void;
            unsafe { ffi::sqlite3_commit_hook(self.handle, Some(count_commit), counter) };
            self.shared_fsync = Some(SharedFsync { commits, synced: 0 });
        }
        Ok(())
    }

    /// Whether the connection's commits share syncs (until a pragma ends it).
    pub fn shares_fsyncs(&self) -> bool {
        self.shared_fsync.is_some()
    }

    /// Whether a commit has been made that no sync has covered yet.
    pub fn awaits_fsync(&self) -> bool {
        self.shared_fsync.as_ref().is_some_and(|sync| sync.commits.get() > sync.synced)
    }

    /// Makes every commit so far durable with one sync of the WAL.
    pub fn fsync_commits(&mut self) -> DbResult<()> {
        let Some(sync) = &self.shared_fsync else { return Ok(()) };
        let commits = sync.commits.get();
        if commits == sync.synced {
            return Ok(());
        }
        self.sync_file(ffi::SQLITE_FCNTL_JOURNAL_POINTER)?;
        if let Some(sync) = &mut self.shared_fsync {
            sync.synced = commits;
        }
        Ok(())
    }

    /// After a pragma or a script, which may have set the sync level or changed the journal
    /// mode. A level the application set is the level it gets: FULL (in WAL mode, on a
    /// connection opened at durability 'full') with shared syncs, any other with SQLite doing
    /// as that level says — OFF and NORMAL sync no commit. Out of WAL mode, where NORMAL is not
    /// safe, a connection sharing syncs goes back to FULL. Commits so far are synced first.
    pub fn recheck_shared_fsyncs(&mut self) -> DbResult<()> {
        let level_set = self.synchronous.set.take();
        if !level_set && self.shared_fsync.is_none() {
            return Ok(());
        }
        let wal = self.pragma("journal_mode")?.as_deref() == Some("wal");
        if level_set {
            // SQLite applied the level as it prepared the pragma.
            let full = self.pragma("synchronous")?.as_deref() == Some("2");
            return match full && wal && self.shares_fsyncs_at_full {
                true => self.start_sharing(),
                false => self.stop_sharing(),
            };
        }
        if !wal {
            self.stop_sharing()?;
            self.exec("PRAGMA synchronous = FULL")?;
        }
        Ok(())
    }

    /// Commits sync as SQLite's level says from now on; those made so far are synced now.
    fn stop_sharing(&mut self) -> DbResult<()> {
        let Some(sync) = self.shared_fsync.take() else { return Ok(()) };
        unsafe { ffi::sqlite3_commit_hook(self.handle, None, ptr::null_mut()) };
        if sync.commits.get() > sync.synced {
            self.sync_file(ffi::SQLITE_FCNTL_JOURNAL_POINTER)?;
            self.sync_file(ffi::SQLITE_FCNTL_FILE_POINTER)?;
        }
        Ok(())
    }

    /// Syncs the file SQLite hands out for `pointer_op` (the WAL or rollback journal, or the
    /// database file) through SQLite's own VFS, as a commit at FULL would.
    fn sync_file(&self, pointer_op: c_int) -> DbResult<()> {
        let mut file: *mut ffi::sqlite3_file = ptr::null_mut();
        let rc = unsafe { ffi::sqlite3_file_control(self.handle, c"main".as_ptr(), pointer_op, (&mut file as *mut *mut ffi::sqlite3_file).cast()) };
        if rc != ffi::SQLITE_OK {
            return Err(self.last_error());
        }
        // A file SQLite has not opened has nothing written to sync.
        let Some(sync) = (unsafe { file.as_ref() }).and_then(|file| unsafe { file.pMethods.as_ref() }).and_then(|methods| methods.xSync) else {
            return Ok(());
        };
        match unsafe { sync(file, ffi::SQLITE_SYNC_NORMAL) } {
            ffi::SQLITE_OK => Ok(()),
            rc => Err(DbError::sqlite(rc, "the commit is written but could not be made durable: syncing the file failed")),
        }
    }

    /// A pragma's value as text (lowercase), `None` when it returns no row.
    fn pragma(&self, name: &str) -> DbResult<Option<String>> {
        let statement = self.prepare_own(&format!("PRAGMA main.{name}"))?;
        let mut running = statement.run();
        Ok(match running.step()? {
            true => Some(match running.column(0) {
                ColumnRef::Text(text) => String::from_utf8_lossy(text).to_ascii_lowercase(),
                ColumnRef::Integer(n) => n.to_string(),
                _ => String::new(),
            }),
            false => None,
        })
    }
}

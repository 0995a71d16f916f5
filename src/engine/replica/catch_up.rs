//! How far an embedded replica's file lags behind the writes its connection sent to the
//! primary. Shared between the replica's task (which sends the writes and syncs) and the JS
//! thread (whose reader answers reads from the file only when that cannot miss a write).

use std::sync::atomic::{AtomicU64, Ordering};

pub struct CatchUp {
    /// Writes sent to the primary so far (a count; each is numbered by it).
    sent: AtomicU64,
    /// The writes, by that count, a completed sync has brought into the file.
    synced: AtomicU64,
    /// `readYourWrites`: whether a read must see the writes made before it.
    read_your_writes: bool,
}

impl CatchUp {
    pub fn new(read_your_writes: bool) -> CatchUp {
        CatchUp { sent: AtomicU64::new(0), synced: AtomicU64::new(0), read_your_writes }
    }

    /// Whether a read may be answered from the file: it then sees every write made before it
    /// (or the user asked for no such guarantee).
    pub fn file_serves_reads(&self) -> bool {
        !self.read_your_writes || self.file_is_current()
    }

    /// Whether every write sent has been synced into the file.
    pub fn file_is_current(&self) -> bool {
        self.synced.load(Ordering::Acquire) >= self.sent.load(Ordering::Acquire)
    }

    /// Called before a write goes to the primary: until a sync after it, the file lacks it.
    pub(super) fn write_sent(&self) {
        self.sent.fetch_add(1, Ordering::AcqRel);
    }

    /// Called as a sync starts, with no write in flight (the replica's task runs one thing at a
    /// time): what it returns, `synced` passes on once the sync completed.
    pub(super) fn sync_starts(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }

    pub(super) fn synced(&self, mark: u64) {
        self.synced.fetch_max(mark, Ordering::AcqRel);
    }
}

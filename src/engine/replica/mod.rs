//! Embedded replicas: a file kept in step with a primary server, read locally, written on the
//! primary.
//!
//! Writes travel exactly as a server connection's do: through our Hrana client
//! (`remote/`), on a kept stream, calls made together in one request, a transaction's BEGIN
//! with its first statement — over HTTP or WebSocket as `syncUrl` says. The file is brought up
//! to date by the `libsql` crate's frame replication (`copy.rs`).
//!
//! Read-your-writes: a read that could miss a write this connection made goes to the primary
//! instead of the file, until a sync has brought the write in (`catch_up.rs` counts both). The
//! sync starts in the background once the writes pause for `CATCH_UP_AFTER`, whatever reads go
//! on (`catch_up`, called by `executor/serial.rs` between calls), so a burst of writes and the
//! reads among them cost the primary's round trips only, and once the burst is over reads are
//! local again; close() syncs what is left, so the file keeps the writes made through it. A read the primary cannot be reached
//! for is answered from the file: the replica keeps serving what it has while the server is
//! away, and syncs only once the primary answers again (a sync of an unreachable server
//! retries its handshake for seconds).

mod catch_up;
mod copy;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::error::{DbResult, ErrorCode};
use crate::options::OpenOptions;
use crate::sql::text::reads_only;
use crate::values::Params;

use super::remote::{Call, CallResult, RemoteConnection};
use super::StatementResult;
pub use catch_up::CatchUp;
use copy::ReplicaCopy;

/// How long the writes must pause before the file is synced with them. A sync costs the link a
/// round trip or more; paid between every two writes it would slow a burst of them down, while
/// a pause this long is where an agent waits for its model.
const CATCH_UP_AFTER: Duration = Duration::from_millis(50);

/// After a failed catch-up sync, the next waits twice as long as the last, up to this.
const CATCH_UP_RETRY_LIMIT: Duration = Duration::from_secs(5);

pub struct ReplicaConnection {
    primary: RemoteConnection,
    copy: ReplicaCopy,
    catch_up: Arc<CatchUp>,
    /// When the last write was sent to the primary.
    last_write: Instant,
    /// The catch-up sync running in the background: whether it brought the file up to date.
    background_sync: Option<JoinHandle<bool>>,
    /// No catch-up before this (after a failed one).
    retry_at: Option<Instant>,
    /// How long the last failed catch-up made the next wait.
    retry_pause: Duration,
    /// The primary's last answer was that it could not be reached.
    primary_unreachable: bool,
    /// The primary's url is `https://`, `wss://` or `libsql://` (`naming_tls_failures`).
    speaks_tls: bool,
}

impl ReplicaConnection {
    pub async fn open(options: &OpenOptions, path: &std::path::Path, sync_url: &str, primary_url: &str) -> DbResult<ReplicaConnection> {
        let mut primary = RemoteConnection::new(primary_url, options.auth_token.as_deref(), options.request_timeout, options.busy_timeout)?;
        let speaks_tls = !(primary_url.starts_with("http://") || primary_url.starts_with("ws://"));
        // Only a new replica's opening reaches the server (its first sync); one whose file
        // exists opens without it, and its first write names a TLS failure itself.
        let is_new = !path.exists();
        let copy = naming_tls_failures(&mut primary, speaks_tls && is_new, ReplicaCopy::open(options, path, sync_url)).await?;
        Ok(ReplicaConnection {
            primary,
            speaks_tls,
            copy,
            catch_up: Arc::new(CatchUp::new(options.read_your_writes)),
            last_write: Instant::now(),
            background_sync: None,
            retry_at: None,
            retry_pause: Duration::ZERO,
            primary_unreachable: false,
        })
    }

    /// What the JS thread's reader asks before answering a read from the file.
    pub fn file_lag(&self) -> Arc<CatchUp> {
        Arc::clone(&self.catch_up)
    }

    pub fn in_transaction(&self) -> bool {
        self.primary.in_transaction()
    }

    /// Whether the file lacks writes made here, with no transaction in the way of a sync.
    pub fn file_lags(&self) -> bool {
        !self.catch_up.file_is_current() && !self.in_transaction()
    }

    pub fn begin(&mut self) -> DbResult<()> {
        self.write_sent();
        self.primary.begin()
    }

    /// A lane on the primary's stream, for writes pipelined beside this connection's
    /// (`Connection::pipelined_lane`).
    pub fn primary_pipelined(&self) -> Option<RemoteConnection> {
        self.primary.pipelined()
    }

    /// A write is on its way to the primary: the file lacks it until a sync.
    pub fn write_sent(&mut self) {
        self.catch_up.write_sent();
        self.last_write = Instant::now();
    }

    pub async fn statement(&mut self, sql: &str, params: Params, want_rows: bool) -> DbResult<StatementResult> {
        let results = self.calls(vec![Call::Statement { sql: sql.to_owned(), params, want_rows }]).await;
        match results.into_iter().next().expect("one result per call") {
            Ok(CallResult::Statement(result)) => Ok(result),
            Ok(CallResult::Batch(_)) => unreachable!("a statement's result is a statement's"),
            Err(err) => Err(err),
        }
    }

    /// Calls made together: reads the file may answer are answered there; otherwise all go to
    /// the primary in one request, as on a server.
    pub async fn calls(&mut self, calls: Vec<Call>) -> Vec<DbResult<CallResult>> {
        let outside_transaction = !self.in_transaction();
        let all_read = outside_transaction && calls.iter().all(|call| matches!(call, Call::Statement { sql, .. } if reads_only(sql)));
        if all_read && self.catch_up.file_serves_reads() {
            return self.read_file(calls).await;
        }
        if !all_read {
            self.write_sent();
        }
        let copies = all_read.then(|| calls.clone());
        let results = self.primary.calls(calls).await;
        self.primary_unreachable = results.iter().any(|result| matches!(result, Err(err) if err.code == ErrorCode::ServerUnreachable));
        match copies {
            // Reads the primary cannot be reached for: the file has the best answer left.
            Some(calls) if self.primary_unreachable => {
                self.read_file(calls).await
            }
            _ => results,
        }
    }

    async fn read_file(&mut self, calls: Vec<Call>) -> Vec<DbResult<CallResult>> {
        let mut results = Vec::with_capacity(calls.len());
        for call in calls {
            let Call::Statement { sql, params, want_rows } = call else { unreachable!("only statements are read from the file") };
            results.push(self.copy.read(&sql, params).await.map(|mut result| {
                if !want_rows {
                    result.rows = Default::default();
                }
                result.last_insert_rowid = self.primary.last_insert_rowid();
                CallResult::Statement(result)
            }));
        }
        results
    }

    pub async fn batch(&mut self, statements: Vec<(String, Params)>) -> DbResult<Vec<StatementResult>> {
        self.write_sent();
        let outcome = self.primary.batch(statements).await;
        self.observe(outcome)
    }

    pub async fn exec(&mut self, script: &str) -> DbResult<()> {
        self.write_sent();
        let outcome = self.primary.exec(script).await;
        self.observe(outcome)
    }

    pub async fn commit(&mut self) -> DbResult<()> {
        let outcome = self.primary.commit().await;
        self.observe(outcome)
    }

    fn observe<T>(&mut self, outcome: DbResult<T>) -> DbResult<T> {
        self.primary_unreachable = matches!(&outcome, Err(err) if err.code == ErrorCode::ServerUnreachable);
        outcome
    }

    pub async fn rollback(&mut self) {
        self.primary.rollback().await
    }

    /// Pulls the primary's new frames into the file now: `(frame_no, frames_synced)`.
    pub async fn sync(&mut self) -> DbResult<(Option<u64>, u64)> {
        let mark = self.catch_up.sync_starts();
        let synced = naming_tls_failures(&mut self.primary, self.speaks_tls, self.copy.sync()).await?;
        self.catch_up.synced(mark);
        self.primary_unreachable = false;
        Ok(synced)
    }

    /// Starts a sync of the file in the background when one is due — the file lags, the
    /// writes paused for `CATCH_UP_AFTER` (longer after a failed try), none is running, the
    /// primary answered last — so the calls made meanwhile do not wait for it. Called between
    /// calls: no write is in flight, so the sync covers every write sent so far. Returns how
    /// long until it should be called again; `None`: not before the next call.
    pub fn catch_up(&mut self) -> Option<Duration> {
        if let Some(running) = &self.background_sync {
            if !running.is_finished() {
                return Some(CATCH_UP_AFTER);
            }
            let finished = self.background_sync.take().expect("a finished sync");
            // Finished: its result is there at once.
            let synced = futures::FutureExt::now_or_never(finished).is_some_and(|synced| synced.unwrap_or(false));
            (self.retry_pause, self.retry_at) = match synced {
                true => (Duration::ZERO, None),
                false => {
                    let pause = (self.retry_pause * 2).clamp(CATCH_UP_AFTER, CATCH_UP_RETRY_LIMIT);
                    (pause, Some(Instant::now() + pause))
                }
            };
        }
        if !self.file_lags() || self.primary_unreachable {
            return None;
        }
        let due = self.retry_at.map_or(self.last_write + CATCH_UP_AFTER, |retry| retry.max(self.last_write + CATCH_UP_AFTER));
        let now = Instant::now();
        if now < due {
            return Some(due - now);
        }
        let (mark, catch_up, sync) = (self.catch_up.sync_starts(), Arc::clone(&self.catch_up), self.copy.sync());
        self.background_sync = Some(tokio::spawn(async move {
            let synced = sync.await.is_ok();
            if synced {
                catch_up.synced(mark);
            }
            synced
        }));
        Some(CATCH_UP_AFTER)
    }

    /// Syncs what the file still lacks (unless the primary is known to be away), so the file
    /// keeps the writes made through it, and lets the server go of the kept stream.
    pub async fn close(&mut self) {
        // A catch-up under way is let finish (it is bounded as every sync is): one stopped
        // halfway left the next sync waiting requestTimeout for the server (measured: 30 s
        // closes).
        if let Some(running) = self.background_sync.take() {
            let _ = running.await;
        }
        if self.file_lags() && !self.primary_unreachable {
            let _ = self.sync().await;
        }
        self.primary.close().await
    }
}

/// Runs `replication` (an open's first sync, or a sync) beside one request of our own client to
/// a primary that speaks TLS. A certificate the replication cannot accept shows there only as
/// handshake retries and then a timeout that names neither TLS nor the certificate; our client
/// names the failure (`TLS_FAILED`) at once, and the sync is then abandoned. Otherwise both
/// finish (the request opened the stream the replica's writes keep).
async fn naming_tls_failures<T>(primary: &mut RemoteConnection, speaks_tls: bool, replication: impl Future<Output = DbResult<T>>) -> DbResult<T> {
    if !speaks_tls {
        return replication.await;
    }
    let (mut replication, mut reach) = (pin!(replication), pin!(primary.reach()));
    tokio::select! {
        replicated = &mut replication => {
            let _ = reach.await;
            replicated
        }
        reached = &mut reach => match reached {
            Err(err) if err.code == ErrorCode::TlsFailed => Err(err),
            _ => replication.await,
        },
    }
}

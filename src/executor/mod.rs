//! The executor: where a connection's operations run, and in which order. One scheduler per
//! execution model, chosen at open:
//!
//! * `inline.rs` — local targets (`:memory:`, files) run each operation to completion on the JS
//!   thread and return its value directly. A point query costs a few microseconds, while a hop
//!   to a worker thread and back costs tens; the event loop is blocked only for the statement
//!   itself, exactly as with better-sqlite3 (README "Execution model").
//! * `worker.rs` — servers and replicas return Promises: the JS thread holds the statements
//!   called in one turn and hands them on together, with everything else, to a task on the
//!   tokio runtime:
//!   * `pool.rs` for a server: lanes (each a stream of its own) side by side, so independent
//!     callers' requests overlap, up to `concurrency`; writes on the writer's one stream,
//!     pipelined over WebSocket on a slow link; a transaction keeps the writer's stream to itself;
//!   * `serial.rs` for an embedded replica: its one connection, one job at a time in call order,
//!     its top-level writes pipelined to the primary as a server's are.
//!
//! No Rust panic reaches Node: every operation runs under `catch_unwind` and a panic becomes a
//! `LibsqlError` with code `INTERNAL`.

mod inline;
mod job;
mod pool;
mod round_trip;
mod serial;
mod worker;

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use napi::bindgen_prelude::*;
use tokio::sync::mpsc;

use crate::engine::{Connection, Op};
use crate::error::{DbError, DbResult, ErrorCode};
use crate::js::error::ToJsError;
use crate::js::primitives::{undefined, RawValue};
use crate::js::row_builder::RowBuilderSlot;
use crate::options::{OpenOptions, Target};

pub use job::{Job, Reply};
pub use worker::{ReplicaReader, Worker};

/// A connection whose local statements keep their row builders.
pub type JsConnection = Connection<RowBuilderSlot>;

/// Which transaction an operation belongs to: the number the JS layer gave it at `begin`.
/// `None`: a top-level call.
pub type TransactionId = Option<u64>;

/// Where operations run. `None` inside once closed.
pub enum Executor {
    /// Local: the connection itself, used on the JS thread.
    Inline(RefCell<Option<JsConnection>>),
    /// Remote and replica: the task that owns the connection (or a server's lanes).
    Worker(Worker),
}

/// The most statements one request carries when many are called at once.
const MAX_TOGETHER: usize = 256;

/// A connection opened off the JS thread, before it has an executor.
pub enum Opened {
    Inline(JsConnection),
    Worker { queue: mpsc::UnboundedSender<Job>, reader: Option<ReplicaReader>, overlaps: bool },
}

/// Opens the connection: a local one comes back to run on the JS thread; a server's goes to a
/// pool of lanes, a replica's to a task of its own, on the async runtime.
pub async fn open(options: OpenOptions) -> DbResult<Opened> {
    guarded(async move {
        let connection = JsConnection::open(&options).await?;
        if connection.target().is_local() {
            return Ok(Opened::Inline(connection));
        }
        let (queue, jobs) = mpsc::unbounded_channel();
        Ok(match connection.target() {
            Target::Replica { .. } => {
                let catch_up = connection.file_lag().expect("a replica counts its file's lag");
                let reader = Some(ReplicaReader { connection: JsConnection::open_replica_reader(&options)?, catch_up });
                tokio::spawn(serial::work(connection, jobs));
                Opened::Worker { queue, reader, overlaps: false }
            }
            _ => {
                tokio::spawn(pool::work(connection, options.concurrency, jobs));
                Opened::Worker { queue, reader: None, overlaps: true }
            }
        })
    })
    .await
}

impl Executor {
    pub fn new(opened: Opened) -> Executor {
        match opened {
            Opened::Inline(connection) => Executor::Inline(RefCell::new(Some(connection))),
            Opened::Worker { queue, reader, overlaps } => Executor::Worker(Worker::new(queue, reader, overlaps)),
        }
    }

    /// Runs `op`: inline, returning its value, or handed to the worker, returning a Promise.
    /// `transaction` is ignored inline (one connection, one transaction at a time).
    pub fn dispatch(&self, env: &Env, op: DbResult<Op>, transaction: TransactionId) -> Result<RawValue> {
        let op = op.map_err(|e| e.into_napi(env.raw()))?;
        match self {
            Executor::Inline(slot) => inline::dispatch(slot, env, op),
            Executor::Worker(worker) => worker.dispatch(env, op, transaction),
        }
    }

    /// Whether separate transactions (and top-level calls beside them) may run at once: a
    /// server's, each on a lane of its own.
    pub fn overlaps_transactions(&self) -> bool {
        matches!(self, Executor::Worker(worker) if worker.overlaps())
    }

    /// Whether a transaction is open on a local connection (a statement that failed inside one
    /// may have rolled it back). Always false for remote targets.
    pub fn in_transaction(&self) -> bool {
        self.inline_flag(JsConnection::in_transaction)
    }

    /// Whether local commits share their syncs (`Connection::shares_fsyncs`).
    pub fn shares_fsyncs(&self) -> bool {
        self.inline_flag(JsConnection::shares_fsyncs)
    }

    /// Whether a local commit is waiting for its sync (`Connection::awaits_fsync`).
    pub fn awaits_fsync(&self) -> bool {
        self.inline_flag(JsConnection::awaits_fsync)
    }

    fn inline_flag(&self, flag: fn(&JsConnection) -> bool) -> bool {
        match self {
            Executor::Inline(slot) => slot.try_borrow().ok().is_some_and(|connection| connection.as_ref().is_some_and(flag)),
            Executor::Worker(_) => false,
        }
    }

    /// Syncs the local commits made so far, once for all of them; nothing to do once closed.
    pub fn fsync_commits(&self) -> DbResult<()> {
        match self {
            Executor::Inline(slot) => inline::borrow(slot)?.as_mut().map_or(Ok(()), JsConnection::fsync_commits),
            Executor::Worker(_) => Ok(()),
        }
    }

    /// Sends the statements called in this turn to the server, together (`Worker::send_held`).
    pub fn send_held(&self) {
        if let Executor::Worker(worker) = self {
            worker.send_held();
        }
    }

    /// True when operations return values directly instead of Promises.
    pub fn runs_inline(&self) -> bool {
        matches!(self, Executor::Inline(_))
    }

    /// Closes the connection; idempotent. Remote: after the operations queued before.
    pub fn close(&self, env: &Env) -> Result<RawValue> {
        match self {
            Executor::Inline(slot) => {
                drop(slot.borrow_mut().take());
                unsafe { undefined(env.raw()) }.map(RawValue)
            }
            Executor::Worker(worker) => worker.close(env),
        }
    }
}

/// Runs a future, turning a panic inside it into an `INTERNAL` error.
async fn guarded<T>(future: impl std::future::Future<Output = DbResult<T>>) -> DbResult<T> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(panic_error(panic)),
    }
}

/// Runs statements called together on `connection` and answers each: in one request on a
/// server, one after another elsewhere.
async fn run_statements(connection: &mut JsConnection, statements: Vec<(Op, Reply)>) {
    if statements.len() == 1 {
        for (op, reply) in statements {
            let _ = reply.send(guarded(connection.run(op)).await);
        }
        return;
    }
    let (ops, replies): (Vec<Op>, Vec<_>) = statements.into_iter().unzip();
    let count = ops.len();
    let outcomes = match guarded(async { Ok(connection.run_together(ops).await) }).await {
        Ok(outcomes) => outcomes,
        Err(err) => (0..count).map(|_| Err(err.clone())).collect(),
    };
    for (reply, outcome) in replies.into_iter().zip(outcomes) {
        let _ = reply.send(outcome);
    }
}

pub fn panic_error(panic: Box<dyn std::any::Any + Send>) -> DbError {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    DbError::libsql(ErrorCode::Internal, format!("internal error in flue-libsql (please report): {what}"))
}


//! The executor: where a connection's operations run, and in which order.
//!
//! Execution model (measured; see README "Execution model"):
//! * local targets (`:memory:`, files) run each operation to completion on the JS thread and
//!   return its value directly. A point query costs a few microseconds, while a hop to a
//!   worker thread and back costs tens; the event loop is blocked only for the statement
//!   itself, exactly as with better-sqlite3.
//! * remote targets and replicas run on the tokio runtime and return a Promise. Each
//!   connection has one worker task that owns the session; calls are queued to it on the JS
//!   thread, so they run one at a time in exactly the order they were made.
//!
//! No Rust panic reaches Node: every operation runs under `catch_unwind` and a panic becomes a
//! `LibsqlError` with code `INTERNAL`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use napi::bindgen_prelude::*;
use tokio::sync::{mpsc, oneshot};

use crate::engine::{Connection, Op, Output};
use crate::error::{DbError, DbResult};
use crate::js::error::ToJsError;
use crate::js::primitives::{settled_promise, undefined, RawValue};
use crate::js::row_builder::{JsRows, RowBuilderSlot};
use crate::options::{OpenOptions, Target};
use crate::values::Params;

/// A connection whose local statements keep their row builders.
pub type JsConnection = Connection<RowBuilderSlot>;

/// Where operations run. `None` inside once closed.
pub enum Executor {
    /// Local: the connection itself, used on the JS thread.
    Inline(RefCell<Option<JsConnection>>),
    /// Remote and replica: the worker task that owns the connection.
    Worker(Worker),
}

pub struct Worker {
    /// Its queue. `None` once closed.
    queue: RefCell<Option<mpsc::UnboundedSender<Job>>>,
    /// Statements called in the current turn of the JS thread, sent together at its end
    /// (`send_held`) or before the next other operation, so the server gets them in one request.
    held: RefCell<Vec<(Op, Reply)>>,
    /// Embedded replicas: a read-only connection to the replica's file, whose reads run on the
    /// JS thread at a local file's speed (`Connection::open_replica_reader`).
    reader: RefCell<Option<JsConnection>>,
    /// Operations sent to the worker whose results have not come back: a read never overtakes
    /// them (it must see the writes called before it).
    in_flight: Rc<Cell<usize>>,
    /// A transaction is open on the worker's connection: its statements belong there.
    in_transaction: Cell<bool>,
}

type Reply = oneshot::Sender<DbResult<Output>>;

pub enum Job {
    /// An operation other than a statement.
    Run(Op, Reply),
    /// Statements (`Op::Query`, `Op::Execute`) called together, in call order (`Worker::send_held`).
    Together(Vec<(Op, Reply)>),
    Close(oneshot::Sender<()>),
}

/// The most statements one request carries when many are called at once.
const MAX_TOGETHER: usize = 256;

/// Owns a remote connection and runs its jobs in arrival order until closed. Statements called
/// together (in one turn of the JS thread, or queued behind one another) go to the server in
/// one request, in a transaction or not.
async fn work(mut connection: JsConnection, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match jobs.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        match job {
            Job::Run(op, reply) => {
                let _ = reply.send(guarded(connection.run(op)).await);
            }
            Job::Together(statements) if connection.runs_together() => next = run_together(&mut connection, statements, &mut jobs).await,
            Job::Together(statements) => {
                for (op, reply) in statements {
                    let _ = reply.send(guarded(connection.run(op)).await);
                }
            }
            Job::Close(reply) => {
                connection.close().await;
                drop(connection);
                let _ = reply.send(());
                return;
            }
        }
    }
}

/// Runs `together` and the statements queued right behind it (later turns'), `MAX_TOGETHER` to a
/// request; returns the job that ended the run, if one did.
async fn run_together(connection: &mut JsConnection, mut together: Vec<(Op, Reply)>, jobs: &mut mpsc::UnboundedReceiver<Job>) -> Option<Job> {
    let mut next = None;
    loop {
        match jobs.try_recv() {
            Ok(Job::Together(more)) => together.extend(more),
            Ok(other) => {
                next = Some(other);
                break;
            }
            Err(_) => break,
        }
    }
    let mut together = together.into_iter().peekable();
    while together.peek().is_some() {
        let (ops, replies): (Vec<Op>, Vec<_>) = together.by_ref().take(MAX_TOGETHER).unzip();
        if ops.len() == 1 {
            let op = ops.into_iter().next().expect("one op");
            let _ = replies.into_iter().next().expect("one reply").send(guarded(connection.run(op)).await);
            continue;
        }
        let count = ops.len();
        let outcomes = match guarded(async { Ok(connection.run_together(ops).await) }).await {
            Ok(outcomes) => outcomes,
            Err(err) => (0..count).map(|_| Err(err.clone())).collect(),
        };
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(outcome);
        }
    }
    next
}

/// A connection opened off the JS thread, before it has an executor.
pub enum Opened {
    Inline(JsConnection),
    Worker { queue: mpsc::UnboundedSender<Job>, reader: Option<JsConnection> },
}

/// Opens the connection: a local one comes back to run on the JS thread; a remote one or a
/// replica is given to a worker task on the async runtime.
pub async fn open(options: OpenOptions) -> DbResult<Opened> {
    guarded(async move {
        let connection = JsConnection::open(&options).await?;
        if connection.target().is_local() {
            return Ok(Opened::Inline(connection));
        }
        let reader = match connection.target() {
            Target::Replica { .. } => Some(JsConnection::open_replica_reader(&options)?),
            _ => None,
        };
        let (queue, jobs) = mpsc::unbounded_channel();
        tokio::spawn(work(connection, jobs));
        Ok(Opened::Worker { queue, reader })
    })
    .await
}

impl Executor {
    /// Runs `op`: inline, returning its value, or queued to the worker, returning a Promise.
    pub fn dispatch(&self, env: &Env, op: DbResult<Op>) -> Result<RawValue> {
        let op = op.map_err(|e| e.into_napi(env.raw()))?;
        match self {
            Executor::Inline(slot) => {
                if let Op::Query { sql, params } = op {
                    return query_inline(slot, env, &sql, params).map_err(|e| e.into_napi(env.raw()));
                }
                let output = run_inline(slot, op).map_err(|e| e.into_napi(env.raw()))?;
                Ok(RawValue(unsafe { Output::to_napi_value(env.raw(), output)? }))
            }
            Executor::Worker(worker) => worker.dispatch(env, op),
        }
    }

    pub fn new(opened: Opened) -> Executor {
        match opened {
            Opened::Inline(connection) => Executor::Inline(RefCell::new(Some(connection))),
            Opened::Worker { queue, reader } => Executor::Worker(Worker {
                queue: RefCell::new(Some(queue)),
                held: RefCell::new(Vec::new()),
                reader: RefCell::new(reader),
                in_flight: Rc::new(Cell::new(0)),
                in_transaction: Cell::new(false),
            }),
        }
    }

    /// Whether a transaction is open on a local connection (a statement that failed inside one
    /// may have rolled it back). Always false for remote targets.
    pub fn in_transaction(&self) -> bool {
        match self {
            Executor::Inline(slot) => slot.try_borrow().ok().is_some_and(|connection| connection.as_ref().is_some_and(JsConnection::in_transaction)),
            Executor::Worker(_) => false,
        }
    }

    /// Whether local commits share their syncs (`Connection::shares_commit_syncs`).
    pub fn shares_commit_syncs(&self) -> bool {
        match self {
            Executor::Inline(slot) => slot.try_borrow().ok().is_some_and(|connection| connection.as_ref().is_some_and(JsConnection::shares_commit_syncs)),
            Executor::Worker(_) => false,
        }
    }

    /// Whether a local commit is waiting for its sync (`Connection::has_unsynced_commits`).
    pub fn has_unsynced_commits(&self) -> bool {
        match self {
            Executor::Inline(slot) => slot.try_borrow().ok().is_some_and(|connection| connection.as_ref().is_some_and(JsConnection::has_unsynced_commits)),
            Executor::Worker(_) => false,
        }
    }

    /// Syncs the local commits made so far, once for all of them; nothing to do once closed.
    pub fn sync_commits(&self) -> DbResult<()> {
        match self {
            Executor::Inline(slot) => {
                borrow_inline(slot)?.as_mut().map_or(Ok(()), JsConnection::sync_commits)
            }
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
            Executor::Worker(worker) => {
                drop(worker.reader.borrow_mut().take());
                worker.send_held();
                let (reply, closed) = oneshot::channel();
                // Queued behind every call made before it; a second close finds no queue.
                if let Some(queue) = worker.queue.borrow_mut().take() {
                    let _ = queue.send(Job::Close(reply));
                }
                let promise = env.spawn_future(async move {
                    let _ = closed.await;
                    Ok(())
                })?;
                Ok(RawValue(promise.raw()))
            }
        }
    }
}

impl Worker {
    /// A replica's read runs on its reader when nothing sent to the worker is still pending and
    /// no transaction is open; everything else is queued to the worker, in call order.
    fn dispatch(&self, env: &Env, op: Op) -> Result<RawValue> {
        match &op {
            Op::Query { sql, .. } if self.in_flight.get() == 0 && !self.in_transaction.get() => {
                // A statement the reader cannot prepare (a table the replica has not synced yet,
                // named by a write the server will take) is the worker's to answer.
                let only_reads = self.reader.borrow_mut().as_mut().is_some_and(|reader| reader.only_reads(sql).unwrap_or(false));
                let read = match op {
                    Op::Query { sql, params } if only_reads => query_inline(&self.reader, env, &sql, params).map(|rows| rows.0),
                    op => return self.queue(env, op),
                };
                let settled = match read {
                    Ok(rows) => Ok(rows),
                    Err(err) => Err(err.to_js(env.raw())?),
                };
                return unsafe { settled_promise(env.raw(), settled) }.map(RawValue);
            }
            Op::Begin => self.in_transaction.set(true),
            Op::Commit | Op::Rollback => self.in_transaction.set(false),
            _ => {}
        }
        self.queue(env, op)
    }

    /// Sends the statements held in this turn to the worker, together.
    pub fn send_held(&self) {
        let held = std::mem::take(&mut *self.held.borrow_mut());
        if held.is_empty() {
            return;
        }
        // Closed: the replies are dropped, and their calls fail as closed.
        if let Some(queue) = self.queue.borrow().as_ref() {
            let _ = queue.send(Job::Together(held));
        }
    }

    fn queue(&self, env: &Env, op: Op) -> Result<RawValue> {
        let (reply, result) = oneshot::channel();
        let queued = match op.is_statement() {
            true => {
                self.held.borrow_mut().push((op, reply));
                self.queue.borrow().is_some()
            }
            false => {
                // Everything called before goes first.
                self.send_held();
                self.queue.borrow().as_ref().is_some_and(|queue| queue.send(Job::Run(op, reply)).is_ok())
            }
        };
        self.in_flight.set(self.in_flight.get() + 1);
        let in_flight = Rc::clone(&self.in_flight);
        let promise = env.spawn_future_with_callback(
            async move {
                Ok(match queued {
                    true => result.await.unwrap_or_else(|_| Err(DbError::closed())),
                    false => Err(DbError::closed()),
                })
            },
            move |env, result| {
                in_flight.set(in_flight.get() - 1);
                result.map_err(|e| e.into_napi(env.raw()))
            },
        )?;
        Ok(RawValue(promise.raw()))
    }
}

/// The JS thread's connection, for one operation (`None` inside once closed).
fn borrow_inline(slot: &RefCell<Option<JsConnection>>) -> DbResult<std::cell::RefMut<'_, Option<JsConnection>>> {
    slot.try_borrow_mut().map_err(|_| DbError::libsql("INTERNAL", "the connection is busy with another operation"))
}

/// The hot path: a local `query()` writes rows straight from SQLite's buffers into JS objects.
fn query_inline(slot: &RefCell<Option<JsConnection>>, env: &Env, sql: &str, params: Params) -> DbResult<RawValue> {
    let mut slot = borrow_inline(slot)?;
    let connection = slot.as_mut().ok_or_else(DbError::closed)?;
    let mut rows = unsafe { JsRows::new(env.raw()) }.map_err(|e| DbError::libsql("INTERNAL", e.to_string()))?;
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| connection.query_local(sql, params, &mut rows)))
        .unwrap_or_else(|panic| Some(Err(panic_error(panic))));
    match ran {
        Some(result) => {
            result?;
            unsafe { rows.into_value() }.map(RawValue).map_err(|e| DbError::libsql("INTERNAL", e.to_string()))
        }
        None => Err(DbError::libsql("INTERNAL", "query_inline called for a remote target")),
    }
}

/// Local operations never wait: their futures complete on the first poll (the `async` is for
/// the remote engine), so one poll runs them, with no executor around it.
fn run_inline(slot: &RefCell<Option<JsConnection>>, op: Op) -> DbResult<Output> {
    let mut slot = borrow_inline(slot)?;
    let connection = slot.as_mut().ok_or_else(DbError::closed)?;
    let operation = std::pin::pin!(guarded(connection.run(op)));
    match std::future::Future::poll(operation, &mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => Err(DbError::libsql("INTERNAL", "a local operation did not complete at once")),
    }
}

/// Runs a future, turning a panic inside it into an `INTERNAL` error.
async fn guarded<T>(future: impl std::future::Future<Output = DbResult<T>>) -> DbResult<T> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(panic_error(panic)),
    }
}

pub fn panic_error(panic: Box<dyn std::any::Any + Send>) -> DbError {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    DbError::libsql("INTERNAL", format!("internal error in flue-libsql (please report): {what}"))
}

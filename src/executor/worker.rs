//! The JS thread's side of a server's or a replica's task: it holds the statements called in
//! one turn and hands them on together (one request to a server), hands everything else on at
//! once, and answers each call with a Promise. An embedded replica's reads run here, on a
//! read-only connection to its file, when nothing sent on is still pending and the file has
//! every write made before (`engine/replica`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use tokio::sync::{mpsc, oneshot};

use crate::engine::{CatchUp, Op};
use crate::error::DbError;
use crate::js::error::ToJsError;
use crate::js::primitives::{settled_promise, RawValue};

use super::{inline, Job, JsConnection, Reply, TransactionId};

pub struct Worker {
    /// Its queue. `None` once closed.
    queue: RefCell<Option<mpsc::UnboundedSender<Job>>>,
    /// Statements called in the current turn of the JS thread, sent together at its end
    /// (`send_held`) or before the next other operation, so the server gets them in one request.
    held: RefCell<Vec<(TransactionId, Op, Reply)>>,
    /// Embedded replicas: a read-only connection to the replica's file, whose reads run on the
    /// JS thread at a local file's speed (`Connection::open_replica_reader`).
    reader: RefCell<Option<JsConnection>>,
    /// Whether the replica's file has the writes made here (`engine/replica/catch_up.rs`).
    catch_up: Option<Arc<CatchUp>>,
    /// Operations sent to the worker whose results have not come back: a read never overtakes
    /// them (it must see the writes called before it).
    in_flight: Rc<Cell<usize>>,
    /// A transaction is open on the replica's connection: its statements belong there.
    in_transaction: Cell<bool>,
    /// A server's lanes (`pool.rs`): transactions and top-level calls run side by side.
    overlaps: bool,
}

/// An embedded replica's reader: a read-only connection to its file, and how far the file lags.
pub struct ReplicaReader {
    pub connection: JsConnection,
    pub catch_up: Arc<CatchUp>,
}

impl Worker {
    pub(super) fn new(queue: mpsc::UnboundedSender<Job>, reader: Option<ReplicaReader>, overlaps: bool) -> Worker {
        let (reader, catch_up) = reader.map(|reader| (reader.connection, reader.catch_up)).unzip();
        Worker {
            queue: RefCell::new(Some(queue)),
            held: RefCell::new(Vec::new()),
            reader: RefCell::new(reader),
            catch_up,
            in_flight: Rc::new(Cell::new(0)),
            in_transaction: Cell::new(false),
            overlaps,
        }
    }

    pub(super) fn overlaps(&self) -> bool {
        self.overlaps
    }

    /// A replica's read runs on its reader when nothing sent to the worker is still pending, no
    /// transaction is open and the file has the writes made before; everything else is handed
    /// on, in call order.
    pub(super) fn dispatch(&self, env: &Env, op: Op, transaction: TransactionId) -> Result<RawValue> {
        match &op {
            Op::Query { sql, .. } if self.reads_file() => {
                // A statement the reader cannot prepare (a table the replica has not synced yet,
                // named by a write the server will take) is the worker's to answer.
                let only_reads = self.reader.borrow_mut().as_mut().is_some_and(|reader| reader.only_reads(sql).unwrap_or(false));
                let read = match op {
                    Op::Query { sql, params } if only_reads => inline::query(&self.reader, env, &sql, params).map(|rows| rows.0),
                    op => return self.queue(env, op, transaction),
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
        self.queue(env, op, transaction)
    }

    fn reads_file(&self) -> bool {
        self.in_flight.get() == 0
            && !self.in_transaction.get()
            && self.reader.borrow().is_some()
            && self.catch_up.as_ref().is_some_and(|catch_up| catch_up.file_serves_reads())
    }

    /// Sends the statements held in this turn to the worker: together, one group per
    /// transaction (top-level ones as one), each in call order.
    pub fn send_held(&self) {
        let held = std::mem::take(&mut *self.held.borrow_mut());
        if held.is_empty() {
            return;
        }
        let mut groups: Vec<(TransactionId, Vec<(Op, Reply)>)> = Vec::new();
        for (transaction, op, reply) in held {
            match groups.iter_mut().find(|(group, _)| *group == transaction) {
                Some((_, statements)) => statements.push((op, reply)),
                None => groups.push((transaction, vec![(op, reply)])),
            }
        }
        // Closed: the replies are dropped, and their calls fail as closed.
        if let Some(queue) = self.queue.borrow().as_ref() {
            for (transaction, statements) in groups {
                let _ = queue.send(Job::Together(statements, transaction));
            }
        }
    }

    fn queue(&self, env: &Env, op: Op, transaction: TransactionId) -> Result<RawValue> {
        let (reply, result) = oneshot::channel();
        let queued = match op.is_statement() {
            true => {
                self.held.borrow_mut().push((transaction, op, reply));
                self.queue.borrow().is_some()
            }
            false => {
                // Everything called before goes first.
                self.send_held();
                self.queue.borrow().as_ref().is_some_and(|queue| queue.send(Job::Run(op, reply, transaction)).is_ok())
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

    /// Closes the connection after every call handed on before; a second close finds no queue.
    pub(super) fn close(&self, env: &Env) -> Result<RawValue> {
        drop(self.reader.borrow_mut().take());
        self.send_held();
        let (reply, closed) = oneshot::channel();
        if let Some(queue) = self.queue.borrow_mut().take() {
            let _ = queue.send(Job::Close(reply));
        }
        let promise = env.spawn_future(async move {
            let _ = closed.await;
            Ok(())
        })?;
        Ok(RawValue(promise.raw()))
    }
}

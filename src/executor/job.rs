//! What the JS thread hands to a server's or a replica's task, and how jobs waiting for a lane
//! combine into one request.

use std::collections::VecDeque;

use tokio::sync::oneshot;

use crate::engine::{Op, Output};
use crate::error::{DbError, DbResult};

use super::{TransactionId, MAX_TOGETHER};

pub type Reply = oneshot::Sender<DbResult<Output>>;

/// What the JS thread hands to a server's or a replica's task.
pub enum Job {
    /// An operation other than a statement.
    Run(Op, Reply, TransactionId),
    /// Statements (`Op::Query`, `Op::Execute`) called together, in call order (`Worker::send_held`).
    Together(Vec<(Op, Reply)>, TransactionId),
    Close(oneshot::Sender<()>),
}

impl Job {
    pub fn transaction(&self) -> TransactionId {
        match self {
            Job::Run(_, _, transaction) | Job::Together(_, transaction) => *transaction,
            Job::Close(_) => None,
        }
    }

    /// Whether every statement of a top-level job only reads.
    pub fn only_reads(&self) -> bool {
        match self {
            Job::Together(statements, None) => statements.iter().all(|(op, _)| op.only_reads()),
            _ => false,
        }
    }

    pub fn changes_schema(&self) -> bool {
        match self {
            Job::Run(op, ..) => op.changes_schema(),
            Job::Together(calls, _) => calls.iter().any(|(op, _)| op.changes_schema()),
            Job::Close(_) => false,
        }
    }

    /// Whether a top-level job can travel in one request with others: statements and batches.
    pub fn travels_together(&self) -> bool {
        match self {
            Job::Together(_, None) => true,
            Job::Run(op, _, None) => op.travels_together(),
            _ => false,
        }
    }

    /// Whether it is statements or batches (of a transaction or not) of which one writes: what
    /// an embedded replica sends to its primary, and may pipeline there (`serial.rs`).
    pub fn writes_together(&self) -> bool {
        match self {
            Job::Run(op, ..) => op.travels_together() && !op.only_reads(),
            Job::Together(statements, _) => statements.iter().any(|(op, _)| !op.only_reads()),
            Job::Close(_) => false,
        }
    }

    /// The first job of `queue`; top-level statements and batches waiting right behind it join
    /// it (one request), up to `MAX_TOGETHER` statements.
    pub fn next_of(queue: &mut VecDeque<Job>) -> Job {
        let first = queue.pop_front().expect("a waiting job");
        if !first.travels_together() || !queue.front().is_some_and(Job::travels_together) {
            return first;
        }
        let mut calls = Vec::new();
        let mut statements = 0;
        let mut job = Some(first);
        while let Some(next) = job.take() {
            let size = match &next {
                Job::Together(together, _) => together.len(),
                Job::Run(Op::Batch(batch), ..) => batch.len(),
                _ => 1,
            };
            if !calls.is_empty() && statements + size > MAX_TOGETHER {
                queue.push_front(next);
                break;
            }
            statements += size;
            match next {
                Job::Together(together, _) => calls.extend(together),
                Job::Run(op, reply, _) => calls.push((op, reply)),
                Job::Close(_) => unreachable!("close never waits"),
            }
            if queue.front().is_some_and(Job::travels_together) {
                job = queue.pop_front();
            }
        }
        Job::Together(calls, None)
    }

    /// Answers the job with `err` without running it.
    pub fn refuse(self, err: DbError) {
        match self {
            Job::Run(_, reply, _) => {
                let _ = reply.send(Err(err));
            }
            Job::Together(statements, _) => {
                for (_, reply) in statements {
                    let _ = reply.send(Err(err.clone()));
                }
            }
            Job::Close(reply) => {
                let _ = reply.send(());
            }
        }
    }
}

//! An embedded replica's task: its one connection runs the jobs in arrival order, one at a
//! time. The JS layer runs one transaction at a time on it (its gate), so transaction ids need
//! no routing here.
//!
//! Writes pipelined: over WebSocket on a slow link, top-level writes (statements and batches
//! outside a transaction) go to the primary on lanes that share its stream, up to
//! `PIPELINED_WRITES` requests in flight at once, as a server connection's do (`pool.rs`); the
//! task goes on to the next job without waiting for their answers. Anything else — a
//! transaction, a script, a sync, reads the file may answer — waits until they are answered,
//! and so does the catch-up sync, which must cover every write sent.
//!
//! Between jobs the task lets the replica start a sync of its file in the background once its
//! writes pause (`engine/replica`): reads among a burst of writes go to the primary, and after
//! the burst the file has caught up and answers them again.

use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::Op;

use super::pool::PIPELINED_WRITES;
use super::round_trip::RoundTrip;
use super::{guarded, run_statements, Job, JsConnection, Reply, MAX_TOGETHER};

/// Owns the connection and runs its jobs until closed. Statements queued right behind one
/// another are run as one group.
pub(super) async fn work(mut connection: JsConnection, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut writes = PipelinedWrites::new(&connection);
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match next_job(&mut connection, &mut jobs, &mut writes).await {
                Some(job) => job,
                None => return writes.finish().await,
            },
        };
        let job = match job {
            Job::Together(mut together, transaction) => {
                // Statements of later turns queued behind these join them.
                while let Ok(job) = jobs.try_recv() {
                    match job {
                        Job::Together(more, _) => together.extend(more),
                        other => {
                            next = Some(other);
                            break;
                        }
                    }
                }
                Job::Together(together, transaction)
            }
            job => job,
        };
        let job = match writes.try_send(&mut connection, job).await {
            Some(job) => job,
            None => continue,
        };
        writes.finish().await;
        // Writes always go to the primary: their time is the link's (reads may be the file's).
        let timed = Some(Instant::now()).filter(|_| job.writes_together());
        match job {
            Job::Run(op, reply, _) => {
                let _ = reply.send(guarded(connection.run(op)).await);
            }
            Job::Together(mut together, _) => {
                while !together.is_empty() {
                    let rest = together.split_off(together.len().min(MAX_TOGETHER));
                    run_statements(&mut connection, std::mem::replace(&mut together, rest)).await;
                }
            }
            Job::Close(reply) => {
                connection.close().await;
                drop(connection);
                let _ = reply.send(());
                return;
            }
        }
        if let Some(started) = timed {
            writes.round_trip.took(started.elapsed());
        }
    }
}

/// The next job. Between jobs, and while waiting for one, an embedded replica whose file lags
/// behind its writes starts a sync of it when one is due (`Connection::catch_up`) — once no
/// write is in flight; until then, the pipelined writes' answers are taken in as they come.
async fn next_job(connection: &mut JsConnection, jobs: &mut mpsc::UnboundedReceiver<Job>, writes: &mut PipelinedWrites) -> Option<Job> {
    loop {
        if !writes.in_flight.is_empty() {
            tokio::select! {
                job = jobs.recv() => return job,
                Some(done) = writes.in_flight.next() => writes.answered(done),
            }
            continue;
        }
        let Some(wait) = connection.catch_up() else { return jobs.recv().await };
        if let Ok(job) = tokio::time::timeout(wait, jobs.recv()).await {
            return job;
        }
    }
}

/// A replica's writes in flight on lanes of its primary's stream (`Connection::pipelined_lane`).
struct PipelinedWrites {
    /// Makes new lanes; `None` where requests cannot be pipelined (HTTP).
    template: Option<JsConnection>,
    idle: Vec<JsConnection>,
    opened: usize,
    in_flight: FuturesUnordered<JoinHandle<(JsConnection, Duration)>>,
    round_trip: RoundTrip,
}

impl PipelinedWrites {
    fn new(connection: &JsConnection) -> PipelinedWrites {
        PipelinedWrites { template: connection.pipelined_lane(), idle: Vec::new(), opened: 0, in_flight: FuturesUnordered::new(), round_trip: RoundTrip::default() }
    }

    /// Sends `job` on a lane of its own when it is a top-level write and the link is slow, and
    /// gives it back otherwise (to run on the connection once the writes in flight are answered).
    async fn try_send(&mut self, connection: &mut JsConnection, job: Job) -> Option<Job> {
        // Writes (reads may be the file's), outside a transaction, on a slow link that pipelines.
        if !(job.transaction().is_none() && job.writes_together() && self.template.is_some() && self.round_trip.is_slow() && !connection.in_transaction()) {
            return Some(job);
        }
        let statements: Vec<(Op, Reply)> = match job {
            Job::Together(statements, _) => statements,
            Job::Run(op, reply, _) => vec![(op, reply)],
            close => return Some(close),
        };
        while self.idle.is_empty() && self.opened >= PIPELINED_WRITES {
            let done = self.in_flight.next().await.expect("a write in flight when every lane is busy");
            self.answered(done);
        }
        let mut lane = match self.idle.pop() {
            Some(lane) => lane,
            None => {
                self.opened += 1;
                self.template.as_ref().and_then(JsConnection::pipelined_lane).expect("a template makes lanes")
            }
        };
        // Before it is sent: reads called from now on must not be answered by the file alone.
        connection.replica_write_sent();
        lane.take_turn();
        self.in_flight.push(tokio::spawn(async move {
            let started = Instant::now();
            run_statements(&mut lane, statements).await;
            lane.end_turn();
            (lane, started.elapsed())
        }));
        None
    }

    fn answered(&mut self, done: Result<(JsConnection, Duration), tokio::task::JoinError>) {
        match done {
            Ok((lane, took)) => {
                self.round_trip.took(took);
                self.idle.push(lane);
            }
            // A lane's task cannot panic (`guarded`); one that did is gone, and another opens.
            Err(_) => self.opened -= 1,
        }
    }

    /// Waits for every write in flight.
    async fn finish(&mut self) {
        while let Some(done) = self.in_flight.next().await {
            self.answered(done);
        }
    }
}

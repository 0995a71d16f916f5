//! A server connection's task: reads overlap on lanes; writes travel together on one.
//!
//! A lane is a connection of its own to the server (`RemoteConnection::another`): a Hrana
//! stream, and the HTTP connection or WebSocket that carries its requests. Each lane runs one
//! job at a time; different lanes' jobs are in flight together.
//!
//! * **Reads** (statements that only read, `Op::only_reads`) run on reader lanes, opened as
//!   calls need them up to `concurrency - 1`, so one conversation's read no longer waits for
//!   another's round trip. A free lane is reused most-recently-freed first (its stream is the
//!   warmest). On a quick link, where the server's time per request is what costs, a reader
//!   lane more starts only when the last one has been busy for `RoundTrip::quick` (reads waiting meanwhile
//!   share one request); on a slow link at once.
//! * **Writes** — top-level statements, batches, scripts, migrations, and transactions — run
//!   on the writer's stream, in call order. While a request is in flight, the writes called
//!   meanwhile wait; then all of them (statements and batches, up to `MAX_TOGETHER` statements)
//!   go in one request, as one group commit (`remote/group.rs`). One stream, because the server
//!   has one write lock anyway, and sqld 0.24 handles writers that wait for it on other
//!   connections badly: measured here, writes spread over lanes ran slower than writes on one,
//!   and with eight writer lanes about one run in four saw a request left unanswered for 30 s
//!   (docs/performance.md, "Many conversations on one server").
//! * **Pipelined group commits.** Over WebSocket on a slow link, up to `PIPELINED_WRITES` group
//!   commits are in flight on that one stream at once, each sent by a writer lane of its own that
//!   shares the writer's socket and stream (`Connection::pipelined_lane`): the server runs them
//!   one after another on its one connection, so no writer waits for the lock, and a write no
//!   longer waits out the round trip of the group before it. On a quick link one group at a time
//!   (the server's time per commit is what costs there, and bigger groups spend less of it);
//!   over HTTP always, where a stream's next request needs the baton of its last answer. Any
//!   other writer job — a transaction from `begin` to COMMIT or ROLLBACK, a script, a migration —
//!   has the stream to itself: it starts once the groups before it are answered, and nothing
//!   starts beside it. Groups answered out of turn are not possible (one stream, one order);
//!   a group whose transaction is lost runs again call by call after the groups sent behind it.
//!
//! With `concurrency: 1` there are no reader lanes: every call runs on the writer lane in the
//! order it was made, as before lanes existed.
//!
//! `close` lets the jobs handed on before it finish, then closes every lane's stream.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::{mpsc, oneshot};

use crate::engine::Op;
use crate::error::{DbError, ErrorCode};

use super::round_trip::RoundTrip;
use super::{guarded, run_statements, Job, JsConnection};

/// Group commits in flight at once on the writer's stream, on a slow link over WebSocket: a
/// write waits for a free one a small fraction of a round trip. Measured at a 20 ms round trip,
/// 20 writers each writing in a loop: a write took 41 ms with 1 in flight, 32 with 4, 25 with 8,
/// 24 with 16 (a read: 23–24); 50 Flue conversations made 124 turns/s with 8, 212 with 16.
/// The server runs them one after another either way; what it costs is smaller groups (more
/// commits), which a slow link leaves time for.
pub(super) const PIPELINED_WRITES: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Duty {
    Writer,
    Reader,
}

/// A job that finished, and the lane it ran on.
struct Finished {
    lane: JsConnection,
    duty: Duty,
    transaction: Option<u64>,
    /// The job ended its transaction (COMMIT, ROLLBACK, or a `begin` that failed): the lane is free.
    ended: bool,
    /// How long it took, its request(s) included.
    took: Duration,
    /// It was a group commit on the writer's stream (`travels_together`).
    group: bool,
    /// The schema generation when it started.
    schema: u64,
    /// It may have changed the schema (`Op::changes_schema`).
    changed_schema: bool,
}

struct Pool {
    /// Makes new reader lanes; never runs a request itself.
    template: JsConnection,
    /// Makes new writer lanes, on the writer's stream (`Connection::pipelined_lane`); `None`
    /// where requests cannot be pipelined.
    pipelined: Option<JsConnection>,
    writer: Lanes,
    /// Writer lanes running a group commit.
    groups_in_flight: usize,
    readers: Lanes,
    /// When the last reader lane started a job.
    reader_started: Instant,
    /// Counts the writer's jobs that may have changed the schema. sqld's other connections
    /// may go on answering from the schema they had (measured: `SELECT *` without a column an
    /// ALTER TABLE added), so a reader lane that last ran before the latest such job starts a
    /// new stream.
    schema: u64,
    /// The link's round trip, as top-level requests took.
    round_trip: RoundTrip,
    /// Open transactions: the writer lane while it runs none of their jobs, and their jobs
    /// waiting for it.
    transactions: HashMap<u64, Transaction>,
    running: usize,
    done: mpsc::UnboundedSender<Finished>,
}

/// Lanes of one duty: the idle ones (the most recently freed last), how many are open, how
/// many may be, and the jobs waiting for one, in call order.
struct Lanes {
    idle: Vec<JsConnection>,
    opened: usize,
    limit: usize,
    waiting: VecDeque<Job>,
}

struct Transaction {
    lane: Option<JsConnection>,
    waiting: VecDeque<Job>,
    /// One of its statements may have changed the schema: readers see it once it commits.
    changed_schema: bool,
}

pub(super) async fn work(first: JsConnection, concurrency: usize, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let (done, mut finished) = mpsc::unbounded_channel();
    let template = first.another_lane().expect("a server connection has lanes");
    let pipelined = if concurrency > 1 { first.pipelined_lane() } else { None };
    let writers = if pipelined.is_some() { PIPELINED_WRITES } else { 1 };
    let mut pool = Pool {
        template,
        pipelined,
        writer: Lanes { idle: vec![first], opened: 1, limit: writers, waiting: VecDeque::new() },
        groups_in_flight: 0,
        readers: Lanes { idle: Vec::new(), opened: 0, limit: concurrency - 1, waiting: VecDeque::new() },
        reader_started: Instant::now(),
        schema: 0,
        round_trip: RoundTrip::default(),
        transactions: HashMap::new(),
        running: 0,
        done,
    };
    let mut closing: Option<oneshot::Sender<()>> = None;
    let mut open = true;
    loop {
        let wake = pool.pump();
        // Closed, and everything handed on before `close` has run.
        if !open && pool.running == 0 {
            break;
        }
        tokio::select! {
            job = jobs.recv(), if open => match job {
                Some(Job::Close(reply)) => {
                    closing = Some(reply);
                    open = false;
                }
                Some(job) => pool.accept(job),
                None => open = false,
            },
            Some(job) = finished.recv() => pool.finished(job),
            () = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now).into()), if wake.is_some() => {}
        }
    }
    pool.close().await;
    if let Some(reply) = closing {
        let _ = reply.send(());
    }
}

impl Pool {
    fn accept(&mut self, job: Job) {
        match (job.transaction(), &job) {
            (Some(id), Job::Run(Op::Begin, ..)) => {
                self.transactions.insert(id, Transaction { lane: None, waiting: VecDeque::new(), changed_schema: false });
                self.writer.waiting.push_back(job);
            }
            (Some(id), _) => match self.transactions.get_mut(&id) {
                Some(transaction) => match transaction.lane.take() {
                    Some(lane) => self.start(lane, Duty::Writer, job),
                    None => transaction.waiting.push_back(job),
                },
                None => job.refuse(DbError::libsql(ErrorCode::TransactionClosed, "this transaction has already ended")),
            },
            (None, Job::Run(Op::Begin | Op::Commit | Op::Rollback, ..)) => {
                job.refuse(DbError::libsql(ErrorCode::Internal, "a transaction on a server connection is named by the number given at begin"))
            }
            (None, _) if self.readers.limit > 0 && job.only_reads() => self.readers.waiting.push_back(job),
            (None, _) => self.writer.waiting.push_back(job),
        }
    }

    /// Starts what waits, on the lanes that are free or may be opened; returns when to look
    /// again if reads wait for a quick link's reader.
    fn pump(&mut self) -> Option<Instant> {
        let slow = self.round_trip.is_slow();
        while let Some(next) = self.writer.waiting.front() {
            // Alone on the stream, or a group commit beside group commits only, on a slow link.
            let busy = self.writer.busy();
            if busy > 0 && !(slow && next.travels_together() && busy == self.groups_in_flight) {
                break;
            }
            let Some((lane, job)) = self.writer.next(|| self.pipelined.as_ref()?.pipelined_lane()) else { break };
            self.start(lane, Duty::Writer, job);
        }
        while !self.readers.waiting.is_empty() {
            if !slow && self.readers.busy() > 0 {
                let next_start = self.reader_started + RoundTrip::quick();
                if next_start > Instant::now() {
                    return Some(next_start);
                }
            }
            let Some((lane, job)) = self.readers.next(|| self.template.another_lane()) else { break };
            self.reader_started = Instant::now();
            self.start(lane, Duty::Reader, job);
        }
        None
    }

    fn finished(&mut self, Finished { mut lane, duty, transaction, ended, took, group, schema, changed_schema }: Finished) {
        self.running -= 1;
        if group {
            self.groups_in_flight -= 1;
        }
        if duty == Duty::Reader && schema < self.schema {
            lane.forget_stream();
        }
        let Some(id) = transaction else {
            if changed_schema {
                self.schema_changed();
            }
            self.round_trip.took(took);
            return self.lanes(duty).idle.push(lane);
        };
        if !ended {
            if let Some(transaction) = self.transactions.get_mut(&id) {
                transaction.changed_schema |= changed_schema;
                match transaction.waiting.pop_front() {
                    Some(job) => self.start(lane, duty, job),
                    None => transaction.lane = Some(lane),
                }
                return;
            }
        }
        if let Some(transaction) = self.transactions.remove(&id) {
            // Committed or rolled back: either way readers may now read from new streams.
            if transaction.changed_schema {
                self.schema_changed();
            }
            for job in transaction.waiting {
                job.refuse(DbError::libsql(ErrorCode::TransactionClosed, "this transaction has already ended"));
            }
        }
        self.lanes(duty).idle.push(lane);
    }

    /// A write that may have changed the schema ended: readers start new streams, idle ones at
    /// once, busy ones when their job is done (`schema`).
    fn schema_changed(&mut self) {
        self.schema += 1;
        for reader in &mut self.readers.idle {
            reader.forget_stream();
        }
    }

    fn lanes(&mut self, duty: Duty) -> &mut Lanes {
        match duty {
            Duty::Writer => &mut self.writer,
            Duty::Reader => &mut self.readers,
        }
    }

    fn start(&mut self, mut lane: JsConnection, duty: Duty, job: Job) {
        self.running += 1;
        let done = self.done.clone();
        let schema = self.schema;
        let changed_schema = duty == Duty::Writer && self.readers.opened > 0 && job.changes_schema();
        let group = duty == Duty::Writer && job.travels_together();
        if group {
            self.groups_in_flight += 1;
            // Now, in the order jobs are handed on: the server commits the groups in the order
            // they reach it, whichever lane's task gets to send first.
            lane.take_turn();
        }
        if changed_schema {
            // Now as well as when it has ended: its reply reaches the caller before this task
            // hears that it ended, and a read called right after it must not find an idle
            // reader still on a stream from before (sqld answers `SELECT *` there with the
            // columns it had).
            self.schema_changed();
        }
        tokio::spawn(async move {
            let started = Instant::now();
            let transaction = job.transaction();
            let ended = match job {
                Job::Run(op, reply, _) => {
                    let ends = matches!(op, Op::Commit | Op::Rollback);
                    let begins = matches!(op, Op::Begin);
                    let outcome = guarded(lane.run(op)).await;
                    let failed_to_begin = begins && outcome.is_err();
                    let _ = reply.send(outcome);
                    ends || failed_to_begin
                }
                Job::Together(calls, _) => {
                    run_statements(&mut lane, calls).await;
                    false
                }
                Job::Close(_) => unreachable!("close is the pool's own"),
            };
            lane.end_turn();
            let _ = done.send(Finished { lane, duty, transaction, ended, took: started.elapsed(), group, schema, changed_schema });
        });
    }

    /// Ends what every lane holds on the server: a transaction left open (its caller is gone) is
    /// rolled back, each kept stream closed.
    async fn close(mut self) {
        let mut lanes: Vec<JsConnection> = std::mem::take(&mut self.readers.idle);
        lanes.append(&mut self.writer.idle);
        lanes.extend(self.transactions.drain().filter_map(|(_, transaction)| transaction.lane));
        join_all(lanes.iter_mut().map(|lane| async move {
            lane.rollback_if_open().await;
            lane.close().await;
        }))
        .await;
    }
}

impl Lanes {
    /// Lanes running a job (or holding a transaction).
    fn busy(&self) -> usize {
        self.opened - self.idle.len()
    }

    /// The next waiting job and a lane to run it on (an idle one, or a new one from `open` while
    /// the limit allows), if both can be had.
    fn next(&mut self, open: impl FnOnce() -> Option<JsConnection>) -> Option<(JsConnection, Job)> {
        if self.waiting.is_empty() {
            return None;
        }
        let lane = match self.idle.pop() {
            Some(lane) => lane,
            None if self.opened < self.limit => {
                let lane = open()?;
                self.opened += 1;
                lane
            }
            None => return None,
        };
        Some((lane, Job::next_of(&mut self.waiting)))
    }
}

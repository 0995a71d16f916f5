//! An embedded replica's task: its one connection runs the jobs in arrival order, one at a
//! time. The JS layer runs one transaction at a time on it (its gate), so transaction ids need
//! no routing here.
//!
//! Once the calls pause while the replica's file lacks writes made here, the task starts a
//! sync of the file in the background (`engine/replica`): reads among a burst of writes go to
//! the primary, and after the burst the file has caught up and answers them again.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::engine::CatchUpState;

use super::{guarded, run_statements, Job, JsConnection, MAX_TOGETHER};

/// How long the calls must pause before the file is synced with the writes made here. A sync
/// costs the link a few round trips; paid between every two writes it would slow a burst of
/// them down, while a pause this long is where an agent waits for its model.
const CATCH_UP_AFTER: Duration = Duration::from_millis(50);

/// After a failed catch-up sync (the server away), the next try waits longer, up to this.
const CATCH_UP_RETRY_LIMIT: Duration = Duration::from_secs(5);

/// Owns the connection and runs its jobs until closed. Statements queued right behind one
/// another are run as one group.
pub(super) async fn work(mut connection: JsConnection, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match next_job(&mut connection, &mut jobs).await {
                Some(job) => job,
                None => return,
            },
        };
        match job {
            Job::Run(op, reply, _) => {
                let _ = reply.send(guarded(connection.run(op)).await);
            }
            Job::Together(mut together, _) => {
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
    }
}

/// The next job; while the file lags behind the writes made here, each pause of
/// `CATCH_UP_AFTER` (longer after a failed try) starts a sync of it in the background.
async fn next_job(connection: &mut JsConnection, jobs: &mut mpsc::UnboundedReceiver<Job>) -> Option<Job> {
    let mut pause = CATCH_UP_AFTER;
    while connection.file_lags() {
        match tokio::time::timeout(pause, jobs.recv()).await {
            Ok(job) => return job,
            Err(_) => {
                pause = match connection.catch_up_in_background() {
                    CatchUpState::Going => CATCH_UP_AFTER,
                    CatchUpState::Failing => (pause * 2).min(CATCH_UP_RETRY_LIMIT),
                }
            }
        }
    }
    jobs.recv().await
}

//! An embedded replica's task: its one connection runs the jobs in arrival order, one at a
//! time. The JS layer runs one transaction at a time on it (its gate), so transaction ids need
//! no routing here.
//!
//! Between jobs the task lets the replica start a sync of its file in the background once its
//! writes pause (`engine/replica`): reads among a burst of writes go to the primary, and after
//! the burst the file has caught up and answers them again.

use tokio::sync::mpsc;

use super::{guarded, run_statements, Job, JsConnection, MAX_TOGETHER};

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

/// The next job. Between jobs, and while waiting for one, an embedded replica whose file lags
/// behind its writes starts a sync of it when one is due (`Connection::catch_up`).
async fn next_job(connection: &mut JsConnection, jobs: &mut mpsc::UnboundedReceiver<Job>) -> Option<Job> {
    loop {
        let Some(wait) = connection.catch_up() else { return jobs.recv().await };
        if let Ok(job) = tokio::time::timeout(wait, jobs.recv()).await {
            return job;
        }
    }
}

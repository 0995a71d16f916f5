//! An embedded replica's task: its one connection runs the jobs in arrival order, one at a
//! time. The JS layer runs one transaction at a time on it (its gate), so transaction ids need
//! no routing here.

use tokio::sync::mpsc;

use super::{guarded, run_statements, Job, JsConnection, MAX_TOGETHER};

/// Owns the connection and runs its jobs until closed. Statements queued right behind one
/// another are run as one group.
pub(super) async fn work(mut connection: JsConnection, mut jobs: mpsc::UnboundedReceiver<Job>) {
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

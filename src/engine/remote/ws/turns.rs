//! The order in which the lanes on one socket send (`HranaWs::take_turn`): the server runs a
//! stream's requests in the order they arrive, so what was handed on first must go out first,
//! whichever lane's task happens to run first. A turn taken and never used (its job sent
//! nothing) is skipped.

use std::collections::BTreeSet;
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Default)]
pub(super) struct TurnOrder {
    turns: Mutex<Turns>,
    ended: Notify,
}

#[derive(Default)]
struct Turns {
    issued: u64,
    /// The turn whose request goes out next.
    serving: u64,
    /// Turns that ended before their time came.
    ended_early: BTreeSet<u64>,
}

impl TurnOrder {
    pub fn issue(&self) -> u64 {
        let mut turns = self.turns.lock().expect("turns lock");
        turns.issued += 1;
        turns.issued - 1
    }

    pub async fn wait_for(&self, turn: u64) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            // Registered before the check: a turn that ends in between still wakes this one.
            ended.as_mut().enable();
            if self.turns.lock().expect("turns lock").serving >= turn {
                return;
            }
            ended.await;
        }
    }

    pub fn end(&self, turn: u64) {
        let mut turns = self.turns.lock().expect("turns lock");
        if turns.serving == turn {
            turns.serving += 1;
            loop {
                let next = turns.serving;
                if !turns.ended_early.remove(&next) {
                    break;
                }
                turns.serving += 1;
            }
        } else if turn > turns.serving {
            turns.ended_early.insert(turn);
        }
        drop(turns);
        self.ended.notify_waiters();
    }
}

//! How far away the server is, as the quickest recent request took: what decides whether
//! requests go one at a time (a quick link, where the server's time per request is what costs)
//! or side by side (a slow one, where the round trip is).

use std::time::Duration;

/// A request quicker than this is a quick link's (on loopback well under a millisecond; across
/// a 20 ms round trip, 21 ms and more).
const QUICK: Duration = Duration::from_millis(10);

/// Each request lowers it to its own time when quicker and raises it by a sixteenth when
/// slower, so a server busy with queued work does not read as a distant one, while a link that
/// became slower shows after a few dozen requests.
#[derive(Default)]
pub(super) struct RoundTrip(Option<Duration>);

impl RoundTrip {
    pub fn took(&mut self, took: Duration) {
        self.0 = Some(match self.0 {
            Some(floor) if took > floor => (floor + floor / 16).min(took),
            _ => took,
        });
    }

    /// Whether the link is slow (unknown before the first request: quick).
    pub fn is_slow(&self) -> bool {
        self.0.is_some_and(|round_trip| round_trip >= QUICK)
    }

    /// How long a quick link's lane runs before another starts beside it.
    pub fn quick() -> Duration {
        QUICK
    }
}

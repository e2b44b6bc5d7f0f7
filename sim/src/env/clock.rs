//! Per-node clocks: madsim has one global clock, so skew and drift are applied here, to the time a
//! role reads and to the timers it sets.

use ccrsim_model::core::io::Millis;

use crate::env::time::SimTime;

/// A node's clock: `local = global * (1 + drift) + skew`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeClock {
    /// Offset of the local clock, in milliseconds (may be negative).
    pub skew_ms: i64,
    /// Rate error in parts per million: +50_000 runs 5% fast.
    pub drift_ppm: i64,
}

impl NodeClock {
    /// The local time a role reads at global time `now` (never below zero). In i128, which the
    /// product of any u64 time and i64 drift fits; a result past `Millis` is a harness panic
    /// (validated skews and drifts keep it within a day of `now`).
    pub fn local_millis(&self, now: SimTime) -> Millis {
        let global_ms = i128::from(now.as_nanos()) / 1_000_000;
        let local = global_ms + global_ms * i128::from(self.drift_ppm) / 1_000_000 + i128::from(self.skew_ms);
        Millis::try_from(local.max(0)).unwrap_or_else(|_| panic!("harness: a node's local clock overflowed: {local} ms at {now}"))
    }

    /// How long, in global nanoseconds, a timer of `delay_ms` local milliseconds takes; a timer
    /// past `u64::MAX` nanoseconds is a harness panic, never a truncated (early) timer.
    pub fn timer_nanos(&self, delay_ms: Millis) -> u64 {
        let rate = 1_000_000 + i128::from(self.drift_ppm); // local ticks per 1e6 global ticks
        assert!(rate > 0, "harness: a clock must move forward (drift {} ppm)", self.drift_ppm);
        let nanos = i128::from(delay_ms) * 1_000_000 * 1_000_000 / rate;
        u64::try_from(nanos).unwrap_or_else(|_| panic!("harness: a timer of {delay_ms} local ms overflows simulated time"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_clock_fires_timers_early_and_reads_ahead() {
        let fast = NodeClock { skew_ms: 250, drift_ppm: 100_000 };
        assert_eq!(fast.timer_nanos(110), 100_000_000, "110 local ms at +10% take 100 global ms");
        assert_eq!(fast.local_millis(SimTime::from_millis(1000)), 1000 + 100 + 250);
        let exact = NodeClock::default();
        assert_eq!(exact.timer_nanos(7), 7_000_000);
        let behind = NodeClock { skew_ms: -5000, drift_ppm: 0 };
        assert_eq!(behind.local_millis(SimTime::from_millis(10)), 0, "never below zero");
    }

    #[test]
    #[should_panic(expected = "harness: a timer of")]
    fn a_timer_past_simulated_time_is_a_harness_panic_not_a_truncation() {
        NodeClock { skew_ms: 0, drift_ppm: -500_000 }.timer_nanos(u64::MAX / 1_000_000);
    }
}

//! Simulated time: nanoseconds since the start of the run.
//!
//! Every conversion and addition here is checked: an overflow panics with a message starting
//! `harness:` (ccrsim itself broke, not the system under test), in debug and release builds alike,
//! instead of wrapping or saturating into an event scheduled at the wrong time. A validated
//! scenario cannot reach these panics: it runs at most one simulated day (`run.safety_s` plus
//! `run.liveness_bound_s`, docs/scenarios.md), and every duration it sets is bounded far below
//! `u64::MAX` nanoseconds (about 584 years).

use std::fmt;

/// A point in simulated time, in nanoseconds since the run began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(u64);

impl SimTime {
    /// The start of the run.
    pub const ZERO: SimTime = SimTime(0);

    /// From nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }

    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        match ms.checked_mul(1_000_000) {
            Some(ns) => SimTime(ns),
            None => panic!("harness: simulated time overflow: milliseconds past u64::MAX nanoseconds"),
        }
    }

    /// From seconds (fractional): finite, not negative, and below `u64::MAX` nanoseconds.
    pub fn from_secs_f64(s: f64) -> Self {
        SimTime(secs_to_nanos(s))
    }

    /// Nanoseconds since start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Milliseconds since start (truncated).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// Seconds since start.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self + ns`.
    pub const fn plus_nanos(self, ns: u64) -> Self {
        match self.0.checked_add(ns) {
            Some(t) => SimTime(t),
            None => panic!("harness: simulated time overflow: a deadline past u64::MAX nanoseconds"),
        }
    }
}

/// Nanoseconds in `s` seconds, rounded; panics (`harness:`) on a NaN, a negative number or one
/// past `u64::MAX` nanoseconds, where `as` would saturate silently.
pub fn secs_to_nanos(s: f64) -> u64 {
    nanos_of(s * 1e9, s, "seconds")
}

/// Nanoseconds in `ms` milliseconds, rounded; panics (`harness:`) as [`secs_to_nanos`] does.
pub fn millis_to_nanos(ms: f64) -> u64 {
    nanos_of(ms * 1e6, ms, "milliseconds")
}

fn nanos_of(ns: f64, given: f64, unit: &str) -> u64 {
    let ns = ns.round();
    // 2^64 is exact in f64; every f64 below it converts without saturating.
    if !(0.0..18_446_744_073_709_551_616.0).contains(&ns) {
        panic!("harness: simulated time out of range: {given} {unit} is not a duration in [0, u64::MAX] nanoseconds");
    }
    ns as u64
}

impl serde::Serialize for SimTime {
    /// Seconds, as a number: reports are read by people and scripts, not fed back.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_secs_f64())
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>10.6}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_and_add() {
        assert_eq!(SimTime::from_secs_f64(1.5).as_nanos(), 1_500_000_000);
        assert_eq!(SimTime::from_millis(7).plus_nanos(3).as_nanos(), 7_000_003);
        assert_eq!(millis_to_nanos(0.0000004), 0);
        assert_eq!(millis_to_nanos(2.5), 2_500_000);
    }

    #[test]
    fn overflow_is_a_harness_panic_never_a_wrap_or_a_saturation() {
        let overflows: [fn() -> u64; 7] = [
            || SimTime::from_nanos(u64::MAX).plus_nanos(1).as_nanos(),
            || SimTime::from_millis(u64::MAX / 1000).as_nanos(),
            || SimTime::from_secs_f64(f64::INFINITY).as_nanos(),
            || SimTime::from_secs_f64(f64::NAN).as_nanos(),
            || SimTime::from_secs_f64(-1.0).as_nanos(),
            || SimTime::from_secs_f64(1e300).as_nanos(),
            || millis_to_nanos(1e20),
        ];
        for overflow in overflows {
            let payload = std::panic::catch_unwind(overflow).expect_err("must panic");
            let message = payload.downcast_ref::<String>().cloned().or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
            assert!(message.as_deref().is_some_and(|m| m.starts_with("harness: simulated time")), "{message:?}");
        }
    }
}

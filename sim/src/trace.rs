//! The trace: every delivery, drop, fault, disk event and model fact of a run, in order, folded into
//! one 64-bit hash. Same seed, same hash, bit for bit; a different hash means a different run.
//!
//! Recording the events themselves is optional (it costs a formatted line per event): `replay` keeps
//! them to print a trace, `--check-determinism` keeps them to name the first event that differs.

use ccrsim_model::core::digest::StableHasher;
use std::hash::Hasher;

use crate::env::time::SimTime;

/// What kind of event a trace line is (part of the hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EventKind {
    /// A message reached its destination node (its role handles it at once, or on resume if the
    /// node is paused).
    Deliver = 1,
    /// A message was lost (loss, partition, receiver down or restarted).
    Drop = 2,
    /// A timer fired.
    Timer = 3,
    /// A disk request completed (its effect happens now).
    Disk = 4,
    /// A role reported a fact.
    Fact = 5,
    /// The nemesis acted.
    Fault = 6,
    /// A node booted, crashed, halted or failed to recover.
    Process = 7,
    /// A phase of the run began or a checker reported.
    Run = 8,
}

/// One recorded line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    /// Position in the run, from 0.
    pub index: u64,
    /// Simulated time.
    pub time: SimTime,
    /// The node concerned (`u32::MAX` for the world itself).
    pub node: u32,
    /// What happened, readable.
    pub text: String,
    /// The hash of this event alone.
    pub event_hash: u64,
}

impl std::fmt::Display for TraceLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let node = if self.node == u32::MAX { "-".to_string() } else { self.node.to_string() };
        write!(f, "#{:<7} {} n{:<3} {}", self.index, self.time, node, self.text)
    }
}

/// The running trace of one seed.
#[derive(Debug, Default)]
pub struct Trace {
    hash: u64,
    events: u64,
    lines: Option<Vec<TraceLine>>,
}

/// Node id used for events of the world itself.
pub const WORLD: u32 = u32::MAX;

impl Trace {
    /// A trace that keeps every line when `record` is set.
    pub fn new(record: bool) -> Self {
        Self { hash: 0, events: 0, lines: record.then(Vec::new) }
    }

    /// Folds one event. `detail` is a stable hash of its content; `describe` is only called when
    /// recording.
    #[inline]
    pub fn emit(&mut self, time: SimTime, node: u32, kind: EventKind, detail: u64, describe: impl FnOnce() -> String) {
        let mut h = StableHasher::default();
        h.add_word(time.as_nanos());
        h.add_word(u64::from(node) << 8 | kind as u64);
        h.add_word(detail);
        let event_hash = h.finish();
        self.hash = ccrsim_model::core::digest::chain(self.hash, event_hash);
        if let Some(lines) = &mut self.lines {
            lines.push(TraceLine { index: self.events, time, node, text: describe(), event_hash });
        }
        self.events += 1;
    }

    /// The hash of everything so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Number of events so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The recorded lines, if recording.
    pub fn take_lines(&mut self) -> Option<Vec<TraceLine>> {
        self.lines.take()
    }
}

/// The first position where two recorded traces differ, with both lines (`None` for a missing one).
pub fn first_difference(a: &[TraceLine], b: &[TraceLine]) -> Option<(Option<TraceLine>, Option<TraceLine>)> {
    let n = a.len().max(b.len());
    (0..n).find_map(|i| match (a.get(i), b.get(i)) {
        (Some(x), Some(y)) if x.event_hash == y.event_hash => None,
        (x, y) => Some((x.cloned(), y.cloned())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(events: &[(u64, &str)]) -> Vec<TraceLine> {
        let mut t = Trace::new(true);
        for &(detail, text) in events {
            t.emit(SimTime::from_millis(detail), 1, EventKind::Fact, detail, || text.to_string());
        }
        t.take_lines().expect("recording")
    }

    #[test]
    fn the_first_differing_event_is_named_and_equal_traces_have_none() {
        let a = record(&[(1, "a"), (2, "b"), (3, "c")]);
        assert_eq!(first_difference(&a, &record(&[(1, "a"), (2, "b"), (3, "c")])), None);
        let (x, y) = first_difference(&a, &record(&[(1, "a"), (9, "z"), (3, "c")])).expect("they differ");
        assert_eq!((x.unwrap().text, y.unwrap().text), ("b".to_string(), "z".to_string()));
        let (x, y) = first_difference(&a, &record(&[(1, "a"), (2, "b")])).expect("one is shorter");
        assert_eq!((x.map(|l| l.index), y), (Some(2), None));
    }

    #[test]
    fn the_hash_covers_time_node_kind_and_detail() {
        let base = |time, node, kind, detail| {
            let mut t = Trace::new(false);
            t.emit(SimTime::from_millis(time), node, kind, detail, String::new);
            t.hash()
        };
        let h = base(1, 1, EventKind::Fact, 1);
        assert_ne!(h, base(2, 1, EventKind::Fact, 1));
        assert_ne!(h, base(1, 2, EventKind::Fact, 1));
        assert_ne!(h, base(1, 1, EventKind::Deliver, 1));
        assert_ne!(h, base(1, 1, EventKind::Fact, 2));
    }
}

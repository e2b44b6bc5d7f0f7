//! Coverage marks: a role says "this interesting branch ran" (a stale batch arrived, a vote request
//! came from an older term, a prepare was in doubt at restart), and the harness counts how often.
//! In the manner of TigerBeetle's marks and Antithesis's "sometimes" assertions: a branch that no
//! run of the CI sweep reaches is a branch no checker has ever judged, so the sweep fails on a
//! mark never hit (tests/seed_sweep.rs), and reports list the counts.
//!
//! A mark is write-only for the model: nothing reads the counts back inside a run, so marks cannot
//! change what a role does or the trace. The counts live in the running thread (each seed runs
//! on its own thread, and a run is single-threaded); the host takes them at the start and the end
//! of a seed. A mark's name is `area.what_happened`, a literal, so that the list of marks is the
//! text of `model/src` (the sweep's test reads it from there).

use std::cell::RefCell;
use std::collections::BTreeMap;

thread_local! {
    static HITS: RefCell<BTreeMap<&'static str, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// Counts one hit of the mark `name` on this thread. Use [`crate::mark!`].
pub fn hit(name: &'static str) {
    HITS.with(|hits| *hits.borrow_mut().entry(name).or_default() += 1);
}

/// The marks hit on this thread since the last call, by name; starts the count afresh.
pub fn take() -> BTreeMap<&'static str, u64> {
    HITS.with(|hits| std::mem::take(&mut *hits.borrow_mut()))
}

/// Marks an interesting branch as reached: `mark!("raft.vote_request_from_older_term")`.
#[macro_export]
macro_rules! mark {
    ($name:literal) => {
        $crate::core::marks::hit($name)
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn marks_count_per_name_and_start_afresh_when_taken() {
        super::take();
        crate::mark!("test.one");
        crate::mark!("test.one");
        crate::mark!("test.two");
        let hits = super::take();
        assert_eq!(hits.get("test.one"), Some(&2));
        assert_eq!(hits.get("test.two"), Some(&1));
        assert!(super::take().is_empty());
    }
}

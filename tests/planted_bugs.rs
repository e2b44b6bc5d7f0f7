//! Every checker has caught a planted bug: each negative scenario (scenarios/negative/) switches one
//! bug on and must see its expected checker report it within the scenario's CI seeds (FoundationDB's
//! tests/negative, openraft's re-planted #1802). A checker that never caught anything is not one.

mod common;

use std::collections::BTreeSet;

use ccrsim_sim::registry::checker_names;
use ccrsim_sim::runner::{self, RunOptions};

fn negative_scenarios() -> Vec<String> {
    common::files_in("scenarios/negative")
        .iter()
        .map(|p| format!("scenarios/negative/{}", p.file_name().expect("a file").to_string_lossy()))
        .collect()
}

/// Runs seeds in order until the expected checker reports; returns that seed.
fn first_catching_seed(reference: &str) -> u64 {
    let scenario = common::scenario(reference);
    assert!(scenario.planted_bugs.any(), "{reference} plants no bug");
    let expected = scenario.expect.violation.clone().unwrap_or_else(|| panic!("{reference} has no expect.violation"));
    let mut seen = Vec::new();
    let seeds: Vec<u64> = match common::replay_seed() {
        Some(seed) => vec![seed],
        None => (0..scenario.run.seeds_ci).collect(),
    };
    for chunk in seeds.chunks(common::jobs() * 2) {
        for report in common::sweep(&scenario, chunk.to_vec(), false) {
            match report.failed_checker() {
                Some(c) if c == expected => {
                    eprintln!(
                        "{reference}: planted bug caught by {expected} at seed {}: {}\n  {}",
                        report.seed,
                        report.violations[0].message,
                        common::replay_hint(reference, "planted_bugs", report.seed)
                    );
                    return report.seed;
                }
                other => seen.push((report.seed, other)),
            }
        }
    }
    panic!("{reference}: {expected} never reported the planted bug in {} seeds; outcomes: {seen:?}", seeds.len());
}

#[test]
fn every_negative_scenario_is_caught_by_its_checker() {
    let mut proven = BTreeSet::new();
    for reference in negative_scenarios() {
        let seed = first_catching_seed(&reference);
        let scenario = common::scenario(&reference);
        // The catch replays exactly: same seed, same verdict, same trace.
        let a = runner::run_seed_isolated(&scenario, seed, RunOptions::default(), common::WALL_LIMIT);
        let b = runner::run_seed_isolated(&scenario, seed, RunOptions::default(), common::WALL_LIMIT);
        assert_eq!(a.trace_hash, b.trace_hash, "{reference} seed {seed} does not replay");
        assert_eq!(a.violations, b.violations);
        proven.insert(scenario.expect.violation.clone().expect("checked"));
    }
    // Every property checker (not the harness's own categories) is proven by some negative scenario.
    let harness = ["model-invariant", "determinism"];
    let unproven: Vec<&str> = checker_names().into_iter().filter(|c| !harness.contains(c) && !proven.contains(*c)).collect();
    assert!(unproven.is_empty(), "checkers never shown catching a planted bug: {unproven:?}");
}

#[test]
fn the_same_scenarios_pass_without_their_bug() {
    // The nemesis of a negative scenario alone must not fail a correct system: otherwise a "catch"
    // would prove nothing about the bug.
    for reference in negative_scenarios() {
        let mut scenario = (*common::scenario(&reference)).clone();
        scenario.planted_bugs = Default::default();
        scenario.expect.violation = None;
        let scenario = std::sync::Arc::new(scenario);
        for r in common::sweep(&scenario, (0..16).collect(), false) {
            assert!(r.ok, "{reference} without its bug fails at seed {}: {}", r.seed, r.violations[0]);
        }
    }
}

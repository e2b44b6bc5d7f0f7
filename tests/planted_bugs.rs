//! Every checker has caught a planted bug: each negative scenario (scenarios/negative/) switches one
//! bug on and must see its expected checker report it, with the message its file names, within the
//! scenario's CI seeds (FoundationDB's tests/negative, openraft's re-planted #1802); and the very
//! seeds that caught it pass once the bug is off. A checker that never caught anything is not one.
//!
//! The harness's own checks are proven the same way, on faults injected into the harness itself
//! (`Injections`): a run that differs from its twin is a determinism failure, and a panic inside a
//! role is a model panic, never a property checker's violation.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use ccrsim_sim::checkers::{Class, DETERMINISM, MODEL_INVARIANT};
use ccrsim_sim::env::time::SimTime;
use ccrsim_sim::registry::checker_names;
use ccrsim_sim::runner::{self, Injections, RunOptions, SeedReport};
use ccrsim_sim::shrink;
use ccrsim_sim::topology::Topology;

/// Checkers that have caught no planted bug yet, each with the reason. Their unit tests judge
/// hand-made facts, but by this project's rule they are not proven checkers until a planted bug is
/// caught in a whole run; this list is printed by every run of the test. (Empty since
/// `record-uniqueness` got `replay_logs_after_image`.)
const AWAITING_PLANTED_BUG: &[(&str, &str)] = &[];

fn negative_scenarios() -> Vec<String> {
    common::files_in("scenarios/negative")
        .iter()
        .map(|p| format!("scenarios/negative/{}", p.file_name().expect("a file").to_string_lossy()))
        .collect()
}

/// Runs seeds in order until one catches the planted bug (its first violation is the expected
/// checker's, with the expected message); returns that seed's report.
fn first_catch(reference: &str) -> SeedReport {
    let scenario = common::scenario(reference);
    assert!(scenario.planted_bugs.any(), "{reference} plants no bug");
    let expected = scenario.expect.violation.clone().unwrap_or_else(|| panic!("{reference} has no expect.violation"));
    let message = scenario.expect.message.clone().unwrap_or_else(|| panic!("{reference} has no expect.message"));
    let mut seen = Vec::new();
    let seeds: Vec<u64> = match common::replay_seed() {
        Some(seed) => vec![seed],
        None => (0..scenario.run.seeds_ci).collect(),
    };
    for chunk in seeds.chunks(common::jobs() * 2) {
        for report in common::sweep(&scenario, chunk.to_vec(), false) {
            if report.caught(&scenario.expect) {
                eprintln!(
                    "{reference}: planted bug caught by {expected} at seed {}: {}\n  {}",
                    report.seed,
                    report.violations[0].message,
                    common::replay_hint(reference, "planted_bugs", "every_negative_scenario_is_caught_by_its_checker", report.seed)
                );
                return report;
            }
            seen.push((report.seed, report.failure()));
        }
    }
    panic!("{reference}: {expected} never reported the planted bug saying {message:?} in {} seeds; outcomes: {seen:#?}", seeds.len());
}

/// The first catch of every negative scenario, by scenario. Both proofs below need it and the search
/// is the costly part, so the first test to ask finds it and the other waits for it.
fn catches() -> &'static BTreeMap<String, SeedReport> {
    static CATCHES: OnceLock<BTreeMap<String, SeedReport>> = OnceLock::new();
    CATCHES.get_or_init(|| {
        negative_scenarios()
            .into_iter()
            .map(|reference| {
                let catch = first_catch(&reference);
                (reference, catch)
            })
            .collect()
    })
}

#[test]
fn every_negative_scenario_is_caught_by_its_checker() {
    let mut proven = BTreeSet::new();
    for (reference, catch) in catches() {
        let scenario = common::scenario(reference);
        // The catch replays exactly: same seed, same verdict, same trace.
        let again = runner::run_seed_isolated(&scenario, catch.seed, RunOptions::default(), common::WALL_LIMIT);
        assert_eq!(again.trace_hash, catch.trace_hash, "{reference} seed {} does not replay", catch.seed);
        assert_eq!(again.violations, catch.violations);
        proven.insert(scenario.expect.violation.clone().expect("checked"));
    }
    // Every property checker is proven by some negative scenario; the harness's own names are proven
    // on injected faults below.
    let harness = [MODEL_INVARIANT, DETERMINISM];
    let unproven: Vec<&str> = checker_names()
        .into_iter()
        .filter(|c| !harness.contains(c) && !proven.contains(*c) && !AWAITING_PLANTED_BUG.iter().any(|(name, _)| name == c))
        .collect();
    assert!(unproven.is_empty(), "checkers never shown catching a planted bug: {unproven:?}");
    // The list of checkers still waiting for their planted bug cannot go stale: each is unproven.
    for (name, why) in AWAITING_PLANTED_BUG {
        assert!(!proven.contains(*name), "{name} is proven now: take it off AWAITING_PLANTED_BUG");
        eprintln!("NOT YET PROVEN: {name} has caught no planted bug: {why}");
    }
}

#[test]
fn the_same_scenarios_pass_without_their_bug() {
    // The nemesis of a negative scenario alone must not fail a correct system: otherwise a "catch"
    // would prove nothing about the bug. Above all, the seed that caught it must pass without it:
    // same faults, same workload, only the bug gone. The first 16 seeds show more of the nemesis.
    for (reference, catch) in catches() {
        let mut scenario = (*common::scenario(reference)).clone();
        scenario.planted_bugs = Default::default();
        // Only what the negative scenario expects to catch goes: its availability bounds stay,
        // since the control must meet them.
        scenario.expect.violation = None;
        scenario.expect.message = None;
        let scenario = std::sync::Arc::new(scenario);
        let seeds: BTreeSet<u64> = (0..16).chain([catch.seed]).collect();
        for r in common::sweep(&scenario, seeds.into_iter().collect(), false) {
            let which = if r.seed == catch.seed { " (the seed that caught the bug)" } else { "" };
            assert!(r.ok, "{reference} without its bug fails at seed {}{which}: {}", r.seed, r.failure().unwrap_or_default());
        }
    }
}

#[test]
fn every_planted_bug_shrinks_to_a_few_faults_in_a_file_that_fails_the_same_way() {
    // The shrinker on each catch: at most 3 faults left, or each fault left needed (delta debugging
    // ran to its end). The shrunk file, loaded as a user would, fails the same seed with the same
    // checker, and still catches the planted bug.
    let catches: Vec<(&String, &SeedReport)> = catches().iter().collect();
    let budget = std::time::Duration::from_secs(30);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..common::jobs() {
            scope.spawn(|| {
                while let Some((reference, catch)) = catches.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                    let scenario = common::scenario(reference);
                    let options = shrink::Options { budget, wall_limit: common::WALL_LIMIT };
                    // Wall time is reported, never asserted: the machine may be busy.
                    let started = std::time::Instant::now();
                    let shrunk = shrink::shrink(&scenario, catch.seed, "shrunk.toml", "shrunk", options, &mut |_| {})
                        .unwrap_or_else(|e| panic!("{reference} seed {}: {e:?}", catch.seed));
                    let wall = started.elapsed();
                    let text = shrink::schedule::to_toml(&shrunk.scenario);
                    let reloaded =
                        std::sync::Arc::new(ccrsim_sim::scenario::Scenario::parse("shrunk.toml", &text).expect("a shrunk file loads"));
                    let again = runner::run_seed_isolated(&reloaded, catch.seed, RunOptions::default(), common::WALL_LIMIT);
                    results.lock().unwrap().push(((*reference).clone(), catch.seed, shrunk, again, wall));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    for (reference, seed, shrunk, again, wall) in &results {
        eprintln!(
            "{reference} seed {seed}: faults {} -> {}, operations {} -> {}, {:.1} s -> {:.1} s, {} runs in {:.1} wall s{}: {}",
            shrunk.before.faults,
            shrunk.after.faults,
            shrunk.before.operations,
            shrunk.after.operations,
            shrunk.before.sim_seconds,
            shrunk.after.sim_seconds,
            shrunk.runs,
            wall.as_secs_f64(),
            if shrunk.budget_ran_out { " (budget ran out)" } else { "" },
            shrink::cause(shrunk)
        );
        for (_, other) in &shrunk.other_failures {
            eprintln!("  also met while shrinking: {}", other.failure().unwrap_or_default());
        }
        assert!(
            shrunk.after.faults <= 3 || shrunk.faults_each_needed(),
            "{reference} seed {seed}: {} faults left and the budget ran out",
            shrunk.after.faults
        );
        assert!(shrunk.after.faults <= shrunk.before.faults);
        assert_eq!(
            again.failed_checker(),
            Some(shrunk.target.checker.as_str()),
            "{reference} seed {seed}: the shrunk file fails otherwise"
        );
        assert_eq!(again.trace_hash, shrunk.report.trace_hash, "{reference} seed {seed}: the shrunk file is not the shrunk run");
        let scenario = common::scenario(reference);
        assert!(again.caught(&scenario.expect), "{reference} seed {seed}: the shrunk file no longer catches the bug");
    }
}

#[test]
fn two_runs_that_differ_are_a_determinism_failure_of_the_harness() {
    // The second run draws one number more from its network generator at 1 s; the first run is
    // the seed's own, which passes.
    let scenario = common::scenario("controllers-chaos");
    let injections = Injections { divergence_at: Some(SimTime::from_secs_f64(1.0)), ..Injections::default() };
    let checked = runner::run_seed_checked(&scenario, 7, injections, common::WALL_LIMIT);
    let plain = runner::run_seed_isolated(&scenario, 7, RunOptions::default(), common::WALL_LIMIT);
    assert!(plain.ok, "seed 7 passes on its own: {:?}", plain.violations);
    assert_eq!(checked.trace_hash, plain.trace_hash, "the report is the first run's, which nothing perturbed");
    assert!(!checked.ok && checked.diverged());
    let v = &checked.violations[0];
    assert_eq!((v.checker, v.class), (DETERMINISM, Class::Harness), "{v}");
    assert!(v.message.contains("two runs of seed 7 differ") && v.message.contains("first differing event"), "{v}");
}

#[test]
fn a_panic_in_a_role_is_a_model_panic_not_a_property_violation() {
    let scenario = common::scenario("controllers-chaos");
    let node = Topology::from_scenario(&scenario).by_name("master.controller.1").expect("a controller");
    let at = SimTime::from_secs_f64(2.0);
    let options = RunOptions { injections: Injections { panic_at: Some((node, at)), ..Injections::default() }, ..RunOptions::default() };
    let report = runner::run_seed_isolated(&scenario, 7, options, common::WALL_LIMIT);
    assert!(!report.ok);
    assert_eq!(report.violations.len(), 1, "only the panic: {:?}", report.violations);
    let v = &report.violations[0];
    assert_eq!((v.checker, v.class, v.node), (MODEL_INVARIANT, Class::Harness, Some(node)), "{v}");
    assert!(v.at >= at && v.message.contains("injected panic"), "{v}");
    // A panic replays like any failure.
    let again = runner::run_seed_isolated(&scenario, 7, options, common::WALL_LIMIT);
    assert_eq!((&again.trace_hash, &again.violations), (&report.trace_hash, &report.violations));
}

/// When the liveness bound runs out on a controller group that is still busy (here a slave that
/// dispatches and fails a task for ever keeps proposing), a follower one entry behind a commit
/// made milliseconds earlier is catching up, not stuck: the checker reported is the one whose
/// promise is really stuck (found by `ccrsim shrink`, which met this run as another failure; before
/// the fix seed 1 reported `raft-liveness`: "controller 6 applied up to 1231, the leader committed
/// 1232", with 1232 committed 20 ms before the bound).
#[test]
fn a_busy_raft_group_at_the_liveness_bound_is_not_reported_stuck() {
    let reference = "tests/fixtures/busy-raft-at-deadline.toml";
    let scenario = common::scenario(reference);
    let report = runner::run_seed(&scenario, 1, RunOptions::default());
    let first = report.violations.first().unwrap_or_else(|| panic!("{reference} seed 1 fails (its planted bug is on)"));
    assert_eq!(first.checker, "replication-liveness", "{first}");
    assert!(first.message.contains("slave0: entry"), "{first}");
}

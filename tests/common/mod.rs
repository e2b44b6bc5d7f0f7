//! Shared by the integration tests: run a scenario's CI seeds, or the one seed named by CCRSIM_SEED.

#![allow(dead_code)] // each test binary uses its own part

use std::sync::Arc;
use std::time::Duration;

use ccrsim_sim::runner::{self, RunOptions, SeedReport, Seeds, SweepOptions};
use ccrsim_sim::scenario::Scenario;

/// Wall-clock limit of one seed in tests: far above any healthy run.
pub const WALL_LIMIT: Duration = Duration::from_secs(300);

/// Threads for sweeps in tests.
pub fn jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The seed to replay, if `CCRSIM_SEED` is set.
pub fn replay_seed() -> Option<u64> {
    let value = std::env::var("CCRSIM_SEED").ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("CCRSIM_SEED={value:?} is not a u64")))
}

/// Loads a scenario by embedded name or by path relative to the repository root.
pub fn scenario(name_or_path: &str) -> Arc<Scenario> {
    let path = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), name_or_path);
    let target = if name_or_path.ends_with(".toml") { path.as_str() } else { name_or_path };
    Arc::new(Scenario::load(target).unwrap_or_else(|e| panic!("{e}")))
}

/// How to replay `seed` of the scenario `reference` from the command line and from the test
/// function `test_fn` of the test binary `test` (only that function, with its trace shown).
pub fn replay_hint(reference: &str, test: &str, test_fn: &str, seed: u64) -> String {
    format!(
        "replay: cargo run --release -- replay {reference} --seed {seed}\n    or: CCRSIM_SEED={seed} cargo test --release --test {test} -- {test_fn} --exact --nocapture"
    )
}

/// Runs the scenario's CI seeds (or only `CCRSIM_SEED`) and returns every report.
pub fn run_ci_seeds(reference: &str) -> (Arc<Scenario>, Vec<SeedReport>) {
    let s = scenario(reference);
    if let Some(seed) = replay_seed() {
        let report = runner::run_seed_isolated(&s, seed, RunOptions { record_trace: true, ..RunOptions::default() }, WALL_LIMIT);
        let lines = report.trace.as_deref().unwrap_or(&[]);
        eprintln!("CCRSIM_SEED={seed}: {} events, trace hash {}; last events:", lines.len(), report.trace_hash);
        for l in &lines[lines.len().saturating_sub(30)..] {
            eprintln!("  {l}");
        }
        return (s, vec![report]);
    }
    let reports = sweep(&s, (0..s.run.seeds_ci).collect(), false);
    (s, reports)
}

/// Runs `seeds` of `scenario` on every core (each twice and compared, with `check_determinism`).
/// A sweep of no seed, or one that reports another number of seeds than it was given, fails: a test
/// that ran nothing must not pass.
pub fn sweep(scenario: &Arc<Scenario>, seeds: Vec<u64>, check_determinism: bool) -> Vec<SeedReport> {
    let asked = seeds.len();
    assert!(asked > 0, "a sweep of {} over no seed proves nothing (run.seeds_ci = {})", scenario.name, scenario.run.seeds_ci);
    let options =
        SweepOptions { seeds: Seeds::List(seeds), jobs: jobs(), check_determinism, wall_limit: WALL_LIMIT, injections: Default::default() };
    let reports = runner::sweep(scenario, &options, |_| {});
    assert_eq!(reports.len(), asked, "the sweep of {} ran {} of its {asked} seeds", scenario.name, reports.len());
    reports
}

/// The scenario files (`*.toml`) in `dir`, relative to the repository root, sorted.
pub fn files_in(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("directory exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Every coverage mark declared in the model: the name of each `mark!("...")` in model/src, with
/// the file that holds it (the marks' own unit test excepted).
pub fn declared_marks() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, found: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("model/src is readable").map(|e| e.expect("entry").path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("core/marks.rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                for piece in text.split("mark!(\"").skip(1) {
                    let name = piece.split('"').next().expect("a closing quote");
                    found.push((name.to_string(), path.display().to_string()));
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("model/src"), &mut found);
    found
}

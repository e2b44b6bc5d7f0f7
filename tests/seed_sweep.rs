//! Every scenario shipped with ccrsim passes its CI seeds. `CCRSIM_SEED=S` replays one seed (and
//! prints the end of its trace).

mod common;

use ccrsim_sim::scenario::EMBEDDED;

fn sweep(name: &str) {
    let (scenario, reports) = common::run_ci_seeds(name);
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.ok)
        .map(|r| format!("seed {} FAILED {}\n  {}", r.seed, r.violations[0], common::replay_hint(name, "seed_sweep", r.seed)))
        .collect();
    let sim: f64 = reports.iter().map(|r| r.sim_seconds).sum();
    let wall: f64 = reports.iter().map(|r| r.wall_seconds).sum();
    eprintln!("{}: {} seeds, {} failed, {sim:.0} s simulated in {wall:.2} s ({:.0}x)", scenario.name, reports.len(), failed.len(), sim / wall);
    assert!(failed.is_empty(), "{} of {} seeds failed:\n{}", failed.len(), reports.len(), failed.join("\n"));
}

#[test]
fn controllers_chaos() {
    sweep("controllers-chaos");
}

#[test]
fn controllers_crash_storm() {
    sweep("controllers-crash-storm");
}

#[test]
fn controllers_leader_churn() {
    sweep("controllers-leader-churn");
}

#[test]
fn controllers_snapshot_storm() {
    sweep("controllers-snapshot-storm");
}

#[test]
fn master_chaos() {
    sweep("master-chaos");
}

#[test]
fn master_steady() {
    sweep("master-steady");
}

#[test]
fn every_embedded_scenario_has_a_sweep_test() {
    let this_file = include_str!("seed_sweep.rs");
    for (name, _) in EMBEDDED {
        let function = format!("fn {}()", name.replace('-', "_"));
        assert!(this_file.contains(&function), "scenario {name} has no `{function}` test here");
    }
}

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
    eprintln!(
        "{}: {} seeds, {} failed, {sim:.0} s simulated in {wall:.2} s ({:.0}x)",
        scenario.name,
        reports.len(),
        failed.len(),
        sim / wall
    );
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
fn replication_steady() {
    sweep("replication-steady");
}

#[test]
fn wan_partition() {
    sweep("wan-partition");
}

#[test]
fn master_leader_failover() {
    sweep("master-leader-failover");
}

#[test]
fn slave_leader_failover() {
    sweep("slave-leader-failover");
}

#[test]
fn slave_datanode_crash_mid_group() {
    sweep("slave-datanode-crash-mid-group");
}

#[test]
fn master_datanode_crash_async_persistence() {
    sweep("master-datanode-crash-async-persistence");
}

#[test]
fn disk_corruption() {
    sweep("disk-corruption");
}

#[test]
fn stop_start_skip() {
    sweep("stop-start-skip");
}

#[test]
fn stop_threshold() {
    sweep("stop-threshold");
}

#[test]
fn slave_add_datanode() {
    sweep("slave-add-datanode");
}

#[test]
fn two_slaves() {
    sweep("two-slaves");
}

#[test]
fn execution_sets() {
    sweep("execution-sets");
}

#[test]
fn ddl_heavy() {
    sweep("ddl-heavy");
}

#[test]
fn deployment_chaos() {
    sweep("deployment-chaos");
}

#[test]
fn every_embedded_scenario_has_a_sweep_test() {
    let this_file = include_str!("seed_sweep.rs");
    for (name, _) in EMBEDDED {
        let function = format!("fn {}()", name.replace('-', "_"));
        assert!(this_file.contains(&function), "scenario {name} has no `{function}` test here");
    }
}

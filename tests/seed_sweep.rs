//! Every scenario shipped with ccrsim passes its CI seeds. `CCRSIM_SEED=S` replays one seed of each
//! test it runs and prints the end of its trace: name one scenario's test and show its output,
//! `CCRSIM_SEED=S cargo test --release --test seed_sweep -- controllers_chaos --exact --nocapture`.
//! Over the whole sweep, every coverage mark of the model is hit.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use ccrsim_sim::runner::{MarkCount, SeedReport};
use ccrsim_sim::scenario::EMBEDDED;

/// The marks hit so far by the sweep tests of this process, and the scenarios that reported.
static SWEPT: Mutex<(BTreeSet<String>, BTreeMap<String, MarkCount>)> = Mutex::new((BTreeSet::new(), BTreeMap::new()));

fn sweep(name: &str) {
    let (scenario, reports) = common::run_ci_seeds(name);
    if common::replay_seed().is_none() {
        count_marks(name, &reports);
    }
    let failed: Vec<String> = reports
        .iter()
        .filter_map(|r| r.failure().map(|failure| (r.seed, failure)))
        .map(|(seed, failure)| {
            format!("seed {seed} FAILED {failure}\n  {}", common::replay_hint(name, "seed_sweep", &name.replace('-', "_"), seed))
        })
        .collect();
    let expected = if common::replay_seed().is_some() { 1 } else { scenario.run.seeds_ci };
    assert!(expected > 0, "{name}: run.seeds_ci is 0, so its sweep would prove nothing");
    assert_eq!(reports.len() as u64, expected, "{name}: the sweep ran {} seeds, not {expected}", reports.len());
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
fn sequoiadb_add_node() {
    sweep("sequoiadb-add-node");
}

#[test]
fn sequoiadb_failover_rollback() {
    sweep("sequoiadb-failover-rollback");
}

#[test]
fn sequoiadb_log_rollover() {
    sweep("sequoiadb-log-rollover");
}

#[test]
fn sequoiadb_read_your_writes() {
    sweep("sequoiadb-read-your-writes");
}

#[test]
fn sequoiadb_replsize() {
    sweep("sequoiadb-replsize");
}

#[test]
fn sequoiadb_chaos() {
    sweep("sequoiadb-chaos");
}

#[test]
fn sequoiadb_crash_corruption() {
    sweep("sequoiadb-crash-corruption");
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
fn rough_network() {
    sweep("rough-network");
}

#[test]
fn tight_timeouts() {
    sweep("tight-timeouts");
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
fn machines_master() {
    sweep("machines-master");
}

#[test]
fn machines_slave() {
    sweep("machines-slave");
}

#[test]
fn long_haul() {
    sweep("long-haul");
}

/// Adds a scenario's marks to the sweep's; the test that completes the sweep (every embedded
/// scenario reported) writes the table of marks and fails on a mark that no seed hit: a branch
/// that no run reaches is a branch no checker ever judged. A run of some tests only (a filter, a
/// replayed seed) never completes the sweep and judges nothing.
fn count_marks(name: &str, reports: &[SeedReport]) {
    let mut swept = SWEPT.lock().unwrap_or_else(|e| e.into_inner());
    swept.0.insert(name.to_string());
    for (mark, count) in MarkCount::of(reports) {
        MarkCount::add_to(&mut swept.1, &mark, count);
    }
    if swept.0.len() < EMBEDDED.len() {
        return;
    }
    let declared: BTreeMap<String, String> = common::declared_marks().into_iter().collect();
    let mut table = String::from("coverage marks over the CI sweep (hits, seeds that hit it):\n");
    for mark in declared.keys() {
        let c = swept.1.get(mark).copied().unwrap_or_default();
        table.push_str(&format!("  {mark:55} {:>9} {:>5}\n", c.hits, c.seeds));
    }
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("coverage-marks.txt");
    std::fs::write(&path, &table).expect("the table of marks is written");
    eprintln!("{table}(written to {})", path.display());
    let never: Vec<&String> = declared.iter().filter(|(m, _)| !swept.1.contains_key(*m)).map(|(m, _)| m).collect();
    assert!(never.is_empty(), "coverage marks that no seed of the CI sweep hit (declared in model/src): {never:?}");
    let undeclared: Vec<&String> = swept.1.keys().filter(|m| !declared.contains_key(*m)).collect();
    assert!(undeclared.is_empty(), "marks hit but not found in model/src (a name built at run time?): {undeclared:?}");
}

#[test]
fn each_coverage_mark_names_one_branch() {
    let mut sites: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (mark, file) in common::declared_marks() {
        sites.entry(mark).or_default().push(file);
    }
    assert!(!sites.is_empty(), "no mark!(\"...\") found in model/src");
    for (mark, files) in &sites {
        assert_eq!(files.len(), 1, "mark {mark} is placed at {} sites: {files:?}", files.len());
        let (area, what) = mark.split_once('.').unwrap_or_else(|| panic!("mark {mark} is not `area.what_happened`"));
        let snake = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        assert!(snake(area) && snake(what), "mark {mark} is not `area.what_happened` in snake case");
    }
}

#[test]
fn every_embedded_scenario_has_a_sweep_test() {
    let this_file = include_str!("seed_sweep.rs");
    for (name, _) in EMBEDDED {
        let function = format!("fn {}()", name.replace('-', "_"));
        assert!(this_file.contains(&function), "scenario {name} has no `{function}` test here");
    }
}

//! Scenario files: every shipped file is valid, and bad input is refused with the file, the field
//! and the reason, never a panic.

mod common;

use ccrsim_sim::scenario::{EMBEDDED, Scenario};

const MINIMAL: &str = r#"
name = "minimal"
[run]
safety_s = 10.0
liveness_bound_s = 5.0
seeds_ci = 1
[cluster.master]
controllers = 3
[workload]
clients = 1
proposals_per_s = 1.0
"#;

/// Data nodes in the master and one slave cluster, to append to `MINIMAL`.
const SLAVE: &str = "[dfs_workload]\nclients = 1\nops_per_s = 1.0\n[cluster.slave]\ncount = 1\n";

#[test]
fn every_shipped_scenario_file_is_valid_and_embedded_ones_match_their_files() {
    for path in common::files_in("scenarios").into_iter().chain(common::files_in("scenarios/negative")) {
        let text = std::fs::read_to_string(&path).expect("readable");
        let s = Scenario::parse(&path.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(path.file_stem().unwrap().to_string_lossy(), s.name, "a scenario's name is its file name");
    }
    let top_level: Vec<String> =
        common::files_in("scenarios").iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
    let embedded: Vec<String> = EMBEDDED.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(top_level, embedded, "every file in scenarios/ is embedded in the binary, in name order");
}

#[test]
fn every_negative_scenario_plants_exactly_its_own_bug_and_expects_a_checker_and_its_message() {
    // Inheritance must not leak a base's bug or expectation into a negative scenario (they are not
    // inherited); each file says itself what it plants, which checker must catch it and what that
    // checker must say.
    for path in common::files_in("scenarios/negative") {
        let s = Scenario::load(&path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.planted_bugs.names().len(), 1, "{}: plants {:?}", path.display(), s.planted_bugs.names());
        assert!(s.expect.violation.is_some(), "{}: no expect.violation", path.display());
        assert!(s.expect.message.is_some(), "{}: no expect.message", path.display());
    }
}

#[test]
fn negative_base_files_are_used_and_are_not_scenarios_themselves() {
    // scenarios/negative/base/ holds what several negative scenarios share. A base file has no
    // name, so it can never be run or swept as a negative scenario of its own (files_in does not
    // descend into folders either).
    let bases = common::files_in("scenarios/negative/base");
    assert!(!bases.is_empty(), "the negative scenarios share base files");
    let named: Vec<String> = common::files_in("scenarios/negative")
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).expect("readable").lines().find_map(|l| l.strip_prefix("base = ").map(str::to_string)))
        .collect();
    for base in bases {
        let file = base.file_name().unwrap().to_string_lossy().into_owned();
        assert!(named.contains(&format!("\"base/{file}\"")), "no negative scenario uses base/{file}");
        let e = Scenario::load(&base.display().to_string()).expect_err("a base file is not a scenario");
        assert!(e.reason.contains("missing field `name`"), "{e}");
    }
}

#[test]
fn the_minimal_scenario_parses_with_defaults() {
    let s = Scenario::parse("minimal.toml", MINIMAL).expect("valid");
    assert_eq!(s.cluster.master.controllers, 3);
    assert_eq!(s.raft.heartbeat_ms, 75, "defaults fill what the file leaves out");
    assert!(!s.planted_bugs.any());
}

/// `(what to change, the field the error must name, words the reason must contain)`.
fn bad_cases() -> Vec<(String, &'static str, &'static str)> {
    let with = |extra: &str| format!("{MINIMAL}\n{extra}");
    // A master with data nodes and one slave cluster.
    let deploy = |extra: &str| {
        format!("{}\n{SLAVE}\n{extra}", MINIMAL.replace("controllers = 3", "controllers = 3\ndata_nodes = 2\nreplication_factor = 2"))
    };
    vec![
        ("name = \"x\"\n[run\n".to_string(), "-", "not valid TOML"),
        (MINIMAL.replace("controllers = 3", "controllers = 3\ncontrolers = 2"), "cluster.master.controlers", "unknown field"),
        (MINIMAL.replace("safety_s = 10.0", "safety_s = \"ten\""), "run.safety_s", "invalid type"),
        (MINIMAL.replace("safety_s = 10.0", "safety_s = -1.0"), "run.safety_s", "positive"),
        (MINIMAL.replace("controllers = 3", "controllers = 0"), "cluster.master.controllers", "1..=9"),
        (MINIMAL.replace("seeds_ci = 1\n", ""), "run", "missing field `seeds_ci`"),
        (with("[raft]\nheartbeat_ms = 900"), "raft.heartbeat_ms", "below the smallest election timeout"),
        (with("[raft]\nelection_timeout_ms = [600, 300]"), "raft.election_timeout_ms", "min > max"),
        (
            with("[network.wan]\nlatency_ms = [20.0, 60.0]\nloss = 1.5\nduplicate = 0.0\nreorder = 0.0\nreorder_delay_ms_max = 0.0"),
            "network.wan.loss",
            "probability",
        ),
        (deploy("").replace("ops_per_s = 1.0", "ops_per_s = 1.0\nquery_weight = 2000000"), "dfs_workload.query_weight", "0..=1000000"),
        (with("[faults]\nswarm = true"), "faults.kinds", "at least one fault kind"),
        (with("[faults]\nkinds = [\"meteor\"]"), "faults.kinds[0]", "unknown variant `meteor`"),
        (
            with("[[faults.schedule]]\nat_s = 1.0\nfault = \"crash\"\nnodes = [\"master.controller.9\"]"),
            "faults.schedule[0].nodes",
            "unknown node",
        ),
        (
            with("[[faults.schedule]]\nat_s = 99.0\nfault = \"pause\"\nnodes = [\"master.controller.0\"]"),
            "faults.schedule[0].at_s",
            "outside the safety phase",
        ),
        (with("[[faults.schedule]]\nat_s = 1.0\nfault = \"crash\""), "faults.schedule[0].nodes", "exactly one node"),
        (with("[faults.on_new_leader]\nprobability = 2.0"), "faults.on_new_leader.probability", "probability"),
        (with("[planted_bugs.raft]\nvote_thrice = true"), "planted_bugs.raft.vote_thrice", "unknown field"),
        (with("[expect]\nviolation = \"no-such-checker\""), "expect.violation", "unknown checker"),
        (with("[expect]\nmessage = \"voted for\""), "expect.message", "needs `expect.violation`"),
        (with("[expect]\nviolation = \"election-safety\"\nmessage = \" \""), "expect.message", "must not be blank"),
        (deploy("[replication]\ndatabases = { \"dfs://a\" = 2 }"), "replication.databases.dfs://a", "0..=1"),
        (deploy("[replication]\ndatabases = { \"a\" = 0 }"), "replication.databases.a", "dfs://name"),
        (with("[replication]\ndatabases = { \"dfs://a\" = 0 }"), "replication", "need slave clusters"),
        (deploy("[replication]\nslave_num = 0"), "replication.slave_num", "below the 1 slaves"),
        (deploy("[[calls]]\nat_s = 1.0\non = \"slave0.controller\"\ncall = \"dropEverything\""), "calls[0].call", "unknown"),
        (deploy("[[calls]]\nat_s = 1.0\non = \"slave7.controller\"\ncall = \"stopClusterReplication\""), "calls[0].on", "unknown target"),
        (
            deploy("[[calls]]\nat_s = 1.0\non = \"master.datanode\"\ncall = \"setDatabaseForClusterReplication\""),
            "calls[0].call",
            "needs argument `db`",
        ),
        (
            deploy("[[calls]]\nat_s = 1.0\non = \"slave0.controller\"\ncall = \"stopClusterReplication\"\nexpect = \"\""),
            "calls[0].expect",
            "error code",
        ),
        (
            deploy("[[calls]]\nat_s = 99.0\non = \"slave0.controller\"\ncall = \"stopClusterReplication\""),
            "calls[0].at_s",
            "outside the run",
        ),
        (deploy("[faults.on_new_leader]\nprobability = 0.5\nclusters = [\"slave3\"]"), "faults.on_new_leader.clusters", "unknown cluster"),
        (
            with("[[faults.schedule]]\nat_s = 1.0\nfault = \"wan_partition\"\nnodes = [\"master\"]"),
            "faults.schedule[0].fault",
            "needs slave clusters",
        ),
        (
            deploy("").replace("count = 1\n", "count = 1\nadded_data_nodes = 1\nadded_at_s = 50.0\n"),
            "cluster.slave.added_at_s",
            "inside the safety phase",
        ),
        // Non-finite numbers and absurd magnitudes, refused before they reach a run's arithmetic.
        (MINIMAL.replace("safety_s = 10.0", "safety_s = inf"), "run.safety_s", "got inf (not a finite number)"),
        (with("[faults]\nmean_interval_s = nan"), "faults.mean_interval_s", "got NaN (not a finite number)"),
        (MINIMAL.replace("proposals_per_s = 1.0", "proposals_per_s = 1e300"), "workload.proposals_per_s", "in [0, 64000], got 1e300"),
        (
            with("[network.lan]\nlatency_ms = [0.1, -inf]\nloss = 0.0\nduplicate = 0.0\nreorder = 0.0\nreorder_delay_ms_max = 0.0"),
            "network.lan.latency_ms",
            "not a finite number",
        ),
        (with("[expect]\nsettle_ms = 1e300"), "expect.settle_ms", "out of range"),
        // Extreme timings that would end as liveness failures blamed on the system under test.
        (with("[raft]\nelection_timeout_ms = [300, 9223372036854775807]"), "raft.election_timeout_ms", "elements must be 1..=60000"),
        (with("[raft]\nelection_timeout_ms = [300, 6000]"), "raft.election_timeout_ms", "exceeds run.liveness_bound_s (5 s)"),
        (with("[clock]\nskew_ms_max = 9223372036854775807"), "clock.skew_ms_max", "must be 0..=3600000"),
        (
            with("[disk]\ncapacity_mb = 64\nwrite_latency_us = [10, 100]\nfsync_latency_us = [200, 9223372036854775807]"),
            "disk.fsync_latency_us",
            "1000000",
        ),
        (deploy("[dfs]\nbegin_timeout_ms = 9223372036854775807"), "dfs.begin_timeout_ms", "1..=3600000"),
        (deploy("[dfs]\nscrub_interval_ms = 9223372036854775807"), "dfs.scrub_interval_ms", "0 (off) or 1..=3600000"),
        // Negative numbers.
        (MINIMAL.replace("seeds_ci = 1", "seeds_ci = -1"), "run.seeds_ci", "invalid value: integer `-1`"),
        (
            with("[faults.on_new_leader]\ndelay_ms = [-1.0, 2.0]"),
            "faults.on_new_leader.delay_ms",
            "[min, max]: must be a number in [0, 60000]",
        ),
        // Pairs of another length than two.
        (with("[raft]\nelection_timeout_ms = [300, 600, 900]"), "raft.election_timeout_ms", "invalid length 3, expected a [min, max] pair"),
        (with("[faults]\nduration_s = [1.0]"), "faults.duration_s", "invalid length 1"),
        (deploy("").replace("ops_per_s = 1.0", "ops_per_s = 1.0\nrows = []"), "dfs_workload.rows", "invalid length 0"),
        // Sizes and rates that would make a run's memory or event count unbounded.
        (MINIMAL.replace("controllers = 3", "controllers = 100000"), "cluster.master.controllers", "1..=9"),
        (
            deploy("").replace("ops_per_s = 1.0", "ops_per_s = 1.0\nrows = [1, 4294967295]"),
            "dfs_workload.rows",
            "elements must be 1..=10000",
        ),
        (
            deploy("").replace("ops_per_s = 1.0", "ops_per_s = 1000.0\nrows = [1, 10000]"),
            "dfs_workload.rows",
            "more than the 20000000 one run may write",
        ),
        (with("[faults]\nkinds = [\"crash\"]\nmean_interval_s = 1e-9"), "faults.mean_interval_s", "in [0.01, 86400]"),
        (
            MINIMAL.replace("safety_s = 10.0", "safety_s = 80000.0") + "[faults]\nkinds = [\"crash\", \"pause\"]\nmean_interval_s = 0.1\n",
            "faults.mean_interval_s",
            "more than the 1000000 one run may plan",
        ),
        (
            MINIMAL.replace("safety_s = 10.0", "safety_s = 80000.0").replace("proposals_per_s = 1.0", "proposals_per_s = 100.0"),
            "workload.proposals_per_s",
            "more than the 2000000 one run may issue",
        ),
        (
            deploy("[replication]\nstatus_probe_interval_s = 1e-9"),
            "replication.status_probe_interval_s",
            "must be 0 (off) or a number in [0.01, 86400], got 1e-9",
        ),
        // Fault kinds that cannot apply to the topology.
        (with("[faults]\nkinds = [\"crash\", \"wan_partition\"]"), "faults.kinds[1]", "this scenario has no slaves"),
        (
            MINIMAL.replace("controllers = 3", "controllers = 1") + "[faults]\nkinds = [\"partition\"]\n",
            "faults.kinds[0]",
            "needs at least 2",
        ),
        (
            with("[[faults.schedule]]\nat_s = 1.0\nfault = \"crash\"\nnodes = [\"client.0\"]"),
            "faults.schedule[0].nodes",
            "clients are never faulted",
        ),
        (with("[[faults.schedule]]\nat_s = 1.0\nfault = \"pause\"\nnodes = [\"master\"]"), "faults.schedule[0].nodes", "not \"master\""),
    ]
}

#[test]
fn bad_input_names_the_file_the_field_and_the_reason() {
    for (text, field, reason) in bad_cases() {
        let e = Scenario::parse("bad.toml", &text).expect_err(&format!("accepted:\n{text}"));
        assert_eq!(e.file, "bad.toml");
        assert_eq!(e.field, field, "for input:\n{text}\ngot: {e}");
        assert!(e.reason.contains(reason), "reason {:?} lacks {reason:?} for input:\n{text}", e.reason);
        assert!(e.to_string().starts_with("bad.toml: "), "{e}");
    }
}

#[test]
fn a_name_that_is_not_the_file_name_is_refused() {
    let dir = std::env::temp_dir().join(format!("ccrsim-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("other-name.toml").display().to_string();
    std::fs::write(&path, MINIMAL).expect("written");
    let e = Scenario::load(&path).expect_err("name \"minimal\" in other-name.toml");
    assert_eq!((e.file.as_str(), e.field.as_str()), (path.as_str(), "name"), "{e}");
    assert!(e.reason.contains("must be the file's name without .toml, \"other-name\", got \"minimal\""), "{e}");
    let path = dir.join("minimal.toml").display().to_string();
    std::fs::write(&path, MINIMAL).expect("written");
    assert_eq!(Scenario::load(&path).expect("named as its file").name, "minimal");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_names_and_missing_files_are_errors_not_panics() {
    let e = Scenario::load("no-such-scenario").expect_err("unknown name");
    assert!(e.reason.contains("no embedded scenario"), "{e}");
    assert!(e.reason.contains("controllers-chaos"), "the error lists the known names: {e}");
    let e = Scenario::load("/nonexistent/dir/s.toml").expect_err("missing file");
    assert!(e.reason.contains("cannot read"), "{e}");
}

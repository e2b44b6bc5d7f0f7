//! The command line, run as a user runs it: exit codes, reports, replay, sharding, bad input.

use std::process::{Command, Output};

fn ccrsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ccrsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ccrsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn a_run_writes_the_json_report_and_replay_reproduces_its_trace_hash() {
    let json = temp("run.json");
    let out = ccrsim(&[
        "run",
        "controllers-chaos",
        "--seeds",
        "3",
        "--seed-start",
        "5",
        "--jobs",
        "2",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in ["seeds         3", "passed        3", "failed        0", "acceleration", "messages"] {
        assert!(stdout.contains(line), "summary lacks {line:?}:\n{stdout}");
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let seeds = report["seeds"].as_array().expect("seeds array");
    assert_eq!(seeds.iter().map(|s| s["seed"].as_u64().unwrap()).collect::<Vec<_>>(), vec![5, 6, 7]);
    for s in seeds {
        for key in ["seed", "ok", "trace_hash", "sim_seconds", "wall_seconds", "messages", "events", "violations"] {
            assert!(s.get(key).is_some(), "seed report lacks {key}: {s}");
        }
        assert_eq!(s["trace_hash"].as_str().unwrap().len(), 16, "hash as 16 hex digits");
    }
    assert_eq!(report["summary"]["passed"], 3);
    let hash = seeds[1]["trace_hash"].as_str().unwrap();
    let replay = ccrsim(&["replay", "controllers-chaos", "--seed", "6", "--tail", "5"]);
    assert!(replay.status.success());
    let replay_out = text(&replay.stdout);
    assert!(replay_out.contains(&format!("trace hash {hash}")), "replay gives another hash than the sweep:\n{replay_out}");
    assert!(replay_out.contains("PASSED"));
}

#[test]
fn shards_split_the_seed_range() {
    let json = temp("shard.json");
    let out = ccrsim(&["run", "controllers-chaos", "--seeds", "7", "--shard", "2/3", "--quiet", "--json", json.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let seeds: Vec<u64> = report["seeds"].as_array().unwrap().iter().map(|s| s["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds, vec![1, 4], "shard 2 of 3 of seeds 0..7");
}

#[test]
fn a_failing_seed_exits_1_and_prints_its_replay_command() {
    // The planted bug without the negative scenario's expectation: a plain failure. The file builds
    // on the negative scenario, whose `expect` (like its bug) is not inherited.
    let path = temp("failing.toml");
    let base = format!("{}/scenarios/negative/raft-vote-twice.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(&path, format!("name = \"failing\"\nbase = {base:?}\n[planted_bugs.raft]\nvote_twice = true\n")).unwrap();
    let out = ccrsim(&["run", path.to_str().unwrap(), "--seeds", "6", "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "stdout {}\nstderr {}", text(&out.stdout), text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("FAILED [election-safety]"), "{stderr}");
    let replay = format!("cargo run --release -- replay {} --seed", path.display());
    assert!(stderr.contains(&replay), "no replay command in:\n{stderr}");
}

#[test]
fn a_negative_scenario_succeeds_when_its_bug_is_caught() {
    let out = ccrsim(&["run", "scenarios/negative/raft-vote-twice.toml", "--seeds", "6", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("expected      election-safety"));
    assert!(text(&out.stderr).contains("plants bugs on purpose"));
}

#[test]
fn check_determinism_runs_each_seed_twice_and_passes() {
    let out = ccrsim(&["run", "controllers-chaos", "--seeds", "2", "--check-determinism", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("each run twice"));
}

#[test]
fn bad_usage_and_bad_scenarios_exit_2_with_a_clear_message() {
    let bad = temp("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[run]\nsafety_s = \"ten\"\n").unwrap();
    let bad_base = temp("bad-base.toml");
    std::fs::write(&bad_base, "name = \"x\"\nbase = \"no-such-base\"\n").unwrap();
    let bad_base_message = format!("{}: field `base`: no shipped scenario named \"no-such-base\"", bad_base.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", bad.to_str().unwrap()], "field `run.safety_s`: invalid type"),
        (vec!["run", bad_base.to_str().unwrap()], &bad_base_message),
        (vec!["run", "no-such-scenario"], "no embedded scenario"),
        (vec!["run", "--seeds", "many"], "invalid value 'many'"),
        (vec!["run", "--shard", "4/3"], "need 1 <= K <= N"),
        (vec!["replay", "controllers-chaos"], "--seed"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, message) in cases {
        let out = ccrsim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr:?} lacks {message:?}");
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    }
}

#[test]
fn list_names_every_embedded_scenario() {
    let out = ccrsim(&["list"]);
    assert!(out.status.success());
    for (name, _) in ccrsim_sim::scenario::EMBEDDED {
        assert!(text(&out.stdout).contains(name));
    }
}

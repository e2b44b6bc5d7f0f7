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
    assert!(text(&out.stdout).contains("expected      election-safety saying \"and then for\" (caught in"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("plants bugs on purpose"));
}

#[test]
fn the_expected_checker_with_another_message_is_no_catch() {
    // The bug is caught by its checker, but the scenario expects words that checker never says: the
    // summary, the JSON report and the exit code all count no catch.
    let path = temp("other-message.toml");
    let base = format!("{}/scenarios/negative/raft-vote-twice.toml", env!("CARGO_MANIFEST_DIR"));
    let expect = "[expect]\nviolation = \"election-safety\"\nmessage = \"voted three times\"\n";
    std::fs::write(&path, format!("name = \"other-message\"\nbase = {base:?}\n[planted_bugs.raft]\nvote_twice = true\n{expect}")).unwrap();
    let json = temp("other-message.json");
    let out = ccrsim(&["run", path.to_str().unwrap(), "--seeds", "6", "--quiet", "--json", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "stdout {}\nstderr {}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains("FAILED [election-safety]"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(caught in 0 seeds)"), "{}", text(&out.stdout));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["summary"]["caught_expected"], 0);
    assert_eq!(report["summary"]["expected_message"], "voted three times");
}

#[test]
fn check_determinism_runs_each_seed_twice_and_passes() {
    let out = ccrsim(&["run", "controllers-chaos", "--seeds", "2", "--check-determinism", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("each run twice"));
}

#[test]
fn two_runs_of_a_seed_that_differ_fail_the_determinism_check() {
    // A hidden test hook perturbs the second run of each seed at 1 s.
    let out = ccrsim(&["run", "controllers-chaos", "--seeds", "2", "--check-determinism", "--inject-divergence-at", "1", "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "stdout {}\nstderr {}", text(&out.stdout), text(&out.stderr));
    let stderr = text(&out.stderr);
    for seed in [0, 1] {
        let line = format!("seed {seed} FAILED [determinism] at   0.000000s: two runs of seed {seed} differ");
        assert!(stderr.contains(&line), "no {line:?} in:\n{stderr}");
    }
    assert!(stderr.contains("first differing event:\n  run 1: #"), "{stderr}");
    assert!(text(&out.stdout).contains("diverged      2 seeds ran differently twice"), "{}", text(&out.stdout));
}

#[test]
fn a_divergence_fails_a_negative_scenario_even_where_its_bug_is_caught() {
    // Seed 1 catches the bug before the perturbation (then both runs end there alike); seed 0 runs
    // on, and its second run diverges. A catch that may not replay proves nothing.
    let out = ccrsim(&[
        "run",
        "scenarios/negative/raft-vote-twice.toml",
        "--seeds",
        "2",
        "--check-determinism",
        "--inject-divergence-at",
        "1",
        "--quiet",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("(caught in 1 seeds)") && stdout.contains("diverged      1 seeds"), "{stdout}\n{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}");
}

#[test]
fn a_panic_in_a_role_is_reported_as_a_model_panic_with_its_replay_command() {
    // A hidden test hook makes controller 1's role panic at its first input from 2 s on.
    let out = ccrsim(&["run", "controllers-chaos", "--seeds", "1", "--inject-panic", "master.controller.1@2", "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "stdout {}\nstderr {}", text(&out.stdout), text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("seed 0 FAILED [model-invariant] at "), "{stderr}");
    assert!(stderr.contains(" on node 1: injected panic"), "{stderr}");
    let replay = "replay: cargo run --release -- replay controllers-chaos --seed 0 --inject-panic master.controller.1@2";
    assert!(stderr.contains(replay), "no {replay:?} in:\n{stderr}");
    // The command it prints replays the panic.
    let out = ccrsim(&["replay", "controllers-chaos", "--seed", "0", "--inject-panic", "master.controller.1@2", "--tail", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("FAILED [model-invariant]"), "{}", text(&out.stdout));
}

#[test]
fn the_test_hooks_are_hidden() {
    let out = ccrsim(&["run", "--help"]);
    assert!(out.status.success());
    assert!(!text(&out.stdout).contains("inject"), "{}", text(&out.stdout));
}

#[test]
fn bad_usage_and_bad_scenarios_exit_2_with_a_clear_message() {
    let bad = temp("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[run]\nsafety_s = \"ten\"\n").unwrap();
    let bad_base = temp("bad-base.toml");
    std::fs::write(&bad_base, "name = \"x\"\nbase = \"no-such-base\"\n").unwrap();
    let bad_base_message = format!("{}: field `base`: no shipped scenario named \"no-such-base\"", bad_base.display());
    let bad_expect = temp("bad-expect.toml");
    std::fs::write(&bad_expect, "name = \"x\"\nbase = \"controllers-chaos\"\n[expect]\nmessage = \"voted for\"\n").unwrap();
    let bad_expect_message = format!("{}: field `expect.message`: needs `expect.violation`", bad_expect.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", bad.to_str().unwrap()], "field `run.safety_s`: invalid type"),
        (vec!["run", bad_base.to_str().unwrap()], &bad_base_message),
        (vec!["run", bad_expect.to_str().unwrap()], &bad_expect_message),
        (vec!["run", "controllers-chaos", "--inject-panic", "nobody@1"], "--inject-panic: no node \"nobody\""),
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

//! The command line, run as a user runs it: exit codes, reports, replay, sharding, bad input, and
//! the docs that describe it.

mod common;

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
fn a_sweep_groups_its_failing_seeds_by_signature_with_the_soonest_seed_to_replay() {
    let path = temp("signatures.toml");
    let base = format!("{}/scenarios/negative/data-node-skip-fsync.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(&path, format!("name = \"signatures\"\nbase = {base:?}\n[planted_bugs.data_node]\nskip_fsync = true\n")).unwrap();
    let json = temp("signatures.json");
    let out = ccrsim(&["run", path.to_str().unwrap(), "--seeds", "8", "--quiet", "--json", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "stdout {}\nstderr {}", text(&out.stdout), text(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let seeds = report["seeds"].as_array().unwrap();
    let signatures = report["summary"]["signatures"].as_array().unwrap();
    assert!(!signatures.is_empty());
    // Recount from the seeds: each failing seed in exactly one group, the soonest failure named.
    let failing: Vec<&serde_json::Value> = seeds.iter().filter(|s| s["verdict"] == "violation").collect();
    let grouped: u64 = signatures.iter().map(|g| g["seeds"].as_u64().unwrap()).sum();
    assert_eq!(grouped, failing.len() as u64);
    let stdout = text(&out.stdout);
    for g in signatures {
        let members: Vec<&&serde_json::Value> = failing.iter().filter(|s| s["signature"] == g["signature"]).collect();
        assert_eq!(members.len() as u64, g["seeds"].as_u64().unwrap());
        for m in &members {
            assert_eq!(m["signature"]["checker"], m["violations"][0]["checker"]);
        }
        let soonest = members.iter().map(|m| m["violations"][0]["at"].as_f64().unwrap()).fold(f64::INFINITY, f64::min);
        assert_eq!(g["fastest_at_s"].as_f64().unwrap(), soonest);
        let replay = format!("soonest: seed {} at", g["fastest_seed"]);
        assert!(stdout.contains(&replay), "{replay} not in:\n{stdout}");
    }
    assert!(stdout.contains(&format!("cargo run --release -- replay {} --seed", path.display())), "{stdout}");
}

#[test]
fn a_negative_scenario_succeeds_when_its_bug_is_caught() {
    let out = ccrsim(&["run", "scenarios/negative/raft-vote-twice.toml", "--seeds", "6", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("expected      election-safety saying \"and then for\""), "{stdout}");
    // Its catches are what it is for: counted as catches, not as failures.
    assert!(stdout.contains("caught        planted bug caught in 1 of 6 seeds"), "{stdout}");
    assert!(!stdout.contains("failed"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("plants bugs on purpose"));
    assert!(stderr.contains("seed 1 caught the planted bug: [election-safety]"), "{stderr}");
}

#[test]
fn replaying_a_seed_of_a_negative_scenario_exits_as_running_it_does() {
    // Seed 1 catches the planted bug, seed 0 does not: a run of either seed and its replay agree.
    for (seed, code, verdict) in [("1", 0, "planted bug caught"), ("0", 1, "planted bug not caught")] {
        let run = ccrsim(&["run", "scenarios/negative/raft-vote-twice.toml", "--seed-start", seed, "--seeds", "1", "--quiet"]);
        let replay = ccrsim(&["replay", "scenarios/negative/raft-vote-twice.toml", "--seed", seed, "--tail", "1"]);
        assert_eq!(run.status.code(), Some(code), "run of seed {seed}: {}", text(&run.stdout));
        assert_eq!(replay.status.code(), Some(code), "replay of seed {seed}: {}", text(&replay.stdout));
        assert!(text(&replay.stdout).contains(verdict), "{}", text(&replay.stdout));
    }
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
    assert!(text(&out.stdout).contains("planted bug caught in 0 of 6 seeds"), "{}", text(&out.stdout));
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
    assert!(
        stdout.contains("planted bug caught in 1 of 2 seeds") && stdout.contains("diverged      1 seeds"),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}");
}

#[test]
fn a_panic_in_a_role_is_reported_as_a_model_panic_with_its_replay_command() {
    // A hidden test hook makes controller 1's role panic at its first input from 2 s on.
    let json = temp("model-panic.json");
    let out = ccrsim(&[
        "run",
        "controllers-chaos",
        "--seeds",
        "1",
        "--inject-panic",
        "master.controller.1@2",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "stdout {}\nstderr {}", text(&out.stdout), text(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["seeds"][0]["verdict"], "violation");
    assert_eq!((&report["summary"]["failed"], &report["summary"]["harness_failures"]), (&1.into(), &0.into()));
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
        // Runs that would do nothing.
        (vec!["run", "--seeds", "0"], "--seeds 0 runs no seed"),
        (vec!["run", "--jobs", "0"], "--jobs 0 runs no thread"),
        (vec!["run", "controllers-chaos", "--seeds", "3", "--shard", "5/8"], "--shard 5/8 of 3 seeds leaves no seed"),
        (vec!["run", "--wall-limit-s", "0"], "--wall-limit-s 0 gives up on every seed"),
        // Bounds.
        (vec!["run", "--jobs", "100000"], "--jobs 100000 is more than the 1024 threads"),
        (vec!["run", "--seed-start", "18446744073709551615", "--seeds", "2"], "goes past the last seed, 18446744073709551615"),
        // Negative numbers, named by their flag.
        (vec!["run", "--seeds", "-1"], "--seeds must be a non-negative whole number, not -1"),
        (vec!["run", "--seed-start", "-3"], "--seed-start must be a non-negative whole number, not -3"),
        (vec!["run", "--jobs", "-2"], "--jobs must be a non-negative whole number, not -2"),
        (vec!["run", "--wall-limit-s", "-1"], "--wall-limit-s must be a non-negative whole number, not -1"),
        (vec!["run", "--shard", "-1/3"], "K in \"-1/3\" is not a whole number"),
        (vec!["replay", "controllers-chaos", "--seed", "-1"], "--seed must be a non-negative whole number, not -1"),
        (vec!["replay", "controllers-chaos", "--seed", "1", "--tail", "-5"], "--tail must be a non-negative whole number, not -5"),
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
    assert!(text(&out.stdout).contains("negative scenarios") && text(&out.stdout).contains("`list --all`"), "{}", text(&out.stdout));
}

#[test]
fn list_all_names_every_negative_scenario_with_what_it_expects() {
    let out = ccrsim(&["list", "--all"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let files = common::files_in("scenarios/negative");
    assert!(!files.is_empty());
    for file in files {
        let shown = format!("scenarios/negative/{}", file.file_name().unwrap().to_string_lossy());
        assert!(stdout.contains(&format!("{shown}  expects ")), "list --all lacks {shown}:\n{stdout}");
    }
    assert!(stdout.contains("scenarios/negative/raft-vote-twice.toml  expects election-safety: "), "{stdout}");
}

/// A scenario file in the temp dir that builds on `base` with `extra` lines.
fn scenario_file(name: &str, base: &str, extra: &str) -> std::path::PathBuf {
    let path = temp(&format!("{name}.toml"));
    std::fs::write(&path, format!("name = \"{name}\"\nbase = {base:?}\n{extra}")).unwrap();
    path
}

#[test]
fn a_panic_outside_the_model_is_a_harness_failure_with_exit_3() {
    // A hidden test hook makes the world itself (sim/) panic before controller 1's input at 2 s.
    let json = temp("harness-panic.json");
    let out = ccrsim(&[
        "run",
        "controllers-chaos",
        "--seeds",
        "1",
        "--inject-harness-panic",
        "master.controller.1@2",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "stdout {}\nstderr {}", text(&out.stdout), text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("seed 0 HARNESS FAILURE (ccrsim itself broke"), "{stderr}");
    assert!(stderr.contains("panic at sim/src/world/node.rs:"), "the failure names the panic's location: {stderr}");
    assert!(!stderr.contains("FAILED"), "a harness failure is no violation: {stderr}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("failed        0") && stdout.contains("HARNESS       1 seeds"), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let seed = &report["seeds"][0];
    assert_eq!((&seed["verdict"], &seed["ok"]), (&"harness-failure".into(), &false.into()), "{seed}");
    assert!(seed["harness_failure"].as_str().unwrap().contains("injected panic in the harness"), "{seed}");
    assert_eq!(seed["violations"].as_array().unwrap().len(), 0, "{seed}");
    assert_eq!((&report["summary"]["harness_failures"], &report["summary"]["failed"]), (&1.into(), &0.into()));
}

#[test]
fn a_seed_past_its_wall_limit_is_a_harness_failure_with_exit_3() {
    // 2000 simulated seconds of the busiest scenario take far more than one wall second.
    let path = scenario_file("slow", "deployment-chaos", "[run]\nsafety_s = 2000.0\n");
    let out = ccrsim(&["run", path.to_str().unwrap(), "--seeds", "1", "--wall-limit-s", "1", "--quiet"]);
    assert_eq!(out.status.code(), Some(3), "stdout {}\nstderr {}", text(&out.stdout), text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("seed 0 HARNESS FAILURE") && stderr.contains("past its wall limit"), "{stderr}");
    assert!(text(&out.stdout).contains("HARNESS       1 seeds"), "{}", text(&out.stdout));
}

#[test]
fn an_output_path_that_cannot_be_written_exits_2_before_any_seed() {
    // A failing scenario: were the sweep run first, its exit 1 would be hidden by the path's exit 2.
    let base = format!("{}/scenarios/negative/raft-vote-twice.toml", env!("CARGO_MANIFEST_DIR"));
    let failing = scenario_file("failing-for-json", &base, "[planted_bugs.raft]\nvote_twice = true\n");
    let unwritable = temp("no-such-dir/report.json");
    let out = ccrsim(&["run", failing.to_str().unwrap(), "--seeds", "6", "--quiet", "--json", unwritable.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("--json {}: cannot write there", unwritable.display())), "{stderr}");
    assert!(!stderr.contains("seed ") && text(&out.stdout).is_empty(), "a seed ran before the path was checked: {stderr}");
    // replay's --trace too: refused before the plan is even printed.
    let out = ccrsim(&["replay", "controllers-chaos", "--seed", "1", "--trace", temp("no-such-dir/t.txt").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--trace ") && text(&out.stdout).is_empty(), "{}", text(&out.stdout));
}

#[test]
fn seeds_are_made_as_the_sweep_needs_them() {
    // The last shard of u64::MAX seeds holds one seed: a list of all of them would abort the process.
    let max = u64::MAX.to_string();
    let shard = format!("{max}/{max}");
    let json = temp("huge.json");
    let out = ccrsim(&["run", "controllers-chaos", "--seeds", &max, "--shard", &shard, "--quiet", "--json", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["seeds"][0]["seed"].as_u64(), Some(u64::MAX - 1));
    // The last seed there is: u64::MAX itself runs, and nothing wraps to seed 0.
    let out = ccrsim(&["run", "controllers-chaos", "--seed-start", &max, "--seeds", "1", "--quiet", "--json", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["seeds"][0]["seed"].as_u64(), Some(u64::MAX));
}

#[test]
fn jobs_never_outnumber_the_seeds() {
    let out = ccrsim(&["run", "controllers-chaos", "--seeds", "2", "--jobs", "1000", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("2 seeds from 0, 2 jobs"), "{}", text(&out.stderr));
}

#[test]
#[should_panic(expected = "over no seed proves nothing")]
fn a_test_sweep_of_no_seed_fails() {
    common::sweep(&common::scenario("controllers-chaos"), Vec::new(), false);
}

#[test]
fn ci_clears_the_replay_variable() {
    let ci = std::fs::read_to_string(format!("{}/.ci/run", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let unset = ci.find("\nunset CCRSIM_SEED\n").expect(".ci/run unsets CCRSIM_SEED");
    assert!(unset < ci.find("cargo test").unwrap(), "CCRSIM_SEED is unset before the tests run");
}

fn read_doc(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The docs of the command line: the README and docs/*.md.
fn docs() -> Vec<(String, String)> {
    let mut docs = vec![("README.md".to_string(), read_doc("README.md"))];
    let dir = format!("{}/docs", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in names.into_iter().filter(|n| n.ends_with(".md")) {
        let path = format!("docs/{name}");
        docs.push((path.clone(), read_doc(&path)));
    }
    docs
}

#[test]
fn the_docs_replay_examples_fail_today_as_shown() {
    // Each `replay:` line of the README and docs/replay.md follows the failure it replays: replaying
    // it must report that failure, at the same time on the same node.
    let mut examples = 0;
    for path in ["README.md", "docs/replay.md"] {
        let doc = read_doc(path);
        let lines: Vec<&str> = doc.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(command) = line.trim().strip_prefix("replay: cargo run --release -- ") else { continue };
            let failure = lines[i - 1];
            let start = failure.find('[').unwrap_or_else(|| panic!("{path}: no failure above {line:?}"));
            let end = start + failure[start..].find(": ").unwrap();
            let shown = &failure[start..end];
            let out = ccrsim(&command.split_whitespace().collect::<Vec<_>>());
            let stdout = text(&out.stdout);
            assert!(stdout.contains(&format!("FAILED {shown}")), "{path}: `{command}` does not report {shown:?}:\n{stdout}");
            examples += 1;
        }
    }
    assert!(examples >= 2, "no replay example found");
}

#[test]
fn the_readme_names_every_option_and_exit_code() {
    let readme = read_doc("README.md");
    for command in ["run", "replay", "list"] {
        let help = text(&ccrsim(&[command, "--help"]).stdout);
        let options: Vec<&str> = help
            .split_whitespace()
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
            .filter(|w| *w != "--help")
            .collect();
        assert!(!options.is_empty(), "{command} --help lists no option");
        for option in options {
            assert!(readme.contains(&format!("`{option}")), "README does not describe `{command} {option}`");
        }
    }
    for code in ["| `0` |", "| `1` |", "| `2` |", "| `3` |"] {
        assert!(readme.contains(code), "README's exit codes lack {code}");
    }
}

#[test]
fn the_docs_link_and_name_only_files_of_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, doc) in docs() {
        let dir = root.join(path.rsplit_once('/').map_or("", |(d, _)| d));
        // Markdown links: a file of the repository (an anchor aside), never a URL.
        for piece in doc.split("](").skip(1) {
            let target = piece.split(')').next().unwrap().split('#').next().unwrap();
            if target.is_empty() {
                continue;
            }
            assert!(!target.contains("://"), "{path} links outside the repository: {target}");
            assert!(dir.join(target).exists(), "{path} links to {target}, which is not in the repository");
        }
        // A `.md` file named in the text is one of the repository's too.
        for word in doc.split(|c: char| c.is_whitespace() || "`()[],;:".contains(c)) {
            let name = word.trim_end_matches('.');
            if name.ends_with(".md") && !name.starts_with("http") {
                let found = [root, &root.join("docs"), &dir].iter().any(|d| d.join(name).exists());
                assert!(found, "{path} names {name}, which is not in the repository");
            }
        }
    }
}

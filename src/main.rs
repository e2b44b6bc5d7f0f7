//! `ccrsim`: run chaos scenarios of a replicated deployment over many seeds, and replay one seed.
//!
//! Exit codes, of `run` and of `replay` alike (a replay exits as a run of that one seed would):
//! - 0: every seed passed (for a negative scenario: some seed caught its expected violation with
//!   its expected message, and no seed's two runs differed);
//! - 1: a seed failed a checker: a violation of the system under test, a panic in `model/` (a
//!   broken model invariant) included, or two runs of a seed that differ;
//! - 2: bad usage or bad input (the command line, a scenario file, an output path), always before
//!   any seed runs;
//! - 3: a harness failure, ccrsim itself broke: a panic outside `model/` (in `sim/`, the binary or
//!   a dependency), a seed past its wall limit, a run that ended without an outcome. It wins over 1:
//!   a sweep in which ccrsim broke cannot be trusted.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use ccrsim_model::core::io::NodeId;
use ccrsim_sim::env::time::SimTime;
use ccrsim_sim::nemesis;
use ccrsim_sim::runner::{self, Injections, JsonReport, RunOptions, SeedRange, SeedReport, Seeds, Summary, SweepOptions, Verdict};
use ccrsim_sim::scenario::{DEFAULT_SCENARIO, EMBEDDED, Scenario};
use ccrsim_sim::shrink::Refusal;
use ccrsim_sim::topology::Topology;

// The simulation allocates and frees small objects at a high rate (messages, events, log entries);
// mimalloc makes that markedly cheaper than the system allocator. Allocation never influences the
// simulation (nothing is ordered by address), so this cannot change a trace.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ccrsim", version, about = "Deterministic simulation testbed for cluster replication")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario over a range of seeds.
    Run(RunArgs),
    /// Run one seed again, exactly, and show its faults and trace.
    Replay(ReplayArgs),
    /// List the scenarios shipped with ccrsim.
    List(ListArgs),
    /// From a failing seed, a smaller run that fails the same way, written as a scenario file.
    Shrink(ShrinkArgs),
}

#[derive(clap::Args)]
struct ShrinkArgs {
    /// An embedded scenario's name or a path to a scenario file.
    scenario: String,
    /// The failing seed.
    #[arg(long, allow_negative_numbers = true, value_parser = whole_number("--seed", None))]
    seed: u64,
    /// Where to write the shrunk scenario (default: SCENARIO-seedS-shrunk.toml here); its file
    /// name without `.toml` becomes the scenario's name.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Stop after this many wall seconds with the smallest failing run found so far.
    #[arg(long, default_value_t = 600, allow_negative_numbers = true, value_parser = whole_number("--budget-s", Some("stop before the first run")))]
    budget_s: u64,
    /// Give up on one run after this many wall seconds.
    #[arg(long, default_value_t = 600, allow_negative_numbers = true, value_parser = whole_number("--wall-limit-s", Some("give up on every run at once")))]
    wall_limit_s: u64,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

/// The most threads `--jobs` may ask for.
const MAX_JOBS: usize = 1024;

#[derive(clap::Args)]
struct ListArgs {
    /// Also list the negative scenarios (scenarios/negative/): each plants a bug a checker must catch.
    #[arg(long)]
    all: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// An embedded scenario's name or a path to a scenario file.
    #[arg(default_value = DEFAULT_SCENARIO)]
    scenario: String,
    /// How many seeds, 1 or more (default: the scenario's `run.seeds_default`).
    #[arg(long, allow_negative_numbers = true, value_parser = whole_number("--seeds", Some("runs no seed")))]
    seeds: Option<u64>,
    /// First seed (the last one run may be at most 18446744073709551615).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = whole_number("--seed-start", None))]
    seed_start: u64,
    /// Threads, 1 to 1024, never more than the seeds to run (default: every core).
    #[arg(long, allow_negative_numbers = true, value_parser = whole_number("--jobs", Some("runs no thread")))]
    jobs: Option<u64>,
    /// Run only shard K of N (1-based), e.g. `--shard 2/8`: seeds whose position modulo N is K-1.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
    /// Run every seed twice and compare traces event by event.
    #[arg(long)]
    check_determinism: bool,
    /// Write a JSON report here (created before the first seed runs).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Give up on a seed after this many wall seconds, 1 or more: a harness failure (exit 3).
    #[arg(long, default_value_t = 600, allow_negative_numbers = true, value_parser = whole_number("--wall-limit-s", Some("gives up on every seed before it runs")))]
    wall_limit_s: u64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Test hook, hidden: the harness itself panics (outside the model) before node NODE's first
    /// input at or after SECONDS, as a bug in ccrsim would, so that the tests can see how a
    /// harness failure is reported (tests/cli.rs).
    #[arg(long, hide = true, value_name = "NODE@SECONDS", value_parser = parse_injected_panic)]
    inject_harness_panic: Option<(String, f64)>,
    /// Test hook, hidden: under --check-determinism, the second run of each seed draws one number
    /// more from its network generator at this simulated second, so that the determinism check has
    /// a divergence to find (tests/cli.rs).
    #[arg(long, hide = true, value_name = "SECONDS", value_parser = parse_sim_seconds)]
    inject_divergence_at: Option<f64>,
    #[command(flatten)]
    inject_panic: InjectPanicArg,
}

/// Test hook, hidden: a node's role panics, as a broken model invariant would, so that the tests
/// can see how a panic is reported (tests/cli.rs). `replay` takes it too, and the replay command a
/// failure prints repeats it.
#[derive(clap::Args, Default)]
struct InjectPanicArg {
    /// The role of node NODE (its name) panics when handed its first input at or after SECONDS.
    #[arg(long, hide = true, value_name = "NODE@SECONDS", value_parser = parse_injected_panic)]
    inject_panic: Option<(String, f64)>,
}

impl InjectPanicArg {
    /// The node and time, checked against `scenario`'s nodes.
    fn resolve(&self, scenario: &Scenario) -> Result<Option<(NodeId, SimTime)>, String> {
        resolve_injected_panic("--inject-panic", &self.inject_panic, scenario)
    }

    /// The flag as given, for a replay command that injects the same.
    fn flag(&self) -> String {
        self.inject_panic.as_ref().map_or(String::new(), |(name, at)| format!(" --inject-panic {name}@{at}"))
    }
}

/// A hidden `NODE@SECONDS` test flag's node and time, checked against `scenario`'s nodes.
fn resolve_injected_panic(flag: &str, given: &Option<(String, f64)>, scenario: &Scenario) -> Result<Option<(NodeId, SimTime)>, String> {
    let Some((name, at)) = given else { return Ok(None) };
    let topology = Topology::from_scenario(scenario);
    let node = topology
        .by_name(name)
        .ok_or_else(|| format!("{flag}: no node {name:?} in {} (nodes: {})", scenario.name, topology.names().join(", ")))?;
    Ok(Some((node, SimTime::from_secs_f64(*at))))
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// An embedded scenario's name or a path to a scenario file.
    scenario: String,
    /// The seed.
    #[arg(long, allow_negative_numbers = true, value_parser = whole_number("--seed", None))]
    seed: u64,
    /// Write every trace line to this file (created before the seed runs).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Lines of the trace's end to print.
    #[arg(long, default_value_t = 40, allow_negative_numbers = true, value_parser = whole_number("--tail", None))]
    tail: u64,
    #[command(flatten)]
    inject_panic: InjectPanicArg,
}

/// A parser of a flag's whole number whose refusals name the flag (clap's own would call `-1` an
/// unexpected argument). `zero_would` says what 0 would do, for a flag that refuses it.
fn whole_number(
    flag: &'static str,
    zero_would: Option<&'static str>,
) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |s: &str| match (s.parse::<u64>(), zero_would) {
        (Ok(0), Some(what)) => Err(format!("{flag} 0 {what}: give 1 or more")),
        (Ok(n), _) => Ok(n),
        (Err(_), _) if s.starts_with('-') => Err(format!("{flag} must be a non-negative whole number, not {s}")),
        (Err(e), _) => Err(format!("{flag} must be a whole number up to {} ({e})", u64::MAX)),
    }
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 2/8")?;
    let k: u64 = k.parse().map_err(|_| format!("K in {s:?} is not a whole number 1 or more"))?;
    let n: u64 = n.parse().map_err(|_| format!("N in {s:?} is not a whole number 1 or more"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("need 1 <= K <= N, got {k}/{n}"));
    }
    Ok((k, n))
}

fn parse_sim_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(format!("{s:?} is not a number of simulated seconds (0 or more)")),
    }
}

fn parse_injected_panic(s: &str) -> Result<(String, f64), String> {
    let (node, at) = s.split_once('@').ok_or("expected NODE@SECONDS, e.g. master.controller.1@2.5")?;
    Ok((node.to_string(), parse_sim_seconds(at)?))
}

fn main() -> ExitCode {
    // Output piped into `head` and closed early ends the program quietly, as with other Unix
    // tools, instead of a panic on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default action of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        None => run(RunArgs {
            scenario: DEFAULT_SCENARIO.into(),
            seeds: None,
            seed_start: 0,
            jobs: None,
            shard: None,
            check_determinism: false,
            json: None,
            wall_limit_s: 600,
            quiet: false,
            inject_harness_panic: None,
            inject_divergence_at: None,
            inject_panic: InjectPanicArg::default(),
        }),
        Some(Command::Run(args)) => run(args),
        Some(Command::Replay(args)) => replay(args),
        Some(Command::List(args)) => list(&args),
        Some(Command::Shrink(args)) => shrink(args),
    };
    result.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    })
}

fn load(scenario: &str) -> Result<Arc<Scenario>, String> {
    Scenario::load(scenario).map(Arc::new).map_err(|e| e.to_string())
}

/// The command that replays `seed` of `scenario` exactly (with the same injected panic, if any).
fn replay_command(scenario: &str, seed: u64, inject_panic: &InjectPanicArg) -> String {
    format!("cargo run --release -- replay {scenario} --seed {seed}{}", inject_panic.flag())
}

/// Creates (or truncates) an output file before anything runs, so that a path that cannot be
/// written is bad usage (exit 2) found before the first seed, never after a sweep.
fn create_output(flag: &str, path: &Path) -> Result<File, String> {
    File::create(path).map_err(|e| format!("{flag} {}: cannot write there: {e}", path.display()))
}

/// The threads of a sweep: `--jobs` (at most `MAX_JOBS`) or every core, never more than its seeds.
fn jobs_for(jobs: Option<u64>, seeds: u64) -> Result<usize, String> {
    let asked = match jobs {
        Some(j) if j > MAX_JOBS as u64 => return Err(format!("--jobs {j} is more than the {MAX_JOBS} threads ccrsim runs at most")),
        Some(j) => j as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_JOBS),
    };
    Ok(asked.min(usize::try_from(seeds).unwrap_or(usize::MAX)).max(1))
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let scenario = load(&args.scenario)?;
    let count = args.seeds.unwrap_or(scenario.run.seeds_default);
    let seeds = SeedRange::new(args.seed_start, count, args.shard)?;
    let jobs = jobs_for(args.jobs, seeds.len())?;
    let injections = Injections {
        divergence_at: args.inject_divergence_at.map(SimTime::from_secs_f64),
        panic_at: args.inject_panic.resolve(&scenario)?,
        harness_panic_at: resolve_injected_panic("--inject-harness-panic", &args.inject_harness_panic, &scenario)?,
    };
    let json = args.json.as_deref().map(|path| create_output("--json", path)).transpose()?;
    let negative = scenario.expect.violation.is_some();
    if scenario.planted_bugs.any() {
        eprintln!("warning: scenario {} plants bugs on purpose: {}", scenario.name, scenario.planted_bugs.names().join(", "));
    }
    eprintln!(
        "ccrsim: scenario {} ({} s safety + up to {} s liveness), {} seeds from {}, {} jobs{}",
        scenario.name,
        scenario.run.safety_s,
        scenario.run.liveness_bound_s,
        seeds.len(),
        seeds.get(0).unwrap_or(args.seed_start),
        jobs,
        if args.check_determinism { ", each run twice" } else { "" }
    );
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(seeds.len()) };
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} seeds  {msg}  [{elapsed_precise} < {eta}]").expect("valid template"),
    );
    let counted = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let options = SweepOptions {
        seeds: Seeds::Range(seeds),
        jobs,
        check_determinism: args.check_determinism,
        wall_limit: Duration::from_secs(args.wall_limit_s),
        injections,
    };
    let reports = runner::sweep(&scenario, &options, |r| {
        if !r.ok {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            bar.set_message(if negative { format!("{n} caught or failed") } else { format!("{n} failed") });
            bar.suspend(|| report_failure(&args.scenario, &scenario, r, &args.inject_panic));
        }
        bar.inc(1);
    });
    bar.finish_and_clear();
    let summary = Summary::of(&scenario, &reports, started.elapsed().as_secs_f64());
    print_summary(&summary);
    print_signatures(&summary, &args.scenario, &args.inject_panic);
    if let (Some(file), Some(path)) = (json, &args.json) {
        let mut out = BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, &JsonReport { summary: &summary, seeds: &reports })
            .map_err(std::io::Error::from)
            .and_then(|()| out.flush())
            .map_err(|e| format!("--json {}: cannot write the report: {e}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(ExitCode::from(summary.exit_code()))
}

fn report_failure(reference: &str, scenario: &Scenario, r: &SeedReport, inject_panic: &InjectPanicArg) {
    let mut err = std::io::stderr().lock();
    if let Some(failure) = &r.harness_failure {
        let _ = writeln!(err, "seed {} HARNESS FAILURE (ccrsim itself broke, not the system under test): {failure}", r.seed);
    }
    let caught = r.caught(&scenario.expect);
    for (i, v) in r.violations.iter().enumerate() {
        let verdict = if caught && i == 0 { "caught the planted bug:" } else { "FAILED" };
        let _ = writeln!(err, "seed {} {verdict} {v}", r.seed);
    }
    let _ = writeln!(err, "  replay: {}", replay_command(reference, r.seed, inject_panic));
}

fn print_summary(s: &Summary) {
    println!("scenario      {}", s.scenario);
    println!("seeds         {}", s.seeds);
    match &s.expected_violation {
        None => {
            println!("passed        {}", s.passed);
            println!("failed        {}", s.failed);
        }
        Some(v) => {
            // A negative scenario: its violations are what it is for, not failures.
            let saying = s.expected_message.as_ref().map_or(String::new(), |m| format!(" saying {m:?}"));
            println!("expected      {v}{saying}");
            println!("caught        planted bug caught in {} of {} seeds", s.caught_expected, s.seeds);
            let otherwise = s.failed - s.caught_expected.min(s.failed);
            if otherwise > 0 {
                println!("otherwise     {otherwise} seeds reported another violation first");
            }
        }
    }
    if s.harness_failures > 0 {
        println!("HARNESS       {} seeds: ccrsim itself broke (not a finding about the system under test)", s.harness_failures);
    }
    if s.diverged > 0 {
        println!("diverged      {} seeds ran differently twice: the simulation is not deterministic", s.diverged);
    }
    println!("simulated     {:.1} s", s.sim_seconds);
    println!("wall          {:.2} s ({:.2} s of simulation over all threads)", s.wall_seconds, s.seed_wall_seconds);
    println!("acceleration  {:.0}x per core", s.acceleration);
    println!("messages      {} ({:.0} per wall second per core)", s.messages, s.messages_per_wall_second);
    if s.committed_transactions > 0 {
        println!("transactions  {} committed ({:.1} per simulated second)", s.committed_transactions, s.committed_per_sim_second);
    }
    let r = &s.replication;
    if r.enqueued > 0 {
        println!(
            "replication   {} tasks enqueued; on slaves {} applied, {} skipped, {} FAILED, {} unfinished",
            r.enqueued, r.applied, r.skipped, r.failed, r.unfinished
        );
    }
    for (class, r) in &s.recovery {
        let lost = if r.lost_writes_total > 0 {
            format!("; lost {} writes (max {} in one, {:.3} s of writing)", r.lost_writes_total, r.lost_writes.max, r.lost_span_s.max)
        } else {
            String::new()
        };
        println!(
            "failovers     {class}: {} (new leader median {:.3} s, p99 {:.3} s, max {:.3} s; serving median {:.3} s, p99 {:.3} s, max {:.3} s{}{lost})",
            r.failovers,
            r.to_leader_s.median,
            r.to_leader_s.p99,
            r.to_leader_s.max,
            r.to_caught_up_s.median,
            r.to_caught_up_s.p99,
            r.to_caught_up_s.max,
            if r.without_new_leader > 0 { format!("; {} without a new leader", r.without_new_leader) } else { String::new() },
        );
    }
    for (concern, c) in &s.losses_by_write_concern {
        println!(
            "ReplSize {concern:<4} {} writes acknowledged, {} lost ({:.1} per 1,000; {} of them confirmed by a majority), {} not judged",
            c.acknowledged,
            c.lost,
            c.lost_per_1000(),
            c.lost_majority_confirmed,
            c.unjudged
        );
    }
    if s.fates.writes > 0 {
        let fates: Vec<String> = s.fates.by_fate().iter().map(|(fate, n)| format!("{n} {fate}")).collect();
        println!("fates         {} writes over {} copies: {}", s.fates.writes, s.fates.copies.len(), fates.join(", "));
    }
}

/// One line per failure signature: how many seeds, and the seed that failed soonest with the command
/// that replays it (the one to debug first).
fn print_signatures(s: &Summary, reference: &str, inject_panic: &InjectPanicArg) {
    if s.signatures.is_empty() {
        return;
    }
    println!("signatures    {} (checker, promise, faults in effect when it broke; the seed that broke it soonest)", s.signatures.len());
    for c in &s.signatures {
        let replay = replay_command(reference, c.fastest_seed, inject_panic);
        println!("  {:>6} seeds  {}; soonest: seed {} at {:.3} s: {replay}", c.seeds, c.signature, c.fastest_seed, c.fastest_at_s);
    }
}

fn shrink(args: ShrinkArgs) -> Result<ExitCode, String> {
    let scenario = load(&args.scenario)?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}-seed{}-shrunk.toml", scenario.name, args.seed)));
    if out.extension().and_then(|e| e.to_str()) != Some("toml") {
        return Err(format!("--out {}: a scenario file's name ends in .toml", out.display()));
    }
    let name = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    // Created before the first run: a path that cannot be written is bad usage, found at once.
    create_output("--out", &out)?;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}").expect("valid template"));
    bar.enable_steady_tick(Duration::from_millis(200));
    let options =
        ccrsim_sim::shrink::Options { budget: Duration::from_secs(args.budget_s), wall_limit: Duration::from_secs(args.wall_limit_s) };
    let file = out.display().to_string();
    let result = ccrsim_sim::shrink::shrink(&scenario, args.seed, &file, &name, options, &mut |p| {
        bar.set_message(format!("run {}: {} faults left; trying {}", p.runs, p.faults, p.step));
    });
    bar.finish_and_clear();
    let shrunk = match result {
        Ok(shrunk) => shrunk,
        Err(refusal) => {
            let _ = std::fs::remove_file(&out);
            return match refusal {
                Refusal::Passes => Err(format!("seed {} of {} passes: there is no failure to shrink", args.seed, scenario.name)),
                Refusal::HarnessFailure(f) => {
                    eprintln!("HARNESS FAILURE on seed {} (ccrsim itself broke, nothing to shrink): {f}", args.seed);
                    Ok(ExitCode::from(3))
                }
                Refusal::NotReproduced(why) => {
                    eprintln!("HARNESS FAILURE: the seed's faults written as a schedule are not the same run: {why}");
                    Ok(ExitCode::from(3))
                }
            };
        }
    };
    let cause = ccrsim_sim::shrink::cause(&shrunk);
    let mut written = shrunk.scenario.clone();
    written.description = format!("Shrunk by `ccrsim shrink` from {} seed {}. {cause}", scenario.name, args.seed);
    std::fs::write(&out, ccrsim_sim::shrink::schedule::to_toml(&written))
        .map_err(|e| format!("--out {}: cannot write: {e}", out.display()))?;
    let (b, a) = (shrunk.before, shrunk.after);
    println!(
        "shrunk        {} seed {}: [{}] {}",
        scenario.name,
        args.seed,
        shrunk.target.checker,
        ccrsim_sim::runner::format_name(&shrunk.target.class)
    );
    println!("{cause}");
    println!("faults        {} -> {}", b.faults, a.faults);
    println!("operations    {} -> {}", b.operations, a.operations);
    println!("simulated     {:.1} s -> {:.1} s", b.sim_seconds, a.sim_seconds);
    let stopped = if shrunk.budget_ran_out {
        " (the budget ran out: a smaller run may exist)"
    } else {
        " (each fault left is needed: without any one of them the seed passes or fails another way)"
    };
    println!("runs          {}{stopped}", shrunk.runs);
    println!("written       {}", out.display());
    println!("replay        {}", replay_command(&file, args.seed, &InjectPanicArg::default()));
    // A candidate that failed another way is a scenario a user could have written that fails: a
    // finding of its own, written beside the shrunk file.
    for (i, (other, report)) in shrunk.other_failures.iter().enumerate() {
        let path = out.with_file_name(format!("{name}-other{}.toml", i + 1));
        let mut other = other.clone();
        other.name = format!("{name}-other{}", i + 1);
        other.description = format!(
            "Met by `ccrsim shrink` while shrinking {} seed {}: {}",
            scenario.name,
            args.seed,
            report.failure().unwrap_or_default()
        );
        std::fs::write(&path, ccrsim_sim::shrink::schedule::to_toml(&other))
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        let signature = report.signature.as_ref().map(ToString::to_string).unwrap_or_default();
        println!("also failed   {signature}: {}", replay_command(&path.display().to_string(), args.seed, &InjectPanicArg::default()));
    }
    Ok(ExitCode::SUCCESS)
}

fn replay(args: ReplayArgs) -> Result<ExitCode, String> {
    let scenario = load(&args.scenario)?;
    let injections = Injections { panic_at: args.inject_panic.resolve(&scenario)?, ..Injections::default() };
    let trace_file = args.trace.as_deref().map(|path| create_output("--trace", path)).transpose()?;
    let topology = Topology::from_scenario(&scenario);
    let plan = nemesis::plan_for(&scenario, &topology, args.seed);
    println!("scenario {} seed {}", scenario.name, args.seed);
    println!("nodes: {}", topology.names().join(", "));
    println!("swarm: enabled {:?}, disabled {:?}", plan.swarm.enabled, plan.swarm.disabled);
    println!("faults ({}):", plan.faults.len());
    for f in &plan.faults {
        println!("  {} {:?}", f.at, f.action);
    }
    let started = Instant::now();
    let report = runner::run_seed_isolated(&scenario, args.seed, RunOptions { record_trace: true, injections }, Duration::from_secs(3600));
    let lines = report.trace.as_deref().unwrap_or(&[]);
    if let (Some(file), Some(path)) = (trace_file, &args.trace) {
        let mut out = BufWriter::new(file);
        lines
            .iter()
            .try_for_each(|l| writeln!(out, "{l}"))
            .and_then(|()| out.flush())
            .map_err(|e| format!("--trace {}: cannot write the trace: {e}", path.display()))?;
        println!("trace: {} events written to {}", lines.len(), path.display());
    }
    let tail = usize::try_from(args.tail).unwrap_or(usize::MAX).min(lines.len());
    println!("last {tail} of {} events:", lines.len());
    for l in &lines[lines.len() - tail..] {
        println!("  {l}");
    }
    println!(
        "trace hash {}  simulated {:.3} s  wall {:.3} s  messages {}  events {}",
        report.trace_hash, report.sim_seconds, report.wall_seconds, report.messages, report.events
    );
    print_replay_verdict(&scenario, &report);
    // The seed exits as a run of this one seed would.
    let summary = Summary::of(&scenario, std::slice::from_ref(&report), started.elapsed().as_secs_f64());
    Ok(ExitCode::from(summary.exit_code()))
}

fn print_replay_verdict(scenario: &Scenario, report: &SeedReport) {
    match report.verdict {
        Verdict::Passed => println!("PASSED"),
        Verdict::Violation => {
            for v in &report.violations {
                println!("FAILED {v}");
            }
        }
        Verdict::HarnessFailure => {
            println!(
                "HARNESS FAILURE (ccrsim itself broke, not the system under test): {}",
                report.harness_failure.as_deref().unwrap_or("")
            );
        }
    }
    if let Some(expected) = &scenario.expect.violation {
        if report.caught(&scenario.expect) {
            println!("planted bug caught: {expected} reported it first, as the negative scenario expects");
        } else {
            println!("planted bug not caught by this seed (the negative scenario expects {expected} first)");
        }
    }
}

/// The shipped scenarios, and with `--all` the negative ones (files, run by path).
fn list(args: &ListArgs) -> Result<ExitCode, String> {
    let width = EMBEDDED.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, _) in EMBEDDED {
        let s = Scenario::embedded(name).expect("embedded scenarios parse");
        println!("{name:<width$}  {}", s.description);
    }
    let Some(dir) = negative_dir() else {
        println!("\nnegative scenarios: none here (they are the files in scenarios/negative/ of the repository)");
        return Ok(ExitCode::SUCCESS);
    };
    let files = negative_files(&dir)?;
    if !args.all {
        println!("\n(and {} negative scenarios in {}, each planting a bug: `list --all`)", files.len(), dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nnegative scenarios (each plants a bug its checker must catch; run by path):");
    for path in files {
        let shown = path.display().to_string();
        let s = load(&shown)?;
        let expects = s.expect.violation.as_deref().unwrap_or("-");
        println!("{shown}  expects {expects}: {}", s.description);
    }
    Ok(ExitCode::SUCCESS)
}

/// The negative scenarios' folder: `scenarios/negative` of the working directory (the repository
/// root, where `cargo run` runs), else of the repository this binary was built from.
fn negative_dir() -> Option<PathBuf> {
    let here = PathBuf::from("scenarios/negative");
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/negative");
    [here, built_from].into_iter().find(|dir| dir.is_dir())
}

/// The scenario files of `dir`, sorted.
fn negative_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    Ok(files)
}

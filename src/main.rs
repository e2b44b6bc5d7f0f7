//! `ccrsim`: run chaos scenarios of a replicated deployment over many seeds, and replay one seed.
//!
//! Exit codes: 0 when every seed passed (for a negative scenario: some seed caught its expected
//! violation with its expected message, and no seed's two runs differed), 1 when a seed failed, 2 on
//! bad usage or a bad scenario file.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use ccrsim_model::core::io::NodeId;
use ccrsim_sim::env::time::SimTime;
use ccrsim_sim::nemesis;
use ccrsim_sim::runner::{self, Injections, JsonReport, RunOptions, SeedReport, Summary, SweepOptions};
use ccrsim_sim::scenario::{DEFAULT_SCENARIO, EMBEDDED, Scenario};
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
    List,
}

#[derive(clap::Args)]
struct RunArgs {
    /// An embedded scenario's name or a path to a scenario file.
    #[arg(default_value = DEFAULT_SCENARIO)]
    scenario: String,
    /// How many seeds (default: the scenario's `run.seeds_default`).
    #[arg(long)]
    seeds: Option<u64>,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    seed_start: u64,
    /// Threads (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard K of N (1-based), e.g. `--shard 2/8`: seeds whose position modulo N is K-1.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
    /// Run every seed twice and compare traces event by event.
    #[arg(long)]
    check_determinism: bool,
    /// Write a JSON report here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Give up on a seed after this many wall seconds.
    #[arg(long, default_value_t = 600)]
    wall_limit_s: u64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
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
        let Some((name, at)) = &self.inject_panic else { return Ok(None) };
        let topology = Topology::from_scenario(scenario);
        let node = topology
            .by_name(name)
            .ok_or_else(|| format!("--inject-panic: no node {name:?} in {} (nodes: {})", scenario.name, topology.names().join(", ")))?;
        Ok(Some((node, SimTime::from_secs_f64(*at))))
    }

    /// The flag as given, for a replay command that injects the same.
    fn flag(&self) -> String {
        self.inject_panic.as_ref().map_or(String::new(), |(name, at)| format!(" --inject-panic {name}@{at}"))
    }
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// An embedded scenario's name or a path to a scenario file.
    scenario: String,
    /// The seed.
    #[arg(long)]
    seed: u64,
    /// Write every trace line to this file.
    #[arg(long)]
    trace: Option<std::path::PathBuf>,
    /// Lines of the trace's end to print.
    #[arg(long, default_value_t = 40)]
    tail: usize,
    #[command(flatten)]
    inject_panic: InjectPanicArg,
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 2/8")?;
    let k: u64 = k.parse().map_err(|_| format!("K in {s:?} is not a number"))?;
    let n: u64 = n.parse().map_err(|_| format!("N in {s:?} is not a number"))?;
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
            inject_divergence_at: None,
            inject_panic: InjectPanicArg::default(),
        }),
        Some(Command::Run(args)) => run(args),
        Some(Command::Replay(args)) => replay(args),
        Some(Command::List) => {
            let width = EMBEDDED.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
            for (name, _) in EMBEDDED {
                let s = Scenario::embedded(name).expect("embedded scenarios parse");
                println!("{name:<width$}  {}", s.description);
            }
            Ok(ExitCode::SUCCESS)
        }
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

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let scenario = load(&args.scenario)?;
    let count = args.seeds.unwrap_or(scenario.run.seeds_default);
    let mut seeds: Vec<u64> = (0..count).map(|i| args.seed_start + i).collect();
    if let Some((k, n)) = args.shard {
        seeds = seeds.into_iter().enumerate().filter(|(i, _)| *i as u64 % n == k - 1).map(|(_, s)| s).collect();
    }
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    if scenario.planted_bugs.any() {
        eprintln!("warning: scenario {} plants bugs on purpose: {}", scenario.name, scenario.planted_bugs.names().join(", "));
    }
    eprintln!(
        "ccrsim: scenario {} ({} s safety + up to {} s liveness), {} seeds from {}, {} jobs{}",
        scenario.name,
        scenario.run.safety_s,
        scenario.run.liveness_bound_s,
        seeds.len(),
        seeds.first().copied().unwrap_or(args.seed_start),
        jobs,
        if args.check_determinism { ", each run twice" } else { "" }
    );
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(seeds.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} seeds  {msg}  [{elapsed_precise} < {eta}]").expect("valid template"),
    );
    let failures = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let injections = Injections {
        divergence_at: args.inject_divergence_at.map(SimTime::from_secs_f64),
        panic_at: args.inject_panic.resolve(&scenario)?,
    };
    let options = SweepOptions {
        seeds,
        jobs,
        check_determinism: args.check_determinism,
        wall_limit: Duration::from_secs(args.wall_limit_s),
        injections,
    };
    let reports = runner::sweep(&scenario, &options, |r| {
        if !r.ok {
            let n = failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            bar.set_message(format!("{n} failed"));
            bar.suspend(|| report_failure(&args.scenario, r, &args.inject_panic));
        }
        bar.inc(1);
    });
    bar.finish_and_clear();
    let summary = Summary::of(&scenario, &reports, started.elapsed().as_secs_f64());
    print_summary(&summary);
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&JsonReport { summary: &summary, seeds: &reports }).expect("reports serialise");
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(if summary.success() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn report_failure(scenario: &str, r: &SeedReport, inject_panic: &InjectPanicArg) {
    let mut err = std::io::stderr().lock();
    for v in &r.violations {
        let _ = writeln!(err, "seed {} FAILED {v}", r.seed);
    }
    let _ = writeln!(err, "  replay: {}", replay_command(scenario, r.seed, inject_panic));
}

fn print_summary(s: &Summary) {
    println!("scenario      {}", s.scenario);
    println!("seeds         {}", s.seeds);
    println!("passed        {}", s.passed);
    println!("failed        {}", s.failed);
    if let Some(v) = &s.expected_violation {
        let saying = s.expected_message.as_ref().map_or(String::new(), |m| format!(" saying {m:?}"));
        println!("expected      {v}{saying} (caught in {} seeds)", s.caught_expected);
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
}

fn replay(args: ReplayArgs) -> Result<ExitCode, String> {
    let scenario = load(&args.scenario)?;
    let topology = Topology::from_scenario(&scenario);
    let plan = nemesis::plan_for(&scenario, &topology, args.seed);
    println!("scenario {} seed {}", scenario.name, args.seed);
    println!("nodes: {}", topology.names().join(", "));
    println!("swarm: enabled {:?}, disabled {:?}", plan.swarm.enabled, plan.swarm.disabled);
    println!("faults ({}):", plan.faults.len());
    for f in &plan.faults {
        println!("  {} {:?}", f.at, f.action);
    }
    let injections = Injections { panic_at: args.inject_panic.resolve(&scenario)?, ..Injections::default() };
    let report = runner::run_seed_isolated(&scenario, args.seed, RunOptions { record_trace: true, injections }, Duration::from_secs(3600));
    let lines = report.trace.as_deref().unwrap_or(&[]);
    if let Some(path) = &args.trace {
        let mut out = String::with_capacity(lines.len() * 80);
        for l in lines {
            out.push_str(&l.to_string());
            out.push('\n');
        }
        std::fs::write(path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("trace: {} events written to {}", lines.len(), path.display());
    }
    println!("last {} of {} events:", args.tail.min(lines.len()), lines.len());
    for l in &lines[lines.len().saturating_sub(args.tail)..] {
        println!("  {l}");
    }
    println!(
        "trace hash {}  simulated {:.3} s  wall {:.3} s  messages {}  events {}",
        report.trace_hash, report.sim_seconds, report.wall_seconds, report.messages, report.events
    );
    if report.ok {
        println!("PASSED");
        Ok(ExitCode::SUCCESS)
    } else {
        for v in &report.violations {
            println!("FAILED {v}");
        }
        Ok(ExitCode::from(1))
    }
}

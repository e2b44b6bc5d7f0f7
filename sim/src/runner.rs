//! Running seeds: one seed in a fresh madsim runtime on a fresh thread, sweeps over many seeds on a
//! pool of threads, determinism checks, and the reports.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use ccrsim_model::core::marks;
use serde::Serialize;

use crate::checkers::{Class, DETERMINISM, MODEL_INVARIANT, Violation};
use crate::design::SimDesign;
use crate::env::net::NetStats;
use crate::env::time::SimTime;
use crate::host::{SharedWorld, simulate};
use crate::nemesis;
use crate::registry::{DesignJob, with_design};
use crate::scenario::{ExpectSection, Scenario};
use crate::trace::{TraceLine, first_difference};
pub use crate::world::Injections;
use crate::world::{Outcome, RunStats, World};

/// The report of one seed.
#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// True when no checker reported.
    pub ok: bool,
    /// The trace hash, as 16 hex digits.
    pub trace_hash: String,
    /// Simulated seconds the run took.
    pub sim_seconds: f64,
    /// Wall-clock seconds the run took.
    pub wall_seconds: f64,
    /// Messages delivered.
    pub messages: u64,
    /// Trace events.
    pub events: u64,
    /// What the checkers reported (the first violation ends a run).
    pub violations: Vec<Violation>,
    /// Counters.
    pub stats: RunStats,
    /// Network counters.
    pub network: NetStats,
    /// What the DFS did (deployments with data nodes).
    pub dfs: Option<crate::summary::ReplicaSummary>,
    /// What replication did (deployments with slaves).
    pub replication: Option<crate::summary::PipelineSummary>,
    /// What availability measured: fault-free windows, the client operations counted in them,
    /// the longest leaderless stretch of each controller group (`availability`).
    pub availability: Option<crate::checkers::availability::AvailabilitySummary>,
    /// Coverage marks the model hit, with how often (`ccrsim_model::core::marks`).
    pub marks: BTreeMap<String, u64>,
    /// The recorded trace, when asked for.
    #[serde(skip)]
    pub trace: Option<Vec<TraceLine>>,
}

impl SeedReport {
    /// The first violation's checker.
    pub fn failed_checker(&self) -> Option<&'static str> {
        self.violations.first().map(|v| v.checker)
    }

    /// Whether this seed caught what a negative scenario expects: its first violation is the
    /// expected checker's, with the expected text in its message if the scenario gives one. False
    /// when the scenario expects nothing.
    pub fn caught(&self, expect: &ExpectSection) -> bool {
        let (Some(checker), Some(first)) = (&expect.violation, self.violations.first()) else { return false };
        first.checker == checker && expect.message.as_ref().is_none_or(|text| first.message.contains(text.as_str()))
    }

    /// Whether the seed's two runs differed (a determinism check's verdict).
    pub fn diverged(&self) -> bool {
        self.violations.iter().any(|v| v.checker == DETERMINISM)
    }
}

/// Options of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Keep every trace line (for `replay` and determinism checks).
    pub record_trace: bool,
    /// Faults of the harness itself, for the tests that prove its own checks; none by default.
    #[doc(hidden)]
    pub injections: Injections,
}

/// Runs one seed on the calling thread (which should be fresh: see `run_seed_isolated`), with the
/// design the scenario names.
pub fn run_seed(scenario: &Arc<Scenario>, seed: u64, options: RunOptions) -> SeedReport {
    struct Run<'a> {
        scenario: &'a Arc<Scenario>,
        seed: u64,
        options: RunOptions,
    }
    impl DesignJob for Run<'_> {
        type Out = SeedReport;
        fn run<D: SimDesign>(self) -> SeedReport {
            run_seed_with::<D>(self.scenario, self.seed, self.options)
        }
    }
    with_design(scenario, Run { scenario, seed, options })
}

fn run_seed_with<D: SimDesign>(scenario: &Arc<Scenario>, seed: u64, options: RunOptions) -> SeedReport {
    let wall = Instant::now();
    // Marks are counted per thread: drop whatever this thread counted before the seed.
    marks::take();
    let topology = crate::topology::Topology::from_scenario(scenario);
    let plan = nemesis::plan::<D>(scenario, &topology, seed);
    let world = SharedWorld::new(World::<D>::new(scenario.clone(), seed, plan.faults, options.record_trace, options.injections));
    let mut runtime = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.set_time_limit(Duration::from_secs_f64(scenario.duration_max_s() + 60.0));
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(simulate(world.clone()))));
    drop(runtime);
    if let Err(panic) = result {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into());
        world.lock().fail_with_panic(message);
    }
    // After a panic madsim may still hold node closures that share the world: read it through the lock.
    let mut w = world.lock();
    let violations = match &w.outcome {
        Some(Outcome::Failed(v)) => vec![v.clone()],
        Some(Outcome::Passed) => Vec::new(),
        None => {
            vec![Violation::of(MODEL_INVARIANT, "the harness", Class::Harness, w.now(), None, "the run ended without an outcome".into())]
        }
    };
    SeedReport {
        seed,
        ok: violations.is_empty(),
        trace_hash: format!("{:016x}", w.trace.hash()),
        sim_seconds: w.now().as_secs_f64(),
        wall_seconds: wall.elapsed().as_secs_f64(),
        messages: w.net.stats.delivered,
        events: w.trace.events(),
        violations,
        stats: w.stats,
        network: w.net.stats,
        dfs: w.replica_summary(),
        replication: w.pipeline_summary(),
        availability: Some(w.availability_summary()),
        marks: marks::take().into_iter().map(|(name, hits)| (name.to_string(), hits)).collect(),
        trace: w.trace.take_lines(),
    }
}

/// Runs one seed on a fresh OS thread (madsim's advice: thread-local state must not leak between
/// seeds), giving up after `wall_limit` (a model stuck in a loop without awaiting never ends).
pub fn run_seed_isolated(scenario: &Arc<Scenario>, seed: u64, options: RunOptions, wall_limit: Duration) -> SeedReport {
    let (tx, rx) = mpsc::channel();
    let s = scenario.clone();
    std::thread::Builder::new()
        .name(format!("seed-{seed}"))
        .stack_size(32 << 20)
        .spawn(move || {
            let _ = tx.send(run_seed(&s, seed, options));
        })
        .expect("spawn a seed thread");
    let failure = match rx.recv_timeout(wall_limit) {
        Ok(report) => return report,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            format!("no result after {wall_limit:?} of wall time: a loop that never yields to the simulation")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => "the seed's thread died outside the simulation (a harness bug)".to_string(),
    };
    SeedReport {
        seed,
        ok: false,
        trace_hash: "0".repeat(16),
        sim_seconds: 0.0,
        wall_seconds: wall_limit.as_secs_f64(),
        messages: 0,
        events: 0,
        violations: vec![Violation::of(MODEL_INVARIANT, "the wall-clock watchdog", Class::Harness, SimTime::ZERO, None, failure)],
        stats: RunStats::default(),
        network: NetStats::default(),
        dfs: None,
        replication: None,
        availability: None,
        marks: BTreeMap::new(),
        trace: None,
    }
}

/// Runs a seed twice and compares the traces event by event. An injected divergence
/// (`Injections::divergence_at`) goes into the second run only: it stands for whatever would make
/// two runs of one seed differ.
pub fn run_seed_checked(scenario: &Arc<Scenario>, seed: u64, injections: Injections, wall_limit: Duration) -> SeedReport {
    let second_options = RunOptions { record_trace: true, injections };
    let first_options = RunOptions { injections: Injections { divergence_at: None, ..injections }, ..second_options };
    let mut first = run_seed_isolated(scenario, seed, first_options, wall_limit);
    let second = run_seed_isolated(scenario, seed, second_options, wall_limit);
    if first.trace_hash != second.trace_hash {
        let (a, b) = (first.trace.as_deref().unwrap_or(&[]), second.trace.as_deref().unwrap_or(&[]));
        let message = match first_difference(a, b) {
            Some((x, y)) => format!(
                "two runs of seed {seed} differ (trace hashes {} and {}); first differing event:\n  run 1: {}\n  run 2: {}",
                first.trace_hash,
                second.trace_hash,
                x.map_or("(ended)".into(), |l| l.to_string()),
                y.map_or("(ended)".into(), |l| l.to_string()),
            ),
            None => format!("two runs of seed {seed} differ in trace hash only ({} vs {})", first.trace_hash, second.trace_hash),
        };
        first.ok = false;
        first
            .violations
            .insert(0, Violation::of(DETERMINISM, "ccrsim: one seed decides everything", Class::Harness, SimTime::ZERO, None, message));
    }
    first.trace = None;
    first
}

/// Options of a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Seeds to run.
    pub seeds: Vec<u64>,
    /// Threads.
    pub jobs: usize,
    /// Run each seed twice and compare.
    pub check_determinism: bool,
    /// Give up on a seed after this much wall time.
    pub wall_limit: Duration,
    /// Faults of the harness itself, for the tests that prove its own checks; none by default.
    #[doc(hidden)]
    pub injections: Injections,
}

/// Runs every seed of `options` on `jobs` threads; `on_done` sees each report as it finishes.
/// Reports come back in seed order.
pub fn sweep(scenario: &Arc<Scenario>, options: &SweepOptions, on_done: impl Fn(&SeedReport) + Sync) -> Vec<SeedReport> {
    let next = AtomicUsize::new(0);
    let reports = Mutex::new(Vec::with_capacity(options.seeds.len()));
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = options.seeds.get(i) else { break };
                    let report = if options.check_determinism {
                        run_seed_checked(scenario, seed, options.injections, options.wall_limit)
                    } else {
                        let run = RunOptions { injections: options.injections, ..RunOptions::default() };
                        run_seed_isolated(scenario, seed, run, options.wall_limit)
                    };
                    on_done(&report);
                    reports.lock().unwrap_or_else(|p| p.into_inner()).push((i, report));
                }
            });
        }
    });
    let mut reports = reports.into_inner().unwrap_or_else(|p| p.into_inner());
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// Totals of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds without violations.
    pub passed: usize,
    /// Seeds with violations.
    pub failed: usize,
    /// The violation a negative scenario expects, if any.
    pub expected_violation: Option<String>,
    /// Text the expected violation's message must contain, if the scenario gives one.
    pub expected_message: Option<String>,
    /// Seeds that caught the expected violation: its checker first, with the expected message.
    pub caught_expected: usize,
    /// Seeds whose two runs differed (with `check_determinism`): the simulation is not a function
    /// of its seed, and no verdict of the sweep can be trusted.
    pub diverged: usize,
    /// Simulated seconds over all seeds.
    pub sim_seconds: f64,
    /// Wall seconds of the whole sweep.
    pub wall_seconds: f64,
    /// Wall seconds summed over seeds (CPU time of the simulations).
    pub seed_wall_seconds: f64,
    /// Simulated seconds per wall second of one core (`sim_seconds / seed_wall_seconds`).
    pub acceleration: f64,
    /// Messages delivered over all seeds.
    pub messages: u64,
    /// Messages delivered per wall second of one core.
    pub messages_per_wall_second: f64,
    /// Trace events over all seeds.
    pub events: u64,
    /// DFS transactions decided commit over all seeds (0 without data nodes).
    pub committed_transactions: u64,
    /// Committed DFS transactions per simulated second (`committed_transactions / sim_seconds`).
    pub committed_per_sim_second: f64,
    /// Replication over all seeds and slaves (zero without slaves).
    pub replication: ReplTotals,
    /// Each coverage mark hit in the sweep: hits over all seeds, and how many seeds hit it.
    pub marks: BTreeMap<String, MarkCount>,
}

/// How often a sweep hit one coverage mark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MarkCount {
    /// Hits over all seeds.
    pub hits: u64,
    /// Seeds that hit it at least once.
    pub seeds: u64,
}

impl MarkCount {
    /// The counts of every mark over `reports`.
    pub fn of(reports: &[SeedReport]) -> BTreeMap<String, MarkCount> {
        let mut counts = BTreeMap::new();
        for (name, &hits) in reports.iter().flat_map(|r| &r.marks) {
            Self::add_to(&mut counts, name, MarkCount { hits, seeds: 1 });
        }
        counts
    }

    /// Adds `count` to the total of mark `name` in `totals`.
    pub fn add_to(totals: &mut BTreeMap<String, MarkCount>, name: &str, count: MarkCount) {
        let total = totals.entry(name.to_string()).or_default();
        total.hits += count.hits;
        total.seeds += count.seeds;
    }
}

/// Replication totals of a sweep.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplTotals {
    /// Tasks the master enqueued.
    pub enqueued: u64,
    /// Tasks slaves applied.
    pub applied: u64,
    /// Tasks skipped by hand.
    pub skipped: u64,
    /// Tasks FAILED at the end.
    pub failed: u64,
    /// Tasks pulled and not finished at the end (a failed seed, or behind a FAILED task).
    pub unfinished: u64,
}

impl ReplTotals {
    fn of(reports: &[SeedReport]) -> Self {
        let mut t = ReplTotals::default();
        for r in reports.iter().filter_map(|r| r.replication.as_ref()) {
            t.enqueued += r.enqueued;
            for s in r.slaves.values() {
                t.applied += s.applied;
                t.skipped += s.skipped;
                t.failed += s.failed.values().sum::<u64>();
                t.unfinished += s.unfinished;
            }
        }
        t
    }
}

impl Summary {
    /// Totals of `reports`.
    pub fn of(scenario: &Scenario, reports: &[SeedReport], wall_seconds: f64) -> Self {
        let sim_seconds: f64 = reports.iter().map(|r| r.sim_seconds).sum();
        let seed_wall_seconds: f64 = reports.iter().map(|r| r.wall_seconds).sum();
        let messages = reports.iter().map(|r| r.messages).sum();
        let committed_transactions = reports.iter().filter_map(|r| r.dfs.as_ref()).map(|d| d.committed_transactions).sum();
        let caught_expected = reports.iter().filter(|r| r.caught(&scenario.expect)).count();
        let passed = reports.iter().filter(|r| r.ok).count();
        Self {
            scenario: scenario.name.clone(),
            seeds: reports.len(),
            passed,
            failed: reports.len() - passed,
            expected_violation: scenario.expect.violation.clone(),
            expected_message: scenario.expect.message.clone(),
            caught_expected,
            diverged: reports.iter().filter(|r| r.diverged()).count(),
            sim_seconds,
            wall_seconds,
            seed_wall_seconds,
            acceleration: if seed_wall_seconds > 0.0 { sim_seconds / seed_wall_seconds } else { 0.0 },
            messages,
            messages_per_wall_second: if seed_wall_seconds > 0.0 { messages as f64 / seed_wall_seconds } else { 0.0 },
            events: reports.iter().map(|r| r.events).sum(),
            committed_transactions,
            committed_per_sim_second: if sim_seconds > 0.0 { committed_transactions as f64 / sim_seconds } else { 0.0 },
            replication: ReplTotals::of(reports),
            marks: MarkCount::of(reports),
        }
    }

    /// Whether the sweep as a whole succeeded: every seed passed, or for a negative scenario (one
    /// that plants a bug), its expected violation was caught at least once and no seed's two runs
    /// differed. A planted bug may break other properties on other seeds too; those are reported
    /// but do not fail the sweep. A divergence does: a catch that does not replay proves nothing.
    pub fn success(&self) -> bool {
        match &self.expected_violation {
            None => self.failed == 0,
            Some(_) => self.caught_expected > 0 && self.diverged == 0,
        }
    }
}

/// The JSON report of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct JsonReport<'a> {
    /// Totals.
    pub summary: &'a Summary,
    /// Every seed.
    pub seeds: &'a [SeedReport],
}

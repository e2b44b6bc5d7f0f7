//! Running seeds: one seed in a fresh madsim runtime on a fresh thread, sweeps over many seeds on a
//! pool of threads, determinism checks, and the reports.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, mpsc};
use std::time::{Duration, Instant};

use ccrsim_model::core::marks;
use serde::Serialize;

use crate::checkers::{Class, DETERMINISM, Violation};
use crate::design::SimDesign;
use crate::env::net::NetStats;
use crate::env::time::SimTime;
use crate::host::{SharedWorld, simulate};
use crate::nemesis::{self, FaultKind};
use crate::registry::{DesignJob, with_design};
use crate::scenario::{ExpectSection, Scenario};
use crate::trace::{TraceLine, first_difference};
pub use crate::world::{InjectedRolePanic, Injections};
use crate::world::{Outcome, RunStats, World};

/// The report of one seed.
#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// True when no checker reported and the harness did not fail (`verdict` is `passed`).
    pub ok: bool,
    /// What the seed's run came to: passed, a violation of the system under test, or a failure of
    /// ccrsim itself.
    pub verdict: Verdict,
    /// What broke in ccrsim itself, when `verdict` is `harness-failure`: a panic outside the
    /// model (with its location), a seed past its wall limit, a run that ended without an outcome.
    /// Never a violation of the system under test.
    pub harness_failure: Option<String>,
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
    /// How the seed failed, for grouping failing seeds: `None` for a seed that passed.
    pub signature: Option<Signature>,
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
    /// The fate of every write on every copy when the run ended (`write-fate`; judged only on a
    /// run that converged, reported on every run that ended).
    pub fates: Option<crate::summary::FateSummary>,
    /// Every failover of a group's leader, with its RTO and RPO (`checkers::failovers`).
    pub failovers: Vec<crate::summary::Failover>,
    /// Coverage marks the model hit, with how often (`ccrsim_model::core::marks`).
    pub marks: BTreeMap<String, u64>,
    /// The recorded trace, when asked for.
    #[serde(skip)]
    pub trace: Option<Vec<TraceLine>>,
}

/// What one seed's run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// No checker reported.
    Passed,
    /// A checker reported a violation of the system under test (a panic in `model/`, a broken
    /// model invariant, included).
    Violation,
    /// ccrsim itself broke: the seed says nothing about the system under test.
    HarnessFailure,
}

impl Verdict {
    fn of(violations: &[Violation], harness_failure: &Option<String>) -> Self {
        match (harness_failure, violations.is_empty()) {
            (Some(_), _) => Verdict::HarnessFailure,
            (None, true) => Verdict::Passed,
            (None, false) => Verdict::Violation,
        }
    }
}

impl SeedReport {
    /// What failed, in one line: the harness failure, or the first violation; `None` for a seed
    /// that passed.
    pub fn failure(&self) -> Option<String> {
        match &self.harness_failure {
            Some(failure) => Some(format!("[harness failure] {failure}")),
            None => self.violations.first().map(|v| v.to_string()),
        }
    }

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

/// How a seed failed, coarsely enough that seeds failing for one cause share it: the checker that
/// reported first, the kind of promise it broke, and the kinds of fault in effect when it broke
/// (what healed before is not in it: a fault that ended earlier may still be the cause, which the
/// replay shows).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Signature {
    /// The checker (`harness` for a failure of ccrsim itself).
    pub checker: String,
    /// The kind of promise broken.
    pub class: Class,
    /// The kinds of fault in effect, each once, in the scenario format's order.
    pub faults: Vec<FaultKind>,
}

impl Signature {
    /// The signature of a seed that ended with `violations` (the first one counts) or a harness
    /// failure, with `faults` in effect; `None` for a seed that passed.
    fn of(violations: &[Violation], harness_failure: &Option<String>, faults: &[FaultKind]) -> Option<Self> {
        let (checker, class) = match (harness_failure, violations.first()) {
            (Some(_), _) => ("harness".to_string(), Class::Harness),
            (None, Some(v)) => (v.checker.to_string(), v.class),
            (None, None) => return None,
        };
        Some(Signature { checker, class, faults: faults.to_vec() })
    }
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.checker, format_name(&self.class))?;
        if self.faults.is_empty() {
            return write!(f, ", no fault in effect");
        }
        let kinds: Vec<String> = self.faults.iter().map(format_name).collect();
        write!(f, " during {}", kinds.join(" + "))
    }
}

/// A unit variant's name as the report and the scenario format spell it (its serde name).
pub fn format_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => unreachable!("a unit variant serialises as its name, not {other:?}"),
    }
}

/// The failing seeds of a sweep that share one signature.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureCount {
    /// The signature.
    pub signature: Signature,
    /// Seeds that failed with it.
    pub seeds: usize,
    /// The seed that failed soonest in simulated time: the one to debug first.
    pub fastest_seed: u64,
    /// When it failed, in simulated seconds.
    pub fastest_at_s: f64,
}

impl SignatureCount {
    /// The signatures of `reports`' failing seeds, the most frequent first.
    pub fn of(reports: &[SeedReport]) -> Vec<SignatureCount> {
        let mut by: BTreeMap<&Signature, SignatureCount> = BTreeMap::new();
        for r in reports {
            let Some(signature) = &r.signature else { continue };
            // A violation says when it broke; a harness failure only when the run stopped.
            let at_s = r.violations.first().map_or(r.sim_seconds, |v| v.at.as_secs_f64());
            let entry = by.entry(signature).or_insert_with(|| SignatureCount {
                signature: signature.clone(),
                seeds: 0,
                fastest_seed: r.seed,
                fastest_at_s: at_s,
            });
            entry.seeds += 1;
            if (at_s, r.seed) < (entry.fastest_at_s, entry.fastest_seed) {
                entry.fastest_seed = r.seed;
                entry.fastest_at_s = at_s;
            }
        }
        let mut counts: Vec<SignatureCount> = by.into_values().collect();
        counts.sort_by(|a, b| b.seeds.cmp(&a.seeds).then_with(|| a.signature.cmp(&b.signature)));
        counts
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

/// Where a panic came from, which decides whose failure it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PanicSite {
    /// `file:line:column` of the panic.
    location: String,
    /// True for a panic in the model (`model/`): a broken invariant of the system under test.
    /// False for one in the simulator, the command line or a dependency: ccrsim itself broke.
    in_model: bool,
}

thread_local! {
    /// The site of the last panic on this thread, recorded by the panic hook.
    static LAST_PANIC: RefCell<Option<PanicSite>> = const { RefCell::new(None) };
}

/// The model crate's sources as an absolute path, for a build whose panic locations are absolute.
const MODEL_SOURCES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../model/");

/// Whether a panic location (`Location::file`) is in the model crate. Cargo names a workspace
/// member's files relative to the workspace root (`model/src/raft/node.rs`); a dependency's are
/// absolute, under the registry.
fn in_model(file: &str) -> bool {
    let file = file.replace('\\', "/");
    file.starts_with("model/") || file.starts_with(MODEL_SOURCES)
}

/// Installs, once per process, a panic hook that records where each panic happened (then reports it
/// as before): a seed's panic is the model's or the harness's by its location.
fn record_panic_sites() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info.location().map_or_else(|| "an unknown location".to_string(), |l| l.to_string());
            let stands_in_for_model = info.payload().is::<InjectedRolePanic>();
            let in_model = stands_in_for_model || info.location().is_some_and(|l| in_model(l.file()));
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(PanicSite { location, in_model }));
            previous(info);
        }));
    });
}

/// The text of a panic's payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .or_else(|| panic.downcast_ref::<InjectedRolePanic>().map(|p| p.0.clone()))
        .unwrap_or_else(|| "a panic without a message".into())
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
    record_panic_sites();
    LAST_PANIC.with(|last| last.borrow_mut().take());
    // Marks are counted per thread: drop whatever this thread counted before the seed.
    marks::take();
    let topology = crate::topology::Topology::from_scenario(scenario);
    let plan = nemesis::plan::<D>(scenario, &topology, seed);
    let world = SharedWorld::new(World::<D>::new(scenario.clone(), seed, plan.faults, options.record_trace, options.injections));
    let mut runtime = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.set_time_limit(Duration::from_secs_f64(scenario.duration_max_s() + 60.0));
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(simulate(world.clone()))));
    drop(runtime);
    let mut harness_failure = None;
    if let Err(panic) = result {
        let message = panic_message(&*panic);
        let site = LAST_PANIC.with(|last| last.borrow_mut().take());
        match site {
            // A panic in the model is a broken invariant of the system under test.
            Some(PanicSite { in_model: true, .. }) => world.lock().fail_with_panic(message),
            Some(PanicSite { location, .. }) => harness_failure = Some(format!("panic at {location}: {message}")),
            None => harness_failure = Some(format!("panic at an unrecorded location: {message}")),
        }
    }
    // After a panic madsim may still hold node closures that share the world: read it through the lock.
    let mut w = world.lock();
    let violations = match &w.outcome {
        Some(Outcome::Failed(v)) => vec![v.clone()],
        Some(Outcome::Passed) | None => Vec::new(),
    };
    if w.outcome.is_none() && harness_failure.is_none() {
        harness_failure = Some(format!("the run ended at {} without an outcome", w.now()));
    }
    let verdict = Verdict::of(&violations, &harness_failure);
    let signature = Signature::of(&violations, &harness_failure, w.faults_at_failure.as_deref().unwrap_or_default());
    SeedReport {
        seed,
        ok: verdict == Verdict::Passed,
        verdict,
        harness_failure,
        trace_hash: format!("{:016x}", w.trace.hash()),
        sim_seconds: w.now().as_secs_f64(),
        wall_seconds: wall.elapsed().as_secs_f64(),
        messages: w.net.stats.delivered,
        events: w.trace.events(),
        violations,
        signature,
        stats: w.stats,
        network: w.net.stats,
        dfs: w.replica_summary(),
        replication: w.pipeline_summary(),
        availability: Some(w.availability_summary()),
        fates: w.outcome.is_some().then(|| w.fate_summary()),
        failovers: w.failovers(),
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
            format!("seed past its wall limit: no result after {wall_limit:?} of wall time (a loop that never yields to the simulation)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => "the seed's thread died outside the simulation".to_string(),
    };
    let harness_failure = Some(failure);
    SeedReport {
        seed,
        ok: false,
        verdict: Verdict::HarnessFailure,
        signature: Signature::of(&[], &harness_failure, &[]),
        harness_failure,
        trace_hash: "0".repeat(16),
        sim_seconds: 0.0,
        wall_seconds: wall_limit.as_secs_f64(),
        messages: 0,
        events: 0,
        violations: Vec::new(),
        stats: RunStats::default(),
        network: NetStats::default(),
        dfs: None,
        replication: None,
        availability: None,
        fates: None,
        failovers: Vec::new(),
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
        first
            .violations
            .insert(0, Violation::of(DETERMINISM, "ccrsim: one seed decides everything", Class::Harness, SimTime::ZERO, None, message));
        first.verdict = Verdict::of(&first.violations, &first.harness_failure);
        // Two runs that differ say nothing about faults: the signature is the divergence alone.
        first.signature = Signature::of(&first.violations, &first.harness_failure, &[]);
        first.ok = false;
    }
    first.trace = None;
    first
}

/// The seeds of a sweep. A range is never built up as a list: the sweep asks for each seed as it
/// reaches it, so a sweep of 2^60 seeds costs no more memory up front than one of ten.
#[derive(Debug, Clone)]
pub enum Seeds {
    /// These seeds, in this order.
    List(Vec<u64>),
    /// A range of seeds, or one shard of it.
    Range(SeedRange),
}

impl Seeds {
    /// How many seeds.
    pub fn len(&self) -> u64 {
        match self {
            Seeds::List(seeds) => seeds.len() as u64,
            Seeds::Range(range) => range.len(),
        }
    }

    /// Whether there is no seed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The seed at `position` (0-based), if there is one.
    pub fn get(&self, position: u64) -> Option<u64> {
        match self {
            Seeds::List(seeds) => usize::try_from(position).ok().and_then(|i| seeds.get(i).copied()),
            Seeds::Range(range) => range.get(position),
        }
    }
}

/// `count` seeds from `start`, or of those only shard K of N: the seeds whose position in the
/// range is K-1 modulo N. Never empty, and never past `u64::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRange {
    start: u64,
    count: u64,
    /// 0-based shard index and shard count.
    shard: (u64, u64),
}

impl SeedRange {
    /// The range, or why it is refused (in terms of the command line's `--seeds`, `--seed-start`
    /// and `--shard K/N`, with 1 <= K <= N).
    pub fn new(start: u64, count: u64, shard: Option<(u64, u64)>) -> Result<Self, String> {
        let (k, n) = shard.unwrap_or((1, 1));
        assert!(1 <= k && k <= n, "shard {k}/{n}: need 1 <= K <= N");
        if count == 0 {
            return Err("--seeds 0 runs no seed: give 1 or more".into());
        }
        if start.checked_add(count - 1).is_none() {
            return Err(format!(
                "--seed-start {start} with --seeds {count} goes past the last seed, {} (u64::MAX): at most {} seeds from there",
                u64::MAX,
                u64::MAX - start + 1
            ));
        }
        let range = SeedRange { start, count, shard: (k - 1, n) };
        if range.is_empty() {
            return Err(format!("--shard {k}/{n} of {count} seeds leaves no seed: shard K runs only when K <= the number of seeds"));
        }
        Ok(range)
    }

    /// How many seeds (in the shard).
    pub fn len(&self) -> u64 {
        let (index, shards) = self.shard;
        if index >= self.count { 0 } else { (self.count - 1 - index) / shards + 1 }
    }

    /// Whether the shard holds no seed (never, for a range `new` accepted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The seed at `position` (0-based) of the shard, if there is one.
    pub fn get(&self, position: u64) -> Option<u64> {
        let (index, shards) = self.shard;
        // Below `len`, the position in the range is below `count`, so the seed is in range.
        (position < self.len()).then(|| self.start + index + position * shards)
    }
}

/// Options of a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Seeds to run.
    pub seeds: Seeds,
    /// Threads (never more than the seeds to run).
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
    let next = AtomicU64::new(0);
    let reports = Mutex::new(Vec::new());
    let jobs = u64::try_from(options.jobs).unwrap_or(u64::MAX).clamp(1, options.seeds.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(seed) = options.seeds.get(i) else { break };
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
    /// Seeds with violations of the system under test.
    pub failed: usize,
    /// Seeds on which ccrsim itself broke (`Verdict::HarnessFailure`): counted apart from `failed`,
    /// as they say nothing about the system under test.
    pub harness_failures: usize,
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
    /// Acknowledged writes and their losses per write concern over all seeds (SequoiaDB's
    /// ReplSize; empty where the design has none).
    pub losses_by_write_concern: BTreeMap<String, crate::summary::ConcernLosses>,
    /// Replication over all seeds and slaves (zero without slaves).
    pub replication: ReplTotals,
    /// The fate of every write over all seeds, per copy and fate (`write-fate`).
    pub fates: crate::summary::FateSummary,
    /// RTO and RPO of the failovers over all seeds, per fault class (each kind of fault in effect
    /// when the leader was lost; `none`).
    pub recovery: BTreeMap<String, crate::summary::RecoveryStats>,
    /// Each coverage mark hit in the sweep: hits over all seeds, and how many seeds hit it.
    pub marks: BTreeMap<String, MarkCount>,
    /// The failing seeds grouped by signature, the most frequent first.
    pub signatures: Vec<SignatureCount>,
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
        let with_verdict = |verdict| reports.iter().filter(|r| r.verdict == verdict).count();
        Self {
            scenario: scenario.name.clone(),
            seeds: reports.len(),
            passed: with_verdict(Verdict::Passed),
            failed: with_verdict(Verdict::Violation),
            harness_failures: with_verdict(Verdict::HarnessFailure),
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
            losses_by_write_concern: reports.iter().filter_map(|r| r.dfs.as_ref()).flat_map(|d| &d.losses_by_write_concern).fold(
                BTreeMap::new(),
                |mut total, (concern, c)| {
                    total.entry(concern.clone()).or_insert_with(Default::default).add(c);
                    total
                },
            ),
            replication: ReplTotals::of(reports),
            fates: reports.iter().filter_map(|r| r.fates.as_ref()).fold(Default::default(), |mut total, f| {
                total.add(f);
                total
            }),
            recovery: crate::summary::RecoveryStats::by_fault_class(reports.iter().flat_map(|r| &r.failovers), format_name),
            marks: MarkCount::of(reports),
            signatures: SignatureCount::of(reports),
        }
    }

    /// Whether the sweep as a whole succeeded: every seed passed, or for a negative scenario (one
    /// that plants a bug), its expected violation was caught at least once and no seed's two runs
    /// differed. A planted bug may break other properties on other seeds too; those are reported
    /// but do not fail the sweep. A divergence does: a catch that does not replay proves nothing.
    pub fn success(&self) -> bool {
        let verdict = match &self.expected_violation {
            None => self.failed == 0,
            Some(_) => self.caught_expected > 0 && self.diverged == 0,
        };
        verdict && self.harness_failures == 0
    }

    /// The exit code of the sweep: 3 when ccrsim itself broke on any seed (whatever the others
    /// found: the sweep cannot be trusted), else 0 on success, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.harness_failures > 0 {
            3
        } else if self.success() {
            0
        } else {
            1
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_the_models_only_when_its_location_is_in_model() {
        assert!(in_model("model/src/raft/node.rs"));
        assert!(in_model(&format!("{MODEL_SOURCES}src/dfs/catalog.rs")));
        assert!(!in_model("sim/src/world/node.rs"));
        assert!(!in_model("src/main.rs"));
        assert!(!in_model("/home/u/.cargo/registry/src/index.crates.io-0/madsim-0.2.34/src/sim/time/mod.rs"));
    }

    #[test]
    fn a_range_yields_its_seeds_one_by_one_without_a_list() {
        let all = SeedRange::new(5, 7, None).unwrap();
        assert_eq!((0..all.len()).map(|i| all.get(i).unwrap()).collect::<Vec<_>>(), vec![5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(all.get(7), None);
        let shard = SeedRange::new(0, 7, Some((2, 3))).unwrap();
        assert_eq!((0..shard.len()).map(|i| shard.get(i).unwrap()).collect::<Vec<_>>(), vec![1, 4]);
        // A huge range costs nothing up front, and its last seed is u64::MAX.
        let huge = SeedRange::new(1, u64::MAX, None).unwrap();
        assert_eq!((huge.len(), huge.get(u64::MAX - 1)), (u64::MAX, Some(u64::MAX)));
    }

    #[test]
    fn an_empty_or_overflowing_range_is_refused() {
        assert!(SeedRange::new(0, 0, None).unwrap_err().contains("--seeds 0"));
        assert!(SeedRange::new(u64::MAX, 2, None).unwrap_err().contains("past the last seed"));
        assert!(SeedRange::new(u64::MAX, 1, None).is_ok());
        assert!(SeedRange::new(0, 3, Some((5, 8))).unwrap_err().contains("leaves no seed"));
    }
}

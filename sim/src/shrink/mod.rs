//! Shrinking a failing seed: from a run that fails, a smaller run that fails the same way (the
//! same checker, the same kind of promise), written as a scenario file that reproduces it.
//!
//! The seed's faults are first written out as a fixed schedule (`schedule::materialize`: the same
//! run, event for event). Then, until nothing more goes or the budget runs out, the shrinker
//! removes faults by delta debugging (`ddmin`), shortens and delays the faults left, drops
//! management calls, operation types and the conditional faults, ends the safety phase sooner,
//! and makes the workload and the deployment smaller (`reductions`). Every candidate is written as
//! a file and loaded back through the loader's validation before it runs, so every step is a
//! scenario a user could have written; it is kept only if the seed still fails the same way.
//! Nobody shrinks the fault schedule of a multi-node run this way yet (FoundationDB and
//! TigerBeetle keep their failing seeds as they are).

pub mod ddmin;
pub mod reductions;
pub mod schedule;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checkers::Class;
use crate::runner::{RunOptions, SeedReport, Verdict, run_seed_isolated};
use crate::scenario::{FixedFault, Scenario};

/// How a run must fail to count as failing the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The checker that reports first.
    pub checker: String,
    /// The kind of promise it breaks.
    pub class: Class,
    /// Words its message must contain: a negative scenario's `expect.message`, when the original
    /// run caught its planted bug (the shrunk run must still catch it, not only fail in the same
    /// checker).
    pub message_contains: Option<String>,
}

impl Target {
    fn of(scenario: &Scenario, report: &SeedReport) -> Option<Target> {
        let signature = report.signature.as_ref()?;
        let message_contains = if report.caught(&scenario.expect) { scenario.expect.message.clone() } else { None };
        (report.verdict == Verdict::Violation).then(|| Target {
            checker: signature.checker.clone(),
            class: signature.class,
            message_contains,
        })
    }

    /// Whether `report` fails this way.
    fn hit_by(&self, report: &SeedReport) -> bool {
        let (Some(signature), Some(first)) = (&report.signature, report.violations.first()) else { return false };
        report.verdict == Verdict::Violation
            && signature.checker == self.checker
            && signature.class == self.class
            && self.message_contains.as_ref().is_none_or(|words| first.message.contains(words.as_str()))
    }
}

/// A run's size, before and after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Size {
    /// Faults planned (each with its end), and the conditional leader trigger if it is on.
    pub faults: usize,
    /// Client operations: the design's workload's, ended in any way, and the controller clients'
    /// acknowledged writes.
    pub operations: u64,
    /// Simulated seconds until the run stopped.
    pub sim_seconds: f64,
}

impl Size {
    fn of(scenario: &Scenario, faults: usize, report: &SeedReport) -> Size {
        let dfs: u64 = report.dfs.iter().flat_map(|d| d.operations.values()).map(|c| c.ok + c.failed + c.unknown).sum();
        let trigger = usize::from(scenario.faults.on_new_leader.probability > 0.0);
        Size { faults: faults + trigger, operations: dfs + report.stats.acknowledged_writes, sim_seconds: report.sim_seconds }
    }
}

/// What the shrinker found.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smaller scenario (its `name` is the one asked for).
    pub scenario: Scenario,
    /// Its run with the seed.
    pub report: SeedReport,
    /// How it fails.
    pub target: Target,
    /// The original run's size and the shrunk one's.
    pub before: Size,
    /// The shrunk run's size.
    pub after: Size,
    /// Runs made.
    pub runs: u32,
    /// Whether the budget ran out before nothing more could go.
    pub budget_ran_out: bool,
    /// Other failures the candidates ran into (another checker, another kind of promise, a model
    /// panic, a failure of ccrsim itself): the first candidate of each signature, with its run.
    /// Each is a scenario a user could have written that fails: a finding of its own.
    pub other_failures: Vec<(Scenario, SeedReport)>,
}

impl Shrunk {
    /// Whether the faults left are each needed: the last round of delta debugging ran to its end
    /// and nothing went, so removing any one fault makes the seed pass or fail another way. A
    /// shrunk run with more faults than a reader would like is then as small as faults go.
    pub fn faults_each_needed(&self) -> bool {
        !self.budget_ran_out
    }
}

/// Why a seed cannot be shrunk.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The seed passes: nothing to shrink.
    Passes,
    /// ccrsim itself broke on the seed.
    HarnessFailure(String),
    /// The seed's faults written out as a schedule do not fail the same way (which would be a
    /// bug of the shrinker: it is the same run).
    NotReproduced(String),
}

/// What the shrinker is doing, for a progress line.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Runs so far.
    pub runs: u32,
    /// Faults in the smallest failing run so far.
    pub faults: usize,
    /// What it tries now.
    pub step: String,
}

/// The shrinker's state: the smallest failing scenario so far and the budget.
struct Shrinker<'a> {
    seed: u64,
    file: String,
    target: Target,
    best: Scenario,
    best_report: SeedReport,
    runs: u32,
    deadline: Instant,
    wall_limit: Duration,
    out_of_budget: bool,
    other_failures: Vec<(Scenario, SeedReport)>,
    progress: &'a mut dyn FnMut(&Progress),
}

/// Other failures kept at most (the first of each signature).
const OTHER_FAILURES_MAX: usize = 8;

impl Shrinker<'_> {
    /// Whether `candidate` fails the same way; `None` once the budget is spent. A candidate the
    /// loader refuses does not fail (it is not a scenario).
    fn fails(&mut self, candidate: &Scenario, step: &str) -> Option<bool> {
        if Instant::now() >= self.deadline {
            self.out_of_budget = true;
            return None;
        }
        let Ok(loaded) = schedule::reload(&self.file, candidate) else { return Some(false) };
        self.runs += 1;
        (self.progress)(&Progress { runs: self.runs, faults: self.best.faults.schedule.len(), step: step.to_string() });
        let report = run_seed_isolated(&Arc::new(loaded.clone()), self.seed, RunOptions::default(), self.wall_limit);
        let same = self.target.hit_by(&report);
        if same {
            self.best = loaded;
            self.best_report = report;
        } else if report.signature.is_some()
            && self.other_failures.len() < OTHER_FAILURES_MAX
            && self.other_failures.iter().all(|(_, r)| r.signature != report.signature)
        {
            self.other_failures.push((loaded, report));
        }
        Some(same)
    }

    /// Tries `candidate`; keeps it if it fails the same way. True when kept.
    fn take(&mut self, candidate: Option<Scenario>, step: &str) -> bool {
        match candidate {
            Some(c) if c != self.best => self.fails(&c, step) == Some(true),
            _ => false,
        }
    }

    /// Delta debugging over the fault schedule.
    fn fewer_faults(&mut self) {
        let base = self.best.clone();
        let schedule = base.faults.schedule.clone();
        ddmin::ddmin(schedule, &mut |kept: &[FixedFault]| {
            let mut candidate = base.clone();
            candidate.faults.schedule = kept.to_vec();
            self.fails(&candidate, &format!("{} of the faults", kept.len()))
        });
    }

    /// Delta debugging over the management calls.
    fn fewer_calls(&mut self) {
        let base = self.best.clone();
        ddmin::ddmin(base.calls.clone(), &mut |kept| {
            let mut candidate = base.clone();
            candidate.calls = kept.to_vec();
            self.fails(&candidate, &format!("{} of the management calls", kept.len()))
        });
    }

    /// Delta debugging over the workload's operation types.
    fn fewer_operation_types(&mut self) {
        let base = self.best.clone();
        ddmin::ddmin(reductions::operation_types(&base), &mut |kept| {
            self.fails(&reductions::with_operation_types(&base, kept), &format!("{} operation types", kept.len()))
        });
    }

    /// Each fault left: shorter (halved while it still fails), earlier (while the run then fails
    /// sooner), then later (nearer the failure, if it fails no later).
    fn shorter_and_later_faults(&mut self) {
        for i in 0..self.best.faults.schedule.len() {
            while self.best.faults.schedule[i].duration_s > 0.2 && !self.out_of_budget {
                let mut candidate = self.best.clone();
                candidate.faults.schedule[i].duration_s /= 2.0;
                if !self.take(Some(candidate), &format!("fault {} shorter", i + 1)) {
                    break;
                }
            }
            // Earlier, halving its time while the run then fails sooner: a shorter run to read.
            while self.best.faults.schedule[i].at_s > 0.5 && !self.out_of_budget {
                let failed_at = failure_time(&self.best, &self.best_report);
                let (kept, kept_report) = (self.best.clone(), self.best_report.clone());
                let mut candidate = self.best.clone();
                candidate.faults.schedule[i].at_s /= 2.0;
                if !self.take(Some(candidate), &format!("fault {} earlier", i + 1)) {
                    break;
                }
                if failure_time(&self.best, &self.best_report) >= failed_at {
                    (self.best, self.best_report) = (kept, kept_report);
                    break;
                }
            }
            // Halfway to when the run now fails: the fault nearer the failure it causes, in a
            // run that fails no later than before (a later failure is a longer run to read).
            let failed_at = failure_time(&self.best, &self.best_report);
            let limit = failed_at.min(self.best.run.safety_s);
            let at = self.best.faults.schedule[i].at_s;
            if limit - at > 0.2 {
                let (kept, kept_report) = (self.best.clone(), self.best_report.clone());
                let mut candidate = self.best.clone();
                candidate.faults.schedule[i].at_s = at + (limit - at) / 2.0;
                if self.take(Some(candidate), &format!("fault {} later", i + 1)) && failure_time(&self.best, &self.best_report) > failed_at
                {
                    (self.best, self.best_report) = (kept, kept_report);
                }
            }
        }
    }

    /// The safety phase ends a second after the run now fails, or halfway, dropping the faults
    /// and calls it no longer holds.
    fn sooner_end(&mut self) {
        let safety = self.best.run.safety_s;
        let failed_at = failure_time(&self.best, &self.best_report);
        for end in [failed_at.ceil() + 1.0, safety / 2.0] {
            if end >= safety || end < 1.0 {
                continue;
            }
            let mut candidate = self.best.clone();
            candidate.run.safety_s = end;
            candidate.faults.schedule.retain(|f| f.at_s < end);
            let duration_max = candidate.duration_max_s();
            candidate.calls.retain(|c| c.at_s <= duration_max);
            if self.take(Some(candidate), &format!("safety phase of {end} s")) {
                return;
            }
        }
    }

    /// One round of every step; true if anything went.
    fn round(&mut self) -> bool {
        let before = self.best.clone();
        self.fewer_faults();
        self.sooner_end();
        self.fewer_calls();
        for (name, reduce) in reductions::all(&self.best) {
            if self.out_of_budget {
                break;
            }
            let candidate = reduce(&self.best);
            self.take(candidate, name);
        }
        self.fewer_operation_types();
        self.shorter_and_later_faults();
        self.best != before && !self.out_of_budget
    }
}

/// When `report`'s run of `scenario` failed (the end of the safety phase if it did not say).
fn failure_time(scenario: &Scenario, report: &SeedReport) -> f64 {
    report.violations.first().map_or(scenario.run.safety_s, |v| v.at.as_secs_f64())
}

/// Options of a shrink.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Stop trying smaller runs after this long (the smallest so far is the result).
    pub budget: Duration,
    /// Give up on one run after this long (a harness failure; the candidate does not count).
    pub wall_limit: Duration,
}

/// Shrinks seed `seed` of `scenario`; the result is named `name` (the file stem it will be
/// written under: `file` is that file's name, for the loader's messages).
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    file: &str,
    name: &str,
    options: Options,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Shrunk, Refusal> {
    let started = Instant::now();
    let original = run_seed_isolated(&Arc::new(scenario.clone()), seed, RunOptions::default(), options.wall_limit);
    if let Some(failure) = &original.harness_failure {
        return Err(Refusal::HarnessFailure(failure.clone()));
    }
    let Some(target) = Target::of(scenario, &original) else { return Err(Refusal::Passes) };
    let written = schedule::materialize(scenario, seed, name);
    let before = Size::of(scenario, written.faults.schedule.len(), &original);
    let mut shrinker = Shrinker {
        seed,
        file: file.to_string(),
        target: target.clone(),
        best: written.clone(),
        best_report: original,
        runs: 0,
        deadline: started + options.budget,
        wall_limit: options.wall_limit,
        out_of_budget: false,
        other_failures: Vec::new(),
        progress,
    };
    // The written-out schedule is the same run: it must fail the same way before anything goes.
    match shrinker.fails(&written, "the seed's faults as a schedule") {
        Some(true) => {}
        Some(false) => {
            let got = shrinker.best_report.failure().unwrap_or_else(|| "a pass".into());
            return Err(Refusal::NotReproduced(format!("expected {target:?}, the written-out schedule gave {got}")));
        }
        None => return Err(Refusal::NotReproduced("the budget ran out before the first run".into())),
    }
    while shrinker.round() {}
    let after = Size::of(&shrinker.best, shrinker.best.faults.schedule.len(), &shrinker.best_report);
    Ok(Shrunk {
        scenario: shrinker.best,
        report: shrinker.best_report,
        target,
        before,
        after,
        runs: shrinker.runs,
        budget_ran_out: shrinker.out_of_budget,
        other_failures: shrinker.other_failures,
    })
}

/// What remained, in one line: "needs: crash of master.datanode.1 at 12.4 s for 3.0 s; ...".
pub fn cause(shrunk: &Shrunk) -> String {
    let s = &shrunk.scenario;
    let mut parts: Vec<String> = s.faults.schedule.iter().map(describe_fault).collect();
    let trigger = &s.faults.on_new_leader;
    if trigger.probability > 0.0 {
        parts.push(format!("{:?} of a new leader (probability {})", trigger.action, trigger.probability).to_lowercase());
    }
    if !s.calls.is_empty() {
        parts.push(format!("{} management calls", s.calls.len()));
    }
    let needs = if parts.is_empty() { "no fault".to_string() } else { parts.join("; ") };
    let violation = shrunk.report.violations.first().map(|v| format!(" -> [{}] at {:.3} s", v.checker, v.at.as_secs_f64()));
    format!("needs: {needs}{}", violation.unwrap_or_default())
}

fn describe_fault(f: &FixedFault) -> String {
    let kind = crate::runner::format_name(&f.fault).replace('_', " ");
    let target = match (f.nodes.as_slice(), f.others.len()) {
        ([node], 0) => node.clone(),
        (nodes, 0) => nodes.join(","),
        (nodes, others) => format!("{} | {others} others", nodes.join(",")),
    };
    let lasting = match f.fault {
        crate::scenario::FaultKind::Clock | crate::scenario::FaultKind::DiskCorruption => String::new(),
        _ => format!(" for {:.1} s", f.duration_s),
    };
    format!("{kind} of {target} at {:.1} s{lasting}", f.at_s)
}

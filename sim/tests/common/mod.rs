//! What the sim/ integration tests share: running one seed with its trace recorded, and reading
//! times off trace lines.

#![allow(dead_code)] // each test file uses its own part

use std::sync::Arc;
use std::time::Duration;

use ccrsim_sim::runner::{self, RunOptions, SeedReport};
use ccrsim_sim::scenario::Scenario;
use ccrsim_sim::trace::TraceLine;

/// A seed's wall-clock limit: far above what any of these runs takes, low enough to stop a hang.
pub const WALL_LIMIT: Duration = Duration::from_secs(120);

/// One seed's report and its whole trace.
pub struct Run {
    pub report: SeedReport,
    pub lines: Vec<TraceLine>,
}

/// Runs `seed` of `scenario` and keeps its trace.
pub fn run_scenario(scenario: &Arc<Scenario>, seed: u64) -> Run {
    let mut report = runner::run_seed_isolated(scenario, seed, RunOptions { record_trace: true, ..RunOptions::default() }, WALL_LIMIT);
    let lines = report.trace.take().expect("the trace was recorded");
    Run { report, lines }
}

/// The number after `key` in `text`.
pub fn num_after(text: &str, key: &str) -> Option<u64> {
    let i = text.find(key)? + key.len();
    let digits: String = text[i..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Simulated seconds to nanoseconds.
pub fn ns(s: f64) -> u64 {
    (s * 1e9).round() as u64
}

/// A trace line's simulated time in nanoseconds.
pub fn t(line: &TraceLine) -> u64 {
    line.time.as_nanos()
}

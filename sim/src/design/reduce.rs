//! The steps a design offers the shrinker to make its part of a scenario smaller (its workload, its
//! deployment): each design lists its own (`SimDesign::reductions`), since only it knows its
//! sections; the shrinker adds the neutral ones and tries each, keeping a step only when the run
//! still fails the same way. A step the loader refuses is simply not taken.

use crate::scenario::Scenario;

/// One reduction: its name (for progress and the cause line) and the smaller scenario, if the
/// scenario can get smaller that way.
pub type Reduction = (&'static str, fn(&Scenario) -> Option<Scenario>);

/// What a design offers the shrinker: its steps, the operation types of its workload (for delta
/// debugging over them), and the scenario with only some of those types.
pub struct Steps {
    /// Steps over the design's own sections, the cheapest to run first.
    pub reductions: Vec<Reduction>,
    /// The operation types of the design's workload.
    pub operation_types: fn(&Scenario) -> Vec<String>,
    /// `scenario` with only the operation types `keys` in the design's workload.
    pub with_operation_types: fn(&Scenario, &[String]) -> Scenario,
}

/// `edit` applied to a copy of `s`, if it changed anything.
pub fn changed(s: &Scenario, edit: impl FnOnce(&mut Scenario)) -> Option<Scenario> {
    let mut smaller = s.clone();
    edit(&mut smaller);
    (smaller != *s).then_some(smaller)
}

/// Half of `n`, no lower than `floor` (nor above `n`).
pub fn half(n: u32, floor: u32) -> u32 {
    (n / 2).max(floor).min(n)
}

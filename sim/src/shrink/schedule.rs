//! A seed's faults written out as a scenario's fixed schedule: the form the shrinker edits.
//!
//! The nemesis plans a seed's faults from the seed (swarm choice, times, targets, strengths). A
//! scenario with swarm off, no random kinds and the plan's schedule (`FaultPlan::schedule`) plans
//! the very same actions in the same order, and the world draws everything else from streams of
//! its own (network, disk, clocks, the workload), so that scenario run with the same seed is the
//! same run: the same trace, event for event (tested on every shipped scenario).

use crate::nemesis::plan_for;
use crate::scenario::{Scenario, ScenarioError};
use crate::topology::Topology;

/// `scenario` with seed `seed`'s faults as its fixed schedule, named `name`.
pub fn materialize(scenario: &Scenario, seed: u64, name: &str) -> Scenario {
    let topology = Topology::from_scenario(scenario);
    let plan = plan_for(scenario, &topology, seed);
    let mut written = scenario.clone();
    written.name = name.to_string();
    written.faults.swarm = false;
    written.faults.kinds.clear();
    written.faults.schedule = plan.schedule(&topology);
    written
}

/// The scenario as a TOML file that loads back to it.
pub fn to_toml(scenario: &Scenario) -> String {
    toml::to_string(scenario).unwrap_or_else(|e| panic!("harness: a scenario always serialises as TOML: {e}"))
}

/// Writes `scenario` as a file named `file` and loads it back through the loader's validation:
/// what a shrunk file is, and the check that every step of the shrinker keeps a valid scenario.
pub fn reload(file: &str, scenario: &Scenario) -> Result<Scenario, ScenarioError> {
    Scenario::parse(file, &to_toml(scenario))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{RunOptions, run_seed};
    use crate::scenario::EMBEDDED;
    use std::sync::Arc;

    #[test]
    fn a_seed_with_its_faults_written_out_is_the_same_run() {
        for (name, _) in EMBEDDED {
            let scenario = Scenario::embedded(name).unwrap();
            for seed in 0..2 {
                let original = run_seed(&Arc::new(scenario.clone()), seed, RunOptions::default());
                let written = reload("written.toml", &materialize(&scenario, seed, "written")).unwrap();
                let again = run_seed(&Arc::new(written), seed, RunOptions::default());
                assert_eq!(
                    (again.trace_hash.as_str(), again.events, again.verdict),
                    (original.trace_hash.as_str(), original.events, original.verdict),
                    "{name} seed {seed}"
                );
            }
        }
    }
}

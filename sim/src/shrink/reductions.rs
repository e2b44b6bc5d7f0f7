//! Smaller versions of a scenario, one step each: the neutral ones here (the metadata clients, the
//! nemesis's conditional faults) and the design's own (`SimDesign::reductions`: its workload and its
//! deployment). The shrinker tries each in turn and keeps it when the run still fails the same way;
//! a step the loader refuses (a schedule naming a node the smaller deployment lacks) is simply not
//! taken.
//!
//! The workload's operation types and the management calls are list reductions the shrinker
//! makes by delta debugging (`operation_types`, `with_operation_types`), not steps here.

use crate::design::SimDesign;
pub use crate::design::reduce::Reduction;
use crate::design::reduce::{Steps, changed, half};
use crate::registry::{DesignJob, with_design};
use crate::scenario::Scenario;

/// The steps every design has, the cheapest to run first.
fn neutral() -> Vec<Reduction> {
    vec![
        ("no fault on a new leader", |s| changed(s, |s| s.faults.on_new_leader.probability = 0.0)),
        ("half the controller clients", |s| changed(s, |s| s.workload.clients = half(s.workload.clients, 0))),
        ("one session per controller client", |s| changed(s, |s| s.workload.lanes_per_client = 1)),
        ("half the proposal rate", |s| changed(s, |s| s.workload.proposals_per_s /= 2.0)),
    ]
}

/// What `scenario`'s design offers the shrinker.
fn design_steps(scenario: &Scenario) -> Steps {
    struct Design;
    impl DesignJob for Design {
        type Out = Steps;
        fn run<D: SimDesign>(self) -> Steps {
            D::shrink_steps()
        }
    }
    with_design(scenario, Design)
}

/// Every step for `scenario`'s design: the neutral ones, then the design's.
pub fn all(scenario: &Scenario) -> Vec<Reduction> {
    let mut steps = neutral();
    steps.extend(design_steps(scenario).reductions);
    steps
}

/// The operation types of `scenario`'s workload, for delta debugging over them.
pub fn operation_types(scenario: &Scenario) -> Vec<String> {
    (design_steps(scenario).operation_types)(scenario)
}

/// `scenario` with only the operation types `keys` in its workload.
pub fn with_operation_types(scenario: &Scenario, keys: &[String]) -> Scenario {
    (design_steps(scenario).with_operation_types)(scenario, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_design_brings_its_own_steps_after_the_neutral_ones() {
        let dolphindb = Scenario::embedded(crate::scenario::DEFAULT_SCENARIO).unwrap();
        let sequoiadb = Scenario::embedded("sequoiadb-chaos").unwrap();
        let names = |s: &Scenario| all(s).into_iter().map(|(name, _)| name).collect::<Vec<_>>();
        assert_eq!(names(&dolphindb)[..4], names(&sequoiadb)[..4]);
        assert!(names(&dolphindb).contains(&"half the DFS clients"));
        assert!(names(&sequoiadb).contains(&"half the SequoiaDB clients"));
        assert!(!names(&sequoiadb).contains(&"half the DFS clients"));
        let mut with_clients = dolphindb.clone();
        with_clients.workload.clients = 4;
        assert_eq!(all(&with_clients)[1].1(&with_clients).map(|s| s.workload.clients), Some(2));
        assert_eq!(all(&dolphindb)[1].1(&dolphindb), None, "no controller clients to halve");
        assert_eq!(operation_types(&sequoiadb), ["insert", "increment", "delete", "read"]);
        assert_eq!(with_operation_types(&dolphindb, &operation_types(&dolphindb)[..1]).dfs_workload.mix.len(), 1);
    }
}

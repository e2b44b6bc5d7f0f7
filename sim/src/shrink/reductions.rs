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
use crate::design::reduce::{changed, half};
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

/// Every step for `scenario`'s design: the neutral ones, then the design's.
pub fn all(scenario: &Scenario) -> Vec<Reduction> {
    struct Steps;
    impl DesignJob for Steps {
        type Out = Vec<Reduction>;
        fn run<D: SimDesign>(self) -> Self::Out {
            D::reductions()
        }
    }
    let mut steps = neutral();
    steps.extend(with_design(scenario, Steps));
    steps
}

/// The operation types of `scenario`'s workload, for delta debugging over them.
pub fn operation_types(scenario: &Scenario) -> Vec<String> {
    struct Types<'a>(&'a Scenario);
    impl DesignJob for Types<'_> {
        type Out = Vec<String>;
        fn run<D: SimDesign>(self) -> Self::Out {
            D::operation_types(self.0)
        }
    }
    with_design(scenario, Types(scenario))
}

/// `scenario` with only the operation types `keys` in its workload.
pub fn with_operation_types(scenario: &Scenario, keys: &[String]) -> Scenario {
    struct Only<'a>(&'a Scenario, &'a [String]);
    impl DesignJob for Only<'_> {
        type Out = Scenario;
        fn run<D: SimDesign>(self) -> Self::Out {
            D::with_operation_types(self.0, self.1)
        }
    }
    with_design(scenario, Only(scenario, keys))
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

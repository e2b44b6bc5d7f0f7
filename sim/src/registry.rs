//! The designs the simulator runs, by the names scenario files give them: one line per design.
//! Everything that must pick a design at run time (the runner, the nemesis's plan, scenario
//! validation) goes through here.

use crate::design::SimDesign;
use crate::scenario::Scenario;

/// Something to do with the design a scenario names (Rust has no generic closures).
pub trait DesignJob {
    /// What it gives.
    type Out;
    /// Does it with design `D`.
    fn run<D: SimDesign>(self) -> Self::Out;
}

/// Lists the designs the simulator runs: one line per design.
macro_rules! registry {
    ($($design:ty),* $(,)?) => {
        /// Every registered design's `(replica protocol, pipeline)` names.
        pub fn designs() -> Vec<(&'static str, &'static str)> {
            vec![$((<$design as SimDesign>::REPLICA, <$design as SimDesign>::PIPELINE)),*]
        }

        /// Does `job` with the design `scenario` names (validated when the scenario was loaded).
        pub fn with_design<J: DesignJob>(scenario: &Scenario, job: J) -> J::Out {
            let names = (scenario.cluster.replica.design.as_str(), scenario.pipeline.design.as_str());
            $(
                if names == (<$design as SimDesign>::REPLICA, <$design as SimDesign>::PIPELINE) {
                    return job.run::<$design>();
                }
            )*
            panic!("no design {names:?}: scenario validation lets only registered designs through")
        }

        /// Every checker name a scenario's `expect.violation` may name: the design-neutral ones
        /// and every registered design's.
        pub fn checker_names() -> Vec<&'static str> {
            let mut names = crate::checkers::neutral_checker_names();
            $(names.extend(<$design as SimDesign>::checker_names());)*
            names.sort_unstable();
            names.dedup();
            names
        }
    };
}

registry!(crate::design::dolphindb::Dolphindb, crate::design::sequoiadb::Sequoiadb);

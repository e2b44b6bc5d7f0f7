//! The designs the simulator can run, and what the world needs from each.
//!
//! A design here is a replica protocol and a pipeline of the model composed into one deployment
//! ([`SimDesign`]): it says what role every node plays (from the scenario), how its facts are
//! judged ([`DesignCheckers`]), how much disk corruption it is meant to survive, which management
//! calls a scenario may make and the harness probes, and what a run's summary reports. The world,
//! the host, the nemesis and the runner are generic over it; [`with_design`] picks one by the
//! names a scenario gives (`[cluster.replica] design`, `[pipeline] design`). Adding a design is a
//! folder under `design/` and one line in [`registry!`].

pub mod dolphindb;

use std::fmt::Debug;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::deployment;
use ccrsim_model::pipeline::Pipeline;
use ccrsim_model::replica::{Guest, ReplicaProtocol};

use crate::checkers::Violation;
use crate::checkers::view::ClusterView;
use crate::env::time::SimTime;
use crate::scenario::Scenario;
use crate::summary::{PipelineSummary, ReplicaSummary};
use crate::topology::{ClusterId, Topology};

/// A message of design `D`'s deployment.
pub type Message<D> = deployment::message::Message<<D as SimDesign>::R, <D as SimDesign>::P>;
/// A fact of design `D`'s deployment.
pub type Fact<D> = deployment::fact::Fact<<D as SimDesign>::R, <D as SimDesign>::P>;
/// A role of design `D`.
pub type Role<D> = deployment::role::Role<<D as SimDesign>::R, <D as SimDesign>::P>;
/// How to build a role of design `D`.
pub type RoleSpec<D> = deployment::role::RoleSpec<<D as SimDesign>::R, <D as SimDesign>::P>;
/// A controller of design `D`.
pub type Controller<D> = deployment::controller::Controller<<D as SimDesign>::R, <D as SimDesign>::P>;
/// A data node of design `D`.
pub type DataNode<D> = deployment::role::DataNode<<D as SimDesign>::R, <D as SimDesign>::P>;
/// A management call of design `D`'s pipeline.
pub type Call<D> = <<D as SimDesign>::P as Guest>::Call;
/// A management call's answer.
pub type CallResult<D> = <<D as SimDesign>::P as Guest>::CallResult;
/// The replica protocol's facts.
pub type ReplicaFact<D> = <<D as SimDesign>::R as ReplicaProtocol<<D as SimDesign>::P>>::Fact;
/// The pipeline's facts.
pub type PipelineFact<D> = <<D as SimDesign>::P as Guest>::Fact;

/// Status probes: `(target, call)` pairs the harness makes together.
pub type Probes<D> = Vec<(String, Call<D>)>;

/// A management call a scenario makes at a fixed time (`[[calls]]`).
#[derive(Debug, Clone)]
pub struct ScenarioCall<C> {
    /// When, in simulated seconds.
    pub at_s: f64,
    /// `CLUSTER.controller`, `CLUSTER.datanode` or a node's name.
    pub target: String,
    /// The call.
    pub call: C,
    /// The outcome the scenario expects: `ok` or an error code.
    pub expect: String,
}

/// A replica protocol and a pipeline composed into a deployment the simulator runs.
pub trait SimDesign: Sized + Debug + 'static {
    /// The replica protocol's name in scenario files.
    const REPLICA: &'static str;
    /// The pipeline's name in scenario files.
    const PIPELINE: &'static str;
    /// The replica protocol.
    type R: ReplicaProtocol<Self::P>;
    /// The pipeline.
    type P: Pipeline<Self::R>;
    /// The design's own checkers.
    type Checkers: DesignCheckers<Self> + Send;

    /// Every checker name a negative scenario's `expect.violation` may give for this design.
    fn checker_names() -> Vec<&'static str>;
    /// The role of every node of `topology`, by id.
    fn specs(scenario: &Scenario, topology: &Topology) -> Vec<RoleSpec<Self>>;
    /// The design's checkers for a run.
    fn checkers(scenario: &Scenario, topology: &Topology) -> Self::Checkers;
    /// How many data nodes of `cluster` may have their disks corrupted in one run without losing
    /// data the design promises to keep (the nemesis's budget).
    fn data_node_corruption_budget(scenario: &Scenario, cluster: ClusterId) -> usize;
    /// Whether corrupting `path` on `node` now stays within what the design tolerates (for
    /// example: another complete copy of the data exists).
    fn corruption_tolerated(view: &ClusterView<'_, Self>, scenario: &Scenario, node: NodeId, path: &str) -> bool;
    /// The scenario's management calls.
    fn scenario_calls(scenario: &Scenario) -> Vec<ScenarioCall<Call<Self>>>;
    /// How often the harness probes every status function, and the probes (target, call);
    /// `None` for no probes.
    fn status_probes(scenario: &Scenario, topology: &Topology) -> Option<(f64, Probes<Self>)>;
    /// A scenario call about to be made on `node`: fill in what it takes from the state then (a
    /// skip of "every failed task" learns the task ids).
    fn prepare_call(view: &ClusterView<'_, Self>, scenario: &Scenario, index: usize, node: NodeId, call: Call<Self>) -> Call<Self>;
    /// The outcome code of an answer (`ok`, or an error code) to compare with `expect`.
    fn outcome_code(result: &CallResult<Self>) -> String;
    /// The outcome code that means "no leader answered": such a call is made again.
    fn unavailable_code() -> &'static str;
    /// A call's name, for messages.
    fn call_name(call: &Call<Self>) -> String;
}

/// A design's own checkers: fed the facts of its replica protocol and its pipeline and the answers
/// to management calls, asked what is still pending after heal and for a verdict at the end.
pub trait DesignCheckers<D: SimDesign>: Debug {
    /// Judges a replica protocol's fact of `node`.
    fn on_replica_fact(&mut self, at: SimTime, node: NodeId, fact: &ReplicaFact<D>) -> Result<(), Violation>;
    /// The reason a replica protocol's fact gives for refusing part of a node's durable state, if
    /// it does (judged by `recovery-soundness`).
    fn refusal(fact: &ReplicaFact<D>) -> Option<&str>;
    /// Judges a pipeline's fact of `node`.
    fn on_pipeline_fact(&mut self, at: SimTime, node: NodeId, fact: &PipelineFact<D>) -> Result<(), Violation>;
    /// Judges the answer to a management call made on `node`.
    fn on_answer(&mut self, at: SimTime, node: NodeId, call: &Call<D>, result: &CallResult<D>) -> Result<(), Violation>;
    /// The nemesis corrupted `node`'s disk.
    fn on_corruption(&mut self, node: NodeId);
    /// Why the design has not converged yet: `(checker, source, reason)`.
    fn pending(&self, view: &ClusterView<'_, D>) -> Option<(&'static str, &'static str, String)>;
    /// Checks that need the final state.
    fn at_end(&self, at: SimTime, view: &ClusterView<'_, D>) -> Result<(), Violation>;
    /// What the replica protocol did in the run, for reports.
    fn replica_summary(&self) -> Option<ReplicaSummary>;
    /// What the pipeline did in the run, for reports.
    fn pipeline_summary(&self) -> Option<PipelineSummary>;
}

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

        /// Every checker name of every design (for `expect.violation`).
        pub fn checker_names() -> Vec<&'static str> {
            let mut names = Vec::new();
            $(names.extend(<$design as SimDesign>::checker_names());)*
            names
        }
    };
}

registry!(dolphindb::Dolphindb);

//! The designs the simulator can run, and what the world needs from each.
//!
//! A design here is a replica protocol and a pipeline of the model composed into one deployment
//! ([`SimDesign`]): it says what role every node plays (from the scenario), how its facts are
//! judged ([`DesignCheckers`]), how much disk corruption it is meant to survive, which management
//! calls a scenario may make and the harness probes, and what a run's summary reports. The world,
//! the host, the nemesis and the runner are generic over it; `registry::with_design` picks one by the
//! names a scenario gives (`[cluster.replica] design`, `[pipeline] design`). Adding a design is a
//! folder under `design/` and one line in `registry.rs`.

pub mod dolphindb;
pub mod reduce;
pub mod sequoiadb;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::deployment::client::ClientConfig;
use ccrsim_model::raft::RaftConfig;

pub use crate::checkers::DesignCheckers;
pub use crate::deployment::{Call, CallResult, Controller, DataNode, Deployment, Fact, Message, PipelineFact, ReplicaFact, Role, RoleSpec};
use crate::scenario::Scenario;
use crate::topology::{ClusterId, NodeInfo, Topology};
use crate::view::ClusterView;

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
pub trait SimDesign: Deployment {
    /// The replica protocol's name in scenario files.
    const REPLICA: &'static str;
    /// The pipeline's name in scenario files.
    const PIPELINE: &'static str;
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
    /// The node a call made on `target` goes to now, for a target the design names itself (such
    /// as a replica group's primary): `Some(None)` when none runs now (the call is tried again
    /// shortly). `None` for the neutral targets: `CLUSTER.controller` (its leader),
    /// `CLUSTER.datanode` (a running data node), a node's name.
    fn design_target(_view: &ClusterView<'_, Self>, _target: &str) -> Option<Option<NodeId>> {
        None
    }
    /// What the shrinker may do to the design's own sections (its workload, its deployment).
    fn shrink_steps() -> reduce::Steps;
}

/// The Raft settings of controller `node` of `cluster`, from `[raft]` (every design's controller
/// groups).
pub fn raft_config(scenario: &Scenario, topology: &Topology, node: &NodeInfo, cluster: ClusterId) -> RaftConfig {
    let raft = &scenario.raft;
    RaftConfig {
        id: node.id,
        members: topology.controllers(cluster),
        election_timeout_ms: (raft.election_timeout_ms[0], raft.election_timeout_ms[1]),
        heartbeat_ms: raft.heartbeat_ms,
        max_entries_per_append: raft.max_entries_per_append,
        snapshot_threshold_entries: raft.snapshot_threshold_entries,
        bugs: scenario.planted_bugs.raft,
    }
}

/// A metadata-map client of the master's controllers, from `[workload]` (every design's).
pub fn metadata_client(scenario: &Scenario, topology: &Topology) -> ClientConfig {
    let w = &scenario.workload;
    let per_client = w.proposals_per_s / f64::from(w.clients);
    ClientConfig {
        controllers: topology.controllers(ClusterId::Master),
        issue_interval_ms: ((1000.0 / per_client).round() as u64).max(1),
        lanes: w.lanes_per_client,
        retry_timeout_ms: w.retry_timeout_ms,
    }
}

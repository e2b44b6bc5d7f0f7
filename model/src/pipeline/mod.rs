//! The pipeline seam: how a source cluster's committed writes reach its target clusters.
//!
//! A pipeline (one folder per design) brings the state it keeps in every cluster's controllers
//! (replicated with the replica protocol's state, and consulted by the protocol through
//! `replica::WriteHooks`), the volatile duties of a controller leader (pulling, reporting,
//! dispatching, collecting garbage), its messages and facts, and its management calls. Where it
//! runs inside a data node it does so through the replica protocol's own hosting trait (for 2PC,
//! `replica::dolphindb_2pc::guest::Guest2pc`): a pipeline is written for the replica protocols it
//! can ship from and apply to.
//!
//! Layering: below it `core`, `dfs` and `replica`; above it only the deployment.

pub mod dolphindb_async;
pub mod none;

use std::fmt::Debug;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::core::io::{Carries, NodeId, Output, TimerKey, part};
pub use crate::replica::CallOutcome;
use crate::replica::{Guest, LeaderView, ReplicaProtocol, WriteHooks};

/// Who waits for a pipeline command's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PipelineOrigin {
    /// A data node's request `(node, req)` (a management call it forwarded, a failure it reports).
    Node(NodeId, u64),
    /// A management call made on the controller that proposed it.
    Call(u64),
}

/// How a controller leader answers a pipeline request of a data node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRequestOutcome<C, R> {
    /// At once: the answer, or `Err(leader hint)` when this controller does not lead.
    Answer(Result<R, Option<NodeId>>),
    /// Once `cmd` is applied (its answer goes back to the node then).
    Propose(C),
}

/// A pipeline on replica protocol `R`.
pub trait Pipeline<R: ReplicaProtocol<Self>>: Guest {
    /// The design's name in scenario files.
    const NAME: &'static str;
    /// How one cluster takes part (with its settings).
    type Config: Clone + Debug + Send + Sync;
    /// The state the pipeline keeps in a cluster's controllers (replicated through Raft).
    type State: Clone + Debug + PartialEq + Eq + Hash + Serialize + DeserializeOwned + WriteHooks<Fact = Self::Fact> + Send + Sync;
    /// A command of that state.
    type Command: Clone + Debug + PartialEq + Eq + Hash + Serialize + DeserializeOwned + Send + Sync;
    /// A controller leader's volatile duties.
    type Duties: Debug + Send + Sync;
    /// Their settings (how a controller reaches the other clusters, and its pace).
    type DutiesConfig: Clone + Debug + Send + Sync;

    /// The state of a fresh cluster.
    fn new_state(config: Self::Config) -> Self::State;
    /// The duties of a controller that just booted.
    fn new_duties(config: Self::DutiesConfig) -> Self::Duties;
    /// Applies a committed command (`replica`: the protocol's replicated state, for reading).
    fn apply(state: &mut Self::State, cmd: &Self::Command, replica: &R::State) -> (Self::CallResult, Vec<Self::Fact>);
    /// The whole state as a fact, after a snapshot replaced it (no per-command fact describes it).
    fn snapshot_fact(state: &Self::State) -> Option<Self::Fact>;
    /// The answer to a data node's request that an applied command's answer gives.
    fn node_reply(answer: Self::CallResult) -> Self::NodeReply;
    /// The answer to a call whose proposal was lost with this controller's leadership.
    fn leadership_lost_answer() -> Self::CallResult;
    /// The answer to a call made on a controller that does not lead.
    fn not_leader_answer(hint: Option<NodeId>) -> Self::CallResult;
    /// The answer to a call made on a node that plays no part in the pipeline (a workload client).
    fn no_part_answer(call: &Self::Call) -> Self::CallResult;

    /// Whether `key` is one of the duties' timers.
    fn owns_timer(key: TimerKey) -> bool;
    /// The duties start (arm their timers).
    fn start<M: Carries<Self::Message, part::Pipeline>, F: Carries<Self::Fact, part::Pipeline>>(
        duties: &mut Self::Duties,
        state: &Self::State,
        out: &mut Output<M, F>,
    );
    /// One of the duties' timers fired; returns what to propose.
    fn on_timer<M: Carries<Self::Message, part::Pipeline>, F: Carries<Self::Fact, part::Pipeline>>(
        duties: &mut Self::Duties,
        view: &LeaderView<'_, R::State, Self::State>,
        key: TimerKey,
        out: &mut Output<M, F>,
    ) -> Vec<Self::Command>;
    /// A message of the pipeline reached a controller; returns what to propose.
    fn on_message<M: Carries<Self::Message, part::Pipeline>, F: Carries<Self::Fact, part::Pipeline>>(
        duties: &mut Self::Duties,
        view: &LeaderView<'_, R::State, Self::State>,
        from: NodeId,
        msg: Self::Message,
        out: &mut Output<M, F>,
    ) -> Vec<Self::Command>;
    /// A data node's request through the replica protocol's channel.
    fn on_node_request(
        duties: &mut Self::Duties,
        view: &LeaderView<'_, R::State, Self::State>,
        from: NodeId,
        request: Self::NodeRequest,
    ) -> NodeRequestOutcome<Self::Command, Self::NodeReply>;
    /// What a data node's heartbeat carried (a leader only).
    fn on_beat<M: Carries<Self::Message, part::Pipeline>, F: Carries<Self::Fact, part::Pipeline>>(
        duties: &mut Self::Duties,
        view: &LeaderView<'_, R::State, Self::State>,
        from: NodeId,
        beat: Self::Beat,
        out: &mut Output<M, F>,
    );
    /// A management call made on a controller.
    fn on_call(
        duties: &mut Self::Duties,
        view: &LeaderView<'_, R::State, Self::State>,
        call: &Self::Call,
    ) -> CallOutcome<Self::Command, Self::CallResult>;
    /// Commands were applied that made these facts true: act on them (a leader sends dispatched
    /// work), then report them.
    fn on_applied<M: Carries<Self::Message, part::Pipeline>, F: Carries<Self::Fact, part::Pipeline>>(
        duties: &mut Self::Duties,
        view: &LeaderView<'_, R::State, Self::State>,
        facts: Vec<Self::Fact>,
        out: &mut Output<M, F>,
    );
    /// The controller does not lead (any more): volatile leader state goes.
    fn on_leadership_lost(duties: &mut Self::Duties);
}

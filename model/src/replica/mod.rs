//! The replica-protocol seam: how the replicas of one cluster's data are written and kept equal.
//!
//! A replica protocol (one folder per design) brings the cluster state its controllers keep through
//! Raft, the controllers' volatile duties, the data-node role, the workload client, and its messages
//! and facts. It knows nothing of any pipeline: what a pipeline needs from it goes through the
//! types here, which every pipeline and every protocol share:
//!
//! - [`WriteHooks`]: at the protocol's own decision points (a transaction begins, is decided
//!   commit, completes) its replicated state machine asks the pipeline's replicated state; so every
//!   controller agrees on what the pipeline captured, refused or applied;
//! - [`PipelineTag`]: what the protocol keeps on a transaction for the pipeline;
//! - [`Guest`]: the pipeline's payloads the protocol carries opaquely (a data node's heartbeat share,
//!   a data node's requests to its controller leader and their answers), its messages, facts and
//!   management calls that a data node hosts;
//! - [`ReplicaView`]: what a pipeline may read of the protocol's state.
//!
//! Layering: `core` and `dfs` below; pipelines and the deployment above. Nothing here imports a
//! design.

pub mod dolphindb_2pc;
pub mod sequoiadb;

use std::fmt::Debug;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::core::io::{Carries, DiskCompletion, DiskView, Millis, NodeId, Output, RecoveryError, TimerKey, part};
use crate::dfs::{LockKey, OpError, Operation, OperationKind, SharedOperation};

/// The id a pipeline gives a write it applies on a target cluster (DolphinDB: the task id).
pub type PipelineWriteId = u64;

/// What a replica protocol records on a transaction for a pipeline, when the transaction begins.
///
/// Invariant: a transaction is captured only on a source cluster and applies a pipeline write only
/// on a target cluster, so at most one of the two is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PipelineTag {
    /// Source side: the pipeline captures this transaction's write, to ship it once committed.
    pub captured: bool,
    /// Target side: the pipeline write this transaction applies.
    pub applies: Option<PipelineWriteId>,
}

/// A committed transaction as the replica protocol ends it: what a pipeline ships.
#[derive(Debug, Clone)]
pub struct CommittedWrite<'a> {
    /// The protocol's transaction id.
    pub tid: u64,
    /// Its commit sequence number.
    pub cid: u64,
    /// The operation.
    pub op: &'a SharedOperation,
    /// What it touched, as the locks it held: two writes conflict when their footprints do.
    pub footprint: &'a [LockKey],
    /// The storage units (chunks) it wrote.
    pub chunks: Vec<u64>,
    /// The node that coordinated it (where the pipeline may keep its data).
    pub coordinator: NodeId,
    /// When it was decided (the deciding controller's clock).
    pub decided_ms: Millis,
    /// What the protocol recorded on it for the pipeline.
    pub tag: PipelineTag,
}

/// What a pipeline says about a replica protocol's transactions. The protocol's replicated state
/// machine calls these at its own decision points, so the answers are replicated too; the facts a
/// hook makes true go to `facts`.
pub trait WriteHooks {
    /// The pipeline's facts.
    type Fact: Send + Sync;
    /// Why a transaction for `op` (applying pipeline write `applies`, if any) may not begin: an
    /// ordinary write to data the pipeline owns on a target, or a pipeline write applied already.
    fn refusal(&self, op: &Operation, applies: Option<PipelineWriteId>) -> Option<OpError>;
    /// Whether the pipeline captures a transaction for `op` that begins now.
    fn captures(&self, op: &Operation) -> bool;
    /// Whether a captured transaction of this kind must keep its data at its coordinator (the
    /// pipeline ships the data from there).
    fn keeps_write_data(&self, kind: OperationKind) -> bool;
    /// A transaction applying pipeline write `applies` is being decided commit. False: the write
    /// was applied already, and the transaction must be rolled back instead.
    fn on_commit_decision(&mut self, applies: PipelineWriteId, tid: u64, facts: &mut Vec<Self::Fact>) -> bool;
    /// Whether [`WriteHooks::on_complete`] wants a transaction with this tag (the protocol keeps a
    /// copy of the transaction across its completion only then).
    fn follows(&self, tag: PipelineTag) -> bool;
    /// A committed transaction the pipeline follows completed.
    fn on_complete(&mut self, write: CommittedWrite<'_>, now_ms: Millis, facts: &mut Vec<Self::Fact>);
}

/// A cluster without a pipeline: nothing is refused, captured or followed. `F` is the fact type
/// the hooks are declared with (a protocol's tests use `()`; the pipeline "none" its uninhabited
/// `Nothing`); they never report one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct NoHooks<F = ()>(std::marker::PhantomData<fn() -> F>);

impl<F> Default for NoHooks<F> {
    fn default() -> Self {
        NoHooks(std::marker::PhantomData)
    }
}

impl<F: Send + Sync> WriteHooks for NoHooks<F> {
    type Fact = F;

    fn refusal(&self, _: &Operation, _: Option<PipelineWriteId>) -> Option<OpError> {
        None
    }

    fn captures(&self, _: &Operation) -> bool {
        false
    }

    fn keeps_write_data(&self, _: OperationKind) -> bool {
        false
    }

    /// No pipeline write exists, so nothing is ever applied twice: every decision stands.
    fn on_commit_decision(&mut self, _: PipelineWriteId, _: u64, _: &mut Vec<F>) -> bool {
        true
    }

    fn follows(&self, _: PipelineTag) -> bool {
        false
    }

    fn on_complete(&mut self, _: CommittedWrite<'_>, _: Millis, _: &mut Vec<F>) {}
}

/// What a pipeline may read of a replica protocol's replicated state.
pub trait ReplicaView {
    /// Whether the catalog holds database `db`.
    fn has_database(&self, db: &str) -> bool;
    /// Every database of the catalog, by name.
    fn databases(&self) -> Vec<String>;
    /// Whether transaction `tid` was decided and no longer runs.
    fn transaction_ended(&self, tid: u64) -> bool;
}

/// A short name of a message, for traces and statistics.
pub trait MessageKind {
    /// The name.
    fn kind(&self) -> &'static str;
}

/// A management call answered (the deployment reports it as a fact).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallAnswered<C, R> {
    /// The harness's id of the call.
    pub call_id: u64,
    /// The call.
    pub call: C,
    /// Its answer.
    pub result: R,
}

/// What a pipeline brings into a replica protocol's roles: its messages, facts and management
/// calls (a data node hosts the pipeline's part), and the payloads the protocol carries for it
/// without looking inside.
pub trait Guest: Sized + Clone + Debug + PartialEq + Eq + Hash + 'static {
    /// The pipeline's messages.
    type Message: Clone + Debug + PartialEq + Eq + Hash + MessageKind + Send + Sync;
    /// The pipeline's facts.
    type Fact: Clone + Debug + PartialEq + Eq + Hash + Send + Sync;
    /// A management call.
    type Call: Clone + Debug + PartialEq + Eq + Hash + Send + Sync;
    /// A management call's answer.
    type CallResult: Clone + Debug + PartialEq + Eq + Hash + Send + Sync;
    /// What a data node's heartbeat carries for the pipeline.
    type Beat: Clone + Debug + PartialEq + Eq + Hash + Default + Send + Sync;
    /// A pipeline request a data node sends its controller leader through the protocol's channel.
    type NodeRequest: Clone + Debug + PartialEq + Eq + Hash + Send + Sync;
    /// The leader's answer to it.
    type NodeReply: Clone + Debug + PartialEq + Eq + Hash + Send + Sync;
}

/// How a deployment carries what a replica protocol's roles and the pipeline parts they host emit:
/// the protocol writes its own messages and facts into the deployment's output through `From`.
pub trait Wire<R: ReplicaProtocol<P>, P: Guest>: 'static {
    /// The deployment's message.
    type Message: Debug + Carries<R::Message, part::Replica> + Carries<P::Message, part::Pipeline> + Send + Sync;
    /// The deployment's fact.
    type Fact: Debug
        + Carries<R::Fact, part::Replica>
        + Carries<P::Fact, part::Pipeline>
        + Carries<CallAnswered<P::Call, P::CallResult>, part::Answer>
        + Carries<CallAnswered<R::Call, R::CallResult>, part::ReplicaAnswer>
        + Send
        + Sync;
}

/// What the controllers' volatile duties see when they act: whether this controller leads, and the
/// replicated state it has applied (the protocol's and the pipeline's).
#[derive(Debug)]
pub struct LeaderView<'a, RS, PS> {
    /// The controller's local time.
    pub now: Millis,
    /// This controller leads its group.
    pub is_leader: bool,
    /// The leader it knows of, if it does not lead.
    pub leader_hint: Option<NodeId>,
    /// Every member of the group.
    pub members: &'a [NodeId],
    /// The replica protocol's replicated state.
    pub replica: &'a RS,
    /// The pipeline's replicated state.
    pub pipeline: &'a PS,
}

/// What a replica protocol's controller duties ask the controller shell to do, in order, after
/// they return (what they sent is already in the output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Duty<C, P: Guest> {
    /// Propose `cmd` through Raft; once applied, answer `origin` (a data node's request `(node,
    /// req)`), if any.
    Propose { origin: Option<(NodeId, u64)>, cmd: C },
    /// A pipeline request that came from data node `from` as request `req` of its channel.
    ForPipeline { from: NodeId, req: u64, request: P::NodeRequest },
    /// What data node `from`'s heartbeat carried for the pipeline.
    Beat { from: NodeId, beat: P::Beat },
}

/// How a controller answers a management call (of the replica protocol or of the pipeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome<C, R> {
    /// At once (a status function, or an error).
    Answer(R),
    /// Once `cmd` is applied.
    Propose(C),
}

/// The call type of a replica protocol that has no management calls of its own (DolphinDB's 2PC:
/// its management calls are the pipeline's). It has no values, so no such call is ever made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoCall {}

/// A replica protocol, for pipeline `P`: its controllers' replicated state and volatile duties, its
/// data node and workload client, its messages and facts.
pub trait ReplicaProtocol<P: Guest>: Sized + Clone + Debug + PartialEq + Eq + Hash + 'static {
    /// The design's name in scenario files.
    const NAME: &'static str;
    /// Settings of one cluster's replicated state.
    type Config: Clone + Debug + Send + Sync;
    /// The controllers' replicated state.
    type State: Clone + Debug + PartialEq + Eq + Hash + Serialize + DeserializeOwned + ReplicaView + Send + Sync;
    /// A command of the replicated state.
    type Command: Clone + Debug + PartialEq + Eq + Hash + Serialize + DeserializeOwned + Send + Sync;
    /// What applying a command answers its origin.
    type Output: Clone + Debug + PartialEq + Eq + Hash + Send + Sync;
    /// The protocol's messages.
    type Message: Clone + Debug + PartialEq + Eq + Hash + MessageKind + Send + Sync;
    /// The protocol's facts.
    type Fact: Clone + Debug + PartialEq + Eq + Hash + Send + Sync;
    /// The controllers' volatile duties (a leader's watch over the data nodes).
    type Duties: Debug + Send + Sync;
    /// Their settings.
    type DutiesConfig: Clone + Debug + Send + Sync;
    /// Settings of a data node (with the pipeline part's).
    type NodeConfig: Clone + Debug + Send + Sync;
    /// The data node, writing into the deployment's output `W`.
    type DataNode<W: Wire<Self, P>>: ReplicaNode<Self, P, W> + Send + Sync;
    /// Settings of a workload client.
    type ClientConfig: Clone + Debug + Send + Sync;
    /// The workload client.
    type Client: ReplicaClient<Self, P> + Send + Sync;
    /// A management call of the protocol itself (SequoiaDB: add or remove a node, change a
    /// weight, force a step-down); [`NoCall`] for a protocol without any.
    type Call: Clone + Debug + PartialEq + Eq + Hash + Send + Sync;
    /// A management call's answer.
    type CallResult: Clone + Debug + PartialEq + Eq + Hash + Send + Sync;

    /// The state of a fresh cluster.
    fn new_state(config: Self::Config) -> Self::State;
    /// The duties of a controller that just booted.
    fn new_duties(config: Self::DutiesConfig) -> Self::Duties;
    /// Applies a committed command; the pipeline has its say through `hooks`.
    fn apply<H: WriteHooks>(
        state: &mut Self::State,
        cmd: &Self::Command,
        hooks: &mut H,
        hook_facts: &mut Vec<H::Fact>,
    ) -> (Self::Output, Vec<Self::Fact>);
    /// Whether `key` is one of the duties' timers.
    fn owns_timer(key: TimerKey) -> bool;
    /// The duties start (arm their timers).
    fn start<M: Carries<Self::Message, part::Replica>, F: Carries<Self::Fact, part::Replica>>(
        duties: &mut Self::Duties,
        out: &mut Output<M, F>,
    );
    /// A message of the protocol reached a controller.
    fn on_message<H: WriteHooks, M: Carries<Self::Message, part::Replica>, F: Carries<Self::Fact, part::Replica>>(
        duties: &mut Self::Duties,
        view: &LeaderView<'_, Self::State, H>,
        from: NodeId,
        msg: Self::Message,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<Self::Command, P>>;
    /// One of the duties' timers fired.
    fn on_timer<H: WriteHooks, M: Carries<Self::Message, part::Replica>, F: Carries<Self::Fact, part::Replica>>(
        duties: &mut Self::Duties,
        view: &LeaderView<'_, Self::State, H>,
        key: TimerKey,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<Self::Command, P>>;
    /// The controller does not lead (any more): volatile leader state goes.
    fn on_leadership_lost(duties: &mut Self::Duties);
    /// A management call of the protocol made on a controller.
    fn on_call<H: WriteHooks>(
        duties: &mut Self::Duties,
        view: &LeaderView<'_, Self::State, H>,
        call: &Self::Call,
    ) -> CallOutcome<Self::Command, Self::CallResult>;
    /// The answer a call gets once the command it proposed was applied with `output`.
    fn call_answer(output: Self::Output) -> Self::CallResult;
    /// The answer to a call whose proposal was lost with this controller's leadership (it may or
    /// may not take effect).
    fn call_leadership_lost() -> Self::CallResult;
    /// The answer to a call made on a controller that does not lead.
    fn call_not_leader(hint: Option<NodeId>) -> Self::CallResult;
    /// The answer to a call made on a node that plays no part in the protocol (a client of the
    /// controllers).
    fn call_no_part(call: &Self::Call) -> Self::CallResult;
    /// The message that answers data node request `req` with `output`.
    fn answer(req: u64, output: Self::Output) -> Self::Message;
    /// The message that answers data node request `req` for the pipeline, or tells the node this
    /// controller does not lead (`Err(leader hint)`).
    fn pipeline_answer(req: u64, result: Result<P::NodeReply, Option<NodeId>>) -> Self::Message;
    /// The message that tells a data node this controller does not lead, for request `req`.
    fn not_leader(req: u64, hint: Option<NodeId>) -> Self::Message;
}

/// A replica protocol's data node, as the deployment drives it.
pub trait ReplicaNode<R: ReplicaProtocol<P>, P: Guest, W: Wire<R, P>>: Sized + Debug {
    /// Rebuilds the node from what its disk holds, and nothing else.
    fn boot(id: NodeId, config: &R::NodeConfig, disk: &dyn DiskView, entropy: u64) -> Result<Self, RecoveryError>;
    /// First step after boot.
    fn start(&mut self, now: Millis, out: &mut Output<W::Message, W::Fact>);
    /// A message of the protocol.
    fn on_message(&mut self, now: Millis, from: NodeId, msg: R::Message, out: &mut Output<W::Message, W::Fact>);
    /// A message of the pipeline.
    fn on_pipeline_message(&mut self, now: Millis, from: NodeId, msg: P::Message, out: &mut Output<W::Message, W::Fact>);
    /// A timer fired.
    fn on_timer(&mut self, now: Millis, key: TimerKey, out: &mut Output<W::Message, W::Fact>);
    /// A disk request finished.
    fn on_disk(&mut self, now: Millis, done: DiskCompletion, out: &mut Output<W::Message, W::Fact>);
    /// A management call of the pipeline made on this node.
    fn on_call(&mut self, now: Millis, call_id: u64, call: P::Call, out: &mut Output<W::Message, W::Fact>);
    /// A management call of the protocol made on this node.
    fn on_replica_call(&mut self, now: Millis, call_id: u64, call: R::Call, out: &mut Output<W::Message, W::Fact>);
}

/// A replica protocol's workload client (an observer: never faulted).
pub trait ReplicaClient<R: ReplicaProtocol<P>, P: Guest>: Sized + Debug {
    /// A client with nothing issued yet.
    fn new(id: NodeId, config: &R::ClientConfig, entropy: u64) -> Self;
    /// Starts issuing.
    fn start<M: Carries<R::Message, part::Replica>, F: Carries<R::Fact, part::Replica>>(&mut self, out: &mut Output<M, F>);
    /// A message of the protocol.
    fn on_message<M: Carries<R::Message, part::Replica>, F: Carries<R::Fact, part::Replica>>(
        &mut self,
        now: Millis,
        msg: R::Message,
        out: &mut Output<M, F>,
    );
    /// A timer fired.
    fn on_timer<M: Carries<R::Message, part::Replica>, F: Carries<R::Fact, part::Replica>>(
        &mut self,
        now: Millis,
        key: TimerKey,
        out: &mut Output<M, F>,
    );
    /// The safety phase is over: issue nothing new, finish what is in flight.
    fn stop<M: Carries<R::Message, part::Replica>, F: Carries<R::Fact, part::Replica>>(&mut self, out: &mut Output<M, F>);
    /// Operations waiting for an answer.
    fn in_flight(&self) -> usize;
}

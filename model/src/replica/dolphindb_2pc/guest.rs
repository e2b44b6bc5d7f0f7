//! What a pipeline brings into a 2PC cluster: the part it runs inside every data node.
//!
//! The data node hosts the pipeline's part: it hands it the pipeline's messages, management calls
//! and a tick, asks it before a captured transaction requests its commit decision, tells it how the
//! transactions it submitted ended, and carries its requests to the controller leader and its share
//! of the heartbeat. The part uses the node's services (`NodeServices`) and never its 2PC state.

use std::fmt::Debug;

use super::fact::DfsFact;
use super::message::DfsMessage;
use super::types::{Cid, Tid};
use crate::core::io::{Carries, DiskCompletion, DiskOp, DiskView, IoToken, Millis, NodeId, Output, part};
use crate::dfs::{OpError, SharedOperation};
use crate::replica::{CallAnswered, Guest, PipelineWriteId};

/// A deployment message that can carry what a 2PC data node (and the pipeline part it hosts) sends.
pub trait Carry<P: Guest>: Carries<DfsMessage<P>, part::Replica> + Carries<P::Message, part::Pipeline> {}
impl<P: Guest, T: Carries<DfsMessage<P>, part::Replica> + Carries<P::Message, part::Pipeline>> Carry<P> for T {}

/// A deployment fact that can carry what a 2PC data node (and the pipeline part it hosts) reports.
pub trait Report<P: Guest>:
    Carries<DfsFact, part::Replica> + Carries<P::Fact, part::Pipeline> + Carries<CallAnswered<P::Call, P::CallResult>, part::Answer>
{
}
impl<P: Guest, T> Report<P> for T where
    T: Carries<DfsFact, part::Replica> + Carries<P::Fact, part::Pipeline> + Carries<CallAnswered<P::Call, P::CallResult>, part::Answer>
{
}

/// When a captured transaction may ask for its commit decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitGate {
    /// At once.
    Now,
    /// Once every disk write queued so far is durable (the pipeline queued the write's data).
    AfterDurable,
}

/// What a 2PC data node offers the pipeline part it hosts: its identity and clock, the part's own
/// state and settings, and the node's services.
pub trait NodeServices<P: Guest2pc, M, F> {
    /// This node.
    fn id(&self) -> NodeId;
    /// The local time of the input being handled.
    fn now(&self) -> Millis;
    /// The pipeline part's state.
    fn guest(&self) -> &P::NodeState;
    /// The pipeline part's state, to change.
    fn guest_mut(&mut self) -> &mut P::NodeState;
    /// The pipeline part's settings.
    fn guest_config(&self) -> &P::NodeConfig;
    /// A fresh disk token.
    fn token(&mut self) -> IoToken;
    /// Queues a disk request that the end of this step issues with the node's own writes, and that
    /// a held reply waits for (a write followed by its fsync is durable before what is held).
    fn queue_disk(&mut self, op: DiskOp);
    /// Sends a pipeline request to the controller leader through the node's channel (resent and
    /// redirected like the node's own); the answer comes to `Guest2pc::node_on_reply` with
    /// `correlation`.
    fn request_for_pipeline(&mut self, now: Millis, request: P::NodeRequest, correlation: u64, out: &mut Output<M, F>);
    /// Runs `op` as a transaction of this cluster that applies pipeline write `write` (checked
    /// against the pipeline at BEGIN and at the commit decision); `Guest2pc::node_write_ended`
    /// hears how it ended.
    fn submit_write(&mut self, now: Millis, write: PipelineWriteId, op: SharedOperation, out: &mut Output<M, F>);
}

/// A pipeline that runs on 2PC clusters: its part of every data node. `N` in the methods is the
/// node hosting the part.
pub trait Guest2pc: Guest + Debug {
    /// Settings of the pipeline's part of a data node.
    type NodeConfig: Clone + Debug + PartialEq + Eq + Send + Sync;
    /// The pipeline's part of a data node (rebuilt from the node's disk at boot).
    type NodeState: Debug + Send + Sync;

    /// Rebuilds the part from what the node's disk holds.
    fn node_boot(config: &Self::NodeConfig, disk: &dyn DiskView) -> Self::NodeState;
    /// The node started (after its boot facts).
    fn node_start<M, F: Report<Self>>(state: &Self::NodeState, out: &mut Output<M, F>);
    /// What the node's next heartbeat carries for the pipeline.
    fn node_beat(state: &Self::NodeState) -> Self::Beat;
    /// A captured transaction this node coordinates is about to ask for its commit decision.
    fn node_before_commit<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        now: Millis,
        tid: Tid,
        op: &SharedOperation,
        out: &mut Output<M, F>,
    ) -> CommitGate;
    /// The node's periodic tick.
    fn node_tick<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(node: &mut N, now: Millis, out: &mut Output<M, F>);
    /// A message of the pipeline.
    fn node_on_message<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        now: Millis,
        from: NodeId,
        msg: Self::Message,
        out: &mut Output<M, F>,
    );
    /// A disk completion; false if the request was not the pipeline's.
    fn node_on_disk<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        done: &DiskCompletion,
        out: &mut Output<M, F>,
    ) -> bool;
    /// The answer to a request sent with `request_for_pipeline` (`Err`: the leader answered
    /// something else, described).
    fn node_on_reply<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        correlation: u64,
        reply: Result<Self::NodeReply, String>,
        out: &mut Output<M, F>,
    );
    /// A transaction submitted with `submit_write` ended.
    fn node_write_ended<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        write: PipelineWriteId,
        result: Result<(Tid, Cid), OpError>,
        out: &mut Output<M, F>,
    );
    /// A management call made on this node.
    fn node_on_call<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        now: Millis,
        call_id: u64,
        call: Self::Call,
        out: &mut Output<M, F>,
    );
}

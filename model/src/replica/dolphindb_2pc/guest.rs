//! What a pipeline brings into a 2PC cluster: the part it runs inside every data node.
//!
//! The data node hosts the pipeline's part: it hands it the pipeline's messages, management calls
//! and a tick, asks it before a captured transaction requests its commit decision, tells it how the
//! transactions it submitted ended, and carries its requests to the controller leader and its share
//! of the heartbeat. The part uses the node's services (`DataNode::token`, `queue_disk`,
//! `request_for_pipeline`, `submit_write`) and never its 2PC state.

use std::fmt::Debug;

use super::datanode::DataNode;
use super::fact::DfsFact;
use super::message::DfsMessage;
use super::state::{Cid, Tid};
use crate::core::io::{DiskCompletion, DiskView, Millis, NodeId, Output};
use crate::dfs::{OpError, SharedOperation};
use crate::replica::{CallAnswered, Guest, PipelineWriteId};

/// A deployment message that can carry what a 2PC data node (and the pipeline part it hosts) sends.
pub trait Carry<P: Guest>: From<DfsMessage<P>> + From<P::Message> {}
impl<P: Guest, T: From<DfsMessage<P>> + From<P::Message>> Carry<P> for T {}

/// A deployment fact that can carry what a 2PC data node (and the pipeline part it hosts) reports.
pub trait Report<P: Guest>: From<DfsFact> + From<P::Fact> + From<CallAnswered<P::Call, P::CallResult>> {}
impl<P: Guest, T: From<DfsFact> + From<P::Fact> + From<CallAnswered<P::Call, P::CallResult>>> Report<P> for T {}

/// When a captured transaction may ask for its commit decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitGate {
    /// At once.
    Now,
    /// Once every disk write queued so far is durable (the pipeline queued the write's data).
    AfterDurable,
}

/// A pipeline that runs on 2PC clusters: its part of every data node.
pub trait Guest2pc: Guest + Debug {
    /// Settings of the pipeline's part of a data node.
    type NodeConfig: Clone + Debug + PartialEq + Eq;
    /// The pipeline's part of a data node (rebuilt from the node's disk at boot).
    type NodeState: Debug;

    /// Rebuilds the part from what the node's disk holds.
    fn node_boot(config: &Self::NodeConfig, disk: &dyn DiskView) -> Self::NodeState;
    /// The node started (after its boot facts).
    fn node_start<M: Carry<Self>, F: Report<Self>>(node: &mut DataNode<Self, M, F>, out: &mut Output<M, F>);
    /// What the node's next heartbeat carries for the pipeline.
    fn node_beat<M, F>(node: &DataNode<Self, M, F>) -> Self::Beat;
    /// A captured transaction this node coordinates is about to ask for its commit decision.
    fn node_before_commit<M: Carry<Self>, F: Report<Self>>(
        node: &mut DataNode<Self, M, F>,
        now: Millis,
        tid: Tid,
        op: &SharedOperation,
        out: &mut Output<M, F>,
    ) -> CommitGate;
    /// The node's periodic tick.
    fn node_tick<M: Carry<Self>, F: Report<Self>>(node: &mut DataNode<Self, M, F>, now: Millis, out: &mut Output<M, F>);
    /// A message of the pipeline.
    fn node_on_message<M: Carry<Self>, F: Report<Self>>(
        node: &mut DataNode<Self, M, F>,
        now: Millis,
        from: NodeId,
        msg: Self::Message,
        out: &mut Output<M, F>,
    );
    /// A disk completion; false if the request was not the pipeline's.
    fn node_on_disk<M: Carry<Self>, F: Report<Self>>(
        node: &mut DataNode<Self, M, F>,
        done: &DiskCompletion,
        out: &mut Output<M, F>,
    ) -> bool;
    /// The answer to a request sent with `request_for_pipeline` (`Err`: the leader answered
    /// something else, described).
    fn node_on_reply<M: Carry<Self>, F: Report<Self>>(
        node: &mut DataNode<Self, M, F>,
        correlation: u64,
        reply: Result<Self::NodeReply, String>,
        out: &mut Output<M, F>,
    );
    /// A transaction submitted with `submit_write` ended.
    fn node_write_ended<M: Carry<Self>, F: Report<Self>>(
        node: &mut DataNode<Self, M, F>,
        write: PipelineWriteId,
        result: Result<(Tid, Cid), OpError>,
        out: &mut Output<M, F>,
    );
    /// A management call made on this node.
    fn node_on_call<M: Carry<Self>, F: Report<Self>>(
        node: &mut DataNode<Self, M, F>,
        now: Millis,
        call_id: u64,
        call: Self::Call,
        out: &mut Output<M, F>,
    );
}

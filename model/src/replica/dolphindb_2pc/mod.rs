//! DolphinDB's replica protocol: two-phase commit over chunk replicas, decided by the controllers'
//! Raft group (as DolphinDB documents its distributed file system, transactions and data-node high
//! availability).
//!
//! - `state.rs`: the controllers' replicated DFS state (transactions, locks, chunk map, decisions);
//! - `controller.rs`: the controllers' volatile duties (requests, heartbeats, the leader's watch);
//! - `datanode/`: the data node (coordinator, participant, online recovery, durability);
//! - `storage.rs`: the data node's files; `message.rs`, `fact.rs`: what crosses the network and
//!   what the checkers hear; `client.rs`: the workload client (the 20 operation types);
//! - `guest.rs`: what a pipeline runs inside a 2PC data node.

pub mod client;
pub mod controller;
pub mod datanode;
pub mod fact;
pub mod guest;
pub mod message;
pub mod state;
pub mod storage;
pub mod types;

pub use fact::{DfsFact, OpOutcome, QueryOutcome};
pub use message::{DfsMessage, DfsRequest};
pub use state::{ChunkId, Cid, Decision, DfsCommand, DfsConfig, DfsOutput, DfsState, ReliabilityLevel, Tid};

use self::client::{DfsClient, DfsClientConfig};
use self::controller::{TIMER_WATCH, Watch, WatchConfig};
use self::datanode::{DataNode, DataNodeConfig};
use self::guest::Guest2pc;
use crate::core::io::{Carries, DiskCompletion, DiskView, Millis, NodeId, Output, RecoveryError, TimerKey, part};
use crate::replica::{CallOutcome, Duty, LeaderView, NoCall, ReplicaClient, ReplicaNode, ReplicaProtocol, Wire, WriteHooks};

/// The design: DolphinDB's 2PC replica protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Dolphin2pc;

impl<P: Guest2pc> ReplicaProtocol<P> for Dolphin2pc {
    const NAME: &'static str = "dolphindb-2pc";
    type Config = DfsConfig;
    type State = DfsState;
    type Command = DfsCommand;
    type Output = DfsOutput<P>;
    type Message = DfsMessage<P>;
    type Fact = DfsFact;
    type Duties = Watch;
    type DutiesConfig = WatchConfig;
    type NodeConfig = DataNodeConfig<P::NodeConfig>;
    type DataNode<W: Wire<Self, P>> = DataNode<P, W::Message, W::Fact>;
    type ClientConfig = DfsClientConfig;
    type Client = DfsClient;
    type Call = NoCall;
    type CallResult = NoCall;

    fn new_state(config: DfsConfig) -> DfsState {
        DfsState::new(config)
    }

    fn new_duties(config: WatchConfig) -> Watch {
        Watch::new(config)
    }

    fn apply<H: WriteHooks>(
        state: &mut DfsState,
        cmd: &DfsCommand,
        hooks: &mut H,
        hook_facts: &mut Vec<H::Fact>,
    ) -> (DfsOutput<P>, Vec<DfsFact>) {
        state.apply(cmd, hooks, hook_facts)
    }

    fn owns_timer(key: TimerKey) -> bool {
        key == TIMER_WATCH
    }

    fn start<M: Carries<DfsMessage<P>, part::Replica>, F: Carries<DfsFact, part::Replica>>(duties: &mut Watch, out: &mut Output<M, F>) {
        duties.start(out);
    }

    fn on_message<H: WriteHooks, M: Carries<DfsMessage<P>, part::Replica>, F: Carries<DfsFact, part::Replica>>(
        duties: &mut Watch,
        view: &LeaderView<'_, DfsState, H>,
        from: NodeId,
        msg: DfsMessage<P>,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<DfsCommand, P>> {
        duties.on_message(view, from, msg, out)
    }

    fn on_timer<H: WriteHooks, M: Carries<DfsMessage<P>, part::Replica>, F: Carries<DfsFact, part::Replica>>(
        duties: &mut Watch,
        view: &LeaderView<'_, DfsState, H>,
        key: TimerKey,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<DfsCommand, P>> {
        duties.on_timer(view, key, out)
    }

    fn on_leadership_lost(duties: &mut Watch) {
        duties.on_leadership_lost();
    }

    fn on_call<H: WriteHooks>(_: &mut Watch, _: &LeaderView<'_, DfsState, H>, call: &NoCall) -> CallOutcome<DfsCommand, NoCall> {
        match *call {}
    }

    fn call_answer(_: DfsOutput<P>) -> NoCall {
        unreachable!("2PC has no management calls of its own, so no command answers one")
    }

    fn call_leadership_lost() -> NoCall {
        unreachable!("2PC has no management calls of its own, so none is waiting")
    }

    fn call_not_leader(_: Option<NodeId>) -> NoCall {
        unreachable!("2PC has no management calls of its own, so none is made")
    }

    fn call_no_part(call: &NoCall) -> NoCall {
        match *call {}
    }

    fn answer(req: u64, output: DfsOutput<P>) -> DfsMessage<P> {
        DfsMessage::Response { req, result: Ok(output) }
    }

    fn pipeline_answer(req: u64, result: Result<P::NodeReply, Option<NodeId>>) -> DfsMessage<P> {
        DfsMessage::Response { req, result: result.map(DfsOutput::Pipeline) }
    }

    fn not_leader(req: u64, hint: Option<NodeId>) -> DfsMessage<P> {
        DfsMessage::Response { req, result: Err(hint) }
    }
}

impl<P: Guest2pc, W: Wire<Dolphin2pc, P>> ReplicaNode<Dolphin2pc, P, W> for DataNode<P, W::Message, W::Fact> {
    fn boot(id: NodeId, config: &DataNodeConfig<P::NodeConfig>, disk: &dyn DiskView, entropy: u64) -> Result<Self, RecoveryError> {
        DataNode::recover(id, config.clone(), disk, entropy)
    }

    fn start(&mut self, _now: Millis, out: &mut Output<W::Message, W::Fact>) {
        DataNode::start(self, out);
    }

    fn on_message(&mut self, now: Millis, from: NodeId, msg: DfsMessage<P>, out: &mut Output<W::Message, W::Fact>) {
        DataNode::on_message(self, now, from, msg, out);
    }

    fn on_pipeline_message(&mut self, now: Millis, from: NodeId, msg: P::Message, out: &mut Output<W::Message, W::Fact>) {
        DataNode::on_pipeline_message(self, now, from, msg, out);
    }

    fn on_timer(&mut self, now: Millis, key: TimerKey, out: &mut Output<W::Message, W::Fact>) {
        DataNode::on_timer(self, now, key, out);
    }

    fn on_disk(&mut self, now: Millis, done: DiskCompletion, out: &mut Output<W::Message, W::Fact>) {
        DataNode::on_disk(self, now, done, out);
    }

    fn on_call(&mut self, now: Millis, call_id: u64, call: P::Call, out: &mut Output<W::Message, W::Fact>) {
        DataNode::on_call(self, now, call_id, call, out);
    }

    fn on_replica_call(&mut self, _: Millis, _: u64, call: NoCall, _: &mut Output<W::Message, W::Fact>) {
        match call {}
    }
}

impl<P: Guest2pc> ReplicaClient<Dolphin2pc, P> for DfsClient {
    fn new(id: NodeId, config: &DfsClientConfig, entropy: u64) -> Self {
        DfsClient::new(id, config.clone(), entropy)
    }

    fn start<M: Carries<DfsMessage<P>, part::Replica>, F: Carries<DfsFact, part::Replica>>(&mut self, out: &mut Output<M, F>) {
        DfsClient::start(self, out);
    }

    fn on_message<M: Carries<DfsMessage<P>, part::Replica>, F: Carries<DfsFact, part::Replica>>(
        &mut self,
        now: Millis,
        msg: DfsMessage<P>,
        out: &mut Output<M, F>,
    ) {
        DfsClient::on_message(self, now, msg, out);
    }

    fn on_timer<M: Carries<DfsMessage<P>, part::Replica>, F: Carries<DfsFact, part::Replica>>(
        &mut self,
        now: Millis,
        key: TimerKey,
        out: &mut Output<M, F>,
    ) {
        DfsClient::on_timer::<P, M, F>(self, now, key, out);
    }

    fn stop<M: Carries<DfsMessage<P>, part::Replica>, F: Carries<DfsFact, part::Replica>>(&mut self, out: &mut Output<M, F>) {
        DfsClient::stop(self, out);
    }

    fn in_flight(&self) -> usize {
        DfsClient::in_flight(self)
    }
}

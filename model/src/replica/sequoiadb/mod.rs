//! SequoiaDB's replica groups (seed 002): a primary per group writes a sync log, secondaries copy
//! and replay it, a vote machine elects the primary, CONSULT rolls back a divergent tail, full sync
//! rebuilds a node that cannot catch up, and ReplSize says how many nodes confirm a write. The
//! protocol as read from SequoiaDB's source: ../shared/reference/sequoiadb-replica-group.md.
//!
//! - `lsn.rs`, `types.rs`: the identifiers and values every part shares;
//! - `fact.rs`: what the checkers hear;
//! - `catalog.rs`: the catalog (groups, members, weights, collections), replicated by the
//!   controllers' Raft group; `controller.rs`: the controllers' light duties;
//! - `node/`: the data node (sync log, election, sync, consult, full sync, ReplSize, reads);
//! - `client.rs`: the workload client (coordinator sessions);
//! - `message.rs`, `call.rs`, `config.rs`, `bugs.rs`: messages, management calls, settings,
//!   planted bugs.

pub mod bugs;
pub mod call;
pub mod catalog;
pub mod client;
pub mod config;
pub mod controller;
pub mod fact;
pub mod lsn;
pub mod message;
pub mod node;
pub mod types;

pub use bugs::SeqBugs;
pub use call::{SeqCall, SeqCallResult};
pub use catalog::{Catalog, CatalogCommand, CatalogConfig, CatalogOutput, CollectionConfig, GroupConfig, MemberConfig};
pub use client::SeqClient;
pub use config::{SeqClientConfig, SeqMix, SeqNodeConfig};
pub use controller::{CatalogDuties, CatalogDutiesConfig, TIMER_CATALOG};
pub use fact::SeqFact;
pub use lsn::Lsn;
pub use message::SeqMessage;
pub use node::SeqDataNode;

use crate::core::io::{Carries, DiskCompletion, DiskView, Millis, NodeId, Output, RecoveryError, TimerKey, part};
use crate::replica::{CallAnswered, CallOutcome, Duty, Guest, LeaderView, ReplicaClient, ReplicaNode, ReplicaProtocol, Wire, WriteHooks};

/// The design: SequoiaDB's replica groups with their sync log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SequoiaDb;

impl<P: Guest> ReplicaProtocol<P> for SequoiaDb {
    const NAME: &'static str = "sequoiadb-synclog";
    type Config = CatalogConfig;
    type State = Catalog;
    type Command = CatalogCommand;
    type Output = CatalogOutput;
    type Message = SeqMessage;
    type Fact = SeqFact;
    type Duties = CatalogDuties;
    type DutiesConfig = CatalogDutiesConfig;
    type NodeConfig = SeqNodeConfig;
    type DataNode<W: Wire<Self, P>> = SeqDataNode;
    type ClientConfig = SeqClientConfig;
    type Client = SeqClient;
    type Call = SeqCall;
    type CallResult = SeqCallResult;

    fn new_state(config: CatalogConfig) -> Catalog {
        Catalog::new(config)
    }

    fn new_duties(config: CatalogDutiesConfig) -> CatalogDuties {
        CatalogDuties::new(config)
    }

    fn apply<H: WriteHooks>(state: &mut Catalog, cmd: &CatalogCommand, _: &mut H, _: &mut Vec<H::Fact>) -> (CatalogOutput, Vec<SeqFact>) {
        state.apply(cmd)
    }

    fn owns_timer(key: TimerKey) -> bool {
        key == TIMER_CATALOG
    }

    fn start<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        duties: &mut CatalogDuties,
        out: &mut Output<M, F>,
    ) {
        duties.start(out);
    }

    fn on_message<H: WriteHooks, M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        duties: &mut CatalogDuties,
        view: &LeaderView<'_, Catalog, H>,
        from: NodeId,
        msg: SeqMessage,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<CatalogCommand, P>> {
        duties.on_message(view, from, msg, out)
    }

    fn on_timer<H: WriteHooks, M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        duties: &mut CatalogDuties,
        view: &LeaderView<'_, Catalog, H>,
        key: TimerKey,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<CatalogCommand, P>> {
        assert_eq!(key, TIMER_CATALOG, "the catalog duties own one timer");
        duties.on_timer(view, out)
    }

    fn on_leadership_lost(duties: &mut CatalogDuties) {
        duties.on_leadership_lost();
    }

    fn on_call<H: WriteHooks>(
        duties: &mut CatalogDuties,
        view: &LeaderView<'_, Catalog, H>,
        call: &SeqCall,
    ) -> CallOutcome<CatalogCommand, SeqCallResult> {
        duties.on_call(view, call)
    }

    fn call_answer(output: CatalogOutput) -> SeqCallResult {
        match output {
            CatalogOutput::Done => SeqCallResult::Done,
            CatalogOutput::Refused(why) => SeqCallResult::Refused(why),
        }
    }

    fn call_leadership_lost() -> SeqCallResult {
        SeqCallResult::LeadershipLost
    }

    fn call_not_leader(hint: Option<NodeId>) -> SeqCallResult {
        SeqCallResult::NotLeader(hint)
    }

    fn call_no_part(_: &SeqCall) -> SeqCallResult {
        SeqCallResult::NoPart
    }

    fn answer(req: u64, output: CatalogOutput) -> SeqMessage {
        SeqMessage::CatalogApplied { req, done: output == CatalogOutput::Done }
    }

    fn pipeline_answer(req: u64, result: Result<P::NodeReply, Option<NodeId>>) -> SeqMessage {
        // The design runs with a pipeline that asks nothing; a stray answer tells only who leads.
        match result {
            Ok(_) => SeqMessage::CatalogApplied { req, done: true },
            Err(hint) => SeqMessage::CatalogNotLeader { req, hint },
        }
    }

    fn not_leader(req: u64, hint: Option<NodeId>) -> SeqMessage {
        SeqMessage::CatalogNotLeader { req, hint }
    }
}

impl<P: Guest, W: Wire<SequoiaDb, P>> ReplicaNode<SequoiaDb, P, W> for SeqDataNode {
    fn boot(id: NodeId, config: &SeqNodeConfig, disk: &dyn DiskView, entropy: u64) -> Result<Self, RecoveryError> {
        SeqDataNode::boot(id, config, disk, entropy)
    }

    fn start(&mut self, now: Millis, out: &mut Output<W::Message, W::Fact>) {
        SeqDataNode::start(self, now, out);
    }

    fn on_message(&mut self, now: Millis, from: NodeId, msg: SeqMessage, out: &mut Output<W::Message, W::Fact>) {
        SeqDataNode::on_message(self, now, from, msg, out);
    }

    fn on_pipeline_message(&mut self, _: Millis, _: NodeId, _: P::Message, _: &mut Output<W::Message, W::Fact>) {
        // The design ships nothing across clusters: its pipeline sends nothing.
    }

    fn on_timer(&mut self, now: Millis, key: TimerKey, out: &mut Output<W::Message, W::Fact>) {
        SeqDataNode::on_timer(self, now, key, out);
    }

    fn on_disk(&mut self, now: Millis, done: DiskCompletion, out: &mut Output<W::Message, W::Fact>) {
        SeqDataNode::on_disk(self, now, done, out);
    }

    fn on_call(&mut self, _: Millis, _: u64, _: P::Call, _: &mut Output<W::Message, W::Fact>) {
        // The pipeline has no part in this node: no pipeline call reaches it.
    }

    fn on_replica_call(&mut self, now: Millis, call_id: u64, call: SeqCall, out: &mut Output<W::Message, W::Fact>) {
        let result = SeqDataNode::on_call(self, now, call, out);
        out.fact_replica_answer(CallAnswered { call_id, call, result });
    }
}

impl<P: Guest> ReplicaClient<SequoiaDb, P> for SeqClient {
    fn new(id: NodeId, config: &SeqClientConfig, entropy: u64) -> Self {
        SeqClient::new(id, config, entropy)
    }

    fn start<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(&mut self, out: &mut Output<M, F>) {
        SeqClient::start(self, out);
    }

    fn on_message<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        now: Millis,
        msg: SeqMessage,
        out: &mut Output<M, F>,
    ) {
        SeqClient::on_message(self, now, msg, out);
    }

    fn on_timer<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        now: Millis,
        key: TimerKey,
        out: &mut Output<M, F>,
    ) {
        SeqClient::on_timer(self, now, key, out);
    }

    fn stop<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(&mut self, out: &mut Output<M, F>) {
        SeqClient::stop(self, out);
    }

    fn in_flight(&self) -> usize {
        SeqClient::in_flight(self)
    }
}

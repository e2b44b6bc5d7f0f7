//! The controller role: one member of a cluster's Raft group, serving the metadata map, and hosting
//! the replica protocol's and the pipeline's controller duties.
//!
//! Only the leader serves; a follower redirects. A request is answered once its command is applied,
//! from the applied output, so nobody hears "ok" for something that is not committed. The replica
//! protocol's duties (for 2PC: requests of data nodes, heartbeats, the leader's watch) and the
//! pipeline's (pulling, reporting, dispatching, garbage collection, management calls) see the
//! applied state and say what to propose; this shell proposes it, remembers who waits for the
//! answer, and answers once it is applied.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::io::{DiskCompletion, DiskView, Millis, NodeId, Output, RecoveryError, TimerKey};
use crate::deployment::call::Call;
use crate::deployment::fact::Fact;
use crate::deployment::message::{ClientOp, ClientReply, Message};
use crate::deployment::state::{Applied, ClusterState, Command, ReplicaOrigin};
use crate::pipeline::{NodeRequestOutcome, Pipeline, PipelineOrigin};
use crate::raft::{Raft, RaftConfig, RaftFact, RaftMessage};
use crate::replica::{CallAnswered, CallOutcome, Duty, LeaderView, ReplicaProtocol};

/// Bugs of the controller that can be switched on to prove the checkers. All off in a real run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerBugs {
    /// Answer "ok" to a metadata client as soon as its request is in the leader's log.
    pub ack_on_propose: bool,
}

/// Who waits for a proposal of this leader to be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Waiter<RC, PC> {
    /// A metadata client's request.
    Client { client: NodeId, lane: u32, seq: u64 },
    /// A data node's request of the replica protocol.
    Node { node: NodeId, req: u64 },
    /// A management call of the pipeline made on this controller.
    Call { call_id: u64, call: PC },
    /// A management call of the replica protocol made on this controller.
    ReplicaCall { call_id: u64, call: RC },
}

/// How to build a controller.
#[derive(Debug, Clone)]
pub struct ControllerConfig<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    /// Its Raft membership and settings.
    pub raft: RaftConfig,
    /// The replica protocol's replicated state.
    pub replica: R::Config,
    /// The replica protocol's duties.
    pub replica_duties: R::DutiesConfig,
    /// The pipeline's replicated state.
    pub pipeline: P::Config,
    /// The pipeline's duties.
    pub pipeline_duties: P::DutiesConfig,
    /// Planted bugs.
    pub bugs: ControllerBugs,
}

type RaftOut<R, P> = Output<RaftMessage<Command<R, P>>, RaftFact>;
type Out<R, P> = Output<Message<R, P>, Fact<R, P>>;

/// A controller.
#[derive(Debug)]
pub struct Controller<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    raft: Raft<ClusterState<R, P>>,
    bugs: ControllerBugs,
    /// Requests proposed by this leader, by log index, waiting to be applied.
    waiting: BTreeMap<u64, Waiter<R::Call, P::Call>>,
    replica: R::Duties,
    pipeline: P::Duties,
    now: Millis,
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Controller<R, P> {
    /// Rebuilds a controller from its disk (an empty disk gives a fresh member).
    pub fn recover(config: &ControllerConfig<R, P>, disk: &dyn DiskView, entropy: u64) -> Result<Self, RecoveryError> {
        let initial = ClusterState::new(config.replica.clone(), config.pipeline.clone());
        let raft = Raft::recover(config.raft.clone(), initial, disk, entropy)?;
        Ok(Self {
            raft,
            bugs: config.bugs,
            waiting: BTreeMap::new(),
            replica: R::new_duties(config.replica_duties.clone()),
            pipeline: P::new_duties(config.pipeline_duties.clone()),
            now: 0,
        })
    }

    /// The Raft member inside.
    pub fn raft(&self) -> &Raft<ClusterState<R, P>> {
        &self.raft
    }

    /// The replica protocol's duties.
    pub fn replica_duties(&self) -> &R::Duties {
        &self.replica
    }

    /// Starts after a (re)boot.
    pub fn start(&mut self, now: Millis, out: &mut Out<R, P>) {
        self.now = now;
        let mut raft_out = Output::default();
        self.raft.start(&mut raft_out);
        R::start(&mut self.replica, out);
        P::start(&mut self.pipeline, &self.raft.state_machine().pipeline, out);
        self.after_raft(raft_out, out);
    }

    /// Handles a message.
    pub fn on_message(&mut self, now: Millis, from: NodeId, msg: Message<R, P>, out: &mut Out<R, P>) {
        self.now = now;
        let mut raft_out = Output::default();
        match msg {
            Message::Raft(m) => self.raft.step(from, m, &mut raft_out),
            Message::ClientRequest { lane, seq, op } => {
                let ClientOp::Put { key, value } = op;
                let command = Command::Put { session: (from, lane), seq, key, value };
                match self.raft.propose(command, &mut raft_out) {
                    Ok(index) if self.bugs.ack_on_propose => {
                        out.send(from, Message::ClientResponse { lane, seq, reply: ClientReply::Ok { index } })
                    }
                    Ok(index) => {
                        self.waiting.insert(index, Waiter::Client { client: from, lane, seq });
                    }
                    Err(leader) => out.send(from, Message::ClientResponse { lane, seq, reply: ClientReply::NotLeader { leader } }),
                }
            }
            Message::Replica(m) => {
                let duties = {
                    let view = view_of(&self.raft, self.now);
                    R::on_message(&mut self.replica, &view, from, m, out)
                };
                self.carry_out(duties, &mut raft_out, out);
            }
            Message::Pipeline(m) => {
                let cmds = {
                    let view = view_of(&self.raft, self.now);
                    P::on_message(&mut self.pipeline, &view, from, m, out)
                };
                for cmd in cmds {
                    self.propose_pipeline(cmd, None, &mut raft_out, out);
                }
            }
            Message::ClientResponse { .. } | Message::Control(_) => {}
        }
        self.after_raft(raft_out, out);
    }

    /// Handles a timer.
    pub fn on_timer(&mut self, now: Millis, key: TimerKey, out: &mut Out<R, P>) {
        self.now = now;
        let mut raft_out = Output::default();
        if R::owns_timer(key) {
            let duties = {
                let view = view_of(&self.raft, self.now);
                R::on_timer(&mut self.replica, &view, key, out)
            };
            self.carry_out(duties, &mut raft_out, out);
        } else if P::owns_timer(key) {
            let cmds = {
                let view = view_of(&self.raft, self.now);
                P::on_timer(&mut self.pipeline, &view, key, out)
            };
            for cmd in cmds {
                self.propose_pipeline(cmd, None, &mut raft_out, out);
            }
        } else {
            self.raft.on_timer(key, &mut raft_out);
        }
        self.after_raft(raft_out, out);
    }

    /// Handles a disk completion.
    pub fn on_disk(&mut self, done: DiskCompletion, out: &mut Out<R, P>) {
        let mut raft_out = Output::default();
        let token = done.token;
        let handled = self.raft.on_disk(done, &mut raft_out);
        assert!(handled, "controller got a disk completion it never asked for: {token:#x}");
        self.after_raft(raft_out, out);
    }

    /// Handles a management call made on this controller (answered by an `Admin` fact).
    pub fn on_call(&mut self, now: Millis, call_id: u64, call: Call<R, P>, out: &mut Out<R, P>) {
        self.now = now;
        let mut raft_out = Output::default();
        match call {
            Call::Pipeline(call) => self.on_pipeline_call(call_id, call, &mut raft_out, out),
            Call::Replica(call) => self.on_replica_call(call_id, call, &mut raft_out, out),
        }
        self.after_raft(raft_out, out);
    }

    fn on_pipeline_call(&mut self, call_id: u64, call: P::Call, raft_out: &mut RaftOut<R, P>, out: &mut Out<R, P>) {
        let outcome = {
            let view = view_of(&self.raft, self.now);
            P::on_call(&mut self.pipeline, &view, &call)
        };
        match outcome {
            CallOutcome::Answer(result) => out.fact_answer(CallAnswered { call_id, call, result }),
            CallOutcome::Propose(cmd) => {
                match self.raft.propose(Command::Pipeline { origin: Some(PipelineOrigin::Call(call_id)), cmd }, raft_out) {
                    Ok(index) => {
                        self.waiting.insert(index, Waiter::Call { call_id, call });
                    }
                    Err(hint) => out.fact_answer(CallAnswered { call_id, call, result: P::not_leader_answer(hint) }),
                }
            }
        }
    }

    fn on_replica_call(&mut self, call_id: u64, call: R::Call, raft_out: &mut RaftOut<R, P>, out: &mut Out<R, P>) {
        let outcome = {
            let view = view_of(&self.raft, self.now);
            R::on_call(&mut self.replica, &view, &call)
        };
        match outcome {
            CallOutcome::Answer(result) => out.fact_replica_answer(CallAnswered { call_id, call, result }),
            CallOutcome::Propose(cmd) => match self.raft.propose(Command::ReplicaCall { call_id, cmd }, raft_out) {
                Ok(index) => {
                    self.waiting.insert(index, Waiter::ReplicaCall { call_id, call });
                }
                Err(hint) => out.fact_replica_answer(CallAnswered { call_id, call, result: R::call_not_leader(hint) }),
            },
        }
    }

    /// Carries out what the replica protocol's duties asked for, in order.
    fn carry_out(&mut self, duties: Vec<Duty<R::Command, P>>, raft_out: &mut RaftOut<R, P>, out: &mut Out<R, P>) {
        for duty in duties {
            match duty {
                Duty::Propose { origin, cmd } => self.propose_replica(cmd, origin, raft_out, out),
                Duty::ForPipeline { from, req, request } => {
                    let outcome = {
                        let view = view_of(&self.raft, self.now);
                        P::on_node_request(&mut self.pipeline, &view, from, request)
                    };
                    match outcome {
                        NodeRequestOutcome::Answer(result) => out.send_replica(from, R::pipeline_answer(req, result)),
                        NodeRequestOutcome::Propose(cmd) => {
                            self.propose_pipeline(cmd, Some(PipelineOrigin::Node(from, req)), raft_out, out)
                        }
                    }
                }
                Duty::Beat { from, beat } => {
                    let view = view_of(&self.raft, self.now);
                    P::on_beat(&mut self.pipeline, &view, from, beat, out);
                }
            }
        }
    }

    fn propose_pipeline(&mut self, cmd: P::Command, origin: Option<PipelineOrigin>, raft_out: &mut RaftOut<R, P>, out: &mut Out<R, P>) {
        if let Err(hint) = self.raft.propose(Command::Pipeline { origin, cmd }, raft_out)
            && let Some(PipelineOrigin::Node(node, req)) = origin
        {
            out.send_replica(node, R::not_leader(req, hint));
        }
    }

    fn propose_replica(&mut self, cmd: R::Command, origin: Option<(NodeId, u64)>, raft_out: &mut RaftOut<R, P>, out: &mut Out<R, P>) {
        match self.raft.propose(Command::Replica { origin, cmd }, raft_out) {
            Ok(index) => {
                if let Some((node, req)) = origin {
                    self.waiting.insert(index, Waiter::Node { node, req });
                }
            }
            Err(hint) => {
                if let Some((node, req)) = origin {
                    out.send_replica(node, R::not_leader(req, hint));
                }
            }
        }
    }

    fn after_raft(&mut self, mut raft_out: RaftOut<R, P>, out: &mut Out<R, P>) {
        // A snapshot replaced the state machine (at boot, or sent by the leader): no per-command
        // fact describes what it holds, so say it whole.
        let replaced = raft_out.facts.iter().any(|f| matches!(f, RaftFact::Recovered { .. } | RaftFact::SnapshotInstalled { .. }));
        raft_out.drain_into(out, Message::Raft);
        if replaced && let Some(f) = P::snapshot_fact(&self.raft.state_machine().pipeline) {
            out.fact_pipeline(f);
        }
        for applied in self.raft.take_applied() {
            let waiter = self.waiting.remove(&applied.index);
            match applied.output {
                Some(Applied::Put { session, seq, .. }) => {
                    // The entry at this index may be someone else's if leadership changed hands meanwhile.
                    if let Some(Waiter::Client { client, lane, seq: s }) = waiter
                        && (client, lane) == session
                        && s == seq
                    {
                        out.send(client, Message::ClientResponse { lane, seq, reply: ClientReply::Ok { index: applied.index } });
                    }
                }
                Some(Applied::Replica { origin, output, facts, pipeline_facts }) => {
                    for f in facts {
                        out.fact_replica(f);
                    }
                    self.report_pipeline_facts(pipeline_facts, out);
                    match (waiter, origin) {
                        (Some(Waiter::Node { node, req }), Some(ReplicaOrigin::Node(n, r))) if (n, r) == (node, req) => {
                            out.send_replica(node, R::answer(req, output));
                        }
                        (Some(Waiter::ReplicaCall { call_id, call }), Some(ReplicaOrigin::Call(id))) if id == call_id => {
                            out.fact_replica_answer(CallAnswered { call_id, call, result: R::call_answer(output) });
                        }
                        _ => {}
                    }
                }
                Some(Applied::Pipeline { origin, answer, facts }) => {
                    self.report_pipeline_facts(facts, out);
                    match (origin, waiter) {
                        (Some(PipelineOrigin::Node(node, req)), _) if self.raft.is_leader() => {
                            out.send_replica(node, R::pipeline_answer(req, Ok(P::node_reply(answer))));
                        }
                        (Some(PipelineOrigin::Call(id)), Some(Waiter::Call { call_id, call })) if id == call_id => {
                            out.fact_answer(CallAnswered { call_id, call, result: answer });
                        }
                        _ => {}
                    }
                }
                None => {}
            }
        }
        if !self.raft.is_leader() {
            // Proposals of a deposed leader may never apply; their senders time out and retry. A
            // management call made here is answered: it may or may not have taken effect.
            for (_, w) in std::mem::take(&mut self.waiting) {
                match w {
                    Waiter::Call { call_id, call } => out.fact_answer(CallAnswered { call_id, call, result: P::leadership_lost_answer() }),
                    Waiter::ReplicaCall { call_id, call } => {
                        out.fact_replica_answer(CallAnswered { call_id, call, result: R::call_leadership_lost() })
                    }
                    Waiter::Client { .. } | Waiter::Node { .. } => {}
                }
            }
            R::on_leadership_lost(&mut self.replica);
            P::on_leadership_lost(&mut self.pipeline);
        }
    }

    /// The pipeline acts on the facts applied commands made true, and reports them.
    fn report_pipeline_facts(&mut self, facts: Vec<P::Fact>, out: &mut Out<R, P>) {
        let view = view_of(&self.raft, self.now);
        P::on_applied(&mut self.pipeline, &view, facts, out);
    }
}

/// What the duties see: leadership and the applied state.
fn view_of<R: ReplicaProtocol<P>, P: Pipeline<R>>(raft: &Raft<ClusterState<R, P>>, now: Millis) -> LeaderView<'_, R::State, P::State> {
    let sm = raft.state_machine();
    LeaderView {
        now,
        is_leader: raft.is_leader(),
        leader_hint: raft.leader_hint(),
        members: raft.members(),
        replica: &sm.replica,
        pipeline: &sm.pipeline,
    }
}

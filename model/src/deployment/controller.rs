//! The controller role: one member of a cluster's Raft group, serving the metadata map and the DFS.
//!
//! Only the leader serves; a follower redirects. A request is answered once its command is applied,
//! from the applied output, so nobody hears "ok" for something that is not committed. The leader
//! also keeps volatile watch over the data nodes: which are online (heartbeats), which replicas fell
//! behind, which transactions were abandoned (rolled back or completed on their behalf), and which
//! stale replicas to recover from which peers. In a cluster that takes part in replication the
//! leader also runs the pipeline's duties (`repl::leader`), and any controller answers the
//! management calls meant for controllers.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::core::io::{DiskCompletion, DiskView, Millis, NodeId, Output, TimerKey};
use crate::deployment::fact::Fact;
use crate::deployment::message::{ClientOp, ClientReply, Message};
use crate::deployment::state::{MetadataCommand, MetadataOutput, MetadataState, ReplOrigin};
use crate::pipeline::dolphindb_async::master::MasterCommand;
use crate::pipeline::dolphindb_async::slave::SlaveCommand;
use crate::pipeline::dolphindb_async::{
    AdminCall, AdminError, AdminReply, AdminResult, ClusterRepl, DolphinAsync, NodeRequest, ReplCommand, ReplConfig, ReplFact, ReplLeader,
    ReplLinks,
};
use crate::raft::RaftFact;
use crate::raft::{Raft, RaftConfig, RaftMessage, RecoveryError};
use crate::replica::dolphindb_2pc::state::{ChunkId, LockOwner, ReplicaState, TxState};
use crate::replica::dolphindb_2pc::{Cid, Decision, DfsCommand, DfsConfig, DfsMessage, DfsOutput, DfsRequest, Tid};

const TIMER_DFS: TimerKey = 20;
const DFS_TICK_MS: Millis = 250;
const TIMER_REPL: TimerKey = 21;
const REPL_TICK_MS: Millis = 50;

/// Bugs of the controller that can be switched on to prove the checkers. All off in a real run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerBugs {
    /// Answer "ok" to a metadata client as soon as its request is in the leader's log.
    pub ack_on_propose: bool,
}

/// Settings of the controller's watch over the data nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// A data node is online if its last heartbeat is at most this old.
    pub online_window_ms: Millis,
    /// An open transaction untouched this long is rolled back (begun) or completed (committed).
    pub transaction_timeout_ms: Millis,
    /// A recovery lock held this long is released.
    pub recovery_lock_timeout_ms: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Waiter {
    Client {
        client: NodeId,
        lane: u32,
        seq: u64,
    },
    Node {
        node: NodeId,
        req: u64,
    },
    /// A management call made on this controller.
    Call {
        call_id: u64,
        call: AdminCall,
    },
}

#[derive(Debug, Clone, Default)]
struct Beat {
    at: Millis,
    replicas: BTreeMap<ChunkId, Cid>,
    prepared: BTreeSet<ChunkId>,
    lost: BTreeSet<ChunkId>,
}

/// The replication side of a controller: its links across clusters and the leader's duties.
#[derive(Debug)]
struct ReplSide {
    links: ReplLinks,
    leader: ReplLeader,
}

/// A controller.
#[derive(Debug)]
pub struct Controller {
    raft: Raft<MetadataState>,
    bugs: ControllerBugs,
    watch: WatchConfig,
    /// Requests proposed by this leader, by log index, waiting to be applied.
    waiting: BTreeMap<u64, Waiter>,
    beats: BTreeMap<NodeId, Beat>,
    recovering: BTreeMap<(ChunkId, NodeId), Millis>,
    recovery_locks: BTreeMap<(ChunkId, NodeId), Millis>,
    nudged: BTreeMap<Tid, Millis>,
    repl: ReplSide,
    now: Millis,
}

impl Controller {
    /// Rebuilds a controller from its disk (an empty disk gives a fresh member).
    #[allow(clippy::too_many_arguments)]
    pub fn recover(
        config: RaftConfig,
        dfs: DfsConfig,
        repl: ReplConfig,
        links: ReplLinks,
        watch: WatchConfig,
        bugs: ControllerBugs,
        disk: &dyn DiskView,
        entropy: u64,
    ) -> Result<Self, RecoveryError> {
        let raft = Raft::recover(config, MetadataState::new(dfs, repl), disk, entropy)?;
        Ok(Self {
            raft,
            bugs,
            watch,
            waiting: BTreeMap::new(),
            beats: BTreeMap::new(),
            recovering: BTreeMap::new(),
            recovery_locks: BTreeMap::new(),
            nudged: BTreeMap::new(),
            repl: ReplSide { links, leader: ReplLeader::default() },
            now: 0,
        })
    }

    /// The Raft member inside.
    pub fn raft(&self) -> &Raft<MetadataState> {
        &self.raft
    }

    /// Data nodes online by this controller's heartbeats.
    pub fn online(&self) -> Vec<NodeId> {
        self.beats.iter().filter(|(_, b)| self.now <= b.at + self.watch.online_window_ms).map(|(n, _)| *n).collect()
    }

    /// Starts after a (re)boot.
    pub fn start(&mut self, now: Millis, out: &mut Output<Message, Fact>) {
        self.now = now;
        let mut raft_out = Output::default();
        self.raft.start(&mut raft_out);
        out.set_timer(TIMER_DFS, DFS_TICK_MS);
        if self.raft.state_machine().repl != ClusterRepl::None {
            out.set_timer(TIMER_REPL, REPL_TICK_MS);
        }
        self.after_raft(raft_out, out);
    }

    /// Handles a message.
    pub fn on_message(&mut self, now: Millis, from: NodeId, msg: Message, out: &mut Output<Message, Fact>) {
        self.now = now;
        let mut raft_out = Output::default();
        match msg {
            Message::Raft(m) => self.raft.step(from, m, &mut raft_out),
            Message::ClientRequest { lane, seq, op } => {
                let ClientOp::Put { key, value } = op;
                let command = MetadataCommand::Put { session: (from, lane), seq, key, value };
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
            Message::Dfs(DfsMessage::Request { req, request }) => self.on_request(from, req, request, &mut raft_out, out),
            Message::Dfs(DfsMessage::CatalogQuery { req }) => {
                let catalog = if self.raft.is_leader() {
                    Ok(Box::new(self.raft.state_machine().dfs.catalog.clone()))
                } else {
                    Err(self.raft.leader_hint())
                };
                out.send(from, Message::Dfs(DfsMessage::CatalogReply { req, catalog }));
            }
            Message::Dfs(DfsMessage::Heartbeat { replicas, prepared, lost, pipeline: task_data }) => {
                if self.raft.is_leader() && !task_data.is_empty() {
                    let sm = self.raft.state_machine();
                    self.repl.leader.on_task_data_listed(now, from, &task_data, &sm.repl, &sm.dfs, out);
                }
                let beat = Beat {
                    at: now,
                    replicas: replicas.into_iter().collect(),
                    prepared: prepared.into_iter().map(|(c, _)| c).collect(),
                    lost: lost.into_iter().collect(),
                };
                self.beats.insert(from, beat);
            }
            Message::Repl(m) => {
                let (leader, hint) = (self.raft.is_leader(), self.raft.leader_hint());
                let cmds = self.repl.leader.on_message(now, from, m, &self.repl.links, &self.raft.state_machine().repl, leader, hint, out);
                for cmd in cmds {
                    self.propose_repl(cmd, None, &mut raft_out, out);
                }
            }
            Message::ClientResponse { .. } | Message::Control(_) | Message::Dfs(_) => {}
        }
        self.after_raft(raft_out, out);
    }

    /// Handles a timer.
    pub fn on_timer(&mut self, now: Millis, key: TimerKey, out: &mut Output<Message, Fact>) {
        self.now = now;
        let mut raft_out = Output::default();
        if key == TIMER_DFS {
            out.set_timer(TIMER_DFS, DFS_TICK_MS);
            if self.raft.is_leader() {
                self.watch_data_nodes(&mut raft_out, out);
            }
        } else if key == TIMER_REPL {
            out.set_timer(TIMER_REPL, REPL_TICK_MS);
            if self.raft.is_leader() {
                let cmds = self.repl.leader.tick(now, &self.repl.links, self.raft.members(), &self.raft.state_machine().repl, out);
                for cmd in cmds {
                    self.propose_repl(cmd, None, &mut raft_out, out);
                }
            }
        } else {
            self.raft.on_timer(key, &mut raft_out);
        }
        self.after_raft(raft_out, out);
    }

    /// Handles a disk completion.
    pub fn on_disk(&mut self, done: DiskCompletion, out: &mut Output<Message, Fact>) {
        let mut raft_out = Output::default();
        let token = done.token;
        let handled = self.raft.on_disk(done, &mut raft_out);
        assert!(handled, "controller got a disk completion it never asked for: {token:#x}");
        self.after_raft(raft_out, out);
    }

    /// Handles a management call made on this controller (answered by an `Admin` fact).
    pub fn on_admin(&mut self, now: Millis, call_id: u64, call: AdminCall, out: &mut Output<Message, Fact>) {
        self.now = now;
        let mut raft_out = Output::default();
        if let Some(result) = self.admin_now(&call) {
            out.fact(Fact::Admin { call_id, call, result });
        } else {
            let cmd = match (&self.raft.state_machine().repl, &call) {
                (ClusterRepl::Master(_), AdminCall::StartClusterReplication) => ReplCommand::Master(MasterCommand::Start),
                (ClusterRepl::Master(_), AdminCall::StopClusterReplication) => ReplCommand::Master(MasterCommand::Stop),
                (ClusterRepl::Slave(_), AdminCall::StartClusterReplication) => ReplCommand::Slave(SlaveCommand::Start),
                (ClusterRepl::Slave(_), AdminCall::StopClusterReplication) => ReplCommand::Slave(SlaveCommand::Stop),
                (ClusterRepl::Slave(_), AdminCall::SkipClusterReplicationTask { tasks }) => {
                    ReplCommand::Slave(SlaveCommand::Skip { tasks: tasks.clone(), now_ms: now })
                }
                _ => unreachable!("admin_now answers every other call"),
            };
            match self.raft.propose(MetadataCommand::Repl { origin: Some(ReplOrigin::Call(call_id)), cmd }, &mut raft_out) {
                Ok(index) => {
                    self.waiting.insert(index, Waiter::Call { call_id, call });
                }
                Err(_) => out.fact(Fact::Admin { call_id, call, result: Err(self.not_leader()) }),
            }
        }
        self.after_raft(raft_out, out);
    }

    fn not_leader(&self) -> AdminError {
        let hint = self.raft.leader_hint().map_or("unknown".to_string(), |l| format!("node {l}"));
        AdminError::new(AdminError::UNAVAILABLE, format!("this controller is not the leader (leader: {hint})"))
    }

    /// The answer to a call that needs no Raft round (a status function, or an error), if any.
    fn admin_now(&self, call: &AdminCall) -> Option<AdminResult> {
        let sm = self.raft.state_machine();
        if let Err(e) = call.check_role(sm.repl.controller_role()) {
            return Some(Err(e));
        }
        if !self.raft.is_leader() {
            return Some(Err(self.not_leader()));
        }
        let reply = match (&sm.repl, call) {
            (ClusterRepl::Master(m), AdminCall::GetMasterReplicationStatus { limit }) => {
                AdminReply::MasterTasks(m.task_status(limit.map(|l| l as usize)))
            }
            (ClusterRepl::Master(m), AdminCall::GetRecentSlaveReplicationInfo) => {
                AdminReply::Slaves(m.slave_info(self.repl.leader.last_pulls()))
            }
            (ClusterRepl::Slave(s), AdminCall::GetSlaveReplicationStatus { limit }) => {
                AdminReply::SlaveTasks(s.task_status(limit.map(|l| l as usize)))
            }
            (ClusterRepl::Slave(s), AdminCall::GetSlaveReplicationQueueStatus) => AdminReply::Queues(s.queue_status()),
            _ => return None,
        };
        Some(Ok(reply))
    }

    fn propose_repl(
        &mut self,
        cmd: ReplCommand,
        origin: Option<ReplOrigin>,
        raft_out: &mut Output<RaftMessage<MetadataCommand>, RaftFact>,
        out: &mut Output<Message, Fact>,
    ) {
        match self.raft.propose(MetadataCommand::Repl { origin, cmd }, raft_out) {
            Ok(_) => {}
            Err(hint) => {
                if let Some(ReplOrigin::Node(node, req)) = origin {
                    out.send(node, Message::Dfs(DfsMessage::Response { req, result: Err(hint) }));
                }
            }
        }
    }

    fn propose(
        &mut self,
        cmd: DfsCommand,
        origin: Option<(NodeId, u64)>,
        raft_out: &mut Output<RaftMessage<MetadataCommand>, RaftFact>,
        out: &mut Output<Message, Fact>,
    ) {
        match self.raft.propose(MetadataCommand::Dfs { origin, cmd }, raft_out) {
            Ok(index) => {
                if let Some((node, req)) = origin {
                    self.waiting.insert(index, Waiter::Node { node, req });
                }
            }
            Err(hint) => {
                if let Some((node, req)) = origin {
                    out.send(node, Message::Dfs(DfsMessage::Response { req, result: Err(hint) }));
                }
            }
        }
    }

    fn on_request(
        &mut self,
        from: NodeId,
        req: u64,
        request: DfsRequest<DolphinAsync>,
        raft_out: &mut Output<RaftMessage<MetadataCommand>, RaftFact>,
        out: &mut Output<Message, Fact>,
    ) {
        let now = self.now;
        let origin = Some((from, req));
        let cmd = match request {
            DfsRequest::Begin { session, seq, below, op, op_ref, applies: task } => {
                let online = self.online();
                if self.raft.is_leader()
                    && let Some(e) = self.raft.state_machine().begin_refusal((from, session), seq, &op, task, &online)
                {
                    out.send(from, Message::Dfs(DfsMessage::Response { req, result: Ok(DfsOutput::Refused(e)) }));
                    return;
                }
                DfsCommand::Begin { session: (from, session), seq, below, op, op_ref, applies: task, online, now_ms: now }
            }
            DfsRequest::Commit { tid } => DfsCommand::Commit { tid, now_ms: now },
            DfsRequest::Rollback { tid } => DfsCommand::Rollback { tid },
            DfsRequest::Complete { tid, committed } => DfsCommand::Complete { tid, committed, now_ms: now },
            DfsRequest::Pipeline(NodeRequest::Call { call }) => {
                self.on_node_admin(from, req, call, raft_out, out);
                return;
            }
            DfsRequest::Pipeline(NodeRequest::TaskFailed { task, reason }) => {
                let cmd = ReplCommand::Slave(SlaveCommand::Failed { task, reason, now_ms: now });
                self.propose_repl(cmd, Some(ReplOrigin::Node(from, req)), raft_out, out);
                return;
            }
            DfsRequest::Resolve { tid } => {
                // A decision in the applied state is committed: answer it at once.
                let dfs = &self.raft.state_machine().dfs;
                let known = match (dfs.decision(tid), dfs.open_transactions().get(&tid).map(|t| t.state)) {
                    (Some(d), _) => Some(d),
                    (None, Some(TxState::Committed(cid))) => Some(Decision::Commit(cid)),
                    _ => None,
                };
                if let (Some(decision), true) = (known, self.raft.is_leader()) {
                    out.send(from, Message::Dfs(DfsMessage::Response { req, result: Ok(DfsOutput::Decided(tid, decision)) }));
                    return;
                }
                DfsCommand::Rollback { tid }
            }
            DfsRequest::RecoveryLock { chunk } => DfsCommand::RecoveryLock { chunk, node: from, now_ms: now },
            DfsRequest::Recovered { chunk, version } => DfsCommand::Recovered { chunk, node: from, version },
            DfsRequest::RecoveryUnlock { chunk } => DfsCommand::RecoveryUnlock { chunk, node: from },
        };
        self.propose(cmd, origin, raft_out, out);
    }

    /// A management call forwarded by a data node of this (master) cluster.
    fn on_node_admin(
        &mut self,
        from: NodeId,
        req: u64,
        call: AdminCall,
        raft_out: &mut Output<RaftMessage<MetadataCommand>, RaftFact>,
        out: &mut Output<Message, Fact>,
    ) {
        let reply = |out: &mut Output<Message, Fact>, result: AdminResult| {
            out.send(from, Message::Dfs(DfsMessage::Response { req, result: Ok(DfsOutput::Pipeline(result)) }))
        };
        if !self.raft.is_leader() {
            out.send(from, Message::Dfs(DfsMessage::Response { req, result: Err(self.raft.leader_hint()) }));
            return;
        }
        let sm = self.raft.state_machine();
        let Some(m) = sm.repl.master() else {
            return reply(
                out,
                Err(AdminError::new(
                    AdminError::WRONG_ROLE,
                    format!("{} can only be called on a data node of the master cluster", call.name()),
                )),
            );
        };
        let cmd = match call {
            AdminCall::GetDatabaseClusterReplicationStatus => {
                return reply(out, Ok(AdminReply::Databases(m.database_status(&sm.dfs))));
            }
            AdminCall::SetDatabaseForClusterReplication { db, enabled } => MasterCommand::SetDatabase { db, enabled },
            AdminCall::SetDatabaseClusterReplicationExecutionSet { db, set } => match u8::try_from(set) {
                Ok(set @ (0 | 1)) => MasterCommand::SetExecutionSet { db, set },
                _ => return reply(out, Err(AdminError::bad_exec_set(set))),
            },
            other => {
                return reply(
                    out,
                    other.check_role(crate::pipeline::dolphindb_async::admin::NodeRole::MasterDataNode).map(|_| AdminReply::Done),
                );
            }
        };
        self.propose_repl(ReplCommand::Master(cmd), Some(ReplOrigin::Node(from, req)), raft_out, out);
    }

    /// The leader's periodic watch: abandoned transactions, lost replicas, orphans, recoveries.
    fn watch_data_nodes(&mut self, raft_out: &mut Output<RaftMessage<MetadataCommand>, RaftFact>, out: &mut Output<Message, Fact>) {
        let now = self.now;
        let online: BTreeSet<NodeId> = self.online().into_iter().collect();
        let dfs = &self.raft.state_machine().dfs;
        let mut proposals = Vec::new();
        // Transactions whose coordinator went quiet.
        for (tid, tx) in dfs.open_transactions() {
            if now < tx.since_ms + self.watch.transaction_timeout_ms || self.nudged.get(tid).is_some_and(|t| now < t + 1000) {
                continue;
            }
            match tx.state {
                TxState::Begun => proposals.push(DfsCommand::Rollback { tid: *tid }),
                TxState::Committed(cid) => {
                    // Complete on the coordinator's behalf once every chunk has a replica at cid.
                    let mut committed = Vec::new();
                    let mut ready = true;
                    for p in &tx.participations {
                        let have: Vec<NodeId> = p
                            .replicas
                            .iter()
                            .copied()
                            .filter(|n| self.beats.get(n).and_then(|b| b.replicas.get(&p.chunk)).is_some_and(|v| *v >= cid))
                            .collect();
                        ready &= !have.is_empty() || *p.delta == crate::dfs::ChunkDelta::Drop;
                        committed.extend(have.into_iter().map(|n| (p.chunk, n)));
                    }
                    if ready {
                        proposals.push(DfsCommand::Complete { tid: *tid, committed, now_ms: now });
                    }
                }
            }
            self.nudged.insert(*tid, now);
        }
        self.nudged.retain(|t, _| dfs.open_transactions().contains_key(t));
        // Replicas a data node lost (corrupt on its disk): stale, to be recovered.
        for (&node, beat) in &self.beats {
            for &chunk in &beat.lost {
                let complete =
                    dfs.chunks().get(&chunk).and_then(|c| c.replicas.get(&node)).is_some_and(|r| r.state == ReplicaState::Complete);
                if complete && online.contains(&node) {
                    proposals.push(DfsCommand::ReplicaLost { chunk, node });
                }
            }
            // Chunks that no longer exist (dropped while the node was away).
            let orphans: Vec<ChunkId> = beat
                .replicas
                .keys()
                .chain(&beat.lost)
                .copied()
                .filter(|c| *c < dfs.next_chunk() && !dfs.chunks().contains_key(c))
                .collect();
            if !orphans.is_empty() && online.contains(&node) {
                out.send(node, Message::Dfs(DfsMessage::Forget { chunks: orphans }));
            }
        }
        // Stale replicas on online nodes: a replica that durably holds the chunk's version already
        // (its commit acknowledgement only came late) is complete again; the others are recovered
        // from a complete peer.
        for (&chunk, meta) in dfs.chunks() {
            for (&node, r) in &meta.replicas {
                if r.state != ReplicaState::Stale || !online.contains(&node) {
                    continue;
                }
                if self.recovering.get(&(chunk, node)).is_some_and(|t| now < t + 6000) {
                    continue;
                }
                let beat = self.beats.get(&node);
                let current = beat.is_some_and(|b| b.replicas.get(&chunk) == Some(&meta.version) && !b.prepared.contains(&chunk));
                if current {
                    proposals.push(DfsCommand::Recovered { chunk, node, version: meta.version });
                    self.recovering.insert((chunk, node), now);
                    continue;
                }
                let source = meta.replicas.iter().find(|(n, s)| {
                    s.state == ReplicaState::Complete
                        && online.contains(n)
                        && self.beats.get(n).and_then(|b| b.replicas.get(&chunk)).is_some_and(|v| *v == meta.version)
                });
                if let Some((&source, _)) = source {
                    out.send(node, Message::Dfs(DfsMessage::Recover { chunk, source }));
                    self.recovering.insert((chunk, node), now);
                }
            }
        }
        // Recovery locks whose holder went quiet.
        for (key, owner) in dfs.locks() {
            if let LockOwner::Recovery(chunk, node) = owner {
                let since = *self.recovery_locks.entry((*chunk, *node)).or_insert(now);
                if now >= since + self.watch.recovery_lock_timeout_ms {
                    proposals.push(DfsCommand::RecoveryUnlock { chunk: *chunk, node: *node });
                }
                let _ = key;
            }
        }
        let held: BTreeSet<(ChunkId, NodeId)> =
            dfs.locks().values().filter_map(|o| if let LockOwner::Recovery(c, n) = o { Some((*c, *n)) } else { None }).collect();
        self.recovery_locks.retain(|k, _| held.contains(k));
        for cmd in proposals {
            self.propose(cmd, None, raft_out, out);
        }
    }

    fn after_raft(&mut self, mut raft_out: Output<RaftMessage<MetadataCommand>, RaftFact>, out: &mut Output<Message, Fact>) {
        // A snapshot replaced the state machine (at boot, or sent by the leader): no per-command
        // fact describes what it holds, so say it whole.
        let replaced = raft_out.facts.iter().any(|f| matches!(f, RaftFact::Recovered { .. } | RaftFact::SnapshotInstalled { .. }));
        raft_out.drain_into(out, Message::Raft);
        if replaced && let Some(f) = self.raft.state_machine().repl.snapshot_fact() {
            out.fact(Fact::Repl(f));
        }
        for applied in self.raft.take_applied() {
            let waiter = self.waiting.remove(&applied.index);
            match applied.output {
                Some(MetadataOutput::Put { session, seq, .. }) => {
                    // The entry at this index may be someone else's if leadership changed hands meanwhile.
                    if let Some(Waiter::Client { client, lane, seq: s }) = waiter
                        && (client, lane) == session
                        && s == seq
                    {
                        out.send(client, Message::ClientResponse { lane, seq, reply: ClientReply::Ok { index: applied.index } });
                    }
                }
                Some(MetadataOutput::Dfs { origin, output, facts, repl_facts }) => {
                    for f in facts {
                        out.fact(Fact::Dfs(f));
                    }
                    self.report_repl_facts(repl_facts, out);
                    if let (Some(Waiter::Node { node, req }), Some(o)) = (waiter, origin)
                        && o == (node, req)
                    {
                        out.send(node, Message::Dfs(DfsMessage::Response { req, result: Ok(output) }));
                    }
                }
                Some(MetadataOutput::Repl { origin, result, facts }) => {
                    self.report_repl_facts(facts, out);
                    match (origin, waiter) {
                        (Some(ReplOrigin::Node(node, req)), _) if self.raft.is_leader() => {
                            let result = Ok(DfsOutput::Pipeline(result.map(|_| AdminReply::Done)));
                            out.send(node, Message::Dfs(DfsMessage::Response { req, result }));
                        }
                        (Some(ReplOrigin::Call(id)), Some(Waiter::Call { call_id, call })) if id == call_id => {
                            out.fact(Fact::Admin { call_id, call, result: result.map(|_| AdminReply::Done) });
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
                if let Waiter::Call { call_id, call } = w {
                    let result = Err(AdminError::new(
                        AdminError::UNAVAILABLE,
                        "leadership lost before the call was committed; it may or may not have taken effect",
                    ));
                    out.fact(Fact::Admin { call_id, call, result });
                }
            }
            self.recovering.clear();
            self.repl.leader.reset();
        }
    }

    fn report_repl_facts(&mut self, facts: Vec<ReplFact>, out: &mut Output<Message, Fact>) {
        if facts.is_empty() {
            return;
        }
        let leader = self.raft.is_leader();
        self.repl.leader.on_applied(&facts, &self.raft.state_machine().repl, leader, out);
        if leader && facts.iter().any(|f| matches!(f, ReplFact::TaskFinished { .. })) {
            // A finished task may open the next group of its queue: dispatch without waiting for
            // the next tick.
            out.set_timer(TIMER_REPL, 1);
        }
        for f in facts {
            out.fact(Fact::Repl(f));
        }
    }
}

//! The controller role: one member of a cluster's Raft group, serving the metadata map and the DFS.
//!
//! Only the leader serves; a follower redirects. A request is answered once its command is applied,
//! from the applied output, so nobody hears "ok" for something that is not committed. The leader
//! also keeps volatile watch over the data nodes: which are online (heartbeats), which replicas fell
//! behind, which transactions were abandoned (rolled back or completed on their behalf), and which
//! stale replicas to recover from which peers.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::fact::Fact;
use crate::io::{DiskCompletion, DiskView, Millis, NodeId, Output, TimerKey};
use crate::message::{ClientOp, ClientReply, Message};
use crate::metadata::{MetadataCommand, MetadataOutput, MetadataState};
use crate::raft::{Raft, RaftConfig, RaftMessage, RecoveryError};
use crate::txn::state::{ChunkId, LockOwner, ReplicaState, TxState};
use crate::txn::{Cid, Decision, DfsCommand, DfsConfig, DfsMessage, DfsOutput, DfsRequest, Tid};

const TIMER_DFS: TimerKey = 20;
const DFS_TICK_MS: Millis = 250;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiter {
    Client { client: NodeId, lane: u32, seq: u64 },
    Node { node: NodeId, req: u64 },
}

#[derive(Debug, Clone, Default)]
struct Beat {
    at: Millis,
    replicas: BTreeMap<ChunkId, Cid>,
    prepared: BTreeSet<ChunkId>,
    lost: BTreeSet<ChunkId>,
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
    now: Millis,
}

impl Controller {
    /// Rebuilds a controller from its disk (an empty disk gives a fresh member).
    pub fn recover(
        config: RaftConfig,
        dfs: DfsConfig,
        watch: WatchConfig,
        bugs: ControllerBugs,
        disk: &dyn DiskView,
        entropy: u64,
    ) -> Result<Self, RecoveryError> {
        let raft = Raft::recover(config, MetadataState::new(dfs), disk, entropy)?;
        Ok(Self {
            raft,
            bugs,
            watch,
            waiting: BTreeMap::new(),
            beats: BTreeMap::new(),
            recovering: BTreeMap::new(),
            recovery_locks: BTreeMap::new(),
            nudged: BTreeMap::new(),
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
    pub fn start(&mut self, now: Millis, out: &mut Output<Message>) {
        self.now = now;
        let mut raft_out = Output::default();
        self.raft.start(&mut raft_out);
        out.set_timer(TIMER_DFS, DFS_TICK_MS);
        self.after_raft(raft_out, out);
    }

    /// Handles a message.
    pub fn on_message(&mut self, now: Millis, from: NodeId, msg: Message, out: &mut Output<Message>) {
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
                let catalog = if self.raft.is_leader() { Ok(Box::new(self.raft.state_machine().dfs.catalog.clone())) } else { Err(self.raft.leader_hint()) };
                out.send(from, Message::Dfs(DfsMessage::CatalogReply { req, catalog }));
            }
            Message::Dfs(DfsMessage::Heartbeat { replicas, prepared, lost }) => {
                let beat = Beat {
                    at: now,
                    replicas: replicas.into_iter().collect(),
                    prepared: prepared.into_iter().map(|(c, _)| c).collect(),
                    lost: lost.into_iter().collect(),
                };
                self.beats.insert(from, beat);
            }
            Message::ClientResponse { .. } | Message::Control(_) | Message::Dfs(_) => {}
        }
        self.after_raft(raft_out, out);
    }

    /// Handles a timer.
    pub fn on_timer(&mut self, now: Millis, key: TimerKey, out: &mut Output<Message>) {
        self.now = now;
        let mut raft_out = Output::default();
        if key == TIMER_DFS {
            out.set_timer(TIMER_DFS, DFS_TICK_MS);
            if self.raft.is_leader() {
                self.watch_data_nodes(&mut raft_out, out);
            }
        } else {
            self.raft.on_timer(key, &mut raft_out);
        }
        self.after_raft(raft_out, out);
    }

    /// Handles a disk completion.
    pub fn on_disk(&mut self, done: DiskCompletion, out: &mut Output<Message>) {
        let mut raft_out = Output::default();
        let token = done.token;
        let handled = self.raft.on_disk(done, &mut raft_out);
        assert!(handled, "controller got a disk completion it never asked for: {token:#x}");
        self.after_raft(raft_out, out);
    }

    fn propose(&mut self, cmd: DfsCommand, origin: Option<(NodeId, u64)>, raft_out: &mut Output<RaftMessage<MetadataCommand>>, out: &mut Output<Message>) {
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

    fn on_request(&mut self, from: NodeId, req: u64, request: DfsRequest, raft_out: &mut Output<RaftMessage<MetadataCommand>>, out: &mut Output<Message>) {
        let now = self.now;
        let origin = Some((from, req));
        let cmd = match request {
            DfsRequest::Begin { session, seq, below, op, op_ref } => {
                let online = self.online();
                if self.raft.is_leader()
                    && let Some(e) = self.raft.state_machine().dfs.refusal((from, session), seq, &op, &online)
                {
                    out.send(from, Message::Dfs(DfsMessage::Response { req, result: Ok(DfsOutput::Refused(e)) }));
                    return;
                }
                DfsCommand::Begin { session: (from, session), seq, below, op, op_ref, online, now_ms: now }
            }
            DfsRequest::Commit { tid } => DfsCommand::Commit { tid, now_ms: now },
            DfsRequest::Rollback { tid } => DfsCommand::Rollback { tid },
            DfsRequest::Complete { tid, committed } => DfsCommand::Complete { tid, committed },
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

    /// The leader's periodic watch: abandoned transactions, lost replicas, orphans, recoveries.
    fn watch_data_nodes(&mut self, raft_out: &mut Output<RaftMessage<MetadataCommand>>, out: &mut Output<Message>) {
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
                        proposals.push(DfsCommand::Complete { tid: *tid, committed });
                    }
                }
            }
            self.nudged.insert(*tid, now);
        }
        self.nudged.retain(|t, _| dfs.open_transactions().contains_key(t));
        // Replicas a data node lost (corrupt on its disk): stale, to be recovered.
        for (&node, beat) in &self.beats {
            for &chunk in &beat.lost {
                let complete = dfs.chunks().get(&chunk).and_then(|c| c.replicas.get(&node)).is_some_and(|r| r.state == ReplicaState::Complete);
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

    fn after_raft(&mut self, mut raft_out: Output<RaftMessage<MetadataCommand>>, out: &mut Output<Message>) {
        raft_out.drain_into(out, Message::Raft);
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
                Some(MetadataOutput::Dfs { origin, output, facts }) => {
                    for f in facts {
                        out.fact(Fact::Dfs(f));
                    }
                    if let (Some(Waiter::Node { node, req }), Some(o)) = (waiter, origin)
                        && o == (node, req)
                    {
                        out.send(node, Message::Dfs(DfsMessage::Response { req, result: Ok(output) }));
                    }
                }
                None => {}
            }
        }
        if !self.raft.is_leader() {
            // Proposals of a deposed leader may never apply; their senders time out and retry.
            self.waiting.clear();
            self.recovering.clear();
        }
    }
}

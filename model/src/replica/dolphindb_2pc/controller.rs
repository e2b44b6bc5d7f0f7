//! The controllers' side of 2PC, outside the replicated state: requests from data nodes (turned
//! into commands, or answered at once from the applied state), catalog queries, heartbeats, and
//! the leader's periodic watch over the data nodes: which are online, which transactions were
//! abandoned (rolled back, or completed on their coordinator's behalf), which replicas were lost or
//! fell behind (recovered from a complete peer), which chunks a node still holds after they were
//! dropped, and which recovery locks their holder forgot. Everything here is volatile: a new leader
//! starts afresh from heartbeats and the replicated state.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::message::{DfsMessage, DfsRequest};
use super::state::{ChunkId, Cid, Decision, DfsCommand, DfsOutput, DfsState, LockOwner, ReplicaState, Tid, TxState};
use crate::core::io::{Carries, Millis, NodeId, Output, TimerKey, part};
use crate::dfs::ChunkDelta;
use crate::replica::{Duty, Guest, LeaderView, WriteHooks};

/// The watch's timer.
pub const TIMER_WATCH: TimerKey = 20;
const WATCH_TICK_MS: Millis = 250;

/// Bugs of the controller leader's watch that can be switched on to prove the checkers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchBugs {
    /// The timeout path ends a committed transaction whose coordinator went quiet (it died, or was
    /// cut off, after the commit decision) with its own command, `DfsCommand::CompleteForCoordinator`.
    /// The DFS state applies it as it applies the coordinator's `Complete` (replicas at the cid
    /// complete, the others stale, locks released, the transaction ended and reported completed),
    /// but it reaches `DfsState::apply_command` directly, past the branch of `DfsState::apply` that
    /// calls the pipeline's completion hook: written for the DFS, the recovery path forgets the
    /// side effect. On a master, a captured transaction completed this way never becomes a task
    /// (its task data stays on the dead coordinator's disk until garbage collection deletes it); on
    /// a slave, a task's transaction completed this way never makes the task FINISHED.
    pub timeout_completion_skips_pipeline: bool,
    /// A new leader refuses every BEGIN (`Unavailable`, "no leader yet") for
    /// `REFUSE_AFTER_LEADER_CHANGE_MS` after it took over, as if it waited for every data node to
    /// report before serving: each leader change makes the cluster refuse writes for 20 s.
    pub refuse_begins_after_leader_change: bool,
}

/// How long a new leader refuses BEGINs under `WatchBugs::refuse_begins_after_leader_change`.
const REFUSE_AFTER_LEADER_CHANGE_MS: Millis = 20_000;

/// Settings of the controller's watch over the data nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// A data node is online if its last heartbeat is at most this old.
    pub online_window_ms: Millis,
    /// An open transaction untouched this long is rolled back (begun) or completed (committed).
    pub transaction_timeout_ms: Millis,
    /// A recovery lock held this long is released.
    pub recovery_lock_timeout_ms: Millis,
    /// Planted bugs.
    pub bugs: WatchBugs,
}

/// A data node's last heartbeat.
#[derive(Debug, Clone, Default)]
struct Beat {
    at: Millis,
    replicas: BTreeMap<ChunkId, Cid>,
    prepared: BTreeSet<ChunkId>,
    lost: BTreeSet<ChunkId>,
}

/// A controller's volatile 2PC duties.
#[derive(Debug)]
pub struct Watch {
    config: WatchConfig,
    beats: BTreeMap<NodeId, Beat>,
    /// Recoveries ordered (or replicas revalidated) lately, with when: not ordered again for 6 s.
    recovering: BTreeMap<(ChunkId, NodeId), Millis>,
    /// Recovery locks seen held, since when.
    recovery_locks: BTreeMap<(ChunkId, NodeId), Millis>,
    /// Abandoned transactions acted on lately, with when: not again for 1 s.
    nudged: BTreeMap<Tid, Millis>,
    /// When this controller was first seen leading, in its current leadership.
    leader_since: Option<Millis>,
}

impl Watch {
    /// The duties of a controller that just booted.
    pub fn new(config: WatchConfig) -> Self {
        Self {
            config,
            beats: BTreeMap::new(),
            recovering: BTreeMap::new(),
            recovery_locks: BTreeMap::new(),
            nudged: BTreeMap::new(),
            leader_since: None,
        }
    }

    /// Data nodes online at `now` by this controller's heartbeats.
    pub fn online(&self, now: Millis) -> Vec<NodeId> {
        self.beats.iter().filter(|(_, b)| now <= b.at + self.config.online_window_ms).map(|(n, _)| *n).collect()
    }

    /// Arms the watch's timer.
    pub fn start<M, F>(&mut self, out: &mut Output<M, F>) {
        out.set_timer(TIMER_WATCH, WATCH_TICK_MS);
    }

    /// A message of the protocol reached this controller.
    pub fn on_message<P: Guest, H: WriteHooks, M: Carries<DfsMessage<P>, part::Replica>, F>(
        &mut self,
        view: &LeaderView<'_, DfsState, H>,
        from: NodeId,
        msg: DfsMessage<P>,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<DfsCommand, P>> {
        match msg {
            DfsMessage::Request { req, request } => self.on_request(view, from, req, request, out),
            DfsMessage::CatalogQuery { req } => {
                let catalog = if view.is_leader { Ok(Box::new(view.replica.catalog.clone())) } else { Err(view.leader_hint) };
                out.send_replica(from, DfsMessage::<P>::CatalogReply { req, catalog });
                Vec::new()
            }
            DfsMessage::Heartbeat { replicas, prepared, lost, pipeline } => {
                let beat = Beat {
                    at: view.now,
                    replicas: replicas.into_iter().collect(),
                    prepared: prepared.into_iter().map(|(c, _)| c).collect(),
                    lost: lost.into_iter().collect(),
                };
                self.beats.insert(from, beat);
                if view.is_leader { vec![Duty::Beat { from, beat: pipeline }] } else { Vec::new() }
            }
            _ => Vec::new(),
        }
    }

    fn on_request<P: Guest, H: WriteHooks, M: Carries<DfsMessage<P>, part::Replica>, F>(
        &mut self,
        view: &LeaderView<'_, DfsState, H>,
        from: NodeId,
        req: u64,
        request: DfsRequest<P>,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<DfsCommand, P>> {
        let now = view.now;
        let dfs = view.replica;
        let cmd = match request {
            DfsRequest::Begin { session, seq, below, op, op_ref, applies } => {
                let online = self.online(now);
                if view.is_leader && self.config.bugs.refuse_begins_after_leader_change {
                    let since = *self.leader_since.get_or_insert(now);
                    if now < since + REFUSE_AFTER_LEADER_CHANGE_MS {
                        let e = crate::dfs::OpError::new(crate::dfs::ErrorCode::Unavailable, "the new leader is not serving yet");
                        out.send_replica(from, DfsMessage::<P>::Response { req, result: Ok(DfsOutput::Refused(e)) });
                        return Vec::new();
                    }
                }
                if view.is_leader
                    && let Some(e) = dfs.refusal((from, session), seq, &op, applies, &online, view.pipeline)
                {
                    out.send_replica(from, DfsMessage::<P>::Response { req, result: Ok(DfsOutput::Refused(e)) });
                    return Vec::new();
                }
                DfsCommand::Begin { session: (from, session), seq, below, op, op_ref, applies, online, now_ms: now }
            }
            DfsRequest::Commit { tid } => DfsCommand::Commit { tid, now_ms: now },
            DfsRequest::Rollback { tid } => DfsCommand::Rollback { tid },
            DfsRequest::Complete { tid, committed } => DfsCommand::Complete { tid, committed, now_ms: now },
            DfsRequest::Pipeline(request) => return vec![Duty::ForPipeline { from, req, request }],
            DfsRequest::Resolve { tid } => {
                // A decision in the applied state is committed: answer it at once.
                let known = match (dfs.decision(tid), dfs.open_transactions().get(&tid).map(|t| t.state)) {
                    (Some(d), _) => Some(d),
                    (None, Some(TxState::Committed(cid))) => Some(Decision::Commit(cid)),
                    _ => None,
                };
                if let (Some(decision), true) = (known, view.is_leader) {
                    out.send_replica(from, DfsMessage::<P>::Response { req, result: Ok(DfsOutput::Decided(tid, decision)) });
                    return Vec::new();
                }
                DfsCommand::Rollback { tid }
            }
            DfsRequest::ReadPlan { query, floor } => {
                // Answered from the applied state, by the leader only (the floor keeps a deposed
                // leader's older state from going below what the session saw).
                let result = if view.is_leader {
                    let online: BTreeSet<NodeId> = self.online(now).into_iter().collect();
                    Ok(DfsOutput::Read(dfs.read_plan(&query, floor, &online)))
                } else {
                    Err(view.leader_hint)
                };
                out.send_replica(from, DfsMessage::<P>::Response { req, result });
                return Vec::new();
            }
            DfsRequest::RecoveryLock { chunk } => DfsCommand::RecoveryLock { chunk, node: from, now_ms: now },
            DfsRequest::Recovered { chunk, version } => DfsCommand::Recovered { chunk, node: from, version },
            DfsRequest::RecoveryUnlock { chunk } => DfsCommand::RecoveryUnlock { chunk, node: from },
        };
        vec![Duty::Propose { origin: Some((from, req)), cmd }]
    }

    /// The watch's timer fired: re-arm it and, on a leader, watch.
    pub fn on_timer<P: Guest, H: WriteHooks, M: Carries<DfsMessage<P>, part::Replica>, F>(
        &mut self,
        view: &LeaderView<'_, DfsState, H>,
        key: TimerKey,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<DfsCommand, P>> {
        assert_eq!(key, TIMER_WATCH);
        out.set_timer(TIMER_WATCH, WATCH_TICK_MS);
        if !view.is_leader {
            return Vec::new();
        }
        self.leader_since.get_or_insert(view.now);
        self.watch(view.now, view.replica, out).into_iter().map(|cmd| Duty::Propose { origin: None, cmd }).collect()
    }

    /// Leadership lost: recoveries ordered are forgotten (a new leader orders its own).
    pub fn on_leadership_lost(&mut self) {
        self.recovering.clear();
        self.leader_since = None;
    }

    /// The leader's periodic watch: abandoned transactions, lost replicas, orphans, recoveries.
    /// Returns what to propose; orders to data nodes go out at once.
    fn watch<P: Guest, M: Carries<DfsMessage<P>, part::Replica>, F>(
        &mut self,
        now: Millis,
        dfs: &DfsState,
        out: &mut Output<M, F>,
    ) -> Vec<DfsCommand> {
        let online: BTreeSet<NodeId> = self.online(now).into_iter().collect();
        let mut proposals = Vec::new();
        // Transactions whose coordinator went quiet.
        for (tid, tx) in dfs.open_transactions() {
            if now < tx.since_ms + self.config.transaction_timeout_ms || self.nudged.get(tid).is_some_and(|t| now < t + 1000) {
                continue;
            }
            match tx.state {
                TxState::Begun => {
                    crate::mark!("dfs.watch_rolled_back_abandoned_transaction");
                    proposals.push(DfsCommand::Rollback { tid: *tid });
                }
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
                        ready &= !have.is_empty() || *p.delta == ChunkDelta::Drop;
                        committed.extend(have.into_iter().map(|n| (p.chunk, n)));
                    }
                    if ready && self.config.bugs.timeout_completion_skips_pipeline {
                        proposals.push(DfsCommand::CompleteForCoordinator { tid: *tid, committed, now_ms: now });
                    } else if ready {
                        crate::mark!("dfs.watch_completed_for_quiet_coordinator");
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
                out.send_replica(node, DfsMessage::<P>::Forget { chunks: orphans });
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
                    out.send_replica(node, DfsMessage::<P>::Recover { chunk, source });
                    self.recovering.insert((chunk, node), now);
                }
            }
        }
        // Recovery locks whose holder went quiet.
        for owner in dfs.locks().values() {
            if let LockOwner::Recovery(chunk, node) = owner {
                let since = *self.recovery_locks.entry((*chunk, *node)).or_insert(now);
                if now >= since + self.config.recovery_lock_timeout_ms {
                    proposals.push(DfsCommand::RecoveryUnlock { chunk: *chunk, node: *node });
                }
            }
        }
        let held: BTreeSet<(ChunkId, NodeId)> =
            dfs.locks().values().filter_map(|o| if let LockOwner::Recovery(c, n) = o { Some((*c, *n)) } else { None }).collect();
        self.recovery_locks.retain(|k, _| held.contains(k));
        proposals
    }
}

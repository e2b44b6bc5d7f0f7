//! The controller's replicated DFS state: the transaction table, the locks, the chunk map with
//! replica placement and versions, and the decision log. It changes only through Raft-committed
//! commands, so every controller holds the same state and the leader's decision is the outcome
//! (DolphinDB: the controller is the last participant of phase one; its state decides).

mod read;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::fact::DfsFact;
use std::sync::Arc;

use crate::core::io::{Millis, NodeId};
use crate::dfs::{
    Catalog, ChunkDelta, ErrorCode, LockKey, OpError, Operation, PartitionKey, SharedOperation, TableId, apply_catalog, plan,
};
use crate::replica::{CommittedWrite, Guest, PipelineTag, PipelineWriteId, ReplicaView, WriteHooks};

pub use super::types::{ChunkId, Cid, Decision, Tid};
pub use read::{ChunkRead, ReadAnswer, ReadPlan};

/// How replicas are spread (dfsReplicaReliabilityLevel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReliabilityLevel {
    /// Any distinct data nodes.
    Nodes = 0,
    /// Distinct machines, or the write fails.
    Machines = 1,
    /// Distinct machines where possible, else distinct nodes.
    PreferMachines = 2,
}

/// Bugs of the controller's DFS state that can be switched on to prove the checkers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DfsStateBugs {
    /// BEGIN grants locks without checking the locks already held.
    pub skip_lock_check: bool,
    /// Every 25th commit decision skips a cid (cids no longer dense).
    pub skip_a_cid: bool,
    /// A new chunk's replicas are the least loaded online data nodes, whatever machines they run
    /// on (the reliability level ignored).
    pub place_ignores_machines: bool,
    /// A new chunk's second replica goes to the node of its first (one copy where the map says
    /// `replication_factor`).
    pub place_two_on_one_node: bool,
    /// BEGIN is admitted whatever the number of data nodes online (dfsReplicationFactor ignored).
    pub admit_ignores_online_count: bool,
    /// A rolled-back transaction keeps its locks (leaked: later writes of the partition conflict).
    pub keep_locks_after_rollback: bool,
    /// A BEGIN after the newest transaction was rolled back takes that transaction's tid again (as
    /// if the rollback had undone its BEGIN): one tid, two transactions.
    pub reuse_a_tid: bool,
    /// Every 25th BEGIN skips a tid (tids no longer dense).
    pub skip_a_tid: bool,
    /// An unpruned SQL_UPDATE locks the first partition it writes instead of its table (a planner
    /// slip: the other partitions it writes are left to concurrent writers).
    pub update_locks_one_partition: bool,
    /// An APPEND whose rows fall in several partitions locks only the first of them.
    pub append_locks_first_partition: bool,
}

impl DfsStateBugs {
    /// True when any bug is on (the state's own invariant assertions then stand back: the checkers
    /// must catch the consequences).
    pub fn any(&self) -> bool {
        // Every flag, the ones added later included: a flag left out would keep the role's own
        // assertions strict while its bug is on.
        *self != Self::default()
    }
}

/// Settings of a cluster's DFS, fixed for its life.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DfsConfig {
    /// The data nodes, with the machine each runs on.
    pub data_nodes: BTreeMap<NodeId, u32>,
    /// dfsReplicationFactor: replicas per chunk, and the fewest online data nodes that accept writes.
    pub replication_factor: usize,
    /// dfsReplicaReliabilityLevel.
    pub reliability: ReliabilityLevel,
    /// Planted bugs (tests only).
    pub bugs: DfsStateBugs,
}

/// Whether a replica can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplicaState {
    /// Holds the chunk's current version.
    Complete,
    /// Missed a version (down, cut off, or lost data): needs online recovery before it serves.
    Stale,
}

/// One replica of a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplicaMeta {
    /// The version it is known to hold.
    pub version: Cid,
    /// Complete or stale.
    pub state: ReplicaState,
}

/// A chunk: one partition of one table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkMeta {
    /// Its table.
    pub table: TableId,
    /// Its partition.
    pub partition: PartitionKey,
    /// The cid of the last committed write (0: never written).
    ///
    /// Invariant: only grows, and only at a commit decision (to that decision's cid).
    pub version: Cid,
    /// Where its replicas live.
    ///
    /// Invariant: `replica.version <= version`; a complete replica is at `version` unless a
    /// transaction on the chunk is open.
    pub replicas: BTreeMap<NodeId, ReplicaMeta>,
}

/// Where a transaction stands (DolphinDB: BEGIN, COMMIT, COMPLETE, ROLLBACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxState {
    /// Phase one under way.
    Begun,
    /// Decided commit; participants are committing.
    Committed(Cid),
}

/// What a transaction asks of one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Participation {
    /// The chunk.
    pub chunk: ChunkId,
    /// The replicas that take part (complete and online at BEGIN).
    pub replicas: Vec<NodeId>,
    /// The version every participant must hold before it prepares.
    pub expected_version: Cid,
    /// The change (shared with the messages that carry it).
    pub delta: Arc<ChunkDelta>,
}

/// An open transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxRecord {
    /// Its id.
    pub tid: Tid,
    /// The operation.
    pub op: SharedOperation,
    /// Its chunk work.
    pub participations: Vec<Participation>,
    /// Its locks.
    pub locks: Vec<LockKey>,
    /// The coordinating data node.
    pub coordinator: NodeId,
    /// Phase.
    pub state: TxState,
    /// Leader clock when it began or was decided.
    pub since_ms: Millis,
    /// What the pipeline recorded on it at BEGIN (captured on a source, the pipeline write it
    /// applies on a target).
    pub tag: PipelineTag,
}

/// Who holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LockOwner {
    /// A transaction.
    Tx(Tid),
    /// The sync phase of a replica's online recovery.
    Recovery(ChunkId, NodeId),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Session {
    /// Every request below this was answered and is never sent again.
    below: u64,
    /// BEGIN requests seen at or above `below`, with their tid.
    seen: BTreeMap<u64, Tid>,
}

/// Commands that change the DFS state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DfsCommand {
    /// Start a transaction for `op`, coordinated by `session.0`. `online` is the leader's view of
    /// the data nodes online, `seq` numbers the request in its session (retries repeat it), and
    /// every request of the session below `below` has been answered.
    /// `applies` is the pipeline write it applies (a target cluster's replication task).
    Begin {
        session: (NodeId, u64),
        seq: u64,
        below: u64,
        op: SharedOperation,
        op_ref: (NodeId, u64),
        applies: Option<PipelineWriteId>,
        online: Vec<NodeId>,
        now_ms: Millis,
    },
    /// Decide commit (if still open).
    Commit { tid: Tid, now_ms: Millis },
    /// Decide rollback (if still open).
    Rollback { tid: Tid },
    /// The participants that committed; the others become stale. Ends the transaction.
    Complete { tid: Tid, committed: Vec<(ChunkId, NodeId)>, now_ms: Millis },
    /// Lock a chunk for the sync phase of `node`'s recovery.
    RecoveryLock { chunk: ChunkId, node: NodeId, now_ms: Millis },
    /// `node` holds `version` of `chunk` now; it is complete if that is the chunk's version.
    Recovered { chunk: ChunkId, node: NodeId, version: Cid },
    /// Release a recovery lock (done, failed or expired).
    RecoveryUnlock { chunk: ChunkId, node: NodeId },
    /// `node` lost its replica of `chunk` (corrupt on disk): it becomes stale.
    ReplicaLost { chunk: ChunkId, node: NodeId },
    /// `Complete` proposed by the leader's watch on a quiet coordinator's behalf; only the planted
    /// bug `WatchBugs::timeout_completion_skips_pipeline` proposes it (see there).
    CompleteForCoordinator { tid: Tid, committed: Vec<(ChunkId, NodeId)>, now_ms: Millis },
}

/// What a transaction's participants must do, returned by BEGIN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxBegun {
    /// The transaction.
    pub tid: Tid,
    /// Work per chunk.
    pub participations: Vec<Participation>,
    /// The coordinator must keep the operation as task data for replication (a write on a
    /// replicated database of a master).
    pub task_data: bool,
}

/// The result of a command, or the answer to a request (`P`: the pipeline whose answers the
/// data nodes' channel carries too).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DfsOutput<P: Guest> {
    /// BEGIN worked.
    Begun(TxBegun),
    /// BEGIN refused.
    Refused(OpError),
    /// A request older than what its session answered already: ignore.
    Stale,
    /// The transaction's outcome (after COMMIT, ROLLBACK or for a resolution).
    Decided(Tid, Decision),
    /// COMPLETE recorded.
    Completed(Tid),
    /// Recovery lock granted at this chunk version, or refused.
    RecoveryLock(Option<Cid>),
    /// Nothing to say.
    Done,
    /// The pipeline's answer to a request of the pipeline's part of a data node.
    Pipeline(P::NodeReply),
    /// The answer to a query's request for a read plan.
    Read(ReadAnswer),
}

/// The replicated DFS state of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DfsState {
    /// Static settings.
    pub config: DfsConfig,
    /// Databases and tables.
    pub catalog: Catalog,
    /// Invariant: every id is below `next_chunk`; `chunk_of` indexes exactly these chunks.
    chunks: BTreeMap<ChunkId, ChunkMeta>,
    chunk_of: BTreeMap<(TableId, PartitionKey), ChunkId>,
    /// Open transactions (BEGIN or COMMIT, not COMPLETE or ROLLBACK).
    ///
    /// Invariant: a `Begun` one has no decision; a `Committed(cid)` one has the decision
    /// `Commit(cid)`; COMPLETE removes only a committed one.
    txs: BTreeMap<Tid, TxRecord>,
    /// Invariant: a decision, once recorded, never changes and never goes.
    decisions: BTreeMap<Tid, Decision>,
    /// Invariant: a transaction owning a lock is open, and no two locks of different owners
    /// conflict (one writer per partition).
    locks: BTreeMap<LockKey, LockOwner>,
    sessions: BTreeMap<(NodeId, u64), Session>,
    /// Invariant: dense and increasing: every tid below it was handed out by one BEGIN, in order,
    /// and `txs` and `decisions` hold only tids below it.
    next_tid: Tid,
    /// Invariant: dense and increasing: every cid below it went to one commit decision, in order;
    /// every chunk version is below it.
    next_cid: Cid,
    /// Invariant: dense and increasing: every chunk id below it was handed out once.
    next_chunk: ChunkId,
}

impl DfsState {
    /// An empty DFS.
    pub fn new(config: DfsConfig) -> Self {
        assert!(config.replication_factor >= 1);
        Self {
            config,
            catalog: Catalog::default(),
            chunks: BTreeMap::new(),
            chunk_of: BTreeMap::new(),
            txs: BTreeMap::new(),
            decisions: BTreeMap::new(),
            locks: BTreeMap::new(),
            sessions: BTreeMap::new(),
            next_tid: 1,
            next_cid: 1,
            next_chunk: 1,
        }
    }

    /// Every chunk.
    pub fn chunks(&self) -> &BTreeMap<ChunkId, ChunkMeta> {
        &self.chunks
    }

    /// Open transactions.
    pub fn open_transactions(&self) -> &BTreeMap<Tid, TxRecord> {
        &self.txs
    }

    /// The outcome of a finished or decided transaction.
    pub fn decision(&self, tid: Tid) -> Option<Decision> {
        self.decisions.get(&tid).copied()
    }

    /// Locks held.
    pub fn locks(&self) -> &BTreeMap<LockKey, LockOwner> {
        &self.locks
    }

    /// Next chunk id to hand out (every id below it was handed out).
    pub fn next_chunk(&self) -> ChunkId {
        self.next_chunk
    }

    /// Applies one command; returns its output and the facts it makes true (none for a repeat).
    ///
    /// The pipeline has its say through `hooks` at three points: before a BEGIN (it may refuse it),
    /// when a BEGIN succeeded (it may capture the transaction), when a transaction that applies a
    /// pipeline write is decided commit (a write applied already is rolled back instead), and when
    /// a transaction it follows completes. What the hooks make true goes to `hook_facts`.
    pub fn apply<P: Guest, H: WriteHooks>(
        &mut self,
        cmd: &DfsCommand,
        hooks: &mut H,
        hook_facts: &mut Vec<H::Fact>,
    ) -> (DfsOutput<P>, Vec<DfsFact>) {
        match cmd {
            DfsCommand::Begin { op, applies, .. } => {
                if let Some(e) = hooks.refusal(op, *applies) {
                    return (DfsOutput::Refused(e), Vec::new());
                }
                let (mut output, facts) = self.apply_command(cmd);
                if let DfsOutput::Begun(begun) = &mut output {
                    assert!(self.txs.contains_key(&begun.tid), "BEGIN answered for transaction {} that is not open", begun.tid);
                    let tx = self.txs.get_mut(&begun.tid);
                    if let Some(tx) = tx {
                        tx.tag.captured |= hooks.captures(op);
                        // Invariant of PipelineTag: captured on a source, applying on a target.
                        assert!(!(tx.tag.captured && tx.tag.applies.is_some()), "transaction {} both captured and applying", tx.tid);
                    }
                    let captured = self.txs.get(&begun.tid).is_some_and(|t| t.tag.captured);
                    begun.task_data = captured && hooks.keeps_write_data(op.kind());
                }
                (output, facts)
            }
            DfsCommand::Commit { tid, .. } => {
                let applies = self.txs.get(tid).filter(|t| t.state == TxState::Begun).and_then(|t| t.tag.applies);
                if let Some(write) = applies
                    && !hooks.on_commit_decision(write, *tid, hook_facts)
                {
                    let (output, facts) = self.apply_command(&DfsCommand::Rollback { tid: *tid });
                    assert_eq!(self.decision(*tid), Some(Decision::Rollback), "a duplicate pipeline write is rolled back");
                    return (output, facts);
                }
                self.apply_command(cmd)
            }
            DfsCommand::Complete { tid, now_ms, .. } => {
                // Only a transaction the pipeline follows is kept past its COMPLETE (a copy of
                // every record would cost each COMPLETE of every cluster).
                let before = self.txs.get(tid).filter(|t| hooks.follows(t.tag)).cloned();
                let (output, facts) = self.apply_command(cmd);
                assert!(!self.txs.contains_key(tid) || !matches!(output, DfsOutput::Completed(_)), "COMPLETE left {tid} open");
                if let (Some(tx), DfsOutput::Completed(_)) = (before, &output)
                    && let TxState::Committed(cid) = tx.state
                {
                    let chunks = tx.participations.iter().map(|p| p.chunk).collect();
                    let write = CommittedWrite {
                        tid: *tid,
                        cid,
                        op: &tx.op,
                        footprint: &tx.locks,
                        chunks,
                        coordinator: tx.coordinator,
                        decided_ms: tx.since_ms,
                        tag: tx.tag,
                    };
                    hooks.on_complete(write, *now_ms, hook_facts);
                }
                (output, facts)
            }
            _ => self.apply_command(cmd),
        }
    }

    fn apply_command<P: Guest>(&mut self, cmd: &DfsCommand) -> (DfsOutput<P>, Vec<DfsFact>) {
        let decided_before = self.decisions.len();
        let (tid_before, cid_before, chunk_before) = (self.next_tid, self.next_cid, self.next_chunk);
        let open_before: BTreeSet<Tid> = self.txs.keys().copied().collect();
        let mut touched = self.chunks_named(cmd);
        let out = match cmd {
            DfsCommand::Begin { session, seq, below, op, online, now_ms, applies, .. } => {
                self.begin(*session, *seq, *below, op, *applies, online, *now_ms)
            }
            DfsCommand::Commit { tid, now_ms } => self.commit(*tid, *now_ms),
            DfsCommand::Rollback { tid } => self.rollback(*tid),
            DfsCommand::Complete { tid, committed, .. } | DfsCommand::CompleteForCoordinator { tid, committed, .. } => {
                self.complete(*tid, committed)
            }
            DfsCommand::RecoveryLock { chunk, node, .. } => self.recovery_lock(*chunk, *node),
            DfsCommand::Recovered { chunk, node, version } => {
                if let Some(c) = self.chunks.get_mut(chunk)
                    && let Some(r) = c.replicas.get_mut(node)
                    && *version == c.version
                {
                    *r = ReplicaMeta { version: *version, state: ReplicaState::Complete };
                }
                self.unlock_recovery(*chunk, *node);
                DfsOutput::Done
            }
            DfsCommand::RecoveryUnlock { chunk, node } => {
                self.unlock_recovery(*chunk, *node);
                DfsOutput::Done
            }
            DfsCommand::ReplicaLost { chunk, node } => {
                if let Some(r) = self.chunks.get_mut(chunk).and_then(|c| c.replicas.get_mut(node)) {
                    crate::mark!("dfs.replica_marked_lost");
                    *r = ReplicaMeta { version: 0, state: ReplicaState::Stale };
                }
                DfsOutput::Done
            }
        };
        // Ids are handed out densely: one tid per new transaction, one cid per commit decision.
        assert!(
            (self.config.bugs.any() || (self.next_tid - tid_before <= 1 && self.next_cid - cid_before <= 1))
                && self.next_chunk >= chunk_before
        );
        assert!(self.decisions.len() >= decided_before, "a decision went");
        if let DfsCommand::Commit { tid, .. } = cmd {
            let decided = self.decisions.len() - decided_before;
            assert!(
                self.config.bugs.any() || decided as u64 == self.next_cid - cid_before,
                "the commit decision of {tid} and its cid go together"
            );
        }
        assert!(
            self.config.bugs.any() || self.next_tid == tid_before || self.txs.contains_key(&tid_before),
            "tid {tid_before} handed out, not open"
        );
        if let DfsOutput::Begun(b) = &out {
            touched.extend(self.txs.get(&b.tid).into_iter().flat_map(|t| t.participations.iter().map(|p| p.chunk)));
            touched.extend(chunk_before..self.next_chunk);
            // Every chunk, now and then (deterministically: every 64th transaction); the chunks a
            // command names after every command.
            if b.tid % 64 == 0 {
                touched = self.chunks.keys().copied().collect();
            }
        }
        self.check_invariants(&touched);
        let mut facts = Vec::new();
        match (cmd, &out) {
            (DfsCommand::Begin { op, session, op_ref, online, .. }, DfsOutput::Begun(b)) if !open_before.contains(&b.tid) => {
                let locks = self.txs[&b.tid].locks.clone();
                facts.push(DfsFact::TxBegun {
                    tid: b.tid,
                    kind: op.kind(),
                    coordinator: session.0,
                    op_ref: *op_ref,
                    locks,
                    online: online.clone(),
                });
                for chunk in chunk_before..self.next_chunk {
                    let replicas = self.chunks[&chunk].replicas.keys().copied().collect();
                    facts.push(DfsFact::ChunkPlaced { chunk, replicas, online: online.clone() });
                }
            }
            (_, DfsOutput::Decided(tid, decision)) if self.decisions.len() > decided_before => {
                let op = matches!(decision, Decision::Commit(_)).then(|| self.txs[tid].op.clone());
                facts.push(DfsFact::TxDecided { tid: *tid, decision: *decision, op });
            }
            (DfsCommand::Complete { tid, .. } | DfsCommand::CompleteForCoordinator { tid, .. }, DfsOutput::Completed(_))
                if open_before.contains(tid) =>
            {
                facts.push(DfsFact::TxCompleted { tid: *tid })
            }
            _ => {}
        }
        (out, facts)
    }

    #[allow(clippy::too_many_arguments)]
    fn begin<P: Guest>(
        &mut self,
        session: (NodeId, u64),
        seq: u64,
        below: u64,
        op: &SharedOperation,
        applies: Option<PipelineWriteId>,
        online: &[NodeId],
        now_ms: Millis,
    ) -> DfsOutput<P> {
        let s = self.sessions.entry(session).or_default();
        s.below = s.below.max(below);
        let below = s.below;
        s.seen.retain(|&q, _| q >= below);
        if seq < below {
            return DfsOutput::Stale;
        }
        if let Some(&tid) = s.seen.get(&seq) {
            // A retried BEGIN: answer what the first one got.
            crate::mark!("dfs.begin_retry_answered_from_session");
            return match self.txs.get(&tid) {
                Some(tx) => DfsOutput::Begun(TxBegun { tid, participations: tx.participations.clone(), task_data: false }),
                None => DfsOutput::Decided(tid, self.decisions.get(&tid).copied().unwrap_or(Decision::Rollback)),
            };
        }
        let (plan, online) = match self.admit(op, online) {
            Ok(admitted) => admitted,
            Err(e) => return DfsOutput::Refused(e),
        };
        // Resolve chunks (new ones get replicas) and the replicas that can take part.
        let mut participations = Vec::new();
        let mut new_chunks = Vec::new();
        for w in &plan.writes {
            let key = (w.table, w.partition.clone());
            let (chunk, meta) = match self.chunk_of.get(&key) {
                Some(&id) => (id, self.chunks[&id].clone()),
                None => {
                    let replicas = match self.place(&online, &new_chunks) {
                        Ok(r) => r,
                        Err(e) => return DfsOutput::Refused(e),
                    };
                    let id = self.next_chunk + new_chunks.len() as u64;
                    assert!(!self.chunks.contains_key(&id), "chunk id {id} handed out twice");
                    let meta = ChunkMeta {
                        table: w.table,
                        partition: w.partition.clone(),
                        version: 0,
                        replicas: replicas.iter().map(|&n| (n, ReplicaMeta { version: 0, state: ReplicaState::Complete })).collect(),
                    };
                    new_chunks.push((id, meta.clone()));
                    (id, meta)
                }
            };
            let machine_offline = |n: &NodeId| {
                let m = self.config.data_nodes.get(n);
                !online.iter().any(|o| self.config.data_nodes.get(o) == m)
            };
            if meta.replicas.keys().any(|n| !online.contains(n) && machine_offline(n)) {
                // A replica whose whole machine is offline: every data node of it missed heartbeats.
                crate::mark!("dfs.begin_replica_on_machine_offline");
            }
            let replicas: Vec<NodeId> =
                meta.replicas.iter().filter(|(n, r)| r.state == ReplicaState::Complete && online.contains(n)).map(|(n, _)| *n).collect();
            if replicas.is_empty() {
                return DfsOutput::Refused(OpError::new(ErrorCode::Unavailable, format!("no complete replica of chunk {chunk} is online")));
            }
            assert!(replicas.iter().all(|n| online.contains(n) && meta.replicas.contains_key(n)));
            participations.push(Participation { chunk, replicas, expected_version: meta.version, delta: Arc::new(w.delta.clone()) });
        }
        let tid = self.tid_for_new_transaction();
        assert!(
            self.config.bugs.any() || (!self.txs.contains_key(&tid) && !self.decisions.contains_key(&tid)),
            "tid {tid} handed out twice"
        );
        // One writer per partition: locks are only taken here and by `recovery_lock`, each past no
        // conflicting lock, so no two held locks of different owners ever conflict.
        assert!(
            self.config.bugs.any() || plan.locks.iter().all(|k| self.locks.keys().all(|held| !held.conflicts(k))),
            "BEGIN of {tid} past a conflicting lock"
        );
        self.next_tid = tid + 1;
        self.next_chunk += new_chunks.len() as u64;
        for (id, meta) in new_chunks {
            self.chunk_of.insert((meta.table, meta.partition.clone()), id);
            self.chunks.insert(id, meta);
        }
        for k in &plan.locks {
            self.locks.insert(k.clone(), LockOwner::Tx(tid));
        }
        self.sessions.entry(session).or_default().seen.insert(seq, tid);
        let begun = TxBegun { tid, participations: participations.clone(), task_data: false };
        let tx = TxRecord {
            tid,
            op: op.clone(),
            participations,
            locks: plan.locks,
            coordinator: session.0,
            state: TxState::Begun,
            since_ms: now_ms,
            tag: PipelineTag { captured: false, applies },
        };
        self.txs.insert(tid, tx);
        assert!(self.txs[&tid].locks.iter().all(|k| self.locks.get(k) == Some(&LockOwner::Tx(tid))), "{tid} owns its locks");
        DfsOutput::Begun(begun)
    }

    /// The tid a new transaction gets: the next one (the planted `reuse_a_tid` hands out the
    /// newest tid again when that transaction was rolled back, `skip_a_tid` skips every 25th).
    fn tid_for_new_transaction(&self) -> Tid {
        let newest = self.next_tid - 1;
        if self.config.bugs.reuse_a_tid && self.decisions.get(&newest) == Some(&Decision::Rollback) {
            return newest;
        }
        if self.config.bugs.skip_a_tid && self.next_tid.is_multiple_of(25) {
            return self.next_tid + 1;
        }
        self.next_tid
    }

    /// Whether BEGIN of `op` gets past the checks that need no new state: enough data nodes online,
    /// a valid plan, no conflicting lock. Returns the plan and the online data nodes.
    fn admit(&self, op: &Operation, online: &[NodeId]) -> Result<(crate::dfs::Plan, BTreeSet<NodeId>), OpError> {
        let online: BTreeSet<NodeId> = online.iter().copied().filter(|n| self.config.data_nodes.contains_key(n)).collect();
        if online.len() < self.config.replication_factor && !self.config.bugs.admit_ignores_online_count {
            crate::mark!("dfs.begin_refused_too_few_nodes_online");
            return Err(OpError::new(
                ErrorCode::Unavailable,
                format!("{} data nodes online, dfsReplicationFactor is {}", online.len(), self.config.replication_factor),
            ));
        }
        let existing = |t: TableId| {
            self.chunk_of.range((t, PartitionKey::Null)..).take_while(|((id, _), _)| *id == t).map(|((_, p), _)| p.clone()).collect()
        };
        let plan = self.planted_lock_slips(op, plan(&self.catalog, &existing, op)?);
        let conflict = plan.locks.iter().find_map(|k| self.locks.iter().find(|(held, _)| held.conflicts(k)));
        if let Some((key, owner)) = conflict.filter(|_| !self.config.bugs.skip_lock_check) {
            crate::mark!("dfs.begin_refused_lock_conflict");
            return Err(OpError::new(ErrorCode::Conflict, format!("{key:?} is held by {owner:?}")));
        }
        assert!(
            (self.config.bugs.any() || online.len() >= self.config.replication_factor)
                && online.iter().all(|n| self.config.data_nodes.contains_key(n))
        );
        Ok((plan, online))
    }

    /// The plan as the planted lock slips leave it: an unpruned SQL_UPDATE's table lock narrowed to
    /// the first partition it writes (`update_locks_one_partition`), an APPEND's partition locks to
    /// the first (`append_locks_first_partition`).
    fn planted_lock_slips(&self, op: &Operation, mut plan: crate::dfs::Plan) -> crate::dfs::Plan {
        if self.config.bugs.append_locks_first_partition && matches!(op, Operation::Append { .. }) {
            plan.locks.truncate(1);
        }
        if self.config.bugs.update_locks_one_partition
            && matches!(op, Operation::SqlUpdate { .. })
            && let [LockKey::Table(db, table)] = plan.locks.as_slice()
            && let Some(first) = plan.writes.first()
        {
            plan.locks = vec![LockKey::Partition(db.clone(), table.clone(), first.partition.clone())];
        }
        plan
    }

    /// The refusal a new BEGIN would get from this state, if any: the leader answers such a BEGIN
    /// at once instead of putting it through Raft. A refusal decided on a view that lags the log is
    /// still true (nothing happened); a BEGIN that passes goes through Raft and is checked again.
    /// A retried BEGIN of the session is never refused here (its own locks would conflict).
    /// The pipeline's refusal (`hooks`) comes first, as on apply.
    pub fn refusal(
        &self,
        session: (NodeId, u64),
        seq: u64,
        op: &Operation,
        applies: Option<PipelineWriteId>,
        online: &[NodeId],
        hooks: &impl WriteHooks,
    ) -> Option<OpError> {
        if let Some(e) = hooks.refusal(op, applies) {
            return Some(e);
        }
        if self.sessions.get(&session).is_some_and(|s| s.seen.contains_key(&seq)) {
            return None;
        }
        self.admit(op, online).err()
    }

    /// Chooses `replication_factor` online data nodes for a new chunk: the least loaded first, ties
    /// by id, spread over machines as the reliability level asks.
    fn place(&self, online: &BTreeSet<NodeId>, pending: &[(ChunkId, ChunkMeta)]) -> Result<Vec<NodeId>, OpError> {
        let load = |n: NodeId| self.chunks.values().chain(pending.iter().map(|(_, m)| m)).filter(|c| c.replicas.contains_key(&n)).count();
        let mut candidates: Vec<NodeId> = online.iter().copied().collect();
        candidates.sort_by_key(|&n| (load(n), n));
        let rf = self.config.replication_factor;
        let machine = |n: NodeId| self.config.data_nodes[&n];
        let mut chosen: Vec<NodeId> = Vec::new();
        if self.config.bugs.place_ignores_machines {
            chosen.extend(candidates.iter().take(rf));
        }
        for &n in &candidates {
            if chosen.len() < rf && !chosen.iter().any(|&c| machine(c) == machine(n)) {
                chosen.push(n);
            }
        }
        if chosen.len() < rf {
            if self.config.reliability == ReliabilityLevel::Machines {
                crate::mark!("dfs.placement_refused_too_few_machines");
                return Err(OpError::new(ErrorCode::Unavailable, format!("fewer than {rf} machines online for a new chunk")));
            }
            if self.config.reliability == ReliabilityLevel::PreferMachines {
                crate::mark!("dfs.placement_shared_a_machine");
            }
            for &n in &candidates {
                if chosen.len() < rf && !chosen.contains(&n) {
                    chosen.push(n);
                }
            }
        }
        if self.config.bugs.place_two_on_one_node && rf >= 2 {
            chosen[1] = chosen[0];
        }
        // `admit` let through only with `rf` data nodes online: every replica gets its own node.
        assert_eq!(chosen.len(), rf, "placement of {rf} replicas over {candidates:?}");
        assert!(
            self.config.bugs.any() || chosen.iter().enumerate().all(|(i, n)| !chosen[..i].contains(n)),
            "two replicas on one node: {chosen:?}"
        );
        Ok(chosen)
    }

    fn commit<P: Guest>(&mut self, tid: Tid, now_ms: Millis) -> DfsOutput<P> {
        let Some(tx) = self.txs.get_mut(&tid) else {
            return DfsOutput::Decided(tid, self.decisions.get(&tid).copied().unwrap_or(Decision::Rollback));
        };
        if let TxState::Committed(cid) = tx.state {
            return DfsOutput::Decided(tid, Decision::Commit(cid));
        }
        assert_eq!(tx.state, TxState::Begun);
        assert!(!self.decisions.contains_key(&tid), "{tid} open and decided");
        let cid = self.next_cid;
        self.next_cid += if self.config.bugs.skip_a_cid && cid.is_multiple_of(25) { 2 } else { 1 };
        tx.state = TxState::Committed(cid);
        tx.since_ms = now_ms;
        for p in &tx.participations {
            let chunk = self.chunks.get_mut(&p.chunk).expect("a participation's chunk exists until its transaction ends");
            // A chunk's version only grows (one writer per partition: nobody committed it since BEGIN).
            assert!(chunk.version < cid, "chunk {} at version {} before commit {cid}", p.chunk, chunk.version);
            assert!(self.config.bugs.any() || chunk.version == p.expected_version, "chunk {} written since BEGIN of {tid}", p.chunk);
            chunk.version = cid;
        }
        apply_catalog(&mut self.catalog, &tx.op);
        let earlier = self.decisions.insert(tid, Decision::Commit(cid));
        assert!(self.config.bugs.any() || earlier.is_none(), "the decision of {tid} changed from {earlier:?}");
        DfsOutput::Decided(tid, Decision::Commit(cid))
    }

    fn rollback<P: Guest>(&mut self, tid: Tid) -> DfsOutput<P> {
        match self.txs.get(&tid).map(|t| t.state) {
            None => DfsOutput::Decided(tid, self.decisions.get(&tid).copied().unwrap_or(Decision::Rollback)),
            Some(TxState::Committed(cid)) => {
                crate::mark!("dfs.rollback_after_commit_decided");
                DfsOutput::Decided(tid, Decision::Commit(cid))
            }
            Some(TxState::Begun) => {
                let tx = self.txs.remove(&tid).expect("present");
                if !self.config.bugs.keep_locks_after_rollback {
                    self.release(LockOwner::Tx(tid));
                }
                let earlier = self.decisions.insert(tid, Decision::Rollback);
                assert!(self.config.bugs.any() || earlier.is_none(), "the decision of {tid} changed from {earlier:?}");
                assert!(tx.participations.iter().all(|p| self.chunks.contains_key(&p.chunk)));
                DfsOutput::Decided(tid, Decision::Rollback)
            }
        }
    }

    fn complete<P: Guest>(&mut self, tid: Tid, committed: &[(ChunkId, NodeId)]) -> DfsOutput<P> {
        let Some(TxState::Committed(cid)) = self.txs.get(&tid).map(|t| t.state) else {
            return if self.decisions.contains_key(&tid) { DfsOutput::Completed(tid) } else { DfsOutput::Done };
        };
        // COMPLETE only after the commit decision.
        assert_eq!(self.decisions.get(&tid), Some(&Decision::Commit(cid)), "COMPLETE of {tid} without its decision");
        let tx = self.txs.remove(&tid).expect("present");
        let committed: BTreeSet<(ChunkId, NodeId)> = committed.iter().copied().collect();
        for p in &tx.participations {
            if *p.delta == ChunkDelta::Drop {
                let meta = self.chunks.remove(&p.chunk).expect("a dropped chunk existed");
                self.chunk_of.remove(&(meta.table, meta.partition));
                continue;
            }
            let chunk = self.chunks.get_mut(&p.chunk).expect("exists");
            assert!(self.config.bugs.any() || chunk.version == cid, "chunk {} moved past {cid} before COMPLETE", p.chunk);
            for (node, r) in chunk.replicas.iter_mut() {
                if committed.contains(&(p.chunk, *node)) {
                    *r = ReplicaMeta { version: cid, state: ReplicaState::Complete };
                } else {
                    r.state = ReplicaState::Stale;
                }
            }
        }
        self.release(LockOwner::Tx(tid));
        assert!(!self.txs.contains_key(&tid));
        DfsOutput::Completed(tid)
    }

    fn recovery_lock<P: Guest>(&mut self, chunk: ChunkId, node: NodeId) -> DfsOutput<P> {
        let Some(meta) = self.chunks.get(&chunk) else { return DfsOutput::RecoveryLock(None) };
        let Some((db, table)) = self.catalog.table_by_id(meta.table).map(|(d, t)| (d.name.clone(), t.name.clone())) else {
            return DfsOutput::RecoveryLock(None);
        };
        let key = LockKey::Partition(db, table, meta.partition.clone());
        let owner = LockOwner::Recovery(chunk, node);
        match self.locks.iter().find(|(held, _)| held.conflicts(&key)) {
            Some((_, o)) if *o == owner => DfsOutput::RecoveryLock(Some(meta.version)),
            Some(_) => DfsOutput::RecoveryLock(None),
            None => {
                let version = meta.version;
                let earlier = self.locks.insert(key, owner);
                assert!(earlier.is_none(), "a recovery lock replaced {earlier:?}");
                DfsOutput::RecoveryLock(Some(version))
            }
        }
    }

    fn unlock_recovery(&mut self, chunk: ChunkId, node: NodeId) {
        self.release(LockOwner::Recovery(chunk, node));
    }

    fn release(&mut self, owner: LockOwner) {
        self.locks.retain(|_, o| *o != owner);
        assert!(self.locks.values().all(|o| *o != owner));
    }

    /// The chunks a command may change, named before it runs: those of the transaction it
    /// decides or ends, or the one it recovers (a BEGIN's are known once it ran).
    fn chunks_named(&self, cmd: &DfsCommand) -> Vec<ChunkId> {
        match cmd {
            DfsCommand::Commit { tid, .. }
            | DfsCommand::Rollback { tid }
            | DfsCommand::Complete { tid, .. }
            | DfsCommand::CompleteForCoordinator { tid, .. } => {
                self.txs.get(tid).map(|t| t.participations.iter().map(|p| p.chunk).collect()).unwrap_or_default()
            }
            DfsCommand::RecoveryLock { chunk, .. }
            | DfsCommand::Recovered { chunk, .. }
            | DfsCommand::RecoveryUnlock { chunk, .. }
            | DfsCommand::ReplicaLost { chunk, .. } => vec![*chunk],
            DfsCommand::Begin { .. } => Vec::new(),
        }
    }

    /// Structural invariants, checked after every command in every build: the transactions, the
    /// locks and the indexes whole, and the chunks in `chunks` (a chunk changes only by a command
    /// that names it or ends a transaction on it, so the others still hold what they held).
    fn check_invariants(&self, chunks: &[ChunkId]) {
        assert!(self.txs.last_key_value().is_none_or(|(t, _)| *t < self.next_tid), "open transaction beyond next tid {}", self.next_tid);
        assert!(self.decisions.last_key_value().is_none_or(|(t, _)| *t < self.next_tid), "decision beyond next tid {}", self.next_tid);
        assert!(self.chunks.last_key_value().is_none_or(|(c, _)| *c < self.next_chunk), "chunk beyond next chunk {}", self.next_chunk);
        // `chunk_of` indexes exactly the chunks: as many entries, each naming a chunk of its key
        // (checked from the index's side: no key to clone, no search by key).
        assert_eq!(self.chunk_of.len(), self.chunks.len(), "chunk index out of step");
        // The walks of the whole lock and transaction tables were 3% of a run on every command:
        // they run on one state in eight, chosen by the counters commands move (a command that
        // moves none changed no transaction and no lock). A lock left to a finished transaction,
        // or a transaction out of step with its decision, stays so until a later walk finds it.
        let moved = self.next_tid + self.next_cid + (self.txs.len() + self.decisions.len() + self.locks.len()) as u64;
        if moved.is_multiple_of(8) {
            for (key, owner) in &self.locks {
                if let LockOwner::Tx(tid) = owner {
                    assert!(self.config.bugs.any() || self.txs.contains_key(tid), "lock {key:?} held by finished transaction {tid}");
                }
            }
            for (tid, tx) in &self.txs {
                let decision = self.decisions.get(tid);
                match tx.state {
                    TxState::Begun => assert!(self.config.bugs.any() || decision.is_none(), "open transaction {tid} decided {decision:?}"),
                    TxState::Committed(cid) => {
                        assert_eq!(decision, Some(&Decision::Commit(cid)), "committed transaction {tid} without its decision");
                        assert!(cid < self.next_cid, "cid {cid} of {tid} beyond next cid {}", self.next_cid);
                    }
                }
            }
        }
        for (id, c) in chunks.iter().filter_map(|id| self.chunks.get(id).map(|c| (id, c))) {
            let indexed = self.chunk_of.get(&(c.table, c.partition.clone()));
            assert_eq!(indexed, Some(id), "chunk index out of step at chunk {id}");
            assert!(c.version < self.next_cid, "chunk {id} at version {} beyond next cid {}", c.version, self.next_cid);
            for (n, r) in &c.replicas {
                assert!(r.version <= c.version, "replica {n} of chunk {id} ahead of the chunk");
                // Two writers of one chunk (a planted bug) leave replicas behind: the checkers' to catch.
                assert!(
                    r.state == ReplicaState::Stale
                        || r.version == c.version
                        || self.config.bugs.any()
                        || self.txs.values().any(|t| t.participations.iter().any(|p| p.chunk == *id)),
                    "complete replica {n} of chunk {id} behind with no transaction open"
                );
            }
        }
    }
}

impl ReplicaView for DfsState {
    fn has_database(&self, db: &str) -> bool {
        self.catalog.database(db).is_some()
    }

    fn databases(&self) -> Vec<String> {
        self.catalog.databases.keys().cloned().collect()
    }

    fn transaction_ended(&self, tid: u64) -> bool {
        self.decision(tid).is_some() && !self.txs.contains_key(&tid)
    }
}

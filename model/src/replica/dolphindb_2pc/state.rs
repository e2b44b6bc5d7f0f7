//! The controller's replicated DFS state: the transaction table, the locks, the chunk map with
//! replica placement and versions, and the decision log. It changes only through Raft-committed
//! commands, so every controller holds the same state and the leader's decision is the outcome
//! (DolphinDB: the controller is the last participant of phase one; its state decides).

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
    pub version: Cid,
    /// Where its replicas live.
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
}

/// The replicated DFS state of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DfsState {
    /// Static settings.
    pub config: DfsConfig,
    /// Databases and tables.
    pub catalog: Catalog,
    chunks: BTreeMap<ChunkId, ChunkMeta>,
    chunk_of: BTreeMap<(TableId, PartitionKey), ChunkId>,
    txs: BTreeMap<Tid, TxRecord>,
    decisions: BTreeMap<Tid, Decision>,
    locks: BTreeMap<LockKey, LockOwner>,
    sessions: BTreeMap<(NodeId, u64), Session>,
    next_tid: Tid,
    next_cid: Cid,
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
                    let tx = self.txs.get_mut(&begun.tid);
                    if let Some(tx) = tx {
                        tx.tag.captured |= hooks.captures(op);
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
                    return self.apply_command(&DfsCommand::Rollback { tid: *tid });
                }
                self.apply_command(cmd)
            }
            DfsCommand::Complete { tid, now_ms, .. } => {
                // Only a transaction the pipeline follows is kept past its COMPLETE (a copy of
                // every record would cost each COMPLETE of every cluster).
                let before = self.txs.get(tid).filter(|t| hooks.follows(t.tag)).cloned();
                let (output, facts) = self.apply_command(cmd);
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
        let open_before: BTreeSet<Tid> = self.txs.keys().copied().collect();
        let out = match cmd {
            DfsCommand::Begin { session, seq, below, op, online, now_ms, applies, .. } => {
                self.begin(*session, *seq, *below, op, *applies, online, *now_ms)
            }
            DfsCommand::Commit { tid, now_ms } => self.commit(*tid, *now_ms),
            DfsCommand::Rollback { tid } => self.rollback(*tid),
            DfsCommand::Complete { tid, committed, .. } => self.complete(*tid, committed),
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
                    *r = ReplicaMeta { version: 0, state: ReplicaState::Stale };
                }
                DfsOutput::Done
            }
        };
        self.check_invariants();
        let mut facts = Vec::new();
        match (cmd, &out) {
            (DfsCommand::Begin { op, session, op_ref, .. }, DfsOutput::Begun(b)) if !open_before.contains(&b.tid) => {
                let locks = self.txs[&b.tid].locks.clone();
                facts.push(DfsFact::TxBegun { tid: b.tid, kind: op.kind(), coordinator: session.0, op_ref: *op_ref, locks })
            }
            (_, DfsOutput::Decided(tid, decision)) if self.decisions.len() > decided_before => {
                let op = matches!(decision, Decision::Commit(_)).then(|| self.txs[tid].op.clone());
                facts.push(DfsFact::TxDecided { tid: *tid, decision: *decision, op });
            }
            (DfsCommand::Complete { tid, .. }, DfsOutput::Completed(_)) if open_before.contains(tid) => {
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
            let replicas: Vec<NodeId> =
                meta.replicas.iter().filter(|(n, r)| r.state == ReplicaState::Complete && online.contains(n)).map(|(n, _)| *n).collect();
            if replicas.is_empty() {
                return DfsOutput::Refused(OpError::new(ErrorCode::Unavailable, format!("no complete replica of chunk {chunk} is online")));
            }
            participations.push(Participation { chunk, replicas, expected_version: meta.version, delta: Arc::new(w.delta.clone()) });
        }
        let tid = self.next_tid;
        self.next_tid += 1;
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
        DfsOutput::Begun(begun)
    }

    /// Whether BEGIN of `op` gets past the checks that need no new state: enough data nodes online,
    /// a valid plan, no conflicting lock. Returns the plan and the online data nodes.
    fn admit(&self, op: &Operation, online: &[NodeId]) -> Result<(crate::dfs::Plan, BTreeSet<NodeId>), OpError> {
        let online: BTreeSet<NodeId> = online.iter().copied().filter(|n| self.config.data_nodes.contains_key(n)).collect();
        if online.len() < self.config.replication_factor {
            return Err(OpError::new(
                ErrorCode::Unavailable,
                format!("{} data nodes online, dfsReplicationFactor is {}", online.len(), self.config.replication_factor),
            ));
        }
        let existing = |t: TableId| {
            self.chunk_of.range((t, PartitionKey::Null)..).take_while(|((id, _), _)| *id == t).map(|((_, p), _)| p.clone()).collect()
        };
        let plan = plan(&self.catalog, &existing, op)?;
        let conflict = plan.locks.iter().find_map(|k| self.locks.iter().find(|(held, _)| held.conflicts(k)));
        if let Some((key, owner)) = conflict.filter(|_| !self.config.bugs.skip_lock_check) {
            return Err(OpError::new(ErrorCode::Conflict, format!("{key:?} is held by {owner:?}")));
        }
        Ok((plan, online))
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
        for &n in &candidates {
            if chosen.len() < rf && !chosen.iter().any(|&c| machine(c) == machine(n)) {
                chosen.push(n);
            }
        }
        if chosen.len() < rf {
            if self.config.reliability == ReliabilityLevel::Machines {
                return Err(OpError::new(ErrorCode::Unavailable, format!("fewer than {rf} machines online for a new chunk")));
            }
            for &n in &candidates {
                if chosen.len() < rf && !chosen.contains(&n) {
                    chosen.push(n);
                }
            }
        }
        Ok(chosen)
    }

    fn commit<P: Guest>(&mut self, tid: Tid, now_ms: Millis) -> DfsOutput<P> {
        let Some(tx) = self.txs.get_mut(&tid) else {
            return DfsOutput::Decided(tid, self.decisions.get(&tid).copied().unwrap_or(Decision::Rollback));
        };
        if let TxState::Committed(cid) = tx.state {
            return DfsOutput::Decided(tid, Decision::Commit(cid));
        }
        let cid = self.next_cid;
        self.next_cid += 1;
        tx.state = TxState::Committed(cid);
        tx.since_ms = now_ms;
        for p in &tx.participations {
            let chunk = self.chunks.get_mut(&p.chunk).expect("a participation's chunk exists until its transaction ends");
            chunk.version = cid;
        }
        apply_catalog(&mut self.catalog, &tx.op);
        self.decisions.insert(tid, Decision::Commit(cid));
        DfsOutput::Decided(tid, Decision::Commit(cid))
    }

    fn rollback<P: Guest>(&mut self, tid: Tid) -> DfsOutput<P> {
        match self.txs.get(&tid).map(|t| t.state) {
            None => DfsOutput::Decided(tid, self.decisions.get(&tid).copied().unwrap_or(Decision::Rollback)),
            Some(TxState::Committed(cid)) => DfsOutput::Decided(tid, Decision::Commit(cid)),
            Some(TxState::Begun) => {
                let tx = self.txs.remove(&tid).expect("present");
                self.release(LockOwner::Tx(tid));
                self.decisions.insert(tid, Decision::Rollback);
                debug_assert!(tx.participations.iter().all(|p| self.chunks.contains_key(&p.chunk)));
                DfsOutput::Decided(tid, Decision::Rollback)
            }
        }
    }

    fn complete<P: Guest>(&mut self, tid: Tid, committed: &[(ChunkId, NodeId)]) -> DfsOutput<P> {
        let Some(TxState::Committed(cid)) = self.txs.get(&tid).map(|t| t.state) else {
            return if self.decisions.contains_key(&tid) { DfsOutput::Completed(tid) } else { DfsOutput::Done };
        };
        let tx = self.txs.remove(&tid).expect("present");
        let committed: BTreeSet<(ChunkId, NodeId)> = committed.iter().copied().collect();
        for p in &tx.participations {
            if *p.delta == ChunkDelta::Drop {
                let meta = self.chunks.remove(&p.chunk).expect("a dropped chunk existed");
                self.chunk_of.remove(&(meta.table, meta.partition));
                continue;
            }
            let chunk = self.chunks.get_mut(&p.chunk).expect("exists");
            debug_assert_eq!(chunk.version, cid);
            for (node, r) in chunk.replicas.iter_mut() {
                if committed.contains(&(p.chunk, *node)) {
                    *r = ReplicaMeta { version: cid, state: ReplicaState::Complete };
                } else {
                    r.state = ReplicaState::Stale;
                }
            }
        }
        self.release(LockOwner::Tx(tid));
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
                self.locks.insert(key, owner);
                DfsOutput::RecoveryLock(Some(version))
            }
        }
    }

    fn unlock_recovery(&mut self, chunk: ChunkId, node: NodeId) {
        self.release(LockOwner::Recovery(chunk, node));
    }

    fn release(&mut self, owner: LockOwner) {
        self.locks.retain(|_, o| *o != owner);
    }

    /// Structural invariants, checked after every command in debug builds.
    fn check_invariants(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        for (key, owner) in &self.locks {
            if let LockOwner::Tx(tid) = owner {
                assert!(self.txs.contains_key(tid), "lock {key:?} held by finished transaction {tid}");
            }
        }
        for (id, c) in &self.chunks {
            assert_eq!(self.chunk_of.get(&(c.table, c.partition.clone())), Some(id), "chunk index out of step");
            for (n, r) in &c.replicas {
                assert!(r.version <= c.version, "replica {n} of chunk {id} ahead of the chunk");
                assert!(
                    r.state == ReplicaState::Stale
                        || r.version == c.version
                        || self.txs.values().any(|t| t.participations.iter().any(|p| p.chunk == *id)),
                    "complete replica {n} of chunk {id} behind with no transaction open"
                );
            }
        }
        assert_eq!(self.chunk_of.len(), self.chunks.len());
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

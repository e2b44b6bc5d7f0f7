//! What the DFS checkers know: a ledger of the DFS facts (transactions begun and decided, client
//! operations and their outcomes, replica versions), followed fact by fact. Property checkers look
//! at it as it was before each fact, then it follows the fact.
//!
//! Every controller reports what it applies, and a restarted controller applies its log again: the
//! ledger keeps the first report of each transaction event, and the checkers treat a repeat as
//! history (except that all reports of one decision must agree).

use std::collections::{BTreeMap, BTreeSet};

use crate::summary::{OpCounts, ReplicaSummary};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::{LockKey, SharedOperation};
use ccrsim_model::replica::dolphindb_2pc::{ChunkId, Cid, Decision, DfsFact, OpOutcome, QueryOutcome, Tid};

/// A transaction as the controllers reported it.
#[derive(Debug, Clone)]
pub struct LedgerTx {
    /// The client operation it runs: `(client, op_id)`.
    pub op_ref: (NodeId, u64),
    /// Its locks.
    pub locks: Vec<LockKey>,
    /// Still holding its locks.
    pub open: bool,
}

/// A client operation as its client reported it.
#[derive(Debug, Clone)]
pub struct LedgerOp {
    /// The client.
    pub client: NodeId,
    /// The operation.
    pub op: SharedOperation,
    /// How it ended, once it did.
    pub outcome: Option<OpOutcome>,
    /// When it was sent and when it ended, on its client's clock (milliseconds).
    pub times: (u64, Option<u64>),
}

/// The DFS facts so far.
#[derive(Debug, Default)]
pub struct DfsLedger {
    /// Decisions by tid, with the controller that reported each first.
    pub decisions: BTreeMap<Tid, (Decision, NodeId)>,
    /// Committed operations by cid.
    pub committed: BTreeMap<Cid, (Tid, SharedOperation)>,
    /// Transactions begun.
    pub txs: BTreeMap<Tid, LedgerTx>,
    /// Transactions still holding their locks (an index into `txs`).
    pub open: BTreeSet<Tid>,
    /// Transactions begun for each client operation `(client, op_id)`.
    pub by_op: BTreeMap<(NodeId, u64), Vec<Tid>>,
    /// Client operations by op id.
    pub ops: BTreeMap<u64, LedgerOp>,
    /// Open prepares per replica.
    pub prepared: BTreeMap<(NodeId, ChunkId), BTreeSet<Tid>>,
    /// The digest of each chunk version, with the replica that reported it first.
    pub versions: BTreeMap<(ChunkId, Cid), (u64, NodeId)>,
    /// The highest cid each replica acknowledged as durably committed.
    pub acknowledged: BTreeMap<(NodeId, ChunkId), Cid>,
    /// How the queries ended (answered with rows, failed, unknown), for reports; `reads` judges them.
    pub queries: OpCounts,
    /// Replicas a data node could not read back (corrupted by the nemesis), for `write-fate`.
    pub lost_replicas: BTreeSet<(NodeId, ChunkId)>,
    /// The data nodes that dropped each chunk (a committed drop removed it), for `write-fate`.
    pub dropped: BTreeMap<ChunkId, BTreeSet<NodeId>>,
}

impl DfsLedger {
    /// The summary of what happened so far.
    pub fn summary(&self) -> ReplicaSummary {
        let mut operations: BTreeMap<String, OpCounts> = BTreeMap::new();
        let mut failures: BTreeMap<String, u64> = BTreeMap::new();
        for op in self.ops.values() {
            let c = operations.entry(op.op.kind().name().to_string()).or_default();
            match &op.outcome {
                Some(OpOutcome::Ok { .. }) => c.ok += 1,
                Some(OpOutcome::Failed(e)) => {
                    c.failed += 1;
                    *failures.entry(format!("{:?}", e.code)).or_default() += 1;
                }
                Some(OpOutcome::Unknown) | None => c.unknown += 1,
            }
        }
        if self.queries != OpCounts::default() {
            operations.insert("SELECT".into(), self.queries);
        }
        let mut reference = ccrsim_model::dfs::ReferenceDb::default();
        for (_, op) in self.committed.values() {
            let _ = reference.apply(op);
        }
        let rows: Vec<_> = reference.catalog.tables().map(|(_, t)| (t.id, reference.rows_of(t.id))).collect();
        let digest = ccrsim_model::core::digest::stable_hash(&(&reference.catalog, rows));
        let rolled_back = self.decisions.values().filter(|(d, _)| *d == Decision::Rollback).count() as u64;
        ReplicaSummary {
            operations,
            committed_transactions: self.committed.len() as u64,
            rolled_back_transactions: rolled_back,
            failures,
            state_digest: format!("{digest:016x}"),
            // DolphinDB's writes take no write concern: a commit is on every replica.
            losses_by_write_concern: Default::default(),
        }
    }
    /// The transactions begun for a client operation.
    pub fn tids_of(&self, op_ref: (NodeId, u64)) -> &[Tid] {
        self.by_op.get(&op_ref).map_or(&[], Vec::as_slice)
    }

    fn close(&mut self, tid: Tid) {
        if let Some(t) = self.txs.get_mut(&tid) {
            t.open = false;
        }
        self.open.remove(&tid);
    }

    /// Follows one fact reported by `node`.
    pub fn apply(&mut self, node: NodeId, fact: &DfsFact) {
        match fact {
            DfsFact::TxBegun { tid, op_ref, locks, .. } => {
                if !self.txs.contains_key(tid) {
                    self.txs.insert(*tid, LedgerTx { op_ref: *op_ref, locks: locks.clone(), open: true });
                    self.open.insert(*tid);
                    self.by_op.entry(*op_ref).or_default().push(*tid);
                }
            }
            DfsFact::TxDecided { tid, decision, op } => {
                self.decisions.entry(*tid).or_insert((*decision, node));
                match (decision, op) {
                    (Decision::Commit(cid), Some(op)) => {
                        self.committed.entry(*cid).or_insert((*tid, op.clone()));
                    }
                    (Decision::Rollback, _) => self.close(*tid),
                    _ => {}
                }
            }
            DfsFact::TxCompleted { tid } => self.close(*tid),
            DfsFact::Prepared { tid, chunk } => {
                self.prepared.entry((node, *chunk)).or_default().insert(*tid);
            }
            DfsFact::ReplicaCommitted { tid, chunk, cid, digest } => {
                self.close_prepare(node, *chunk, *tid);
                self.versions.entry((*chunk, *cid)).or_insert((*digest, node));
            }
            DfsFact::ReplicaRolledBack { tid, chunk } => self.close_prepare(node, *chunk, *tid),
            DfsFact::CommitAcknowledged { chunk, cid, .. } => {
                let a = self.acknowledged.entry((node, *chunk)).or_default();
                *a = (*a).max(*cid);
            }
            DfsFact::ReplicaInstalled { chunk, version, digest } => {
                self.prepared.remove(&(node, *chunk));
                self.versions.entry((*chunk, *version)).or_insert((*digest, node));
            }
            DfsFact::ReplicaLoaded { chunk, version, digest, prepared } => {
                let open: BTreeSet<Tid> = prepared.iter().copied().collect();
                if open.is_empty() {
                    self.prepared.remove(&(node, *chunk));
                } else {
                    self.prepared.insert((node, *chunk), open);
                }
                self.versions.entry((*chunk, *version)).or_insert((*digest, node));
            }
            DfsFact::DataNodeBooted => self.prepared.retain(|(n, _), _| *n != node),
            DfsFact::ReplicaRepaired { .. } | DfsFact::ChunkPlaced { .. } => {}
            DfsFact::ReplicaDropped { chunk } | DfsFact::ReplicaLost { chunk, .. } => {
                self.prepared.remove(&(node, *chunk));
                // A dropped chunk is gone for good; a lost one was corrupted by the nemesis.
                self.acknowledged.remove(&(node, *chunk));
                match fact {
                    DfsFact::ReplicaLost { .. } => self.lost_replicas.insert((node, *chunk)),
                    _ => self.dropped.entry(*chunk).or_default().insert(node),
                };
            }
            DfsFact::OpInvoked { op_id, op, at } => {
                self.ops.insert(*op_id, LedgerOp { client: node, op: op.clone(), outcome: None, times: (*at, None) });
            }
            DfsFact::QueryInvoked { .. } => {}
            DfsFact::QueryEnded { outcome, .. } => match outcome {
                QueryOutcome::Rows { .. } => self.queries.ok += 1,
                QueryOutcome::Failed(_) => self.queries.failed += 1,
                QueryOutcome::Unknown => self.queries.unknown += 1,
            },
            DfsFact::OpEnded { op_id, outcome, at } => {
                if let Some(o) = self.ops.get_mut(op_id) {
                    o.outcome = Some(outcome.clone());
                    o.times.1 = Some(*at);
                }
            }
        }
    }

    fn close_prepare(&mut self, node: NodeId, chunk: ChunkId, tid: Tid) {
        if let Some(set) = self.prepared.get_mut(&(node, chunk)) {
            set.remove(&tid);
            if set.is_empty() {
                self.prepared.remove(&(node, chunk));
            }
        }
    }
}

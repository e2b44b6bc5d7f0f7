//! The controller's part of a query: a readable snapshot and the chunks to read at it.
//!
//! DolphinDB reads by MVCC: a commit makes a new version of each chunk it writes, replicas keep a
//! few older versions, and a query picks a readable cid and reads every chunk at its version as of
//! that cid. Here the readable cid is the highest cid below every transaction that is decided
//! commit but not yet complete: every commit up to it is complete, so the replicas the chunk map
//! calls complete hold the chunk's version at it (or a later one, with the older kept). The leader
//! answers from its applied state, without a Raft round; a deposed leader that still answers gives
//! an older snapshot, which is why a query carries its session's floor (the highest cid its client
//! saw acknowledged or read) and no snapshot below the floor is handed out.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{DfsState, ReplicaState, TxState};
use crate::core::io::NodeId;
use crate::dfs::{Condition, OpError, OperationKind, PartitionKey, Query, plan_query};
use crate::replica::dolphindb_2pc::types::{ChunkId, Cid};

/// One chunk a query reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkRead {
    /// The chunk.
    pub chunk: ChunkId,
    /// Its version at the snapshot (the cid of its last commit at or below it).
    pub version: Cid,
    /// The replicas the chunk map holds complete, online ones first.
    pub replicas: Vec<NodeId>,
}

/// What a query reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReadPlan {
    /// The readable cid the query sees.
    pub snapshot: Cid,
    /// The chunks of the queried partitions written at or below the snapshot.
    pub chunks: Vec<ChunkRead>,
    /// The filter, resolved, for the replicas to apply.
    pub condition: Option<Condition>,
}

/// The controller's answer to a query's request for a plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReadAnswer {
    /// Read this.
    Plan(ReadPlan),
    /// Nothing readable at or above the floor yet, or the queried database's catalog changes in
    /// a commit not yet complete: ask again shortly.
    Later(String),
    /// The query is invalid for the catalog.
    Refused(OpError),
}

/// Whether a committed operation of this kind leaves the catalog's tables and columns as they
/// were (it changes rows, or adds a partition no row at an earlier snapshot can fall in).
fn keeps_tables_and_columns(kind: OperationKind) -> bool {
    use OperationKind::*;
    matches!(
        kind,
        APPEND
            | APPEND_CHUNK_GRANULARITY
            | SQL_DELETE
            | SQL_UPDATE
            | UPSERT
            | TRUNCATE_TABLE
            | DROP_PARTITION
            | ADD_RANGE_PARTITION
            | ADD_VALUE_PARTITION
    )
}

impl DfsState {
    /// The highest cid at or below which every commit is complete.
    pub fn readable_cid(&self) -> Cid {
        let oldest_incomplete = self.txs.values().filter_map(|t| if let TxState::Committed(c) = t.state { Some(c) } else { None }).min();
        let readable = oldest_incomplete.map_or(self.next_cid - 1, |c| c - 1);
        assert!(readable < self.next_cid, "readable cid {readable} beyond next cid {}", self.next_cid);
        readable
    }

    /// Plans query `q` for a session that has seen cid `floor`; `online` orders the replicas.
    pub fn read_plan(&self, q: &Query, floor: Cid, online: &BTreeSet<NodeId>) -> ReadAnswer {
        let snapshot = self.readable_cid();
        if snapshot < floor {
            crate::mark!("dfs.read_waits_for_readable_cid");
            return ReadAnswer::Later(format!("readable cid {snapshot} is below the session's floor {floor}"));
        }
        // Commits above the snapshot, not complete yet: the catalog already holds their changes.
        let above: Vec<_> =
            self.txs.values().filter(|t| matches!(t.state, TxState::Committed(c) if c > snapshot)).collect();
        if above.iter().any(|t| t.op.database() == q.db && !keeps_tables_and_columns(t.op.kind())) {
            crate::mark!("dfs.read_waits_for_ddl_completion");
            return ReadAnswer::Later(format!("a change of {}'s tables or columns above cid {snapshot} is not complete", q.db));
        }
        let plan = match plan_query(&self.catalog, q) {
            Ok(p) => p,
            Err(e) => return ReadAnswer::Refused(e),
        };
        let mut chunks = Vec::new();
        let first = (plan.table, PartitionKey::Null);
        for ((_, partition), &chunk) in self.chunk_of.range(first..).take_while(|((t, _), _)| *t == plan.table) {
            if plan.pruned.as_ref().is_some_and(|p| p != partition) {
                continue;
            }
            let meta = &self.chunks[&chunk];
            // One writer per chunk: at most one open transaction writes it; if it committed above
            // the snapshot, the chunk's version at the snapshot is the one that transaction expected.
            let pending = above.iter().flat_map(|t| &t.participations).find(|p| p.chunk == chunk);
            let version = pending.map_or(meta.version, |p| p.expected_version);
            assert!(version <= snapshot, "chunk {chunk} at version {version} above the snapshot {snapshot}");
            if version == 0 {
                // Not written at the snapshot: no rows.
                continue;
            }
            let mut replicas: Vec<NodeId> =
                meta.replicas.iter().filter(|(_, r)| r.state == ReplicaState::Complete).map(|(n, _)| *n).collect();
            if replicas.len() < meta.replicas.len() {
                crate::mark!("dfs.read_plan_skips_stale_replica");
            }
            replicas.sort_by_key(|n| (!online.contains(n), *n));
            if replicas.is_empty() {
                return ReadAnswer::Later(format!("chunk {chunk} has no complete replica"));
            }
            chunks.push(ChunkRead { chunk, version, replicas });
        }
        ReadAnswer::Plan(ReadPlan { snapshot, chunks, condition: plan.condition })
    }
}

//! The controller's part of a query: a snapshot and the chunks to read at it.
//!
//! DolphinDB reads by MVCC: a commit makes a new version of each chunk it writes, replicas keep a
//! few older versions, and a query picks a readable cid and reads every chunk at its version as of
//! that cid. Here the snapshot is the leader's last commit decision (its applied state: the
//! catalog and every chunk's version are exactly those of that cid). A replica that has not
//! applied a decision yet (phase two in flight: the controller's metadata runs ahead of the
//! replica's disk) cannot serve that version: the reader tries another replica, and plans again
//! when none can. The leader answers from its applied state, without a Raft round; a deposed
//! leader that still answers gives an older snapshot, which is why a query carries its session's
//! floor (the highest cid its client saw acknowledged or read) and no snapshot below the floor is
//! handed out.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{DfsState, ReplicaState, TxState};
use crate::core::io::NodeId;
use crate::dfs::{Condition, OpError, PartitionKey, Query, plan_query};
use crate::replica::dolphindb_2pc::types::{ChunkId, Cid};

/// One chunk a query reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkRead {
    /// The chunk.
    pub chunk: ChunkId,
    /// Its version at the snapshot (the cid of its last commit at or below it).
    pub version: Cid,
    /// The replicas the chunk map holds complete (some may not have applied the version yet),
    /// online ones first.
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
    /// Nothing readable at or above the floor yet (a deposed leader's older state): ask again
    /// shortly.
    Later(String),
    /// The query is invalid for the catalog.
    Refused(OpError),
}

impl DfsState {
    /// The snapshot a query planned now reads at: the last commit decision.
    pub fn readable_cid(&self) -> Cid {
        self.next_cid - 1
    }

    /// Plans query `q` for a session that has seen cid `floor`; `online` orders the replicas.
    pub fn read_plan(&self, q: &Query, floor: Cid, online: &BTreeSet<NodeId>) -> ReadAnswer {
        let snapshot = self.readable_cid();
        if snapshot < floor {
            crate::mark!("dfs.read_waits_for_readable_cid");
            return ReadAnswer::Later(format!("readable cid {snapshot} is below the session's floor {floor}"));
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
            let version = meta.version;
            assert!(version <= snapshot, "chunk {chunk} at version {version} above the snapshot {snapshot}");
            if self.txs.values().any(|t| matches!(t.state, TxState::Committed(_)) && t.participations.iter().any(|p| p.chunk == chunk)) {
                // Decided, maybe not applied by every replica yet.
                crate::mark!("dfs.read_plan_chunk_ahead_of_replicas");
            }
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

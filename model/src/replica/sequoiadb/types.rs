//! The identifiers and values every part of the SequoiaDB design shares.

use serde::{Deserialize, Serialize};

use super::lsn::Lsn;
use crate::core::io::NodeId;

/// A data replica group (SequoiaDB's group id; the catalog is the controllers' Raft group).
pub type GroupId = u32;
/// A document's `_id` within its collection.
pub type DocId = u64;
/// A client's write, unique per client session: `(session, sequence)`.
pub type WriteId = (u32, u64);
/// A client's read, unique per client session: `(session, sequence)`.
pub type ReadId = (u32, u64);

/// A document's value. Updates are increments, so a write applied twice (a full sync that both
/// copies and forwards it) shows in the data, not only in the facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DocValue {
    /// The counter the workload increments.
    pub counter: i64,
    /// The LSN of the last record that wrote this document.
    pub written_at: Lsn,
}

/// A write the workload makes to one document (`collection`, `_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WriteOp {
    /// Insert a document with this counter; fails with `DuplicateKey` if it exists.
    Insert { counter: i64 },
    /// Add `delta` to the counter; fails with `NotFound` if the document does not exist.
    Increment { delta: i64 },
    /// Delete the document; fails with `NotFound` if it does not exist.
    Delete,
}

/// A write concern: SequoiaDB's ReplSize (`replSizeCheck`, cls/clsReplicateSet.cpp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplSize {
    /// `0`: every node of the group.
    All,
    /// `-1`: every node of the group that is alive.
    AllAlive,
    /// `n` in 1..=7: this many nodes, the primary included (`1`: the primary only).
    Nodes(u8),
}

/// The database status of a node (SequoiaDB's DB status): only `Normal` serves reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DbStatus {
    /// Serving.
    Normal,
    /// Being rebuilt by a full sync from a source: its data is incomplete.
    FullSync,
    /// A primary or a one-node group rebuilding from its own log.
    Rebuilding,
}

/// A node's role in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeRole {
    /// Takes the group's writes.
    Primary,
    /// Copies the primary's log.
    Secondary,
}

/// Which node a read prefers (SequoiaDB's `PreferredInstance`: M, S, A).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PreferredInstance {
    /// `M`: the primary.
    Primary,
    /// `S`: a secondary if one is reachable.
    Secondary,
    /// `A`: any node.
    Any,
}

/// Errors the design answers, by SequoiaDB's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SeqError {
    /// `SDB_CLS_NODE_NOT_ENOUGH`: refused before the write: too few nodes for the ReplSize. Did
    /// not happen.
    NodeNotEnough,
    /// `SDB_CLS_WAIT_SYNC_FAILED`: the write was applied on the primary, but not confirmed by
    /// enough nodes. May or may not survive: indeterminate.
    WaitSyncFailed,
    /// `SDB_TIMEOUT`: the wait for confirmations timed out; the write was not undone.
    /// Indeterminate.
    Timeout,
    /// `SDB_CLS_NOT_PRIMARY`: the node asked is not the group's primary. Did not happen.
    NotPrimary,
    /// `SDB_CLS_NO_CATALOG_INFO` / no primary known: nothing was written.
    NoPrimary,
    /// `SDB_CLS_FULL_SYNC`: the node is in full sync and serves nothing.
    FullSync,
    /// `SDB_IXM_DUP_KEY`: an insert of an existing `_id`. Did not happen.
    DuplicateKey,
    /// `SDB_DMS_EOC` on an update or delete: no such document. Did not happen.
    NotFound,
}

impl SeqError {
    /// Whether an answer with this error leaves the write's outcome unknown to the client: it may
    /// have been applied (never counted as not-happened).
    pub fn leaves_write_indeterminate(self) -> bool {
        matches!(self, SeqError::WaitSyncFailed | SeqError::Timeout)
    }
}

/// A node and its group, for facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Member {
    /// The group.
    pub group: GroupId,
    /// The node.
    pub node: NodeId,
}

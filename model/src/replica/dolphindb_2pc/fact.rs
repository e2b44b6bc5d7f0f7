//! What the DFS roles tell the checkers.

use crate::dfs::{LockKey, OpError, OperationKind, Row, SharedOperation, SharedQuery};

use super::types::{ChunkId, Cid, Decision, Tid};

/// How a client operation ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OpOutcome {
    /// Committed as this transaction.
    Ok { tid: Tid, cid: Cid },
    /// Refused or aborted: it did not happen.
    Failed(OpError),
    /// No answer in time: it may or may not have happened.
    Unknown,
}

/// How a query ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueryOutcome {
    /// The rows the query selects at the readable cid `snapshot`.
    Rows { snapshot: Cid, rows: Vec<Row> },
    /// No rows: the query was invalid, or nothing could be read.
    Failed(OpError),
    /// No answer in time.
    Unknown,
}

/// A DFS fact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DfsFact {
    /// A controller applied a BEGIN: the transaction runs client operation `op_ref` under `locks`;
    /// `online` are the data nodes the BEGIN counted online (the leader's heartbeats, carried in the
    /// command).
    TxBegun { tid: Tid, kind: OperationKind, coordinator: u32, op_ref: (u32, u64), locks: Vec<LockKey>, online: Vec<u32> },
    /// A controller applied a BEGIN that created `chunk`: the data nodes its replicas went to, and
    /// the data nodes the BEGIN counted online (the leader's heartbeats, carried in the command).
    ChunkPlaced { chunk: ChunkId, replicas: Vec<crate::core::io::NodeId>, online: Vec<crate::core::io::NodeId> },
    /// A controller applied a decision (commits carry their operation, for the reference model).
    TxDecided { tid: Tid, decision: Decision, op: Option<SharedOperation> },
    /// A controller ended a committed transaction.
    TxCompleted { tid: Tid },
    /// A participant wrote its prepare record (reported when written, before the fsync: the yes
    /// vote, `DfsMessage::Prepared { ok: true }`, leaves only once the record is synced).
    Prepared { tid: Tid, chunk: ChunkId },
    /// A participant committed; `digest` is of its rows after the commit.
    ReplicaCommitted { tid: Tid, chunk: ChunkId, cid: Cid, digest: u64 },
    /// A participant's commit acknowledgement left it: it holds `cid` of the chunk durably.
    CommitAcknowledged { tid: Tid, chunk: ChunkId, cid: Cid },
    /// A participant rolled back.
    ReplicaRolledBack { tid: Tid, chunk: ChunkId },
    /// A replica was rebuilt from a peer's image at `version`.
    ReplicaInstalled { chunk: ChunkId, version: Cid, digest: u64 },
    /// A replica was deleted (dropped chunk).
    ReplicaDropped { chunk: ChunkId },
    /// A replica could not be read back at boot and was discarded (it will be recovered).
    ReplicaLost { chunk: ChunkId, why: String },
    /// A data node booted; the `ReplicaLoaded` and `ReplicaLost` facts that follow describe every
    /// replica it has (what is not among them, it does not have: unsynced writes may vanish).
    DataNodeBooted,
    /// A scrub found a replica's files corrupt and rewrote them from memory.
    ReplicaRepaired { chunk: ChunkId },
    /// A replica came back from disk at boot.
    ReplicaLoaded { chunk: ChunkId, version: Cid, digest: u64, prepared: Vec<Tid> },
    /// A client sent an operation, at `at` on its clock.
    OpInvoked { op_id: u64, op: SharedOperation, at: crate::core::io::Millis },
    /// A client saw how it ended, at `at` on its clock.
    OpEnded { op_id: u64, outcome: OpOutcome, at: crate::core::io::Millis },
    /// A client sent a query, at `at` on its clock.
    QueryInvoked { op_id: u64, query: SharedQuery, at: crate::core::io::Millis },
    /// A client got the query's answer (or gave up), at `at` on its clock.
    QueryEnded { op_id: u64, outcome: QueryOutcome, at: crate::core::io::Millis },
}

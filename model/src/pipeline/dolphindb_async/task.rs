//! A replication task: one completed master transaction on a replicated database, as the master's
//! send queue holds it and the slave executes it.

use serde::{Deserialize, Serialize};

use crate::core::io::{Millis, NodeId};
use crate::dfs::{LockKey, OperationKind, SharedOperation};
use crate::replica::dolphindb_2pc::{ChunkId, Cid, Tid};

/// Dense from 1, in enqueue order.
pub type TaskId = u64;
/// Conflict group, from 1, never decreasing with the task id.
pub type GroupId = u64;
/// A slave cluster, from 0.
pub type SlaveId = u32;

/// Where the task's operation is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskPayload {
    /// In the task itself (DDL and database-level operations carry no data).
    Inline(SharedOperation),
    /// With the master data node that coordinated the transaction (`source`), which persisted it
    /// in its work dir: the slave fetches it from there.
    AtSource,
}

/// One task of the send queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// The master transaction.
    pub tid: Tid,
    /// The master transaction's commit id.
    pub cid: Cid,
    /// Its conflict group.
    pub group: GroupId,
    /// The operation type.
    pub kind: OperationKind,
    /// The database.
    pub db: String,
    /// The table, if the operation names one.
    pub table: Option<String>,
    /// What it touches, as the master transaction's locks: a partition is one chunk (written now or
    /// later), a table lock covers every chunk of the table, a database lock every chunk of the
    /// database. Two tasks conflict when their footprints do.
    pub footprint: Vec<LockKey>,
    /// The chunks the master transaction wrote.
    pub chunks: Vec<ChunkId>,
    /// The data node that coordinated it (and holds its data).
    pub source: NodeId,
    /// When the master decided it (its controller leader's clock).
    pub submit_ms: Millis,
    /// Execution set 0 or 1 (the database's, when it was enqueued).
    pub exec_set: u8,
    /// The operation, or where to fetch it.
    pub payload: TaskPayload,
}

/// Whether an operation type writes data that the slave must fetch from the master's data node
/// (DolphinDB persists the data of write transactions in the coordinator's work dir).
pub fn carries_data(kind: OperationKind) -> bool {
    matches!(
        kind,
        OperationKind::APPEND
            | OperationKind::APPEND_CHUNK_GRANULARITY
            | OperationKind::UPSERT
            | OperationKind::SQL_UPDATE
            | OperationKind::SQL_DELETE
    )
}

/// Where a task stands (DolphinDB: WAITING, EXECUTING, FINISHED, FAILED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SlaveTaskState {
    /// Pulled, not dispatched yet.
    Waiting,
    /// Sent to its data node.
    Executing,
    /// Committed here (or skipped by hand).
    Finished,
    /// Its last execution failed; retried after a backoff.
    Failed,
}

impl SlaveTaskState {
    /// The name the status function shows.
    pub fn name(self) -> &'static str {
        match self {
            SlaveTaskState::Waiting => "WAITING",
            SlaveTaskState::Executing => "EXECUTING",
            SlaveTaskState::Finished => "FINISHED",
            SlaveTaskState::Failed => "FAILED",
        }
    }
}

/// An execution queue: `(execution set, queue id)`.
pub type QueueKey = (u8, u32);

//! What the replication roles tell the checkers. Controllers report what they apply (every member,
//! again after a restart: the checkers keep the first report); data nodes what they persist and
//! fetch.

use crate::core::io::NodeId;
use crate::dfs::SharedOperation;
use crate::replica::dolphindb_2pc::Tid;

use super::ReplicationState;
use super::task::{GroupId, QueueKey, SlaveTaskState, Task, TaskId};

/// A controller's whole replication state, as a fact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReplSnapshot {
    /// A master: every task below `next_task` enqueued, below `truncated_below` truncated.
    Master { next_task: TaskId, truncated_below: TaskId, state: ReplicationState },
    /// A slave: the state of every task it holds, and its own state.
    Slave { offset: TaskId, tasks: Vec<(TaskId, SlaveTaskState)>, state: ReplicationState },
}

/// One replication fact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReplFact {
    // ----- master controllers -----
    /// A task entered the send queue (with the operation, whatever its payload).
    Enqueued { task: Box<Task>, op: SharedOperation },
    /// The queue was truncated below `below` (garbage collection).
    Truncated { below: TaskId },
    /// A database's setting changed.
    DatabaseSet { db: String, enabled: bool, exec_set: u8 },
    /// The cluster's replication state changed (master or slave).
    StateChanged { state: ReplicationState },
    // ----- slave controllers -----
    /// A pulled batch was taken: task ids with the hash of each task, and the new offset.
    Pulled { from: TaskId, tasks: Vec<(TaskId, u64)>, offset: TaskId },
    /// A task was sent to its data node (again, for a re-dispatch).
    Dispatched { task: TaskId, node: NodeId, queue: QueueKey, group: GroupId },
    /// A transaction of the task was decided commit: its id is in the EditLog now.
    TaskCommitted { task: TaskId, tid: Tid },
    /// A second transaction of a committed task was rolled back instead of committed.
    DuplicateRolledBack { task: TaskId, tid: Tid },
    /// The task is FINISHED (committed and completed, or skipped by hand).
    TaskFinished { task: TaskId, skipped: bool },
    /// An execution failed.
    TaskFailed { task: TaskId, reason: String, failures: u32 },
    /// `startClusterReplication` set these FAILED tasks WAITING again.
    Restarted { tasks: Vec<TaskId> },
    // ----- any controller -----
    /// The controller's replication state was replaced wholesale (booted from, or sent, a Raft
    /// snapshot): what it holds now, since no per-command facts describe it.
    Resynced { state: ReplSnapshot },
    // ----- master data nodes -----
    /// A coordinator wrote a task's data; `durable` once it is fsynced.
    TaskDataWritten { tid: Tid, durable: bool },
    /// A data node booted holding the data of these transactions.
    TaskDataLoaded { tids: Vec<Tid> },
    /// A data node deleted the data of these transactions, as garbage collection ordered.
    TaskDataForgotten { tids: Vec<Tid> },
    // ----- slave data nodes -----
    /// A task execution begins on this node (its data fetched if it had to be).
    TaskStarted { task: TaskId },
}

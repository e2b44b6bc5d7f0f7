//! Messages of the replication pipeline: slave controller leader to master controller (pull,
//! report), slave controller to its data nodes (execute), slave data node to the master data node
//! that holds a task's data (fetch), master controller to its data nodes (delete task data).

use crate::core::io::NodeId;
use crate::dfs::SharedOperation;
use crate::replica::dolphindb_2pc::Tid;

use super::admin::AdminCall;
use super::task::{SlaveId, Task, TaskId};
use crate::replica::MessageKind;

/// Why a master data node cannot hand out a task's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskDataError {
    /// Not written yet (asynchronous persistence): ask again in 5 s (DolphinDB S01044).
    NotPersisted,
    /// Not there (lost in a crash before it was persisted, or deleted): the task fails with
    /// "Missing TaskData" (S01040).
    Missing,
    /// There, but it fails its checksum (S01041).
    Corrupt,
}

impl TaskDataError {
    /// The failure reason a slave records.
    pub fn reason(self) -> &'static str {
        match self {
            TaskDataError::NotPersisted => "TaskData not yet persisted",
            TaskDataError::Missing => "Missing TaskData",
            TaskDataError::Corrupt => "Corrupt TaskData",
        }
    }

    /// The task-data error a recorded failure reason names, if any: the task can never run
    /// (`Missing`, `Corrupt`) until an operator skips it.
    pub fn named_in(reason: &str) -> Option<TaskDataError> {
        [TaskDataError::Missing, TaskDataError::Corrupt, TaskDataError::NotPersisted].into_iter().find(|e| reason.contains(e.reason()))
    }
}

/// A request of a data node's part in replication, carried to the controller leader by the 2PC
/// protocol's channel (answered with an `AdminResult`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NodeRequest {
    /// A management call made on a master data node.
    Call { call: AdminCall },
    /// Slave: an execution of this task failed.
    TaskFailed { task: TaskId, reason: String },
}

/// Why a master controller does not answer a pull with tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PullRefusal {
    /// Not the leader; try this one if known.
    NotLeader(Option<NodeId>),
    /// The tasks asked for were garbage-collected (every task below this is gone).
    Truncated(TaskId),
}

/// One message of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReplMessage {
    /// Slave controller leader -> master controller: tasks from `from` on, at most `max`.
    Pull { slave: SlaveId, from: TaskId, max: u32 },
    /// Master controller -> slave controller: the answer to a pull.
    Tasks { from: TaskId, max: u32, result: Result<Vec<Task>, PullRefusal> },
    /// Slave controller leader -> master controller: every task below `finished_below` finished.
    Report { slave: SlaveId, finished_below: TaskId, controllers: Vec<NodeId> },
    /// Slave controller leader -> slave data node: run this task.
    Execute { task: Box<Task> },
    /// Slave controller leader -> slave data node: these tasks will run here; fetch their data
    /// ahead (DolphinDB's TRANSMITTED state), so that a group does not wait for the WAN.
    Prefetch { tasks: Vec<Task> },
    /// Slave data node -> master data node: the data of this transaction.
    FetchTaskData { tid: Tid },
    /// Master data node -> slave data node: the data, or why not.
    TaskData { tid: Tid, data: Result<SharedOperation, TaskDataError> },
    /// Master controller leader -> master data node: these tasks' data may go.
    ForgetTaskData { tids: Vec<Tid> },
}

impl MessageKind for ReplMessage {
    fn kind(&self) -> &'static str {
        match self {
            ReplMessage::Pull { .. } => "Pull",
            ReplMessage::Tasks { .. } => "Tasks",
            ReplMessage::Report { .. } => "Report",
            ReplMessage::Execute { .. } => "Execute",
            ReplMessage::Prefetch { .. } => "Prefetch",
            ReplMessage::FetchTaskData { .. } => "FetchTaskData",
            ReplMessage::TaskData { .. } => "TaskData",
            ReplMessage::ForgetTaskData { .. } => "ForgetTaskData",
        }
    }
}

//! The management API of cluster replication (DolphinDB's functions, as its function reference
//! documents them): the calls, where each may run, their answers (the status functions' columns) and
//! their errors.

use std::fmt;

use serde::Serialize;

use crate::core::io::{Millis, NodeId};
use crate::dfs::OperationKind;
use crate::replica::dolphindb_2pc::Tid;

use super::task::{GroupId, SlaveId, SlaveTaskState, TaskId};

/// A management call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum AdminCall {
    /// `setDatabaseForClusterReplication(db, enabled)`, on a master data node.
    SetDatabaseForClusterReplication { db: String, enabled: bool },
    /// `setDatabaseClusterReplicationExecutionSet(db, set)`, on a master data node; set 0 or 1.
    SetDatabaseClusterReplicationExecutionSet { db: String, set: i64 },
    /// `getDatabaseClusterReplicationStatus()`, on a master data node.
    GetDatabaseClusterReplicationStatus,
    /// `startClusterReplication()`, on a master or slave controller.
    StartClusterReplication,
    /// `stopClusterReplication()`, on a master or slave controller.
    StopClusterReplication,
    /// `skipClusterReplicationTask(taskIds)`, on a slave controller, only while stopped.
    SkipClusterReplicationTask { tasks: Vec<TaskId> },
    /// `getMasterReplicationStatus([limit])`, on a master controller.
    GetMasterReplicationStatus { limit: Option<u32> },
    /// `getSlaveReplicationStatus([limit])`, on a slave controller.
    GetSlaveReplicationStatus { limit: Option<u32> },
    /// `getSlaveReplicationQueueStatus()`, on a slave controller.
    GetSlaveReplicationQueueStatus,
    /// `getRecentSlaveReplicationInfo()`, on a master controller.
    GetRecentSlaveReplicationInfo,
}

/// Which nodes may run a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminHost {
    /// A data node of the master cluster.
    MasterDataNode,
    /// A controller of the master or of a slave.
    AnyController,
    /// A controller of the master.
    MasterController,
    /// A controller of a slave.
    SlaveController,
}

/// The role of the node a call reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeRole {
    /// A master controller.
    MasterController,
    /// A slave controller.
    SlaveController,
    /// A master data node.
    MasterDataNode,
    /// A slave data node.
    SlaveDataNode,
    /// A controller or data node of a cluster that takes no part in replication.
    Unreplicated,
}

impl AdminCall {
    /// Every call by its DolphinDB name.
    pub const NAMES: [&'static str; 10] = [
        "setDatabaseForClusterReplication",
        "setDatabaseClusterReplicationExecutionSet",
        "getDatabaseClusterReplicationStatus",
        "startClusterReplication",
        "stopClusterReplication",
        "skipClusterReplicationTask",
        "getMasterReplicationStatus",
        "getSlaveReplicationStatus",
        "getSlaveReplicationQueueStatus",
        "getRecentSlaveReplicationInfo",
    ];

    /// Its DolphinDB name.
    pub fn name(&self) -> &'static str {
        match self {
            AdminCall::SetDatabaseForClusterReplication { .. } => Self::NAMES[0],
            AdminCall::SetDatabaseClusterReplicationExecutionSet { .. } => Self::NAMES[1],
            AdminCall::GetDatabaseClusterReplicationStatus => Self::NAMES[2],
            AdminCall::StartClusterReplication => Self::NAMES[3],
            AdminCall::StopClusterReplication => Self::NAMES[4],
            AdminCall::SkipClusterReplicationTask { .. } => Self::NAMES[5],
            AdminCall::GetMasterReplicationStatus { .. } => Self::NAMES[6],
            AdminCall::GetSlaveReplicationStatus { .. } => Self::NAMES[7],
            AdminCall::GetSlaveReplicationQueueStatus => Self::NAMES[8],
            AdminCall::GetRecentSlaveReplicationInfo => Self::NAMES[9],
        }
    }

    /// Where it may run.
    pub fn host(&self) -> AdminHost {
        match self {
            AdminCall::SetDatabaseForClusterReplication { .. }
            | AdminCall::SetDatabaseClusterReplicationExecutionSet { .. }
            | AdminCall::GetDatabaseClusterReplicationStatus => AdminHost::MasterDataNode,
            AdminCall::StartClusterReplication | AdminCall::StopClusterReplication => AdminHost::AnyController,
            AdminCall::GetMasterReplicationStatus { .. } | AdminCall::GetRecentSlaveReplicationInfo => AdminHost::MasterController,
            AdminCall::SkipClusterReplicationTask { .. }
            | AdminCall::GetSlaveReplicationStatus { .. }
            | AdminCall::GetSlaveReplicationQueueStatus => AdminHost::SlaveController,
        }
    }

    /// Whether a node of `role` may run it; the S01024 error if not.
    pub fn check_role(&self, role: NodeRole) -> Result<(), AdminError> {
        let ok = matches!(
            (self.host(), role),
            (AdminHost::MasterDataNode, NodeRole::MasterDataNode)
                | (AdminHost::AnyController, NodeRole::MasterController | NodeRole::SlaveController)
                | (AdminHost::MasterController, NodeRole::MasterController)
                | (AdminHost::SlaveController, NodeRole::SlaveController)
        );
        if ok {
            return Ok(());
        }
        let wanted = match self.host() {
            AdminHost::MasterDataNode => "a data node of the master cluster",
            AdminHost::AnyController => "a controller of the master or a slave cluster",
            AdminHost::MasterController => "a controller of the master cluster",
            AdminHost::SlaveController => "a controller of a slave cluster",
        };
        Err(AdminError::new(AdminError::WRONG_ROLE, format!("{} can only be called on {wanted}", self.name())))
    }
}

/// A management call's error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct AdminError {
    /// DolphinDB's error code where it has one (`S01024`), else a name.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

impl AdminError {
    /// Called on a node of the wrong role (DolphinDB S01024).
    pub const WRONG_ROLE: &'static str = "S01024";
    /// A bad argument.
    pub const INVALID_ARGUMENT: &'static str = "INVALID_ARGUMENT";
    /// The database does not exist.
    pub const NO_SUCH_DATABASE: &'static str = "NO_SUCH_DATABASE";
    /// `skipClusterReplicationTask` while replication runs.
    pub const NOT_STOPPED: &'static str = "NOT_STOPPED";
    /// No controller leader answered.
    pub const UNAVAILABLE: &'static str = "UNAVAILABLE";

    /// An error.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_string(), message: message.into() }
    }

    /// A bad argument.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Self::INVALID_ARGUMENT, message)
    }

    /// An execution set other than 0 or 1.
    pub fn bad_exec_set(set: impl fmt::Display) -> Self {
        Self::invalid(format!("the execution set must be 0 or 1, got {set}"))
    }

    /// An unknown database.
    pub fn no_database(db: &str) -> Self {
        Self::new(Self::NO_SUCH_DATABASE, format!("database {db} does not exist"))
    }

    /// Skip while running.
    pub fn not_stopped() -> Self {
        Self::new(Self::NOT_STOPPED, "skipClusterReplicationTask needs replication stopped first (stopClusterReplication)")
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// `getDatabaseClusterReplicationStatus()`: dbName, enabled, executionSet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DbStatusRow {
    /// dbName.
    pub db: String,
    /// enabled.
    pub enabled: bool,
    /// executionSet.
    pub exec_set: u8,
}

/// `getMasterReplicationStatus()`: taskId, tid, groupId, operationType, submitTime, dbName,
/// tableName, srcIP:srcPort (here the source node), isTruncated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MasterTaskRow {
    /// taskId.
    pub task: TaskId,
    /// tid.
    pub tid: Tid,
    /// groupId.
    pub group: GroupId,
    /// operationType.
    pub kind: OperationKind,
    /// submitTime.
    pub submit_ms: Millis,
    /// dbName.
    pub db: String,
    /// tableName.
    pub table: Option<String>,
    /// srcIP, srcPort.
    pub source: NodeId,
    /// isTruncated.
    pub truncated: bool,
}

/// `getSlaveReplicationStatus()`: taskId, masterTid, groupId, executionSet, queueId, operationType,
/// createTime, dbName, tableName, srcIP:srcPort, finishTime, executionNode, state, details.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SlaveTaskRow {
    /// taskId.
    pub task: TaskId,
    /// masterTid.
    pub master_tid: Tid,
    /// groupId.
    pub group: GroupId,
    /// executionSet.
    pub exec_set: u8,
    /// queueId.
    pub queue: u32,
    /// operationType.
    pub kind: OperationKind,
    /// createTime.
    pub create_ms: Millis,
    /// dbName.
    pub db: String,
    /// tableName.
    pub table: Option<String>,
    /// srcIP, srcPort.
    pub source: NodeId,
    /// finishTime.
    pub finish_ms: Option<Millis>,
    /// executionNode.
    pub node: NodeId,
    /// state.
    pub state: SlaveTaskState,
    /// details (a failure's reason, or "skipped").
    pub details: String,
}

/// `getSlaveReplicationQueueStatus()`: executionSet, queueId, unfinishedTasks, executionGroupId
/// (none: idle, DolphinDB's -1), executionNode, executionTime, status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct QueueRow {
    /// executionSet.
    pub exec_set: u8,
    /// queueId.
    pub queue: u32,
    /// unfinishedTasks.
    pub unfinished: usize,
    /// executionGroupId.
    pub group: Option<GroupId>,
    /// executionNode.
    pub node: NodeId,
    /// executionTime: when the current group's first running task was dispatched.
    pub executing_since_ms: Option<Millis>,
    /// EXECUTING, FAILED, STOPPED or FINISHED.
    pub status: &'static str,
}

/// `getRecentSlaveReplicationInfo()`: per slave connectedController, allControllersInRaft,
/// lastFinishedTaskId, lastPullTime.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SlaveInfoRow {
    /// The slave.
    pub slave: SlaveId,
    /// connectedController.
    pub connected_controller: NodeId,
    /// allControllersInRaft.
    pub controllers: Vec<NodeId>,
    /// lastFinishedTaskId: every task up to it finished on the slave.
    pub last_finished_task: TaskId,
    /// lastPullTime (master leader clock), if this leader saw a pull.
    pub last_pull_ms: Option<Millis>,
}

/// A call's answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum AdminReply {
    /// Done (setters, start, stop, skip).
    Done,
    /// `getDatabaseClusterReplicationStatus`.
    Databases(Vec<DbStatusRow>),
    /// `getMasterReplicationStatus`.
    MasterTasks(Vec<MasterTaskRow>),
    /// `getSlaveReplicationStatus`.
    SlaveTasks(Vec<SlaveTaskRow>),
    /// `getSlaveReplicationQueueStatus`.
    Queues(Vec<QueueRow>),
    /// `getRecentSlaveReplicationInfo`.
    Slaves(Vec<SlaveInfoRow>),
}

/// A call's result.
pub type AdminResult = Result<AdminReply, AdminError>;

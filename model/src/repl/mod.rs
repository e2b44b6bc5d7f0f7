//! Asynchronous replication between clusters, DolphinDB style: the master's send queue of tasks
//! with their conflict groups, the slave's task table, execution queues and EditLog, the messages
//! between the two clusters, and the management API.
//!
//! This is the second seam where another design can be plugged in later (a Doris-CCR-style binlog
//! syncer, say): the replicated replication state, the pipeline's messages and its management calls
//! live here. The controllers and data nodes call into it; the replica protocol inside each cluster
//! (`txn/`) is the same on both sides.

pub mod admin;
pub mod fact;
pub mod grouping;
pub mod master;
pub mod message;
pub mod slave;
pub mod task;

pub use admin::{AdminCall, AdminError, AdminReply, AdminResult};
pub use fact::ReplFact;
pub use grouping::{Grouper, footprints_conflict};
pub use master::{MasterCommand, MasterConfig, MasterRepl, MasterReplBugs};
pub use message::{ReplMessage, TaskDataError};
pub use slave::{SlaveCommand, SlaveConfig, SlaveRepl, SlaveReplBugs, SlaveTaskState};
pub use task::{GroupId, SlaveId, Task, TaskId, TaskPayload};

use serde::{Deserialize, Serialize};

/// A cluster's replication state (DolphinDB's cluster replication state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplicationState {
    /// Running (the default).
    Enabled,
    /// Stopped by hand (`stopClusterReplication`).
    Disabled,
    /// Stopped by the slave after a task failed too often.
    Stopped,
}

impl ReplicationState {
    /// The name the status functions show.
    pub fn name(self) -> &'static str {
        match self {
            ReplicationState::Enabled => "ENABLED",
            ReplicationState::Disabled => "DISABLED",
            ReplicationState::Stopped => "STOPPED",
        }
    }
}

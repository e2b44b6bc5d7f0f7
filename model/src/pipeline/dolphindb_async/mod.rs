//! Asynchronous replication between clusters, DolphinDB style: the master's send queue of tasks
//! with their conflict groups, the slave's task table, execution queues and EditLog, the messages
//! between the two clusters, and the management API.
//!
//! A design of the pipeline seam (`pipeline::Pipeline`; a Doris-CCR-style binlog syncer would be
//! another): the replicated replication state, the leader's duties, the pipeline's messages and its
//! management calls live here. It runs on DolphinDB's 2PC replica protocol
//! (`replica::dolphindb_2pc`), the same in every cluster, inside whose data nodes it hosts its part
//! (`datanode.rs`, through `Guest2pc`).

pub mod admin;
pub mod datanode;
pub mod duties;
pub mod fact;
pub mod grouping;
mod hooks;
pub mod leader;
pub mod master;
pub mod message;
pub mod slave;
pub mod task;

pub use admin::{AdminCall, AdminError, AdminReply, AdminResult};
pub use fact::ReplFact;
pub use grouping::{Grouper, footprints_conflict};
pub use leader::{ReplLeader, ReplLinks};
pub use master::{MasterCommand, MasterConfig, MasterRepl, MasterReplBugs};
pub use message::{NodeRequest, ReplMessage, TaskDataError};
pub use slave::{SlaveCommand, SlaveConfig, SlaveRepl, SlaveReplBugs, SlaveTaskState};
pub use task::{GroupId, SlaveId, Task, TaskId, TaskPayload};

use serde::{Deserialize, Serialize};

use crate::replica::Guest;
use crate::replica::dolphindb_2pc::Tid;

/// The design: DolphinDB's asynchronous cluster replication, a pipeline for 2PC clusters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DolphinAsync;

impl Guest for DolphinAsync {
    type Message = ReplMessage;
    type Fact = ReplFact;
    type Call = AdminCall;
    type CallResult = AdminResult;
    /// The transactions whose task data a master data node keeps.
    type Beat = Vec<Tid>;
    type NodeRequest = NodeRequest;
    type NodeReply = AdminResult;
}

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

/// A cluster's part in replication, inside its controllers' replicated state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClusterRepl {
    /// Takes no part (a cluster on its own).
    None,
    /// The master: the send queue.
    Master(MasterRepl),
    /// A slave: the task table.
    Slave(SlaveRepl),
}

/// How a cluster takes part in replication (clusterReplicationMode), with its settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReplConfig {
    /// Not at all.
    None,
    /// As the master.
    Master(MasterConfig),
    /// As a slave.
    Slave(SlaveConfig),
}

impl ClusterRepl {
    /// The state of a fresh cluster.
    pub fn new(config: ReplConfig) -> Self {
        match config {
            ReplConfig::None => ClusterRepl::None,
            ReplConfig::Master(c) => ClusterRepl::Master(MasterRepl::new(c)),
            ReplConfig::Slave(c) => ClusterRepl::Slave(SlaveRepl::new(c)),
        }
    }

    /// The master state, if this is the master.
    pub fn master(&self) -> Option<&MasterRepl> {
        match self {
            ClusterRepl::Master(m) => Some(m),
            _ => None,
        }
    }

    /// The slave state, if this is a slave.
    pub fn slave(&self) -> Option<&SlaveRepl> {
        match self {
            ClusterRepl::Slave(s) => Some(s),
            _ => None,
        }
    }

    /// The whole replication state as a fact (after a snapshot replaced it), if any.
    pub fn snapshot_fact(&self) -> Option<ReplFact> {
        let state = match self {
            ClusterRepl::None => return None,
            ClusterRepl::Master(m) => {
                fact::ReplSnapshot::Master { next_task: m.next_task(), truncated_below: m.truncated_below(), state: m.state }
            }
            ClusterRepl::Slave(s) => fact::ReplSnapshot::Slave {
                offset: s.offset(),
                tasks: s.tasks().values().map(|t| (t.task.id, t.state)).collect(),
                state: s.state,
            },
        };
        Some(ReplFact::Resynced { state })
    }

    /// The role a controller of this cluster plays for management calls.
    pub fn controller_role(&self) -> admin::NodeRole {
        match self {
            ClusterRepl::None => admin::NodeRole::Unreplicated,
            ClusterRepl::Master(_) => admin::NodeRole::MasterController,
            ClusterRepl::Slave(_) => admin::NodeRole::SlaveController,
        }
    }
}

/// A replicated command of the replication state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplCommand {
    /// For the master.
    Master(MasterCommand),
    /// For a slave.
    Slave(SlaveCommand),
}

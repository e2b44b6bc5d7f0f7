//! The scenario sections of cluster replication: the slave clusters, the replication settings,
//! and management calls at fixed simulated times.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use ccrsim_model::pipeline::dolphindb_async::AdminCall;

/// The slave clusters (`slave0`, `slave1`, ...), all of one shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaveShape {
    /// How many slave clusters pull from the master.
    pub count: u32,
    /// Members of each slave's controller group.
    pub controllers: u32,
    /// Data nodes each slave starts with (the "original" count queues map onto).
    pub data_nodes: u32,
    /// Replicas per chunk in each slave.
    pub replication_factor: u32,
    /// dfsReplicaReliabilityLevel in each slave.
    pub reliability_level: u8,
    /// Machines each slave's data nodes run on (default one each).
    pub machines: Option<u32>,
    /// Data nodes added to each slave while it runs (they must never get tasks).
    pub added_data_nodes: u32,
    /// When the added data nodes join, in simulated seconds.
    pub added_at_s: f64,
}

impl Default for SlaveShape {
    fn default() -> Self {
        Self {
            count: 1,
            controllers: 3,
            data_nodes: 3,
            replication_factor: 2,
            reliability_level: 1,
            machines: None,
            added_data_nodes: 0,
            added_at_s: 0.0,
        }
    }
}

/// Replication settings (DolphinDB configuration parameters where they exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationSection {
    /// Databases replicated from the start, with their execution set (0 or 1).
    pub databases: BTreeMap<String, u8>,
    /// clusterReplicationSyncPersistence: task data fsynced before the commit decision.
    pub sync_persistence: bool,
    /// With asynchronous persistence, task data is written this long after the decision.
    pub async_delay_ms: u64,
    /// clusterReplicationSlaveNum (default: the number of slaves).
    pub slave_num: Option<u32>,
    /// clusterReplicationQueue: execution queues per execution set (default 4 x data nodes).
    pub queues: Option<u32>,
    /// A caught-up slave pulls this often.
    pub pull_interval_ms: u64,
    /// Tasks per pull.
    pub pull_batch: u32,
    /// A pull unanswered this long is given up (the next master controller is tried).
    pub pull_timeout_ms: u64,
    /// A slave reports its finished watermark this often.
    pub report_interval_ms: u64,
    /// A task executing this long is dispatched again.
    pub redispatch_after_ms: u64,
    /// Failures of one task after which the slave goes STOPPED.
    pub max_failures: u32,
    /// The harness calls every status function on every cluster this often, and checks the
    /// answers against the facts (0: only the calls a scenario lists).
    pub status_probe_interval_s: f64,
    /// Whether disk corruption may hit task data (one copy only: a hit task fails for good).
    pub corrupt_task_data: bool,
    /// The master's clients keep writing to replicated databases; a slave client (if any) writes
    /// to the slave, where writes to replicated databases must be rejected.
    pub slave_clients: u32,
}

impl Default for ReplicationSection {
    fn default() -> Self {
        Self {
            databases: BTreeMap::new(),
            sync_persistence: false,
            async_delay_ms: 200,
            slave_num: None,
            queues: None,
            pull_interval_ms: 100,
            pull_batch: 64,
            pull_timeout_ms: 1000,
            report_interval_ms: 500,
            redispatch_after_ms: 5000,
            max_failures: 30,
            status_probe_interval_s: 10.0,
            corrupt_task_data: false,
            slave_clients: 0,
        }
    }
}

/// Which tasks `skipClusterReplicationTask` skips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TaskSelection {
    /// These task ids.
    Ids(Vec<u64>),
    /// `"failed"`: every task FAILED on that slave when the call is made.
    Named(String),
}

/// A management call at a fixed time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// When, in simulated seconds (safety or liveness phase).
    pub at_s: f64,
    /// Where: `master.controller`, `master.datanode`, `slaveN.controller`, `slaveN.datanode`
    /// (the current leader, or a running data node), or a node's name.
    pub on: String,
    /// The DolphinDB function name.
    pub call: String,
    /// Argument `db`.
    #[serde(default)]
    pub db: Option<String>,
    /// Argument `option` of setDatabaseForClusterReplication.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Argument of setDatabaseClusterReplicationExecutionSet.
    #[serde(default)]
    pub set: Option<i64>,
    /// Argument of skipClusterReplicationTask.
    #[serde(default)]
    pub tasks: Option<TaskSelection>,
    /// Argument `limit` of the status functions.
    #[serde(default)]
    pub limit: Option<u32>,
    /// The expected outcome: `ok` (default) or an error code such as `S01024`.
    #[serde(default = "default_expect")]
    pub expect: String,
}

fn default_expect() -> String {
    "ok".into()
}

impl CallSpec {
    /// The call (a skip of `"failed"` gets its task ids when it is made), or what is missing.
    pub fn to_call(&self) -> Result<AdminCall, (String, String)> {
        let need = |what: &str| ("call".to_string(), format!("{} needs argument `{what}`", self.call));
        Ok(match self.call.as_str() {
            "setDatabaseForClusterReplication" => AdminCall::SetDatabaseForClusterReplication {
                db: self.db.clone().ok_or_else(|| need("db"))?,
                enabled: self.enabled.ok_or_else(|| need("enabled"))?,
            },
            "setDatabaseClusterReplicationExecutionSet" => AdminCall::SetDatabaseClusterReplicationExecutionSet {
                db: self.db.clone().ok_or_else(|| need("db"))?,
                set: self.set.ok_or_else(|| need("set"))?,
            },
            "getDatabaseClusterReplicationStatus" => AdminCall::GetDatabaseClusterReplicationStatus,
            "startClusterReplication" => AdminCall::StartClusterReplication,
            "stopClusterReplication" => AdminCall::StopClusterReplication,
            "skipClusterReplicationTask" => match self.tasks.as_ref().ok_or_else(|| need("tasks"))? {
                TaskSelection::Ids(ids) => AdminCall::SkipClusterReplicationTask { tasks: ids.clone() },
                TaskSelection::Named(n) if n == "failed" => AdminCall::SkipClusterReplicationTask { tasks: Vec::new() },
                TaskSelection::Named(n) => return Err(("tasks".into(), format!("a list of task ids or \"failed\", got {n:?}"))),
            },
            "getMasterReplicationStatus" => AdminCall::GetMasterReplicationStatus { limit: self.limit },
            "getSlaveReplicationStatus" => AdminCall::GetSlaveReplicationStatus { limit: self.limit },
            "getSlaveReplicationQueueStatus" => AdminCall::GetSlaveReplicationQueueStatus,
            "getRecentSlaveReplicationInfo" => AdminCall::GetRecentSlaveReplicationInfo,
            other => return Err(("call".into(), format!("unknown function {other:?} (functions: {})", AdminCall::NAMES.join(", ")))),
        })
    }

    /// Whether the call skips whatever FAILED when it is made.
    pub fn skips_failed(&self) -> bool {
        matches!(&self.tasks, Some(TaskSelection::Named(n)) if n == "failed")
    }
}

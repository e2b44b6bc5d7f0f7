//! The design sections of the pipeline `dolphindb-async` (`[pipeline] design`): `[replication]`,
//! the settings of DolphinDB's asynchronous cluster replication, and `[[calls]]`, its management
//! calls at fixed simulated times. The slave clusters' shape (`[cluster.slave]`) is neutral.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use ccrsim_model::pipeline::dolphindb_async::AdminCall;

use super::{HOUR_MS, LIST_MAX, RUN_S_MAX, Scenario, fail, number, within};

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

impl ReplicationSection {
    /// Checks `[replication]`; of the rest of `scenario` it reads the number of slave clusters and
    /// whether the replica protocol's DFS workload has clients (slave clients run its mix).
    pub(super) fn validate(&self, scenario: &Scenario) -> Result<(), (String, String)> {
        for (db, set) in &self.databases {
            if !db.starts_with("dfs://") || db.len() <= "dfs://".len() {
                return fail(&format!("replication.databases.{db}"), "a database name looks like dfs://name");
            }
            within(&format!("replication.databases.{db}"), (*set).into(), 0, 1)?;
        }
        within("replication.async_delay_ms", self.async_delay_ms, 0, HOUR_MS)?;
        within("replication.pull_interval_ms", self.pull_interval_ms, 1, HOUR_MS)?;
        within("replication.pull_batch", self.pull_batch.into(), 1, 100_000)?;
        within("replication.pull_timeout_ms", self.pull_timeout_ms, 1, HOUR_MS)?;
        within("replication.report_interval_ms", self.report_interval_ms, 1, HOUR_MS)?;
        within("replication.redispatch_after_ms", self.redispatch_after_ms, 1, HOUR_MS)?;
        within("replication.max_failures", self.max_failures.into(), 1, 1_000_000)?;
        within("replication.slave_clients", self.slave_clients.into(), 0, 16)?;
        if let Some(q) = self.queues {
            within("replication.queues", q.into(), 1, 4096)?;
        }
        let probe = self.status_probe_interval_s;
        if probe != 0.0 && number("replication.status_probe_interval_s", probe, 0.01, RUN_S_MAX).is_err() {
            return fail(
                "replication.status_probe_interval_s",
                format!("must be 0 (off) or a number in [0.01, {RUN_S_MAX}], got {probe:?}"),
            );
        }
        let slaves = scenario.cluster.slave.as_ref().map_or(0, |s| s.count);
        if let Some(n) = self.slave_num
            && n < slaves
        {
            return fail(
                "replication.slave_num",
                format!("clusterReplicationSlaveNum {n} is below the {slaves} slaves of cluster.slave.count"),
            );
        }
        if let Some(n) = self.slave_num {
            within("replication.slave_num", n.into(), 1, 64)?;
        }
        if slaves == 0 && (!self.databases.is_empty() || self.slave_clients > 0) {
            return fail("replication", "replication settings need slave clusters (cluster.slave)");
        }
        if self.slave_clients > 0 && scenario.dfs_workload.clients == 0 {
            return fail("replication.slave_clients", "slave clients run the DFS workload's mix: set dfs_workload.clients too");
        }
        Ok(())
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

/// Checks `[[calls]]` against the deployment (run by `crate::load`, after the faults' schedule):
/// each call inside the run (`run_end_s`: safety phase plus liveness bound), a known function with
/// its arguments, a target for which `target_exists`, and an expected outcome that is `ok` or an
/// error code.
pub(crate) fn validate_calls(calls: &[CallSpec], run_end_s: f64, target_exists: impl Fn(&str) -> bool) -> Result<(), (String, String)> {
    if calls.len() > LIST_MAX {
        return fail("calls", format!("{} calls, more than {LIST_MAX}", calls.len()));
    }
    for (i, c) in calls.iter().enumerate() {
        let field = |name: &str| format!("calls[{i}].{name}");
        if !(c.at_s >= 0.0 && c.at_s < run_end_s) {
            return fail(&field("at_s"), format!("{} is outside the run [0, {})", c.at_s, run_end_s));
        }
        c.to_call().map_err(|(f, reason)| (field(&f), reason))?;
        if !target_exists(&c.on) {
            return fail(&field("on"), format!("unknown target {:?} (a node name, or CLUSTER.controller / CLUSTER.datanode)", c.on));
        }
        if c.expect.is_empty() || !c.expect.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
            return fail(&field("expect"), format!("\"ok\" or an error code, got {:?}", c.expect));
        }
    }
    Ok(())
}

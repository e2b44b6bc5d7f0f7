//! The design sections of the replica protocol `dolphindb-2pc` (`[cluster.replica] design`):
//! `[dfs]`, the timing of DolphinDB's two-phase-commit DFS protocol, and `[dfs_workload]`, the
//! clients that run DolphinDB's operation mix through the data nodes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use ccrsim_model::dfs::OperationKind;

use super::{HOUR_MS, ROWS_MAX, Scenario, fail, number, off_or_within, operations_bounded, per_client_rate, positive, probability, within};

/// Clients that run the DFS operation mix through the data nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DfsWorkloadSection {
    /// Client nodes (0: none).
    pub clients: u32,
    /// Operations in flight per client at most. The clients are open-loop: they issue at
    /// `ops_per_s` whatever the answers take, so this only caps what may pile up behind faults.
    pub lanes_per_client: u32,
    /// Operations per simulated second, over all clients.
    pub ops_per_s: f64,
    /// An operation without answer after this long ends unknown.
    pub op_timeout_ms: u64,
    /// Databases the clients create and use (`dfs://db0`, ...).
    pub databases: u32,
    /// Tables per database.
    pub tables_per_db: u32,
    /// Rows per APPEND or UPSERT, uniform in `[min, max]`.
    #[serde(deserialize_with = "crate::env::pair")]
    pub rows: [u32; 2],
    /// Share of operations made invalid on purpose.
    pub invalid_share: f64,
    /// Clients re-read the catalog this often.
    pub catalog_refresh_ms: u64,
    /// Weight of each operation type (DolphinDB's operationType names).
    pub mix: BTreeMap<String, u32>,
    /// Weight of queries (selects over a table's partitions, judged by `reads`), on the scale of
    /// the mix's weights (0: no reads).
    pub query_weight: u32,
}

impl Default for DfsWorkloadSection {
    fn default() -> Self {
        let mix = [
            ("APPEND", 30),
            ("APPEND_CHUNK_GRANULARITY", 10),
            ("SQL_DELETE", 6),
            ("SQL_UPDATE", 6),
            ("UPSERT", 8),
            ("DROP_TABLE", 1),
            ("DROP_PARTITION", 2),
            ("DROP_DB", 1),
            ("ADD_RANGE_PARTITION", 2),
            ("ADD_VALUE_PARTITION", 2),
            ("CREATE_DOMAIN", 1),
            ("CREATE_TABLE", 1),
            ("CREATE_PARTITIONED_TABLE", 1),
            ("ADD_COLUMN", 2),
            ("DROP_COLUMN", 1),
            ("RENAME_TABLE", 1),
            ("TRUNCATE_TABLE", 1),
            ("REPLACE_COLUMN", 1),
            ("SET_COLUMN_COMMENT", 2),
            ("RENAME_COLUMN", 1),
        ]
        .into_iter()
        .map(|(k, w)| (k.to_string(), w))
        .collect();
        Self {
            clients: 0,
            lanes_per_client: 2,
            ops_per_s: 0.0,
            op_timeout_ms: 5000,
            databases: 2,
            tables_per_db: 2,
            rows: [1, 5],
            invalid_share: 0.05,
            catalog_refresh_ms: 2000,
            mix,
            query_weight: 0,
        }
    }
}

impl DfsWorkloadSection {
    /// The mix as operation kinds (names validated when the scenario was parsed).
    pub fn mix_kinds(&self) -> Vec<(OperationKind, u32)> {
        self.mix.iter().filter_map(|(k, w)| OperationKind::from_name(k).map(|k| (k, *w))).collect()
    }

    /// Checks `[dfs_workload]`; of the rest of `scenario` it reads the master's data nodes and the
    /// safety phase (what the clients issue in it is bounded). Every field is checked, with or
    /// without clients; the rate must be positive only with them.
    pub(super) fn validate(&self, scenario: &Scenario) -> Result<(), (String, String)> {
        within("dfs_workload.clients", self.clients.into(), 0, 64)?;
        if self.clients > 0 && scenario.cluster.master.data_nodes == 0 {
            return fail("dfs_workload.clients", "DFS clients need data nodes (cluster.master.data_nodes)");
        }
        within("dfs_workload.lanes_per_client", self.lanes_per_client.into(), 1, 1024)?;
        number("dfs_workload.ops_per_s", self.ops_per_s, 0.0, 64_000.0)?;
        within("dfs_workload.op_timeout_ms", self.op_timeout_ms, 1, HOUR_MS)?;
        within("dfs_workload.databases", self.databases.into(), 1, 64)?;
        within("dfs_workload.tables_per_db", self.tables_per_db.into(), 1, 64)?;
        super::pair_within("dfs_workload.rows", &self.rows, 1, 10_000)?;
        probability("dfs_workload.invalid_share", self.invalid_share)?;
        within("dfs_workload.catalog_refresh_ms", self.catalog_refresh_ms, 1, HOUR_MS)?;
        for (name, weight) in &self.mix {
            if OperationKind::from_name(name).is_none() {
                let names: Vec<&str> = OperationKind::ALL.iter().map(|k| k.name()).collect();
                return fail(&format!("dfs_workload.mix.{name}"), format!("unknown operation type (types: {})", names.join(", ")));
            }
            within(&format!("dfs_workload.mix.{name}"), (*weight).into(), 0, 1_000_000)?;
        }
        within("dfs_workload.query_weight", self.query_weight.into(), 0, 1_000_000)?;
        if self.clients == 0 {
            return Ok(());
        }
        positive("dfs_workload.ops_per_s", self.ops_per_s, 64_000.0)?;
        per_client_rate("dfs_workload.ops_per_s", self.ops_per_s, self.clients)?;
        operations_bounded("dfs_workload.ops_per_s", self.ops_per_s, &scenario.run)?;
        let rows = self.ops_per_s * scenario.run.safety_s * f64::from(self.rows[1]);
        if rows > ROWS_MAX {
            return fail(
                "dfs_workload.rows",
                format!(
                    "up to {} rows per operation at dfs_workload.ops_per_s over run.safety_s write up to {rows:.0} rows, more than the {ROWS_MAX} one run may write",
                    self.rows[1]
                ),
            );
        }
        if self.mix.values().all(|w| *w == 0) {
            return fail("dfs_workload.mix", "needs at least one positive weight");
        }
        Ok(())
    }
}

/// Timing of the DFS protocol (defaults shown in docs/scenarios.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DfsSection {
    /// Data node heartbeat period.
    pub heartbeat_ms: u64,
    /// Phase one of 2PC must finish within this.
    pub prepare_timeout_ms: u64,
    /// Participants get this long to acknowledge a commit before stragglers are left stale.
    pub commit_timeout_ms: u64,
    /// A data node resends a controller request after this long.
    pub request_retry_ms: u64,
    /// A prepare without decision for this long is in doubt.
    pub in_doubt_ms: u64,
    /// An operation whose BEGIN finds no controller for this long fails.
    pub begin_timeout_ms: u64,
    /// A chunk log is compacted after this many records.
    pub compaction_records: u32,
    /// A data node reads back one replica's files this often to find latent corruption (0: never).
    pub scrub_interval_ms: u64,
    /// A data node is online if it sent a heartbeat within this.
    pub online_window_ms: u64,
    /// The leader rolls back (or completes) a transaction idle this long.
    pub transaction_timeout_ms: u64,
    /// A recovery lock is released after this long.
    pub recovery_lock_timeout_ms: u64,
}

impl Default for DfsSection {
    fn default() -> Self {
        Self {
            heartbeat_ms: 1000,
            prepare_timeout_ms: 1000,
            commit_timeout_ms: 1000,
            request_retry_ms: 300,
            in_doubt_ms: 3000,
            begin_timeout_ms: 5000,
            compaction_records: 64,
            scrub_interval_ms: 100,
            online_window_ms: 3000,
            transaction_timeout_ms: 4000,
            recovery_lock_timeout_ms: 5000,
        }
    }
}

impl DfsSection {
    /// Checks `[dfs]`, which depends on nothing else in the scenario (`_scenario` keeps the
    /// signature of every design section's check).
    pub(super) fn validate(&self, _scenario: &Scenario) -> Result<(), (String, String)> {
        for (field, v) in [
            ("dfs.heartbeat_ms", self.heartbeat_ms),
            ("dfs.prepare_timeout_ms", self.prepare_timeout_ms),
            ("dfs.commit_timeout_ms", self.commit_timeout_ms),
            ("dfs.request_retry_ms", self.request_retry_ms),
            ("dfs.in_doubt_ms", self.in_doubt_ms),
            ("dfs.begin_timeout_ms", self.begin_timeout_ms),
            ("dfs.online_window_ms", self.online_window_ms),
            ("dfs.transaction_timeout_ms", self.transaction_timeout_ms),
            ("dfs.recovery_lock_timeout_ms", self.recovery_lock_timeout_ms),
        ] {
            within(field, v, 1, HOUR_MS)?;
        }
        within("dfs.compaction_records", self.compaction_records.into(), 1, 1_000_000)?;
        off_or_within("dfs.scrub_interval_ms", self.scrub_interval_ms, 1, HOUR_MS)?;
        if self.online_window_ms <= self.heartbeat_ms {
            return fail("dfs.online_window_ms", "must exceed dfs.heartbeat_ms, or live nodes look offline between heartbeats");
        }
        if self.in_doubt_ms <= self.prepare_timeout_ms + self.request_retry_ms {
            return fail(
                "dfs.in_doubt_ms",
                "must exceed dfs.prepare_timeout_ms + dfs.request_retry_ms, or healthy transactions are rolled back as in doubt",
            );
        }
        Ok(())
    }
}

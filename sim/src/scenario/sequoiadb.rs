//! The design sections of the replica protocol `sequoiadb-synclog` (`[cluster.replica] design`):
//! `[sequoiadb]`, the replica groups and their options (named as SequoiaDB's, units last), and
//! `[sequoiadb_workload]`, the coordinator sessions that write and read documents.
//!
//! The cluster's shape: the catalog is the master's controller group (`cluster.master.controllers`),
//! and the data nodes (`cluster.master.data_nodes`) are `groups` x `nodes_per_group`: data node
//! `i` (`master.datanode.i`) is node `i % nodes_per_group` of group `i / nodes_per_group`.
//! SequoiaDB's ranges are cited from its option manager (pmd/pmdOptionsMgr.cpp) and replica set
//! (cls/clsReplicateSet.cpp) as ../shared/reference/sequoiadb-replica-group.md reads them.

use serde::{Deserialize, Serialize};

use super::{HOUR_MS, Scenario, fail, operations_bounded, positive, within};

/// The replica protocol's name, as `[cluster.replica] design` gives it.
pub const SEQUOIADB: &str = "sequoiadb-synclog";

/// The largest ReplSize SequoiaDB accepts (`replSizeCheck`: outside [-1, 7] is INVALIDARG), and the
/// most nodes a group has.
const GROUP_NODES_MAX: u32 = 7;

/// One collection (its id is its place in the list), in the group that holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSpec {
    /// The group that holds it (0-based; default: its place in the list modulo `groups`).
    #[serde(default)]
    pub group: Option<u32>,
    /// ReplSize: `1`..`7` nodes (the primary included), `0` every node, `-1` every alive node.
    pub repl_size: i64,
}

/// The replica groups (`[sequoiadb]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SequoiadbSection {
    /// Data groups.
    pub groups: u32,
    /// Nodes of each group.
    pub nodes_per_group: u32,
    /// `logfilesz`: the size of one sync-log file, in bytes (SequoiaDB: MB; small here so that
    /// the log rolls over within a run).
    pub log_file_size_bytes: u64,
    /// `logfilenum`: the sync-log files a node keeps in its circle.
    pub log_file_count: u32,
    /// `logbuffsize`: bytes of the newest records a node keeps in memory (a secondary whose next
    /// record is in there is a PEER of it, else it catches up from the files).
    pub log_buff_size_bytes: u64,
    /// Data nodes in no group at the start (after the groups' nodes), for `addNode` calls.
    pub spare_nodes: u32,
    /// `sharingbreak`: a node that sent no heartbeat for this long is not alive.
    pub sharing_break_ms: u64,
    /// The heartbeat ("sharing beat") period (CLS_SHARING_BETA_INTERVAL).
    pub heartbeat_ms: u64,
    /// How long a write waits for ReplSize confirmations (`waitSyncTimeout`).
    pub wait_sync_timeout_ms: u64,
    /// `consultrollbacklogon`: keep the records a CONSULT rolls back.
    pub consult_rollback_log_on: bool,
    /// The collections.
    pub collections: Vec<CollectionSpec>,
    /// `PreferredInstance` of reads: `M` (the primary), `S` (a secondary), `A` (any node).
    pub preferred_instance: String,
    /// `PreferredPeriod`: how long a session keeps reading from the node it last used, in ms; `0`
    /// never, `-1` for ever.
    pub preferred_period_ms: i64,
    /// Management calls at fixed times.
    pub calls: Vec<SeqCallSpec>,
}

/// A management call of `sequoiadb-synclog` at a fixed time (`[[sequoiadb.calls]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqCallSpec {
    /// When, in simulated seconds (inside the run).
    pub at_s: f64,
    /// `addNode`, `removeNode`, `setWeight` (made on the controller leader) or `stepDown` (made on
    /// a data node: the group's primary steps down, another node answers `not_primary`).
    pub call: String,
    /// The group (0-based).
    pub group: u32,
    /// The data node (`master.datanode.N`'s N) of `addNode`, `removeNode`, `setWeight`.
    #[serde(default)]
    pub node: Option<u32>,
    /// The weight `setWeight` gives (1..=100).
    #[serde(default)]
    pub weight: Option<u32>,
    /// Where a `stepDown` is made: a data node's name (default: the first running data node).
    #[serde(default)]
    pub on: Option<String>,
    /// The expected outcome: `ok`, `refused`, `not_primary`, `no_part`.
    #[serde(default = "default_expect")]
    pub expect: String,
}

fn default_expect() -> String {
    "ok".into()
}

/// The outcome codes a call may expect.
pub const SEQ_CALL_OUTCOMES: [&str; 5] = ["ok", "refused", "not_primary", "no_part", "unavailable"];

impl Default for SequoiadbSection {
    fn default() -> Self {
        Self {
            groups: 2,
            nodes_per_group: 3,
            log_file_size_bytes: 64 * 1024,
            log_file_count: 4,
            log_buff_size_bytes: 16 * 1024,
            spare_nodes: 0,
            sharing_break_ms: 7000,
            heartbeat_ms: 2000,
            wait_sync_timeout_ms: 10_000,
            consult_rollback_log_on: false,
            collections: vec![CollectionSpec { group: None, repl_size: 1 }, CollectionSpec { group: None, repl_size: -1 }],
            preferred_instance: "M".into(),
            preferred_period_ms: 60_000,
            calls: Vec::new(),
        }
    }
}

impl SequoiadbSection {
    /// The data nodes: the groups' and the spare ones.
    pub fn data_nodes(&self) -> u32 {
        self.groups * self.nodes_per_group + self.spare_nodes
    }

    /// The group data node `i` of the cluster starts in (`None`: a spare node).
    pub fn group_of_node(&self, i: u32) -> Option<u32> {
        let group = i / self.nodes_per_group.max(1);
        (group < self.groups).then_some(group)
    }

    /// The group of collection `index`.
    pub fn group_of(&self, index: usize) -> u32 {
        self.collections[index].group.unwrap_or(index as u32 % self.groups.max(1))
    }

    /// Checks `[sequoiadb]`: every field's range always; that the master's data nodes are the
    /// groups' only when the scenario runs this design.
    pub(super) fn validate(&self, scenario: &Scenario) -> Result<(), (String, String)> {
        within("sequoiadb.groups", self.groups.into(), 1, 16)?;
        within("sequoiadb.nodes_per_group", self.nodes_per_group.into(), 1, GROUP_NODES_MAX.into())?;
        within("sequoiadb.log_file_size_bytes", self.log_file_size_bytes, 1024, 1 << 30)?;
        within("sequoiadb.log_file_count", self.log_file_count.into(), 2, 1024)?;
        within("sequoiadb.log_buff_size_bytes", self.log_buff_size_bytes, 1024, 1 << 30)?;
        within("sequoiadb.spare_nodes", self.spare_nodes.into(), 0, GROUP_NODES_MAX.into())?;
        // SequoiaDB's own range of `sharingbreak` (pmdOptionsMgr.cpp).
        within("sequoiadb.sharing_break_ms", self.sharing_break_ms, 5000, 300_000)?;
        within("sequoiadb.heartbeat_ms", self.heartbeat_ms, 100, 60_000)?;
        if self.heartbeat_ms * 2 > self.sharing_break_ms {
            return fail(
                "sequoiadb.heartbeat_ms",
                "at most half of sequoiadb.sharing_break_ms, or one lost heartbeat makes a live node look dead",
            );
        }
        within("sequoiadb.wait_sync_timeout_ms", self.wait_sync_timeout_ms, 0, HOUR_MS)?;
        self.validate_collections()?;
        self.validate_calls(scenario)?;
        if !matches!(self.preferred_instance.as_str(), "M" | "S" | "A") {
            return fail("sequoiadb.preferred_instance", format!("must be M, S or A, got {:?}", self.preferred_instance));
        }
        if self.preferred_period_ms != -1 && !(0..=HOUR_MS as i64).contains(&self.preferred_period_ms) {
            return fail(
                "sequoiadb.preferred_period_ms",
                format!("must be -1 (for ever) or 0..={HOUR_MS}, got {}", self.preferred_period_ms),
            );
        }
        if scenario.cluster.replica.design != SEQUOIADB {
            return Ok(());
        }
        if scenario.cluster.master.data_nodes != self.data_nodes() {
            return fail(
                "cluster.master.data_nodes",
                format!(
                    "must be sequoiadb.groups x sequoiadb.nodes_per_group + sequoiadb.spare_nodes = {} x {} + {} = {} (each data node is a member of one group, or spare)",
                    self.groups,
                    self.nodes_per_group,
                    self.spare_nodes,
                    self.data_nodes()
                ),
            );
        }
        if scenario.cluster.slave.is_some() {
            return fail("cluster.slave", "sequoiadb-synclog runs one cluster (its pipeline is \"none\")");
        }
        if scenario.dfs_workload.clients > 0 {
            return fail("dfs_workload.clients", "DFS clients are dolphindb-2pc's; sequoiadb-synclog's are sequoiadb_workload.clients");
        }
        Ok(())
    }

    fn validate_calls(&self, scenario: &Scenario) -> Result<(), (String, String)> {
        if self.calls.len() > super::LIST_MAX {
            return fail("sequoiadb.calls", format!("{} calls, more than {}", self.calls.len(), super::LIST_MAX));
        }
        let run_end_s = scenario.duration_max_s();
        for (i, c) in self.calls.iter().enumerate() {
            let field = |f: &str| format!("sequoiadb.calls[{i}].{f}");
            if !(c.at_s >= 0.0 && c.at_s < run_end_s) {
                return fail(&field("at_s"), format!("{} is outside the run [0, {run_end_s})", c.at_s));
            }
            if c.group >= self.groups {
                return fail(&field("group"), format!("must be a group 0..{}, got {}", self.groups, c.group));
            }
            let needs_node = match c.call.as_str() {
                "addNode" | "removeNode" | "setWeight" => true,
                "stepDown" => false,
                other => return fail(&field("call"), format!("unknown call {other:?} (calls: addNode, removeNode, setWeight, stepDown)")),
            };
            match (needs_node, c.node) {
                (true, None) => return fail(&field("node"), format!("{} needs the data node's number", c.call)),
                (true, Some(n)) if n >= scenario.cluster.master.data_nodes => {
                    return fail(
                        &field("node"),
                        format!("must be a data node 0..{} (cluster.master.data_nodes), got {n}", scenario.cluster.master.data_nodes),
                    );
                }
                (false, Some(_)) => return fail(&field("node"), "stepDown names a group, not a node"),
                _ => {}
            }
            match (c.call == "setWeight", c.weight) {
                (true, None) => return fail(&field("weight"), "setWeight needs a weight"),
                (true, Some(w)) if !(1..=100).contains(&w) => return fail(&field("weight"), format!("must be 1..=100, got {w}")),
                (false, Some(_)) => return fail(&field("weight"), "only setWeight takes a weight"),
                _ => {}
            }
            if c.on.is_some() && c.call != "stepDown" {
                return fail(&field("on"), "only stepDown is made on a data node; the others go to the controller leader");
            }
            let data_node_number = |on: &str| on.strip_prefix("master.datanode.").and_then(|n| n.parse::<u32>().ok());
            if let Some(on) = &c.on
                && data_node_number(on).is_none_or(|n| n >= scenario.cluster.master.data_nodes)
            {
                return fail(
                    &field("on"),
                    format!("must name a data node, master.datanode.0..{}, got {on:?}", scenario.cluster.master.data_nodes),
                );
            }
            if !SEQ_CALL_OUTCOMES.contains(&c.expect.as_str()) {
                return fail(&field("expect"), format!("must be one of {}, got {:?}", SEQ_CALL_OUTCOMES.join(", "), c.expect));
            }
        }
        Ok(())
    }

    fn validate_collections(&self) -> Result<(), (String, String)> {
        if self.collections.is_empty() || self.collections.len() > 64 {
            return fail("sequoiadb.collections", format!("must list 1..=64 collections, got {}", self.collections.len()));
        }
        for (i, c) in self.collections.iter().enumerate() {
            let field = |f: &str| format!("sequoiadb.collections[{i}].{f}");
            if let Some(g) = c.group
                && g >= self.groups
            {
                return fail(&field("group"), format!("must be a group 0..{}, got {g}", self.groups));
            }
            // replSizeCheck: outside [-1, 7] is SDB_INVALIDARG.
            if !(-1..=i64::from(GROUP_NODES_MAX)).contains(&c.repl_size) {
                return fail(
                    &field("repl_size"),
                    format!("must be -1 (every alive node), 0 (every node) or 1..=7 nodes, got {}", c.repl_size),
                );
            }
        }
        Ok(())
    }
}

/// The coordinator sessions that write and read documents (`[sequoiadb_workload]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SequoiadbWorkloadSection {
    /// Client nodes (0: none).
    pub clients: u32,
    /// Sequential sessions per client (each has one operation in flight).
    pub sessions_per_client: u32,
    /// Operations (writes and reads) per simulated second, over all clients.
    pub ops_per_s: f64,
    /// Weight of inserts in the mix.
    pub insert_weight: u32,
    /// Weight of increments (`$inc` of a document's counter).
    pub increment_weight: u32,
    /// Weight of deletes.
    pub delete_weight: u32,
    /// Weight of reads.
    pub read_weight: u32,
    /// Documents (`_id`s) per collection the sessions work on.
    pub documents_per_collection: u32,
    /// An operation without an answer after this long ends unknown.
    pub op_timeout_ms: u64,
    /// Sessions re-read the catalog this often.
    pub catalog_refresh_ms: u64,
}

impl Default for SequoiadbWorkloadSection {
    fn default() -> Self {
        Self {
            clients: 0,
            sessions_per_client: 2,
            ops_per_s: 0.0,
            insert_weight: 3,
            increment_weight: 5,
            delete_weight: 1,
            read_weight: 4,
            documents_per_collection: 16,
            op_timeout_ms: 15_000,
            catalog_refresh_ms: 2000,
        }
    }
}

impl SequoiadbWorkloadSection {
    /// Checks `[sequoiadb_workload]`; of the rest of `scenario` it reads the design and the safety
    /// phase (what the sessions issue in it is bounded).
    pub(super) fn validate(&self, scenario: &Scenario) -> Result<(), (String, String)> {
        within("sequoiadb_workload.clients", self.clients.into(), 0, 64)?;
        if self.clients > 0 && scenario.cluster.replica.design != SEQUOIADB {
            return fail("sequoiadb_workload.clients", format!("SequoiaDB sessions need [cluster.replica] design = {SEQUOIADB:?}"));
        }
        within("sequoiadb_workload.sessions_per_client", self.sessions_per_client.into(), 1, 64)?;
        super::number("sequoiadb_workload.ops_per_s", self.ops_per_s, 0.0, 64_000.0)?;
        for (field, w) in [
            ("sequoiadb_workload.insert_weight", self.insert_weight),
            ("sequoiadb_workload.increment_weight", self.increment_weight),
            ("sequoiadb_workload.delete_weight", self.delete_weight),
            ("sequoiadb_workload.read_weight", self.read_weight),
        ] {
            within(field, w.into(), 0, 1_000_000)?;
        }
        within("sequoiadb_workload.documents_per_collection", self.documents_per_collection.into(), 1, 100_000)?;
        within("sequoiadb_workload.op_timeout_ms", self.op_timeout_ms, 1, HOUR_MS)?;
        within("sequoiadb_workload.catalog_refresh_ms", self.catalog_refresh_ms, 1, HOUR_MS)?;
        if self.clients == 0 {
            return Ok(());
        }
        positive("sequoiadb_workload.ops_per_s", self.ops_per_s, 64_000.0)?;
        if self.ops_per_s / f64::from(self.clients) > 1000.0 {
            return fail("sequoiadb_workload.ops_per_s", "more than 1000 per client per second");
        }
        operations_bounded("sequoiadb_workload.ops_per_s", self.ops_per_s, &scenario.run)?;
        if self.insert_weight + self.increment_weight + self.delete_weight + self.read_weight == 0 {
            return fail(
                "sequoiadb_workload.insert_weight",
                "the mix needs at least one positive weight (insert, increment, delete, read)",
            );
        }
        Ok(())
    }
}

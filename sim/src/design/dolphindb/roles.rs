//! From a scenario to the role of every node.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;

use super::Dolphindb;
use crate::design::{RoleSpec, metadata_client, raft_config};
use ccrsim_model::deployment::controller::ControllerConfig;
use ccrsim_model::pipeline::dolphindb_async::admin::NodeRole;
use ccrsim_model::pipeline::dolphindb_async::datanode::ReplicationSettings;
use ccrsim_model::pipeline::dolphindb_async::{MasterConfig, ReplConfig, ReplLinks, SlaveConfig};
use ccrsim_model::replica::dolphindb_2pc::client::DfsClientConfig;
use ccrsim_model::replica::dolphindb_2pc::controller::WatchConfig;
use ccrsim_model::replica::dolphindb_2pc::datanode::DataNodeConfig;
use ccrsim_model::replica::dolphindb_2pc::{DfsConfig, ReliabilityLevel};

use crate::scenario::Scenario;
use crate::topology::{ClusterId, NodeKind, Topology};

/// The placement settings of a cluster: `(replication factor, reliability level)`.
pub(crate) fn shape(scenario: &Scenario, cluster: ClusterId) -> (u32, u8) {
    match (cluster, &scenario.cluster.slave) {
        (ClusterId::Slave(_), Some(s)) => (s.replication_factor, s.reliability_level),
        _ => {
            let m = &scenario.cluster.master;
            (m.replication_factor, m.reliability_level)
        }
    }
}

/// The DFS configuration of a cluster.
pub fn dfs_config(scenario: &Scenario, topology: &Topology, cluster: ClusterId) -> DfsConfig {
    let (replication_factor, reliability_level) = shape(scenario, cluster);
    let machine = |n: NodeId| topology.nodes[n as usize].machine.expect("a data node runs on a machine").index;
    DfsConfig {
        data_nodes: topology.data_nodes(cluster).into_iter().map(|n| (n, machine(n))).collect::<BTreeMap<_, _>>(),
        replication_factor: replication_factor as usize,
        reliability: match reliability_level {
            0 => ReliabilityLevel::Nodes,
            1 => ReliabilityLevel::Machines,
            _ => ReliabilityLevel::PreferMachines,
        },
        bugs: scenario.planted_bugs.dfs_state,
    }
}

/// Whether the scenario replicates (it has slaves).
pub fn replicates(scenario: &Scenario) -> bool {
    scenario.cluster.slave.is_some()
}

/// The replication part of a cluster's replicated state.
pub fn repl_config(scenario: &Scenario, topology: &Topology, cluster: ClusterId) -> ReplConfig {
    if !replicates(scenario) {
        return ReplConfig::None;
    }
    let r = &scenario.replication;
    match cluster {
        ClusterId::Master => ReplConfig::Master(MasterConfig {
            slave_num: r.slave_num.unwrap_or(topology.slaves().len() as u32),
            sync_persistence: r.sync_persistence,
            initial_databases: r.databases.clone(),
            bugs: scenario.planted_bugs.master_repl,
        }),
        ClusterId::Slave(k) => {
            let original = topology.original_data_nodes(cluster);
            ReplConfig::Slave(SlaveConfig {
                slave: u32::from(k),
                queues: r.queues.unwrap_or(4 * original.len() as u32),
                all_nodes: topology.data_nodes(cluster),
                original_nodes: original,
                max_failures: r.max_failures,
                db_scope: r.databases.keys().cloned().collect(),
                bugs: scenario.planted_bugs.slave_repl,
            })
        }
    }
}

/// How a controller of `cluster` reaches the other clusters.
fn links(scenario: &Scenario, topology: &Topology, cluster: ClusterId) -> ReplLinks {
    let r = &scenario.replication;
    ReplLinks {
        master_controllers: if cluster == ClusterId::Master { Vec::new() } else { topology.controllers(ClusterId::Master) },
        pull_interval_ms: r.pull_interval_ms,
        pull_batch: r.pull_batch,
        pull_timeout_ms: r.pull_timeout_ms,
        report_interval_ms: r.report_interval_ms,
        redispatch_after_ms: r.redispatch_after_ms,
    }
}

/// The role a node plays for management calls.
pub fn node_role(scenario: &Scenario, kind: NodeKind) -> NodeRole {
    match (replicates(scenario), kind) {
        (false, _) => NodeRole::Unreplicated,
        (true, NodeKind::Controller(ClusterId::Master)) => NodeRole::MasterController,
        (true, NodeKind::Controller(ClusterId::Slave(_))) => NodeRole::SlaveController,
        (true, NodeKind::DataNode(ClusterId::Master)) => NodeRole::MasterDataNode,
        (true, NodeKind::DataNode(ClusterId::Slave(_))) => NodeRole::SlaveDataNode,
        (true, NodeKind::Client | NodeKind::ReplicaClient(_)) => NodeRole::Unreplicated,
    }
}

/// The role spec of every node, by id.
pub fn specs(scenario: &Scenario, topology: &Topology) -> Vec<RoleSpec<Dolphindb>> {
    let t = &scenario.dfs;
    topology
        .nodes
        .iter()
        .map(|node| match node.kind {
            NodeKind::Controller(cluster) => RoleSpec::<Dolphindb>::Controller(ControllerConfig {
                raft: raft_config(scenario, topology, node, cluster),
                replica: dfs_config(scenario, topology, cluster),
                pipeline: repl_config(scenario, topology, cluster),
                pipeline_duties: links(scenario, topology, cluster),
                replica_duties: WatchConfig {
                    online_window_ms: t.online_window_ms,
                    transaction_timeout_ms: t.transaction_timeout_ms,
                    recovery_lock_timeout_ms: t.recovery_lock_timeout_ms,
                    bugs: scenario.planted_bugs.dfs_watch,
                },
                bugs: scenario.planted_bugs.controller,
            }),
            NodeKind::DataNode(cluster) => RoleSpec::<Dolphindb>::DataNode(DataNodeConfig {
                controllers: topology.controllers(cluster),
                heartbeat_ms: t.heartbeat_ms,
                prepare_timeout_ms: t.prepare_timeout_ms,
                commit_timeout_ms: t.commit_timeout_ms,
                request_retry_ms: t.request_retry_ms,
                in_doubt_ms: t.in_doubt_ms,
                begin_timeout_ms: t.begin_timeout_ms,
                compaction_records: t.compaction_records as usize,
                scrub_interval_ms: t.scrub_interval_ms,
                serves_queries: scenario.dfs_workload.query_weight > 0,
                pipeline: ReplicationSettings {
                    role: node_role(scenario, node.kind),
                    sync_persistence: scenario.replication.sync_persistence,
                    async_delay_ms: scenario.replication.async_delay_ms,
                    bugs: scenario.planted_bugs.repl_data_node,
                },
                bugs: scenario.planted_bugs.data_node,
            }),
            NodeKind::Client => RoleSpec::<Dolphindb>::Client(metadata_client(scenario, topology)),
            NodeKind::ReplicaClient(cluster) => {
                let w = &scenario.dfs_workload;
                let clients = topology.replica_clients(cluster).len().max(1) as f64;
                // The master's clients share the workload's rate; a slave's clients write at the
                // rate of one master client (their writes to replicated databases are refused).
                let per_client = if cluster == ClusterId::Master { w.ops_per_s / clients } else { w.ops_per_s / f64::from(w.clients) };
                RoleSpec::<Dolphindb>::ReplicaClient(DfsClientConfig {
                    data_nodes: topology.original_data_nodes(cluster),
                    controllers: topology.controllers(cluster),
                    issue_interval_ms: ((1000.0 / per_client).round() as u64).max(1),
                    lanes: w.lanes_per_client,
                    op_timeout_ms: w.op_timeout_ms,
                    mix: w.mix_kinds(),
                    query_weight: w.query_weight,
                    databases: (0..w.databases).map(|i| format!("dfs://db{i}")).collect(),
                    tables_per_db: w.tables_per_db,
                    rows: (w.rows[0], w.rows[1]),
                    invalid_share: w.invalid_share,
                    catalog_refresh_ms: w.catalog_refresh_ms,
                })
            }
        })
        .collect()
}

//! From a scenario to the role of every node.

use std::collections::BTreeMap;

use ccrsim_model::client::ClientConfig;
use ccrsim_model::controller::WatchConfig;
use ccrsim_model::dfs_client::DfsClientConfig;
use ccrsim_model::raft::RaftConfig;
use ccrsim_model::role::RoleSpec;
use ccrsim_model::txn::datanode::DataNodeConfig;
use ccrsim_model::txn::{DfsConfig, ReliabilityLevel};

use crate::scenario::Scenario;
use crate::topology::{ClusterId, NodeKind, Topology};

/// The DFS configuration of a cluster.
pub fn dfs_config(scenario: &Scenario, topology: &Topology, cluster: ClusterId) -> DfsConfig {
    let shape = &scenario.cluster.master;
    let nodes = topology.data_nodes(cluster);
    let machines = shape.machines.unwrap_or(nodes.len().max(1) as u32);
    DfsConfig {
        data_nodes: nodes.iter().enumerate().map(|(i, &n)| (n, i as u32 % machines)).collect::<BTreeMap<_, _>>(),
        replication_factor: shape.replication_factor as usize,
        reliability: match shape.reliability_level {
            0 => ReliabilityLevel::Nodes,
            1 => ReliabilityLevel::Machines,
            _ => ReliabilityLevel::PreferMachines,
        },
        bugs: scenario.planted_bugs.dfs_state,
    }
}

/// The role spec of every node, by id.
pub fn specs(scenario: &Scenario, topology: &Topology) -> Vec<RoleSpec> {
    let raft = &scenario.raft;
    let t = &scenario.dfs;
    topology
        .nodes
        .iter()
        .map(|node| match node.kind {
            NodeKind::Controller(cluster) => RoleSpec::Controller {
                raft: RaftConfig {
                    id: node.id,
                    members: topology.controllers(cluster),
                    election_timeout_ms: (raft.election_timeout_ms[0], raft.election_timeout_ms[1]),
                    heartbeat_ms: raft.heartbeat_ms,
                    max_entries_per_append: raft.max_entries_per_append,
                    snapshot_threshold_entries: raft.snapshot_threshold_entries,
                    bugs: scenario.planted_bugs.raft,
                },
                dfs: dfs_config(scenario, topology, cluster),
                repl: ccrsim_model::repl::ReplConfig::None,
                links: ccrsim_model::repl::ReplLinks {
                    master_controllers: Vec::new(),
                    pull_interval_ms: 100,
                    pull_batch: 64,
                    pull_timeout_ms: 1000,
                    report_interval_ms: 500,
                    redispatch_after_ms: 5000,
                },
                watch: WatchConfig {
                    online_window_ms: t.online_window_ms,
                    transaction_timeout_ms: t.transaction_timeout_ms,
                    recovery_lock_timeout_ms: t.recovery_lock_timeout_ms,
                },
                bugs: scenario.planted_bugs.controller,
            },
            NodeKind::DataNode(cluster) => RoleSpec::DataNode(DataNodeConfig {
                controllers: topology.controllers(cluster),
                heartbeat_ms: t.heartbeat_ms,
                prepare_timeout_ms: t.prepare_timeout_ms,
                commit_timeout_ms: t.commit_timeout_ms,
                request_retry_ms: t.request_retry_ms,
                in_doubt_ms: t.in_doubt_ms,
                begin_timeout_ms: t.begin_timeout_ms,
                compaction_records: t.compaction_records as usize,
                scrub_interval_ms: t.scrub_interval_ms,
                replication: Default::default(),
                bugs: scenario.planted_bugs.data_node,
            }),
            NodeKind::Client => {
                let w = &scenario.workload;
                let per_client = w.proposals_per_s / f64::from(w.clients);
                RoleSpec::Client(ClientConfig {
                    controllers: topology.controllers(ClusterId::Master),
                    issue_interval_ms: ((1000.0 / per_client).round() as u64).max(1),
                    lanes: w.lanes_per_client,
                    retry_timeout_ms: w.retry_timeout_ms,
                })
            }
            NodeKind::DfsClient => {
                let w = &scenario.dfs_workload;
                let per_client = w.ops_per_s / f64::from(w.clients);
                RoleSpec::DfsClient(DfsClientConfig {
                    data_nodes: topology.data_nodes(ClusterId::Master),
                    controllers: topology.controllers(ClusterId::Master),
                    issue_interval_ms: ((1000.0 / per_client).round() as u64).max(1),
                    lanes: w.lanes_per_client,
                    op_timeout_ms: w.op_timeout_ms,
                    mix: w.mix_kinds(),
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

//! From a scenario to the role of every node of SequoiaDB's deployment: the catalog is the master's
//! controller group, the data nodes are the groups' members (data node `i` is node
//! `i % nodes_per_group` of group `i / nodes_per_group`, then the spare nodes), the clients are
//! coordinator sessions.

use ccrsim_model::deployment::controller::ControllerConfig;
use ccrsim_model::replica::sequoiadb::catalog::DEFAULT_WEIGHT;
use ccrsim_model::replica::sequoiadb::types::{PreferredInstance, ReplSize};
use ccrsim_model::replica::sequoiadb::{
    CatalogConfig, CatalogDutiesConfig, CollectionConfig, GroupConfig, MemberConfig, SeqClientConfig, SeqMix, SeqNodeConfig,
};

use super::Sequoiadb;
use crate::design::{RoleSpec, metadata_client, raft_config};
use crate::scenario::Scenario;
use crate::topology::{ClusterId, NodeKind, Topology};

/// The catalog's plan: the groups with their first members, the collections.
pub fn catalog_config(scenario: &Scenario, topology: &Topology) -> CatalogConfig {
    let s = &scenario.sequoiadb;
    let data_nodes = topology.data_nodes(ClusterId::Master);
    let groups = (0..s.groups)
        .map(|g| GroupConfig {
            id: g,
            members: (0..data_nodes.len() as u32)
                .filter(|&i| s.group_of_node(i) == Some(g))
                .map(|i| MemberConfig { node: data_nodes[i as usize], weight: DEFAULT_WEIGHT })
                .collect(),
        })
        .collect();
    let collections = (0..s.collections.len())
        .map(|i| CollectionConfig { id: i as u32, group: s.group_of(i), repl_size: repl_size(s.collections[i].repl_size) })
        .collect();
    let plan = CatalogConfig { groups, collections };
    assert_eq!(plan.invalid(), None, "the scenario's validation admits only deployable plans");
    plan
}

/// SequoiaDB's ReplSize from its number (validated to -1..=7).
fn repl_size(n: i64) -> ReplSize {
    match n {
        -1 => ReplSize::AllAlive,
        0 => ReplSize::All,
        n => ReplSize::Nodes(u8::try_from(n).expect("validated to 1..=7")),
    }
}

/// `PreferredInstance` from its letter (validated to M, S, A).
fn preferred_instance(letter: &str) -> PreferredInstance {
    match letter {
        "M" => PreferredInstance::Primary,
        "S" => PreferredInstance::Secondary,
        _ => PreferredInstance::Any,
    }
}

/// A data node's settings.
fn node_config(scenario: &Scenario, topology: &Topology) -> SeqNodeConfig {
    let s = &scenario.sequoiadb;
    let config = SeqNodeConfig {
        controllers: topology.controllers(ClusterId::Master),
        log_file_size_bytes: s.log_file_size_bytes,
        log_file_num: s.log_file_count,
        log_buff_size_bytes: s.log_buff_size_bytes,
        sharing_break_ms: s.sharing_break_ms,
        heartbeat_ms: s.heartbeat_ms,
        wait_sync_timeout_ms: s.wait_sync_timeout_ms,
        consult_rollback_log_on: s.consult_rollback_log_on,
        bugs: scenario.planted_bugs.sequoiadb,
    };
    assert_eq!(config.invalid(), None, "the scenario's validation admits only runnable data nodes");
    config
}

/// A client's settings: its sessions share the workload's rate.
fn client_config(scenario: &Scenario, topology: &Topology) -> SeqClientConfig {
    let s = &scenario.sequoiadb;
    let w = &scenario.sequoiadb_workload;
    let sessions = f64::from(w.clients * w.sessions_per_client);
    let per_session = w.ops_per_s / sessions;
    let config = SeqClientConfig {
        controllers: topology.controllers(ClusterId::Master),
        sessions: w.sessions_per_client,
        issue_interval_ms: ((1000.0 / per_session).round() as u64).max(1),
        op_timeout_ms: w.op_timeout_ms,
        mix: SeqMix { insert: w.insert_weight, increment: w.increment_weight, delete: w.delete_weight, read: w.read_weight },
        docs_per_collection: u64::from(w.documents_per_collection),
        preferred_instance: preferred_instance(&s.preferred_instance),
        preferred_period_ms: s.preferred_period_ms,
        catalog_refresh_ms: w.catalog_refresh_ms,
        bugs: scenario.planted_bugs.sequoiadb,
    };
    assert_eq!(config.invalid(), None, "the scenario's validation admits only runnable clients");
    config
}

/// The role spec of every node, by id.
pub fn specs(scenario: &Scenario, topology: &Topology) -> Vec<RoleSpec<Sequoiadb>> {
    topology
        .nodes
        .iter()
        .map(|node| match node.kind {
            NodeKind::Controller(cluster) => RoleSpec::<Sequoiadb>::Controller(ControllerConfig {
                raft: raft_config(scenario, topology, node, cluster),
                replica: catalog_config(scenario, topology),
                replica_duties: CatalogDutiesConfig {},
                pipeline: (),
                pipeline_duties: (),
                bugs: scenario.planted_bugs.controller,
            }),
            NodeKind::DataNode(_) => RoleSpec::<Sequoiadb>::DataNode(node_config(scenario, topology)),
            NodeKind::Client => RoleSpec::<Sequoiadb>::Client(metadata_client(scenario, topology)),
            NodeKind::ReplicaClient(_) => RoleSpec::<Sequoiadb>::ReplicaClient(client_config(scenario, topology)),
        })
        .collect()
}

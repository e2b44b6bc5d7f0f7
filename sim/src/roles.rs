//! From a scenario to the role of every node.

use ccrsim_model::client::ClientConfig;
use ccrsim_model::raft::RaftConfig;
use ccrsim_model::role::RoleSpec;

use crate::scenario::Scenario;
use crate::topology::{ClusterId, NodeKind, Topology};

/// The role spec of every node, by id.
pub fn specs(scenario: &Scenario, topology: &Topology) -> Vec<RoleSpec> {
    let raft = &scenario.raft;
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
                bugs: scenario.planted_bugs.controller,
            },
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
        })
        .collect()
}

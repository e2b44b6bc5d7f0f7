//! DFS liveness after heal (DolphinDB HA: transaction resolution and online recovery): once every
//! fault is healed, every data node runs, every transaction is decided and ended, no participant is
//! left in doubt, every stale replica has been recovered, and every operation got its answer.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::state::ReplicaState;

use crate::world::{Node, NodeStatus};

/// Name of the checker.
pub const NAME: &str = "dfs-liveness";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB HA: in-doubt transactions are resolved and stale replicas recovered once failures heal";

/// Why the DFS of a cluster has not settled yet, or `None`.
pub fn pending(nodes: &[Node], controllers: &[NodeId], data_nodes: &[NodeId], clients: &[NodeId]) -> Option<String> {
    if data_nodes.is_empty() {
        return None;
    }
    for &d in data_nodes {
        let n = &nodes[d as usize];
        let Some(dn) = n.role.as_ref().and_then(|r| r.as_data_node()).filter(|_| n.status == NodeStatus::Up) else {
            return Some(format!("data node {d} is not running ({:?})", n.status));
        };
        if let Some((chunk, tid)) = dn.open_prepares().first() {
            return Some(format!("data node {d} is in doubt about transaction {tid} on chunk {chunk}"));
        }
        if dn.coordinating() > 0 {
            return Some(format!("data node {d} still coordinates {} operations", dn.coordinating()));
        }
    }
    for &c in clients {
        if let Some(client) = nodes[c as usize].role.as_ref().and_then(|r| r.as_replica_client())
            && client.in_flight() > 0
        {
            return Some(format!("client {c} waits for {} operations", client.in_flight()));
        }
    }
    let (_, leader) = crate::world::running_leader(nodes, controllers)?;
    let dfs = &leader.raft().state_machine().replica;
    if let Some(tid) = dfs.open_transactions().keys().next() {
        return Some(format!("transaction {tid} is still open at the controller"));
    }
    for (chunk, meta) in dfs.chunks() {
        for (&node, r) in &meta.replicas {
            if r.state == ReplicaState::Stale {
                return Some(format!("replica of chunk {chunk} on data node {node} is stale (not recovered yet)"));
            }
            let held = nodes[node as usize]
                .role
                .as_ref()
                .and_then(|r| r.as_data_node())
                .and_then(|dn| dn.replicas().find(|(c, _, _)| c == chunk).map(|(_, v, _)| v));
            if meta.version > 0 && held != Some(meta.version) {
                return Some(format!("data node {node} holds chunk {chunk} at {held:?}, the chunk is at {}", meta.version));
            }
        }
    }
    None
}

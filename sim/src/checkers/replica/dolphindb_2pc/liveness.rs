//! DFS liveness after heal (DolphinDB HA: transaction resolution and online recovery): once every
//! fault is healed, every data node runs, every transaction is decided and ended, no participant is
//! left in doubt (no open prepare), every stale replica has been recovered and every complete one is
//! at its chunk's version, and every operation got its answer.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::ReplicaClient;
use ccrsim_model::replica::dolphindb_2pc::DfsFact;
use ccrsim_model::replica::dolphindb_2pc::state::ReplicaState;

use super::{On2pc, Scope};
use crate::checkers::Checker;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "dfs-liveness";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB HA: in-doubt transactions are resolved and stale replicas recovered once failures heal";

/// Reads the cluster's real state after heal (stateless).
#[derive(Debug, Default)]
pub struct DfsLiveness;

impl<'a, D: On2pc> Checker<DfsLedger, DfsFact, Scope<'a, D>> for DfsLiveness {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn pending(&self, _: &DfsLedger, scope: &Scope<'a, D>) -> Option<String> {
        pending(scope).map(|reason| format!("{}: {reason}", scope.cluster.name()))
    }
}

/// Why the DFS of a cluster has not settled yet, or `None`.
fn pending<D: On2pc>(scope: &Scope<'_, D>) -> Option<String> {
    let view = &scope.view;
    if scope.data_nodes.is_empty() {
        return None;
    }
    for &d in scope.data_nodes {
        let Some(dn) = view.data_node(d) else {
            return Some(format!("data node {d} is not running ({:?})", view.status(d)));
        };
        if let Some((chunk, tid)) = dn.open_prepares().first() {
            return Some(format!("data node {d} is in doubt about transaction {tid} on chunk {chunk}"));
        }
        if dn.coordinating() > 0 {
            return Some(format!("data node {d} still coordinates {} operations", dn.coordinating()));
        }
    }
    for &c in scope.clients {
        if let Some(client) = view.role(c).and_then(|r| r.as_replica_client())
            && ReplicaClient::<D::R, D::P>::in_flight(client) > 0
        {
            return Some(format!("client {c} waits for {} operations", ReplicaClient::<D::R, D::P>::in_flight(client)));
        }
    }
    let (_, leader) = view.leader_among(scope.controllers)?;
    let dfs = &leader.raft().state_machine().replica;
    if let Some(tid) = dfs.open_transactions().keys().next() {
        return Some(format!("transaction {tid} is still open at the controller"));
    }
    for (chunk, meta) in dfs.chunks() {
        for (&node, r) in &meta.replicas {
            if r.state == ReplicaState::Stale {
                return Some(format!("replica of chunk {chunk} on data node {node} is stale (not recovered yet)"));
            }
            let held: Option<u64> = view
                .role(node as NodeId)
                .and_then(|r| r.as_data_node())
                .and_then(|dn| dn.replicas().find(|(c, _, _)| c == chunk).map(|(_, v, _)| v));
            if meta.version > 0 && held != Some(meta.version) {
                return Some(format!("data node {node} holds chunk {chunk} at {held:?}, the chunk is at {}", meta.version));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::test_support::Bench;
    use crate::topology::ClusterId;

    /// A lone leading controller and one data node, as `prepare` leaves them, and the verdict.
    fn pending_after(prepare: impl FnOnce(&mut Bench, NodeId)) -> Option<String> {
        let mut bench = Bench::master(1, 1);
        let (c, d) = (bench.node("master.controller.0"), bench.node("master.datanode.0"));
        bench.elect(c);
        prepare(&mut bench, d);
        let scope = Scope { view: bench.view(), cluster: ClusterId::Master, controllers: &[c], data_nodes: &[d], clients: &[] };
        DfsLiveness.pending(&DfsLedger::default(), &scope)
    }

    #[test]
    fn an_idle_cluster_with_every_data_node_up_settled() {
        assert_eq!(pending_after(|_, _| {}), None);
    }

    #[test]
    fn a_data_node_that_does_not_run_is_pending() {
        let reason = pending_after(|bench, d| bench.crash(d)).expect("pending");
        assert!(reason.contains("master: data node 1 is not running (Down)"), "{reason}");
    }
}

//! DFS liveness after heal (DolphinDB HA: transaction resolution and online recovery): once every
//! fault is healed, every data node runs, every transaction is decided and ended, no participant is
//! left in doubt (no open prepare), every stale replica has been recovered and every complete one is
//! at its chunk's version, every operation got its answer, and the controllers hold no lock of a
//! transaction that ended (a leaked lock fails every later write of its partition with Conflict,
//! an answer no other checker questions).

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::ReplicaClient;
use ccrsim_model::replica::dolphindb_2pc::DfsFact;
use std::collections::BTreeMap;

use ccrsim_model::dfs::plan::LockKey;
use ccrsim_model::replica::dolphindb_2pc::state::{LockOwner, ReplicaState, Tid};

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
    if let Some(leak) = leaked_lock(dfs.locks(), dfs.open_transactions()) {
        return Some(leak);
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

/// A lock the controllers' table gives to a transaction that is not open (recovery locks are
/// released when their recovery ends, which the stale replicas above wait for).
fn leaked_lock<T>(locks: &BTreeMap<LockKey, LockOwner>, open: &BTreeMap<Tid, T>) -> Option<String> {
    locks.iter().find_map(|(key, owner)| match owner {
        LockOwner::Tx(tid) if !open.contains_key(tid) => Some(format!("lock {key:?} still held by transaction {tid}, which ended")),
        _ => None,
    })
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
    fn a_lock_of_a_transaction_that_ended_is_leaked() {
        let key = |t: &str| LockKey::Table("dfs://a".to_string(), t.to_string());
        let locks = BTreeMap::from([(key("t"), LockOwner::Tx(7)), (key("u"), LockOwner::Recovery(3, 1))]);
        // Transaction 7 still open: its lock is its own; the recovery lock is not a transaction's.
        assert_eq!(leaked_lock(&locks, &BTreeMap::from([(7, ())])), None);
        let leak = leaked_lock(&locks, &BTreeMap::<Tid, ()>::new()).expect("leaked");
        assert!(leak.contains("still held by transaction 7, which ended"), "{leak}");
    }

    #[test]
    fn a_data_node_that_does_not_run_is_pending() {
        let reason = pending_after(|bench, d| bench.crash(d)).expect("pending");
        assert!(reason.contains("master: data node 1 is not running (Down)"), "{reason}");
    }
}

//! Replica placement (DolphinDB's dfsReplicationFactor and dfsReplicaReliabilityLevel): a
//! transaction begins only while `replication_factor` data nodes of its cluster are online (the
//! data nodes its BEGIN counted online, which `TxBegun` carries); every new chunk gets `replication_factor` replicas on distinct online data nodes of its cluster; at
//! reliability level 1 on distinct machines (a write that cannot have them fails `Unavailable`, so
//! no chunk is placed otherwise); at level 2 on distinct machines whenever the data nodes online at
//! its BEGIN span that many machines. Judged on each controller's `ChunkPlaced` report, with the
//! machines the checker reads from the topology (never the model's placement or its machine map).

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::DfsFact;

use crate::checkers::Checker;
use crate::topology::{ClusterId, Machine, Topology};

/// Name of the checker.
pub const NAME: &str = "replica-placement";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB high availability: dfsReplicationFactor replicas, dfsReplicaReliabilityLevel (seed 004 §2)";

/// How a cluster places replicas, as its scenario sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementRules {
    /// dfsReplicationFactor.
    pub replication_factor: usize,
    /// dfsReplicaReliabilityLevel: 0 any distinct data nodes, 1 distinct machines or nothing, 2
    /// distinct machines when the online data nodes allow it.
    pub reliability_level: u8,
    /// The machine of each data node of the cluster.
    pub machines: BTreeMap<NodeId, Machine>,
}

impl PlacementRules {
    /// The rules of `cluster`: its data nodes' machines as the topology has them.
    pub fn of(topology: &Topology, cluster: ClusterId, replication_factor: usize, reliability_level: u8) -> Self {
        let machines =
            topology.data_nodes(cluster).into_iter().filter_map(|n| topology.nodes[n as usize].machine.map(|m| (n, m))).collect();
        Self { replication_factor, reliability_level, machines }
    }

    fn machines_of<'a>(&self, nodes: impl IntoIterator<Item = &'a NodeId>) -> BTreeSet<Machine> {
        nodes.into_iter().filter_map(|n| self.machines.get(n).copied()).collect()
    }
}

/// Judges each chunk's placement as a controller reports it.
#[derive(Debug)]
pub struct ReplicaPlacement {
    /// The cluster's rules.
    pub rules: PlacementRules,
}

impl<V: ?Sized> Checker<(), DfsFact, V> for ReplicaPlacement {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, _: &(), node: NodeId, fact: &DfsFact) -> Result<(), String> {
        let rules = &self.rules;
        let rf = rules.replication_factor;
        if let DfsFact::TxBegun { tid, online, .. } = fact {
            let counted = online.iter().filter(|n| rules.machines.contains_key(n)).count();
            if counted < rf {
                return Err(format!(
                    "controller {node} began transaction {tid} with {counted} data nodes online (replication_factor {rf}): it must be refused Unavailable"
                ));
            }
            return Ok(());
        }
        let DfsFact::ChunkPlaced { chunk, replicas, online } = fact else { return Ok(()) };
        let nodes: BTreeSet<NodeId> = replicas.iter().copied().collect();
        let said = format!("controller {node} placed chunk {chunk} on {replicas:?}");
        if let Some(n) = nodes.iter().find(|n| !rules.machines.contains_key(n)) {
            return Err(format!("{said}: {n} is not a data node of the cluster"));
        }
        if nodes.len() != rf || replicas.len() != rf {
            return Err(format!("{said}: {} distinct data nodes for replication_factor {rf}", nodes.len()));
        }
        if let Some(n) = nodes.iter().find(|n| !online.contains(n)) {
            return Err(format!("{said}: data node {n} was not online at its BEGIN (online: {online:?})"));
        }
        let machines = rules.machines_of(&nodes);
        let online_machines = rules.machines_of(online);
        match rules.reliability_level {
            1 if machines.len() < rf => Err(format!(
                "{said}: {} distinct machines at reliability level 1 for replication_factor {rf} (the write must fail Unavailable instead)",
                machines.len()
            )),
            2 if machines.len() < rf.min(online_machines.len()) => Err(format!(
                "{said}: {} distinct machines at reliability level 2 while the online data nodes spanned {}",
                machines.len(),
                online_machines.len()
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::dolphindb_2pc::test_support::CONTROLLER;

    /// Four data nodes, 10 and 12 on machine 0, 11 and 13 on machine 1.
    fn rules(level: u8) -> PlacementRules {
        let machine = |index| Machine { cluster: ClusterId::Master, index };
        let machines = [(10, machine(0)), (11, machine(1)), (12, machine(0)), (13, machine(1))].into_iter().collect();
        PlacementRules { replication_factor: 2, reliability_level: level, machines }
    }

    fn placed(chunk: u64, replicas: &[NodeId], online: &[NodeId]) -> DfsFact {
        DfsFact::ChunkPlaced { chunk, replicas: replicas.to_vec(), online: online.to_vec() }
    }

    fn judged(level: u8, facts: &[DfsFact]) -> Result<(), String> {
        let mut checker = ReplicaPlacement { rules: rules(level) };
        facts.iter().try_for_each(|f| Checker::<(), DfsFact, ()>::on_fact(&mut checker, &(), CONTROLLER, f))
    }

    #[test]
    fn replicas_on_distinct_online_machines_pass_at_every_level() {
        let all = [10, 11, 12, 13];
        for level in 0..=2 {
            assert_eq!(judged(level, &[placed(1, &[10, 11], &all), placed(2, &[12, 13], &all), placed(3, &[11, 12], &[11, 12])]), Ok(()));
        }
        // Level 2 with one machine online, and level 0 anywhere: distinct nodes of one machine.
        assert_eq!(judged(2, &[placed(4, &[10, 12], &[10, 12])]), Ok(()));
        assert_eq!(judged(0, &[placed(4, &[10, 12], &all)]), Ok(()));
    }

    #[test]
    fn two_replicas_on_one_node_or_too_few_replicas_are_refused() {
        let err = judged(0, &[placed(1, &[10], &[10, 11])]).unwrap_err();
        assert!(err.contains("1 distinct data nodes for replication_factor 2"), "{err}");
        let err = judged(0, &[placed(1, &[10, 10], &[10, 11])]).unwrap_err();
        assert!(err.contains("1 distinct data nodes"), "{err}");
        let err = judged(0, &[placed(1, &[10, 11, 12], &[10, 11, 12])]).unwrap_err();
        assert!(err.contains("3 distinct data nodes"), "{err}");
    }

    #[test]
    fn a_replica_on_a_node_offline_or_outside_the_cluster_is_refused() {
        let err = judged(0, &[placed(1, &[10, 11], &[10, 12])]).unwrap_err();
        assert!(err.contains("data node 11 was not online"), "{err}");
        let err = judged(0, &[placed(1, &[10, 99], &[10, 99])]).unwrap_err();
        assert!(err.contains("99 is not a data node"), "{err}");
    }

    #[test]
    fn level_1_refuses_a_shared_machine_even_with_one_machine_online() {
        let err = judged(1, &[placed(1, &[10, 12], &[10, 11, 12, 13])]).unwrap_err();
        assert!(err.contains("1 distinct machines at reliability level 1"), "{err}");
        let err = judged(1, &[placed(1, &[10, 12], &[10, 12])]).unwrap_err();
        assert!(err.contains("must fail Unavailable"), "{err}");
    }

    #[test]
    fn a_transaction_begun_with_fewer_data_nodes_online_than_the_replication_factor_is_refused() {
        let begun = |online: &[NodeId]| DfsFact::TxBegun {
            tid: 5,
            kind: ccrsim_model::dfs::OperationKind::APPEND,
            coordinator: 10,
            op_ref: (9, 1),
            locks: Vec::new(),
            online: online.to_vec(),
        };
        assert_eq!(judged(1, &[begun(&[10, 11]), begun(&[10, 11, 12, 13])]), Ok(()));
        let err = judged(1, &[begun(&[10, 11]), begun(&[12])]).unwrap_err();
        assert!(err.contains("began transaction 5 with 1 data nodes online (replication_factor 2)"), "{err}");
        // Only the cluster's data nodes count.
        let err = judged(0, &[begun(&[10, 99])]).unwrap_err();
        assert!(err.contains("with 1 data nodes online"), "{err}");
    }

    #[test]
    fn level_2_refuses_a_shared_machine_while_two_machines_were_online() {
        let err = judged(2, &[placed(1, &[11, 13], &[10, 11, 13])]).unwrap_err();
        assert!(err.contains("1 distinct machines at reliability level 2 while the online data nodes spanned 2"), "{err}");
    }
}

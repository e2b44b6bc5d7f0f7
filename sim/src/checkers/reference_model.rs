//! The master equals the reference model (serializability of the committed history): applying the
//! committed operations one by one in commit (cid) order to a plain sequential database gives exactly
//! the master's catalog and rows after heal. A committed operation that is invalid in that order is
//! a violation too (two conflicting transactions were let through).
//!
//! The reference shares the planner with the model (model/src/dfs), so it judges the distributed
//! protocol (atomicity, ordering, durability, recovery), not the meaning of each operation type,
//! which the operation unit tests pin down.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::{Catalog, ReferenceDb, Row, TableId};
use ccrsim_model::replica::dolphindb_2pc::state::ReplicaState;

use super::dfs_ledger::DfsLedger;
use crate::world::{Node, NodeStatus};

/// Name of the checker.
pub const NAME: &str = "reference-model";
/// Where the property comes from.
pub const SOURCE: &str = "serializability: the committed operations applied in commit order give the final state";

/// The state of the cluster of `controllers` after heal: its leader's catalog (every live
/// controller must hold the same), and the rows of every table, read from a complete replica of
/// each chunk on a live data node.
pub fn cluster_state<'a>(nodes: &'a [Node], controllers: &[NodeId]) -> Result<(&'a Catalog, BTreeMap<TableId, Vec<Row>>), String> {
    let live: Vec<_> = controllers
        .iter()
        .filter_map(|&c| {
            let n = &nodes[c as usize];
            (n.status == NodeStatus::Up).then(|| n.role.as_ref().and_then(|r| r.as_controller()).map(|ctl| (c, ctl)))?
        })
        .collect();
    let Some(&(_, leader)) = live.iter().find(|(_, c)| c.raft().is_leader()) else { return Err("no leader to compare".into()) };
    let dfs = &leader.raft().state_machine().replica;
    for (c, ctl) in &live {
        if ctl.raft().state_machine().replica.catalog != dfs.catalog {
            return Err(format!("controller {c} holds another catalog than the leader"));
        }
    }
    let mut rows: BTreeMap<TableId, Vec<Row>> = BTreeMap::new();
    for (chunk, meta) in dfs.chunks() {
        let Some((&holder, _)) =
            meta.replicas.iter().find(|(n, r)| r.state == ReplicaState::Complete && nodes[**n as usize].status == NodeStatus::Up)
        else {
            return Err(format!("chunk {chunk} has no complete replica on a live data node"));
        };
        let node = nodes[holder as usize].role.as_ref().and_then(|r| r.as_data_node()).ok_or("a replica holder that is not a data node")?;
        let data = node.replicas().find(|(c, _, _)| c == chunk).map(|(_, _, d)| d.rows.clone()).unwrap_or_default();
        rows.entry(meta.table).or_default().extend(data);
    }
    Ok((&dfs.catalog, rows))
}

/// Compares the cluster of `controllers` (and its data nodes) with the committed history.
pub fn at_end(ledger: &DfsLedger, nodes: &[Node], controllers: &[NodeId]) -> Result<(), String> {
    let mut reference = ReferenceDb::default();
    for (cid, (tid, op)) in &ledger.committed {
        reference
            .apply(op)
            .map_err(|e| format!("committed transaction {tid} (cid {cid}, {}) is invalid in commit order: {e}", op.kind()))?;
    }
    let (catalog, mut master) = cluster_state(nodes, controllers)?;
    if *catalog != reference.catalog {
        return Err(format!("the catalog differs from the reference: master {catalog:?} / reference {:?}", reference.catalog));
    }
    for (_, table) in reference.catalog.tables() {
        let mut got = master.remove(&table.id).unwrap_or_default();
        got.sort();
        let want = reference.rows_of(table.id);
        if got != want {
            return Err(format!(
                "table {} (id {}) holds {} rows, the reference {} (first difference: {:?})",
                table.name,
                table.id,
                got.len(),
                want.len(),
                got.iter().zip(&want).find(|(a, b)| a != b).map_or_else(|| "in length".to_string(), |(a, b)| format!("{a:?} vs {b:?}"))
            ));
        }
    }
    if let Some((table, rows)) = master.into_iter().find(|(_, rows)| !rows.is_empty()) {
        return Err(format!("{} rows remain in table id {table}, which the reference does not have", rows.len()));
    }
    Ok(())
}

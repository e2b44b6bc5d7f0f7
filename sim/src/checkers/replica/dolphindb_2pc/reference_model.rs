//! The cluster equals the reference model (serializability of the committed history): applying the
//! committed operations one by one in commit (cid) order to a plain sequential database gives
//! exactly the cluster's databases, tables, schemas and rows after heal. A committed operation that
//! is invalid in that order is a violation too (two conflicting transactions were let through).
//!
//! The reference is the checkers' own sequential database (`checkers/oracle`), which gives every
//! operation type its meaning with its own code: a bug in the model's planner (the meaning of an
//! operation, the rows it routes to a partition, what a DDL does to the schema) shows here, since
//! the expectation does not share it.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::{Catalog, Row, TableId};
use ccrsim_model::replica::dolphindb_2pc::DfsFact;
use ccrsim_model::replica::dolphindb_2pc::state::ReplicaState;

use super::{On2pc, Scope};
use crate::checkers::Checker;
use crate::checkers::oracle::{DbView, SequentialDb, first_difference, views_of_catalog};
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;
use crate::node::NodeStatus;
use crate::view::ClusterView;

/// Name of the checker.
pub const NAME: &str = "reference-model";
/// Where the property comes from.
pub const SOURCE: &str = "serializability: the committed operations applied in commit order give the final state";

/// Compares the cluster with its committed history at the end (stateless).
#[derive(Debug, Default)]
pub struct ReferenceModel;

impl<'a, D: On2pc> Checker<DfsLedger, DfsFact, Scope<'a, D>> for ReferenceModel {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn at_end(&self, ledger: &DfsLedger, scope: &Scope<'a, D>) -> Result<(), String> {
        at_end(ledger, &scope.view, scope.controllers)
    }
}

/// The state of the cluster of `controllers` after heal: its leader's catalog (every live
/// controller must hold the same), and the rows of every table, read from a complete replica of
/// each chunk on a live data node.
pub fn cluster_state<'a, D: On2pc>(
    view: &ClusterView<'a, D>,
    controllers: &[NodeId],
) -> Result<(&'a Catalog, BTreeMap<TableId, Vec<Row>>), String> {
    let live: Vec<_> = controllers.iter().filter_map(|&c| view.controller(c).map(|ctl| (c, ctl))).collect();
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
            meta.replicas.iter().find(|(n, r)| r.state == ReplicaState::Complete && *view.status(**n) == NodeStatus::Up)
        else {
            return Err(format!("chunk {chunk} has no complete replica on a live data node"));
        };
        let node = view.role(holder).and_then(|r| r.as_data_node()).ok_or("a replica holder that is not a data node")?;
        let data = node.replicas().find(|(c, _, _)| c == chunk).map(|(_, _, d)| d.rows.clone()).unwrap_or_default();
        rows.entry(meta.table).or_default().extend(data);
    }
    Ok((&dfs.catalog, rows))
}

/// The user-level views of every database of the cluster of `controllers` that `keep` selects.
pub fn cluster_views<D: On2pc>(
    view: &ClusterView<'_, D>,
    controllers: &[NodeId],
    keep: impl Fn(&str) -> bool,
) -> Result<BTreeMap<String, DbView>, String> {
    let (catalog, rows) = cluster_state(view, controllers)?;
    Ok(views_of_catalog(catalog, |t| rows.get(&t).cloned().unwrap_or_default(), keep))
}

/// Compares the cluster of `controllers` (and its data nodes) with the committed history.
fn at_end<D: On2pc>(ledger: &DfsLedger, view: &ClusterView<'_, D>, controllers: &[NodeId]) -> Result<(), String> {
    let mut reference = SequentialDb::new();
    for (cid, (tid, op)) in &ledger.committed {
        reference
            .apply(op)
            .map_err(|e| format!("committed transaction {tid} (cid {cid}, {}) is invalid in commit order: {e}", op.kind()))?;
    }
    let (catalog, rows) = cluster_state(view, controllers)?;
    // Rows of a table the catalog does not hold: left behind by a drop that did not reach them.
    if let Some((table, rows)) = rows.iter().find(|(t, rows)| !rows.is_empty() && catalog.table_by_id(**t).is_none()) {
        return Err(format!("{} rows remain in table id {table}, which the catalog does not hold", rows.len()));
    }
    let actual = views_of_catalog(catalog, |t| rows.get(&t).cloned().unwrap_or_default(), |_| true);
    let want = reference.views(|_| true);
    if actual != want {
        return Err(format!("the cluster differs from the reference (cluster / reference): {}", first_difference(&actual, &want)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ccrsim_model::dfs::{ColumnType, Operation, PartitionScheme, SharedOperation, Value};
    use ccrsim_model::replica::dolphindb_2pc::Decision;

    use super::*;
    use crate::checkers::replica::dolphindb_2pc::test_support::{CONTROLLER, append, run};
    use crate::checkers::test_support::Bench;
    use crate::design::dolphindb::Dolphindb;
    use crate::topology::ClusterId;

    /// The ledger after the controller committed `ops` as cids 1, 2, ...
    fn committed(ops: Vec<SharedOperation>) -> DfsLedger {
        let facts: Vec<_> = (1..)
            .zip(ops)
            .map(|(cid, op)| (CONTROLLER, DfsFact::TxDecided { tid: cid, decision: Decision::Commit(cid), op: Some(op) }))
            .collect();
        run::<Scope<'_, Dolphindb>, _>(&mut ReferenceModel, &facts).expect("judged only at the end")
    }

    /// The verdict on a lone leading controller (with one idle data node) that committed nothing.
    fn verdict(ledger: &DfsLedger) -> Result<(), String> {
        let mut bench = Bench::master(1, 1);
        let (c, d) = (bench.node("master.controller.0"), bench.node("master.datanode.0"));
        bench.elect(c);
        let scope = Scope { view: bench.view(), cluster: ClusterId::Master, controllers: &[c], data_nodes: &[d], clients: &[] };
        ReferenceModel.at_end(ledger, &scope)
    }

    #[test]
    fn an_empty_cluster_equals_an_empty_history() {
        assert_eq!(verdict(&DfsLedger::default()), Ok(()));
    }

    #[test]
    fn a_cluster_missing_a_committed_operation_is_refused() {
        let scheme = PartitionScheme::Value { column_type: ColumnType::Long, values: BTreeSet::from([Value::Long(1)]) };
        let ledger = committed(vec![SharedOperation::new(Operation::CreateDomain { db: "dfs://a".into(), scheme })]);
        let err = verdict(&ledger).unwrap_err();
        assert!(err.contains("the cluster differs from the reference"), "{err}");
    }

    #[test]
    fn a_committed_operation_invalid_in_commit_order_is_refused() {
        // An APPEND to a database nothing created: two transactions were let through out of order.
        let err = verdict(&committed(vec![append()])).unwrap_err();
        assert!(err.contains("committed transaction 1 (cid 1, APPEND) is invalid in commit order"), "{err}");
    }
}

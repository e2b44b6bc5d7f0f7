//! Reads see committed data at one snapshot, and never older than what their session saw
//! (DolphinDB's MVCC: a query reads every chunk at its version as of a readable cid).
//!
//! Each answered query carries the readable cid it read at (its snapshot). Its rows must be
//! exactly what the table holds, filtered, after every committed operation with a cid up to the
//! snapshot applied in cid order, and nothing else: no row of a transaction prepared but not
//! decided, rolled back, or committed above the snapshot, none missing. The snapshot must be
//! committed, and at least the session's floor: the highest cid its client had been told committed
//! (its acknowledged writes) or had read at (its earlier queries) when it sent the query.
//!
//! The expectation is the checkers' own: the committed operations are replayed in cid order on
//! the oracle's sequential database, and after each commit the summary of the table it changed is
//! kept (`oracle::TableDigest`), so that a query answered late is judged at its own snapshot.
//! Every cluster is judged on its own history: on a slave, a query sees the slave's committed
//! snapshot, which holds the master's writes the slave applied so far (whether those replay the
//! master's is what the pipeline's checkers state).

use std::collections::BTreeMap;
use std::sync::Arc;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::{Operation, SharedQuery};
use ccrsim_model::replica::dolphindb_2pc::{Cid, DfsFact, OpOutcome, QueryOutcome};

use crate::checkers::Checker;
use crate::checkers::oracle::{RowsDigest, SequentialDb, TableDigest};
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "reads";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB MVCC: a query reads committed data at one readable cid, never older than its session saw";

/// A table's summaries, each from the cid of the commit that made it (`None`: no such table).
type TableHistory = Vec<(Cid, Option<Arc<TableDigest>>)>;

/// The reads checker's books: the reference replayed so far, the tables' histories, the clients'
/// floors and the queries in flight.
#[derive(Debug, Default)]
pub struct Reads {
    reference: SequentialDb,
    /// Every committed operation up to this cid is replayed.
    replayed: Cid,
    /// A committed operation was invalid in cid order (`reference-model` reports it): rows are no
    /// longer judged.
    blind: bool,
    /// Per `(database, table)`.
    history: BTreeMap<(String, String), TableHistory>,
    /// Per client: the highest cid it was told committed, or read at.
    floors: BTreeMap<NodeId, Cid>,
    /// Queries sent and not ended, `(client, op_id)`, with the client's floor when it sent them.
    in_flight: BTreeMap<(NodeId, u64), (SharedQuery, Cid)>,
}

impl<V: ?Sized> Checker<DfsLedger, DfsFact, V> for Reads {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        match fact {
            DfsFact::OpEnded { outcome: OpOutcome::Ok { cid, .. }, .. } => self.raise_floor(node, *cid),
            DfsFact::QueryInvoked { op_id, query, .. } => {
                let floor = self.floors.get(&node).copied().unwrap_or(0);
                self.in_flight.insert((node, *op_id), (query.clone(), floor));
            }
            DfsFact::QueryEnded { op_id, outcome, .. } => {
                let Some((query, floor)) = self.in_flight.remove(&(node, *op_id)) else {
                    return Err(format!("client {node} ended query {op_id}, which it never sent"));
                };
                if let QueryOutcome::Rows { snapshot, rows } = outcome {
                    self.judge(ledger, node, *op_id, &query, floor, *snapshot, &RowsDigest::of(rows))?;
                    self.raise_floor(node, *snapshot);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl Reads {
    fn raise_floor(&mut self, client: NodeId, cid: Cid) {
        let floor = self.floors.entry(client).or_default();
        *floor = (*floor).max(cid);
    }

    /// Judges query `op_id` of `client`, sent with the session at `floor`, answered at `snapshot`
    /// with rows of digest `got`.
    #[allow(clippy::too_many_arguments)]
    fn judge(
        &mut self,
        ledger: &DfsLedger,
        client: NodeId,
        op_id: u64,
        query: &SharedQuery,
        floor: Cid,
        snapshot: Cid,
        got: &RowsDigest,
    ) -> Result<(), String> {
        let what = format!("client {client}'s query {op_id} of {}/{} (filter {:?})", query.db, query.table, query.filter);
        if snapshot < floor {
            return Err(format!(
                "{what} read at cid {snapshot}, below cid {floor} that its session had seen (acknowledged or read) when it sent the query"
            ));
        }
        self.replay(ledger);
        if snapshot > self.replayed {
            return Err(format!("{what} read at cid {snapshot}, which is not committed (committed up to cid {})", self.replayed));
        }
        if self.blind {
            return Ok(());
        }
        let Some(table) = self.at(&query.db, &query.table, snapshot) else {
            return Err(format!("{what} was answered with {} rows at cid {snapshot}, where the table does not exist", got.count));
        };
        let want = table
            .selected(query.filter.as_ref())
            .map_err(|e| format!("{what} was answered at cid {snapshot}, but it is invalid there: {e}"))?;
        if *got != want {
            return Err(format!(
                "{what} at snapshot cid {snapshot}: its {} rows differ from the committed state at that cid ({} rows)",
                got.count, want.count
            ));
        }
        Ok(())
    }

    /// The summary of a table at `cid`.
    fn at(&self, db: &str, table: &str, cid: Cid) -> Option<&TableDigest> {
        let h = self.history.get(&(db.to_string(), table.to_string()))?;
        let i = h.partition_point(|(c, _)| *c <= cid);
        h[..i].last().and_then(|(_, t)| t.as_deref())
    }

    /// Replays the committed operations the ledger holds past `replayed`, in cid order, while they
    /// follow on without a gap, keeping the summary of each table they change.
    fn replay(&mut self, ledger: &DfsLedger) {
        while let Some((_, op)) = ledger.committed.get(&(self.replayed + 1)) {
            self.replayed += 1;
            if self.blind || self.reference.apply(op).is_err() {
                self.blind = true;
                continue;
            }
            let db = op.database();
            let tables: Vec<String> = match &**op {
                Operation::RenameTable { table, new_name, .. } => vec![table.clone(), new_name.clone()],
                // A database's own operations: the tables it had (DROP_DB), or none changes.
                _ => match op.table() {
                    Some(t) => vec![t.to_string()],
                    None => self.history.keys().filter(|(d, _)| d == db).map(|(_, t)| t.clone()).collect(),
                },
            };
            for table in tables {
                let now = self.reference.table_digest(db, &table).map(Arc::new);
                let h = self.history.entry((db.to_string(), table)).or_default();
                if h.last().map_or(now.is_some(), |(_, last)| *last != now) {
                    h.push((self.replayed, now));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ccrsim_model::dfs::{Cmp, Column, ColumnType, Filter, PartitionScheme, Query, Row, SharedOperation, Value};
    use ccrsim_model::replica::dolphindb_2pc::Decision;

    use super::*;
    use crate::checkers::replica::dolphindb_2pc::test_support::{CLIENT, CONTROLLER, run};

    const DB: &str = "dfs://a";

    fn committed(cid: Cid, op: Operation) -> (NodeId, DfsFact) {
        let op: SharedOperation = SharedOperation::new(op);
        (CONTROLLER, DfsFact::TxDecided { tid: cid, decision: Decision::Commit(cid), op: Some(op) })
    }

    fn row(k: i64, qty: i64) -> Row {
        vec![Value::Long(k), Value::Long(qty)]
    }

    /// `dfs://a` VALUE {1, 2} with `t(k LONG, qty LONG)` by `k` (cids 1 and 2), then rows appended
    /// at cid 3 (`(1, 10)`) and cid 4 (`(2, 20)`).
    fn history() -> Vec<(NodeId, DfsFact)> {
        let scheme = PartitionScheme::Value { column_type: ColumnType::Long, values: BTreeSet::from([Value::Long(1), Value::Long(2)]) };
        let columns = vec![Column::new("k", ColumnType::Long), Column::new("qty", ColumnType::Long)];
        vec![
            committed(1, Operation::CreateDomain { db: DB.into(), scheme }),
            committed(2, Operation::CreatePartitionedTable { db: DB.into(), table: "t".into(), columns, partition_column: "k".into() }),
            committed(3, Operation::Append { db: DB.into(), table: "t".into(), rows: vec![row(1, 10)] }),
            committed(4, Operation::Append { db: DB.into(), table: "t".into(), rows: vec![row(2, 20)] }),
        ]
    }

    fn query(op_id: u64, filter: Option<Filter>) -> (NodeId, DfsFact) {
        let query = Arc::new(Query { db: DB.into(), table: "t".into(), filter });
        (CLIENT, DfsFact::QueryInvoked { op_id, query, at: 0 })
    }

    fn rows_at(op_id: u64, snapshot: Cid, rows: Vec<Row>) -> (NodeId, DfsFact) {
        (CLIENT, DfsFact::QueryEnded { op_id, outcome: QueryOutcome::Rows { snapshot, rows }, at: 1 })
    }

    fn acknowledged(op_id: u64, cid: Cid) -> (NodeId, DfsFact) {
        (CLIENT, DfsFact::OpEnded { op_id, outcome: OpOutcome::Ok { tid: cid, cid }, at: 1 })
    }

    fn verdict(facts: Vec<(NodeId, DfsFact)>) -> Result<(), String> {
        run::<(), _>(&mut Reads::default(), &facts).map(|_| ())
    }

    #[test]
    fn rows_of_one_committed_snapshot_pass_in_any_order() {
        let mut facts = history();
        let eq = Filter { column: "k".into(), cmp: Cmp::Eq, value: Value::Long(2) };
        facts.extend([query(100, None), rows_at(100, 3, vec![row(1, 10)])]);
        facts.extend([query(101, Some(eq.clone())), rows_at(101, 3, vec![])]);
        facts.extend([query(102, None), rows_at(102, 4, vec![row(2, 20), row(1, 10)])]);
        facts.extend([query(103, Some(eq)), rows_at(103, 4, vec![row(2, 20)])]);
        assert_eq!(verdict(facts), Ok(()));
    }

    #[test]
    fn a_row_of_a_later_commit_is_refused() {
        let mut facts = history();
        facts.extend([query(100, None), rows_at(100, 3, vec![row(1, 10), row(2, 20)])]);
        let err = verdict(facts).unwrap_err();
        assert!(err.contains("at snapshot cid 3: its 2 rows differ from the committed state at that cid (1 rows)"), "{err}");
    }

    #[test]
    fn a_row_never_committed_is_refused() {
        let mut facts = history();
        facts.extend([query(100, None), rows_at(100, 4, vec![row(1, 10), row(2, 20), row(2, 99)])]);
        assert!(verdict(facts).unwrap_err().contains("differ from the committed state"));
    }

    #[test]
    fn a_snapshot_below_the_sessions_acknowledged_write_is_refused() {
        let mut facts = history();
        facts.extend([acknowledged(7, 4), query(100, None), rows_at(100, 3, vec![row(1, 10)])]);
        let err = verdict(facts).unwrap_err();
        assert!(err.contains("read at cid 3, below cid 4 that its session had seen"), "{err}");
    }

    #[test]
    fn a_snapshot_below_an_earlier_read_is_refused() {
        let mut facts = history();
        facts.extend([query(100, None), rows_at(100, 4, vec![row(1, 10), row(2, 20)])]);
        facts.extend([query(101, None), rows_at(101, 3, vec![row(1, 10)])]);
        assert!(verdict(facts).unwrap_err().contains("below cid 4"));
    }

    #[test]
    fn a_snapshot_not_committed_is_refused() {
        let mut facts = history();
        facts.extend([query(100, None), rows_at(100, 5, vec![row(1, 10), row(2, 20)])]);
        assert!(verdict(facts).unwrap_err().contains("read at cid 5, which is not committed (committed up to cid 4)"));
    }

    #[test]
    fn rows_of_a_table_that_did_not_exist_at_the_snapshot_are_refused() {
        let mut facts = history();
        facts.extend([query(100, None), rows_at(100, 1, vec![])]);
        assert!(verdict(facts).unwrap_err().contains("where the table does not exist"));
    }
}

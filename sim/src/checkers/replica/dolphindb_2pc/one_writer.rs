//! One writer per partition (DolphinDB: one writing transaction per partition at a time): the
//! controller never lets two open transactions hold conflicting locks, and no replica holds two
//! open prepares of one chunk. Each transaction's locks cover what its operation writes, as the
//! checkers' own rule (`oracle::lock_scopes`) says on the committed state its BEGIN saw: the
//! partitions it writes, the table for table DDL and an unpruned SQL_DELETE or SQL_UPDATE, the
//! database for a database-level operation. That every report of a BEGIN names the locks of the
//! first (every controller decides a BEGIN again on apply) is `2pc-atomicity`'s, with the tids.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::{Cid, DfsFact};

use crate::checkers::Checker;
use crate::checkers::oracle::{SequentialDb, lock_scopes, locks_overlap, scope_covered};
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "one-writer-per-partition";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB transactions: one writing transaction per partition (strict two-phase locking)";

/// Judges locks at BEGIN and prepares on replicas.
#[derive(Debug, Default)]
pub struct OneWriter {
    /// The committed operations replayed in cid order: the state a BEGIN sees.
    committed: SequentialDb,
    /// Every committed operation up to this cid is replayed.
    replayed: Cid,
}

impl OneWriter {
    /// The locks of the first BEGIN of a transaction for the operation `op_ref` cover what the
    /// operation writes, on the committed state so far (every commit decided before the BEGIN
    /// in the controllers' log was reported before it).
    fn locks_cover_the_writes(&mut self, ledger: &DfsLedger, fact: &DfsFact) -> Result<(), String> {
        let DfsFact::TxBegun { tid, op_ref, locks, .. } = fact else { return Ok(()) };
        // A transaction that applies a replicated task runs no client operation of this cluster.
        let Some(op) = ledger.ops.get(&op_ref.1).filter(|o| o.client == op_ref.0) else { return Ok(()) };
        // An operation invalid in cid order leaves the state as it was: `reference-model` reports it.
        for (&cid, (_, committed)) in ledger.committed.range(self.replayed + 1..) {
            if cid != self.replayed + 1 {
                break;
            }
            let _ = self.committed.apply(committed);
            self.replayed = cid;
        }
        match lock_scopes(&op.op, &self.committed).into_iter().find(|scope| !scope_covered(locks, scope)) {
            Some(scope) => Err(format!(
                "transaction {tid} runs {} with locks {locks:?}, which do not cover {scope:?} (the scope it writes)",
                op.op.kind().name()
            )),
            None => Ok(()),
        }
    }
}

impl<V: ?Sized> Checker<DfsLedger, DfsFact, V> for OneWriter {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        match fact {
            // A repeat of a BEGIN (another controller, or one replaying its log) takes no new lock.
            DfsFact::TxBegun { tid, .. } if ledger.txs.contains_key(tid) => Ok(()),
            DfsFact::TxBegun { tid, locks, .. } => {
                self.locks_cover_the_writes(ledger, fact)?;
                for (other, t) in ledger.open.iter().filter(|t| *t != tid).map(|t| (t, &ledger.txs[t])) {
                    if let Some((a, b)) = locks.iter().find_map(|a| t.locks.iter().find(|b| locks_overlap(a, b)).map(|b| (a, b))) {
                        return Err(format!("transaction {tid} got {a:?} while open transaction {other} holds {b:?}"));
                    }
                }
                Ok(())
            }
            DfsFact::Prepared { tid, chunk } => match ledger.prepared.get(&(node, *chunk)) {
                Some(open) if open.iter().any(|t| t != tid) => {
                    Err(format!("data node {node} prepared transaction {tid} on chunk {chunk} while {open:?} were still open there"))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use ccrsim_model::dfs::SharedOperation;

    use ccrsim_model::dfs::{LockKey, Operation, Value};

    use super::*;
    use crate::checkers::replica::dolphindb_2pc::test_support::{CHUNK, CLIENT, DATA, begun, commit, invoked, part, rollback, run};

    fn judged(facts: &[(NodeId, DfsFact)]) -> Result<(), String> {
        run::<(), _>(&mut OneWriter::default(), facts).map(|_| ())
    }

    #[test]
    fn disjoint_locks_and_locks_released_at_the_end_pass() {
        let facts = [
            begun(1, 1, vec![part(1)]),
            begun(2, 2, vec![part(2)]),
            // A controller replaying its log reports BEGIN again: old news.
            begun(1, 1, vec![part(1)]),
            commit(1, 1),
            (0, DfsFact::TxCompleted { tid: 1 }),
            rollback(2),
            begun(3, 3, vec![part(1), part(2)]),
        ];
        assert_eq!(judged(&facts), Ok(()));
    }

    /// The client sent `op` as operation 1.
    fn invoked_as_1(op: Operation) -> (NodeId, DfsFact) {
        (CLIENT, DfsFact::OpInvoked { op_id: 1, op: SharedOperation::new(op), at: 0 })
    }

    fn update_of_every_row() -> Operation {
        Operation::SqlUpdate { db: "dfs://a".into(), table: "t".into(), column: "v".into(), value: Value::Long(0), filter: None }
    }

    #[test]
    fn locks_covering_what_the_operation_writes_pass() {
        // An APPEND locks a partition of its table; an unpruned UPDATE the table.
        assert_eq!(judged(&[invoked(1), begun(1, 1, vec![part(1)])]), Ok(()));
        let table = LockKey::Table("dfs://a".into(), "t".into());
        assert_eq!(judged(&[invoked_as_1(update_of_every_row()), begun(1, 1, vec![table])]), Ok(()));
    }

    #[test]
    fn an_unpruned_update_locking_one_partition_is_refused() {
        let err = judged(&[invoked_as_1(update_of_every_row()), begun(1, 1, vec![part(1)])]).unwrap_err();
        assert!(
            err.contains("transaction 1 runs SQL_UPDATE with locks") && err.contains("do not cover Table(\"dfs://a\", \"t\")"),
            "{err}"
        );
    }

    #[test]
    fn an_append_locking_another_tables_partition_is_refused() {
        let elsewhere = LockKey::Partition("dfs://a".into(), "u".into(), Value::Long(1));
        let err = judged(&[invoked(1), begun(1, 1, vec![elsewhere])]).unwrap_err();
        assert!(err.contains("runs APPEND with locks") && err.contains("do not cover PartitionsOf(\"dfs://a\", \"t\")"), "{err}");
    }

    #[test]
    fn a_lock_on_a_partition_an_open_transaction_holds_is_refused() {
        // Decided commit is not the end: the locks are held until the transaction completes.
        let facts = [begun(1, 1, vec![part(1)]), commit(1, 1), begun(2, 2, vec![part(2), part(1)])];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("transaction 2 got") && err.contains("while open transaction 1 holds"), "{err}");
    }

    #[test]
    fn a_table_lock_over_a_held_partition_is_refused() {
        let facts = [begun(1, 1, vec![part(1)]), begun(2, 2, vec![LockKey::Table("dfs://a".into(), "t".into())])];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("while open transaction 1 holds"), "{err}");
    }

    #[test]
    fn a_prepare_after_the_previous_one_ended_passes() {
        let facts = [
            (DATA[0], DfsFact::Prepared { tid: 1, chunk: CHUNK }),
            (DATA[0], DfsFact::Prepared { tid: 1, chunk: CHUNK }),
            // The other replica of the chunk prepares the same transaction: one each.
            (DATA[1], DfsFact::Prepared { tid: 1, chunk: CHUNK }),
            (DATA[0], DfsFact::ReplicaCommitted { tid: 1, chunk: CHUNK, cid: 1, digest: 10 }),
            (DATA[0], DfsFact::Prepared { tid: 2, chunk: CHUNK }),
        ];
        assert_eq!(judged(&facts), Ok(()));
    }

    #[test]
    fn two_open_prepares_on_one_replica_are_refused() {
        let facts = [(DATA[0], DfsFact::Prepared { tid: 1, chunk: CHUNK }), (DATA[0], DfsFact::Prepared { tid: 2, chunk: CHUNK })];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("prepared transaction 2 on chunk 7 while {1} were still open"), "{err}");
    }
}

//! One writer per partition (DolphinDB: one writing transaction per partition at a time): the
//! controller never lets two open transactions hold conflicting locks, and no replica holds two
//! open prepares of one chunk. Every controller decides a BEGIN again on apply, so each report of a
//! transaction's BEGIN names the operation and the locks of the first.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::DfsFact;

use crate::checkers::Checker;
use crate::checkers::oracle::locks_overlap;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "one-writer-per-partition";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB transactions: one writing transaction per partition (strict two-phase locking)";

/// Judges locks at BEGIN and prepares on replicas.
#[derive(Debug, Default)]
pub struct OneWriter;

impl<V: ?Sized> Checker<DfsLedger, DfsFact, V> for OneWriter {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        match fact {
            // Another controller, or one replaying its log after a restart, reports the BEGIN again:
            // the same decision, or the controllers disagree on what the transaction locks.
            DfsFact::TxBegun { tid, op_ref, locks, .. } if ledger.txs.contains_key(tid) => {
                let first = &ledger.txs[tid];
                if first.op_ref != *op_ref || first.locks != *locks {
                    return Err(format!(
                        "transaction {tid} begun again for operation {op_ref:?} with locks {locks:?}; first begun for {:?} with {:?}",
                        first.op_ref, first.locks
                    ));
                }
                Ok(())
            }
            DfsFact::TxBegun { tid, locks, .. } => {
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
    use ccrsim_model::dfs::LockKey;

    use super::*;
    use crate::checkers::replica::dolphindb_2pc::test_support::{CHUNK, DATA, begun, commit, part, rollback, run};

    fn judged(facts: &[(NodeId, DfsFact)]) -> Result<(), String> {
        run::<(), _>(&mut OneWriter, facts).map(|_| ())
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

    #[test]
    fn a_begin_reported_again_with_other_locks_or_another_operation_is_refused() {
        let err = judged(&[begun(1, 1, vec![part(1)]), begun(1, 1, vec![part(2)])]).unwrap_err();
        assert!(err.contains("transaction 1 begun again for operation") && err.contains("first begun for"), "{err}");
        // After it ended too: the controllers' logs hold one BEGIN per tid.
        let err = judged(&[begun(1, 1, vec![part(1)]), rollback(1), begun(1, 2, vec![part(1)])]).unwrap_err();
        assert!(err.contains("transaction 1 begun again"), "{err}");
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

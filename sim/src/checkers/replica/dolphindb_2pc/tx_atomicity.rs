//! 2PC atomicity (Gray & Lamport, "Consensus on Transaction Commit", 2006; DolphinDB's transaction
//! resolution): every participant ends with the controller's decision. A replica may commit a
//! transaction only with the cid the controllers decided, and roll it back only if they decided so;
//! the controllers never disagree on a decision. Whether every in-doubt participant gets resolved
//! (no open prepare remains on a live data node after heal) is `dfs-liveness`'s to judge.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::{Decision, DfsFact};

use crate::checkers::Checker;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "2pc-atomicity";
/// Where the property comes from.
pub const SOURCE: &str =
    "two-phase commit: all participants reach the coordinator's decision (Gray & Lamport 2006; DolphinDB transaction resolution)";

/// Judges decisions and their application, fact by fact.
#[derive(Debug, Default)]
pub struct TxAtomicity;

impl<V: ?Sized> Checker<DfsLedger, DfsFact, V> for TxAtomicity {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        match fact {
            DfsFact::TxDecided { tid, decision, .. } => match ledger.decisions.get(tid) {
                Some((first, by)) if first != decision => {
                    Err(format!("controller {node} decided {decision:?} for transaction {tid}, controller {by} decided {first:?}"))
                }
                _ => Ok(()),
            },
            DfsFact::ReplicaCommitted { tid, chunk, cid, .. } => match ledger.decisions.get(tid) {
                Some((Decision::Commit(c), _)) if c == cid => Ok(()),
                other => Err(format!(
                    "data node {node} committed transaction {tid} on chunk {chunk} with cid {cid}, but the decision is {:?}",
                    other.map(|(d, _)| d)
                )),
            },
            DfsFact::ReplicaRolledBack { tid, chunk } => match ledger.decisions.get(tid) {
                Some((Decision::Rollback, _)) => Ok(()),
                other => Err(format!(
                    "data node {node} rolled back transaction {tid} on chunk {chunk}, but the decision is {:?}",
                    other.map(|(d, _)| d)
                )),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::dolphindb_2pc::test_support::{
        CHUNK, DATA, OTHER_CONTROLLER, begun, commit, decided, part, rollback, run,
    };

    fn judged(facts: &[(NodeId, DfsFact)]) -> Result<(), String> {
        run::<(), _>(&mut TxAtomicity, facts).map(|_| ())
    }

    #[test]
    fn participants_reaching_the_controllers_decision_pass() {
        let facts = [
            begun(1, 1, vec![part(1)]),
            (DATA[0], DfsFact::Prepared { tid: 1, chunk: CHUNK }),
            commit(1, 1),
            // Another controller applying the same log reports the same decision.
            (OTHER_CONTROLLER, decided(1, Decision::Commit(1))),
            (DATA[0], DfsFact::ReplicaCommitted { tid: 1, chunk: CHUNK, cid: 1, digest: 10 }),
            begun(2, 2, vec![part(2)]),
            (DATA[1], DfsFact::Prepared { tid: 2, chunk: CHUNK }),
            rollback(2),
            (DATA[1], DfsFact::ReplicaRolledBack { tid: 2, chunk: CHUNK }),
        ];
        assert_eq!(judged(&facts), Ok(()));
    }

    #[test]
    fn controllers_disagreeing_on_a_decision_is_refused() {
        let facts = [begun(1, 1, vec![part(1)]), commit(1, 1), (OTHER_CONTROLLER, decided(1, Decision::Rollback))];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("controller 1 decided Rollback for transaction 1, controller 0 decided Commit(1)"), "{err}");
    }

    #[test]
    fn a_replica_committing_an_undecided_transaction_is_refused() {
        let facts = [begun(1, 1, vec![part(1)]), (DATA[0], DfsFact::ReplicaCommitted { tid: 1, chunk: CHUNK, cid: 1, digest: 10 })];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("committed transaction 1 on chunk 7 with cid 1, but the decision is None"), "{err}");
    }

    #[test]
    fn a_replica_committing_under_another_cid_is_refused() {
        let facts =
            [begun(1, 1, vec![part(1)]), commit(1, 1), (DATA[0], DfsFact::ReplicaCommitted { tid: 1, chunk: CHUNK, cid: 2, digest: 10 })];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("with cid 2, but the decision is Some(Commit(1))"), "{err}");
    }

    #[test]
    fn a_replica_rolling_back_a_committed_transaction_is_refused() {
        let facts = [begun(1, 1, vec![part(1)]), commit(1, 1), (DATA[1], DfsFact::ReplicaRolledBack { tid: 1, chunk: CHUNK })];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("rolled back transaction 1 on chunk 7, but the decision is Some(Commit(1))"), "{err}");
    }
}

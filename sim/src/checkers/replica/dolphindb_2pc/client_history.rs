//! The client history (Jepsen's oracle): what clients were told is true. An operation reported
//! committed ran as a transaction begun for it; an operation reported failed never committed, under
//! any of the transactions begun for it (checked after heal, when every transaction is decided).
//! Unknown outcomes may go either way.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::{Decision, DfsFact, OpOutcome};

use crate::checkers::Checker;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "client-history";
/// Where the property comes from.
pub const SOURCE: &str = "Jepsen-style history: acknowledged operations happened, failed ones did not";

/// Judges each success a client saw as it happens, and every failure once all is decided.
#[derive(Debug, Default)]
pub struct ClientHistory;

impl<V: ?Sized> Checker<DfsLedger, DfsFact, V> for ClientHistory {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        let DfsFact::OpEnded { op_id, outcome: OpOutcome::Ok { tid, .. }, .. } = fact else { return Ok(()) };
        if !ledger.tids_of((node, *op_id)).contains(tid) {
            return Err(format!("client {node} was told operation {op_id} committed as transaction {tid}, which was not begun for it"));
        }
        Ok(())
    }

    fn at_end(&self, ledger: &DfsLedger, _: &V) -> Result<(), String> {
        at_end(ledger)
    }
}

/// After heal: no operation reported failed committed.
fn at_end(ledger: &DfsLedger) -> Result<(), String> {
    for (op_id, op) in &ledger.ops {
        let Some(OpOutcome::Failed(error)) = &op.outcome else { continue };
        for tid in ledger.tids_of((op.client, *op_id)) {
            if let Some((Decision::Commit(cid), _)) = ledger.decisions.get(tid) {
                return Err(format!(
                    "client {} was told operation {op_id} failed ({error}), but it committed as transaction {tid} cid {cid}",
                    op.client
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ccrsim_model::dfs::{ErrorCode, OpError};

    use super::*;
    use crate::checkers::replica::dolphindb_2pc::test_support::{CLIENT, begun, commit, ended, invoked, part, rollback, run};

    fn judged(facts: &[(NodeId, DfsFact)]) -> Result<DfsLedger, String> {
        run::<(), _>(&mut ClientHistory, facts)
    }

    fn at_end(ledger: &DfsLedger) -> Result<(), String> {
        Checker::<DfsLedger, DfsFact, ()>::at_end(&ClientHistory, ledger, &())
    }

    fn failed() -> OpOutcome {
        OpOutcome::Failed(OpError::new(ErrorCode::Aborted, "a participant timed out"))
    }

    #[test]
    fn a_success_under_a_transaction_begun_for_it_passes() {
        let facts = [invoked(1), begun(1, 1, vec![part(1)]), commit(1, 1), ended(1, OpOutcome::Ok { tid: 1, cid: 1 })];
        assert_eq!(judged(&facts).err(), None);
    }

    #[test]
    fn a_success_under_a_transaction_begun_for_another_operation_is_refused() {
        let facts = [invoked(1), invoked(2), begun(1, 1, vec![part(1)]), commit(1, 1), ended(2, OpOutcome::Ok { tid: 1, cid: 1 })];
        let err = judged(&facts).unwrap_err();
        assert!(
            err.contains(&format!("client {CLIENT} was told operation 2 committed as transaction 1, which was not begun for it")),
            "{err}"
        );
    }

    #[test]
    fn failures_that_never_committed_and_unknowns_either_way_pass_at_the_end() {
        let facts = [
            invoked(1),
            begun(1, 1, vec![part(1)]),
            rollback(1),
            // A retry under a second transaction that also rolled back.
            begun(2, 1, vec![part(1)]),
            rollback(2),
            ended(1, failed()),
            invoked(2),
            begun(3, 2, vec![part(2)]),
            commit(3, 1),
            ended(2, OpOutcome::Unknown),
        ];
        assert_eq!(at_end(&judged(&facts).expect("judged")), Ok(()));
    }

    #[test]
    fn a_failure_that_committed_is_refused_at_the_end() {
        // The commit may come from any transaction begun for the operation, here the second.
        let facts = [invoked(1), begun(1, 1, vec![part(1)]), rollback(1), begun(2, 1, vec![part(1)]), commit(2, 1), ended(1, failed())];
        let err = at_end(&judged(&facts).expect("judged")).unwrap_err();
        assert!(err.contains("was told operation 1 failed") && err.contains("but it committed as transaction 2 cid 1"), "{err}");
    }
}

//! ReplSize refusals (the reference's §8: `replSizeCheck`, cls/clsReplicateSet.cpp, runs before the
//! write, `isAfterData = FALSE`, and refuses with `SDB_CLS_NODE_NOT_ENOUGH`, nothing applied; after
//! the write the same shortage is `SDB_CLS_WAIT_SYNC_FAILED`, the write applied): a primary answers
//! `NodeNotEnough` only for a write no node's log got a record of; it answers `WaitSyncFailed` or
//! `Timeout`, or confirms, only a write its own log got the record of (a confirmation at the LSN it
//! names).

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::SeqFact;
use ccrsim_model::replica::sequoiadb::types::SeqError;

use super::final_state::FinalNode;
use super::ledger::SeqLedger;
use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "replsize-refusal";
/// Where the property comes from.
pub const SOURCE: &str = "sequoiadb-replica-group.md §8 (cls/clsReplicateSet.cpp replSizeCheck before the write: NODE_NOT_ENOUGH, \
                          nothing applied; after it: WAIT_SYNC_FAILED)";

/// Judges every answer of a primary against the records written before it.
#[derive(Debug, Default)]
pub struct ReplSizeRefusal;

impl Checker<SeqLedger, SeqFact, [FinalNode]> for ReplSizeRefusal {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &SeqLedger, _node: NodeId, fact: &SeqFact) -> Result<(), String> {
        let SeqFact::WriteAnswered { at, write, lsn, error, .. } = fact else { return Ok(()) };
        let written_on: Vec<NodeId> = ledger.written.get(write).map(|s| s.keys().map(|m| m.node).collect()).unwrap_or_default();
        let by_itself = written_on.contains(&at.node);
        match error {
            Some(SeqError::NodeNotEnough) if !written_on.is_empty() => {
                Err(format!("node {} refused write {write:?} with NodeNotEnough, but its record was written on {written_on:?}", at.node))
            }
            Some(e @ (SeqError::WaitSyncFailed | SeqError::Timeout)) if !by_itself => {
                Err(format!("node {} answered write {write:?} with {e:?} without having written it", at.node))
            }
            None if !by_itself || ledger.record(at.group, *lsn).and_then(|r| r.write) != Some(*write) => Err(format!(
                "node {} confirmed write {write:?} at {lsn}, but its log got no record of it there (written on {written_on:?})",
                at.node
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{N, invoked, l, m, rec, run, w};
    use ccrsim_model::replica::sequoiadb::Lsn;
    use ccrsim_model::replica::sequoiadb::types::{ReplSize, WriteOp};

    fn answered(error: Option<SeqError>) -> (NodeId, SeqFact) {
        let confirmed_by = if error.is_none() { N.to_vec() } else { vec![N[0]] };
        let fact =
            SeqFact::WriteAnswered { at: m(N[0]), write: w(1), lsn: l(1, 0), repl_size: ReplSize::All, required: 3, confirmed_by, error };
        (N[0], fact)
    }

    fn judged(written: bool, error: Option<SeqError>) -> Result<(), String> {
        let mut facts = vec![invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::All)];
        if written {
            facts.push(rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))));
        }
        facts.push(answered(error));
        run(&mut ReplSizeRefusal, &facts).map(|_| ())
    }

    #[test]
    fn a_refusal_before_the_write_and_a_failure_after_it_pass() {
        assert_eq!(judged(false, Some(SeqError::NodeNotEnough)), Ok(()));
        assert_eq!(judged(true, Some(SeqError::WaitSyncFailed)), Ok(()));
        assert_eq!(judged(true, Some(SeqError::Timeout)), Ok(()));
        assert_eq!(judged(true, None), Ok(()));
        assert_eq!(judged(false, Some(SeqError::NotPrimary)), Ok(()));
    }

    #[test]
    fn a_refusal_after_the_write_is_refused() {
        // What a primary that checks ReplSize only after writing does.
        let err = judged(true, Some(SeqError::NodeNotEnough)).unwrap_err();
        assert!(err.contains("node 10 refused write (1, 1) with NodeNotEnough, but its record was written on [10]"), "{err}");
    }

    #[test]
    fn a_wait_sync_failure_before_the_write_is_refused() {
        let err = judged(false, Some(SeqError::WaitSyncFailed)).unwrap_err();
        assert!(err.contains("node 10 answered write (1, 1) with WaitSyncFailed without having written it"), "{err}");
    }

    #[test]
    fn a_confirmation_of_a_write_never_written_is_refused() {
        let err = judged(false, None).unwrap_err();
        assert!(err.contains("node 10 confirmed write (1, 1) at 1:0, but its log got no record of it there"), "{err}");
    }
}

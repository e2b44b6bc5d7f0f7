//! Indeterminate writes (the reference's §8: `_clsShdSession::_waitSync`, cls/clsShardSession.cpp:
//! a write is applied and logged on the primary before the wait for confirmations, and neither
//! `SDB_CLS_WAIT_SYNC_FAILED` nor `SDB_TIMEOUT` undoes it; Jepsen: such an operation is `:info`,
//! never counted as not-happened). A client reports as failed only a write refused before anything
//! was written: an answer that leaves the write applied but unconfirmed is indeterminate, and a write
//! the client reports failed has no record in any node's log, then or later. (The other checkers
//! never count an indeterminate write as not-happened: only acknowledged writes set expectations,
//! and the final history may hold an indeterminate write or not.)

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::fact::WriteOutcome;
use ccrsim_model::replica::sequoiadb::types::{GroupId, SeqError, WriteId};
use ccrsim_model::replica::sequoiadb::{Lsn, SeqFact};

use super::final_state::{FinalNode, History};
use super::ledger::SeqLedger;
use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "indeterminate-writes";
/// Where the property comes from.
pub const SOURCE: &str = "sequoiadb-replica-group.md §8 (cls/clsShardSession.cpp _waitSync: WAIT_SYNC_FAILED and TIMEOUT do not undo \
                          the write); Jepsen (:info operations are never counted as not-happened)";

/// The checker's own reading of SequoiaDB's errors: whether an answer with `e` can come after the
/// write was applied on the primary (so the client cannot know whether it survives).
pub fn leaves_write_applied(e: SeqError) -> bool {
    match e {
        SeqError::WaitSyncFailed | SeqError::Timeout => true,
        SeqError::NodeNotEnough
        | SeqError::NotPrimary
        | SeqError::NoPrimary
        | SeqError::FullSync
        | SeqError::DuplicateKey
        | SeqError::NotFound => false,
    }
}

/// Judges how clients classify their writes' endings, and every record against the writes reported
/// failed.
#[derive(Debug, Default)]
pub struct IndeterminateWrites;

impl Checker<SeqLedger, SeqFact, [FinalNode]> for IndeterminateWrites {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &SeqLedger, _node: NodeId, fact: &SeqFact) -> Result<(), String> {
        match fact {
            SeqFact::WriteEnded { write, outcome: WriteOutcome::Failed(e), .. } => {
                if leaves_write_applied(*e) {
                    return Err(format!(
                        "write {write:?} was reported failed ({e:?}), an error that leaves it applied: it is indeterminate"
                    ));
                }
                match ledger.written.get(write) {
                    Some(at) if !at.is_empty() => Err(format!(
                        "write {write:?} was reported failed ({e:?}), but its record was written on {:?}",
                        at.keys().map(|m| m.node).collect::<Vec<_>>()
                    )),
                    _ => Ok(()),
                }
            }
            SeqFact::RecordWritten { at, lsn, write: Some(write), .. } => match ledger.writes.get(write).and_then(|w| w.ended.as_ref()) {
                Some((WriteOutcome::Failed(e), _)) => {
                    Err(format!("node {} wrote write {write:?} at {lsn}, which its client was told failed ({e:?})", at.node))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// What became of the writes whose outcome their clients do not know, on the final history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndeterminateCounts {
    /// Writes that ended indeterminate.
    pub total: u64,
    /// Of these, on the final history.
    pub applied: u64,
    /// Written somewhere but not on the final history.
    pub lost: u64,
    /// Never written anywhere.
    pub never_written: u64,
    /// Not judged (no one final primary, or a history that does not reach back to them).
    pub unknown: u64,
}

impl IndeterminateCounts {
    /// The indeterminate writes judged on `history_of`.
    pub fn of(ledger: &SeqLedger, history_of: impl Fn(GroupId) -> Option<History>) -> Self {
        let mut lsn_of: BTreeMap<WriteId, (GroupId, Lsn)> = BTreeMap::new();
        for (group, records) in &ledger.records {
            for (lsn, r) in records {
                if let Some(w) = r.record.write {
                    lsn_of.insert(w, (*group, *lsn));
                }
            }
        }
        let mut histories: BTreeMap<GroupId, Option<History>> = BTreeMap::new();
        let mut counts = IndeterminateCounts::default();
        for (write, info) in &ledger.writes {
            let Some((WriteOutcome::Indeterminate(_), _)) = &info.ended else { continue };
            counts.total += 1;
            let Some(&(group, lsn)) = lsn_of.get(write) else {
                counts.never_written += 1;
                continue;
            };
            match histories.entry(group).or_insert_with(|| history_of(group)).as_ref().and_then(|h| h.holds(lsn)) {
                Some(true) => counts.applied += 1,
                Some(false) => counts.lost += 1,
                None => counts.unknown += 1,
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{N, ended, invoked, l, rec, run, w};
    use ccrsim_model::replica::sequoiadb::types::{ReplSize, WriteOp};

    fn judged(facts: &[(NodeId, SeqFact)]) -> Result<SeqLedger, String> {
        run(&mut IndeterminateWrites, facts)
    }

    fn sent() -> (NodeId, SeqFact) {
        invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(2))
    }

    #[test]
    fn an_unconfirmed_write_ended_indeterminate_passes_whether_it_survives_or_not() {
        let facts = [
            sent(),
            rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))),
            ended(w(1), WriteOutcome::Indeterminate(Some(SeqError::WaitSyncFailed))),
        ];
        let ledger = judged(&facts).unwrap();
        let kept = IndeterminateCounts::of(&ledger, |_| Some(History { lsns: [l(1, 0)].into(), complete: true, floor: l(1, 0) }));
        assert_eq!((kept.total, kept.applied), (1, 1));
        let lost = IndeterminateCounts::of(&ledger, |_| Some(History { complete: true, ..History::default() }));
        assert_eq!(lost.lost, 1);
    }

    #[test]
    fn an_unconfirmed_write_reported_failed_is_refused() {
        let facts = [sent(), rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))), ended(w(1), WriteOutcome::Failed(SeqError::Timeout))];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("write (1, 1) was reported failed (Timeout), an error that leaves it applied"), "{err}");
    }

    #[test]
    fn a_write_reported_failed_after_its_record_was_written_is_refused() {
        let facts = [sent(), rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))), ended(w(1), WriteOutcome::Failed(SeqError::NotPrimary))];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("was reported failed (NotPrimary), but its record was written on [10]"), "{err}");
    }

    #[test]
    fn a_record_of_a_write_reported_failed_is_refused() {
        let facts = [sent(), ended(w(1), WriteOutcome::Failed(SeqError::NodeNotEnough)), rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1)))];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("node 10 wrote write (1, 1) at 1:0, which its client was told failed (NodeNotEnough)"), "{err}");
    }

    #[test]
    fn a_refused_write_never_written_passes() {
        let facts = [sent(), ended(w(1), WriteOutcome::Failed(SeqError::NodeNotEnough)), ended(w(2), WriteOutcome::Indeterminate(None))];
        let ledger = judged(&facts).unwrap();
        assert_eq!(IndeterminateCounts::of(&ledger, |_| None).total, 0, "write 2 was never sent, so not counted");
    }
}

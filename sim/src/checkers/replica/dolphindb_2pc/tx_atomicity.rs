//! 2PC atomicity (Gray & Lamport, "Consensus on Transaction Commit", 2006; DolphinDB's transaction
//! resolution): every participant ends with the controller's decision. A replica may commit a
//! transaction only with the cid the controllers decided, and roll it back only if they decided so;
//! the controllers never disagree on a decision. Whether every in-doubt participant gets resolved
//! (no open prepare remains on a live data node after heal) is `dfs-liveness`'s to judge.
//!
//! Phase one comes first: commit is decided only after every replica of every chunk the
//! transaction writes voted yes. The participants are those the controller leader named when it
//! answered the BEGIN (a coordinator learns them from no one else, so a transaction that commits
//! had that answer sent); a yes vote is a participant's `Prepared { ok: true }` as it leaves the
//! node. At the first report of a commit decision every participant must have voted yes, per
//! participant and chunk.
//!
//! Commit ids are handed out through the controllers' Raft, one per commit decision: the first
//! reports of commit decisions carry cids 1, 2, 3, ... in that order (a controller reports its
//! decisions in log order, and any controller that reports a decision reported, or received in a
//! snapshot from one that reported, every earlier one).
//!
//! Transaction ids are handed out the same way, one per BEGIN that passes: the first reports of
//! BEGINs carry tids 1, 2, 3, ... in that order, and every controller decides a BEGIN again on
//! apply, so every later report of a tid (another controller, or one replaying its log) names the
//! client operation and the locks of the first. A tid is never reused: a report of an ended
//! transaction's tid for another operation is a second transaction under one id.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::LockKey;
use ccrsim_model::replica::dolphindb_2pc::{ChunkId, Cid, Decision, DfsFact, Tid};

use crate::checkers::Checker;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "2pc-atomicity";
/// Where the property comes from.
pub const SOURCE: &str =
    "two-phase commit: all participants reach the coordinator's decision (Gray & Lamport 2006; DolphinDB transaction resolution)";

/// Judges decisions and their application, fact by fact.
#[derive(Debug, Default)]
pub struct TxAtomicity {
    /// Each transaction's participants `(chunk, replica)`, as the leader's BEGIN answer named them.
    participants: BTreeMap<Tid, BTreeSet<(ChunkId, NodeId)>>,
    /// Each transaction's yes votes `(chunk, replica)` that left their participant.
    votes: BTreeMap<Tid, BTreeSet<(ChunkId, NodeId)>>,
    /// The cid of the last commit decision first reported (0 before any).
    last_cid: Cid,
    /// The tid of the last BEGIN first reported (0 before any).
    last_tid: Tid,
}

impl TxAtomicity {
    /// A controller answered a BEGIN of `tid`: these replicas of these chunks take part.
    pub fn on_begun(&mut self, tid: Tid, participants: impl IntoIterator<Item = (ChunkId, NodeId)>) {
        self.participants.entry(tid).or_default().extend(participants);
    }

    /// Participant `from` voted yes for `tid` on `chunk` (its `Prepared { ok: true }` left).
    pub fn on_vote(&mut self, from: NodeId, tid: Tid, chunk: ChunkId) {
        self.votes.entry(tid).or_default().insert((chunk, from));
    }

    /// Phase one of `tid` is over: every participant voted yes.
    fn phase_one_done(&self, node: NodeId, tid: Tid) -> Result<(), String> {
        let Some(participants) = self.participants.get(&tid) else {
            return Err(format!("controller {node} decided commit for transaction {tid}, whose BEGIN no controller answered"));
        };
        let votes = self.votes.get(&tid);
        match participants.iter().find(|p| votes.is_none_or(|v| !v.contains(p))) {
            Some((chunk, replica)) => Err(format!(
                "controller {node} decided commit for transaction {tid} before replica {replica} of chunk {chunk} prepared (no yes vote from it; {} of {} voted)",
                votes.map_or(0, |v| v.intersection(participants).count()),
                participants.len()
            )),
            None => Ok(()),
        }
    }

    /// A BEGIN of `tid` reported by `node`: the next tid, or a repeat of the first report.
    fn begun(&mut self, ledger: &DfsLedger, node: NodeId, tid: Tid, op_ref: (NodeId, u64), locks: &[LockKey]) -> Result<(), String> {
        match ledger.txs.get(&tid) {
            Some(first) if first.op_ref != op_ref || first.locks != locks => Err(format!(
                "controller {node} began transaction {tid} again for operation {op_ref:?} with locks {locks:?}; first begun for {:?} with {:?}",
                first.op_ref, first.locks
            )),
            Some(_) => Ok(()),
            None if tid != self.last_tid + 1 => {
                Err(format!("controller {node} began transaction {tid}, but the last tid begun is {}: tids are dense", self.last_tid))
            }
            None => {
                self.last_tid = tid;
                Ok(())
            }
        }
    }
}

impl<V: ?Sized> Checker<DfsLedger, DfsFact, V> for TxAtomicity {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        match fact {
            DfsFact::TxBegun { tid, op_ref, locks, .. } => self.begun(ledger, node, *tid, *op_ref, locks),
            DfsFact::TxDecided { tid, decision, .. } => match ledger.decisions.get(tid) {
                Some((first, by)) if first != decision => {
                    Err(format!("controller {node} decided {decision:?} for transaction {tid}, controller {by} decided {first:?}"))
                }
                Some(_) => Ok(()),
                None => match decision {
                    Decision::Commit(cid) if *cid != self.last_cid + 1 => Err(format!(
                        "controller {node} decided commit for transaction {tid} with cid {cid}, but the last cid decided is {}: cids are dense",
                        self.last_cid
                    )),
                    Decision::Commit(cid) => {
                        self.last_cid = *cid;
                        self.phase_one_done(node, *tid)
                    }
                    Decision::Rollback => Ok(()),
                },
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

    /// The verdict on `facts` after the BEGIN answers named `participants` of each transaction and
    /// those of `voted` voted yes.
    fn judged_after(participants: &[(Tid, NodeId)], voted: &[(Tid, NodeId)], facts: &[(NodeId, DfsFact)]) -> Result<(), String> {
        let mut c = TxAtomicity::default();
        for &(tid, n) in participants {
            c.on_begun(tid, [(CHUNK, n)]);
        }
        for &(tid, n) in voted {
            c.on_vote(n, tid, CHUNK);
        }
        run::<(), _>(&mut c, facts).map(|_| ())
    }

    /// The verdict on `facts`, phase one of transactions 1 and 2 done: each written by its own replica.
    fn judged(facts: &[(NodeId, DfsFact)]) -> Result<(), String> {
        let phase_one = [(1, DATA[0]), (2, DATA[1])];
        judged_after(&phase_one, &phase_one, facts)
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

    #[test]
    fn a_commit_after_every_replica_voted_yes_passes() {
        let both = [(1, DATA[0]), (1, DATA[1])];
        assert_eq!(judged_after(&both, &both, &[begun(1, 1, vec![part(1)]), commit(1, 1)]), Ok(()));
    }

    #[test]
    fn a_commit_before_every_replica_voted_yes_is_refused() {
        let both = [(1, DATA[0]), (1, DATA[1])];
        let err = judged_after(&both, &both[..1], &[begun(1, 1, vec![part(1)]), commit(1, 1)]).unwrap_err();
        assert!(
            err.contains("decided commit for transaction 1 before replica 4 of chunk 7 prepared (no yes vote from it; 1 of 2 voted)"),
            "{err}"
        );
    }

    #[test]
    fn a_rollback_needs_no_votes() {
        let both = [(1, DATA[0]), (1, DATA[1])];
        assert_eq!(judged_after(&both, &[], &[begun(1, 1, vec![part(1)]), rollback(1)]), Ok(()));
    }

    #[test]
    fn a_commit_of_a_transaction_whose_begin_nobody_answered_is_refused() {
        let err = judged_after(&[], &[], &[begun(1, 1, vec![part(1)]), commit(1, 1)]).unwrap_err();
        assert!(err.contains("decided commit for transaction 1, whose BEGIN no controller answered"), "{err}");
    }

    #[test]
    fn dense_tids_in_begin_order_pass_and_a_skipped_tid_is_refused() {
        let facts = |second: Tid| vec![begun(1, 1, vec![part(1)]), begun(second, 2, vec![part(2)])];
        assert_eq!(judged(&facts(2)), Ok(()));
        let err = judged(&facts(3)).unwrap_err();
        assert!(err.contains("began transaction 3, but the last tid begun is 1: tids are dense"), "{err}");
    }

    #[test]
    fn a_begin_reported_again_alike_passes() {
        // Another controller, or one replaying its log after a restart, reports the BEGIN again.
        let again = (OTHER_CONTROLLER, begun(1, 1, vec![part(1)]).1);
        assert_eq!(judged(&[begun(1, 1, vec![part(1)]), again.clone(), rollback(1), again]), Ok(()));
    }

    #[test]
    fn a_begin_reported_again_with_other_locks_is_refused() {
        let err = judged(&[begun(1, 1, vec![part(1)]), (OTHER_CONTROLLER, begun(1, 1, vec![part(2)]).1)]).unwrap_err();
        assert!(
            err.contains("controller 1 began transaction 1 again for operation (9, 1) with locks")
                && err.contains("first begun for (9, 1)"),
            "{err}"
        );
    }

    #[test]
    fn a_tid_reused_for_another_operation_after_its_transaction_ended_is_refused() {
        // The controllers' logs hold one BEGIN per tid, whatever became of it.
        let err = judged(&[begun(1, 1, vec![part(1)]), rollback(1), begun(1, 2, vec![part(1)])]).unwrap_err();
        assert!(err.contains("began transaction 1 again for operation (9, 2)") && err.contains("first begun for (9, 1)"), "{err}");
    }

    #[test]
    fn dense_cids_in_decision_order_pass_and_a_skipped_cid_is_refused() {
        let two = |second: Cid| vec![begun(1, 1, vec![part(1)]), commit(1, 1), begun(2, 2, vec![part(2)]), commit(2, second)];
        assert_eq!(judged(&two(2)), Ok(()));
        let err = judged(&two(3)).unwrap_err();
        assert!(err.contains("decided commit for transaction 2 with cid 3, but the last cid decided is 1: cids are dense"), "{err}");
    }
}

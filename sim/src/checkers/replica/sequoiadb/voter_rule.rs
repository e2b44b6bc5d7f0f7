//! The voter rule (the reference's §7, `_launch(lsn, id, round)` in cls/clsVoteStatus.cpp; seed
//! 002 §选举: the node with the newest log wins): a voter compares its own LSN with the
//! candidate's, accepts a higher one, refuses a lower one, and only on equal LSNs decides by
//! weights and node ids. So a voter never promises its vote (a round-two ballot) to a candidate
//! whose log ends before its own. Judged per voter, from what it reported when it voted: its own
//! log's end and the candidate's, compared version first, then offset (`DPS_LSN::compare`, the
//! reference's §1), by this checker's own comparison.
//!
//! This rule is what keeps a record that a majority holds from losing an election: with it,
//! `write-durability` may excuse losses whose majority broke for documented reasons (abnormal
//! restarts, confirmations given after a vote) without hiding a voter that gives its vote away.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::{Lsn, SeqFact};

use super::final_state::FinalNode;
use super::ledger::SeqLedger;
use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "voter-rule";
/// Where the property comes from.
pub const SOURCE: &str = "seed 002 §选举; sequoiadb-replica-group.md §7 (voter rule, cls/clsVoteStatus.cpp _launch), §1 (DPS_LSN compare)";

/// Judges every accepted round-two ballot.
#[derive(Debug, Default)]
pub struct VoterRule;

impl Checker<SeqLedger, SeqFact, [FinalNode]> for VoterRule {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, _ledger: &SeqLedger, _node: NodeId, fact: &SeqFact) -> Result<(), String> {
        match fact {
            SeqFact::VoteAccepted { at, candidate, version, end, candidate_end } if behind(*candidate_end, *end) => Err(format!(
                "node {} of group {} promised candidate {candidate} its vote for version {version} although the candidate's log ends at {candidate_end}, before its own at {end}",
                at.node, at.group
            )),
            _ => Ok(()),
        }
    }
}

/// Whether a log ending at `a` ends before one ending at `b`: the version decides, then the offset.
fn behind(a: Lsn, b: Lsn) -> bool {
    (a.version, a.offset) < (b.version, b.offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{N, l, m, run};

    fn vote(end: Lsn, candidate_end: Lsn) -> (NodeId, SeqFact) {
        (N[2], SeqFact::VoteAccepted { at: m(N[2]), candidate: N[1], version: 3, end, candidate_end })
    }

    #[test]
    fn a_vote_for_a_candidate_at_or_past_the_voters_log_passes() {
        for (end, candidate_end) in [(l(2, 30), l(2, 30)), (l(2, 30), l(2, 40)), (l(2, 30), l(3, 0)), (Lsn::INVALID, l(1, 0))] {
            assert!(run(&mut VoterRule, &[vote(end, candidate_end)]).is_ok(), "{end} -> {candidate_end}");
        }
    }

    #[test]
    fn a_vote_for_a_candidate_behind_the_voters_log_is_refused() {
        // What a voter that ignores LSNs does (voter_ignores_lsn); the version decides first.
        for (end, candidate_end) in [(l(2, 30), l(2, 20)), (l(3, 0), l(2, 90)), (l(1, 0), Lsn::INVALID)] {
            let err = run(&mut VoterRule, &[vote(end, candidate_end)]).unwrap_err();
            assert!(err.contains(&format!("ends at {candidate_end}, before its own at {end}")), "{err}");
        }
    }
}

//! Election Safety (Raft paper, Figure 3; §5.2): at most one leader can be elected in a given term.
//! With it, the rule that makes it hold (§5.2): each server votes for at most one candidate per term,
//! across crashes, which is why term and vote must be durable before a grant leaves.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::raft::RaftFact;

use crate::checkers::Checker;
use crate::checkers::raft::shadow::GroupShadow;

/// Name of the checker.
pub const NAME: &str = "election-safety";
/// Where the property comes from.
pub const SOURCE: &str = "Raft paper, Figure 3 (Election Safety) and §5.2 (one vote per term)";

/// Leaders and votes seen so far, across every restart.
#[derive(Debug, Default)]
pub struct ElectionSafety {
    leaders: BTreeMap<u64, NodeId>,
    votes: BTreeMap<(NodeId, u64), NodeId>,
}

impl<V: ?Sized> Checker<GroupShadow, RaftFact, V> for ElectionSafety {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, _group: &GroupShadow, node: NodeId, fact: &RaftFact) -> Result<(), String> {
        match fact {
            RaftFact::BecameLeader { term } => match self.leaders.insert(*term, node) {
                Some(other) if other != node => Err(format!("two leaders in term {term}: node {other} and node {node}")),
                _ => Ok(()),
            },
            RaftFact::VoteGranted { term, candidate } => match self.votes.insert((node, *term), *candidate) {
                Some(first) if first != *candidate => Err(format!("node {node} voted for {first} and then for {candidate} in term {term}")),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::raft::test_support::{elected, run, vote};

    #[test]
    fn successive_terms_may_each_have_their_own_leader() {
        let mut facts = Vec::from(elected(0, 1));
        facts.extend(elected(2, 2));
        // A restarted leader replaying its log reports the same leadership again: the same event.
        facts.push((2, RaftFact::BecameLeader { term: 2 }));
        assert_eq!(run(&mut ElectionSafety::default(), &facts).err(), None);
    }

    #[test]
    fn a_second_leader_in_one_term_is_refused() {
        let mut facts = Vec::from(elected(0, 1));
        facts.extend(elected(1, 1));
        let err = run(&mut ElectionSafety::default(), &facts).unwrap_err();
        assert!(err.contains("two leaders in term 1"), "{err}");
    }

    #[test]
    fn a_member_may_repeat_its_vote_and_vote_anew_in_a_later_term() {
        // The grant may leave twice (a retransmitted request); a new term frees the vote.
        let facts = [(1, vote(1, 0)), (1, vote(1, 0)), (1, vote(2, 2))];
        assert_eq!(run(&mut ElectionSafety::default(), &facts).err(), None);
    }

    #[test]
    fn a_second_vote_in_one_term_is_refused() {
        // What a member that forgot its vote in a crash does (term and vote not durable).
        let facts = [(1, vote(1, 0)), (1, vote(1, 2))];
        let err = run(&mut ElectionSafety::default(), &facts).unwrap_err();
        assert!(err.contains("voted for 0 and then for 2 in term 1"), "{err}");
    }
}

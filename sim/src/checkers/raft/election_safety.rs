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

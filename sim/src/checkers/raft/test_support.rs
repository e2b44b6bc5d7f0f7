//! What the Raft checkers' tests share: a group of three members (0, 1, 2), a runner that judges
//! each fact against the shadow as it was before it and then has the shadow follow it (as
//! `RaftCheckers::on_fact` does), and short names for the facts.

#![cfg(test)]

use ccrsim_model::core::io::NodeId;
use ccrsim_model::raft::RaftFact;

use super::shadow::GroupShadow;
use crate::checkers::Checker;

/// The members of the group.
pub const MEMBERS: [NodeId; 3] = [0, 1, 2];

/// A fresh group of [`MEMBERS`].
pub fn group() -> GroupShadow {
    GroupShadow::new("master controllers".into(), &MEMBERS)
}

/// Judges `facts` in order with `checker`, each against the shadow before it; the first refusal.
/// The shadow follows every fact judged (a fact it cannot follow is a mistake of the test).
pub fn run<C: Checker<GroupShadow, RaftFact, ()>>(checker: &mut C, facts: &[(NodeId, RaftFact)]) -> Result<GroupShadow, String> {
    let mut shadow = group();
    for (node, fact) in facts {
        checker.on_fact(&shadow, *node, fact)?;
        shadow.apply(*node, fact).unwrap_or_else(|e| panic!("the test's facts do not follow each other: {e}"));
    }
    Ok(shadow)
}

/// Term and vote changed.
pub fn hard(term: u64, voted_for: Option<NodeId>) -> RaftFact {
    RaftFact::HardState { term, voted_for }
}

/// A vote for `candidate` left the member.
pub fn vote(term: u64, candidate: NodeId) -> RaftFact {
    RaftFact::VoteGranted { term, candidate }
}

/// `node` won `term`: its new term (voting for itself), then leadership.
pub fn elected(node: NodeId, term: u64) -> [(NodeId, RaftFact); 2] {
    [(node, hard(term, Some(node))), (node, RaftFact::BecameLeader { term })]
}

/// An entry `(index, term, payload hash)` appended.
pub fn append(index: u64, term: u64, hash: u64) -> RaftFact {
    RaftFact::Appended { entry: (index, term, hash) }
}

/// The commit index reached `index`, decided by counting replicas (a leader) or learned.
pub fn commit(index: u64, term: u64, by_leader: bool) -> RaftFact {
    RaftFact::Committed { index, term, by_leader }
}

/// The entry at `index` applied, the chain of applied entries reaching `digest`.
pub fn applied(index: u64, term: u64, payload_hash: u64, digest: u64) -> RaftFact {
    RaftFact::Applied { index, term, payload_hash, digest }
}

//! Leader Append-Only (Raft paper, Figure 3; §5.3): a leader never overwrites or deletes entries in
//! its log; it only appends new entries.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::raft::RaftFact;

use crate::checkers::Checker;
use crate::checkers::raft::shadow::GroupShadow;

/// Name of the checker.
pub const NAME: &str = "leader-append-only";
/// Where the property comes from.
pub const SOURCE: &str = "Raft paper, Figure 3 (Leader Append-Only) and §5.3";

/// Stateless: the shadow says who leads.
#[derive(Debug, Default)]
pub struct LeaderAppendOnly;

impl<V: ?Sized> Checker<GroupShadow, RaftFact, V> for LeaderAppendOnly {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, group: &GroupShadow, node: NodeId, fact: &RaftFact) -> Result<(), String> {
        let m = group.member(node);
        let Some(term) = m.leading else { return Ok(()) };
        match fact {
            RaftFact::Truncated { from_index } if *from_index <= m.log.last_index() => {
                Err(format!("leader {node} of term {term} deleted entries {from_index}..={} from its log", m.log.last_index()))
            }
            RaftFact::Appended { entry: (index, ..) } if *index <= m.log.last_index() => {
                Err(format!("leader {node} of term {term} overwrote entry {index}"))
            }
            RaftFact::SnapshotInstalled { index, .. } => {
                Err(format!("leader {node} of term {term} replaced its log with a snapshot at {index}"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::raft::test_support::{append, elected, hard, run};

    #[test]
    fn a_leader_appends_at_the_end_and_compacts_its_own_prefix() {
        let mut facts = Vec::from(elected(0, 1));
        facts.extend([(0, append(1, 1, 11)), (0, append(2, 1, 12)), (0, RaftFact::Compacted { index: 1 }), (0, append(3, 1, 13))]);
        assert_eq!(run(&mut LeaderAppendOnly, &facts).err(), None);
    }

    #[test]
    fn a_follower_and_a_former_leader_may_lose_their_tail() {
        // Truncation is how a follower (and a leader that stepped down) joins the new leader's log.
        let mut facts = vec![(1, append(1, 1, 11)), (1, append(2, 1, 12)), (1, RaftFact::Truncated { from_index: 2 })];
        facts.extend(elected(0, 1));
        facts.extend([
            (0, append(1, 1, 11)),
            (0, append(2, 1, 99)),
            (0, RaftFact::SteppedDown { term: 1 }),
            (0, hard(2, None)),
            (0, RaftFact::Truncated { from_index: 2 }),
            (0, append(2, 2, 22)),
        ]);
        assert_eq!(run(&mut LeaderAppendOnly, &facts).err(), None);
    }

    #[test]
    fn a_leader_overwriting_an_entry_is_refused() {
        let mut facts = Vec::from(elected(0, 1));
        facts.extend([(0, append(1, 1, 11)), (0, append(2, 1, 12)), (0, append(2, 1, 99))]);
        let err = run(&mut LeaderAppendOnly, &facts).unwrap_err();
        assert!(err.contains("overwrote entry 2"), "{err}");
    }

    #[test]
    fn a_leader_deleting_entries_is_refused() {
        let mut facts = Vec::from(elected(0, 1));
        facts.extend([(0, append(1, 1, 11)), (0, append(2, 1, 12)), (0, RaftFact::Truncated { from_index: 2 })]);
        let err = run(&mut LeaderAppendOnly, &facts).unwrap_err();
        assert!(err.contains("deleted entries 2..=2"), "{err}");
    }

    #[test]
    fn a_leader_replacing_its_log_with_a_snapshot_is_refused() {
        let mut facts = Vec::from(elected(0, 1));
        facts.extend([(0, append(1, 1, 11)), (0, RaftFact::SnapshotInstalled { index: 5, term: 1, digest: 7 })]);
        let err = run(&mut LeaderAppendOnly, &facts).unwrap_err();
        assert!(err.contains("replaced its log with a snapshot"), "{err}");
    }
}

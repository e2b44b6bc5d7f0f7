//! State Machine Safety (Raft paper, Figure 3; §5.4.3): if a server has applied a log entry at a
//! given index to its state machine, no other server will ever apply a different log entry for the
//! same index. Checked per applied entry and through the chain digest that every applied entry
//! extends, so snapshots (which skip entries) are covered too.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::raft::RaftFact;

use crate::checkers::Checker;
use crate::checkers::raft::shadow::GroupShadow;

/// Name of the checker.
pub const NAME: &str = "state-machine-safety";
/// Where the property comes from.
pub const SOURCE: &str = "Raft paper, Figure 3 (State Machine Safety) and §5.4.3";

/// What was applied at each index first: `(term, payload hash, chain digest, node)`.
#[derive(Debug, Default)]
pub struct StateMachineSafety {
    applied: BTreeMap<u64, (u64, u64, u64, NodeId)>,
}

impl<V: ?Sized> Checker<GroupShadow, RaftFact, V> for StateMachineSafety {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, _group: &GroupShadow, node: NodeId, fact: &RaftFact) -> Result<(), String> {
        match fact {
            RaftFact::Applied { index, term, payload_hash, digest } => match self.applied.get(index) {
                None => {
                    self.applied.insert(*index, (*term, *payload_hash, *digest, node));
                    Ok(())
                }
                Some(&(t, h, d, first)) => {
                    if (t, h) != (*term, *payload_hash) {
                        Err(format!(
                            "node {first} applied an entry of term {t} at {index}, node {node} one of term {term} (content {})",
                            if h == *payload_hash { "equal" } else { "different" }
                        ))
                    } else if d != *digest {
                        Err(format!("node {node} reached index {index} through a different history of applied entries than node {first}"))
                    } else {
                        Ok(())
                    }
                }
            },
            RaftFact::SnapshotInstalled { index, digest, .. }
            | RaftFact::Recovered { snapshot_index: index, snapshot_digest: digest, .. } => match self.applied.get(index) {
                Some(&(_, _, d, first)) if *index > 0 && d != *digest => {
                    Err(format!("node {node} holds a snapshot at {index} whose applied history differs from what node {first} applied"))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::raft::test_support::{applied, run};

    /// Node 0 applies entries 1 and 2 of term 1.
    fn node_0_applies() -> Vec<(NodeId, RaftFact)> {
        vec![(0, applied(1, 1, 11, 101)), (0, applied(2, 1, 12, 102))]
    }

    #[test]
    fn members_applying_the_same_entries_and_snapshots_of_them_pass() {
        let mut facts = node_0_applies();
        facts.extend([(1, applied(1, 1, 11, 101)), (1, applied(2, 1, 12, 102))]);
        facts.push((2, RaftFact::SnapshotInstalled { index: 2, term: 1, digest: 102 }));
        assert_eq!(run(&mut StateMachineSafety::default(), &facts).err(), None);
    }

    #[test]
    fn another_entry_applied_at_an_applied_index_is_refused() {
        let mut facts = node_0_applies();
        facts.push((1, applied(1, 2, 21, 201)));
        let err = run(&mut StateMachineSafety::default(), &facts).unwrap_err();
        assert!(err.contains("node 0 applied an entry of term 1 at 1, node 1 one of term 2"), "{err}");
    }

    #[test]
    fn the_same_entry_reached_through_another_history_is_refused() {
        let mut facts = node_0_applies();
        facts.push((1, applied(2, 1, 12, 999)));
        let err = run(&mut StateMachineSafety::default(), &facts).unwrap_err();
        assert!(err.contains("through a different history"), "{err}");
    }

    #[test]
    fn a_snapshot_of_another_history_is_refused() {
        // A snapshot skips entries; its digest still says which history it holds.
        let mut facts = node_0_applies();
        facts.push((2, RaftFact::SnapshotInstalled { index: 2, term: 1, digest: 999 }));
        let err = run(&mut StateMachineSafety::default(), &facts).unwrap_err();
        assert!(err.contains("holds a snapshot at 2 whose applied history differs"), "{err}");
    }
}

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

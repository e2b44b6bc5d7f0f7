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

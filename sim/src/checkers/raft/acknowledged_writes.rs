//! Acknowledged writes survive (a Jepsen-style client oracle; Raft paper §8): every proposal the
//! controllers acknowledged to a client is in the state machine of every live controller once the
//! system has converged, whatever crashed or was cut off in between. A lost acknowledged write is a
//! durability bug (an acknowledgement that ran ahead of an fsync, a committed entry overwritten).

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::deployment::fact::ClientFact;

use crate::checkers::Checker;
use crate::deployment::Deployment;
use crate::view::ClusterView;

/// Name of the checker.
pub const NAME: &str = "acknowledged-writes";
/// Where the property comes from.
pub const SOURCE: &str = "Raft paper §8 (client interaction); Jepsen client-history oracle";

/// Acknowledged writes: key -> (value, index, client).
#[derive(Debug, Default)]
pub struct AcknowledgedWrites {
    acked: BTreeMap<String, (String, u64, NodeId)>,
}

/// `K` is the controller group a pending check looks at (client facts concern every group).
impl<'a, D: Deployment> Checker<[NodeId], ClientFact, ClusterView<'a, D>> for AcknowledgedWrites {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, _: &[NodeId], client: NodeId, fact: &ClientFact) -> Result<(), String> {
        if let ClientFact::Acknowledged { key, value, index, .. } = fact
            && let Some((old, old_index, _)) = self.acked.insert(key.clone(), (value.clone(), *index, client))
            && (old != *value || old_index != *index)
        {
            return Err(format!("key {key} acknowledged twice, as {old}@{old_index} and {value}@{index}"));
        }
        Ok(())
    }

    /// The first acknowledged write that some live controller of `members` lacks.
    fn pending(&self, members: &[NodeId], view: &ClusterView<'a, D>) -> Option<String> {
        for &id in members {
            let Some(controller) = view.controller(id) else { continue };
            let sm = controller.raft().state_machine();
            for (key, (value, index, client)) in &self.acked {
                if sm.get(key) != Some(value.as_str()) {
                    return Some(format!(
                        "controller {id} lacks {key}={value}, acknowledged to client {client} at index {index} (it holds {:?}, applied up to {})",
                        sm.get(key),
                        controller.raft().last_applied()
                    ));
                }
            }
        }
        None
    }
}

impl AcknowledgedWrites {
    /// Number of acknowledged writes.
    pub fn count(&self) -> usize {
        self.acked.len()
    }
}

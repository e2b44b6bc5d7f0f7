//! Acknowledged writes survive (a Jepsen-style client oracle; Raft paper §8): every proposal the
//! controllers acknowledged to a client is in the state machine of every live controller once the
//! system has converged, whatever crashed or was cut off in between. A lost acknowledged write is a
//! durability bug (an acknowledgement that ran ahead of an fsync, a committed entry overwritten).
//!
//! The verdict is an end-state one: it is given once every group converged (`raft-liveness`: a
//! leader every live member follows, each of them applied up to its commit index), when a write
//! a live controller lacks can no longer arrive. Before that, a lagging member is not a loss.

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

    /// Once the group of `members` converged: no live controller of it lacks an acknowledged write.
    fn at_end(&self, members: &[NodeId], view: &ClusterView<'a, D>) -> Result<(), String> {
        for &id in members {
            let Some(controller) = view.controller(id) else { continue };
            let sm = controller.raft().state_machine();
            for (key, (value, index, client)) in &self.acked {
                if sm.get(key) != Some(value.as_str()) {
                    return Err(format!(
                        "controller {id} lacks {key}={value}, acknowledged to client {client} at index {index} (it holds {:?}, applied up to {})",
                        sm.get(key),
                        controller.raft().last_applied()
                    ));
                }
            }
        }
        Ok(())
    }
}

impl AcknowledgedWrites {
    /// Number of acknowledged writes.
    pub fn count(&self) -> usize {
        self.acked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::test_support::{Bench, View};

    fn ack(key: &str, value: &str, index: u64) -> ClientFact {
        ClientFact::Acknowledged { lane: 0, seq: 1, key: key.into(), value: value.into(), index, at: 0 }
    }

    fn judge(acks: &mut AcknowledgedWrites, client: NodeId, fact: &ClientFact) -> Result<(), String> {
        Checker::<[NodeId], ClientFact, View<'_>>::on_fact(acks, &[], client, fact)
    }

    #[test]
    fn an_acknowledgement_repeated_alike_passes() {
        // A retried request that the leader recognised as applied is acknowledged again, alike.
        let mut acks = AcknowledgedWrites::default();
        assert_eq!(judge(&mut acks, 9, &ack("k", "v", 2)), Ok(()));
        assert_eq!(judge(&mut acks, 9, &ack("k", "v", 2)), Ok(()));
        assert_eq!(acks.count(), 1);
    }

    #[test]
    fn a_key_acknowledged_twice_differently_is_refused() {
        // Clients write fresh keys: two acknowledgements of one key mean one of them is false.
        let mut acks = AcknowledgedWrites::default();
        judge(&mut acks, 9, &ack("k", "v", 2)).expect("the first");
        let err = judge(&mut acks, 9, &ack("k", "w", 3)).unwrap_err();
        assert!(err.contains("acknowledged twice"), "{err}");
    }

    /// A lone controller that leads and applied `k=v` for client 0, and the checker's verdict
    /// on that end state after the client was told `key=value`.
    fn verdict_after(key: &str, value: &str) -> Result<(), String> {
        let mut bench = Bench::master(1, 0);
        let (c, client) = (bench.node("master.controller.0"), bench.node("client.0"));
        bench.elect(c);
        bench.put(c, client, "k", "v");
        let mut acks = AcknowledgedWrites::default();
        judge(&mut acks, client, &ack(key, value, 2)).expect("one acknowledgement");
        acks.at_end(&[c][..], &bench.view())
    }

    #[test]
    fn a_write_every_live_controller_applied_passes() {
        assert_eq!(verdict_after("k", "v"), Ok(()));
    }

    #[test]
    fn an_acknowledged_write_a_live_controller_lacks_is_refused() {
        let err = verdict_after("k", "w").unwrap_err();
        assert!(err.contains("controller 0 lacks k=w, acknowledged to client"), "{err}");
    }
}

//! Recovery soundness (the fault model; TigerBeetle's storage checker in spirit): a node may refuse to
//! start on corrupt durable state only if the nemesis corrupted its disk. Torn writes and lost
//! unsynced writes are normal after power loss and recovery must absorb them; if a node's own
//! writes, crashes included, leave state it cannot read, its write or recovery protocol is wrong
//! (a healthy member would otherwise be lost for good, silently shrinking the group).

use std::collections::BTreeSet;

use ccrsim_model::core::io::NodeId;

use super::Checker;

/// Name of the checker.
pub const NAME: &str = "recovery-soundness";
/// Where the property comes from.
pub const SOURCE: &str = "ccrsim fault model: only injected corruption may make durable state unreadable";

/// Nodes whose disk the nemesis corrupted.
#[derive(Debug, Default)]
pub struct RecoverySoundness {
    corrupted: BTreeSet<NodeId>,
}

impl RecoverySoundness {
    /// The nemesis flipped a bit on `node`'s disk.
    pub fn on_corruption(&mut self, node: NodeId) {
        self.corrupted.insert(node);
    }
}

/// The fact judged is a node's refusal to start, with its reason.
impl Checker<(), str, ()> for RecoverySoundness {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, _: &(), node: NodeId, reason: &str) -> Result<(), String> {
        if self.corrupted.contains(&node) {
            Ok(())
        } else {
            Err(format!("node {node} refused its own durable state, which no fault corrupted: {reason}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_of_a_disk_the_nemesis_corrupted_passes() {
        let mut checker = RecoverySoundness::default();
        checker.on_corruption(2);
        assert_eq!(checker.on_fact(&(), 2, "raft/wal corrupt at byte 40"), Ok(()));
    }

    #[test]
    fn a_refusal_of_a_disk_no_fault_corrupted_is_refused() {
        // Corruption elsewhere excuses nothing here: torn writes and lost unsynced writes must be
        // absorbed by recovery.
        let mut checker = RecoverySoundness::default();
        checker.on_corruption(2);
        let err = checker.on_fact(&(), 1, "raft/wal corrupt at byte 40").unwrap_err();
        assert!(err.contains("node 1 refused its own durable state, which no fault corrupted"), "{err}");
    }
}

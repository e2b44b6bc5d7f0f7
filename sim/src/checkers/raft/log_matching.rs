//! Log Matching (Raft paper, Figure 3; §5.3): if two logs contain an entry with the same index and
//! term, then the logs are identical in all entries up through that index.
//!
//! Checked inductively, in O(1) per append: every `(index, term)` ever appended anywhere must carry
//! the same payload and follow an entry of the same term. Together these give the property for
//! whole prefixes. Recovered logs are checked the same way (a recovery bug shows up here too).

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::raft::RaftFact;

use crate::checkers::Checker;
use crate::checkers::raft::shadow::GroupShadow;

/// Name of the checker.
pub const NAME: &str = "log-matching";
/// Where the property comes from.
pub const SOURCE: &str = "Raft paper, Figure 3 (Log Matching) and §5.3";

/// Every `(index, term)` seen: `(payload hash, term of the previous entry, first node)`.
#[derive(Debug, Default)]
pub struct LogMatching {
    seen: BTreeMap<(u64, u64), (u64, Option<u64>, NodeId)>,
}

impl<V: ?Sized> Checker<GroupShadow, RaftFact, V> for LogMatching {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, group: &GroupShadow, node: NodeId, fact: &RaftFact) -> Result<(), String> {
        match fact {
            RaftFact::Appended { entry: (index, term, hash) } => {
                let prev = group.member(node).log.term_at(index - 1);
                self.see(node, *index, *term, *hash, prev)
            }
            RaftFact::Recovered { snapshot_index, snapshot_term, entries, .. } => {
                let mut prev = Some(*snapshot_term);
                for &(index, term, hash) in entries {
                    assert!(index > *snapshot_index);
                    self.see(node, index, term, hash, prev)?;
                    prev = Some(term);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl LogMatching {
    fn see(&mut self, node: NodeId, index: u64, term: u64, hash: u64, prev: Option<u64>) -> Result<(), String> {
        match self.seen.get(&(index, term)) {
            None => {
                self.seen.insert((index, term), (hash, prev, node));
                Ok(())
            }
            Some(&(first_hash, first_prev, first_node)) => {
                if first_hash != hash {
                    return Err(format!("entry ({index}, term {term}) has different content on node {first_node} and node {node}"));
                }
                if let (Some(a), Some(b)) = (first_prev, prev)
                    && a != b
                {
                    return Err(format!(
                        "entry ({index}, term {term}) follows an entry of term {a} on node {first_node} but of term {b} on node {node}: the logs differ before it"
                    ));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::raft::test_support::{append, run};

    fn recovered(entries: Vec<(u64, u64, u64)>) -> RaftFact {
        RaftFact::Recovered { term: 2, voted_for: None, snapshot_index: 0, snapshot_term: 0, snapshot_digest: 0, entries }
    }

    #[test]
    fn equal_entries_at_equal_positions_pass() {
        let facts = [
            (0, append(1, 1, 11)),
            (0, append(2, 2, 22)),
            (1, append(1, 1, 11)),
            (1, append(2, 2, 22)),
            (2, recovered(vec![(1, 1, 11), (2, 2, 22)])),
        ];
        assert_eq!(run(&mut LogMatching::default(), &facts).err(), None);
    }

    #[test]
    fn two_contents_for_one_index_and_term_are_refused() {
        let facts = [(0, append(1, 1, 11)), (1, append(1, 1, 99))];
        let err = run(&mut LogMatching::default(), &facts).unwrap_err();
        assert!(err.contains("different content"), "{err}");
    }

    #[test]
    fn one_index_and_term_after_different_histories_is_refused() {
        // Entry (2, term 2) is the same on both, but follows term 1 on one and term 2 on the other:
        // the logs match at 2 and not before.
        let facts = [(0, append(1, 1, 11)), (0, append(2, 2, 22)), (1, append(1, 2, 12)), (1, append(2, 2, 22))];
        let err = run(&mut LogMatching::default(), &facts).unwrap_err();
        assert!(err.contains("the logs differ before it"), "{err}");
    }

    #[test]
    fn a_recovered_log_is_held_to_the_same_rule() {
        // A recovery that reads another entry back than was written shows here.
        let facts = [(0, append(1, 1, 11)), (1, recovered(vec![(1, 1, 99)]))];
        let err = run(&mut LogMatching::default(), &facts).unwrap_err();
        assert!(err.contains("different content"), "{err}");
    }
}

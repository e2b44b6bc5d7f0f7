//! Leader Completeness (Raft paper, Figure 3; §5.4): if a log entry is committed in a given term,
//! then that entry will be present in the logs of the leaders for all higher-numbered terms.
//!
//! Checked when a leader of term T is elected (against every entry committed so far in a term below
//! T that its log still holds after its snapshot) and when a leader commits (against every current
//! leader of a higher term). Terms, not wall-clock order, decide: a member paused for seconds may
//! still win the old term it campaigned in, after later terms committed entries it lacks.
//! A member that commits an index while holding a different entry at a committed index also breaks
//! it: that entry reached it from a leader that lacked the committed one.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::raft::RaftFact;

use crate::checkers::Checker;
use crate::checkers::raft::shadow::{GroupShadow, ShadowLog};

/// Name of the checker.
pub const NAME: &str = "leader-completeness";
/// Where the property comes from.
pub const SOURCE: &str = "Raft paper, Figure 3 (Leader Completeness) and §5.4";

/// Stateless: the shadow holds the committed entries.
#[derive(Debug, Default)]
pub struct LeaderCompleteness;

/// The first entry in `from..=to` committed in a term below `before_term` that `log` lacks.
fn first_missing(group: &GroupShadow, log: &ShadowLog, from: u64, to: u64, before_term: u64) -> Option<(u64, (u64, u64))> {
    let from = from.max(log.snapshot_index + 1);
    if from > to {
        return None;
    }
    group.committed.range(from..=to).find_map(|(&i, &committed)| {
        // A commit is always decided by a leader first, so its term is known; if not, do not guess.
        let commit_term = group.committed_by.get(&i).map_or(u64::MAX, |&(_, t)| t);
        (commit_term < before_term && log.get(i) != Some(committed)).then_some((i, committed))
    })
}

impl<V: ?Sized> Checker<GroupShadow, RaftFact, V> for LeaderCompleteness {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, group: &GroupShadow, node: NodeId, fact: &RaftFact) -> Result<(), String> {
        match fact {
            RaftFact::BecameLeader { term } => {
                let m = group.member(node);
                if let Some((i, (t, _))) = first_missing(group, &m.log, 1, u64::MAX, *term) {
                    let (by, in_term) = group.committed_by.get(&i).copied().unwrap_or((u32::MAX, 0));
                    return Err(format!(
                        "node {node} became leader of term {term} without committed entry {i} (term {t}, committed by node {by} in term {in_term}); its log holds {:?}",
                        m.log.get(i)
                    ));
                }
                Ok(())
            }
            RaftFact::Committed { index, by_leader, .. } => {
                let m = group.member(node);
                // Entries this member is about to call committed must agree with those already committed.
                if let Some((i, (t, _))) = first_missing(group, &m.log, m.commit + 1, *index, u64::MAX) {
                    return Err(format!(
                        "node {node} commits up to {index} but holds {:?} at {i}, where (term {t}) was committed already",
                        m.log.get(i)
                    ));
                }
                if *by_leader {
                    for (&other, o) in &group.members {
                        let Some(leading) = o.leading else { continue };
                        if other == node || leading <= m.term {
                            continue;
                        }
                        for i in (m.commit + 1).max(o.log.snapshot_index + 1)..=*index {
                            if let Some(entry) = m.log.get(i)
                                && o.log.get(i) != Some(entry)
                            {
                                return Err(format!(
                                    "node {node} committed entry {i} in term {} but node {other}, leader of later term {leading}, lacks it",
                                    m.term
                                ));
                            }
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::raft::test_support::{append, commit, elected, run};

    /// Node 0 leads term 1 and commits entry (1, term 1), which node `with` holds too.
    fn committed_in_term_1(with: Option<NodeId>) -> Vec<(NodeId, RaftFact)> {
        let mut facts = Vec::from(elected(0, 1));
        facts.push((0, append(1, 1, 11)));
        facts.extend(with.map(|n| (n, append(1, 1, 11))));
        facts.push((0, commit(1, 1, true)));
        facts
    }

    #[test]
    fn a_new_leader_holding_every_committed_entry_passes() {
        let mut facts = committed_in_term_1(Some(1));
        facts.extend(elected(1, 2));
        assert_eq!(run(&mut LeaderCompleteness, &facts).err(), None);
    }

    #[test]
    fn a_leader_lacking_an_entry_committed_in_an_earlier_term_is_refused() {
        let mut facts = committed_in_term_1(None);
        facts.extend(elected(1, 2));
        let err = run(&mut LeaderCompleteness, &facts).unwrap_err();
        assert!(err.contains("became leader of term 2 without committed entry 1"), "{err}");
    }

    #[test]
    fn a_leader_of_an_earlier_term_need_not_hold_what_a_later_term_committed() {
        // Node 1 campaigned in term 2, paused, and wins it after term 3 committed entry 1: terms,
        // not wall-clock order, decide what it must hold.
        let mut facts = Vec::from(elected(0, 3));
        facts.extend([(0, append(1, 3, 31)), (0, commit(1, 3, true))]);
        facts.extend(elected(1, 2));
        assert_eq!(run(&mut LeaderCompleteness, &facts).err(), None);
    }

    #[test]
    fn a_commit_that_a_leader_of_a_later_term_lacks_is_refused() {
        let mut facts = Vec::from(elected(0, 1));
        facts.push((0, append(1, 1, 11)));
        facts.extend(elected(1, 2));
        facts.push((0, commit(1, 1, true)));
        let err = run(&mut LeaderCompleteness, &facts).unwrap_err();
        assert!(err.contains("leader of later term 2, lacks it"), "{err}");
    }

    #[test]
    fn committing_over_another_entry_at_a_committed_index_is_refused() {
        // Node 2 holds a term-2 entry at index 1, where term 1's entry was committed: whoever sent
        // it lacked the committed one.
        let mut facts = committed_in_term_1(None);
        facts.extend([(2, append(1, 2, 21)), (2, commit(1, 2, false))]);
        let err = run(&mut LeaderCompleteness, &facts).unwrap_err();
        assert!(err.contains("where (term 1) was committed already"), "{err}");
    }
}

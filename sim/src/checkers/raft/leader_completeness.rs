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

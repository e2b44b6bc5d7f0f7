//! The facts told the truth: at the end of a run, each live member's shadow (built from its facts
//! only) equals its real state. The other Raft checkers reason on the shadow, so this is what makes
//! their verdicts about the real system.

use ccrsim_model::raft::{RaftFact, entry_id};

use crate::checkers::Checker;
use crate::checkers::raft::shadow::{GroupShadow, ids_of};
use crate::deployment::Deployment;
use crate::view::ClusterView;

/// Name of the checker.
pub const NAME: &str = "fact-consistency";
/// Where the property comes from.
pub const SOURCE: &str = "ccrsim: checkers judge facts, so facts must match the state they describe";

/// Compares each live member with its shadow at the end. (The shadow follows the facts in the
/// group's host, which reports a fact that cannot follow a member's earlier ones under this name.)
#[derive(Debug, Default)]
pub struct FactConsistency;

impl<'a, D: Deployment> Checker<GroupShadow, RaftFact, ClusterView<'a, D>> for FactConsistency {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn at_end(&self, group: &GroupShadow, view: &ClusterView<'a, D>) -> Result<(), String> {
        check(group, view)
    }
}

/// The first member whose real state differs from its shadow.
fn check<D: Deployment>(group: &GroupShadow, view: &ClusterView<'_, D>) -> Result<(), String> {
    for (&id, shadow) in &group.members {
        let Some(c) = view.controller(id) else { continue };
        let raft = c.raft();
        let real_ids: Vec<_> = raft.log().entries().iter().map(entry_id).collect();
        let real = (raft.term(), raft.voted_for(), raft.log().snapshot_index(), raft.commit_index(), raft.last_applied());
        let seen = (shadow.term, shadow.voted_for, shadow.log.snapshot_index, shadow.commit, shadow.applied);
        if real != seen {
            return Err(format!("node {id}: (term, vote, snapshot, commit, applied) is {real:?} but its facts say {seen:?}"));
        }
        if real_ids != ids_of(&shadow.log) || raft.is_leader() != shadow.leading.is_some() {
            return Err(format!("node {id}: its log or leadership differs from what its facts say"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ccrsim_model::core::io::NodeId;

    use super::*;
    use crate::checkers::raft::test_support::append;
    use crate::checkers::test_support::{Bench, View};

    /// A lone controller that leads, committed its term's entry and applied a client's write, and
    /// the Raft facts it reported on the way.
    fn leader_with_a_write() -> (Bench, NodeId, Vec<RaftFact>) {
        let mut bench = Bench::master(1, 0);
        let (c, client) = (bench.node("master.controller.0"), bench.node("client.0"));
        bench.elect(c);
        bench.put(c, client, "k", "v");
        let applied = bench.view().controller(c).expect("it runs").raft().last_applied();
        assert_eq!(applied, 2, "the term's entry and the write are applied");
        let facts = bench.raft_facts(c);
        (bench, c, facts)
    }

    /// The shadow of the controller's group after `facts`.
    fn shadow_of(c: NodeId, facts: &[RaftFact]) -> GroupShadow {
        let mut shadow = GroupShadow::new("master controllers".into(), &[c]);
        for f in facts {
            shadow.apply(c, f).expect("the facts follow each other");
        }
        shadow
    }

    fn at_end(shadow: &GroupShadow, view: &View<'_>) -> Result<(), String> {
        FactConsistency.at_end(shadow, view)
    }

    #[test]
    fn a_shadow_that_followed_every_fact_matches_the_member() {
        let (bench, c, facts) = leader_with_a_write();
        assert_eq!(at_end(&shadow_of(c, &facts), &bench.view()), Ok(()));
    }

    #[test]
    fn a_member_whose_facts_left_out_an_apply_is_refused() {
        let (bench, c, mut facts) = leader_with_a_write();
        let last = facts.iter().rposition(|f| matches!(f, RaftFact::Applied { .. })).expect("it applied");
        facts.remove(last);
        let err = at_end(&shadow_of(c, &facts), &bench.view()).unwrap_err();
        assert!(err.contains("but its facts say"), "{err}");
    }

    #[test]
    fn a_member_whose_facts_left_out_an_entry_is_refused() {
        // Commit and applied indexes still agree; the log does not.
        let (bench, c, mut facts) = leader_with_a_write();
        let last = facts.iter().rposition(|f| matches!(f, RaftFact::Appended { .. })).expect("it appended");
        facts.remove(last);
        let err = at_end(&shadow_of(c, &facts), &bench.view()).unwrap_err();
        assert!(err.contains("its log or leadership differs"), "{err}");
    }

    #[test]
    fn a_fact_that_cannot_follow_the_members_earlier_ones_is_refused() {
        // The group reports the shadow's refusal under this checker's name as the facts arrive.
        let mut shadow = GroupShadow::new("master controllers".into(), &[0]);
        shadow.apply(0, &append(1, 1, 11)).expect("the first entry");
        let err = shadow.apply(0, &append(3, 1, 13)).unwrap_err();
        assert!(err.contains("appended entry 3 to a log that ends at 1"), "{err}");
    }
}

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

//! The facts told the truth: at the end of a run, each live member's shadow (built from its facts
//! only) equals its real state. The other Raft checkers reason on the shadow, so this is what makes
//! their verdicts about the real system.

use crate::checkers::raft_shadow::{GroupShadow, ids_of};
use crate::world::{Node, NodeStatus};
use ccrsim_model::raft::entry_id;

/// Name of the checker.
pub const NAME: &str = "fact-consistency";
/// Where the property comes from.
pub const SOURCE: &str = "ccrsim: checkers judge facts, so facts must match the state they describe";

/// The first member whose real state differs from its shadow.
pub fn check(group: &GroupShadow, nodes: &[Node]) -> Result<(), String> {
    for (&id, shadow) in &group.members {
        let node = &nodes[id as usize];
        if node.status != NodeStatus::Up {
            continue;
        }
        let Some(c) = node.role.as_ref().and_then(|r| r.as_controller()) else { continue };
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

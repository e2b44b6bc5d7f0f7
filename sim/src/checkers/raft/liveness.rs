//! Raft liveness after heal (TigerBeetle's liveness mode; Raft paper §5.2 and §9.3): once every fault
//! is healed and every crashed node restarted, a controller group elects a leader that every live
//! member follows, the leader commits an entry of its own term, and every live member applies up to
//! the leader's commit index, all within the scenario's bound.
//!
//! When the bound runs out on a group that is still busy (a pipeline retrying for ever keeps
//! proposing), a member a few milliseconds behind the leader's latest commit is not stuck: the
//! deadline asks [`stuck`] first, which excuses a member behind entries committed within the
//! grace only, so that the checker that is really stuck is the one reported.

use ccrsim_model::raft::RaftFact;

use crate::checkers::Checker;
use crate::checkers::raft::shadow::GroupShadow;
use crate::deployment::Deployment;
use crate::node::NodeStatus;
use crate::view::ClusterView;

/// Name of the checker.
pub const NAME: &str = "raft-liveness";
/// Where the property comes from.
pub const SOURCE: &str = "Raft paper §5.2 and §9.3 (progress once a majority can communicate); TigerBeetle VOPR liveness mode";

/// Judges a group's progress once faults healed (stateless: the real state says it all).
#[derive(Debug, Default)]
pub struct RaftLiveness;

impl<'a, D: Deployment> Checker<GroupShadow, RaftFact, ClusterView<'a, D>> for RaftLiveness {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn pending(&self, group: &GroupShadow, view: &ClusterView<'a, D>) -> Option<String> {
        pending(view, group, |_| false)
    }
}

/// Why the group is stuck, if it is, when the bound runs out: as [`RaftLiveness`] says, except that
/// a member behind only entries `recent` says were committed within the grace is catching up.
pub fn stuck<D: Deployment>(view: &ClusterView<'_, D>, group: &GroupShadow, recent: impl Fn(u64) -> bool) -> Option<String> {
    pending(view, group, recent)
}

/// Why `group` has not converged yet, or `None` once it has; a member behind the leader's commit
/// index is excused when `recent` says the first entry it lacks was committed lately.
fn pending<D: Deployment>(view: &ClusterView<'_, D>, group: &GroupShadow, recent: impl Fn(u64) -> bool) -> Option<String> {
    let members: Vec<u32> = group.members.keys().copied().collect();
    converging(view, &members, recent).map(|reason| format!("{}: {reason}", group.name))
}

fn converging<D: Deployment>(view: &ClusterView<'_, D>, members: &[u32], recent: impl Fn(u64) -> bool) -> Option<String> {
    let mut live = Vec::new();
    for &id in members {
        match (view.status(id), view.role(id).and_then(|r| r.as_controller())) {
            (NodeStatus::Up, Some(c)) => live.push((id, c.raft())),
            (NodeStatus::FailStopped(_), _) => {}
            (status, _) => return Some(format!("controller {id} is not running ({status:?})")),
        }
    }
    let quorum = members.len() / 2 + 1;
    if live.len() < quorum {
        return Some(format!("only {} of {} controllers can run; a quorum needs {quorum}", live.len(), members.len()));
    }
    let leaders: Vec<_> = live.iter().filter(|(_, r)| r.is_leader()).collect();
    let top_term = live.iter().map(|(_, r)| r.term()).max().expect("a quorum is live");
    let Some((leader, lr)) = leaders.iter().find(|(_, r)| r.term() == top_term) else {
        let terms: Vec<String> = live.iter().map(|(id, r)| format!("{id}:t{}", r.term())).collect();
        return Some(format!("no leader in the highest term {top_term} (terms {})", terms.join(" ")));
    };
    if lr.log().term_at(lr.commit_index()) != Some(lr.term()) {
        return Some(format!("leader {leader} has not committed an entry of its term {} yet (commit {})", lr.term(), lr.commit_index()));
    }
    for (id, r) in &live {
        if r.term() != lr.term() || r.leader_hint() != Some(*leader) {
            return Some(format!(
                "controller {id} is in term {} following {:?}, not leader {leader} of term {}",
                r.term(),
                r.leader_hint(),
                lr.term()
            ));
        }
        if r.last_applied() < lr.commit_index() && !recent(r.last_applied() + 1) {
            return Some(format!("controller {id} applied up to {}, the leader committed {}", r.last_applied(), lr.commit_index()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::test_support::Bench;

    /// What the checker says of the master's controller group.
    fn pending_of(bench: &Bench) -> Option<String> {
        let members = bench.topology.controllers(crate::topology::ClusterId::Master);
        let group = GroupShadow::new("master controllers".into(), &members);
        RaftLiveness.pending(&group, &bench.view())
    }

    #[test]
    fn a_group_without_a_leader_is_pending() {
        let bench = Bench::master(3, 0);
        let reason = pending_of(&bench).expect("pending");
        assert!(reason.contains("no leader in the highest term 0"), "{reason}");
    }

    #[test]
    fn a_crashed_controller_is_pending() {
        let mut bench = Bench::master(3, 0);
        bench.crash(1);
        let reason = pending_of(&bench).expect("pending");
        assert!(reason.contains("controller 1 is not running (Down)"), "{reason}");
    }

    #[test]
    fn a_group_that_lost_its_quorum_for_good_is_pending() {
        // Fail-stopped members never come back: waiting for them is pointless, but two of three
        // gone leave no quorum.
        let mut bench = Bench::master(3, 0);
        bench.fail_stop(1);
        bench.fail_stop(2);
        let reason = pending_of(&bench).expect("pending");
        assert!(reason.contains("only 1 of 3 controllers can run; a quorum needs 2"), "{reason}");
    }

    #[test]
    fn a_leader_that_has_not_committed_in_its_term_is_pending() {
        let mut bench = Bench::master(1, 0);
        let c = bench.node("master.controller.0");
        bench.campaign(c);
        bench.complete_disk(c);
        assert!(bench.view().controller(c).expect("it runs").raft().is_leader(), "its vote is durable: it won");
        let reason = pending_of(&bench).expect("pending");
        assert!(reason.contains("has not committed an entry of its term 1"), "{reason}");
    }

    #[test]
    fn a_leader_that_committed_and_applied_in_its_term_converged() {
        let mut bench = Bench::master(1, 0);
        let c = bench.node("master.controller.0");
        bench.elect(c);
        assert_eq!(pending_of(&bench), None);
    }
}

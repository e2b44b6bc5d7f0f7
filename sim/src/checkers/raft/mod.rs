//! Raft's properties (Raft paper, Figure 3), judged on a shadow of each group rebuilt from the
//! members' facts, the facts' truth at the end, liveness after heal, and the fate of writes the
//! controllers acknowledged to metadata clients.

pub mod acknowledged_writes;
pub mod election_safety;
pub mod fact_consistency;
pub mod leader_append_only;
pub mod leader_completeness;
pub mod liveness;
pub mod log_matching;
pub mod shadow;
pub mod state_machine_safety;
#[cfg(test)]
mod test_support;

use std::collections::VecDeque;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::raft::RaftFact;

use self::acknowledged_writes::AcknowledgedWrites;
use self::election_safety::ElectionSafety;
use self::fact_consistency::FactConsistency;
use self::leader_append_only::LeaderAppendOnly;
use self::leader_completeness::LeaderCompleteness;
use self::liveness::RaftLiveness;
use self::log_matching::LogMatching;
use self::shadow::GroupShadow;
use self::state_machine_safety::StateMachineSafety;
use super::{Class, Violation, at_end_of, judge, pending_of};
use crate::deployment::Deployment;
use crate::env::time::SimTime;
use crate::topology::Topology;
use crate::view::ClusterView;

/// The checkers of one controller group, with the shadow they judge against.
#[derive(Debug)]
struct Group {
    members: Vec<NodeId>,
    shadow: GroupShadow,
    /// The leaders' commits of the last grace, oldest first, with the newest one older than it:
    /// `(when, commit index)` (for [`liveness::stuck`]).
    recent_commits: VecDeque<(SimTime, u64)>,
    election_safety: ElectionSafety,
    leader_append_only: LeaderAppendOnly,
    log_matching: LogMatching,
    leader_completeness: LeaderCompleteness,
    state_machine_safety: StateMachineSafety,
}

/// Raft's checkers for every controller group of a deployment.
#[derive(Debug)]
pub struct RaftCheckers {
    groups: Vec<Group>,
    /// The group of each node, by id.
    group_of: Vec<Option<usize>>,
    /// How long after its commit a member may still lack an entry without being stuck: within
    /// that it learns of the commit from the leader's next append (its election timeout at most,
    /// or it would have stood for election).
    apply_grace: SimTime,
}

impl RaftCheckers {
    /// The names of Raft's checkers.
    pub fn names() -> Vec<&'static str> {
        vec![
            election_safety::NAME,
            leader_append_only::NAME,
            log_matching::NAME,
            leader_completeness::NAME,
            state_machine_safety::NAME,
            fact_consistency::NAME,
            liveness::NAME,
            acknowledged_writes::NAME,
        ]
    }

    /// The checkers of every controller group of `topology`; a member lagging the leader's
    /// commits by less than `apply_grace` is catching up, not stuck.
    pub fn new(topology: &Topology, apply_grace: SimTime) -> Self {
        let mut group_of = vec![None; topology.nodes.len()];
        let mut groups = Vec::new();
        for cluster in topology.clusters() {
            let members = topology.controllers(cluster);
            if members.is_empty() {
                continue;
            }
            for &m in &members {
                group_of[m as usize] = Some(groups.len());
            }
            groups.push(Group {
                shadow: GroupShadow::new(format!("{} controllers", cluster.name()), &members),
                recent_commits: VecDeque::new(),
                members,
                election_safety: ElectionSafety::default(),
                leader_append_only: LeaderAppendOnly,
                log_matching: LogMatching::default(),
                leader_completeness: LeaderCompleteness,
                state_machine_safety: StateMachineSafety::default(),
            });
        }
        Self { groups, group_of, apply_grace }
    }

    /// Judges a Raft fact of `node` against its group's shadow before the fact, then has the
    /// shadow follow it.
    pub fn on_fact(&mut self, at: SimTime, node: NodeId, fact: &RaftFact) -> Result<(), Violation> {
        /// A safety checker of the group: it reads no view.
        fn safety<C: super::Checker<GroupShadow, RaftFact, ()>>(
            c: &mut C,
            g: &GroupShadow,
            at: SimTime,
            node: NodeId,
            f: &RaftFact,
        ) -> Result<(), Violation> {
            judge::<GroupShadow, RaftFact, (), C>(c, g, at, node, f)
        }
        let Some(g) = self.group_of[node as usize] else { return Ok(()) };
        let g = &mut self.groups[g];
        let s = &g.shadow;
        safety(&mut g.election_safety, s, at, node, fact)?;
        safety(&mut g.leader_append_only, s, at, node, fact)?;
        safety(&mut g.log_matching, s, at, node, fact)?;
        safety(&mut g.leader_completeness, s, at, node, fact)?;
        safety(&mut g.state_machine_safety, s, at, node, fact)?;
        if let RaftFact::Committed { index, by_leader: true, .. } = fact {
            let grace = self.apply_grace.as_nanos();
            g.recent_commits.push_back((at, *index));
            while g.recent_commits.get(1).is_some_and(|&(t, _)| t.plus_nanos(grace) <= at) {
                g.recent_commits.pop_front();
            }
        }
        // The shadow follows the fact; a fact that cannot follow the member's earlier ones lies.
        g.shadow
            .apply(node, fact)
            .map_err(|m| Violation::of(fact_consistency::NAME, fact_consistency::SOURCE, Class::Safety, at, Some(node), m))
    }

    /// A member went down: it leads nothing any more.
    pub fn on_down(&mut self, node: NodeId) {
        if let Some(g) = self.group_of[node as usize] {
            self.groups[g].shadow.on_down(node);
        }
    }

    /// The first group that has not converged.
    pub fn pending<D: Deployment>(&self, view: &ClusterView<'_, D>) -> Option<(&'static str, &'static str, String)> {
        self.groups.iter().find_map(|g| pending_of(&RaftLiveness, &g.shadow, view))
    }

    /// The first group stuck at `now`, when the liveness bound ran out: a member behind entries
    /// committed less than the grace ago is catching up.
    pub fn stuck<D: Deployment>(&self, view: &ClusterView<'_, D>, now: SimTime) -> Option<(&'static str, &'static str, String)> {
        self.groups.iter().find_map(|g| {
            // Every entry up to the last index the leaders committed a grace ago or earlier is old.
            let settled =
                g.recent_commits.iter().filter(|&&(at, _)| at.plus_nanos(self.apply_grace.as_nanos()) <= now).map(|&(_, i)| i).max();
            let recent = |index: u64| index > settled.unwrap_or(0);
            liveness::stuck(view, &g.shadow, recent).map(|reason| (liveness::NAME, liveness::SOURCE, reason))
        })
    }

    /// Each live member's real state equals what its facts said, and holds every write acknowledged
    /// to a metadata client.
    pub fn at_end<D: Deployment>(
        &self,
        at: SimTime,
        view: &ClusterView<'_, D>,
        acknowledged: &AcknowledgedWrites,
    ) -> Result<(), Violation> {
        for g in &self.groups {
            at_end_of(&FactConsistency, &g.shadow, view, at, "")?;
            at_end_of(acknowledged, &g.members[..], view, at, "")?;
        }
        Ok(())
    }
}

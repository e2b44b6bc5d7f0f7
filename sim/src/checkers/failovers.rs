//! Failovers, measured (issue 12: RPO and RTO per failover and per fault class): each time a group
//! loses its leader, how long until a new one leads (`to_leader_s`), how long until the new one
//! serves again (`to_caught_up_s`), the writes acknowledged before and lost in it (RPO), and the
//! kinds of fault in effect when the leader was lost.
//!
//! A leader is lost when it steps down, goes down or restarts, or, when it never noticed (cut off),
//! when another is elected in a later epoch (a Raft group: when a member first campaigns past its
//! term); a new leader is the next election; it serves again at its first service of its epoch.
//! The controller groups' leadership comes from the Raft facts: a leader serves once it commits an
//! entry of its own term (Raft §5.4.2: only then are the earlier entries known committed and its
//! answers given); Raft loses no acknowledged write in a failover (`acknowledged-writes` proves it
//! on every run), so their RPO is zero. A design's own groups (SequoiaDB's primaries) come from its
//! facts (`DesignCheckers::leadership`: elected with a version, stepped down, a write confirmed),
//! and their RPO from its checkers (`DesignCheckers::lost_writes`).

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::raft::RaftFact;

use crate::env::time::SimTime;
use crate::scenario::FaultKind;
use crate::summary::Failover;
use crate::topology::Topology;

/// What a design's fact says of the leadership of one of its groups (by the group's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    /// The reporting node leads `group` from now on, in `epoch` (a version, a term).
    Elected {
        /// The group.
        group: u32,
        /// The leader's epoch.
        epoch: u64,
    },
    /// The reporting node no longer leads `group`.
    SteppedDown {
        /// The group.
        group: u32,
    },
    /// The reporting node served as leader of `group` in `epoch` (a write confirmed).
    Served {
        /// The group.
        group: u32,
        /// The leader's epoch.
        epoch: u64,
    },
}

/// Writes acknowledged under one leader of a design's group and lost when it lost its leadership.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LostWrites {
    /// The group.
    pub group: u32,
    /// The epoch of the leader whose acknowledged writes were lost.
    pub epoch: u64,
    /// How many.
    pub writes: u64,
    /// From the first to the last acknowledgement, in seconds.
    pub span_s: f64,
}

/// A group whose leadership is followed: a controller group (by index) or a design's group (by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Controllers(usize),
    Design(u32),
}

/// A failover under way: the leader was lost at `lost_at`, with `faults` in effect.
#[derive(Debug, Clone)]
struct Open {
    /// The epoch of the leader lost.
    old_epoch: u64,
    lost_at: SimTime,
    faults: Vec<FaultKind>,
    /// The new leader and when it won, once one did.
    new_leader: Option<(NodeId, u64, SimTime)>,
}

/// One group's leadership as the facts tell it.
#[derive(Debug, Clone, Default)]
struct Group {
    name: String,
    /// The member leading and its term, while one does.
    leader: Option<(NodeId, u64)>,
    /// The failover under way, if any.
    open: Option<Open>,
}

/// The failovers of every group of a run.
#[derive(Debug, Clone, Default)]
pub struct Failovers {
    groups: BTreeMap<Key, Group>,
    /// The controller group of each controller.
    controllers_of: BTreeMap<NodeId, usize>,
    /// The kinds of fault in effect now (the world says when they change).
    faults: Vec<FaultKind>,
    /// Completed failovers, with the group and the lost leader's epoch.
    done: Vec<(Key, u64, Failover)>,
}

impl Failovers {
    /// For the controller groups of `topology`. A group's first election is not a failover.
    pub fn new(topology: &Topology) -> Self {
        let mut f = Failovers::default();
        for cluster in topology.clusters() {
            let members = topology.controllers(cluster);
            if members.is_empty() {
                continue;
            }
            let index = f.groups.len();
            for &m in &members {
                f.controllers_of.insert(m, index);
            }
            f.groups.insert(Key::Controllers(index), Group { name: format!("{} controllers", cluster.name()), ..Group::default() });
        }
        f
    }

    /// The kinds of fault in effect from now on.
    pub fn on_faults(&mut self, kinds: Vec<FaultKind>) {
        self.faults = kinds;
    }

    /// Follows a Raft fact of `node` at `at`.
    pub fn on_raft(&mut self, at: SimTime, node: NodeId, fact: &RaftFact) {
        // Most Raft facts (appends, follower commits, applies) say nothing of leadership: they
        // leave before the group lookup.
        let leadership = matches!(
            fact,
            RaftFact::BecameLeader { .. }
                | RaftFact::SteppedDown { .. }
                | RaftFact::Recovered { .. }
                | RaftFact::HardState { .. }
                | RaftFact::Committed { by_leader: true, .. }
        );
        let Some(&g) = self.controllers_of.get(&node).filter(|_| leadership) else { return };
        let key = Key::Controllers(g);
        match fact {
            RaftFact::BecameLeader { term } => self.elected(key, at, node, *term),
            RaftFact::SteppedDown { .. } | RaftFact::Recovered { .. } => self.leader_lost(key, at, node),
            // A member campaigning in a later term while the leader never noticed it lost touch.
            RaftFact::HardState { term, voted_for: Some(v) } if *v == node => {
                if let Some((leader, t)) = self.groups[&key].leader
                    && *term > t
                {
                    self.leader_lost(key, at, leader);
                }
            }
            RaftFact::Committed { term, by_leader: true, .. } => self.served(key, at, node, *term),
            _ => {}
        }
    }

    /// Follows what a design's fact of `node` at `at` says of its group's leadership.
    pub fn on_design(&mut self, at: SimTime, node: NodeId, leadership: Leadership) {
        let key = |group| {
            let key = Key::Design(group);
            (key, format!("group {group}"))
        };
        match leadership {
            Leadership::Elected { group, epoch } => {
                let (key, name) = key(group);
                self.groups.entry(key).or_insert_with(|| Group { name, ..Group::default() });
                self.elected(key, at, node, epoch)
            }
            Leadership::SteppedDown { group } => self.leader_lost(key(group).0, at, node),
            Leadership::Served { group, epoch } => self.served(key(group).0, at, node, epoch),
        }
    }

    /// `node` went down at `at`: a group it led lost its leader.
    pub fn on_down(&mut self, at: SimTime, node: NodeId) {
        let led: Vec<Key> = self.groups.iter().filter(|(_, g)| g.leader.is_some_and(|(l, _)| l == node)).map(|(k, _)| *k).collect();
        for key in led {
            self.leader_lost(key, at, node);
        }
    }

    fn leader_lost(&mut self, key: Key, at: SimTime, node: NodeId) {
        let faults = self.faults.clone();
        let Some(group) = self.groups.get_mut(&key) else { return };
        if let Some((leader, epoch)) = group.leader
            && leader == node
        {
            group.leader = None;
            if group.open.is_none() {
                group.open = Some(Open { old_epoch: epoch, lost_at: at, faults, new_leader: None });
            }
        }
    }

    fn elected(&mut self, key: Key, at: SimTime, node: NodeId, epoch: u64) {
        let faults = self.faults.clone();
        let group = self.groups.get_mut(&key).expect("a group is known before its election");
        // A leader deposed without noticing: its loss is this election, at the latest.
        if let Some((leader, old)) = group.leader
            && leader != node
            && old < epoch
            && group.open.is_none()
        {
            group.open = Some(Open { old_epoch: old, lost_at: at, faults, new_leader: None });
        }
        group.leader = Some((node, epoch));
        if let Some(open) = &mut group.open {
            open.new_leader = Some((node, epoch, at));
        }
    }

    fn served(&mut self, key: Key, at: SimTime, node: NodeId, epoch: u64) {
        let Some(group) = self.groups.get_mut(&key) else { return };
        let Some(open) = &group.open else { return };
        if open.new_leader.is_some_and(|(l, e, _)| l == node && e == epoch) {
            let open = group.open.take().expect("checked");
            let elected = open.new_leader.expect("checked").2;
            self.done.push((key, open.old_epoch, failover(&group.name, &open, Some(elected), Some(at))));
        }
    }

    /// Every failover of the run in the order the leaders were lost: those completed, and those
    /// still under way (without the times they have not reached), with the writes `lost` says each
    /// lost leader's epoch lost.
    pub fn all(&self, lost: &[LostWrites]) -> Vec<Failover> {
        let mut all: Vec<(Key, u64, Failover)> = self.done.clone();
        for (key, g) in &self.groups {
            if let Some(open) = &g.open {
                all.push((*key, open.old_epoch, failover(&g.name, open, open.new_leader.map(|(_, _, at)| at), None)));
            }
        }
        for l in lost {
            if let Some((_, _, f)) = all.iter_mut().find(|(key, epoch, _)| *key == Key::Design(l.group) && *epoch == l.epoch) {
                f.lost_writes += l.writes;
                f.lost_span_s = f.lost_span_s.max(l.span_s);
            }
        }
        let mut all: Vec<Failover> = all.into_iter().map(|(_, _, f)| f).collect();
        all.sort_by(|a, b| a.lost_at_s.total_cmp(&b.lost_at_s).then_with(|| a.group.cmp(&b.group)));
        all
    }
}

/// A controller group's failover as reported: times from the loss of the leader.
fn failover(group: &str, open: &Open, elected: Option<SimTime>, serving: Option<SimTime>) -> Failover {
    let since = |at: SimTime| (at.as_nanos() - open.lost_at.as_nanos()) as f64 / 1e9;
    Failover {
        group: group.to_string(),
        faults: open.faults.clone(),
        lost_at_s: open.lost_at.as_secs_f64(),
        to_leader_s: elected.map(since),
        to_caught_up_s: serving.map(since),
        lost_writes: 0,
        lost_span_s: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn master_of_three() -> (Failovers, Vec<NodeId>) {
        let scenario = Scenario::embedded("controllers-chaos").unwrap();
        let topology = Topology::from_scenario(&scenario);
        let members = topology.controllers(crate::topology::ClusterId::Master);
        (Failovers::new(&topology), members)
    }

    fn s(secs: f64) -> SimTime {
        SimTime::from_secs_f64(secs)
    }

    #[test]
    fn a_first_election_is_not_a_failover_and_a_crashed_leader_is() {
        let (mut f, m) = master_of_three();
        f.on_raft(s(1.0), m[0], &RaftFact::BecameLeader { term: 1 });
        f.on_raft(s(1.1), m[0], &RaftFact::Committed { index: 1, term: 1, by_leader: true });
        assert!(f.all(&[]).is_empty());
        f.on_faults(vec![FaultKind::Crash]);
        f.on_down(s(5.0), m[0]);
        f.on_raft(s(5.8), m[1], &RaftFact::BecameLeader { term: 2 });
        f.on_raft(s(5.9), m[1], &RaftFact::Committed { index: 2, term: 1, by_leader: true });
        assert_eq!(f.all(&[])[0].to_caught_up_s, None, "an entry of an earlier term does not count");
        f.on_raft(s(6.0), m[1], &RaftFact::Committed { index: 3, term: 2, by_leader: true });
        let all = f.all(&[]);
        assert_eq!(all.len(), 1);
        let one = &all[0];
        assert_eq!((one.group.as_str(), one.faults.as_slice(), one.lost_at_s), ("master controllers", &[FaultKind::Crash][..], 5.0));
        assert!((one.to_leader_s.unwrap() - 0.8).abs() < 1e-9 && (one.to_caught_up_s.unwrap() - 1.0).abs() < 1e-9, "{one:?}");
    }

    #[test]
    fn a_leader_cut_off_without_noticing_is_lost_when_a_member_campaigns_past_it() {
        let (mut f, m) = master_of_three();
        f.on_raft(s(1.0), m[0], &RaftFact::BecameLeader { term: 1 });
        f.on_faults(vec![FaultKind::Isolate]);
        f.on_raft(s(3.0), m[1], &RaftFact::HardState { term: 2, voted_for: Some(m[1]) });
        f.on_raft(s(3.2), m[1], &RaftFact::BecameLeader { term: 2 });
        let all = f.all(&[]);
        assert_eq!((all.len(), all[0].lost_at_s, all[0].faults.clone()), (1, 3.0, vec![FaultKind::Isolate]));
        assert!((all[0].to_leader_s.unwrap() - 0.2).abs() < 1e-9);
        assert_eq!(all[0].to_caught_up_s, None, "still under way at the end");
        // The old leader learns of the new term: no second failover.
        f.on_raft(s(4.0), m[0], &RaftFact::SteppedDown { term: 1 });
        assert_eq!(f.all(&[]).len(), 1);
    }
}

#[cfg(test)]
mod design_tests {
    use super::*;

    #[test]
    fn a_design_group_fails_over_with_the_writes_its_lost_leader_lost() {
        let mut f = Failovers::default();
        f.on_design(SimTime::from_millis(1_000), 3, Leadership::Elected { group: 1, epoch: 1 });
        f.on_design(SimTime::from_millis(1_100), 3, Leadership::Served { group: 1, epoch: 1 });
        f.on_faults(vec![FaultKind::Crash]);
        f.on_down(SimTime::from_millis(4_000), 3);
        f.on_design(SimTime::from_millis(6_500), 4, Leadership::Elected { group: 1, epoch: 2 });
        f.on_design(SimTime::from_millis(7_000), 4, Leadership::Served { group: 1, epoch: 2 });
        let lost = [LostWrites { group: 1, epoch: 1, writes: 3, span_s: 0.4 }, LostWrites { group: 2, epoch: 1, writes: 9, span_s: 1.0 }];
        let all = f.all(&lost);
        assert_eq!(all.len(), 1);
        let one = &all[0];
        assert_eq!((one.group.as_str(), one.lost_at_s, one.lost_writes, one.lost_span_s), ("group 1", 4.0, 3, 0.4));
        assert_eq!((one.to_leader_s, one.to_caught_up_s), (Some(2.5), Some(3.0)));
    }
}

//! `availability`: the deployment serves as well as its scenario expects (`[expect]`): few client
//! operations answered `Aborted` or `Unavailable` and enough committed per second while no fault is
//! active, and every controller group back to a leader quickly after losing one.
//!
//! Everything is derived here, from the facts and the faults as they happen:
//!
//! - **Fault-free windows.** The world reports every disruption as it begins and ends (a node down
//!   or paused, a partition, a loss burst, late delivery, a disk fault; a clock fault or a bit flip
//!   as an instant). A window is a stretch of the safety phase in which none is active, opening
//!   `expect.settle_ms` after the last one ended (and after the start: booting is a heal too), and
//!   closing when the next begins or the safety phase ends.
//! - **Client operations** count when they were both sent and answered inside one window. Their
//!   answers fall into the classes committed, `Aborted`, `Unavailable`, refused otherwise (invalid,
//!   lock conflict, rejected) and unknown (no answer in time). The shares are judged once at least
//!   [`SHARE_SAMPLE_MIN`] operations counted; the commit rate (committed operations over the
//!   windows' total length) once the windows add up to [`RATE_TIME_MIN_S`].
//! - **Leaderless time**, per controller group (each cluster's controllers): the group has a
//!   leader while a member that reported `BecameLeader` (and not `SteppedDown`, a crash or a
//!   restart since) is neither down, nor paused, nor on the smaller side of a partition that splits
//!   the group. A leaderless stretch is measured while a majority of the group is up and on one
//!   side of a clean two-way split (a quorum could elect) and no loss burst, late delivery, disk
//!   fault, one-way partition or partition leaving a member on neither side touches the group
//!   (they may legitimately stall an election or make leadership churn: the model's Raft has no
//!   pre-vote); so after a heal the clock starts at the heal. The
//!   longest stretch is judged against `expect.leaderless_ms_max`.
//!
//! Judged at the end of the run (`at_end`): each bound exceeded is a violation naming the
//! `[expect]` field, the group or outcome class, the measured value and the window.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::raft::RaftFact;

use super::Checker;
use crate::env::time::SimTime;
use crate::scenario::ExpectSection;

/// Name of the checker.
pub const NAME: &str = "availability";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB HA (the cluster serves while a controller majority and replication_factor data nodes are up; \
                          raftElectionTick); the scenario's [expect] bounds";

/// Shares of answers are judged once this many operations counted in fault-free windows: a
/// handful of operations says nothing about a rate.
pub const SHARE_SAMPLE_MIN: u64 = 50;
/// The commit rate is judged once the fault-free windows add up to this many seconds.
pub const RATE_TIME_MIN_S: f64 = 10.0;

/// How a client's operation ended, in the classes availability counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Committed (acknowledged).
    Committed,
    /// The transaction aborted (a participant failed or timed out).
    Aborted,
    /// Refused for want of data nodes, replicas or a leader.
    Unavailable,
    /// Refused for another reason (invalid, lock conflict, rejected on a slave, duplicate).
    Refused,
    /// No answer in time.
    Unknown,
}

/// Something that keeps part of the deployment from working normally, while it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disruption {
    /// A node is down (power loss, halt, fail-stop) until it boots again.
    Down(NodeId),
    /// A node is paused.
    Paused(NodeId),
    /// Partition `id` cuts `a` from `b` (only `a -> b` when `one_way`).
    Cut { id: u32, a: Vec<NodeId>, b: Vec<NodeId>, one_way: bool },
    /// Loss burst `id` on every link.
    Loss(u32),
    /// Late delivery `id` of what `node` sends.
    Late { id: u32, node: NodeId },
    /// Disk fault `id` (read errors, full, slow) of `node`.
    Disk { id: u32, node: NodeId },
}

impl Disruption {
    /// The key its end names.
    pub fn key(&self) -> DisruptionKey {
        match self {
            Disruption::Down(n) => DisruptionKey::Down(*n),
            Disruption::Paused(n) => DisruptionKey::Paused(*n),
            Disruption::Cut { id, .. } => DisruptionKey::Cut(*id),
            Disruption::Loss(id) => DisruptionKey::Loss(*id),
            Disruption::Late { id, .. } => DisruptionKey::Late(*id),
            Disruption::Disk { id, .. } => DisruptionKey::Disk(*id),
        }
    }
}

/// Which disruption ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DisruptionKey {
    /// A node boots again.
    Down(NodeId),
    /// A paused node resumes.
    Paused(NodeId),
    /// A partition heals.
    Cut(u32),
    /// A loss burst ends.
    Loss(u32),
    /// Late delivery ends.
    Late(u32),
    /// A disk fault ends.
    Disk(u32),
}

/// What the availability checker is told, with the simulated time it happened.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// A client sent operation `op` (its own numbering; `node` is the client).
    Sent { op: (u64, u64) },
    /// A client saw how operation `op` ended.
    Answered { op: (u64, u64), answer: Answer },
    /// A Raft fact of a controller.
    Raft(&'a RaftFact),
    /// A disruption began.
    Begins(&'a Disruption),
    /// A disruption ended.
    Ends(DisruptionKey),
    /// A fault with no duration (a clock set drifting, a bit flipped): a window closes and the
    /// settling time starts again.
    Instant,
    /// The safety phase ended: every fault but a crash is healed at once (crashed nodes boot).
    SafetyEnds,
}

/// One controller group's leadership, as the facts and the disruptions tell it.
#[derive(Debug, Clone, Default)]
struct Group {
    members: BTreeSet<NodeId>,
    /// Members that reported `BecameLeader` and no `SteppedDown`, crash or boot since.
    leading: BTreeSet<NodeId>,
    /// Since when the group has been leaderless with a quorum able to elect, undisturbed.
    leaderless_since: Option<SimTime>,
    /// The longest such stretch: (length, from, to).
    longest: Option<(SimTime, SimTime, SimTime)>,
}

/// Counted client operations, by answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counted {
    /// Operations sent and answered inside one fault-free window.
    pub operations: u64,
    /// Of which committed.
    pub committed: u64,
    /// Answered `Aborted`.
    pub aborted: u64,
    /// Answered `Unavailable`.
    pub unavailable: u64,
    /// Refused otherwise.
    pub refused: u64,
    /// Without an answer in time.
    pub unknown: u64,
}

/// What availability measured in a run, for reports and for setting a scenario's bounds.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AvailabilitySummary {
    /// Fault-free windows, and their total length in simulated seconds.
    pub windows: u64,
    /// Total length of the fault-free windows.
    pub fault_free_s: f64,
    /// Client operations counted in them.
    pub counted: Counted,
    /// Committed operations per second of fault-free window.
    pub commits_per_s: f64,
    /// The longest leaderless stretch of each controller group (by cluster name), in milliseconds.
    pub leaderless_ms: BTreeMap<String, f64>,
}

/// The checker's books.
#[derive(Debug)]
pub struct Availability {
    expect: ExpectSection,
    settle_ns: u64,
    /// Controller groups by cluster name; the group of each controller.
    groups: BTreeMap<String, Group>,
    group_of: BTreeMap<NodeId, String>,
    active: BTreeMap<DisruptionKey, Disruption>,
    /// Since when nothing is active (`None` while something is, and after the safety phase).
    quiet_since: Option<SimTime>,
    safety_over: bool,
    windows: u64,
    fault_free_ns: u64,
    /// The longest window so far: (from, to).
    longest_window: Option<(SimTime, SimTime)>,
    sent: BTreeMap<(NodeId, u64, u64), SimTime>,
    counted: Counted,
}

impl Availability {
    /// The checker for controller groups `groups` (cluster name, members) and the bounds `expect`.
    pub fn new(groups: Vec<(String, Vec<NodeId>)>, expect: &ExpectSection) -> Self {
        let group_of = groups.iter().flat_map(|(name, members)| members.iter().map(move |m| (*m, name.clone()))).collect();
        let groups = groups
            .into_iter()
            .map(|(name, members)| {
                // Every group starts leaderless with every member up: booting is a heal.
                let group = Group { members: members.into_iter().collect(), leaderless_since: Some(SimTime::ZERO), ..Group::default() };
                (name, group)
            })
            .collect();
        Self {
            expect: expect.clone(),
            settle_ns: (expect.settle_ms * 1e6).round() as u64,
            groups,
            group_of,
            active: BTreeMap::new(),
            quiet_since: Some(SimTime::ZERO),
            safety_over: false,
            windows: 0,
            fault_free_ns: 0,
            longest_window: None,
            sent: BTreeMap::new(),
            counted: Counted::default(),
        }
    }

    /// Takes in one thing seen at `at` on `node`.
    pub fn observe(&mut self, at: SimTime, node: NodeId, seen: Seen<'_>) {
        match seen {
            // Operations and instants change neither leadership nor the disruptions, so who can
            // lead stays as the last event left it (`follow_leadership` would change nothing).
            Seen::Sent { op } => {
                self.sent.insert((node, op.0, op.1), at);
                return;
            }
            Seen::Answered { op, answer } => {
                if let Some(sent) = self.sent.remove(&(node, op.0, op.1)) {
                    self.count(sent, at, answer);
                }
                return;
            }
            Seen::Raft(RaftFact::BecameLeader { .. }) => self.lead(node, true),
            Seen::Raft(RaftFact::SteppedDown { .. } | RaftFact::Recovered { .. }) => self.lead(node, false),
            Seen::Raft(_) => return,
            Seen::Begins(d) => {
                self.close_window(at);
                if let Disruption::Down(n) = d {
                    // A paused node that loses power is down, no longer paused.
                    self.active.remove(&DisruptionKey::Paused(*n));
                    self.lead(*n, false);
                }
                self.active.insert(d.key(), d.clone());
            }
            Seen::Ends(key) => {
                if self.active.remove(&key).is_some() && self.active.is_empty() && !self.safety_over {
                    self.quiet_since = Some(at);
                }
            }
            Seen::Instant => {
                self.close_window(at);
                if self.active.is_empty() && !self.safety_over {
                    self.quiet_since = Some(at);
                }
                return;
            }
            Seen::SafetyEnds => {
                self.close_window(at);
                self.safety_over = true;
                self.active.retain(|k, _| matches!(k, DisruptionKey::Down(_)));
            }
        }
        self.follow_leadership(at);
    }

    fn lead(&mut self, node: NodeId, leading: bool) {
        if let Some(g) = self.group_of.get(&node).and_then(|name| self.groups.get_mut(name)) {
            if leading {
                g.leading.insert(node);
            } else {
                g.leading.remove(&node);
            }
        }
    }

    /// The window open since the last heal, if any, ends at `at`.
    fn close_window(&mut self, at: SimTime) {
        if let Some(start) = self.window_start()
            && at > start
        {
            self.windows += 1;
            self.fault_free_ns += at.as_nanos() - start.as_nanos();
            if self.longest_window.is_none_or(|(a, b)| b.as_nanos() - a.as_nanos() < at.as_nanos() - start.as_nanos()) {
                self.longest_window = Some((start, at));
            }
        }
        self.quiet_since = None;
    }

    /// Where the current fault-free window starts (it may lie ahead, while settling).
    fn window_start(&self) -> Option<SimTime> {
        self.quiet_since.filter(|_| !self.safety_over).map(|q| q.plus_nanos(self.settle_ns))
    }

    fn count(&mut self, sent: SimTime, answered: SimTime, answer: Answer) {
        if !self.window_start().is_some_and(|start| sent >= start && answered >= sent) {
            return;
        }
        let c = &mut self.counted;
        c.operations += 1;
        match answer {
            Answer::Committed => c.committed += 1,
            Answer::Aborted => c.aborted += 1,
            Answer::Unavailable => c.unavailable += 1,
            Answer::Refused => c.refused += 1,
            Answer::Unknown => c.unknown += 1,
        }
    }

    /// Members of `g` that cannot take part now (down, paused, on the smaller side of a split),
    /// and whether anything else disturbs the group.
    fn removed_and_disturbed(active: &BTreeMap<DisruptionKey, Disruption>, g: &Group) -> (BTreeSet<NodeId>, bool) {
        let mut removed = BTreeSet::new();
        let mut disturbed = false;
        for d in active.values() {
            match d {
                Disruption::Down(n) | Disruption::Paused(n) if g.members.contains(n) => {
                    removed.insert(*n);
                }
                Disruption::Cut { a, b, one_way, .. } => {
                    let side = |s: &Vec<NodeId>| s.iter().copied().filter(|n| g.members.contains(n)).collect::<BTreeSet<_>>();
                    let (in_a, in_b) = (side(a), side(b));
                    let splits = !in_a.is_empty() && !in_b.is_empty();
                    if splits && (*one_way || in_a.len() + in_b.len() < g.members.len()) {
                        // Members that hear but are not heard, or a member on neither side that
                        // hears both: Raft without pre-vote may legitimately churn.
                        disturbed = true;
                    } else if splits {
                        removed.extend(if in_a.len() <= in_b.len() { in_a } else { in_b });
                    }
                }
                Disruption::Loss(_) => disturbed = true,
                Disruption::Late { node, .. } | Disruption::Disk { node, .. } if g.members.contains(node) => disturbed = true,
                _ => {}
            }
        }
        (removed, disturbed)
    }

    /// After anything changed at `at`: starts or ends each group's measured leaderless stretch.
    fn follow_leadership(&mut self, at: SimTime) {
        for g in self.groups.values_mut() {
            let (removed, disturbed) = Self::removed_and_disturbed(&self.active, g);
            let has_leader = g.leading.iter().any(|n| !removed.contains(n));
            let can_elect = removed.len() * 2 < g.members.len() && !disturbed;
            match (g.leaderless_since, !has_leader && can_elect) {
                (None, true) => g.leaderless_since = Some(at),
                (Some(since), false) => {
                    g.leaderless_since = None;
                    let length = SimTime::from_nanos(at.as_nanos() - since.as_nanos());
                    if g.longest.is_none_or(|(l, _, _)| l < length) {
                        g.longest = Some((length, since, at));
                    }
                }
                _ => {}
            }
        }
    }

    /// What was measured, with stretches still open closed at `end`.
    pub fn summary(&self, end: SimTime) -> AvailabilitySummary {
        let (windows, fault_free_ns) = self.windows_until(end);
        let fault_free_s = fault_free_ns as f64 / 1e9;
        AvailabilitySummary {
            windows,
            fault_free_s,
            counted: self.counted,
            commits_per_s: if fault_free_s > 0.0 { self.counted.committed as f64 / fault_free_s } else { 0.0 },
            leaderless_ms: self
                .groups
                .iter()
                .map(|(name, g)| (name.clone(), self.longest_leaderless(g, end).map_or(0.0, |(l, _, _)| l.as_nanos() as f64 / 1e6)))
                .collect(),
        }
    }

    /// Windows and their total length, the one still open (a run without a safety-phase end, in
    /// tests) closed at `end`.
    fn windows_until(&self, end: SimTime) -> (u64, u64) {
        match self.window_start() {
            Some(start) if end > start => (self.windows + 1, self.fault_free_ns + end.as_nanos() - start.as_nanos()),
            _ => (self.windows, self.fault_free_ns),
        }
    }

    fn longest_leaderless(&self, g: &Group, end: SimTime) -> Option<(SimTime, SimTime, SimTime)> {
        let open = g.leaderless_since.map(|since| (SimTime::from_nanos(end.as_nanos() - since.as_nanos()), since, end));
        match (g.longest, open) {
            (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    fn window_text(&self, end: SimTime) -> String {
        let (windows, ns) = self.windows_until(end);
        let longest = match self.longest_window {
            Some((a, b)) => format!(", the longest {:.1} s to {:.1} s", a.as_secs_f64(), b.as_secs_f64()),
            None => String::new(),
        };
        format!(
            "{windows} fault-free windows of {:.1} s in all{longest}, each opening {} ms after a heal",
            ns as f64 / 1e9,
            self.expect.settle_ms
        )
    }
}

/// Judged at the end; `K` is the time the run ended.
impl Checker<SimTime, (), ()> for Availability {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn at_end(&self, end: &SimTime, _: &()) -> Result<(), String> {
        let end = *end;
        let c = self.counted;
        if c.operations >= SHARE_SAMPLE_MIN {
            for (field, class, bound, n) in [
                ("expect.aborted_share_max", "Aborted", self.expect.aborted_share_max, c.aborted),
                ("expect.unavailable_share_max", "Unavailable", self.expect.unavailable_share_max, c.unavailable),
            ] {
                let share = n as f64 / c.operations as f64;
                if let Some(max) = bound.filter(|max| share > *max) {
                    return Err(format!(
                        "{field} = {max} exceeded: {n} of {} client operations sent and answered in fault-free windows were answered \
                         {class}, a share of {share:.4} ({})",
                        c.operations,
                        self.window_text(end)
                    ));
                }
            }
        }
        if let Some(max) = self.expect.leaderless_ms_max {
            for (name, g) in &self.groups {
                if let Some((length, from, to)) = self.longest_leaderless(g, end) {
                    let ms = length.as_nanos() as f64 / 1e6;
                    if ms > max {
                        return Err(format!(
                            "{} = {max} exceeded: controller group {name} was without a leader for {ms:.0} ms, from {:.3} s to {:.3} s, \
                             while a majority of it was up and connected and no fault disturbed it",
                            "expect.leaderless_ms_max",
                            from.as_secs_f64(),
                            to.as_secs_f64()
                        ));
                    }
                }
            }
        }
        let (_, ns) = self.windows_until(end);
        let seconds = ns as f64 / 1e9;
        if let Some(min) = self.expect.commits_per_s_min.filter(|_| seconds >= RATE_TIME_MIN_S) {
            let rate = c.committed as f64 / seconds;
            if rate < min {
                return Err(format!(
                    "expect.commits_per_s_min = {min} not met: {} operations committed in fault-free windows, {rate:.1} per second ({})",
                    c.committed,
                    self.window_text(end)
                ));
            }
        }
        Ok(())
    }
}

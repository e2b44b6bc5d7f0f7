//! The simulated network: our own layer, because madsim's has one global latency and loss and
//! checks partitions only at send time.
//!
//! Each message gets its fate when sent: lost, or delivered once or twice (duplication) after a
//! latency drawn from its link class, sometimes with an extra delay that lets later messages overtake
//! it (reordering). Partitions are directed cuts between node pairs; a message is dropped at delivery
//! if its link is cut then, or (by default) if a cut was made on it while it was in flight.

use std::collections::BTreeMap;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::env::time::{SimTime, millis_to_nanos};
use ccrsim_model::core::io::NodeId;

/// Which kind of link a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkClass {
    /// Between two nodes of one cluster.
    Lan,
    /// Between the master and the slave cluster.
    Wan,
    /// Between a client and a cluster node.
    Client,
}

impl LinkClass {
    /// Every class, in a fixed order.
    pub const ALL: [LinkClass; 3] = [LinkClass::Lan, LinkClass::Wan, LinkClass::Client];

    fn index(self) -> usize {
        self as usize
    }
}

/// How one link class behaves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkProfile {
    /// One-way latency, uniform in `[min, max]` milliseconds.
    #[serde(deserialize_with = "crate::env::pair")]
    pub latency_ms: [f64; 2],
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message gets an extra delay of up to `reorder_delay_ms_max`.
    pub reorder: f64,
    /// The largest extra delay of a reordered message.
    pub reorder_delay_ms_max: f64,
}

/// Why a message did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Lost on the link.
    Loss,
    /// The link was cut.
    Partition,
    /// The receiver was down when the message arrived.
    ReceiverDown,
    /// The receiver restarted since the message was sent (its connection is gone).
    ReceiverRestarted,
}

impl DropReason {
    /// A short name for traces.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::ReceiverDown => "receiver down",
            DropReason::ReceiverRestarted => "receiver restarted",
        }
    }
}

/// Counters of what the network did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NetStats {
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages handed to a receiver.
    pub delivered: u64,
    /// Lost on a link.
    pub lost: u64,
    /// Dropped by a partition.
    pub partitioned: u64,
    /// Dropped at a receiver that was down or had restarted.
    pub receiver_gone: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Messages held back by a late-delivery fault.
    pub held_late: u64,
}

/// The network of one run.
#[derive(Debug, Clone)]
pub struct Network {
    nodes: usize,
    profiles: [LinkProfile; 3],
    classes: Vec<LinkClass>,
    /// `cut[from * nodes + to]`: the link is cut now.
    cut: Vec<bool>,
    /// When a cut was last made on each link (for in-flight drops).
    last_cut_at: Vec<Option<SimTime>>,
    drop_in_flight_on_partition: bool,
    /// Active loss bursts by id: extra loss on every link (the largest one applies).
    loss_bursts: BTreeMap<u32, f64>,
    extra_loss: f64,
    /// Late deliveries in force: id -> (sender, share of its messages held, extra delay in ns).
    late: BTreeMap<u32, (NodeId, f64, u64)>,
    /// What happened so far.
    pub stats: NetStats,
}

impl Network {
    /// A network of `nodes` nodes; `class_of(a, b)` names the class of the link between them.
    pub fn new(
        nodes: usize,
        profiles: [LinkProfile; 3],
        drop_in_flight_on_partition: bool,
        class_of: impl Fn(NodeId, NodeId) -> LinkClass,
    ) -> Self {
        let mut classes = Vec::with_capacity(nodes * nodes);
        for a in 0..nodes as NodeId {
            for b in 0..nodes as NodeId {
                classes.push(class_of(a, b));
            }
        }
        Self {
            nodes,
            profiles,
            classes,
            cut: vec![false; nodes * nodes],
            last_cut_at: vec![None; nodes * nodes],
            drop_in_flight_on_partition,
            loss_bursts: BTreeMap::new(),
            extra_loss: 0.0,
            late: BTreeMap::new(),
            stats: NetStats::default(),
        }
    }

    fn link(&self, from: NodeId, to: NodeId) -> usize {
        from as usize * self.nodes + to as usize
    }

    /// The class of the link from `from` to `to`.
    pub fn class(&self, from: NodeId, to: NodeId) -> LinkClass {
        self.classes[self.link(from, to)]
    }

    /// Decides the fate of a message sent now: the delays (in nanoseconds) of its copies, or why it
    /// is lost. An empty `Ok` never happens.
    pub fn route(&mut self, rng: &mut ChaCha8Rng, from: NodeId, to: NodeId) -> Result<Vec<u64>, DropReason> {
        self.stats.sent += 1;
        let link = self.link(from, to);
        if self.cut[link] {
            self.stats.partitioned += 1;
            return Err(DropReason::Partition);
        }
        let profile = self.profiles[self.classes[link].index()];
        if rng.random_bool((profile.loss + self.extra_loss).clamp(0.0, 1.0)) {
            self.stats.lost += 1;
            return Err(DropReason::Loss);
        }
        let copies = if rng.random_bool(profile.duplicate.clamp(0.0, 1.0)) { 2 } else { 1 };
        self.stats.duplicated += copies - 1;
        let mut delays: Vec<u64> = (0..copies).map(|_| Self::latency_nanos(rng, &profile)).collect();
        // Only a sender under late delivery draws more, so runs without it keep their draws.
        let held = self.late.values().filter(|(node, _, _)| *node == from).map(|&(_, share, delay)| (share, delay)).max_by_key(|&(_, d)| d);
        if let Some((share, delay)) = held
            && rng.random_bool(share.clamp(0.0, 1.0))
        {
            self.stats.held_late += 1;
            delays.iter_mut().for_each(|d| {
                *d = d.checked_add(delay).unwrap_or_else(|| panic!("harness: a late delivery's delay overflows simulated time"))
            });
        }
        Ok(delays)
    }

    fn latency_nanos(rng: &mut ChaCha8Rng, profile: &LinkProfile) -> u64 {
        let [low, high] = profile.latency_ms;
        let mut ms = if high > low { rng.random_range(low..=high) } else { low };
        if profile.reorder > 0.0 && rng.random_bool(profile.reorder.clamp(0.0, 1.0)) && profile.reorder_delay_ms_max > 0.0 {
            ms += rng.random_range(0.0..=profile.reorder_delay_ms_max);
        }
        millis_to_nanos(ms).max(1)
    }

    /// Whether a message sent at `sent_at` on `from -> to` may be delivered now.
    pub fn admits(&mut self, from: NodeId, to: NodeId, sent_at: SimTime) -> Result<(), DropReason> {
        let link = self.link(from, to);
        let cut_in_flight = self.drop_in_flight_on_partition && self.last_cut_at[link].is_some_and(|t| t >= sent_at);
        if self.cut[link] || cut_in_flight {
            self.stats.partitioned += 1;
            return Err(DropReason::Partition);
        }
        Ok(())
    }

    /// Counts a delivery.
    pub fn delivered(&mut self) {
        self.stats.delivered += 1;
    }

    /// Counts a message dropped at its receiver.
    pub fn receiver_gone(&mut self) {
        self.stats.receiver_gone += 1;
    }

    /// Cuts every link from a node of `from` to a node of `to` (one way).
    pub fn cut_one_way(&mut self, from: &[NodeId], to: &[NodeId], now: SimTime) {
        for &a in from {
            for &b in to {
                if a != b {
                    let link = self.link(a, b);
                    self.cut[link] = true;
                    self.last_cut_at[link] = Some(now);
                }
            }
        }
    }

    /// Cuts both ways between `a` and `b`.
    pub fn cut_both_ways(&mut self, a: &[NodeId], b: &[NodeId], now: SimTime) {
        self.cut_one_way(a, b, now);
        self.cut_one_way(b, a, now);
    }

    /// Cuts one node from every other node.
    pub fn isolate(&mut self, node: NodeId, now: SimTime) {
        let others: Vec<NodeId> = (0..self.nodes as NodeId).filter(|&n| n != node).collect();
        self.cut_both_ways(&[node], &others, now);
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.iter_mut().for_each(|c| *c = false);
    }

    /// True if any link is cut.
    pub fn partitioned(&self) -> bool {
        self.cut.iter().any(|&c| c)
    }

    /// Starts loss burst `id`: `loss` extra on every link until it ends (overlapping bursts each
    /// end on their own; the largest active one applies).
    pub fn start_loss_burst(&mut self, id: u32, loss: f64) {
        self.loss_bursts.insert(id, loss);
        self.extra_loss = self.loss_bursts.values().copied().fold(0.0, f64::max);
    }

    /// Starts late delivery `id`: `share` of what `node` sends from now on arrives `delay_ms` later
    /// than its link would deliver it.
    pub fn start_late_delivery(&mut self, id: u32, node: NodeId, share: f64, delay_ms: u64) {
        let delay = SimTime::from_millis(delay_ms).as_nanos();
        self.late.insert(id, (node, share, delay));
    }

    /// Ends late delivery `id` (messages already held still arrive late).
    pub fn end_late_delivery(&mut self, id: u32) {
        self.late.remove(&id);
    }

    /// Ends every late delivery (the liveness phase).
    pub fn end_late_deliveries(&mut self) {
        self.late.clear();
    }

    /// Ends loss burst `id`.
    pub fn end_loss_burst(&mut self, id: u32) {
        self.loss_bursts.remove(&id);
        self.extra_loss = self.loss_bursts.values().copied().fold(0.0, f64::max);
    }

    /// Ends every loss burst.
    pub fn end_loss_bursts(&mut self) {
        self.loss_bursts.clear();
        self.extra_loss = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn profile(loss: f64, duplicate: f64, reorder: f64) -> LinkProfile {
        LinkProfile { latency_ms: [1.0, 2.0], loss, duplicate, reorder, reorder_delay_ms_max: 50.0 }
    }

    fn net(lan: LinkProfile) -> Network {
        let wan = LinkProfile { latency_ms: [30.0, 40.0], ..profile(0.0, 0.0, 0.0) };
        Network::new(4, [lan, wan, lan], true, |a, b| if (a < 2) == (b < 2) { LinkClass::Lan } else { LinkClass::Wan })
    }

    #[test]
    fn classes_have_their_own_latency() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut n = net(profile(0.0, 0.0, 0.0));
        for _ in 0..200 {
            let lan = n.route(&mut rng, 0, 1).unwrap()[0];
            let wan = n.route(&mut rng, 0, 2).unwrap()[0];
            assert!((1_000_000..=2_000_000).contains(&lan), "{lan}");
            assert!((30_000_000..=40_000_000).contains(&wan), "{wan}");
        }
    }

    #[test]
    fn loss_duplication_and_reordering_happen_at_their_rates() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut n = net(profile(0.2, 0.1, 0.1));
        let (mut lost, mut doubled, mut late) = (0, 0, 0);
        for _ in 0..10_000 {
            match n.route(&mut rng, 0, 1) {
                Err(DropReason::Loss) => lost += 1,
                Ok(copies) => {
                    doubled += usize::from(copies.len() == 2);
                    late += copies.iter().filter(|&&d| d > 2_000_000).count();
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert!((1800..2200).contains(&lost), "lost {lost}");
        assert!((650..950).contains(&doubled), "doubled {doubled}");
        assert!(late > 500, "reordered {late}");
    }

    #[test]
    fn partitions_cut_one_or_both_ways_drop_in_flight_and_heal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut n = net(profile(0.0, 0.0, 0.0));
        let sent = SimTime::from_millis(10);
        n.cut_one_way(&[0], &[1], SimTime::from_millis(11));
        assert_eq!(n.route(&mut rng, 0, 1), Err(DropReason::Partition), "cut direction");
        assert!(n.route(&mut rng, 1, 0).is_ok(), "the other direction still works");
        n.heal();
        assert!(!n.partitioned());
        assert_eq!(n.admits(0, 1, sent), Err(DropReason::Partition), "in flight when the cut was made");
        assert_eq!(n.admits(0, 1, SimTime::from_millis(12)), Ok(()), "sent after heal");
        n.isolate(3, SimTime::from_millis(20));
        for other in 0..3 {
            assert_eq!(n.route(&mut rng, other, 3), Err(DropReason::Partition));
            assert_eq!(n.route(&mut rng, 3, other), Err(DropReason::Partition));
        }
        assert!(n.route(&mut rng, 0, 1).is_ok());
    }
}

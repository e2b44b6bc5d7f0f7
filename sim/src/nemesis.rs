//! The nemesis: seed + scenario -> the fault schedule of a run, decided up front.
//!
//! Planning up front (a pure function of the seed) means a failing seed's faults can be printed and
//! read before replaying it. In swarm mode (TigerBeetle's swarm testing, Groce et al. 2012) each seed
//! switches some fault kinds off entirely and scales the others' rates, so that some seeds hammer one
//! kind of fault and others see none of it. The safety phase ends with `StartLiveness`: every fault
//! is healed, crashed nodes restart, and the system must converge within the scenario's bound.

use std::collections::BTreeSet;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use ccrsim_model::core::io::NodeId;

use crate::design::SimDesign;

use crate::env::time::SimTime;
use crate::scenario::Scenario;
use crate::topology::{NodeKind, Topology};

pub use crate::scenario::{FaultKind, FixedFault};

/// One thing the nemesis does at one time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FaultAction {
    /// Power loss.
    Crash { node: NodeId },
    /// Boot a crashed node again.
    Restart { node: NodeId },
    /// Stop scheduling a node.
    Pause { node: NodeId },
    /// Schedule it again.
    Resume { node: NodeId },
    /// Cut links between `a` and `b` (only `a -> b` when `one_way`).
    Partition { id: u32, a: Vec<NodeId>, b: Vec<NodeId>, one_way: bool },
    /// End partition `id`.
    PartitionEnd { id: u32 },
    /// Extra loss on every link.
    PacketLoss { id: u32, extra: f64 },
    /// End of loss burst `id`.
    PacketLossEnd { id: u32 },
    /// Set a node's clock drift.
    ClockDrift { node: NodeId, drift_ppm: i64 },
    /// Flip a bit in one of the node's files (chosen when it happens).
    CorruptFile { node: NodeId },
    /// Reads of one of the node's files fail (chosen when it happens).
    ReadErrors { id: u32, node: NodeId },
    /// The node's disk is full.
    DiskFull { id: u32, node: NodeId },
    /// The node's disk is slow by `factor`.
    DiskSlow { id: u32, node: NodeId, factor: u64 },
    /// End disk fault `id` of the node (its other disk faults go on).
    DiskFaultEnd { id: u32, node: NodeId },
    /// Hold `share` of what `node` sends for `delay_ms` more.
    LateDelivery { id: u32, node: NodeId, share: f64, delay_ms: u64 },
    /// End of late delivery `id` (what is held still arrives, late).
    LateDeliveryEnd { id: u32 },
    /// Every node of a machine goes down at once: with `power_loss` each disk loses its unsynced
    /// writes (a node's crash); without, the processes die and the page cache survives.
    MachineDown { nodes: Vec<NodeId>, power_loss: bool },
    /// Boot the nodes of a machine that are down, together.
    MachineUp { nodes: Vec<NodeId> },
    /// End of the safety phase: heal everything, restart every crashed node, stop the workload.
    StartLiveness,
}

/// A fault at a time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedFault {
    /// When.
    pub at: SimTime,
    /// The kind of fault the action begins or ends (none for the end of the safety phase).
    pub kind: Option<FaultKind>,
    /// What.
    pub action: FaultAction,
}

/// What swarm mode chose for this seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwarmChoice {
    /// Enabled kinds and their mean interval between faults, in seconds.
    pub enabled: Vec<(FaultKind, f64)>,
    /// Kinds switched off for this seed.
    pub disabled: Vec<FaultKind>,
}

/// The whole fault plan of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultPlan {
    /// What swarm mode chose.
    pub swarm: SwarmChoice,
    /// Every fault, in time order.
    pub faults: Vec<PlannedFault>,
    /// Each fault as planned, in planning order: what [`FaultPlan::schedule`] writes out.
    #[serde(skip)]
    planned: Vec<Planned>,
}

impl FaultPlan {
    /// The same faults as a scenario's fixed schedule, in the order they were planned: a scenario
    /// with swarm off, no random kinds and this schedule plans exactly these actions, in the same
    /// order (`ccrsim shrink` edits it). Written on demand: a run needs only the actions.
    pub fn schedule(&self, topology: &Topology) -> Vec<FixedFault> {
        self.planned.iter().map(|p| p.written(topology)).collect()
    }
}

/// The seed of the nemesis' own random stream (so that changing the workload keeps the faults).
pub fn nemesis_seed(seed: u64) -> u64 {
    ccrsim_model::core::digest::stable_hash(&(seed, "nemesis"))
}

/// Plans the faults of one run.
/// The fault plan of `seed`, with the design the scenario names (its corruption budgets).
pub fn plan_for(scenario: &Scenario, topology: &Topology, seed: u64) -> FaultPlan {
    struct Plan<'a>(&'a Scenario, &'a Topology, u64);
    impl crate::registry::DesignJob for Plan<'_> {
        type Out = FaultPlan;
        fn run<D: SimDesign>(self) -> FaultPlan {
            plan::<D>(self.0, self.1, self.2)
        }
    }
    crate::registry::with_design(scenario, Plan(scenario, topology, seed))
}

/// The fault plan of `seed` for design `D`.
pub fn plan<D: SimDesign>(scenario: &Scenario, topology: &Topology, seed: u64) -> FaultPlan {
    let mut rng = ChaCha8Rng::seed_from_u64(nemesis_seed(seed));
    let f = &scenario.faults;
    let safety = scenario.run.safety_s;
    let faultable = topology.faultable();
    let mut enabled = Vec::new();
    let mut disabled = Vec::new();
    let kinds: BTreeSet<FaultKind> = f.kinds.iter().copied().collect();
    for &kind in &kinds {
        // Swarm: half the kinds off, the rest at 0.5x..4x the base rate (log-uniform).
        if f.swarm && rng.random_bool(0.5) {
            disabled.push(kind);
        } else {
            let scale = if f.swarm { 2f64.powf(rng.random_range(-1.0..2.0)) } else { 1.0 };
            enabled.push((kind, f.mean_interval_s * scale));
        }
    }
    if f.swarm && enabled.is_empty() && !disabled.is_empty() {
        let kind = disabled.remove(rng.random_range(0..disabled.len()));
        enabled.push((kind, f.mean_interval_s));
    }
    let mut planner = Planner { faults: Vec::new(), schedule: Vec::new(), kind: None, next_id: 0, safety };
    // Corruption stops a controller for good (it will not run on damaged state), so at most a
    // minority of each controller group may get it; otherwise the group could never recover. A
    // data node recovers a corrupt replica from a peer, so at most replication factor - 1 data
    // nodes may get it: every chunk keeps an intact copy.
    // Budgets are per cluster: each controller group, and each cluster's data nodes.
    let budget = |node: NodeId| -> (Vec<NodeId>, usize) {
        let info = &topology.nodes[node as usize];
        match info.kind {
            NodeKind::Controller(c) => {
                let group = topology.controllers(c);
                let allowed = group.len().saturating_sub(1) / 2;
                (group, allowed)
            }
            NodeKind::DataNode(c) => (topology.data_nodes(c), D::data_node_corruption_budget(scenario, c)),
            NodeKind::Client | NodeKind::ReplicaClient(_) => (Vec::new(), 0),
        }
    };
    let mut corrupted: BTreeSet<NodeId> = BTreeSet::new();
    for &(kind, mean) in &enabled {
        let mut t = 0.0;
        loop {
            t += -mean * (1.0 - rng.random::<f64>()).ln();
            if t >= safety || faultable.is_empty() {
                break;
            }
            let node = faultable[rng.random_range(0..faultable.len())];
            let length = match kind {
                FaultKind::Crash | FaultKind::MachineCrash | FaultKind::MachinePowerLoss => {
                    rng.random_range(f.crash_downtime_s[0]..=f.crash_downtime_s[1])
                }
                _ => rng.random_range(f.duration_s[0]..=f.duration_s[1]),
            };
            let target = match kind {
                FaultKind::WanPartition => {
                    let slaves = topology.slaves();
                    if slaves.is_empty() {
                        break;
                    }
                    let slave = slaves[rng.random_range(0..slaves.len())];
                    (topology.cluster_nodes(crate::topology::ClusterId::Master), topology.cluster_nodes(slave))
                }
                FaultKind::Partition | FaultKind::OneWayPartition => split(&mut rng, &faultable),
                FaultKind::Isolate => (vec![node], topology.nodes.iter().map(|n| n.id).filter(|&n| n != node).collect()),
                // The machine the drawn node runs on (a machine with more nodes is hit more often).
                kind if kind.is_machine() => machine_target(topology, kind, node),
                _ => (vec![node], Vec::new()),
            };
            if kind == FaultKind::DiskCorruption {
                let (group, allowed) = budget(node);
                let hit = corrupted.iter().filter(|n| group.contains(n)).count();
                if !corrupted.contains(&node) && hit >= allowed {
                    continue;
                }
                corrupted.insert(node);
            }
            let strength = Strength {
                extra_loss: rng.random_range(0.05..0.5),
                slow_factor: rng.random_range(10..=100),
                drift_ppm: {
                    let max = f.clock_drift_ppm_max as i64;
                    rng.random_range(-max..=max)
                },
                // Drawn last and only for this kind, so that plans without it stay as they were.
                late: if kind == FaultKind::LateDelivery {
                    (rng.random_range(0.05..0.3), rng.random_range(2_000..=8_000))
                } else {
                    (0.0, 0)
                },
            };
            planner.add(kind, target, t, length, strength);
        }
    }
    for fixed in &f.schedule {
        // A name is a node's, or a cluster's (all its nodes but clients).
        let ids = |names: &[String]| -> Vec<NodeId> {
            names
                .iter()
                .flat_map(|n| match topology.cluster_by_name(n) {
                    Some(c) => topology.cluster_nodes(c),
                    None => vec![topology.by_name(n).expect("validated node name")],
                })
                .collect()
        };
        let (nodes, others) = match (fixed.fault, fixed.nodes.is_empty()) {
            (FaultKind::WanPartition, true) => {
                let slaves = topology.slaves().into_iter().flat_map(|s| topology.cluster_nodes(s)).collect();
                (topology.cluster_nodes(crate::topology::ClusterId::Master), slaves)
            }
            (kind, _) if kind.is_machine() => machine_target(topology, kind, ids(&fixed.nodes)[0]),
            _ => {
                let nodes = ids(&fixed.nodes);
                let others = if fixed.others.is_empty() {
                    topology.nodes.iter().map(|n| n.id).filter(|n| !nodes.contains(n)).collect()
                } else {
                    ids(&fixed.others)
                };
                (nodes, others)
            }
        };
        let strength = Strength {
            extra_loss: fixed.extra_loss.unwrap_or(0.3),
            slow_factor: fixed.slow_factor.unwrap_or(50),
            drift_ppm: fixed.drift_ppm.unwrap_or(f.clock_drift_ppm_max as i64),
            late: (fixed.late_share.unwrap_or(0.2), fixed.late_delay_ms.unwrap_or(5_000)),
        };
        planner.add(fixed.fault, (nodes, others), fixed.at_s, fixed.duration_s, strength);
    }
    let mut faults = planner.faults;
    faults.push(PlannedFault { at: SimTime::from_secs_f64(safety), kind: None, action: FaultAction::StartLiveness });
    // Stable sort: faults at the same instant keep their planning order.
    faults.sort_by_key(|f| f.at);
    FaultPlan { swarm: SwarmChoice { enabled, disabled }, faults, planned: planner.schedule }
}

/// How hard a fault hits, where its kind has a strength.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Strength {
    extra_loss: f64,
    slow_factor: u64,
    drift_ppm: i64,
    /// Late delivery: the share of a node's messages held, and for how many milliseconds.
    late: (f64, u64),
}

/// Turns faults into timed actions, each with its end, inside the safety phase.
struct Planner {
    faults: Vec<PlannedFault>,
    /// Each fault as planned, in planning order (for the plan's schedule).
    schedule: Vec<Planned>,
    /// The kind being planned (each action pushed belongs to it).
    kind: Option<FaultKind>,
    next_id: u32,
    safety: f64,
}

impl Planner {
    /// `at` is at most the safety phase (a validated scenario's is at most a day), so the checked
    /// conversion of `SimTime::from_secs_f64` never panics here; a NaN or an infinity that got past
    /// validation would panic as a harness failure instead of planning a fault at time 0 or never.
    fn push(&mut self, at: f64, action: FaultAction) {
        self.faults.push(PlannedFault { at: SimTime::from_secs_f64(at), kind: self.kind, action });
    }

    /// Every fault with an end gets an id, so that overlapping faults end one by one.
    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// Plans `kind` at `start` for `length` seconds (a crash: its downtime). `target.0` holds the node
    /// hit (or one side of a partition), `target.1` the other side.
    fn add(&mut self, kind: FaultKind, target: (Vec<NodeId>, Vec<NodeId>), start: f64, length: f64, strength: Strength) {
        self.kind = Some(kind);
        self.schedule.push(Planned { kind, target: target.clone(), start, length, strength });
        let end = (start + length).min(self.safety);
        let (a, b) = target;
        let node = a.first().copied().unwrap_or(0);
        match kind {
            FaultKind::Crash => {
                self.push(start, FaultAction::Crash { node });
                if start + length < self.safety {
                    self.push(start + length, FaultAction::Restart { node });
                }
            }
            FaultKind::Pause => {
                self.push(start, FaultAction::Pause { node });
                self.push(end, FaultAction::Resume { node });
            }
            FaultKind::MachineCrash | FaultKind::MachinePowerLoss => {
                let power_loss = kind == FaultKind::MachinePowerLoss;
                self.push(start, FaultAction::MachineDown { nodes: a.clone(), power_loss });
                if start + length < self.safety {
                    self.push(start + length, FaultAction::MachineUp { nodes: a });
                }
            }
            FaultKind::Partition
            | FaultKind::OneWayPartition
            | FaultKind::Isolate
            | FaultKind::WanPartition
            | FaultKind::MachineIsolation => {
                let id = self.id();
                let one_way = kind == FaultKind::OneWayPartition;
                self.push(start, FaultAction::Partition { id, a, b, one_way });
                self.push(end, FaultAction::PartitionEnd { id });
            }
            FaultKind::PacketLoss => {
                let id = self.id();
                self.push(start, FaultAction::PacketLoss { id, extra: strength.extra_loss });
                self.push(end, FaultAction::PacketLossEnd { id });
            }
            FaultKind::Clock => self.push(start, FaultAction::ClockDrift { node, drift_ppm: strength.drift_ppm }),
            FaultKind::LateDelivery => {
                let id = self.id();
                let (share, delay_ms) = strength.late;
                self.push(start, FaultAction::LateDelivery { id, node, share, delay_ms });
                self.push(end, FaultAction::LateDeliveryEnd { id });
            }
            FaultKind::DiskCorruption => self.push(start, FaultAction::CorruptFile { node }),
            FaultKind::DiskReadError | FaultKind::DiskFull | FaultKind::DiskSlow => {
                let id = self.id();
                let action = match kind {
                    FaultKind::DiskReadError => FaultAction::ReadErrors { id, node },
                    FaultKind::DiskFull => FaultAction::DiskFull { id, node },
                    _ => FaultAction::DiskSlow { id, node, factor: strength.slow_factor },
                };
                self.push(start, action);
                self.push(end, FaultAction::DiskFaultEnd { id, node });
            }
        }
    }
}

/// One fault as the planner took it.
#[derive(Debug, Clone, PartialEq)]
struct Planned {
    kind: FaultKind,
    target: (Vec<NodeId>, Vec<NodeId>),
    start: f64,
    length: f64,
    strength: Strength,
}

impl Planned {
    /// The fault as a scheduled fault of a scenario file, which plans the same actions: every
    /// side named node by node, the strength its kind uses as drawn.
    fn written(&self, topology: &Topology) -> FixedFault {
        let names = |ids: &[NodeId]| ids.iter().map(|&id| topology.nodes[id as usize].name.clone()).collect::<Vec<_>>();
        let (a, b) = &self.target;
        // A machine fault names one node of the machine (the planner hits the whole machine).
        let nodes = if self.kind.is_machine() { names(&a[..1]) } else { names(a) };
        let s = self.strength;
        FixedFault {
            at_s: self.start,
            fault: self.kind,
            nodes,
            // Only a cut has another side (a fixed crash or pause is planned with every other
            // node there, which it does not use).
            others: if self.kind.is_partition() || matches!(self.kind, FaultKind::Isolate | FaultKind::MachineIsolation) {
                names(b)
            } else {
                Vec::new()
            },
            duration_s: self.length,
            extra_loss: (self.kind == FaultKind::PacketLoss).then_some(s.extra_loss),
            slow_factor: (self.kind == FaultKind::DiskSlow).then_some(s.slow_factor),
            drift_ppm: (self.kind == FaultKind::Clock).then_some(s.drift_ppm),
            late_share: (self.kind == FaultKind::LateDelivery).then_some(s.late.0),
            late_delay_ms: (self.kind == FaultKind::LateDelivery).then_some(s.late.1),
        }
    }
}

/// The nodes a machine fault hits, the machine `node` runs on: every node of it the nemesis may
/// fault, and for an isolation, on the other side, every node not on it (clients included).
fn machine_target(topology: &Topology, kind: FaultKind, node: NodeId) -> (Vec<NodeId>, Vec<NodeId>) {
    let nodes = topology.machine_of(node).map(|(_, nodes)| nodes).unwrap_or_default();
    let others = match kind {
        FaultKind::MachineIsolation => topology.nodes.iter().map(|n| n.id).filter(|n| !nodes.contains(n)).collect(),
        _ => Vec::new(),
    };
    (nodes, others)
}

/// Splits `nodes` into two non-empty sides at random.
fn split(rng: &mut ChaCha8Rng, nodes: &[NodeId]) -> (Vec<NodeId>, Vec<NodeId>) {
    if nodes.len() < 2 {
        return (nodes.to_vec(), Vec::new());
    }
    loop {
        let (a, b): (Vec<NodeId>, Vec<NodeId>) = nodes.iter().partition(|_| rng.random_bool(0.5));
        if !a.is_empty() && !b.is_empty() {
            return (a, b);
        }
    }
}

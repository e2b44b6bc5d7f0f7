//! The world of one run: every node, the event queue, the network, the disks, the clocks, the trace
//! and the checkers. Single-threaded and deterministic: the madsim tasks in `host.rs` drive it.
//!
//! One message's path: a role puts `(to, msg)` in its output; `World::apply_output` asks the
//! network for its fate and schedules a delivery event; the scheduler pops it at its time, checks the
//! receiver and the partitions, traces it and puts it in the receiver's mailbox; the receiver's host
//! task wakes and hands it to the role (`World::run_mailbox`), whose output starts the next round.

mod calls;
mod event;
mod faults;
mod liveness;
mod node;
mod open_faults;
mod queue;

use crate::node::{Node, NodeStatus};
use event::{Event, Queued};

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::task::Waker;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use ccrsim_model::core::digest::stable_hash;
use ccrsim_model::core::io::{DiskCompletion, Input, NodeId};

use crate::checkers::{Checkers, Violation};
use crate::design::{DesignCheckers, SimDesign};
use crate::env::clock::NodeClock;
use crate::env::disk::SimDisk;
use crate::env::net::{DropReason, Network};
use crate::env::time::SimTime;
use crate::scenario::Scenario;
use crate::topology::Topology;
use crate::trace::{EventKind, Trace, WORLD};

/// Counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Node boots (the first boot included).
    pub boots: u64,
    /// Power-loss crashes.
    pub crashes: u64,
    /// Processes that stopped themselves (fail-stop on an I/O error).
    pub halts: u64,
    /// Nodes that refused to start on corrupt state.
    pub fail_stops: u64,
    /// Faults the nemesis carried out.
    pub faults: u64,
    /// Role steps (inputs handled).
    pub steps: u64,
    /// Disk requests completed.
    pub disk_requests: u64,
    /// Client writes acknowledged.
    pub acknowledged_writes: u64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Converged within the liveness bound with no violation.
    Passed,
    /// A checker reported.
    Failed(Violation),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Safety,
    Liveness,
}

/// Faults of the harness itself, injected only by tests to prove that the harness's own checks see
/// them: the determinism check a run that differs from its twin, the panic report a broken model
/// invariant. No scenario file reaches them, and the command line only through hidden test flags;
/// off (the default) they change nothing, not even the trace.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Injections {
    /// At this simulated time the run draws one number more from its network generator, as a
    /// stray source of randomness would: the fate of every later message changes.
    pub divergence_at: Option<SimTime>,
    /// This node's role panics when it is handed its first input at or after this time, as a
    /// broken model invariant would (its payload is an `InjectedRolePanic`, which the runner counts
    /// as a panic in the model).
    pub panic_at: Option<(NodeId, SimTime)>,
    /// The harness itself panics when it is about to hand this node its first input at or after
    /// this time, as a bug in ccrsim would: a harness failure, not a violation.
    pub harness_panic_at: Option<(NodeId, SimTime)>,
}

/// The payload of the panic `Injections::panic_at` raises: it stands for a panic in the model, so
/// the runner classifies it as one, though it is raised in the world.
#[doc(hidden)]
#[derive(Debug)]
pub struct InjectedRolePanic(pub String);

/// The world of one run.
pub struct World<D: SimDesign> {
    /// The run's seed.
    pub seed: u64,
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// Who is who.
    pub topology: Topology,
    /// Every node, by id.
    pub nodes: Vec<Node<D>>,
    now: SimTime,
    queue: BinaryHeap<Reverse<Queued<D>>>,
    next_seq: u64,
    /// The network.
    pub net: Network,
    net_rng: ChaCha8Rng,
    disk_rng: ChaCha8Rng,
    fault_rng: ChaCha8Rng,
    /// The trace.
    pub trace: Trace,
    checkers: Checkers<D, D::Checkers>,
    partitions: BTreeMap<u32, (Vec<NodeId>, Vec<NodeId>, bool)>,
    /// Ids for partitions the world makes itself (leader triggers), above the planned ones.
    next_partition_id: u32,
    phase: Phase,
    /// Set when the run is over.
    pub outcome: Option<Outcome>,
    /// Counters.
    pub stats: RunStats,
    /// The scheduler, parked until every woken host has finished its step.
    scheduler_waker: Option<Waker>,
    /// Management calls made and not answered yet.
    calls: calls::Calls<D>,
    /// What a test injected (nothing, in any real run).
    injections: Injections,
    /// The node whose role is booting or handling inputs, so that a panic can name it.
    stepping: Option<NodeId>,
    /// The faults in effect, for a failure's signature.
    open_faults: open_faults::OpenFaults,
    /// The kinds of fault in effect when the run failed.
    pub faults_at_failure: Option<Vec<crate::nemesis::FaultKind>>,
}

impl<D: SimDesign> World<D> {
    /// A world for `scenario` and `seed`, with `faults` planned and nodes not yet booted.
    pub fn new(
        scenario: Arc<Scenario>,
        seed: u64,
        faults: Vec<crate::nemesis::PlannedFault>,
        record_trace: bool,
        injections: Injections,
    ) -> Self {
        let topology = Topology::from_scenario(&scenario);
        let specs = D::specs(&scenario, &topology);
        let mut clock_rng = ChaCha8Rng::seed_from_u64(stable_hash(&(seed, "clocks")));
        let nodes = topology
            .nodes
            .iter()
            .zip(specs)
            .map(|(info, spec)| {
                let skew = scenario.clock.skew_ms_max as i64;
                let drift = scenario.clock.drift_ppm_max as i64;
                Node {
                    info: info.clone(),
                    spec,
                    role: None,
                    // Booting: the host task builds the role when madsim first runs it. A data node
                    // added later stays down until it joins.
                    status: if info.joins_at_s.is_some() { NodeStatus::Down } else { NodeStatus::Up },
                    incarnation: 0,
                    boots: 0,
                    disk: SimDisk::new(scenario.disk),
                    clock: NodeClock { skew_ms: clock_rng.random_range(-skew..=skew), drift_ppm: clock_rng.random_range(-drift..=drift) },
                    timers: BTreeMap::new(),
                    disk_free_at: SimTime::ZERO,
                    mailbox: VecDeque::new(),
                    waker: None,
                    madsim_id: None,
                }
            })
            .collect::<Vec<_>>();
        let net = Network::new(
            nodes.len(),
            [scenario.network.lan, scenario.network.wan, scenario.network.client],
            scenario.network.drop_in_flight_on_partition,
            |a, b| topology.class(a, b),
        );
        let checkers = Checkers::new(&scenario, &topology, D::checkers(&scenario, &topology));
        let mut world = Self {
            seed,
            topology,
            nodes,
            now: SimTime::ZERO,
            queue: BinaryHeap::new(),
            next_seq: 0,
            net,
            net_rng: ChaCha8Rng::seed_from_u64(stable_hash(&(seed, "network"))),
            disk_rng: ChaCha8Rng::seed_from_u64(stable_hash(&(seed, "disk"))),
            fault_rng: ChaCha8Rng::seed_from_u64(stable_hash(&(seed, "faults"))),
            trace: Trace::new(record_trace),
            checkers,
            partitions: BTreeMap::new(),
            next_partition_id: 1 << 24,
            phase: Phase::Safety,
            outcome: None,
            stats: RunStats::default(),
            scheduler_waker: None,
            calls: calls::Calls::default(),
            injections,
            stepping: None,
            open_faults: open_faults::OpenFaults::new(&faults),
            faults_at_failure: None,
            scenario,
        };
        for f in faults {
            world.schedule(f.at, Event::Fault(f.action));
        }
        let joins: Vec<(NodeId, f64)> = world.topology.nodes.iter().filter_map(|n| n.joins_at_s.map(|at| (n.id, at))).collect();
        for (node, at) in joins {
            world.schedule(SimTime::from_secs_f64(at), Event::Join { node });
        }
        world.schedule_calls();
        if let Some(at) = injections.divergence_at {
            world.schedule(at, Event::InjectedDivergence);
        }
        world
    }

    /// The time of the event being handled.
    pub fn now(&self) -> SimTime {
        self.now
    }

    fn dispatch(&mut self, event: Event<D>) {
        let now = self.now;
        match event {
            Event::Deliver { from, to, to_incarnation, sent_at, msg } => {
                let node = &self.nodes[to as usize];
                let verdict = if matches!(node.status, NodeStatus::Down | NodeStatus::FailStopped(_)) {
                    Err(DropReason::ReceiverDown)
                } else if node.incarnation != to_incarnation {
                    Err(DropReason::ReceiverRestarted)
                } else {
                    self.net.admits(from, to, sent_at)
                };
                let detail = stable_hash(&msg) ^ u64::from(from) << 32;
                match verdict {
                    Ok(()) => {
                        self.net.delivered();
                        self.trace.emit(now, to, EventKind::Deliver, detail, || format!("<- n{from} {msg:?}"));
                        self.push_input(to, Input::Message { from, msg });
                    }
                    Err(reason) => {
                        if reason != DropReason::Partition {
                            self.net.receiver_gone();
                        }
                        self.trace.emit(now, to, EventKind::Drop, detail ^ reason as u64, || {
                            format!("dropped ({}) <- n{from} {}", reason.name(), msg.kind())
                        });
                    }
                }
            }
            Event::Timer { node, incarnation, key, generation } => {
                let n = &mut self.nodes[node as usize];
                if n.incarnation != incarnation || n.timers.get(&key) != Some(&generation) {
                    return; // cancelled, re-armed, or armed before a crash
                }
                n.timers.remove(&key);
                self.trace.emit(now, node, EventKind::Timer, u64::from(key), || format!("timer {key}"));
                self.push_input(node, Input::Timer(key));
            }
            Event::Disk { node, incarnation, request } => {
                let n = &mut self.nodes[node as usize];
                if n.incarnation != incarnation {
                    return; // the crash dropped it before it completed
                }
                let result = n.disk.execute(&request.op);
                self.stats.disk_requests += 1;
                let detail = stable_hash(&request) ^ stable_hash(&result);
                self.trace.emit(now, node, EventKind::Disk, detail, || {
                    let op = format!("{:?}", request.op);
                    format!("disk {} -> {:?}", truncate(&op, 80), result.as_ref().map(|r| r.as_ref().map(Vec::len)))
                });
                if result.is_err() || request.report_success {
                    self.push_input(node, Input::Disk(DiskCompletion { token: request.token, result }));
                }
            }
            Event::Fault(action) => self.apply_fault(action),
            Event::AutoRestart { node, incarnation } => {
                let n = &self.nodes[node as usize];
                if n.status == NodeStatus::Down && n.incarnation == incarnation {
                    self.restart(node);
                }
            }
            Event::Join { node } => {
                self.trace.emit(now, node, EventKind::Process, 3, || "joins the cluster (added data node)".into());
                if self.nodes[node as usize].status == NodeStatus::Down {
                    self.restart(node);
                }
            }
            Event::Call { call, attempt } => self.make_call(call, attempt),
            Event::StatusProbe => self.probe_status(),
            Event::CallTimeout { call_id } => self.call_timed_out(call_id),
            Event::LivenessCheck => self.liveness_check(),
            Event::LivenessDeadline => self.liveness_deadline(),
            Event::InjectedDivergence => {
                let _: u64 = self.net_rng.random();
            }
        }
    }

    pub(super) fn fail(&mut self, violation: Violation) {
        if self.outcome.is_none() {
            self.faults_at_failure = Some(self.open_faults.kinds());
            let text = violation.to_string();
            self.trace.emit(self.now, WORLD, EventKind::Run, stable_hash(&text), || format!("VIOLATION {text}"));
            self.outcome = Some(Outcome::Failed(violation));
        }
    }

    /// What the replica protocol did, for reports.
    pub fn replica_summary(&self) -> Option<crate::summary::ReplicaSummary> {
        self.checkers.design().replica_summary()
    }

    /// What availability measured, for reports.
    pub fn availability_summary(&self) -> crate::checkers::availability::AvailabilitySummary {
        self.checkers.availability_summary(self.now)
    }

    /// What the pipeline did, for reports.
    pub fn pipeline_summary(&self) -> Option<crate::summary::PipelineSummary> {
        self.checkers.design().pipeline_summary()
    }

    /// The fate of every write on every copy as things stand, for reports.
    pub fn fate_summary(&self) -> crate::summary::FateSummary {
        self.checkers.fate_summary(&self.view())
    }

    /// Every failover so far, with its RTO and RPO.
    pub fn failovers(&self) -> Vec<crate::summary::Failover> {
        self.checkers.failovers()
    }

    /// A read-only view of the deployment, for the checkers.
    pub fn view(&self) -> crate::view::ClusterView<'_, D> {
        crate::view::ClusterView::new(&self.nodes, &self.topology)
    }

    /// Records a panic caught by the runner as the run's outcome, on the node whose role was
    /// stepping if one was.
    pub fn fail_with_panic(&mut self, message: String) {
        self.fail(Violation::of(
            crate::checkers::MODEL_INVARIANT,
            "an assertion inside the simulation (model invariant or harness bug)",
            crate::checkers::Class::Harness,
            self.now,
            self.stepping,
            message,
        ));
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

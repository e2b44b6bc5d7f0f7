//! The world of one run: every node, the event queue, the network, the disks, the clocks, the trace
//! and the checkers. Single-threaded and deterministic: the madsim tasks in `host.rs` drive it.
//!
//! One message's path: a role puts `(to, msg)` in its output; [`World::apply_output`] asks the
//! network for its fate and schedules a delivery event; the scheduler pops it at its time, checks the
//! receiver and the partitions, traces it and puts it in the receiver's mailbox; the receiver's host
//! task wakes and hands it to the role ([`World::run_mailbox`]), whose output starts the next round.

mod calls;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::task::Waker;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::design::Fact;
use crate::design::Message;
use crate::design::{Role, RoleSpec};
use ccrsim_model::core::digest::stable_hash;
use ccrsim_model::core::io::{DiskCompletion, DiskRequest, Input, NodeId, Output, TimerKey};
use ccrsim_model::deployment::message::Control;
use ccrsim_model::pipeline::dolphindb_async::AdminCall;

use crate::checkers::{Checkers, Violation};
use crate::clock::NodeClock;
use crate::disk::SimDisk;
use crate::nemesis::FaultAction;
use crate::net::{DropReason, Network};
use crate::scenario::Scenario;
use crate::time::SimTime;
use crate::topology::Topology;
use crate::trace::{EventKind, Trace, WORLD};

/// Whether a node's process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeStatus {
    /// Running.
    Up,
    /// Not scheduled (its messages queue up).
    Paused,
    /// Crashed or exited; a restart boots it from its disk.
    Down,
    /// Refused to start on damaged durable state; stays down (an operator would replace it).
    FailStopped(String),
}

/// The running controller leader among `controllers` (the first in their order), if any.
pub fn running_leader<'a>(nodes: &'a [Node], controllers: &[NodeId]) -> Option<(NodeId, &'a crate::design::Controller)> {
    controllers.iter().find_map(|&c| {
        let n = &nodes[c as usize];
        n.role
            .as_ref()
            .and_then(|r| r.as_controller())
            .filter(|ctl| n.status == NodeStatus::Up && ctl.raft().is_leader())
            .map(|ctl| (c, ctl))
    })
}

/// One node of the world.
#[derive(Debug)]
pub struct Node {
    /// Who it is.
    pub info: crate::topology::NodeInfo,
    /// How to build its role.
    pub spec: RoleSpec,
    /// The running role (`None` while down).
    pub role: Option<Role>,
    /// Process state.
    pub status: NodeStatus,
    /// Bumped at every crash or halt: events of an earlier incarnation are dropped.
    incarnation: u32,
    /// Boots so far.
    pub boots: u32,
    /// Survives restarts.
    pub disk: SimDisk,
    /// Skew and drift.
    pub clock: NodeClock,
    /// Armed timers: key -> generation of the arming.
    timers: BTreeMap<TimerKey, u64>,
    /// When the disk finishes the last request queued so far.
    disk_free_at: SimTime,
    /// Inputs waiting for the host task (a paused node's wait until it resumes).
    mailbox: VecDeque<Input<Message, AdminCall>>,
    /// The host task, parked until the mailbox has something.
    waker: Option<Waker>,
    /// madsim's id of this node.
    pub(crate) madsim_id: Option<madsim::task::NodeId>,
}

#[derive(Debug)]
enum Event {
    Deliver {
        from: NodeId,
        to: NodeId,
        to_incarnation: u32,
        sent_at: SimTime,
        msg: Message,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        key: TimerKey,
        generation: u64,
    },
    Disk {
        node: NodeId,
        incarnation: u32,
        request: DiskRequest,
    },
    Fault(FaultAction),
    AutoRestart {
        node: NodeId,
        incarnation: u32,
    },
    /// A data node added to a running cluster joins.
    Join {
        node: NodeId,
    },
    /// A management call (`calls.rs`); `attempt` counts the tries while no target was ready.
    Call {
        call: calls::PlannedCall,
        attempt: u32,
    },
    /// The harness calls every status function (`calls.rs`).
    StatusProbe,
    /// A scenario call unanswered this long is made again (its node may have died with it).
    CallTimeout {
        call_id: u64,
    },
    LivenessCheck,
    LivenessDeadline,
}

/// A queue entry: small, so that the heap moves 24 bytes, not a whole message.
#[derive(Debug)]
struct Queued {
    at: SimTime,
    seq: u64,
    event: Box<Event>,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

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
enum Phase {
    Safety,
    Liveness,
}

/// The world of one run.
pub struct World {
    /// The run's seed.
    pub seed: u64,
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// Who is who.
    pub topology: Topology,
    /// Every node, by id.
    pub nodes: Vec<Node>,
    now: SimTime,
    queue: BinaryHeap<Reverse<Queued>>,
    next_seq: u64,
    /// The network.
    pub net: Network,
    net_rng: ChaCha8Rng,
    disk_rng: ChaCha8Rng,
    fault_rng: ChaCha8Rng,
    /// The trace.
    pub trace: Trace,
    checkers: Checkers,
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
    calls: calls::Calls,
}

impl World {
    /// A world for `scenario` and `seed`, with `faults` planned and nodes not yet booted.
    pub fn new(scenario: Arc<Scenario>, seed: u64, faults: Vec<crate::nemesis::PlannedFault>, record_trace: bool) -> Self {
        let topology = Topology::from_scenario(&scenario);
        let specs = crate::roles::specs(&scenario, &topology);
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
        let checkers = Checkers::new(&topology, &scenario);
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
        world
    }

    /// The time of the event being handled.
    pub fn now(&self) -> SimTime {
        self.now
    }

    fn schedule(&mut self, at: SimTime, event: Event) {
        debug_assert!(at >= self.now, "an event in the past: {at} < {}", self.now);
        self.next_seq += 1;
        self.queue.push(Reverse(Queued { at, seq: self.next_seq, event: Box::new(event) }));
    }

    // ----- Scheduler side --------------------------------------------------------------------------

    /// The time of the next event.
    pub(crate) fn next_event_at(&self) -> Option<SimTime> {
        self.queue.peek().map(|Reverse(q)| q.at)
    }

    /// True while some host has inputs to handle (or a role to boot) at the current time. The
    /// scheduler waits for them before time moves on, so every event is handled in time order.
    pub(crate) fn hosts_busy(&mut self, scheduler: &Waker) -> bool {
        let busy =
            self.outcome.is_none() && self.nodes.iter().any(|n| n.status == NodeStatus::Up && (n.role.is_none() || !n.mailbox.is_empty()));
        if busy {
            self.scheduler_waker = Some(scheduler.clone());
        }
        busy
    }

    /// A host finished a step: let the scheduler look again.
    pub(crate) fn host_done(&mut self) {
        if let Some(w) = self.scheduler_waker.take() {
            w.wake();
        }
    }

    /// Handles every event of the earliest time in the queue.
    pub(crate) fn dispatch_next_instant(&mut self) {
        let Some(at) = self.next_event_at() else { return };
        debug_assert!(at >= self.now, "time never goes back");
        self.now = at;
        while self.outcome.is_none() && self.next_event_at() == Some(at) {
            let Reverse(q) = self.queue.pop().expect("peeked");
            self.dispatch(*q.event);
        }
    }

    fn dispatch(&mut self, event: Event) {
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
            Event::LivenessCheck => {
                if self.checkers.pending(&self.nodes).is_none() && self.unanswered_call().is_none() {
                    self.finish_converged();
                } else {
                    self.schedule(now.plus_nanos(100_000_000), Event::LivenessCheck);
                }
            }
            Event::LivenessDeadline => {
                let unanswered = self.unanswered_call().map(|i| {
                    let message = format!("calls[{i}] ({}) was never answered", self.scenario.calls[i].call);
                    (crate::checkers::MANAGEMENT_CALLS, calls::SOURCE, message)
                });
                if let Some((checker, source, message)) = self.checkers.pending(&self.nodes).or(unanswered) {
                    let bound = self.scenario.run.liveness_bound_s;
                    self.fail(Violation {
                        checker,
                        source,
                        at: now,
                        node: None,
                        message: format!("not converged {bound} s after healing: {message}"),
                    });
                } else {
                    self.finish_converged();
                }
            }
        }
    }

    fn push_input(&mut self, node: NodeId, input: Input<Message, AdminCall>) {
        let n = &mut self.nodes[node as usize];
        n.mailbox.push_back(input);
        if let Some(w) = n.waker.take() {
            w.wake();
        }
    }

    // ----- Host side ------------------------------------------------------------------------------

    /// True when `node`'s host task may step its role now; otherwise parks it. (A host that saw
    /// inputs it may not handle, because the run is over, must park: madsim would otherwise poll
    /// it forever, since nothing else runs until a task yields.)
    pub(crate) fn mailbox_ready(&mut self, node: NodeId, waker: &Waker) -> bool {
        let live = self.outcome.is_none();
        let n = &mut self.nodes[node as usize];
        if live && n.status == NodeStatus::Up && n.role.is_some() && !n.mailbox.is_empty() {
            true
        } else {
            n.waker = Some(waker.clone());
            false
        }
    }

    /// Boots `node` from its disk; false if it could not start.
    pub(crate) fn boot(&mut self, node: NodeId) -> bool {
        let now = self.now;
        let n = &mut self.nodes[node as usize];
        n.boots += 1;
        self.stats.boots += 1;
        let entropy = stable_hash(&(self.seed, node, n.boots));
        match Role::boot(node, &n.spec, &n.disk, entropy) {
            Ok(mut role) => {
                n.status = NodeStatus::Up;
                let boots = n.boots;
                self.trace.emit(now, node, EventKind::Process, u64::from(boots), || format!("boot #{boots}"));
                let mut out = Output::default();
                role.start(n.clock.local_millis(now), &mut out);
                self.nodes[node as usize].role = Some(role);
                self.apply_output(node, now, out);
                true
            }
            Err(e) => {
                let reason = e.to_string();
                let transient = matches!(e, ccrsim_model::raft::RecoveryError::Disk(_));
                self.trace.emit(now, node, EventKind::Process, stable_hash(&reason), || format!("boot failed: {reason}"));
                self.checkers.on_down(node);
                if transient {
                    // Like a service manager: try again a little later.
                    self.nodes[node as usize].status = NodeStatus::Down;
                    self.stats.halts += 1;
                    self.schedule_auto_restart(node);
                } else {
                    if let Err(v) = self.checkers.on_refusal(now, node, &reason) {
                        self.fail(v);
                    }
                    self.nodes[node as usize].status = NodeStatus::FailStopped(reason);
                    self.stats.fail_stops += 1;
                }
                false
            }
        }
    }

    /// Hands every waiting input to `node`'s role, in order, and carries out its outputs. The role
    /// handles them now: for a node that was paused, that is when it resumed.
    pub(crate) fn run_mailbox(&mut self, node: NodeId) {
        let at = self.now;
        while self.outcome.is_none() && self.nodes[node as usize].status == NodeStatus::Up {
            let n = &mut self.nodes[node as usize];
            let Some(input) = n.mailbox.pop_front() else { break };
            let Some(role) = n.role.as_mut() else { break };
            let local = n.clock.local_millis(at);
            let mut out = Output::default();
            role.handle(local, input, &mut out);
            self.stats.steps += 1;
            self.apply_output(node, at, out);
        }
    }

    /// Carries out what a role asked for.
    fn apply_output(&mut self, node: NodeId, at: SimTime, out: Output<Message, Fact>) {
        for fact in &out.facts {
            self.trace.emit(at, node, EventKind::Fact, stable_hash(fact), || format!("fact {fact:?}"));
            if let crate::design::Fact::Client(ccrsim_model::deployment::fact::ClientFact::Acknowledged { .. }) = fact {
                self.stats.acknowledged_writes += 1;
            }
            if let Err(v) = self.checkers.on_fact(at, node, fact) {
                self.fail(v);
                return;
            }
            if let crate::design::Fact::Raft(ccrsim_model::raft::RaftFact::BecameLeader { .. }) = fact {
                self.maybe_hit_new_leader(node);
            }
            if let crate::design::Fact::Admin { call_id, call, result } = fact {
                self.on_call_answered(node, *call_id, call, result);
            }
        }
        for (to, msg) in out.sends {
            self.send(node, to, at, msg);
        }
        let n = &mut self.nodes[node as usize];
        for request in out.disk {
            let latency = n.disk.latency_nanos(&mut self.disk_rng, &request.op);
            let done = n.disk_free_at.max(at).plus_nanos(latency);
            n.disk_free_at = done;
            let incarnation = n.incarnation;
            self.next_seq += 1;
            self.queue.push(Reverse(Queued { at: done, seq: self.next_seq, event: Box::new(Event::Disk { node, incarnation, request }) }));
            debug_assert!(done >= self.now);
        }
        let mut armed = Vec::new();
        for (key, delay) in out.timers {
            match delay {
                Some(ms) => {
                    self.next_seq += 1;
                    let generation = self.next_seq;
                    n.timers.insert(key, generation);
                    armed.push((at.plus_nanos(n.clock.timer_nanos(ms)), key, generation));
                }
                None => {
                    n.timers.remove(&key);
                }
            }
        }
        let incarnation = n.incarnation;
        for (when, key, generation) in armed {
            self.schedule(when, Event::Timer { node, incarnation, key, generation });
        }
        if let Some(reason) = out.halt {
            self.halt(node, reason);
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, at: SimTime, msg: Message) {
        assert!((to as usize) < self.nodes.len(), "node {from} sent to unknown node {to}");
        match self.net.route(&mut self.net_rng, from, to) {
            Ok(delays) => {
                let to_incarnation = self.nodes[to as usize].incarnation;
                let mut msg = Some(msg);
                let copies = delays.len();
                for (i, delay) in delays.into_iter().enumerate() {
                    let m = if i + 1 == copies { msg.take().expect("one per copy") } else { msg.clone().expect("kept") };
                    self.schedule(at.plus_nanos(delay), Event::Deliver { from, to, to_incarnation, sent_at: at, msg: m });
                }
            }
            Err(reason) => {
                let detail = stable_hash(&msg) ^ reason as u64;
                self.trace.emit(at, from, EventKind::Drop, detail, || format!("dropped ({}) -> n{to} {}", reason.name(), msg.kind()));
            }
        }
    }

    // ----- Processes ------------------------------------------------------------------------------

    fn take_down(&mut self, node: NodeId) {
        let n = &mut self.nodes[node as usize];
        n.role = None;
        n.status = NodeStatus::Down;
        n.incarnation += 1;
        n.mailbox.clear();
        n.timers.clear();
        n.waker = None;
        n.disk_free_at = SimTime::ZERO;
        self.checkers.on_down(node);
        if let Some(id) = n.madsim_id {
            madsim::runtime::Handle::current().kill(id);
        }
    }

    /// Power loss: the process dies and the disk loses what was not synced.
    fn crash(&mut self, node: NodeId) {
        let now = self.now;
        self.take_down(node);
        self.stats.crashes += 1;
        let losses = self.nodes[node as usize].disk.crash(&mut self.disk_rng);
        let detail = stable_hash(&format!("{losses:?}"));
        self.trace.emit(now, node, EventKind::Process, detail, || format!("crash (power loss), unsynced: {losses:?}"));
    }

    /// The role stopped itself: the process exits; the page cache survives (the machine is fine).
    fn halt(&mut self, node: NodeId, reason: String) {
        let now = self.now;
        self.take_down(node);
        self.stats.halts += 1;
        self.trace.emit(now, node, EventKind::Process, stable_hash(&reason), || format!("halt: {reason}"));
        self.schedule_auto_restart(node);
    }

    fn schedule_auto_restart(&mut self, node: NodeId) {
        let delay = self.fault_rng.random_range(1_000_000_000..3_000_000_000u64);
        let incarnation = self.nodes[node as usize].incarnation;
        self.schedule(self.now.plus_nanos(delay), Event::AutoRestart { node, incarnation });
    }

    fn restart(&mut self, node: NodeId) {
        let n = &mut self.nodes[node as usize];
        debug_assert_eq!(n.status, NodeStatus::Down);
        // The host task boots the role; until then the node counts as up but has no role.
        n.status = NodeStatus::Up;
        if let Some(id) = n.madsim_id {
            madsim::runtime::Handle::current().restart(id);
        }
    }

    // ----- Faults -------------------------------------------------------------------------------

    fn apply_fault(&mut self, action: FaultAction) {
        let now = self.now;
        if self.phase == Phase::Liveness && action != FaultAction::StartLiveness {
            return; // the nemesis is done
        }
        self.stats.faults += 1;
        let text = format!("{action:?}");
        self.trace.emit(now, WORLD, EventKind::Fault, stable_hash(&text), || format!("fault {text}"));
        match action {
            FaultAction::Crash { node } => {
                if matches!(self.nodes[node as usize].status, NodeStatus::Up | NodeStatus::Paused) {
                    self.crash(node);
                }
            }
            FaultAction::Restart { node } => {
                if self.nodes[node as usize].status == NodeStatus::Down {
                    self.restart(node);
                }
            }
            FaultAction::Pause { node } => {
                let n = &mut self.nodes[node as usize];
                if n.status == NodeStatus::Up && n.role.is_some() {
                    n.status = NodeStatus::Paused;
                    if let Some(id) = n.madsim_id {
                        madsim::runtime::Handle::current().pause(id);
                    }
                }
            }
            FaultAction::Resume { node } => self.resume(node),
            FaultAction::Partition { id, a, b, one_way } => {
                if one_way {
                    self.net.cut_one_way(&a, &b, now)
                } else {
                    self.net.cut_both_ways(&a, &b, now)
                }
                self.partitions.insert(id, (a, b, one_way));
            }
            FaultAction::PartitionEnd { id } => {
                self.partitions.remove(&id);
                self.net.heal();
                for (a, b, one_way) in self.partitions.values() {
                    if *one_way { self.net.cut_one_way(a, b, now) } else { self.net.cut_both_ways(a, b, now) }
                }
            }
            FaultAction::PacketLoss { id, extra } => self.net.start_loss_burst(id, extra),
            FaultAction::PacketLossEnd { id } => self.net.end_loss_burst(id),
            FaultAction::ClockDrift { node, drift_ppm } => self.nodes[node as usize].clock.drift_ppm = drift_ppm,
            FaultAction::CorruptFile { node } => {
                let paths: Vec<String> =
                    self.nodes[node as usize].disk.paths().into_iter().filter(|p| self.within_tolerance(node, p)).collect();
                if paths.is_empty() {
                    self.trace.emit(now, node, EventKind::Fault, 0, || "corruption skipped: no file it could hit within tolerance".into());
                } else {
                    let path = paths[self.fault_rng.random_range(0..paths.len())].clone();
                    let offset = self.nodes[node as usize].disk.flip_bit(&mut self.fault_rng, &path);
                    self.checkers.on_corruption(node);
                    self.trace
                        .emit(now, node, EventKind::Fault, stable_hash(&(&path, offset)), || format!("bit flip in {path} at {offset:?}"));
                }
            }
            FaultAction::ReadErrors { id, node } => {
                let paths = self.nodes[node as usize].disk.paths();
                if !paths.is_empty() {
                    let path = paths[self.fault_rng.random_range(0..paths.len())].clone();
                    self.nodes[node as usize].disk.fail_reads(id, &path);
                    self.trace.emit(now, node, EventKind::Fault, stable_hash(&path), || format!("read errors on {path}"));
                }
            }
            FaultAction::DiskFull { id, node } => self.nodes[node as usize].disk.fill(id),
            FaultAction::DiskSlow { id, node, factor } => self.nodes[node as usize].disk.slow_down(id, factor),
            FaultAction::DiskFaultEnd { id, node } => {
                self.nodes[node as usize].disk.end_fault(id);
            }
            FaultAction::StartLiveness => self.start_liveness(),
        }
    }

    /// The leader trigger: a controller that just won may be isolated or crashed right away.
    fn maybe_hit_new_leader(&mut self, leader: NodeId) {
        let trigger = self.scenario.faults.on_new_leader.clone();
        let cluster_name = self.nodes[leader as usize].info.cluster().map(|c| c.name()).unwrap_or_default();
        let aimed = trigger.clusters.is_empty() || trigger.clusters.contains(&cluster_name);
        if self.phase != Phase::Safety || trigger.probability <= 0.0 || !aimed || !self.fault_rng.random_bool(trigger.probability) {
            return;
        }
        let [d0, d1] = trigger.delay_ms;
        let delay = SimTime::from_secs_f64(self.fault_rng.random_range(d0..=d1) / 1000.0).as_nanos();
        let [l0, l1] = trigger.duration_s;
        let length = SimTime::from_secs_f64(self.fault_rng.random_range(l0..=l1)).as_nanos();
        let start = self.now.plus_nanos(delay);
        let (hit, heal) = match trigger.action {
            crate::scenario::LeaderAction::Isolate => {
                let cluster = self.nodes[leader as usize].info.kind;
                let others: Vec<NodeId> =
                    self.nodes.iter().filter(|n| n.info.kind == cluster && n.info.id != leader).map(|n| n.info.id).collect();
                let id = self.next_partition_id;
                self.next_partition_id += 1;
                (FaultAction::Partition { id, a: vec![leader], b: others, one_way: false }, FaultAction::PartitionEnd { id })
            }
            crate::scenario::LeaderAction::Crash => (FaultAction::Crash { node: leader }, FaultAction::Restart { node: leader }),
        };
        self.schedule(start, Event::Fault(hit));
        self.schedule(start.plus_nanos(length), Event::Fault(heal));
    }

    /// Whether corrupting `path` on `node` stays within what the design tolerates: a chunk replica
    /// may be hit only while every other replica of its chunk is complete (else the corrupt copy
    /// could be the last good one, and replication factor 2 cannot survive two faults). Files other
    /// than chunk replicas are budgeted by the nemesis plan.
    fn within_tolerance(&self, node: NodeId, path: &str) -> bool {
        if path.starts_with("tasks/") {
            // Task data has one copy: a flip loses the task for good (it fails, and an operator
            // must skip it). Only scenarios that ask for that get it.
            return self.scenario.replication.corrupt_task_data;
        }
        let Some(chunk) = path.strip_prefix("chunks/").and_then(|p| p.split('.').next()).and_then(|c| c.parse::<u64>().ok()) else {
            return true;
        };
        let cluster = self.nodes[node as usize].info.cluster();
        let leader = self
            .nodes
            .iter()
            .filter(|n| matches!(n.info.kind, crate::topology::NodeKind::Controller(c) if Some(c) == cluster))
            .find_map(|n| n.role.as_ref().and_then(|r| r.as_controller()).filter(|c| c.raft().is_leader()));
        let Some(leader) = leader else { return false };
        let Some(meta) = leader.raft().state_machine().replica.chunks().get(&chunk) else { return true };
        meta.replicas
            .iter()
            .filter(|(n, _)| **n != node)
            .all(|(_, r)| r.state == ccrsim_model::replica::dolphindb_2pc::state::ReplicaState::Complete && r.version == meta.version)
    }

    fn resume(&mut self, node: NodeId) {
        let n = &mut self.nodes[node as usize];
        if n.status == NodeStatus::Paused {
            n.status = NodeStatus::Up;
            if let Some(id) = n.madsim_id {
                madsim::runtime::Handle::current().resume(id);
            }
        }
    }

    fn start_liveness(&mut self) {
        let now = self.now;
        self.phase = Phase::Liveness;
        self.trace.emit(now, WORLD, EventKind::Run, 1, || "liveness phase: every fault healed".into());
        self.partitions.clear();
        self.net.heal();
        self.net.end_loss_bursts();
        for node in 0..self.nodes.len() as NodeId {
            self.nodes[node as usize].disk.heal();
            match self.nodes[node as usize].status {
                NodeStatus::Paused => self.resume(node),
                NodeStatus::Down => self.restart(node),
                NodeStatus::Up | NodeStatus::FailStopped(_) => {}
            }
            if self.nodes[node as usize].info.kind.is_client() {
                self.push_input(node, Input::Message { from: node, msg: Message::Control(Control::StopWorkload) });
            }
        }
        self.schedule(now.plus_nanos(100_000_000), Event::LivenessCheck);
        let bound = SimTime::from_secs_f64(self.scenario.run.liveness_bound_s).as_nanos();
        self.schedule(now.plus_nanos(bound), Event::LivenessDeadline);
    }

    // ----- End of run -----------------------------------------------------------------------------

    fn fail(&mut self, violation: Violation) {
        if self.outcome.is_none() {
            let text = violation.to_string();
            self.trace.emit(self.now, WORLD, EventKind::Run, stable_hash(&text), || format!("VIOLATION {text}"));
            self.outcome = Some(Outcome::Failed(violation));
        }
    }

    fn finish_converged(&mut self) {
        if let Err(v) = self.checkers.at_end(self.now, &self.nodes) {
            self.fail(v);
            return;
        }
        self.trace.emit(self.now, WORLD, EventKind::Run, 2, || "converged: every checker satisfied".into());
        self.outcome = Some(Outcome::Passed);
    }

    /// What replication did, if the deployment has slaves.
    pub fn repl_summary(&self) -> Option<crate::checkers::repl_ledger::ReplSummary> {
        self.checkers.repl_ledger().map(|l| l.summary())
    }

    /// What the DFS did, if the deployment has one.
    pub fn dfs_summary(&self) -> Option<crate::checkers::dfs_ledger::DfsSummary> {
        self.checkers.ledger().map(|l| l.summary())
    }

    /// Records a panic caught by the runner as the run's outcome.
    pub fn fail_with_panic(&mut self, message: String) {
        self.fail(Violation {
            checker: crate::checkers::MODEL_INVARIANT,
            source: "an assertion inside the simulation (model invariant or harness bug)",
            at: self.now,
            node: None,
            message,
        });
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

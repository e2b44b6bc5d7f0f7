//! The nodes: each one's process state, disk, clock, timers and mailbox; booting a role from its
//! disk, handing it its inputs and carrying out its outputs; crashes, halts, restarts and pauses.

use std::cmp::Reverse;

use rand::RngExt;
use std::task::Waker;

use super::World;
use super::event::{Event, Queued};
use crate::checkers::availability::DisruptionKey;
use crate::design::{Call, Fact, Message, Role, SimDesign};
use crate::env::time::SimTime;
use crate::node::NodeStatus;
use crate::trace::EventKind;
use ccrsim_model::core::digest::stable_hash;
use ccrsim_model::core::io::{Input, NodeId, Output};

impl<D: SimDesign> World<D> {
    pub(super) fn push_input(&mut self, node: NodeId, input: Input<Message<D>, Call<D>>) {
        let n = &mut self.nodes[node as usize];
        n.mailbox.push_back(input);
        if let Some(w) = n.waker.take() {
            w.wake();
        }
    }

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
        self.stepping = Some(node);
        let booted = self.boot_role(node);
        self.stepping = None;
        booted
    }

    fn boot_role(&mut self, node: NodeId) -> bool {
        let now = self.now;
        let n = &mut self.nodes[node as usize];
        n.boots += 1;
        self.stats.boots += 1;
        let entropy = stable_hash(&(self.seed, node, n.boots));
        match Role::<D>::boot(node, &n.spec, &n.disk, entropy) {
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
                self.checkers.on_down(now, node);
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
        self.stepping = Some(node);
        let injected_panic = self.injections.panic_at.is_some_and(|(n, t)| n == node && at >= t);
        let injected_harness_panic = self.injections.harness_panic_at.is_some_and(|(n, t)| n == node && at >= t);
        while self.outcome.is_none() && self.nodes[node as usize].status == NodeStatus::Up {
            let n = &mut self.nodes[node as usize];
            let Some(input) = n.mailbox.pop_front() else { break };
            let Some(role) = n.role.as_mut() else { break };
            let local = n.clock.local_millis(at);
            let mut out = Output::default();
            if injected_panic {
                let message =
                    format!("injected panic in node {node}'s role at {at} (Injections::panic_at, a test of the harness's panic report)");
                std::panic::panic_any(super::InjectedRolePanic(message));
            }
            if injected_harness_panic {
                panic!("injected panic in the harness before node {node}'s input at {at} (Injections::harness_panic_at)");
            }
            role.handle(local, input, &mut out);
            self.stats.steps += 1;
            self.apply_output(node, at, out);
        }
        self.stepping = None;
    }

    /// Carries out what a role asked for.
    pub(super) fn apply_output(&mut self, node: NodeId, at: SimTime, out: Output<Message<D>, Fact<D>>) {
        for fact in &out.facts {
            self.trace.emit(at, node, EventKind::Fact, stable_hash(fact), || format!("fact {fact:?}"));
            if let ccrsim_model::deployment::fact::Fact::Client(ccrsim_model::deployment::fact::ClientFact::Acknowledged { .. }) = fact {
                self.stats.acknowledged_writes += 1;
            }
            if let Err(v) = self.checkers.on_fact(at, node, fact) {
                self.fail(v);
                return;
            }
            if let ccrsim_model::deployment::fact::Fact::Raft(ccrsim_model::raft::RaftFact::BecameLeader { .. }) = fact {
                self.maybe_hit_new_leader(node);
            }
            if let ccrsim_model::deployment::fact::Fact::Admin { call_id, call, result } = fact {
                self.on_call_answered(node, *call_id, call, result);
            }
        }
        for (to, msg) in out.sends {
            if let Err(v) = self.checkers.on_send(at, node, to, &msg) {
                self.fail(v);
                return;
            }
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
            assert!(done >= self.now);
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

    pub(super) fn send(&mut self, from: NodeId, to: NodeId, at: SimTime, msg: Message<D>) {
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

    pub(super) fn take_down(&mut self, node: NodeId) {
        let n = &mut self.nodes[node as usize];
        n.role = None;
        n.status = NodeStatus::Down;
        n.incarnation += 1;
        n.mailbox.clear();
        n.timers.clear();
        n.waker = None;
        n.disk_free_at = SimTime::ZERO;
        self.checkers.on_down(self.now, node);
        if let Some(id) = n.madsim_id {
            madsim::runtime::Handle::current().kill(id);
        }
    }

    /// Power loss: the process dies and the disk loses what was not synced.
    pub(super) fn crash(&mut self, node: NodeId) {
        let now = self.now;
        self.take_down(node);
        self.stats.crashes += 1;
        let losses = self.nodes[node as usize].disk.crash(&mut self.disk_rng);
        let detail = stable_hash(&format!("{losses:?}"));
        self.trace.emit(now, node, EventKind::Process, detail, || format!("crash (power loss), unsynced: {losses:?}"));
    }

    /// The process is killed from outside (its machine's processes die together) while the
    /// operating system stays up: the page cache survives, nothing written is lost.
    pub(super) fn kill(&mut self, node: NodeId) {
        let now = self.now;
        self.take_down(node);
        self.trace.emit(now, node, EventKind::Process, 4, || "killed (machine crash): the page cache survives".into());
    }

    /// The role stopped itself: the process exits; the page cache survives (the machine is fine).
    pub(super) fn halt(&mut self, node: NodeId, reason: String) {
        let now = self.now;
        self.take_down(node);
        self.stats.halts += 1;
        self.trace.emit(now, node, EventKind::Process, stable_hash(&reason), || format!("halt: {reason}"));
        self.schedule_auto_restart(node);
    }

    pub(super) fn schedule_auto_restart(&mut self, node: NodeId) {
        let delay = self.fault_rng.random_range(1_000_000_000..3_000_000_000u64);
        let incarnation = self.nodes[node as usize].incarnation;
        self.schedule(self.now.plus_nanos(delay), Event::AutoRestart { node, incarnation });
    }

    pub(super) fn restart(&mut self, node: NodeId) {
        let n = &mut self.nodes[node as usize];
        assert_eq!(n.status, NodeStatus::Down);
        // The host task boots the role; until then the node counts as up but has no role.
        n.status = NodeStatus::Up;
        if let Some(id) = n.madsim_id {
            madsim::runtime::Handle::current().restart(id);
        }
        self.checkers.on_disruption_end(self.now, DisruptionKey::Down(node));
    }

    pub(super) fn resume(&mut self, node: NodeId) {
        let n = &mut self.nodes[node as usize];
        if n.status == NodeStatus::Paused {
            n.status = NodeStatus::Up;
            if let Some(id) = n.madsim_id {
                madsim::runtime::Handle::current().resume(id);
            }
            self.checkers.on_disruption_end(self.now, DisruptionKey::Paused(node));
        }
    }
}

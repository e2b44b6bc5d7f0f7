//! The event queue: every event of the run in `(time, sequence)` order, and the scheduler's side of
//! it (the next instant, handing out an instant's events, waiting for the hosts it woke).

use std::cmp::Reverse;
use std::task::Waker;

use super::calls::PlannedCall;
use super::{NodeStatus, World};
use crate::design::{Message, SimDesign};
use crate::env::time::SimTime;
use crate::nemesis::FaultAction;
use ccrsim_model::core::io::{DiskRequest, NodeId, TimerKey};

#[derive(Debug)]
pub(super) enum Event<D: SimDesign> {
    Deliver {
        from: NodeId,
        to: NodeId,
        to_incarnation: u32,
        sent_at: SimTime,
        msg: Message<D>,
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
        call: PlannedCall<D>,
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
pub(super) struct Queued<D: SimDesign> {
    pub(super) at: SimTime,
    pub(super) seq: u64,
    pub(super) event: Box<Event<D>>,
}

impl<D: SimDesign> PartialEq for Queued<D> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<D: SimDesign> Eq for Queued<D> {}
impl<D: SimDesign> PartialOrd for Queued<D> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<D: SimDesign> Ord for Queued<D> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl<D: SimDesign> World<D> {
    pub(super) fn schedule(&mut self, at: SimTime, event: Event<D>) {
        debug_assert!(at >= self.now, "an event in the past: {at} < {}", self.now);
        self.next_seq += 1;
        self.queue.push(Reverse(Queued { at, seq: self.next_seq, event: Box::new(event) }));
    }

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
}

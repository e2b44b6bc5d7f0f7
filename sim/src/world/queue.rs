//! The event queue: every event of the run in `(time, sequence)` order, and the scheduler's side of
//! it (the next instant, handing out an instant's events, waiting for the hosts it woke).

use std::cmp::Reverse;
use std::task::Waker;

use super::World;
use super::event::{Event, Queued};
use crate::design::SimDesign;
use crate::env::time::SimTime;
use crate::node::NodeStatus;

impl<D: SimDesign> World<D> {
    pub(super) fn schedule(&mut self, at: SimTime, event: Event<D>) {
        assert!(at >= self.now, "an event in the past: {at} < {}", self.now);
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
        assert!(at >= self.now, "time never goes back");
        self.now = at;
        while self.outcome.is_none() && self.next_event_at() == Some(at) {
            let Reverse(q) = self.queue.pop().expect("peeked");
            self.dispatch(*q.event);
        }
    }
}

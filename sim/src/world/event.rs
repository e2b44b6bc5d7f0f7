//! What the world's queue holds: the events of a run, and the management calls among them.

use ccrsim_model::core::io::{DiskRequest, NodeId, TimerKey};

use crate::design::{Call, Message, SimDesign};
use crate::env::time::SimTime;
use crate::nemesis::FaultAction;

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
    /// A test's injected divergence (`Injections::divergence_at`).
    InjectedDivergence,
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

/// Where a call comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallOrigin {
    /// The scenario's `calls[i]`.
    Scenario(usize),
    /// The harness's periodic status probe.
    Probe,
}

/// A call to make.
#[derive(Debug, Clone)]
pub(crate) struct PlannedCall<D: SimDesign> {
    pub(super) origin: CallOrigin,
    pub(super) target: String,
    pub(super) call: Call<D>,
    /// Whether the call was sent once: its arguments were fixed then (`SimDesign::prepare_call`),
    /// and an operator's retry repeats them. Recomputing them (the tasks FAILED now) could name
    /// other tasks than a first attempt that took effect unanswered.
    pub(super) sent: bool,
}

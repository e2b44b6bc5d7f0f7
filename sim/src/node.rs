//! One node of the world as the layers above see it: who it is, its role, its process state, its
//! disk and clock. The world (`world/node.rs`) boots, steps, crashes and restarts it.

use std::collections::{BTreeMap, VecDeque};
use std::task::Waker;

use ccrsim_model::core::io::{Input, NodeId, TimerKey};

use crate::deployment::{Call, Controller, Deployment, Message, Role, RoleSpec};
use crate::env::clock::NodeClock;
use crate::env::disk::SimDisk;
use crate::env::time::SimTime;
use crate::topology::NodeInfo;

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
pub fn running_leader<'a, D: Deployment>(nodes: &'a [Node<D>], controllers: &[NodeId]) -> Option<(NodeId, &'a Controller<D>)> {
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
pub struct Node<D: Deployment> {
    /// Who it is.
    pub info: NodeInfo,
    /// How to build its role.
    pub spec: RoleSpec<D>,
    /// The running role (`None` while down).
    pub role: Option<Role<D>>,
    /// Process state.
    pub status: NodeStatus,
    /// Bumped at every crash or halt: events of an earlier incarnation are dropped.
    pub(crate) incarnation: u32,
    /// Boots so far.
    pub boots: u32,
    /// Survives restarts.
    pub disk: SimDisk,
    /// Skew and drift.
    pub clock: NodeClock,
    /// Armed timers: key -> generation of the arming.
    pub(crate) timers: BTreeMap<TimerKey, u64>,
    /// When the disk finishes the last request queued so far.
    pub(crate) disk_free_at: SimTime,
    /// Inputs waiting for the host task (a paused node's wait until it resumes).
    pub(crate) mailbox: VecDeque<Input<Message<D>, Call<D>>>,
    /// The host task, parked until the mailbox has something.
    pub(crate) waker: Option<Waker>,
    /// madsim's id of this node.
    pub(crate) madsim_id: Option<madsim::task::NodeId>,
}

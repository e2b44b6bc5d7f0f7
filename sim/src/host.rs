//! The madsim side: one madsim node per simulated node, whose task hosts the node's role, and the
//! scheduler on madsim's main node, which moves the world's clock from event to event.
//!
//! madsim provides the executor, simulated time, seeded task scheduling, and kill / restart / pause
//! of nodes: killing a node drops its host task (and with it the running role), restarting it runs
//! the host task anew, which rebuilds the role from the node's disk and nothing else.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use ccrsim_model::core::io::NodeId;

use crate::design::SimDesign;
use crate::world::World;

/// The world, shared by the scheduler and the host tasks (all on madsim's one thread).
pub struct SharedWorld<D: SimDesign>(Arc<Mutex<World<D>>>);

impl<D: SimDesign> Clone for SharedWorld<D> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<D: SimDesign> SharedWorld<D> {
    /// Shares `world`.
    pub fn new(world: World<D>) -> Self {
        Self(Arc::new(Mutex::new(world)))
    }

    /// Locks the world (never contended: madsim runs one task at a time).
    pub fn lock(&self) -> MutexGuard<'_, World<D>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The task of one node: boot the role from disk, then hand it its inputs as they come.
async fn host<D: SimDesign>(world: SharedWorld<D>, node: NodeId) {
    let booted = {
        let mut w = world.lock();
        // A data node added later is down until it joins (its restart runs this task anew).
        let booted = w.nodes[node as usize].status == crate::node::NodeStatus::Up && w.boot(node);
        w.host_done();
        booted
    };
    if !booted {
        return;
    }
    loop {
        poll_fn(|cx| if world.lock().mailbox_ready(node, cx.waker()) { Poll::Ready(()) } else { Poll::Pending }).await;
        let mut w = world.lock();
        w.run_mailbox(node);
        w.host_done();
    }
}

/// Creates the madsim nodes, then runs the world until its outcome is decided.
///
/// The scheduler moves time from one event instant to the next: it advances madsim's clock to the
/// instant, hands that instant's events out, and waits until every host it woke has finished before
/// it looks at the next instant. Events are thus handled in exact time order, never batched.
pub async fn simulate<D: SimDesign>(world: SharedWorld<D>) {
    let handle = madsim::runtime::Handle::current();
    // madsim's clock moves only here, so the scheduler knows where it stands without asking it.
    let mut madsim_elapsed = Duration::ZERO;
    let count = world.lock().nodes.len();
    for node in 0..count as NodeId {
        let name = world.lock().nodes[node as usize].info.name.clone();
        let w = world.clone();
        let id = handle.create_node().name(name).init(move || host(w.clone(), node)).build().id();
        world.lock().nodes[node as usize].madsim_id = Some(id);
    }
    loop {
        poll_fn(|cx| if world.lock().hosts_busy(cx.waker()) { Poll::Pending } else { Poll::Ready(()) }).await;
        let mut w = world.lock();
        if w.outcome.is_some() {
            break;
        }
        let Some(at) = w.next_event_at() else { break };
        let target = Duration::from_nanos(at.as_nanos());
        if target > madsim_elapsed {
            madsim::time::advance(target - madsim_elapsed);
            madsim_elapsed = target;
        }
        w.dispatch_next_instant();
    }
    // Stop every node so that no task outlives the run.
    let w = world.lock();
    for n in &w.nodes {
        if let Some(id) = n.madsim_id {
            handle.kill(id);
        }
    }
}

//! Replication liveness after heal (DolphinDB: "node failures do not lose data; master and slave
//! eventually agree"): once every fault is healed, each slave that runs (ENABLED) pulls every task
//! the master enqueued and finishes each one, except tasks that can never run (their data is lost
//! or damaged: FAILED with the reason, for an operator to skip) and the tasks queued behind them.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::{ReplicationState, TaskDataError};

use crate::topology::ClusterId;
use crate::world::Node;

fn leader<'a>(nodes: &'a [Node], controllers: &[NodeId]) -> Option<&'a crate::design::Controller> {
    crate::world::running_leader(nodes, controllers).map(|(_, ctl)| ctl)
}

/// The checker's name.
pub const NAME: &str = "replication-liveness";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: slaves pull and finish every task; FAILED tasks stop their queue until skipped";

/// Why replication has not converged yet, if it has not.
pub fn pending<'c>(
    nodes: &[Node],
    controllers_of: impl Fn(ClusterId) -> &'c [NodeId],
    slaves: impl IntoIterator<Item = ClusterId>,
) -> Option<String> {
    let mut slaves = slaves.into_iter().peekable();
    slaves.peek()?;
    let last = leader(nodes, controllers_of(ClusterId::Master))?.raft().state_machine().pipeline.master()?.next_task() - 1;
    for slave in slaves {
        let name = slave.name();
        let Some(ctl) = leader(nodes, controllers_of(slave)) else { return Some(format!("{name} has no leader")) };
        let Some(s) = ctl.raft().state_machine().pipeline.slave() else { return Some(format!("{name} is not a slave")) };
        if s.state != ReplicationState::Enabled {
            continue; // stopped: what it has not done is in its status
        }
        if s.offset() < last {
            return Some(format!("{name} pulled up to task {} of {last}", s.offset()));
        }
        // Queues whose current group holds a task that can never run are stuck until skipped.
        let lost = |reason: &str| matches!(TaskDataError::named_in(reason), Some(TaskDataError::Missing | TaskDataError::Corrupt));
        let stuck: std::collections::BTreeSet<(u8, u32)> = s
            .tasks()
            .values()
            .filter(|t| t.state == SlaveTaskState::Failed && lost(&t.details))
            .map(|t| (t.task.exec_set, t.queue))
            .collect();
        if let Some(t) = s.tasks().values().find(|t| t.state != SlaveTaskState::Finished && !stuck.contains(&(t.task.exec_set, t.queue))) {
            return Some(format!("{name}: task {} is {} ({})", t.task.id, t.state.name(), t.details));
        }
    }
    None
}

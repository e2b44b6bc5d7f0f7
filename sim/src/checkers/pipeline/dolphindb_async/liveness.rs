//! Replication liveness after heal (DolphinDB: "node failures do not lose data; master and slave
//! eventually agree"): once every fault is healed, each slave that runs (ENABLED) pulls every task
//! the master enqueued and finishes each one, except tasks that can never run (their data is lost
//! or damaged: FAILED with the reason, for an operator to skip) and the tasks queued behind them.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::{ClusterRepl, DolphinAsync, ReplFact, ReplicationState, TaskDataError};

use ccrsim_model::replica::dolphindb_2pc::Dolphin2pc;

use crate::checkers::Checker;
use crate::checkers::pipeline::ledger::ReplLedger;
use crate::deployment::Deployment;
use crate::topology::ClusterId;
use crate::view::ClusterView;

/// The checker's name.
pub const NAME: &str = "replication-liveness";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: slaves pull and finish every task; FAILED tasks stop their queue until skipped";

/// What the liveness check reads: the deployment and every cluster's controllers.
pub struct LivenessScope<'a, D: Deployment> {
    /// The deployment.
    pub view: ClusterView<'a, D>,
    /// Each cluster's controllers.
    pub controllers: &'a BTreeMap<ClusterId, Vec<NodeId>>,
}

/// Reads each controller leader's replication state after heal (stateless).
#[derive(Debug, Default)]
pub struct ReplicationLiveness;

impl<'a, D: Deployment<R = Dolphin2pc, P = DolphinAsync>> Checker<ReplLedger, ReplFact, LivenessScope<'a, D>> for ReplicationLiveness {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn pending(&self, ledger: &ReplLedger, d: &LivenessScope<'a, D>) -> Option<String> {
        let leader_state = |c: ClusterId| -> Option<&ClusterRepl> {
            d.view.leader_among(&d.controllers[&c]).map(|(_, ctl)| &ctl.raft().state_machine().pipeline)
        };
        pending(leader_state, ledger.slaves.keys().copied())
    }
}

/// Why replication has not converged yet, if it has not; `leader_state` is a cluster's running
/// leader's replication state.
fn pending<'c>(leader_state: impl Fn(ClusterId) -> Option<&'c ClusterRepl>, slaves: impl IntoIterator<Item = ClusterId>) -> Option<String> {
    let mut slaves = slaves.into_iter().peekable();
    slaves.peek()?;
    let last = leader_state(ClusterId::Master)?.master()?.next_task() - 1;
    for slave in slaves {
        let name = slave.name();
        let Some(repl) = leader_state(slave) else { return Some(format!("{name} has no leader")) };
        let Some(s) = repl.slave() else { return Some(format!("{name} is not a slave")) };
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

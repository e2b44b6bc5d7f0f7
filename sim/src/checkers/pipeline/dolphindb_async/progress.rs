//! DolphinDB's progress as the pipeline-neutral `replication-liveness` reads it: the master
//! controller leader's last task, and each slave controller leader's offset and tasks (an entry's
//! lane is its execution queue; lost or damaged task data never runs until skipped); and what
//! garbage collection left on the master, as `gc-safety` reads it.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::{ClusterRepl, DolphinAsync, ReplicationState, Task, TaskId};
use ccrsim_model::replica::dolphindb_2pc::Dolphin2pc;
use ccrsim_model::replica::dolphindb_2pc::guest::NodeServices;

use super::rules::never_runs;
use crate::checkers::pipeline::event::EntryState;
use crate::checkers::pipeline::gc_safety::SourceGc;
use crate::checkers::pipeline::liveness::{EntryProgress, Progress, TargetProgress};
use crate::deployment::Deployment;
use crate::topology::ClusterId;
use crate::view::ClusterView;

/// The running deployment and every cluster's controllers.
pub struct AsyncProgress<'a, D: Deployment> {
    /// The deployment.
    pub view: ClusterView<'a, D>,
    /// Each cluster's controllers.
    pub controllers: &'a BTreeMap<ClusterId, Vec<NodeId>>,
}

impl<D: Deployment<R = Dolphin2pc, P = DolphinAsync>> AsyncProgress<'_, D> {
    /// The replication state of `cluster`'s running controller leader.
    fn leader_state(&self, cluster: ClusterId) -> Option<&ClusterRepl> {
        self.view.leader_among(&self.controllers[&cluster]).map(|(_, ctl)| &ctl.raft().state_machine().pipeline)
    }
}

impl<D: Deployment<R = Dolphin2pc, P = DolphinAsync>> Progress for AsyncProgress<'_, D> {
    fn source_last(&self) -> Option<u64> {
        Some(self.leader_state(ClusterId::Master)?.master()?.next_task() - 1)
    }

    fn target(&self, target: ClusterId) -> TargetProgress<'_> {
        let Some(repl) = self.leader_state(target) else { return TargetProgress::NoLeader };
        let Some(s) = repl.slave() else { return TargetProgress::NotATarget };
        if s.state != ReplicationState::Enabled {
            return TargetProgress::Stopped;
        }
        let entries = s
            .tasks()
            .values()
            .map(|t| EntryProgress {
                id: t.task.id,
                state: match t.state {
                    SlaveTaskState::Waiting => EntryState::Waiting,
                    SlaveTaskState::Executing => EntryState::Running,
                    SlaveTaskState::Failed => EntryState::Failed,
                    SlaveTaskState::Finished => EntryState::Finished,
                },
                lane: u64::from(t.task.exec_set) << 32 | u64::from(t.queue),
                group: t.task.group,
                never_runs: never_runs(&t.details),
                details: &t.details,
            })
            .collect();
        TargetProgress::Running { offset: s.offset(), entries }
    }
}

/// The master as garbage collection left it: its running controllers' truncation, and the task
/// data its running data nodes keep, named by task (the tasks as the facts enqueued them).
pub struct AsyncSource<'a, D: Deployment> {
    /// The deployment.
    pub view: ClusterView<'a, D>,
    /// The master's controllers.
    pub controllers: &'a [NodeId],
    /// The master's data nodes.
    pub data_nodes: &'a [NodeId],
    /// Every task, as first enqueued.
    pub tasks: &'a BTreeMap<TaskId, Task>,
}

impl<D: Deployment<R = Dolphin2pc, P = DolphinAsync>> SourceGc for AsyncSource<'_, D> {
    fn truncated_below(&self) -> Vec<(NodeId, u64)> {
        let master = |&c: &NodeId| Some((c, self.view.controller(c)?.raft().state_machine().pipeline.master()?.truncated_below()));
        self.controllers.iter().filter_map(master).collect()
    }

    fn data_kept(&self) -> Vec<(NodeId, Vec<u64>)> {
        let task_of: BTreeMap<u64, TaskId> = self.tasks.values().map(|t| (t.tid, t.id)).collect();
        self.data_nodes
            .iter()
            .filter_map(|&n| {
                let kept = self.view.data_node(n)?.guest().task_data_kept().filter_map(|tid| task_of.get(&tid).copied());
                Some((n, kept.collect()))
            })
            .collect()
    }
}

//! DolphinDB's progress as the pipeline-neutral `replication-liveness` reads it: the master
//! controller leader's last task, and each slave controller leader's offset and tasks (an entry's
//! lane is its execution queue; lost or damaged task data never runs until skipped).

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::{ClusterRepl, DolphinAsync, ReplicationState};
use ccrsim_model::replica::dolphindb_2pc::Dolphin2pc;

use super::rules::never_runs;
use crate::checkers::pipeline::event::EntryState;
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

//! What DolphinDB's replication checkers know beyond the pipeline-neutral ledger: each task as the
//! master enqueued it, each database's settings over time, each slave's open tasks per database and
//! unfinished tasks per execution queue, and each controller's own view (what its status functions
//! must show: `status-truthful`). [`event_of`] is the adapter that tells the neutral ledger and
//! checkers what a DolphinDB fact means in their words.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::digest::stable_hash;
use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::fact::ReplSnapshot;
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::{GroupId, ReplFact, ReplicationState, Task, TaskId};

use super::rules::queue_of;
use crate::checkers::pipeline::event::PipelineEvent;
use crate::checkers::pipeline::ledger::PipelineLedger;
use crate::topology::{ClusterId, Topology};

/// What a DolphinDB replication fact means to every pipeline's checkers, if anything: a task is
/// an entry, its database the unit, its master transaction the source transaction.
pub fn event_of(fact: &ReplFact) -> Option<PipelineEvent<'_>> {
    Some(match fact {
        ReplFact::Enqueued { task, op } => {
            PipelineEvent::Enqueued { id: task.id, tx: task.tid, unit: &task.db, hash: stable_hash(&**task), op }
        }
        ReplFact::Truncated { below } => PipelineEvent::Truncated { below: *below },
        ReplFact::StateChanged { state } => PipelineEvent::State { name: state.name() },
        ReplFact::Pulled { from, tasks, offset } => PipelineEvent::Fetched { from: *from, entries: tasks, offset: *offset },
        ReplFact::Resynced { state: ReplSnapshot::Slave { offset, .. } } => PipelineEvent::Resumed { offset: *offset },
        ReplFact::Dispatched { task, .. } => PipelineEvent::Started { id: *task },
        ReplFact::TaskFailed { task, reason, .. } => PipelineEvent::Failed { id: *task, reason },
        ReplFact::Restarted { tasks } => PipelineEvent::Retried { ids: tasks },
        ReplFact::TaskCommitted { task, tid } => PipelineEvent::Applied { id: *task, tx: *tid },
        ReplFact::TaskFinished { task, skipped } => PipelineEvent::Finished { id: *task, skipped: *skipped },
        ReplFact::DatabaseSet { .. }
        | ReplFact::Resynced { state: ReplSnapshot::Master { .. } }
        | ReplFact::DuplicateRolledBack { .. }
        | ReplFact::TaskDataWritten { .. }
        | ReplFact::TaskDataLoaded { .. }
        | ReplFact::TaskDataForgotten { .. }
        | ReplFact::TaskStarted { .. } => return None,
    })
}

/// What one controller has applied (its status functions answer from it).
#[derive(Debug, Clone, Default)]
pub struct NodeView {
    /// Master: every task below this was enqueued.
    pub next_task: TaskId,
    /// Master: truncated below.
    pub truncated_below: TaskId,
    /// Slave: each task's state.
    pub states: BTreeMap<TaskId, SlaveTaskState>,
    /// Slave: the replication state.
    pub state: Option<ReplicationState>,
    /// Slave: each task's last failure reason since this controller's last `Resynced` (what
    /// its status shows in `details` while the task is FAILED).
    pub reasons: BTreeMap<TaskId, String>,
    /// Slave: the tasks skipped by hand since this controller's last `Resynced`.
    pub skipped: BTreeSet<TaskId>,
}

impl NodeView {
    /// The view of a controller that applied nothing yet.
    pub fn fresh() -> Self {
        NodeView { next_task: 1, truncated_below: 1, ..NodeView::default() }
    }
}

/// A slave's execution order as the facts tell it.
#[derive(Debug, Clone, Default)]
pub struct SlaveOrderTruth {
    /// Pulled tasks neither committed nor finished, per database.
    pub open_by_db: BTreeMap<String, BTreeSet<TaskId>>,
    /// Unfinished tasks per execution queue `(set, queue)`, by group.
    pub unfinished_by_queue: BTreeMap<(u8, u32), BTreeSet<(GroupId, TaskId)>>,
}

/// DolphinDB's replication ledger of a run: the neutral one and DolphinDB's own knowledge.
#[derive(Debug, Clone)]
pub struct AsyncLedger {
    /// What every pipeline's checkers know.
    pub pipeline: PipelineLedger,
    /// Each task as first enqueued.
    pub tasks: BTreeMap<TaskId, Task>,
    /// Each database's settings over time: `(enabled, execution set)` values it has had.
    pub settings: BTreeMap<String, BTreeSet<(bool, u8)>>,
    /// Each slave's execution order.
    pub slaves: BTreeMap<ClusterId, SlaveOrderTruth>,
    /// Each controller's own view.
    pub views: BTreeMap<NodeId, NodeView>,
    /// Each slave's original data nodes (the only ones that may get tasks), in the order the
    /// cluster lists them (queues map onto them in that order).
    pub original_nodes: BTreeMap<ClusterId, Vec<NodeId>>,
    /// Each slave's execution queues per set (clusterReplicationQueue).
    pub queues: BTreeMap<ClusterId, u32>,
    /// Nodes whose disk the nemesis corrupted.
    pub corrupted: BTreeSet<NodeId>,
}

impl AsyncLedger {
    /// An empty ledger for `topology`; `databases` are replicated from the start, and `queues`
    /// gives each slave's queue count.
    pub fn new(topology: &Topology, databases: &BTreeMap<String, u8>, queues: impl Fn(ClusterId) -> u32) -> Self {
        let slaves = topology.slaves();
        AsyncLedger {
            pipeline: PipelineLedger::new(topology, ReplicationState::Enabled.name()),
            tasks: BTreeMap::new(),
            settings: databases.iter().map(|(db, set)| (db.clone(), BTreeSet::from([(true, *set)]))).collect(),
            slaves: slaves.iter().map(|&s| (s, SlaveOrderTruth::default())).collect(),
            views: BTreeMap::new(),
            original_nodes: slaves.iter().map(|&s| (s, topology.original_data_nodes(s))).collect(),
            queues: slaves.iter().map(|&s| (s, queues(s))).collect(),
            corrupted: BTreeSet::new(),
        }
    }

    /// The slave whose facts `node` reports, if it is a slave's node.
    pub fn slave_of(&self, node: NodeId) -> Option<ClusterId> {
        self.pipeline.target_of(node)
    }

    /// The execution queue `(set, queue)` of `task` on `slave`.
    pub fn queue_of(&self, slave: ClusterId, task: &Task) -> (u8, u32) {
        (task.exec_set, queue_of(&task.db, self.queues[&slave]))
    }

    /// Follows one fact of `node`; `event` is what it means to every pipeline ([`event_of`]).
    pub fn apply(&mut self, node: NodeId, fact: &ReplFact, event: Option<&PipelineEvent<'_>>) {
        self.apply_own(node, fact);
        if let Some(event) = event {
            self.pipeline.apply(node, event);
        }
    }

    /// DolphinDB's own part (before the neutral ledger follows the fact: a pulled task is new to
    /// the slave when the neutral ledger has not seen it fetched).
    fn apply_own(&mut self, node: NodeId, fact: &ReplFact) {
        let view = self.views.entry(node).or_insert_with(NodeView::fresh);
        match fact {
            ReplFact::Enqueued { task, .. } => {
                view.next_task = view.next_task.max(task.id + 1);
                self.tasks.entry(task.id).or_insert_with(|| (**task).clone());
            }
            ReplFact::Truncated { below } => view.truncated_below = view.truncated_below.max(*below),
            ReplFact::DatabaseSet { db, enabled, exec_set } => {
                self.settings.entry(db.clone()).or_default().insert((*enabled, *exec_set));
            }
            ReplFact::StateChanged { state } => view.state = Some(*state),
            ReplFact::Pulled { tasks, .. } => {
                for (id, _) in tasks {
                    view.states.entry(*id).or_insert(SlaveTaskState::Waiting);
                }
                let Some(c) = self.slave_of(node) else { return };
                let fetched = &self.pipeline.targets[&c].fetched;
                let fresh: Vec<TaskId> = tasks.iter().map(|(id, _)| *id).filter(|id| !fetched.contains_key(id)).collect();
                for id in fresh {
                    let Some(t) = self.tasks.get(&id) else { continue };
                    let queue = self.queue_of(c, t);
                    let order = self.slaves.get_mut(&c).expect("every slave has an order truth");
                    order.open_by_db.entry(t.db.clone()).or_default().insert(id);
                    order.unfinished_by_queue.entry(queue).or_default().insert((t.group, id));
                }
            }
            ReplFact::Dispatched { task, .. } => {
                view.states.insert(*task, SlaveTaskState::Executing);
            }
            ReplFact::TaskFailed { task, reason, .. } => {
                view.states.insert(*task, SlaveTaskState::Failed);
                view.reasons.insert(*task, reason.clone());
            }
            ReplFact::Restarted { tasks } => {
                for id in tasks {
                    view.states.insert(*id, SlaveTaskState::Waiting);
                }
            }
            ReplFact::TaskCommitted { task, .. } => self.close(node, *task),
            ReplFact::TaskFinished { task, skipped } => {
                view.states.insert(*task, SlaveTaskState::Finished);
                if *skipped {
                    view.skipped.insert(*task);
                }
                if let (Some(c), Some(t)) = (self.slave_of(node), self.tasks.get(task)) {
                    let queue = self.queue_of(c, t);
                    let entry = (t.group, *task);
                    if let Some(q) = self.slaves.get_mut(&c).and_then(|s| s.unfinished_by_queue.get_mut(&queue)) {
                        q.remove(&entry);
                    }
                }
                // Finished (applied or skipped) no longer holds later tasks back; whether a
                // finished task committed first is exactly-once's question.
                self.close(node, *task);
            }
            ReplFact::Resynced { state } => {
                *view = NodeView::fresh();
                match state {
                    ReplSnapshot::Master { next_task, truncated_below, state } => {
                        view.next_task = *next_task;
                        view.truncated_below = *truncated_below;
                        view.state = Some(*state);
                    }
                    ReplSnapshot::Slave { tasks, state, .. } => {
                        view.states = tasks.iter().copied().collect();
                        view.state = Some(*state);
                    }
                }
            }
            ReplFact::DuplicateRolledBack { .. }
            | ReplFact::TaskDataWritten { .. }
            | ReplFact::TaskDataLoaded { .. }
            | ReplFact::TaskDataForgotten { .. }
            | ReplFact::TaskStarted { .. } => {}
        }
    }

    /// A task committed or finished: it no longer holds back later conflicting tasks.
    fn close(&mut self, node: NodeId, task: TaskId) {
        let Some(db) = self.tasks.get(&task).map(|t| t.db.clone()) else { return };
        if let Some(open) = self.slave_of(node).and_then(|c| self.slaves.get_mut(&c)).and_then(|s| s.open_by_db.get_mut(&db)) {
            open.remove(&task);
        }
    }
}

//! What the replication checkers know: the master's send queue and each slave's task table as the
//! facts tell them, followed fact by fact.
//!
//! Two views are kept. The *truth* of a cluster takes the first report of each event (every
//! controller reports what it applies, a restarted one again): what happened. The *node views*
//! follow each controller's own reports: what that controller has applied, which is what its
//! status functions must show (`status-truthful`).

use std::collections::{BTreeMap, BTreeSet};

use crate::summary::{PipelineSummary, TargetSummary};

use ccrsim_model::core::digest::stable_hash;
use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::SharedOperation;
use ccrsim_model::pipeline::dolphindb_async::fact::ReplSnapshot;
use ccrsim_model::pipeline::dolphindb_async::slave::{SlaveTaskState, queue_of_database};
use ccrsim_model::pipeline::dolphindb_async::{GroupId, ReplFact, ReplicationState, Task, TaskId};
use ccrsim_model::replica::dolphindb_2pc::Tid;

use crate::topology::{ClusterId, NodeKind, Topology};

/// The master's queue as the facts tell it.
#[derive(Debug, Clone, Default)]
pub struct MasterTruth {
    /// Enqueued tasks with their operation.
    pub tasks: BTreeMap<TaskId, (Task, SharedOperation)>,
    /// The hash of each enqueued task (what a pulled copy must match), computed once.
    pub hashes: BTreeMap<TaskId, u64>,
    /// Every task below this was truncated.
    pub truncated_below: TaskId,
    /// Each database's settings over time: `(enabled, execution set)` values it has had.
    pub settings: BTreeMap<String, BTreeSet<(bool, u8)>>,
}

/// One task on a slave, as the facts tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTruth {
    /// Where it stands.
    pub state: SlaveTaskState,
    /// The transactions that committed it (exactly one, if any).
    pub commits: BTreeSet<Tid>,
    /// Finished by hand.
    pub skipped: bool,
    /// Its last failure's reason.
    pub reason: Option<String>,
}

/// A slave's task table as the facts tell it.
#[derive(Debug, Clone, Default)]
pub struct SlaveTruth {
    /// Tasks pulled, with the hash of each as pulled.
    pub pulled: BTreeMap<TaskId, u64>,
    /// Each pulled task's fate.
    pub tasks: BTreeMap<TaskId, TaskTruth>,
    /// Pulled tasks neither committed nor finished, per database.
    pub open_by_db: BTreeMap<String, BTreeSet<TaskId>>,
    /// Unfinished tasks per execution queue `(set, queue)`, by group.
    pub unfinished_by_queue: BTreeMap<(u8, u32), BTreeSet<(GroupId, TaskId)>>,
    /// The replication state.
    pub state: Option<ReplicationState>,
    /// Every task below this finished (0 before the first one; FINISHED is final in the truth,
    /// so the watermark only moves up).
    finished_below: TaskId,
}

impl SlaveTruth {
    /// Every task below this finished.
    pub fn finished_below(&self) -> TaskId {
        self.finished_below.max(1)
    }

    fn advance_finished_below(&mut self) {
        let mut below = self.finished_below();
        while self.tasks.get(&below).is_some_and(|t| t.state == SlaveTaskState::Finished) {
            below += 1;
        }
        self.finished_below = below;
    }
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
}

impl NodeView {
    /// The view of a controller that applied nothing yet.
    pub fn fresh() -> Self {
        NodeView { next_task: 1, truncated_below: 1, ..NodeView::default() }
    }
}

/// The replication ledger of a run.
#[derive(Debug, Clone, Default)]
pub struct ReplLedger {
    /// The master.
    pub master: MasterTruth,
    /// Each slave.
    pub slaves: BTreeMap<ClusterId, SlaveTruth>,
    /// Each controller's own view.
    pub views: BTreeMap<NodeId, NodeView>,
    /// The cluster of every cluster node.
    pub cluster_of: BTreeMap<NodeId, ClusterId>,
    /// Each slave's original data nodes (the only ones that may get tasks).
    pub original_nodes: BTreeMap<ClusterId, BTreeSet<NodeId>>,
    /// Each slave's execution queues per set (clusterReplicationQueue).
    pub queues: BTreeMap<ClusterId, u32>,
    /// Nodes whose disk the nemesis corrupted.
    pub corrupted: BTreeSet<NodeId>,
}

impl ReplLedger {
    /// What replication did so far.
    pub fn summary(&self) -> PipelineSummary {
        let slaves = self
            .slaves
            .iter()
            .map(|(c, s)| {
                let mut sum = TargetSummary {
                    pulled: s.pulled.len() as u64,
                    state: s.state.unwrap_or(ReplicationState::Enabled).name().to_string(),
                    ..Default::default()
                };
                for t in s.tasks.values() {
                    match t.state {
                        SlaveTaskState::Finished if t.skipped => sum.skipped += 1,
                        SlaveTaskState::Finished => sum.applied += 1,
                        SlaveTaskState::Failed => {
                            let reason = t.reason.as_deref().unwrap_or("unknown");
                            let class = reason.split(':').next().unwrap_or(reason).trim().to_string();
                            *sum.failed.entry(class).or_default() += 1;
                        }
                        SlaveTaskState::Waiting | SlaveTaskState::Executing => sum.unfinished += 1,
                    }
                }
                (c.name(), sum)
            })
            .collect();
        PipelineSummary { enqueued: self.master.tasks.len() as u64, truncated_below: self.master.truncated_below, slaves }
    }

    /// An empty ledger for `topology`; `databases` are replicated from the start, and `queues`
    /// gives each slave's queue count.
    pub fn new(topology: &Topology, databases: &BTreeMap<String, u8>, queues: impl Fn(ClusterId) -> u32) -> Self {
        let mut ledger = ReplLedger::default();
        for n in &topology.nodes {
            if let (NodeKind::Controller(c) | NodeKind::DataNode(c), false) = (n.kind, n.kind.is_client()) {
                ledger.cluster_of.insert(n.id, c);
            }
        }
        for s in topology.slaves() {
            ledger.slaves.insert(s, SlaveTruth::default());
            ledger.original_nodes.insert(s, topology.original_data_nodes(s).into_iter().collect());
            ledger.queues.insert(s, queues(s));
        }
        ledger.master.truncated_below = 1;
        for (db, set) in databases {
            ledger.master.settings.entry(db.clone()).or_default().insert((true, *set));
        }
        ledger
    }

    /// The slave whose facts `node` reports, if it is a slave's node.
    pub fn slave_of(&self, node: NodeId) -> Option<ClusterId> {
        self.cluster_of.get(&node).copied().filter(|c| *c != ClusterId::Master)
    }

    /// Follows one fact of `node`.
    pub fn apply(&mut self, node: NodeId, fact: &ReplFact) {
        let view = self.views.entry(node).or_insert_with(NodeView::fresh);
        match fact {
            ReplFact::Enqueued { task, op } => {
                view.next_task = view.next_task.max(task.id + 1);
                if let std::collections::btree_map::Entry::Vacant(e) = self.master.tasks.entry(task.id) {
                    e.insert(((**task).clone(), op.clone()));
                    self.master.hashes.insert(task.id, stable_hash(&**task));
                }
            }
            ReplFact::Truncated { below } => {
                view.truncated_below = view.truncated_below.max(*below);
                self.master.truncated_below = self.master.truncated_below.max(*below);
            }
            ReplFact::DatabaseSet { db, enabled, exec_set } => {
                self.master.settings.entry(db.clone()).or_default().insert((*enabled, *exec_set));
            }
            ReplFact::StateChanged { state } => {
                view.state = Some(*state);
                if let Some(s) = self.slave_of(node).and_then(|c| self.slaves.get_mut(&c)) {
                    s.state = Some(*state);
                }
            }
            ReplFact::Pulled { tasks, .. } => {
                for (id, _) in tasks {
                    view.states.entry(*id).or_insert(SlaveTaskState::Waiting);
                }
                let Some(c) = self.slave_of(node) else { return };
                let master = &self.master;
                let queues = self.queues[&c];
                let s = self.slaves.get_mut(&c).expect("every slave has a truth");
                for &(id, hash) in tasks {
                    if s.pulled.insert(id, hash).is_none() {
                        s.tasks.insert(
                            id,
                            TaskTruth { state: SlaveTaskState::Waiting, commits: BTreeSet::new(), skipped: false, reason: None },
                        );
                        if let Some((t, _)) = master.tasks.get(&id) {
                            s.open_by_db.entry(t.db.clone()).or_default().insert(id);
                            let queue = (t.exec_set, queue_of_database(&t.db, queues));
                            s.unfinished_by_queue.entry(queue).or_default().insert((t.group, id));
                        }
                    }
                }
            }
            ReplFact::Dispatched { task, .. } => {
                view.states.insert(*task, SlaveTaskState::Executing);
                self.on_slave_task(node, *task, |t| {
                    if t.state != SlaveTaskState::Finished {
                        t.state = SlaveTaskState::Executing;
                    }
                });
            }
            ReplFact::TaskFailed { task, reason, .. } => {
                view.states.insert(*task, SlaveTaskState::Failed);
                let reason = reason.clone();
                self.on_slave_task(node, *task, |t| {
                    if t.state != SlaveTaskState::Finished {
                        t.state = SlaveTaskState::Failed;
                        t.reason = Some(reason);
                    }
                });
            }
            ReplFact::Restarted { tasks } => {
                for id in tasks {
                    view.states.insert(*id, SlaveTaskState::Waiting);
                }
                for id in tasks {
                    self.on_slave_task(node, *id, |t| {
                        if t.state == SlaveTaskState::Failed {
                            t.state = SlaveTaskState::Waiting;
                        }
                    });
                }
            }
            ReplFact::TaskCommitted { task, tid } => {
                let tid = *tid;
                self.on_slave_task(node, *task, |t| {
                    t.commits.insert(tid);
                });
                self.close(node, *task);
            }
            ReplFact::TaskFinished { task, skipped } => {
                view.states.insert(*task, SlaveTaskState::Finished);
                let skipped = *skipped;
                self.on_slave_task(node, *task, |t| {
                    t.state = SlaveTaskState::Finished;
                    t.skipped |= skipped;
                });
                if let Some(s) = self.slave_of(node).and_then(|c| self.slaves.get_mut(&c)) {
                    s.advance_finished_below();
                }
                if let (Some(c), Some((t, _))) = (self.slave_of(node), self.master.tasks.get(task)) {
                    let queue = (t.exec_set, queue_of_database(&t.db, self.queues[&c]));
                    let entry = (t.group, *task);
                    if let Some(q) = self.slaves.get_mut(&c).and_then(|s| s.unfinished_by_queue.get_mut(&queue)) {
                        q.remove(&entry);
                    }
                }
                // Finished (applied or skipped) no longer holds later tasks back; whether a
                // finished task really was applied is the eventual-consistency checker's question.
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
            | ReplFact::TaskStarted { .. } => {}
        }
    }

    fn on_slave_task(&mut self, node: NodeId, task: TaskId, f: impl FnOnce(&mut TaskTruth)) {
        if let Some(t) = self.slave_of(node).and_then(|c| self.slaves.get_mut(&c)).and_then(|s| s.tasks.get_mut(&task)) {
            f(t);
        }
    }

    /// A task committed or finished: it no longer holds back later conflicting tasks.
    fn close(&mut self, node: NodeId, task: TaskId) {
        let Some(db) = self.master.tasks.get(&task).map(|(t, _)| t.db.clone()) else { return };
        if let Some(open) = self.slave_of(node).and_then(|c| self.slaves.get_mut(&c)).and_then(|s| s.open_by_db.get_mut(&db)) {
            open.remove(&task);
        }
    }

    /// The hash a pulled task must have: the master's task as enqueued.
    pub fn enqueued_hash(&self, task: TaskId) -> Option<u64> {
        self.master.hashes.get(&task).copied()
    }
}

//! The replication duties of a controller leader, and the volatile state they need (a new leader
//! starts them afresh from the replicated state):
//!
//! - master: answer slaves' pulls from the send queue, record their reports through Raft, truncate
//!   the queue below what every slave finished, and tell data nodes which task data may go;
//! - slave: pull from the master controller leader by offset (following leader changes), commit
//!   each batch through Raft, report the finished watermark to the master concurrently with
//!   pulling, and dispatch due tasks to their data nodes (dispatch goes through Raft first, so
//!   that every controller agrees on what is executing).
//!
//! Nothing here is replicated: proposals come back through Raft before they count.

use std::collections::BTreeMap;

use crate::core::io::{Carries, Millis, NodeId, Output, part};
use crate::replica::ReplicaView;
use crate::replica::dolphindb_2pc::Tid;

use super::fact::ReplFact;
use super::master::MasterCommand;
use super::message::{PullRefusal, ReplMessage};
use super::slave::SlaveCommand;
use super::task::{SlaveId, TaskId};
use super::{ClusterRepl, ReplCommand, ReplicationState};

/// Tasks of a queue whose data its node is told to fetch ahead each time the queue moves on: a
/// WAN round trip per task would otherwise bound a queue at a few groups per second.
const PREFETCH_AHEAD: usize = 32;

/// How a controller reaches across clusters, and its pace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplLinks {
    /// Slave: the master's controllers (clusterReplicationMasterCtl), any of which leads to the leader.
    pub master_controllers: Vec<NodeId>,
    /// Slave: pull this often while caught up.
    pub pull_interval_ms: Millis,
    /// Slave: tasks asked for per pull.
    pub pull_batch: u32,
    /// Slave: a pull or a batch proposal unanswered this long is given up (and the next master
    /// controller tried).
    pub pull_timeout_ms: Millis,
    /// Slave: report the finished watermark this often.
    pub report_interval_ms: Millis,
    /// Slave: a task executing this long is dispatched again (its data node may have died).
    pub redispatch_after_ms: Millis,
}

/// The leader's volatile replication state.
#[derive(Debug, Clone, Default)]
pub struct ReplLeader {
    /// The master controller pulls go to (slave).
    master_target: usize,
    /// The pull in flight: `(from, sent at)` (slave).
    pull: Option<(TaskId, Millis)>,
    /// A pulled batch proposed and not applied yet: `(from, proposed at)` (slave).
    proposed: Option<(TaskId, Millis)>,
    next_pull_ms: Millis,
    next_report_ms: Millis,
    /// Dispatch proposals not applied yet (slave).
    dispatching: BTreeMap<TaskId, Millis>,
    /// When each slave last pulled (master).
    last_pull_ms: BTreeMap<SlaveId, Millis>,
    /// The last report proposed per slave: `(finished_below, controller)` (master).
    reported: BTreeMap<SlaveId, (TaskId, NodeId)>,
    /// A truncation proposed and not applied yet: `(below, at)` (master).
    truncating: Option<(TaskId, Millis)>,
    /// Task data deletions ordered lately (master).
    forgetting: BTreeMap<(NodeId, Tid), Millis>,
}

impl ReplLeader {
    /// Forgets everything (leadership lost or won).
    pub fn reset(&mut self) {
        *self = ReplLeader { master_target: self.master_target, ..ReplLeader::default() };
    }

    /// When each slave last pulled, as this leader saw it.
    pub fn last_pulls(&self) -> &BTreeMap<SlaveId, Millis> {
        &self.last_pull_ms
    }

    /// Periodic duties of the leader; returns what to propose.
    pub fn tick<M: Carries<ReplMessage, part::Pipeline>, F>(
        &mut self,
        now: Millis,
        links: &ReplLinks,
        controllers: &[NodeId],
        repl: &ClusterRepl,
        out: &mut Output<M, F>,
    ) -> Vec<ReplCommand> {
        let mut proposals = Vec::new();
        match repl {
            ClusterRepl::None => {}
            ClusterRepl::Master(m) => {
                if self.truncating.is_some_and(|(_, at)| now >= at + 2000) {
                    self.truncating = None;
                }
                if let (Some(below), None) = (m.gc_target(), self.truncating) {
                    self.truncating = Some((below, now));
                    proposals.push(ReplCommand::Master(MasterCommand::Truncate { below }));
                }
            }
            ClusterRepl::Slave(s) => {
                let target = links.master_controllers[self.master_target % links.master_controllers.len()];
                if self.proposed.is_some_and(|(from, at)| from <= s.offset() || now >= at + links.pull_timeout_ms) {
                    self.proposed = None;
                }
                if let Some((_, sent)) = self.pull
                    && now >= sent + links.pull_timeout_ms
                {
                    // No answer: the master leader may have changed or be cut off; try the next.
                    crate::mark!("repl.pull_timed_out_next_master_controller");
                    self.pull = None;
                    self.master_target += 1;
                }
                let enabled = s.state == ReplicationState::Enabled;
                if enabled && self.pull.is_none() && self.proposed.is_none() && now >= self.next_pull_ms {
                    let from = s.offset() + 1;
                    out.send_pipeline(target, ReplMessage::Pull { slave: s.config.slave, from, max: links.pull_batch });
                    self.pull = Some((from, now));
                }
                if now >= self.next_report_ms {
                    self.next_report_ms = now + links.report_interval_ms;
                    let report = ReplMessage::Report {
                        slave: s.config.slave,
                        finished_below: s.finished_below(),
                        controllers: controllers.to_vec(),
                    };
                    out.send_pipeline(target, report);
                }
                self.dispatching.retain(|_, at| now < *at + links.pull_timeout_ms);
                let due: Vec<TaskId> =
                    s.due(now, links.redispatch_after_ms).into_iter().filter(|t| !self.dispatching.contains_key(t)).collect();
                if !due.is_empty() {
                    for &t in &due {
                        self.dispatching.insert(t, now);
                    }
                    proposals.push(ReplCommand::Slave(SlaveCommand::Dispatch { tasks: due, now_ms: now }));
                }
            }
        }
        proposals
    }

    /// A replication message; `leader` says whether this controller leads (else `hint` names the
    /// leader it knows). Returns what to propose.
    #[allow(clippy::too_many_arguments)]
    pub fn on_message<M: Carries<ReplMessage, part::Pipeline>, F>(
        &mut self,
        now: Millis,
        from: NodeId,
        msg: ReplMessage,
        links: &ReplLinks,
        repl: &ClusterRepl,
        leader: bool,
        hint: Option<NodeId>,
        out: &mut Output<M, F>,
    ) -> Vec<ReplCommand> {
        let mut proposals = Vec::new();
        match (repl, msg) {
            (ClusterRepl::Master(m), ReplMessage::Pull { slave, from: first, max }) => {
                let result = if !leader {
                    crate::mark!("repl.pull_refused_by_master_follower");
                    Err(PullRefusal::NotLeader(hint))
                } else {
                    self.last_pull_ms.insert(slave, now);
                    m.tasks_from(first, max as usize).map_err(PullRefusal::Truncated)
                };
                out.send_pipeline(from, ReplMessage::Tasks { from: first, max, result });
            }
            (ClusterRepl::Master(_), ReplMessage::Report { slave, finished_below, controllers })
                if leader && self.reported.get(&slave) != Some(&(finished_below, from)) =>
            {
                self.reported.insert(slave, (finished_below, from));
                proposals.push(ReplCommand::Master(MasterCommand::SlaveReport {
                    slave,
                    finished_below,
                    controller: from,
                    controllers,
                    now_ms: now,
                }));
            }
            (ClusterRepl::Slave(s), ReplMessage::Tasks { from: first, max, result }) if leader => {
                if self.pull.is_none_or(|(f, _)| f != first) {
                    return proposals; // an answer to a pull given up on
                }
                self.pull = None;
                match result {
                    Ok(tasks) => {
                        let full = tasks.len() as u32 >= max;
                        self.next_pull_ms = if full { now } else { now + links.pull_interval_ms };
                        if first == s.offset() + 1 && !tasks.is_empty() {
                            self.proposed = Some((first, now));
                            proposals.push(ReplCommand::Slave(SlaveCommand::Pulled { from: first, requested: max, tasks, now_ms: now }));
                        }
                    }
                    Err(PullRefusal::NotLeader(hint)) => {
                        let i = hint.and_then(|h| links.master_controllers.iter().position(|c| *c == h));
                        self.master_target = i.unwrap_or(self.master_target + 1);
                    }
                    Err(PullRefusal::Truncated(_)) => {
                        // The master collected tasks this slave never finished: nothing can bring
                        // them back (the GC-safety checker reports how it happened).
                        self.next_pull_ms = now + links.pull_interval_ms;
                    }
                }
            }
            _ => {}
        }
        proposals
    }

    /// Facts of applied commands: the leader sends dispatched tasks to their data nodes.
    pub fn on_applied<M: Carries<ReplMessage, part::Pipeline>, F>(
        &mut self,
        facts: &[ReplFact],
        repl: &ClusterRepl,
        leader: bool,
        out: &mut Output<M, F>,
    ) {
        let mut dispatched_queues: BTreeMap<super::slave::QueueKey, NodeId> = BTreeMap::new();
        for f in facts {
            match f {
                ReplFact::Dispatched { task, node, queue, .. } => {
                    self.dispatching.remove(task);
                    if leader && let Some(t) = repl.slave().and_then(|s| s.task(*task)) {
                        out.send_pipeline(*node, ReplMessage::Execute { task: Box::new(t.task.clone()) });
                        dispatched_queues.insert(*queue, *node);
                    }
                }
                ReplFact::Pulled { tasks, .. } => {
                    self.proposed = None;
                    // Tell each data node which tasks will run there, so that it fetches their
                    // data while earlier groups execute.
                    if let (true, Some(s)) = (leader, repl.slave()) {
                        let mut by_node: BTreeMap<NodeId, Vec<super::Task>> = BTreeMap::new();
                        for (id, _) in tasks {
                            if let Some(t) = s.task(*id).filter(|t| t.task.payload == super::TaskPayload::AtSource) {
                                by_node.entry(t.node).or_default().push(t.task.clone());
                            }
                        }
                        for (node, tasks) in by_node {
                            out.send_pipeline(node, ReplMessage::Prefetch { tasks });
                        }
                    }
                }
                ReplFact::Truncated { .. } => self.truncating = None,
                _ => {}
            }
        }
        // Keep the data of the next tasks of each queue that moved on its node ahead of them
        // (again after a crash emptied the node's cache; the node skips what it holds).
        if let Some(s) = repl.slave() {
            for (queue, node) in dispatched_queues {
                let tasks: Vec<super::Task> =
                    s.upcoming(queue, PREFETCH_AHEAD).filter(|t| t.payload == super::TaskPayload::AtSource).cloned().collect();
                if !tasks.is_empty() {
                    out.send_pipeline(node, ReplMessage::Prefetch { tasks });
                }
            }
        }
    }

    /// A master data node listed the task data it holds: order the deletion of what no task needs
    /// (truncated, or of a transaction that ended without a task). Only transactions this leader
    /// has seen end count: a new leader may not have applied everything its log holds yet.
    pub fn on_task_data_listed<M: Carries<ReplMessage, part::Pipeline>, F>(
        &mut self,
        now: Millis,
        node: NodeId,
        tids: &[Tid],
        repl: &ClusterRepl,
        replica: &dyn ReplicaView,
        out: &mut Output<M, F>,
    ) {
        let Some(m) = repl.master().filter(|m| !m.config.bugs.keep_task_data) else { return };
        self.forgetting.retain(|_, at| now < *at + 5000);
        let candidates: Vec<Tid> =
            tids.iter().copied().filter(|t| replica.transaction_ended(*t) && !self.forgetting.contains_key(&(node, *t))).collect();
        let forget = m.truncated_tids_of(node, &candidates);
        if !forget.is_empty() {
            crate::mark!("repl.task_data_deletion_ordered");
            for &t in &forget {
                self.forgetting.insert((node, t), now);
            }
            out.send_pipeline(node, ReplMessage::ForgetTaskData { tids: forget });
        }
    }
}

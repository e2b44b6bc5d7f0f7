//! The slave's replicated replication state: the pull offset, the task table with each task's
//! state, the execution queues, and the EditLog of task ids committed here. It changes only through
//! Raft-committed commands (and the commit and COMPLETE of task transactions), so every slave
//! controller agrees on it and a new leader carries on where the old one stopped.
//!
//! Scheduling (DolphinDB): tasks split into the two execution sets, and within a set into execution
//! queues by database (`clusterReplicationQueue` queues, a database hashed to one). A queue runs
//! the tasks of its lowest unfinished group, possibly all at once, and starts the next group only
//! when every task of the current one FINISHED. A queue maps to the data node
//! `queue mod original data-node count`, so data nodes added later never get tasks.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::core::digest::stable_hash;
use crate::core::io::{Millis, NodeId};

use super::ReplicationState;
use super::admin::{AdminError, QueueRow, SlaveTaskRow};
use super::fact::ReplFact;
use super::message::TaskDataError;
use super::task::{GroupId, SlaveId, Task, TaskId};
pub use super::task::{QueueKey, SlaveTaskState};

/// Finished tasks whose rows the slave keeps for `getSlaveReplicationStatus` (the newest ones).
pub const FINISHED_ROWS_KEPT: usize = 1000;

/// Bugs of the slave's replication that can be switched on to prove the checkers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaveReplBugs {
    /// A queue dispatches the tasks of every group at once, not group after group.
    pub skip_group_barrier: bool,
    /// Task transactions are not checked against the EditLog: a re-dispatched task commits again.
    pub skip_editlog_check: bool,
    /// The offset advances by the batch size asked for, not by the tasks received.
    pub offset_skips_ahead: bool,
    /// Queues map to data nodes by the current data-node count (added nodes get tasks).
    pub hash_over_current_nodes: bool,
    /// The status function shows EXECUTING tasks as FINISHED.
    pub status_executing_as_finished: bool,
    /// A failed task is marked FINISHED without running (silent divergence).
    pub finish_failed_tasks: bool,
    /// `skipClusterReplicationTask` is accepted while replication runs.
    pub skip_while_running: bool,
    /// A task dispatched to a data node is never dispatched again (a crashed node's task hangs).
    pub never_redispatch: bool,
    /// Replication goes STOPPED only after a task failed more than `max_failures` times in a row
    /// (`>` for `>=`): one failure late.
    pub stop_one_failure_late: bool,
    /// A batch starting at or below the offset (a stale or repeated one) is taken, its tasks
    /// inserted again, instead of ignored.
    pub accept_stale_batch: bool,
    /// `startClusterReplication` sets FAILED tasks WAITING but keeps their failure counts.
    pub start_keeps_failure_counts: bool,
    /// `skipClusterReplicationTask` skips every unfinished task (not executing) of the named tasks'
    /// queues, not only the named ones.
    pub skip_whole_queue: bool,
    /// A failed task holds back its own group: while a task of the group that failed is unfinished,
    /// its group-mates that never failed are neither dispatched nor re-dispatched (the failed ones are
    /// retried), so a task that can never run strands the tasks beside it, not only later groups.
    pub failed_task_blocks_its_group: bool,
    /// A task skipped by hand is dispatched once more when replication runs again (its skip marks
    /// it FINISHED, but the leader still counts it due until it was dispatched after the skip).
    pub dispatch_skipped_tasks: bool,
    /// A task runs on the original data node its database hashes to, not on its queue's node
    /// (`original[hash(db) mod count]` for `original[queue mod count]`: the same only when the
    /// count divides the queue count).
    pub node_by_db_hash: bool,
    /// A slave that is not ENABLED (stopped by hand or after failures) goes on dispatching.
    pub dispatch_while_stopped: bool,
    /// `startClusterReplication` leaves the FAILED task of the highest id FAILED (it stays
    /// stranded until its retry, and STOPPED again if the threshold is reached).
    pub start_leaves_a_failed_task: bool,
    /// When a task fails, the next unfinished task of its database (not executing) is marked
    /// FINISHED without running: a silent divergence beside a FAILED task.
    pub finish_next_after_failed: bool,
    /// `getSlaveReplicationStatus` leaves out the tasks skipped by hand: an operator no longer
    /// sees what was dropped.
    pub status_drops_skipped_rows: bool,
    /// A failure does not update the task's `details`: the status shows what they said before
    /// (nothing, after a first failure) instead of the last failure's reason.
    pub status_details_stale: bool,
    /// A task whose failures reach `max_failures` is marked FINISHED skipped by the slave itself
    /// (besides going STOPPED), as if an operator had skipped it: its write silently never reaches
    /// the slave, and the status shows an operator's skip no one made.
    pub skip_at_max_failures: bool,
}

impl SlaveReplBugs {
    /// True when any bug is on (the state's own invariant assertions then stand back: the checkers
    /// must catch the consequences).
    pub fn any(&self) -> bool {
        // Every flag, the ones added later included: a flag left out would keep the role's own
        // assertions strict while its bug is on.
        *self != Self::default()
    }
}

/// Settings of a slave's replication, fixed for its life.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlaveConfig {
    /// This slave.
    pub slave: SlaveId,
    /// clusterReplicationQueue: execution queues per execution set.
    pub queues: u32,
    /// The data nodes the cluster started with, in order: queues map onto these.
    pub original_nodes: Vec<NodeId>,
    /// Every data node the cluster will have (the original ones first).
    pub all_nodes: Vec<NodeId>,
    /// Failures of one task after which replication goes STOPPED.
    pub max_failures: u32,
    /// slaveReplicationDBScope: databases replicated into this cluster from the start (any
    /// database a pulled task names is replicated too); ordinary writes to them are rejected.
    pub db_scope: BTreeSet<String>,
    /// Planted bugs.
    pub bugs: SlaveReplBugs,
}

/// A task in the slave's table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlaveTask {
    /// The task as pulled.
    pub task: Task,
    /// Where it stands.
    pub state: SlaveTaskState,
    /// Its queue id.
    pub queue: u32,
    /// The data node that runs it.
    pub node: NodeId,
    /// Failed executions so far (reset by `startClusterReplication`).
    pub failures: u32,
    /// Why it last failed.
    pub details: String,
    /// When it was pulled (slave leader clock).
    pub create_ms: Millis,
    /// When it was last dispatched.
    pub dispatched_ms: Millis,
    /// When it may be retried after a failure.
    pub retry_at_ms: Millis,
    /// When it finished.
    pub finish_ms: Option<Millis>,
    /// Finished by `skipClusterReplicationTask`, not by running.
    pub skipped: bool,
}

/// Commands that change the slave's replication state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SlaveCommand {
    /// A batch pulled from the master, asked for from `from` with room for `requested` tasks.
    Pulled { from: TaskId, requested: u32, tasks: Vec<Task>, now_ms: Millis },
    /// The leader sends these tasks to their data nodes (again, for ones executing too long).
    Dispatch { tasks: Vec<TaskId>, now_ms: Millis },
    /// An execution of `task` failed.
    Failed { task: TaskId, reason: String, now_ms: Millis },
    /// `skipClusterReplicationTask(tasks)`.
    Skip { tasks: Vec<TaskId>, now_ms: Millis },
    /// `startClusterReplication()`: ENABLED again, failed tasks run again from scratch.
    Start,
    /// `stopClusterReplication()`: stop pulling and dispatching; executing tasks finish.
    Stop,
}

/// The slave's replication state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlaveRepl {
    /// Settings.
    pub config: SlaveConfig,
    /// ENABLED, DISABLED or STOPPED.
    pub state: ReplicationState,
    /// The last task id pulled.
    ///
    /// Invariant: only grows, by the tasks of a batch that continues it (no task id is skipped).
    offset: TaskId,
    /// The task table.
    ///
    /// Invariant: its ids are contiguous from the first one held to `offset` (old finished rows go
    /// from the front only), and each row is keyed by its task's id.
    tasks: BTreeMap<TaskId, SlaveTask>,
    /// Task ids committed here.
    ///
    /// Invariant: entries are never removed; each is a pulled task (`<= offset`), committed once.
    edit_log: BTreeSet<TaskId>,
    /// Every task below this finished.
    ///
    /// Invariant: only grows; `finished_below <= offset + 1`; the task at `finished_below`, if
    /// pulled, is not FINISHED (the watermark stops at the first unfinished task).
    finished_below: TaskId,
    /// Unfinished tasks per queue, by group.
    unfinished: BTreeMap<QueueKey, BTreeSet<(GroupId, TaskId)>>,
    /// Unfinished tasks per database, by group, with their execution set.
    unfinished_by_db: BTreeMap<String, BTreeSet<(GroupId, TaskId, u8)>>,
    /// Databases any pulled task names: replicated here, closed to ordinary writes.
    databases: BTreeSet<String>,
}

/// The execution queue of a database among `queues` (per execution set).
pub fn queue_of_database(db: &str, queues: u32) -> u32 {
    (stable_hash(db) % u64::from(queues)) as u32
}

/// Backoff before retrying a task that failed `failures` times: 1, 2, 4, 8, then 10 s.
pub fn retry_backoff_ms(failures: u32) -> Millis {
    1000u64.saturating_mul(1 << failures.saturating_sub(1).min(4)).min(10_000)
}

impl SlaveRepl {
    /// The state of a fresh slave.
    pub fn new(config: SlaveConfig) -> Self {
        assert!(config.queues >= 1 && !config.original_nodes.is_empty(), "a slave needs queues and data nodes");
        Self {
            config,
            state: ReplicationState::Enabled,
            offset: 0,
            tasks: BTreeMap::new(),
            edit_log: BTreeSet::new(),
            finished_below: 1,
            unfinished: BTreeMap::new(),
            unfinished_by_db: BTreeMap::new(),
            databases: BTreeSet::new(),
        }
    }

    /// The last task id pulled.
    pub fn offset(&self) -> TaskId {
        self.offset
    }

    /// Every task below this finished (what the slave reports to the master for GC).
    pub fn finished_below(&self) -> TaskId {
        self.finished_below
    }

    /// The task of that id.
    pub fn task(&self, id: TaskId) -> Option<&SlaveTask> {
        self.tasks.get(&id)
    }

    /// Every task still held.
    pub fn tasks(&self) -> &BTreeMap<TaskId, SlaveTask> {
        &self.tasks
    }

    /// Whether `task` was committed here.
    pub fn in_edit_log(&self, task: TaskId) -> bool {
        self.edit_log.contains(&task)
    }

    /// Whether `db` is replicated into this cluster (ordinary writes to it are rejected).
    pub fn replicates(&self, db: &str) -> bool {
        self.databases.contains(db) || self.config.db_scope.contains(db)
    }

    /// The queue id of a database.
    pub fn queue_of(&self, db: &str) -> u32 {
        queue_of_database(db, self.config.queues)
    }

    /// The data node of a queue: over the original nodes (all of them, under the planted bug).
    pub fn node_of(&self, queue: u32) -> NodeId {
        let nodes = if self.config.bugs.hash_over_current_nodes { &self.config.all_nodes } else { &self.config.original_nodes };
        nodes[queue as usize % nodes.len()]
    }

    /// The next `n` tasks of a queue that wait to be dispatched, in execution order.
    pub fn upcoming(&self, queue: QueueKey, n: usize) -> impl Iterator<Item = &Task> + '_ {
        self.unfinished
            .get(&queue)
            .into_iter()
            .flatten()
            .map(|(_, id)| &self.tasks[id])
            .filter(|t| t.state == SlaveTaskState::Waiting)
            .take(n)
            .map(|t| &t.task)
    }

    /// Applies a command.
    pub fn apply(&mut self, cmd: &SlaveCommand) -> (Result<(), AdminError>, Vec<ReplFact>) {
        let (offset_before, finished_before, committed_before) = (self.offset, self.finished_below, self.edit_log.len());
        let mut facts = Vec::new();
        let result = match cmd {
            // A batch or a dispatch the leader proposed while replication ran may be applied after
            // a stop or the failure that stopped it: a slave not ENABLED takes and sends nothing
            // (the batch is pulled again, the tasks are due again, once it is started).
            SlaveCommand::Pulled { .. } if self.state != ReplicationState::Enabled => Ok(()),
            SlaveCommand::Dispatch { .. } if self.state != ReplicationState::Enabled && !self.config.bugs.dispatch_while_stopped => Ok(()),
            SlaveCommand::Pulled { from, requested, tasks, now_ms } => {
                self.pulled(*from, *requested, tasks, *now_ms, &mut facts);
                Ok(())
            }
            SlaveCommand::Dispatch { tasks, now_ms } => {
                for id in tasks {
                    let Some(t) = self.tasks.get_mut(id) else { continue };
                    if t.state == SlaveTaskState::Finished {
                        if self.config.bugs.dispatch_skipped_tasks && t.skipped {
                            // FINISHED stays FINISHED (the indexes hold unfinished tasks only).
                            t.dispatched_ms = *now_ms;
                            let queue = (t.task.exec_set, t.queue);
                            facts.push(ReplFact::Dispatched { task: *id, node: t.node, queue, group: t.task.group });
                        }
                        continue;
                    }
                    // A queue runs only the tasks of its lowest unfinished group (the barrier): the
                    // leader chose them from an earlier state, and a queue's lowest group only rises.
                    let lowest = self.unfinished.get(&(t.task.exec_set, t.queue)).and_then(|q| q.first()).map(|&(g, _)| g);
                    assert!(
                        self.config.bugs.any() || lowest == Some(t.task.group),
                        "task {id} of group {} dispatched while group {lowest:?} of its queue is unfinished",
                        t.task.group
                    );
                    if t.state == SlaveTaskState::Executing {
                        crate::mark!("repl.executing_task_redispatched");
                    }
                    t.state = SlaveTaskState::Executing;
                    t.dispatched_ms = *now_ms;
                    facts.push(ReplFact::Dispatched { task: *id, node: t.node, queue: (t.task.exec_set, t.queue), group: t.task.group });
                }
                Ok(())
            }
            SlaveCommand::Failed { task, reason, now_ms } => {
                self.failed(*task, reason, *now_ms, &mut facts);
                Ok(())
            }
            SlaveCommand::Skip { tasks, now_ms } => self.skip(tasks, *now_ms, &mut facts),
            SlaveCommand::Start => {
                if self.state != ReplicationState::Enabled {
                    crate::mark!("repl.slave_started_by_admin");
                }
                let mut restarted = Vec::new();
                let left = if self.config.bugs.start_leaves_a_failed_task {
                    self.tasks.values().rev().find(|t| t.state == SlaveTaskState::Failed).map(|t| t.task.id)
                } else {
                    None
                };
                for t in self.tasks.values_mut().filter(|t| t.state == SlaveTaskState::Failed && Some(t.task.id) != left) {
                    t.state = SlaveTaskState::Waiting;
                    if !self.config.bugs.start_keeps_failure_counts {
                        t.failures = 0;
                    }
                    t.retry_at_ms = 0;
                    restarted.push(t.task.id);
                }
                if !restarted.is_empty() {
                    facts.push(ReplFact::Restarted { tasks: restarted });
                }
                assert!(
                    self.config.bugs.any() || self.tasks.values().all(|t| t.state != SlaveTaskState::Failed),
                    "a failed task not restarted"
                );
                self.set_state(ReplicationState::Enabled, &mut facts);
                Ok(())
            }
            SlaveCommand::Stop => {
                crate::mark!("repl.slave_stopped_by_admin");
                self.set_state(ReplicationState::Disabled, &mut facts);
                Ok(())
            }
        };
        assert!(self.offset >= offset_before, "offset went back from {offset_before} to {}", self.offset);
        assert!(self.finished_below >= finished_before, "watermark went back from {finished_before} to {}", self.finished_below);
        assert!(self.edit_log.len() >= committed_before, "an EditLog entry went");
        self.check_invariants();
        (result, facts)
    }

    fn set_state(&mut self, state: ReplicationState, facts: &mut Vec<ReplFact>) {
        if self.state != state {
            self.state = state;
            facts.push(ReplFact::StateChanged { state });
        }
        assert_eq!(self.state, state);
    }

    fn pulled(&mut self, from: TaskId, requested: u32, tasks: &[Task], now_ms: Millis, facts: &mut Vec<ReplFact>) {
        if from != self.offset + 1 && !(self.config.bugs.accept_stale_batch && from <= self.offset) {
            crate::mark!("repl.pulled_batch_not_continuing_offset");
            return; // a stale or repeated batch
        }
        let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
        if tasks.iter().enumerate().any(|(i, t)| t.id != from + i as u64) {
            // A master never sends a batch with holes; taking one would skip tasks for good.
            return;
        }
        // The master groups its queue in id order and group ids never decrease along it.
        let last_group = self.tasks.get(&self.offset).map_or(0, |t| t.task.group);
        assert!(
            self.config.bugs.any() || tasks.iter().try_fold(last_group, |g, t| (t.group >= g).then_some(t.group)).is_some(),
            "a batch from {from} with group ids going back (last held group {last_group})"
        );
        for t in tasks {
            let queue = self.queue_of(&t.db);
            let node = if self.config.bugs.node_by_db_hash {
                let original = &self.config.original_nodes;
                original[(stable_hash(&t.db) % original.len() as u64) as usize]
            } else {
                self.node_of(queue)
            };
            self.databases.insert(t.db.clone());
            self.unfinished.entry((t.exec_set, queue)).or_default().insert((t.group, t.id));
            self.unfinished_by_db.entry(t.db.clone()).or_default().insert((t.group, t.id, t.exec_set));
            assert!(self.config.bugs.any() || !self.tasks.contains_key(&t.id), "task {} pulled twice", t.id);
            self.tasks.insert(
                t.id,
                SlaveTask {
                    task: t.clone(),
                    state: SlaveTaskState::Waiting,
                    queue,
                    node,
                    failures: 0,
                    details: String::new(),
                    create_ms: now_ms,
                    dispatched_ms: 0,
                    retry_at_ms: 0,
                    finish_ms: None,
                    skipped: false,
                },
            );
        }
        let last = ids.last().copied().unwrap_or(self.offset);
        self.offset = if self.config.bugs.offset_skips_ahead && !ids.is_empty() {
            from + u64::from(requested) - 1
        } else if self.config.bugs.accept_stale_batch {
            // The stale batch's tasks are in again; the offset never goes back.
            last.max(self.offset)
        } else {
            last
        };
        assert!(self.config.bugs.any() || self.offset == from - 1 + ids.len() as u64, "offset {} after a batch of {ids:?}", self.offset);
        if !ids.is_empty() {
            facts.push(ReplFact::Pulled { from, tasks: tasks.iter().map(|t| (t.id, stable_hash(t))).collect(), offset: self.offset });
        }
    }

    fn failed(&mut self, id: TaskId, reason: &str, now_ms: Millis, facts: &mut Vec<ReplFact>) {
        let bug = self.config.bugs.finish_failed_tasks;
        let Some(t) = self.tasks.get_mut(&id) else { return };
        if t.state == SlaveTaskState::Finished || self.edit_log.contains(&id) {
            crate::mark!("repl.failure_of_task_committed_by_another_execution");
            return; // another execution committed it
        }
        if bug {
            self.finish(id, now_ms, false, facts);
            return;
        }
        // Only an execution that did not commit fails: a committed task is FINISHED or about to be.
        assert!(t.state != SlaveTaskState::Finished && !self.edit_log.contains(&id));
        if TaskDataError::named_in(reason) == Some(TaskDataError::Missing) {
            crate::mark!("repl.task_failed_missing_task_data");
        } else {
            crate::mark!("repl.task_failed_other_reason");
        }
        t.failures += 1;
        t.state = SlaveTaskState::Failed;
        if !self.config.bugs.status_details_stale {
            t.details = reason.to_string();
        }
        t.retry_at_ms = now_ms + retry_backoff_ms(t.failures);
        let failures = t.failures;
        facts.push(ReplFact::TaskFailed { task: id, reason: reason.to_string(), failures });
        let reached =
            if self.config.bugs.stop_one_failure_late { failures > self.config.max_failures } else { failures >= self.config.max_failures };
        if reached {
            crate::mark!("repl.slave_stopped_at_max_failures");
            self.set_state(ReplicationState::Stopped, facts);
            if self.config.bugs.skip_at_max_failures {
                self.finish(id, now_ms, true, facts);
            }
        }
        if self.config.bugs.finish_next_after_failed {
            self.finish_next_of_database(id, now_ms, facts);
        }
    }

    /// The planted bug `finish_next_after_failed`: the next task of failed task `id`'s database,
    /// neither finished nor executing, is marked FINISHED as if it ran.
    fn finish_next_of_database(&mut self, id: TaskId, now_ms: Millis, facts: &mut Vec<ReplFact>) {
        let db = &self.tasks[&id].task.db;
        let next = self
            .tasks
            .range(id + 1..)
            .find(|(_, t)| t.task.db == *db && t.state != SlaveTaskState::Finished && t.state != SlaveTaskState::Executing)
            .map(|(&next, _)| next);
        if let Some(next) = next {
            self.finish(next, now_ms, false, facts);
        }
    }

    fn skip(&mut self, named: &[TaskId], now_ms: Millis, facts: &mut Vec<ReplFact>) -> Result<(), AdminError> {
        let mut ids = named.to_vec();
        if self.config.bugs.skip_whole_queue {
            let queues: BTreeSet<(u8, u32)> =
                named.iter().filter_map(|id| self.tasks.get(id)).map(|t| (t.task.exec_set, t.queue)).collect();
            let waiting = |t: &&SlaveTask| t.state != SlaveTaskState::Executing && queues.contains(&(t.task.exec_set, t.queue));
            ids.extend(self.tasks.values().filter(waiting).map(|t| t.task.id).filter(|id| !named.contains(id)));
        }
        if self.state == ReplicationState::Enabled && !self.config.bugs.skip_while_running {
            return Err(AdminError::not_stopped());
        }
        for id in &ids {
            match self.tasks.get(id) {
                None if *id <= self.offset && *id < self.finished_below => {}
                None => return Err(AdminError::invalid(format!("task {id} has not been pulled"))),
                Some(t) if t.state == SlaveTaskState::Executing => {
                    return Err(AdminError::invalid(format!("task {id} is executing")));
                }
                Some(_) => {}
            }
        }
        for id in &ids {
            if self.tasks.get(id).is_some_and(|t| t.state != SlaveTaskState::Finished) {
                crate::mark!("repl.task_skipped");
                self.finish(*id, now_ms, true, facts);
            }
        }
        assert!(ids.iter().all(|id| self.tasks.get(id).is_none_or(|t| t.state == SlaveTaskState::Finished)));
        Ok(())
    }

    /// Marks a task FINISHED and moves the watermark.
    fn finish(&mut self, id: TaskId, now_ms: Millis, skipped: bool, facts: &mut Vec<ReplFact>) {
        let t = self.tasks.get_mut(&id).expect("finishing a held task");
        assert!(t.state != SlaveTaskState::Finished, "task {id} finished twice");
        assert!(!skipped || !self.edit_log.contains(&id), "task {id} both committed and skipped");
        t.state = SlaveTaskState::Finished;
        t.finish_ms = Some(now_ms);
        t.skipped = skipped;
        let (key, group, db, set) = ((t.task.exec_set, t.queue), t.task.group, t.task.db.clone(), t.task.exec_set);
        let queued = self.unfinished.get_mut(&key).is_some_and(|q| q.remove(&(group, id)));
        let by_db = self.unfinished_by_db.get_mut(&db).is_some_and(|d| d.remove(&(group, id, set)));
        assert!(queued && by_db, "unfinished task {id} missing from its indexes");
        facts.push(ReplFact::TaskFinished { task: id, skipped });
        while self.finished_below <= self.offset
            && self.tasks.get(&self.finished_below).is_some_and(|t| t.state == SlaveTaskState::Finished)
        {
            self.finished_below += 1;
        }
        assert!(self.finished_below <= self.offset + 1, "watermark {} beyond the offset {}", self.finished_below, self.offset);
        // Old finished rows beyond the bound go (status shows the newest). Tasks below the
        // watermark are contiguous from the first one held, so their count is a difference.
        while self.tasks.first_key_value().is_some_and(|(&first, _)| first + (FINISHED_ROWS_KEPT as u64) < self.finished_below) {
            self.tasks.pop_first();
        }
    }

    // ----- Task transactions (called by the DFS state's commit and COMPLETE) ------------------------

    /// Whether a transaction for `task` may begin (not committed here yet).
    pub fn may_begin(&self, task: TaskId) -> bool {
        self.config.bugs.skip_editlog_check || !self.edit_log.contains(&task)
    }

    /// A transaction of `task` is being decided commit: writes the task id to the EditLog. Returns
    /// false for a duplicate (the task committed already), which must be rolled back instead.
    pub fn on_commit(&mut self, task: TaskId, tid: crate::replica::dolphindb_2pc::Tid, facts: &mut Vec<ReplFact>) -> bool {
        if self.edit_log.contains(&task) && !self.config.bugs.skip_editlog_check {
            facts.push(ReplFact::DuplicateRolledBack { task, tid });
            return false;
        }
        // Only a pulled task is dispatched, so only a pulled task commits here.
        assert!(self.config.bugs.any() || task <= self.offset, "task {task} committed beyond the offset {}", self.offset);
        assert!(self.config.bugs.any() || self.tasks.get(&task).is_none_or(|t| !t.skipped), "task {task} both skipped and committed");
        let new = self.edit_log.insert(task);
        assert!(new || self.config.bugs.skip_editlog_check, "task {task} committed twice");
        facts.push(ReplFact::TaskCommitted { task, tid });
        true
    }

    /// A committed transaction of `task` completed: the task is FINISHED.
    pub fn on_complete(&mut self, task: TaskId, now_ms: Millis, facts: &mut Vec<ReplFact>) {
        // A task's transaction completes only after its commit wrote the task to the EditLog.
        assert!(self.edit_log.contains(&task), "task {task} completed without an EditLog entry");
        let finished_before = self.finished_below;
        if self.tasks.get(&task).is_some_and(|t| t.state != SlaveTaskState::Finished) {
            self.finish(task, now_ms, false, facts);
        }
        assert!(self.finished_below >= finished_before);
        self.check_invariants();
    }

    // ----- Scheduling ------------------------------------------------------------------------------

    /// The tasks the leader should send to their data nodes now: in every queue, the tasks of the
    /// lowest unfinished group that are waiting, due for a retry, or executing for longer than
    /// `redispatch_after_ms` (their node may have died). Nothing while not ENABLED.
    pub fn due(&self, now_ms: Millis, redispatch_after_ms: Millis) -> Vec<TaskId> {
        if self.state != ReplicationState::Enabled && !self.config.bugs.dispatch_while_stopped {
            return Vec::new();
        }
        let mut due = Vec::new();
        for unfinished in self.unfinished.values() {
            let Some(&(current, _)) = unfinished.first() else { continue };
            let group_has_failed = self.config.bugs.failed_task_blocks_its_group
                && unfinished.iter().take_while(|&&(g, _)| g == current).any(|(_, id)| self.tasks[id].failures > 0);
            for &(group, id) in unfinished {
                if group != current && !self.config.bugs.skip_group_barrier {
                    crate::mark!("repl.group_barrier_held_back_task");
                    break;
                }
                let t = &self.tasks[&id];
                if self.blocked_by_other_set(t) {
                    crate::mark!("repl.task_held_back_by_other_execution_set");
                    continue;
                }
                if group_has_failed && t.failures == 0 {
                    continue;
                }
                let ready = match t.state {
                    SlaveTaskState::Waiting => true,
                    SlaveTaskState::Failed => now_ms >= t.retry_at_ms,
                    SlaveTaskState::Executing => !self.config.bugs.never_redispatch && now_ms >= t.dispatched_ms + redispatch_after_ms,
                    SlaveTaskState::Finished => false,
                };
                if ready {
                    due.push(id);
                }
            }
        }
        if self.config.bugs.dispatch_skipped_tasks {
            let skipped_not_dispatched_since = |t: &&SlaveTask| t.skipped && t.finish_ms.is_some_and(|f| t.dispatched_ms <= f);
            due.extend(self.tasks.values().filter(skipped_not_dispatched_since).map(|t| t.task.id));
        }
        due.sort_unstable();
        assert!(due.windows(2).all(|w| w[0] < w[1]), "a task due twice: {due:?}");
        due
    }

    /// A task waits for unfinished tasks of its database in the other execution set that belong to
    /// earlier groups: a database whose set changed must not have its tasks reordered.
    fn blocked_by_other_set(&self, t: &SlaveTask) -> bool {
        self.unfinished_by_db
            .get(&t.task.db)
            .and_then(|d| d.first())
            .is_some_and(|&(group, _, set)| group < t.task.group && set != t.task.exec_set)
    }

    // ----- Status functions ------------------------------------------------------------------------

    /// `getSlaveReplicationStatus(limit)`: the newest `limit` tasks (all kept ones without one).
    pub fn task_status(&self, limit: Option<usize>) -> Vec<SlaveTaskRow> {
        let mut rows: Vec<SlaveTaskRow> = self
            .tasks
            .values()
            .rev()
            .filter(|t| !(t.skipped && self.config.bugs.status_drops_skipped_rows))
            .take(limit.unwrap_or(usize::MAX))
            .map(|t| {
                let state = match t.state {
                    SlaveTaskState::Executing if self.config.bugs.status_executing_as_finished => SlaveTaskState::Finished,
                    s => s,
                };
                SlaveTaskRow {
                    task: t.task.id,
                    master_tid: t.task.tid,
                    group: t.task.group,
                    exec_set: t.task.exec_set,
                    queue: t.queue,
                    kind: t.task.kind,
                    create_ms: t.create_ms,
                    db: t.task.db.clone(),
                    table: t.task.table.clone(),
                    source: t.task.source,
                    finish_ms: t.finish_ms,
                    node: t.node,
                    state,
                    details: if t.skipped { "skipped".into() } else { t.details.clone() },
                }
            })
            .collect();
        rows.reverse();
        rows
    }

    /// `getSlaveReplicationQueueStatus()`: every queue that holds or held tasks.
    pub fn queue_status(&self) -> Vec<QueueRow> {
        self.unfinished
            .iter()
            .map(|(&(set, queue), unfinished)| {
                let current = unfinished.first().map(|&(g, _)| g);
                let members: Vec<&SlaveTask> =
                    unfinished.iter().filter(|(g, _)| Some(*g) == current).map(|(_, id)| &self.tasks[id]).collect();
                let executing: Vec<&&SlaveTask> = members.iter().filter(|t| t.state == SlaveTaskState::Executing).collect();
                let status = if unfinished.is_empty() {
                    "FINISHED"
                } else if self.state != ReplicationState::Enabled {
                    "STOPPED"
                } else if members.iter().any(|t| t.state == SlaveTaskState::Failed) {
                    "FAILED"
                } else {
                    "EXECUTING"
                };
                QueueRow {
                    exec_set: set,
                    queue,
                    unfinished: unfinished.len(),
                    group: current,
                    node: self.node_of(queue),
                    executing_since_ms: executing.iter().map(|t| t.dispatched_ms).min(),
                    status,
                }
            })
            .collect()
    }

    /// Index invariants, checked after every command in every build.
    fn check_invariants(&self) {
        let strict = !self.config.bugs.any();
        assert!(self.finished_below <= self.offset + 1, "watermark {} beyond the offset {}", self.finished_below, self.offset);
        if strict && let Some((&first, _)) = self.tasks.first_key_value() {
            assert_eq!(self.tasks.len() as u64, self.offset + 1 - first, "task table not contiguous from {first} to {}", self.offset);
            assert!(first <= self.finished_below, "an unfinished task's row went");
        }
        assert!(
            self.tasks.get(&self.finished_below).is_none_or(|t| t.state != SlaveTaskState::Finished),
            "the watermark {} stopped at a finished task",
            self.finished_below
        );
        assert!(!strict || self.edit_log.last().is_none_or(|&t| t <= self.offset), "EditLog entry beyond the offset {}", self.offset);
        // Rows below the watermark are FINISHED and FINISHED is final (`finish` asserts it is
        // reached once, every other change of state skips FINISHED tasks), and a committed task is
        // never skipped (`finish` and `on_commit` assert it): only the rows from the watermark on
        // can change, so only they are walked, with the EditLog alongside (both in id order).
        // A slave far behind has thousands of such rows, and the walk on every command was 4% of
        // a run: it runs on one state in eight, chosen by the counters every command moves. An
        // index out of step stays out of step, so a later walk still finds it.
        if !(self.offset + self.finished_below + self.edit_log.len() as u64).is_multiple_of(8) {
            return;
        }
        let mut committed = self.edit_log.range(self.finished_below..).peekable();
        let mut counted = 0;
        for (id, t) in self.tasks.range(self.finished_below..) {
            assert_eq!(*id, t.task.id);
            while committed.next_if(|&&c| c < *id).is_some() {}
            let in_edit_log = committed.next_if_eq(&id).is_some();
            if in_edit_log && t.state == SlaveTaskState::Finished {
                assert!(!strict || !t.skipped, "task {id} both committed and skipped");
            }
            counted += usize::from(t.state != SlaveTaskState::Finished);
        }
        let unfinished: usize = self.unfinished.values().map(BTreeSet::len).sum();
        let by_db: usize = self.unfinished_by_db.values().map(BTreeSet::len).sum();
        assert_eq!(unfinished, counted, "queue index out of step with the task table");
        assert_eq!(by_db, counted, "database index out of step with the task table");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dfs::{LockKey, Operation, OperationKind, PartitionKey};
    use crate::pipeline::dolphindb_async::task::TaskPayload;

    fn config() -> SlaveConfig {
        SlaveConfig {
            slave: 0,
            queues: 4,
            original_nodes: vec![10, 11],
            all_nodes: vec![10, 11, 12],
            max_failures: 3,
            db_scope: ["dfs://scoped".to_string()].into(),
            bugs: SlaveReplBugs::default(),
        }
    }

    fn task(id: TaskId, group: GroupId, db: &str, set: u8) -> Task {
        let op: crate::dfs::SharedOperation = Operation::DropDb { db: db.into() }.into();
        Task {
            id,
            tid: id + 100,
            cid: id + 200,
            group,
            kind: OperationKind::APPEND,
            db: db.into(),
            table: Some("t".into()),
            footprint: vec![LockKey::Partition(db.into(), "t".into(), PartitionKey::Int(id as i32))],
            chunks: vec![],
            source: 3,
            submit_ms: 0,
            exec_set: set,
            payload: TaskPayload::Inline(op),
        }
    }

    fn pulled(s: &mut SlaveRepl, tasks: Vec<Task>) {
        let from = s.offset() + 1;
        let (r, _) = s.apply(&SlaveCommand::Pulled { from, requested: 100, tasks, now_ms: 1 });
        r.unwrap();
    }

    fn finish(s: &mut SlaveRepl, id: TaskId) {
        let mut facts = Vec::new();
        assert!(s.on_commit(id, id + 500, &mut facts));
        s.on_complete(id, 5, &mut facts);
    }

    #[test]
    fn a_queue_runs_one_group_at_a_time() {
        let mut s = SlaveRepl::new(config());
        pulled(&mut s, vec![task(1, 1, "a", 0), task(2, 1, "a", 0), task(3, 2, "a", 0), task(4, 2, "a", 0)]);
        assert_eq!(s.due(10, 5000), [1, 2]);
        s.apply(&SlaveCommand::Dispatch { tasks: vec![1, 2], now_ms: 10 }).0.unwrap();
        assert_eq!(s.due(20, 5000), Vec::<TaskId>::new(), "both executing");
        finish(&mut s, 1);
        assert_eq!(s.due(20, 5000), Vec::<TaskId>::new(), "group 1 not finished: task 2 still runs");
        assert_eq!(s.due(6000, 5000), [2], "task 2 ran too long: dispatched again");
        finish(&mut s, 2);
        assert_eq!(s.due(30, 5000), [3, 4]);
        assert_eq!(s.finished_below(), 3);
    }

    #[test]
    fn queues_and_execution_sets_do_not_wait_for_each_other() {
        let mut s = SlaveRepl::new(config());
        let (a, b) = ("dfs://a", "dfs://b");
        assert_ne!(s.queue_of(a), s.queue_of(b), "pick names in different queues");
        pulled(&mut s, vec![task(1, 1, a, 0), task(2, 2, a, 0), task(3, 2, b, 0), task(4, 3, "dfs://c", 1)]);
        assert_eq!(s.due(10, 5000), [1, 3, 4], "b's and c's first groups run while a's first group does");
    }

    #[test]
    fn a_database_whose_set_changed_keeps_its_order() {
        let mut s = SlaveRepl::new(config());
        pulled(&mut s, vec![task(1, 1, "a", 0), task(2, 2, "a", 1)]);
        assert_eq!(s.due(10, 5000), [1]);
        finish(&mut s, 1);
        assert_eq!(s.due(10, 5000), [2]);
    }

    #[test]
    fn queues_map_onto_the_original_data_nodes() {
        let s = SlaveRepl::new(config());
        for q in 0..4 {
            assert_eq!(s.node_of(q), [10, 11][q as usize % 2]);
        }
        let mut bug = config();
        bug.bugs.hash_over_current_nodes = true;
        let s = SlaveRepl::new(bug);
        assert_eq!(s.node_of(2), 12, "the planted bug hands queue 2 to the added node");
    }

    #[test]
    fn failures_back_off_and_stop_replication_after_the_limit() {
        let mut s = SlaveRepl::new(config());
        pulled(&mut s, vec![task(1, 1, "a", 0)]);
        for (n, at) in [(1u32, 100u64), (2, 2000), (3, 6000)] {
            s.apply(&SlaveCommand::Dispatch { tasks: vec![1], now_ms: at }).0.unwrap();
            let (_, facts) = s.apply(&SlaveCommand::Failed { task: 1, reason: "Missing TaskData".into(), now_ms: at });
            assert!(facts.contains(&ReplFact::TaskFailed { task: 1, reason: "Missing TaskData".into(), failures: n }));
            assert_eq!(s.task(1).unwrap().retry_at_ms, at + retry_backoff_ms(n));
        }
        assert_eq!(s.state, ReplicationState::Stopped);
        assert_eq!(s.due(1_000_000, 5000), Vec::<TaskId>::new(), "a stopped slave dispatches nothing");
        s.apply(&SlaveCommand::Start).0.unwrap();
        assert_eq!(s.task(1).unwrap().state, SlaveTaskState::Waiting);
        assert_eq!(s.task(1).unwrap().failures, 0);
        assert_eq!(s.due(0, 5000), [1]);
    }

    #[test]
    fn a_slave_not_enabled_takes_no_batch_and_dispatches_nothing_proposed_before() {
        let mut s = SlaveRepl::new(config());
        pulled(&mut s, vec![task(1, 1, "a", 0)]);
        assert_eq!(s.due(10, 5000), [1]);
        s.apply(&SlaveCommand::Stop).0.unwrap();
        // Proposed while the slave was ENABLED, applied after the stop.
        let (r, facts) = s.apply(&SlaveCommand::Dispatch { tasks: vec![1], now_ms: 10 });
        assert!(r.is_ok() && facts.is_empty(), "a stopped slave dispatches nothing: {facts:?}");
        let (r, facts) = s.apply(&SlaveCommand::Pulled { from: 2, requested: 10, tasks: vec![task(2, 1, "a", 0)], now_ms: 10 });
        assert!(r.is_ok() && facts.is_empty(), "a stopped slave takes no batch: {facts:?}");
        assert_eq!((s.offset(), s.task(1).unwrap().state), (1, SlaveTaskState::Waiting));
        s.apply(&SlaveCommand::Start).0.unwrap();
        assert_eq!(s.due(20, 5000), [1], "due again once started");
    }

    #[test]
    fn skip_needs_a_stopped_slave_and_finishes_without_the_edit_log() {
        let mut s = SlaveRepl::new(config());
        pulled(&mut s, vec![task(1, 1, "a", 0), task(2, 2, "a", 0)]);
        let (r, _) = s.apply(&SlaveCommand::Skip { tasks: vec![1], now_ms: 3 });
        assert_eq!(r.unwrap_err().code, AdminError::NOT_STOPPED);
        s.apply(&SlaveCommand::Stop).0.unwrap();
        let (r, _) = s.apply(&SlaveCommand::Skip { tasks: vec![9], now_ms: 3 });
        assert_eq!(r.unwrap_err().code, AdminError::INVALID_ARGUMENT);
        let (r, facts) = s.apply(&SlaveCommand::Skip { tasks: vec![1], now_ms: 3 });
        r.unwrap();
        assert_eq!(facts, [ReplFact::TaskFinished { task: 1, skipped: true }]);
        assert!(!s.in_edit_log(1));
        assert_eq!(s.finished_below(), 2);
        s.apply(&SlaveCommand::Start).0.unwrap();
        assert_eq!(s.due(0, 5000), [2]);
    }

    #[test]
    fn a_task_commits_once() {
        let mut s = SlaveRepl::new(config());
        pulled(&mut s, vec![task(1, 1, "a", 0)]);
        let mut facts = Vec::new();
        assert!(s.may_begin(1));
        assert!(s.on_commit(1, 50, &mut facts));
        assert!(!s.may_begin(1));
        assert!(!s.on_commit(1, 51, &mut facts), "a second transaction of the task is a duplicate");
        assert_eq!(facts[1], ReplFact::DuplicateRolledBack { task: 1, tid: 51 });
        let mut bug = config();
        bug.bugs.skip_editlog_check = true;
        let mut s = SlaveRepl::new(bug);
        pulled(&mut s, vec![task(1, 1, "a", 0)]);
        assert!(s.on_commit(1, 50, &mut facts) && s.on_commit(1, 51, &mut facts), "the planted bug commits it twice");
    }

    #[test]
    fn a_batch_must_continue_the_offset() {
        let mut s = SlaveRepl::new(config());
        pulled(&mut s, vec![task(1, 1, "a", 0), task(2, 1, "b", 0)]);
        let (_, facts) = s.apply(&SlaveCommand::Pulled { from: 2, requested: 10, tasks: vec![task(2, 1, "b", 0)], now_ms: 2 });
        assert!(facts.is_empty(), "a repeated batch is ignored");
        let (_, facts) =
            s.apply(&SlaveCommand::Pulled { from: 3, requested: 10, tasks: vec![task(3, 1, "a", 0), task(5, 1, "a", 0)], now_ms: 2 });
        assert!(facts.is_empty(), "a batch with a hole is refused");
        assert_eq!(s.offset(), 2);
        let mut bug = config();
        bug.bugs.offset_skips_ahead = true;
        let mut s = SlaveRepl::new(bug);
        pulled(&mut s, vec![task(1, 1, "a", 0)]);
        assert_eq!(s.offset(), 100, "the planted bug moves the offset by the batch size asked for");
    }

    #[test]
    fn ordinary_writes_are_refused_only_for_replicated_databases() {
        let mut s = SlaveRepl::new(config());
        pulled(&mut s, vec![task(1, 1, "dfs://a", 0)]);
        assert!(s.replicates("dfs://a"));
        assert!(s.replicates("dfs://scoped"), "in the configured scope before any task names it");
        assert!(!s.replicates("dfs://local"));
    }
}

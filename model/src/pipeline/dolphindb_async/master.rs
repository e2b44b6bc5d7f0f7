//! The master's replicated replication state: which databases are replicated (and in which
//! execution set), the send queue with its conflict groups, what each slave reported finished, and
//! how far the queue was garbage-collected. It changes only through Raft-committed commands.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::io::{Millis, NodeId};
use crate::replica::dolphindb_2pc::Tid;
use crate::replica::{CommittedWrite, ReplicaView};

use super::ReplicationState;
use super::admin::{AdminError, DbStatusRow, MasterTaskRow, SlaveInfoRow};
use super::fact::ReplFact;
use super::grouping::Grouper;
use super::task::{SlaveId, Task, TaskId, TaskPayload, carries_data};

/// Truncated tasks whose rows the master keeps for `getMasterReplicationStatus` (the newest ones).
pub const TRUNCATED_ROWS_KEPT: usize = 1000;

/// Bugs of the master's replication that can be switched on to prove the checkers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MasterReplBugs {
    /// Grouping looks at partition locks only: DDL and database-level operations share groups with
    /// writes to the chunks they touch.
    pub grouping_ignores_table_scope: bool,
    /// Garbage collection truncates below the highest slave watermark instead of the lowest.
    pub gc_at_max_watermark: bool,
    /// `stopClusterReplication` is answered ok and changes nothing.
    pub stop_is_noop: bool,
    /// A task of a database replicated from the start takes the execution set the database had
    /// when replication was enabled (`initial_databases`), whatever
    /// `setDatabaseClusterReplicationExecutionSet` changed since.
    pub exec_set_at_enable: bool,
    /// A task takes the footprint of the task enqueued before it (its own for the first task).
    pub footprint_of_previous_task: bool,
    /// Garbage collection never truncates the queue (nor deletes task data), whatever the slaves
    /// finished.
    pub never_truncate: bool,
    /// Garbage collection truncates the queue but never orders the task data of truncated tasks
    /// deleted.
    pub keep_task_data: bool,
    /// Garbage collection orders the task data of every ended transaction deleted, its task
    /// truncated or not.
    pub forget_untruncated_task_data: bool,
    /// `getMasterReplicationStatus` leaves out the newest task.
    pub status_omits_latest_task: bool,
}

impl MasterReplBugs {
    /// True when any bug is on (the state's own invariant assertions then stand back: the checkers
    /// must catch the consequences).
    pub fn any(&self) -> bool {
        // Every flag, the ones added later included: a flag left out would keep the role's own
        // assertions strict while its bug is on.
        *self != Self::default()
    }
}

/// Settings of the master's replication, fixed for its life.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MasterConfig {
    /// clusterReplicationSlaveNum: the slaves that pull from this master; the queue is truncated
    /// only below what every one of them finished, and only once all of them reported.
    pub slave_num: u32,
    /// clusterReplicationSyncPersistence: coordinators fsync task data before the commit decision.
    pub sync_persistence: bool,
    /// Databases replicated from the start, with their execution sets (as if
    /// `setDatabaseForClusterReplication` had been called before the workload began).
    pub initial_databases: BTreeMap<String, u8>,
    /// Planted bugs.
    pub bugs: MasterReplBugs,
}

/// A database's replication setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DbSetting {
    /// Replication on.
    pub enabled: bool,
    /// Its execution set (0 or 1).
    pub exec_set: u8,
}

/// What a slave told the master.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlaveProgress {
    /// Every task below this is finished on the slave.
    ///
    /// Invariant: only grows (a late, lower report does not move it back).
    pub finished_below: TaskId,
    /// The slave controller that reported.
    pub controller: NodeId,
    /// The slave's controller group.
    pub controllers: Vec<NodeId>,
    /// When it last reported (master leader clock).
    pub last_report_ms: Millis,
}

/// Commands that change the master's replication state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MasterCommand {
    /// `setDatabaseForClusterReplication(db, enabled)`.
    SetDatabase { db: String, enabled: bool },
    /// `setDatabaseClusterReplicationExecutionSet(db, set)`.
    SetExecutionSet { db: String, set: u8 },
    /// `startClusterReplication()`.
    Start,
    /// `stopClusterReplication()`: tasks completed from now on are never enqueued.
    Stop,
    /// A slave reported what it finished.
    SlaveReport { slave: SlaveId, finished_below: TaskId, controller: NodeId, controllers: Vec<NodeId>, now_ms: Millis },
    /// Garbage collection: tasks below `below` are truncated and their data deleted.
    Truncate { below: TaskId },
}

/// The master's replication state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MasterRepl {
    /// Settings.
    pub config: MasterConfig,
    /// ENABLED or DISABLED.
    pub state: ReplicationState,
    databases: BTreeMap<String, DbSetting>,
    /// The send queue; truncated tasks keep their row (without payload) up to a bound.
    ///
    /// Invariant: its ids are contiguous from the first one held to `next_task - 1` (truncated rows
    /// go from the front only); group ids never decrease along it; a truncated task's data is
    /// never inline.
    queue: BTreeMap<TaskId, Task>,
    /// Invariant: dense from 1 and increasing: every id below it went to one task, in enqueue order.
    next_task: TaskId,
    grouper: Grouper,
    /// Every task below this is truncated.
    ///
    /// Invariant: only grows; `truncated_below <= next_task`; never passes what every slave
    /// reported finished (the lowest watermark), unless the planted `gc_at_max_watermark` is on.
    truncated_below: TaskId,
    slaves: BTreeMap<SlaveId, SlaveProgress>,
}

impl MasterRepl {
    /// The state of a fresh master.
    pub fn new(config: MasterConfig) -> Self {
        let databases =
            config.initial_databases.iter().map(|(db, &exec_set)| (db.clone(), DbSetting { enabled: true, exec_set })).collect();
        let grouper = Grouper::new(config.bugs.grouping_ignores_table_scope);
        Self {
            config,
            state: ReplicationState::Enabled,
            databases,
            queue: BTreeMap::new(),
            next_task: 1,
            grouper,
            truncated_below: 1,
            slaves: BTreeMap::new(),
        }
    }

    /// Whether transactions on `db` begun now produce tasks (replication enabled for it).
    pub fn replicates(&self, db: &str) -> bool {
        self.databases.get(db).is_some_and(|s| s.enabled)
    }

    /// The task id the next task gets (every id below it was handed out).
    pub fn next_task(&self) -> TaskId {
        self.next_task
    }

    /// Every task below this is truncated.
    pub fn truncated_below(&self) -> TaskId {
        self.truncated_below
    }

    /// Enqueues the task of a transaction that completed, if its database is replicated and the
    /// master is ENABLED; the transaction is captured only if its database was replicated when it
    /// began (its coordinator persisted its data only then).
    pub fn on_complete(&mut self, tx: CommittedWrite<'_>) -> Option<ReplFact> {
        let setting = *self.databases.get(tx.op.database())?;
        if !tx.tag.captured || !setting.enabled || self.state != ReplicationState::Enabled {
            return None;
        }
        let db = tx.op.database().to_string();
        let id = self.next_task;
        self.next_task += 1;
        let kind = tx.op.kind();
        let group = self.grouper.assign(tx.footprint);
        // Tasks are grouped in id order: the group ids never decrease along the queue.
        let previous = self.queue.last_key_value().map(|(&last, t)| (last, t.group));
        assert!(previous.is_none_or(|(last, g)| last + 1 == id && g <= group), "task {id} of group {group} after {previous:?}");
        let payload = if carries_data(kind) { TaskPayload::AtSource } else { TaskPayload::Inline(tx.op.clone()) };
        let exec_set = match self.config.initial_databases.get(&db) {
            Some(&at_enable) if self.config.bugs.exec_set_at_enable => at_enable,
            _ => setting.exec_set,
        };
        let footprint = match self.queue.last_key_value() {
            Some((_, previous)) if self.config.bugs.footprint_of_previous_task => previous.footprint.clone(),
            _ => tx.footprint.to_vec(),
        };
        let task = Task {
            id,
            tid: tx.tid,
            cid: tx.cid,
            group,
            kind,
            db,
            table: tx.op.table().map(str::to_string),
            footprint,
            chunks: tx.chunks,
            source: tx.coordinator,
            submit_ms: tx.decided_ms,
            exec_set,
            payload,
        };
        let fact = ReplFact::Enqueued { task: Box::new(task.clone()), op: tx.op.clone() };
        let earlier = self.queue.insert(id, task);
        assert!(earlier.is_none() && self.check_queue(), "task id {id} handed out twice");
        Some(fact)
    }

    /// Applies a command; `replica` is the master's replicated state, for checking database names.
    pub fn apply(&mut self, cmd: &MasterCommand, replica: &dyn ReplicaView) -> (Result<(), AdminError>, Vec<ReplFact>) {
        let (truncated_before, next_before) = (self.truncated_below, self.next_task);
        let mut facts = Vec::new();
        let result = match cmd {
            MasterCommand::SetDatabase { db, enabled } => {
                if !replica.has_database(db) {
                    Err(AdminError::no_database(db))
                } else {
                    let s = self.databases.entry(db.clone()).or_default();
                    s.enabled = *enabled;
                    facts.push(ReplFact::DatabaseSet { db: db.clone(), enabled: s.enabled, exec_set: s.exec_set });
                    Ok(())
                }
            }
            MasterCommand::SetExecutionSet { db, set } => {
                if *set > 1 {
                    Err(AdminError::bad_exec_set(*set))
                } else if !replica.has_database(db) {
                    Err(AdminError::no_database(db))
                } else {
                    let s = self.databases.entry(db.clone()).or_default();
                    if s.exec_set != *set {
                        crate::mark!("repl.database_execution_set_changed");
                    }
                    s.exec_set = *set;
                    assert!(s.exec_set <= 1, "execution set {}", s.exec_set);
                    facts.push(ReplFact::DatabaseSet { db: db.clone(), enabled: s.enabled, exec_set: s.exec_set });
                    Ok(())
                }
            }
            MasterCommand::Stop if self.config.bugs.stop_is_noop => Ok(()),
            MasterCommand::Start | MasterCommand::Stop => {
                let state = if *cmd == MasterCommand::Start { ReplicationState::Enabled } else { ReplicationState::Disabled };
                if self.state != state {
                    self.state = state;
                    facts.push(ReplFact::StateChanged { state });
                }
                assert_eq!(self.state, state);
                Ok(())
            }
            MasterCommand::SlaveReport { slave, finished_below, controller, controllers, now_ms } => {
                let p = self.slaves.entry(*slave).or_insert(SlaveProgress {
                    finished_below: 1,
                    controller: *controller,
                    controllers: controllers.clone(),
                    last_report_ms: *now_ms,
                });
                // Reports may arrive out of order (a deposed slave leader's late message): keep the max.
                let before = p.finished_below;
                p.finished_below = p.finished_below.max(*finished_below);
                assert!(p.finished_below >= before && p.finished_below >= 1);
                p.controller = *controller;
                p.controllers = controllers.clone();
                p.last_report_ms = *now_ms;
                Ok(())
            }
            MasterCommand::Truncate { below } => {
                let below = (*below).min(self.next_task);
                if below > self.truncated_below {
                    crate::mark!("repl.master_truncated_queue");
                    // The leader proposed it from `gc_target`: every slave reported, and each has
                    // finished every task below it (watermarks only grow since).
                    assert!(
                        self.config.bugs.any()
                            || (self.slaves.len() as u32 >= self.config.slave_num.max(1)
                                && self.slaves.values().all(|p| p.finished_below >= below)),
                        "truncation to {below} passes a slave's watermark: {:?}",
                        self.slaves.values().map(|p| p.finished_below).collect::<Vec<_>>()
                    );
                    for (_, t) in self.queue.range_mut(self.truncated_below..below) {
                        t.payload = TaskPayload::AtSource;
                    }
                    self.truncated_below = below;
                    // Truncated rows are contiguous from the first one held.
                    while self
                        .queue
                        .first_key_value()
                        .is_some_and(|(&first, _)| first + (TRUNCATED_ROWS_KEPT as u64) < self.truncated_below)
                    {
                        self.queue.pop_first();
                    }
                    facts.push(ReplFact::Truncated { below });
                }
                Ok(())
            }
        };
        assert!(self.truncated_below >= truncated_before && self.truncated_below <= self.next_task, "truncation went back");
        assert!(self.next_task == next_before, "a command enqueued a task");
        assert!(self.check_queue());
        (result, facts)
    }

    /// The queue's invariants (see the field): cheap, so checked after every change.
    fn check_queue(&self) -> bool {
        let (Some((&first, _)), Some((&last, _))) = (self.queue.first_key_value(), self.queue.last_key_value()) else {
            return true;
        };
        assert_eq!(self.queue.len() as u64, last + 1 - first, "the send queue is not contiguous from {first} to {last}");
        assert_eq!(last + 1, self.next_task, "the send queue ends at {last}, the next task is {}", self.next_task);
        let boundary = self.queue.range(..self.truncated_below).next_back();
        assert!(boundary.is_none_or(|(_, t)| t.payload == TaskPayload::AtSource), "a truncated task keeps its data inline");
        true
    }

    /// Where garbage collection may truncate to now, if further than done: below every slave's
    /// finished watermark, once all `slave_num` slaves reported.
    pub fn gc_target(&self) -> Option<TaskId> {
        if (self.slaves.len() as u32) < self.config.slave_num.max(1) || self.config.bugs.never_truncate {
            return None;
        }
        let marks = self.slaves.values().map(|p| p.finished_below);
        let target = if self.config.bugs.gc_at_max_watermark { marks.max() } else { marks.min() }?;
        assert!(self.config.bugs.any() || self.slaves.values().all(|p| p.finished_below >= target));
        (target > self.truncated_below).then_some(target)
    }

    /// Up to `max` tasks from `from` on, for a slave's pull; `Err(below)` if `from` was truncated.
    pub fn tasks_from(&self, from: TaskId, max: usize) -> Result<Vec<Task>, TaskId> {
        if from < self.truncated_below {
            return Err(self.truncated_below);
        }
        let tasks: Vec<Task> = self.queue.range(from..).take(max).map(|(_, t)| t.clone()).collect();
        // A slave takes only a batch without holes that starts where it asked.
        assert!(tasks.iter().enumerate().all(|(i, t)| t.id == from + i as u64), "a pull from {from} with a hole");
        Ok(tasks)
    }

    /// Tasks whose data `source` may delete: truncated ones, by tid.
    pub fn truncated_tids_of(&self, source: NodeId, tids: &[Tid]) -> Vec<Tid> {
        if self.config.bugs.forget_untruncated_task_data {
            return tids.to_vec();
        }
        let live: std::collections::BTreeSet<Tid> =
            self.queue.range(self.truncated_below..).filter(|(_, t)| t.source == source).map(|(_, t)| t.tid).collect();
        tids.iter().copied().filter(|t| !live.contains(t)).collect()
    }

    // ----- Status functions ------------------------------------------------------------------------

    /// `getDatabaseClusterReplicationStatus()`: every database of the catalog.
    pub fn database_status(&self, replica: &dyn ReplicaView) -> Vec<DbStatusRow> {
        replica
            .databases()
            .into_iter()
            .map(|db| {
                let s = self.databases.get(&db).copied().unwrap_or_default();
                DbStatusRow { db, enabled: s.enabled, exec_set: s.exec_set }
            })
            .collect()
    }

    /// `getMasterReplicationStatus(limit)`: the newest `limit` tasks (all kept ones without one).
    pub fn task_status(&self, limit: Option<usize>) -> Vec<MasterTaskRow> {
        let omitted = usize::from(self.config.bugs.status_omits_latest_task);
        let rows = self.queue.values().rev().skip(omitted).take(limit.unwrap_or(usize::MAX)).map(|t| MasterTaskRow {
            task: t.id,
            tid: t.tid,
            group: t.group,
            kind: t.kind,
            submit_ms: t.submit_ms,
            db: t.db.clone(),
            table: t.table.clone(),
            source: t.source,
            truncated: t.id < self.truncated_below,
        });
        let mut rows: Vec<MasterTaskRow> = rows.collect();
        rows.reverse();
        rows
    }

    /// `getRecentSlaveReplicationInfo()`; `last_pull_ms` is the leader's own memory of pulls (a
    /// pull changes no replicated state).
    pub fn slave_info(&self, last_pull_ms: &BTreeMap<SlaveId, Millis>) -> Vec<SlaveInfoRow> {
        self.slaves
            .iter()
            .map(|(slave, p)| SlaveInfoRow {
                slave: *slave,
                connected_controller: p.controller,
                controllers: p.controllers.clone(),
                last_finished_task: p.finished_below.saturating_sub(1),
                last_pull_ms: last_pull_ms.get(slave).copied(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dfs::{LockKey, Operation, PartitionKey, SharedOperation};
    use crate::replica::PipelineTag;

    fn config(slave_num: u32) -> MasterConfig {
        MasterConfig {
            slave_num,
            sync_persistence: true,
            initial_databases: [("dfs://a".to_string(), 0)].into(),
            bugs: MasterReplBugs::default(),
        }
    }

    /// A replicated state with no database.
    struct NoDatabases;

    impl ReplicaView for NoDatabases {
        fn has_database(&self, _: &str) -> bool {
            false
        }
        fn databases(&self) -> Vec<String> {
            Vec::new()
        }
        fn transaction_ended(&self, _: u64) -> bool {
            false
        }
    }

    fn complete(m: &mut MasterRepl, tid: Tid, op: Operation, locks: &[LockKey], replicated: bool) -> Option<Task> {
        let op: SharedOperation = op.into();
        let tag = PipelineTag { captured: replicated, applies: None };
        let tx = CommittedWrite { tid, cid: tid, op: &op, footprint: locks, chunks: vec![], coordinator: 4, decided_ms: 7, tag };
        m.on_complete(tx).map(|f| match f {
            ReplFact::Enqueued { task, .. } => *task,
            other => panic!("{other:?}"),
        })
    }

    fn append(db: &str) -> Operation {
        Operation::Append { db: db.into(), table: "t".into(), rows: vec![] }
    }

    fn part(db: &str, p: i32) -> LockKey {
        LockKey::Partition(db.into(), "t".into(), PartitionKey::Int(p))
    }

    #[test]
    fn completed_transactions_of_replicated_databases_are_enqueued_in_order_while_enabled() {
        let mut m = MasterRepl::new(config(1));
        let t1 = complete(&mut m, 10, append("dfs://a"), &[part("dfs://a", 1)], true).expect("enqueued");
        assert_eq!((t1.id, t1.group, t1.source, t1.submit_ms), (1, 1, 4, 7));
        assert_eq!(t1.payload, TaskPayload::AtSource, "an APPEND's data stays with its coordinator");
        assert!(complete(&mut m, 11, append("dfs://other"), &[part("dfs://other", 1)], true).is_none(), "not replicated");
        assert!(complete(&mut m, 12, append("dfs://a"), &[part("dfs://a", 2)], false).is_none(), "began before replication was on");
        m.apply(&MasterCommand::Stop, &NoDatabases).0.unwrap();
        assert!(complete(&mut m, 13, append("dfs://a"), &[part("dfs://a", 3)], true).is_none(), "DISABLED: never enqueued");
        m.apply(&MasterCommand::Start, &NoDatabases).0.unwrap();
        let t2 = complete(&mut m, 14, Operation::DropDb { db: "dfs://a".into() }, &[LockKey::Db("dfs://a".into())], true).unwrap();
        assert_eq!((t2.id, t2.group), (2, 2), "dense ids; a database-level task conflicts with the append");
        assert!(matches!(t2.payload, TaskPayload::Inline(_)));
    }

    #[test]
    fn settings_need_an_existing_database_and_a_valid_set() {
        let mut m = MasterRepl::new(config(1));
        let (r, _) = m.apply(&MasterCommand::SetDatabase { db: "dfs://x".into(), enabled: true }, &NoDatabases);
        assert_eq!(r.unwrap_err().code, AdminError::NO_SUCH_DATABASE);
        let (r, _) = m.apply(&MasterCommand::SetExecutionSet { db: "dfs://a".into(), set: 2 }, &NoDatabases);
        assert_eq!(r.unwrap_err().code, AdminError::INVALID_ARGUMENT);
    }

    #[test]
    fn garbage_collection_waits_for_every_slave() {
        let mut m = MasterRepl::new(config(2));
        for tid in 1..=5 {
            complete(&mut m, tid, append("dfs://a"), &[part("dfs://a", tid as i32)], true);
        }
        let report =
            |slave, below| MasterCommand::SlaveReport { slave, finished_below: below, controller: 20, controllers: vec![20], now_ms: 1 };
        m.apply(&report(0, 5), &NoDatabases).0.unwrap();
        assert_eq!(m.gc_target(), None, "one of two slaves reported");
        m.apply(&report(1, 3), &NoDatabases).0.unwrap();
        assert_eq!(m.gc_target(), Some(3), "the lowest watermark");
        m.apply(&report(1, 2), &NoDatabases).0.unwrap();
        assert_eq!(m.gc_target(), Some(3), "a late, lower report does not move it back");
        let (_, facts) = m.apply(&MasterCommand::Truncate { below: 3 }, &NoDatabases);
        assert_eq!(facts, [ReplFact::Truncated { below: 3 }]);
        assert_eq!(m.tasks_from(2, 10), Err(3));
        assert_eq!(m.tasks_from(3, 10).unwrap().len(), 3);
        assert!(m.task_status(None).iter().filter(|r| r.truncated).map(|r| r.task).eq([1, 2]));
        assert_eq!(m.gc_target(), None);
        let mut bug = config(2);
        bug.bugs.gc_at_max_watermark = true;
        let mut m = MasterRepl::new(bug);
        m.apply(&report(0, 5), &NoDatabases).0.unwrap();
        m.apply(&report(1, 3), &NoDatabases).0.unwrap();
        assert_eq!(m.gc_target(), Some(5), "the planted bug follows the fastest slave");
    }
}

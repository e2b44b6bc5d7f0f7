//! A data node's part in replication.
//!
//! Master: a coordinator keeps the operation of each write on a replicated database as task data,
//! in `tasks/<tid>`, before it asks for the commit decision: written and fsynced first when
//! `clusterReplicationSyncPersistence` is on (the decision waits), otherwise written later in the
//! background (a crash before then loses it, and a slave asking before then is told to come back
//! in 5 s). Slaves fetch it from here; the controller leader says when it may go.
//!
//! Slave: the controller leader sends tasks to execute. A task whose data stayed with its master
//! coordinator is fetched from there first; then it runs as an ordinary transaction of this
//! cluster, tagged with its task id, and only a failure is reported back (a commit reaches the
//! controller through the transaction itself).

use std::collections::{BTreeMap, BTreeSet};

use crate::core::io::{DiskCompletion, DiskOp, DiskView, IoToken, Millis, NodeId, Output};
use crate::core::record;
use crate::deployment::fact::Fact;
use crate::deployment::message::Message;
use crate::dfs::{ErrorCode, OpError, SharedOperation};
use crate::pipeline::dolphindb_async::admin::NodeRole;
use crate::pipeline::dolphindb_async::message::{ReplMessage, TaskDataError};
use crate::pipeline::dolphindb_async::{AdminCall, AdminError, AdminResult, ReplFact, Task, TaskId, TaskPayload};
use crate::replica::dolphindb_2pc::{Cid, DfsOutput, DfsRequest, Tid};

use super::{AfterSync, CoordOp, DataNode, Phase, Purpose};

/// Disk tokens of task-data reads carry this tag.
const TASK_READ_TAG: IoToken = 0x7a << 56;
const TASK_RECORD: u8 = 0x54;
/// A slave asking for data not persisted yet asks again after this (DolphinDB S01044: 5 s).
const NOT_PERSISTED_RETRY_MS: Millis = 5000;
/// A fetch without answer is sent again after this; after `FETCH_TRIES` the task fails.
const FETCH_TIMEOUT_MS: Millis = 2000;
const FETCH_TRIES: u32 = 3;
/// Task data fetched ahead of execution, kept at most (the oldest tasks go first).
const PREFETCHED_MAX: usize = 1024;

/// A data node's replication settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationSettings {
    /// The role it plays for management calls (and whether it keeps task data).
    pub role: NodeRole,
    /// clusterReplicationSyncPersistence (master).
    pub sync_persistence: bool,
    /// Asynchronous persistence writes task data after this long (master).
    pub async_delay_ms: Millis,
}

impl Default for ReplicationSettings {
    fn default() -> Self {
        Self { role: NodeRole::Unreplicated, sync_persistence: true, async_delay_ms: 0 }
    }
}

fn task_path(tid: Tid) -> String {
    format!("tasks/{tid}")
}

#[derive(Debug, Clone)]
enum Execution {
    /// Waiting for the task's data: ask (again) at `next_ask`.
    Fetching { next_ask: Millis, tries: u32 },
    /// Running as the coordinator operation of that key.
    Running,
}

/// The replication state of a data node.
#[derive(Debug, Default)]
pub(super) struct ReplState {
    /// Task data on disk (or on its way there), by tid.
    files: BTreeSet<Tid>,
    /// Task data waiting for its background write, with when it is due.
    unwritten: BTreeMap<Tid, (SharedOperation, Millis)>,
    /// Task-data reads in flight: token -> (tid, who asked).
    reads: BTreeMap<IoToken, (Tid, NodeId)>,
    next_read: u64,
    /// Tasks this node executes (slave).
    executions: BTreeMap<TaskId, (Task, Execution)>,
    /// Task data fetched ahead, by tid (slave).
    prefetched: BTreeMap<Tid, SharedOperation>,
    /// Prefetches asked for and not answered, with when (slave): asked again after
    /// `FETCH_TIMEOUT_MS`, since the request or its answer may be lost.
    prefetching: BTreeMap<Tid, Millis>,
    /// Management calls waiting for the controller: call id -> call.
    admin_calls: BTreeMap<u64, AdminCall>,
}

impl DataNode {
    /// Finds the task data on disk at boot.
    pub(super) fn load_task_data(&mut self, disk: &dyn DiskView) {
        let tids = disk.list("tasks/").iter().filter_map(|p| p.strip_prefix("tasks/")?.parse().ok()).collect::<Vec<Tid>>();
        self.repl.files.extend(tids);
    }

    /// Reports the task data found at boot.
    pub(super) fn report_task_data(&self, out: &mut Output<Message, Fact>) {
        if !self.repl.files.is_empty() {
            out.fact(Fact::Repl(ReplFact::TaskDataLoaded { tids: self.repl.files.iter().copied().collect() }));
        }
    }

    /// The transactions whose task data this node keeps (for the controller's garbage collection).
    pub(super) fn task_data_held(&self) -> Vec<Tid> {
        self.repl.files.iter().chain(self.repl.unwritten.keys()).copied().collect()
    }

    /// Asks for the commit decision of a coordinated operation, keeping its task data first if it
    /// has to (synchronously: the request waits until the data is durable).
    pub(super) fn request_commit(&mut self, now: Millis, key: u64, tid: Tid, out: &mut Output<Message, Fact>) {
        let o = &self.ops[&key];
        if !o.task_data {
            self.request(now, DfsRequest::Commit { tid }, Purpose::Coord(key), out);
            return;
        }
        let op = o.op.clone();
        if self.config.replication.sync_persistence {
            self.write_task_data(tid, &op, true, out);
            self.held.push(AfterSync::Request(DfsRequest::Commit { tid }, Purpose::Coord(key)));
        } else {
            self.repl.unwritten.insert(tid, (op, now + self.config.replication.async_delay_ms));
            self.request(now, DfsRequest::Commit { tid }, Purpose::Coord(key), out);
        }
    }

    fn write_task_data(&mut self, tid: Tid, op: &SharedOperation, durable: bool, out: &mut Output<Message, Fact>) {
        let mut bytes = Vec::new();
        record::encode_value(TASK_RECORD, &**op, &mut bytes);
        let path = task_path(tid);
        self.startup_ops.push(DiskOp::WriteAll { path: path.clone(), data: bytes });
        if !self.config.bugs.task_data_without_fsync {
            self.startup_ops.push(DiskOp::Fsync { path });
        }
        self.repl.files.insert(tid);
        out.fact(Fact::Repl(ReplFact::TaskDataWritten { tid, durable }));
    }

    /// Periodic work: background task-data writes (master), fetches to send again (slave).
    pub(super) fn tick_replication(&mut self, now: Millis, out: &mut Output<Message, Fact>) {
        let due: Vec<Tid> = self.repl.unwritten.iter().filter(|(_, (_, at))| now >= *at).map(|(t, _)| *t).collect();
        for tid in due {
            let (op, _) = self.repl.unwritten.remove(&tid).expect("listed");
            self.write_task_data(tid, &op, false, out);
        }
        let mut failed = Vec::new();
        for (id, (task, state)) in self.repl.executions.iter_mut() {
            if let Execution::Fetching { next_ask, tries } = state
                && now >= *next_ask
            {
                if *tries >= FETCH_TRIES {
                    failed.push(*id);
                    continue;
                }
                *tries += 1;
                *next_ask = now + FETCH_TIMEOUT_MS;
                out.send(task.source, Message::Repl(ReplMessage::FetchTaskData { tid: task.tid }));
            }
        }
        for id in failed {
            self.repl.executions.remove(&id);
            self.report_task_failure(now, id, "the master data node holding the task data does not answer", out);
        }
    }

    /// A replication message.
    pub fn on_repl_message(&mut self, now: Millis, from: NodeId, msg: ReplMessage, out: &mut Output<Message, Fact>) {
        self.now = now;
        match msg {
            ReplMessage::FetchTaskData { tid } => {
                if self.repl.unwritten.contains_key(&tid) {
                    out.send(from, Message::Repl(ReplMessage::TaskData { tid, data: Err(TaskDataError::NotPersisted) }));
                } else if self.repl.files.contains(&tid) {
                    self.repl.next_read += 1;
                    let token = TASK_READ_TAG | self.repl.next_read;
                    self.repl.reads.insert(token, (tid, from));
                    out.disk(token, DiskOp::Read { path: task_path(tid) });
                } else {
                    out.send(from, Message::Repl(ReplMessage::TaskData { tid, data: Err(TaskDataError::Missing) }));
                }
            }
            ReplMessage::ForgetTaskData { tids } => {
                for tid in tids {
                    self.repl.unwritten.remove(&tid);
                    if self.repl.files.remove(&tid) {
                        let t = self.token();
                        out.disk(t, DiskOp::Remove { path: task_path(tid) });
                    }
                }
            }
            ReplMessage::Execute { task } => self.on_execute(now, *task, out),
            ReplMessage::Prefetch { tasks } => {
                for t in tasks {
                    let asked = self.repl.prefetching.get(&t.tid).is_some_and(|&at| now < at + FETCH_TIMEOUT_MS);
                    let known = asked || self.repl.prefetched.contains_key(&t.tid) || self.repl.executions.contains_key(&t.id);
                    if t.payload == TaskPayload::AtSource && !known {
                        self.repl.prefetching.insert(t.tid, now);
                        out.send(t.source, Message::Repl(ReplMessage::FetchTaskData { tid: t.tid }));
                    }
                }
            }
            ReplMessage::TaskData { tid, data } => self.on_task_data(now, tid, data, out),
            ReplMessage::Pull { .. } | ReplMessage::Tasks { .. } | ReplMessage::Report { .. } => {}
        }
        self.finish(out);
    }

    /// A disk completion of a task-data read; false if the token is not one.
    pub(super) fn on_task_read(&mut self, done: &DiskCompletion, out: &mut Output<Message, Fact>) -> bool {
        if done.token & TASK_READ_TAG != TASK_READ_TAG {
            return false;
        }
        let Some((tid, to)) = self.repl.reads.remove(&done.token) else { return true };
        let data = match &done.result {
            // A failed read is a transient fault: the slave asks again later.
            Err(_) => Err(TaskDataError::NotPersisted),
            Ok(None) => Err(TaskDataError::Missing),
            Ok(Some(bytes)) => match record::scan(bytes) {
                (records, record::ScanEnd::Clean) if records.len() == 1 && records[0].kind == TASK_RECORD => {
                    record::decode_value::<crate::dfs::Operation>(records[0].payload)
                        .map(SharedOperation::from)
                        .map_err(|_| TaskDataError::Corrupt)
                }
                // Empty or cut short by a crash before its fsync: never made durable (only
                // asynchronous persistence gets here), so the data is lost, not damaged.
                (records, record::ScanEnd::Clean | record::ScanEnd::TornTail { .. }) if records.is_empty() => Err(TaskDataError::Missing),
                _ => Err(TaskDataError::Corrupt),
            },
        };
        out.send(to, Message::Repl(ReplMessage::TaskData { tid, data }));
        true
    }

    // ----- Slave: executing tasks --------------------------------------------------------------------

    fn on_execute(&mut self, now: Millis, task: Task, out: &mut Output<Message, Fact>) {
        if self.repl.executions.contains_key(&task.id) {
            return; // already under way here (a repeated dispatch)
        }
        match &task.payload {
            TaskPayload::Inline(op) => {
                let (id, op) = (task.id, op.clone());
                self.repl.executions.insert(id, (task, Execution::Running));
                self.start_task(now, id, op, out);
            }
            TaskPayload::AtSource => {
                if let Some(op) = self.repl.prefetched.remove(&task.tid) {
                    let id = task.id;
                    self.repl.executions.insert(id, (task, Execution::Running));
                    self.start_task(now, id, op, out);
                    return;
                }
                out.send(task.source, Message::Repl(ReplMessage::FetchTaskData { tid: task.tid }));
                let id = task.id;
                self.repl.executions.insert(id, (task, Execution::Fetching { next_ask: now + FETCH_TIMEOUT_MS, tries: 1 }));
            }
        }
    }

    fn on_task_data(&mut self, now: Millis, tid: Tid, data: Result<SharedOperation, TaskDataError>, out: &mut Output<Message, Fact>) {
        let prefetch = self.repl.prefetching.remove(&tid).is_some();
        let fetching =
            self.repl.executions.iter().find(|(_, (t, s))| t.tid == tid && matches!(s, Execution::Fetching { .. })).map(|(id, _)| *id);
        let Some(id) = fetching else {
            // An answer to a prefetch: keep good data for the execution to come (a failure is
            // met again, and reported, when the task runs).
            if let (true, Ok(op)) = (prefetch, data) {
                self.repl.prefetched.insert(tid, op);
                // Over the bound, the data needed last goes (tids follow the master's order,
                // which the slave's queues follow too).
                while self.repl.prefetched.len() > PREFETCHED_MAX {
                    self.repl.prefetched.pop_last();
                }
            }
            return;
        };
        match data {
            Ok(op) => {
                self.repl.executions.get_mut(&id).expect("found").1 = Execution::Running;
                self.start_task(now, id, op, out);
            }
            Err(TaskDataError::NotPersisted) => {
                if let Some((_, Execution::Fetching { next_ask, tries })) = self.repl.executions.get_mut(&id) {
                    *next_ask = now + NOT_PERSISTED_RETRY_MS;
                    *tries = 0;
                }
            }
            Err(e) => {
                self.repl.executions.remove(&id);
                self.report_task_failure(now, id, e.reason(), out);
            }
        }
    }

    fn start_task(&mut self, now: Millis, task: TaskId, op: SharedOperation, out: &mut Output<Message, Fact>) {
        out.fact(Fact::Repl(ReplFact::TaskStarted { task }));
        let key = self.next_op;
        self.next_op += 1;
        let coord = CoordOp {
            op_id: task,
            client: self.id,
            op,
            started: now,
            attempts: 0,
            phase: Phase::Begin,
            task: Some(task),
            task_data: false,
        };
        self.ops.insert(key, coord);
        self.begin(now, key, out);
    }

    /// A task's transaction ended (`reply` of its coordinator operation).
    pub(super) fn task_ended(&mut self, task: TaskId, result: Result<(Tid, Cid), OpError>, out: &mut Output<Message, Fact>) {
        self.repl.executions.remove(&task);
        match result {
            // Committed: the controller marks the task FINISHED when the transaction completes.
            Ok(_) => {}
            // Committed before by another execution: nothing to do.
            Err(e) if e.code == ErrorCode::Duplicate => {}
            Err(e) => self.report_task_failure(self.now, task, &e.to_string(), out),
        }
    }

    fn report_task_failure(&mut self, now: Millis, task: TaskId, reason: &str, out: &mut Output<Message, Fact>) {
        self.request(now, DfsRequest::TaskFailed { task, reason: reason.to_string() }, Purpose::TaskReport, out);
    }

    // ----- Management calls ---------------------------------------------------------------------------

    /// A management call made on this data node (answered by an `Admin` fact).
    pub fn on_admin(&mut self, now: Millis, call_id: u64, call: AdminCall, out: &mut Output<Message, Fact>) {
        self.now = now;
        if let Err(e) = call.check_role(self.config.replication.role) {
            out.fact(Fact::Admin { call_id, call, result: Err(e) });
            return;
        }
        self.request(now, DfsRequest::Admin { call: call.clone() }, Purpose::Admin(call_id), out);
        self.repl.admin_calls.insert(call_id, call);
        self.finish(out);
    }

    pub(super) fn on_admin_answer(&mut self, call_id: u64, output: DfsOutput, out: &mut Output<Message, Fact>) {
        let Some(call) = self.repl.admin_calls.remove(&call_id) else { return };
        let result: AdminResult = match output {
            DfsOutput::Admin(result) => result,
            other => Err(AdminError::new(AdminError::UNAVAILABLE, format!("unexpected answer {other:?}"))),
        };
        out.fact(Fact::Admin { call_id, call, result });
    }
}

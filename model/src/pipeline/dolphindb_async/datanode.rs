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
use crate::dfs::{ErrorCode, OpError, Operation, SharedOperation};
use crate::replica::dolphindb_2pc::guest::{Carry, CommitGate, Guest2pc, NodeServices, Report};
use crate::replica::dolphindb_2pc::{Cid, Tid};
use crate::replica::{CallAnswered, PipelineWriteId};

use super::DolphinAsync;
use super::admin::NodeRole;
use super::message::{NodeRequest, ReplMessage, TaskDataError};
use super::{AdminCall, AdminError, AdminResult, ReplFact, Task, TaskId, TaskPayload};

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

/// Correlation of a task failure report (its answer is not needed; management calls use their ids).
const TASK_REPORT: u64 = u64::MAX;

/// Bugs of a data node's part in replication that can be switched on to prove the checkers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeReplBugs {
    /// Task data is written without an fsync even with synchronous persistence.
    pub task_data_without_fsync: bool,
    /// A slave data node replays an `append!` of several rows without its last row: the task
    /// commits, and the slave differs from the master.
    pub replay_drops_last_row: bool,
}

/// A data node's replication settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationSettings {
    /// The role it plays for management calls (and whether it keeps task data).
    pub role: NodeRole,
    /// clusterReplicationSyncPersistence (master).
    pub sync_persistence: bool,
    /// Asynchronous persistence writes task data after this long (master).
    pub async_delay_ms: Millis,
    /// Planted bugs.
    pub bugs: NodeReplBugs,
}

impl Default for ReplicationSettings {
    fn default() -> Self {
        Self { role: NodeRole::Unreplicated, sync_persistence: true, async_delay_ms: 0, bugs: NodeReplBugs::default() }
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
pub struct NodeRepl {
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

impl NodeRepl {
    /// The transactions whose task data this node keeps, on disk or waiting for its write.
    pub fn task_data_kept(&self) -> impl Iterator<Item = Tid> + '_ {
        self.files.iter().chain(self.unwritten.keys()).copied()
    }
}

impl Guest2pc for DolphinAsync {
    type NodeConfig = ReplicationSettings;
    type NodeState = NodeRepl;

    /// Finds the task data on disk at boot.
    fn node_boot(_: &ReplicationSettings, disk: &dyn DiskView) -> NodeRepl {
        let tids = disk.list("tasks/").iter().filter_map(|p| p.strip_prefix("tasks/")?.parse().ok()).collect::<Vec<Tid>>();
        NodeRepl { files: tids.into_iter().collect(), ..NodeRepl::default() }
    }

    /// Reports the task data found at boot.
    fn node_start<M, F: Report<Self>>(repl: &NodeRepl, out: &mut Output<M, F>) {
        let files = &repl.files;
        if !files.is_empty() {
            out.fact_pipeline(ReplFact::TaskDataLoaded { tids: files.iter().copied().collect() });
        }
    }

    /// The transactions whose task data this node keeps (for the controller's garbage collection).
    fn node_beat(repl: &NodeRepl) -> Vec<Tid> {
        repl.files.iter().chain(repl.unwritten.keys()).copied().collect()
    }

    /// Keeps a captured write's task data: synchronously (the commit request waits until the data
    /// is durable) or later in the background.
    fn node_before_commit<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        now: Millis,
        tid: Tid,
        op: &SharedOperation,
        out: &mut Output<M, F>,
    ) -> CommitGate {
        let settings = node.guest_config();
        if settings.sync_persistence {
            write_task_data(node, tid, op, true, out);
            CommitGate::AfterDurable
        } else {
            let due = now + settings.async_delay_ms;
            node.guest_mut().unwritten.insert(tid, (op.clone(), due));
            CommitGate::Now
        }
    }

    /// Periodic work: background task-data writes (master), fetches to send again (slave).
    fn node_tick<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(node: &mut N, now: Millis, out: &mut Output<M, F>) {
        let due: Vec<Tid> = node.guest().unwritten.iter().filter(|(_, (_, at))| now >= *at).map(|(t, _)| *t).collect();
        for tid in due {
            let (op, _) = node.guest_mut().unwritten.remove(&tid).expect("listed");
            write_task_data(node, tid, &op, false, out);
        }
        let mut failed = Vec::new();
        for (id, (task, state)) in node.guest_mut().executions.iter_mut() {
            if let Execution::Fetching { next_ask, tries } = state
                && now >= *next_ask
            {
                if *tries >= FETCH_TRIES {
                    failed.push(*id);
                    continue;
                }
                *tries += 1;
                *next_ask = now + FETCH_TIMEOUT_MS;
                out.send_pipeline(task.source, ReplMessage::FetchTaskData { tid: task.tid });
            }
        }
        for id in failed {
            node.guest_mut().executions.remove(&id);
            report_task_failure(node, now, id, "the master data node holding the task data does not answer", out);
        }
    }

    /// A replication message.
    fn node_on_message<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        now: Millis,
        from: NodeId,
        msg: ReplMessage,
        out: &mut Output<M, F>,
    ) {
        match msg {
            ReplMessage::FetchTaskData { tid } => {
                let repl = node.guest_mut();
                if repl.unwritten.contains_key(&tid) {
                    crate::mark!("repl.task_data_asked_before_persisted");
                    out.send_pipeline(from, ReplMessage::TaskData { tid, data: Err(TaskDataError::NotPersisted) });
                } else if repl.files.contains(&tid) {
                    crate::mark!("repl.task_data_read_from_disk");
                    repl.next_read += 1;
                    let token = TASK_READ_TAG | repl.next_read;
                    repl.reads.insert(token, (tid, from));
                    out.disk(token, DiskOp::Read { path: task_path(tid) });
                } else {
                    out.send_pipeline(from, ReplMessage::TaskData { tid, data: Err(TaskDataError::Missing) });
                }
            }
            ReplMessage::ForgetTaskData { tids } => {
                let mut forgotten = Vec::new();
                for tid in tids {
                    let unwritten = node.guest_mut().unwritten.remove(&tid).is_some();
                    let on_disk = node.guest_mut().files.remove(&tid);
                    if on_disk {
                        let t = node.token();
                        out.disk(t, DiskOp::Remove { path: task_path(tid) });
                    }
                    if unwritten || on_disk {
                        forgotten.push(tid);
                    }
                }
                if !forgotten.is_empty() {
                    out.fact_pipeline(ReplFact::TaskDataForgotten { tids: forgotten });
                }
            }
            ReplMessage::Execute { task } => on_execute(node, now, *task, out),
            ReplMessage::Prefetch { tasks } => {
                let repl = node.guest_mut();
                for t in tasks {
                    let asked = repl.prefetching.get(&t.tid).is_some_and(|&at| now < at + FETCH_TIMEOUT_MS);
                    let known = asked || repl.prefetched.contains_key(&t.tid) || repl.executions.contains_key(&t.id);
                    if t.payload == TaskPayload::AtSource && !known {
                        repl.prefetching.insert(t.tid, now);
                        out.send_pipeline(t.source, ReplMessage::FetchTaskData { tid: t.tid });
                    }
                }
            }
            ReplMessage::TaskData { tid, data } => on_task_data(node, now, tid, data, out),
            ReplMessage::Pull { .. } | ReplMessage::Tasks { .. } | ReplMessage::Report { .. } => {}
        }
    }

    /// A disk completion of a task-data read; false if the token is not one.
    fn node_on_disk<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        done: &DiskCompletion,
        out: &mut Output<M, F>,
    ) -> bool {
        if done.token & TASK_READ_TAG != TASK_READ_TAG {
            return false;
        }
        let Some((tid, to)) = node.guest_mut().reads.remove(&done.token) else { return true };
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
                _ => {
                    crate::mark!("repl.task_data_corrupt");
                    Err(TaskDataError::Corrupt)
                }
            },
        };
        out.send_pipeline(to, ReplMessage::TaskData { tid, data });
        true
    }

    /// The controller leader's answer to a management call forwarded from here (a task failure
    /// report needs none).
    fn node_on_reply<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        correlation: u64,
        reply: Result<AdminResult, String>,
        out: &mut Output<M, F>,
    ) {
        let Some(call) = node.guest_mut().admin_calls.remove(&correlation) else { return };
        let result = reply.unwrap_or_else(|unexpected| Err(AdminError::new(AdminError::UNAVAILABLE, unexpected)));
        out.fact_answer(CallAnswered { call_id: correlation, call, result });
    }

    /// A task's transaction ended.
    fn node_write_ended<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        task: PipelineWriteId,
        result: Result<(Tid, Cid), OpError>,
        out: &mut Output<M, F>,
    ) {
        node.guest_mut().executions.remove(&task);
        match result {
            // Committed: the controller marks the task FINISHED when the transaction completes.
            Ok(_) => {}
            // Committed before by another execution (the EditLog check refused its BEGIN): nothing to do.
            Err(e) if e.code == ErrorCode::Duplicate => crate::mark!("repl.task_begin_refused_as_committed_already"),
            Err(e) => {
                let now = node.now();
                report_task_failure(node, now, task, &e.to_string(), out);
            }
        }
    }

    /// A management call made on this data node (answered by a `CallAnswered` fact).
    fn node_on_call<M: Carry<Self>, F: Report<Self>, N: NodeServices<Self, M, F>>(
        node: &mut N,
        now: Millis,
        call_id: u64,
        call: AdminCall,
        out: &mut Output<M, F>,
    ) {
        if let Err(e) = call.check_role(node.guest_config().role) {
            out.fact_answer(CallAnswered { call_id, call, result: Err(e) });
            return;
        }
        node.request_for_pipeline(now, NodeRequest::Call { call: call.clone() }, call_id, out);
        node.guest_mut().admin_calls.insert(call_id, call);
    }
}

fn write_task_data<M: Carry<DolphinAsync>, F: Report<DolphinAsync>, N: NodeServices<DolphinAsync, M, F>>(
    node: &mut N,
    tid: Tid,
    op: &SharedOperation,
    durable: bool,
    out: &mut Output<M, F>,
) {
    let mut bytes = Vec::new();
    record::encode_value(TASK_RECORD, &**op, &mut bytes);
    let path = task_path(tid);
    node.queue_disk(DiskOp::WriteAll { path: path.clone(), data: bytes });
    if !node.guest_config().bugs.task_data_without_fsync {
        node.queue_disk(DiskOp::Fsync { path });
    }
    node.guest_mut().files.insert(tid);
    out.fact_pipeline(ReplFact::TaskDataWritten { tid, durable });
}

// ----- Slave: executing tasks ------------------------------------------------------------------------

fn on_execute<M: Carry<DolphinAsync>, F: Report<DolphinAsync>, N: NodeServices<DolphinAsync, M, F>>(
    node: &mut N,
    now: Millis,
    task: Task,
    out: &mut Output<M, F>,
) {
    let repl = node.guest_mut();
    if repl.executions.contains_key(&task.id) {
        return; // already under way here (a repeated dispatch)
    }
    match &task.payload {
        TaskPayload::Inline(op) => {
            crate::mark!("repl.task_data_inline");
            let (id, op) = (task.id, op.clone());
            repl.executions.insert(id, (task, Execution::Running));
            start_task(node, now, id, op, out);
        }
        TaskPayload::AtSource => {
            if let Some(op) = repl.prefetched.remove(&task.tid) {
                let id = task.id;
                repl.executions.insert(id, (task, Execution::Running));
                start_task(node, now, id, op, out);
                return;
            }
            out.send_pipeline(task.source, ReplMessage::FetchTaskData { tid: task.tid });
            let id = task.id;
            repl.executions.insert(id, (task, Execution::Fetching { next_ask: now + FETCH_TIMEOUT_MS, tries: 1 }));
        }
    }
}

fn on_task_data<M: Carry<DolphinAsync>, F: Report<DolphinAsync>, N: NodeServices<DolphinAsync, M, F>>(
    node: &mut N,
    now: Millis,
    tid: Tid,
    data: Result<SharedOperation, TaskDataError>,
    out: &mut Output<M, F>,
) {
    let repl = node.guest_mut();
    let prefetch = repl.prefetching.remove(&tid).is_some();
    let fetching = repl.executions.iter().find(|(_, (t, s))| t.tid == tid && matches!(s, Execution::Fetching { .. })).map(|(id, _)| *id);
    let Some(id) = fetching else {
        // An answer to a prefetch: keep good data for the execution to come (a failure is
        // met again, and reported, when the task runs).
        if let (true, Ok(op)) = (prefetch, data) {
            repl.prefetched.insert(tid, op);
            // Over the bound, the data needed last goes (tids follow the master's order,
            // which the slave's queues follow too).
            while repl.prefetched.len() > PREFETCHED_MAX {
                repl.prefetched.pop_last();
            }
        }
        return;
    };
    match data {
        Ok(op) => {
            repl.executions.get_mut(&id).expect("found").1 = Execution::Running;
            start_task(node, now, id, op, out);
        }
        Err(TaskDataError::NotPersisted) => {
            if let Some((_, Execution::Fetching { next_ask, tries })) = repl.executions.get_mut(&id) {
                *next_ask = now + NOT_PERSISTED_RETRY_MS;
                *tries = 0;
            }
        }
        Err(e) => {
            repl.executions.remove(&id);
            report_task_failure(node, now, id, e.reason(), out);
        }
    }
}

fn start_task<M: Carry<DolphinAsync>, F: Report<DolphinAsync>, N: NodeServices<DolphinAsync, M, F>>(
    node: &mut N,
    now: Millis,
    task: TaskId,
    op: SharedOperation,
    out: &mut Output<M, F>,
) {
    out.fact_pipeline(ReplFact::TaskStarted { task });
    let op = if node.guest_config().bugs.replay_drops_last_row { without_last_appended_row(op) } else { op };
    node.submit_write(now, task, op, out);
}

/// `op` without its last row, if it appends several (the planted `replay_drops_last_row`).
fn without_last_appended_row(op: SharedOperation) -> SharedOperation {
    match &*op {
        Operation::Append { db, table, rows } if rows.len() > 1 => {
            Operation::Append { db: db.clone(), table: table.clone(), rows: rows[..rows.len() - 1].to_vec() }.into()
        }
        _ => op,
    }
}

fn report_task_failure<M: Carry<DolphinAsync>, F: Report<DolphinAsync>, N: NodeServices<DolphinAsync, M, F>>(
    node: &mut N,
    now: Millis,
    task: TaskId,
    reason: &str,
    out: &mut Output<M, F>,
) {
    node.request_for_pipeline(now, NodeRequest::TaskFailed { task, reason: reason.to_string() }, TASK_REPORT, out);
}

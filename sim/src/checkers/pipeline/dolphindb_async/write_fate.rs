//! The fate of every write in DolphinDB's deployment (`write-fate`, issue 12): each master client
//! write acknowledged to its client (`OpEnded` ok with its tid and cid), and each whose outcome its
//! client cannot know (`unknown`, or no answer), where it stands on every copy when the run ends:
//!
//! - each replica of each chunk its commit made a version of, named after the master's data node
//!   (`master.datanode.2`): judged by `replica::dolphindb_2pc::write_fate`;
//! - each slave cluster (`slave0`): the task its transaction became, as the slave's facts tell it
//!   (applied with the slave's transaction; pending while not pulled, WAITING, RUNNING, or FAILED
//!   for a reason a retry heals; skipped by a `skipClusterReplicationTask` call answered ok that
//!   named it; lost when FAILED for a reason that can never heal, `rules::never_runs`, the same
//!   classification `replication-liveness` excuses), or why it became no task
//!   (`capture-completeness`'s history: its database not set for replication, the master DISABLED).
//!
//! An indeterminate write is judged like an acknowledged one when one of its transactions
//! committed; otherwise it is `indeterminate` on each slave and on `master` (its chunks are not
//! known). A write that committed only to the controllers' catalog (DDL that writes no chunk) has
//! no replica copy: the catalog is `acknowledged-writes`' and `reference-model`'s to judge.
//!
//! The causes of loss DolphinDB documents are [`CAUSES`], each with its source.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::{AdminCall, AdminResult, TaskId};
use ccrsim_model::replica::dolphindb_2pc::{Cid, Decision, OpOutcome, Tid};

use super::capture_completeness::{Capture, CaptureCompleteness, NoTask};
use super::ledger::AsyncLedger;
use super::rules::{MISSING_TASK_DATA, never_runs};
use crate::checkers::pipeline::event::EntryState;
use crate::checkers::pipeline::ledger::TargetTruth;
use crate::checkers::replica::dolphindb_2pc::ledger::{DfsLedger, LedgerOp};
use crate::checkers::replica::dolphindb_2pc::write_fate::{FinalReplicas, REPLICA_CORRUPTED};
use crate::checkers::write_fate::{Fate, Fates};
use crate::env::time::SimTime;
use crate::topology::{ClusterId, Topology};

/// A write whose database was not set for replication when its transaction began or completed.
pub const NOT_REPLICATED: &str = "database not set for replication";
/// A write whose transaction completed while the master was DISABLED.
pub const MASTER_DISABLED: &str = "master DISABLED by stopClusterReplication";
/// A task whose data the master lost (asynchronous persistence, a crash before the write).
pub const TASK_DATA_MISSING: &str = "task data lost (Missing TaskData)";
/// A task whose data a disk fault damaged.
pub const TASK_DATA_CORRUPT: &str = "task data damaged (Corrupt TaskData)";

/// Every cause of loss the design documents, with its source.
pub const CAUSES: [(&str, &str); 5] = [
    (
        NOT_REPLICATED,
        "DolphinDB cluster replication: only databases set by setDatabaseForClusterReplication are replicated (seed 000 §配置)",
    ),
    (
        MASTER_DISABLED,
        "DolphinDB function reference: stopClusterReplication on the master, tasks created while DISABLED are never enqueued",
    ),
    (
        TASK_DATA_MISSING,
        "DolphinDB: clusterReplicationSyncPersistence=false writes task data asynchronously; a crash before it loses the task, which fails S01040 until an operator skips it",
    ),
    (
        TASK_DATA_CORRUPT,
        "DolphinDB: task data that fails its checksum (S01041/S01042) fails the task until an operator skips it; the nemesis damages it only with replication.corrupt_task_data",
    ),
    (REPLICA_CORRUPTED, "docs/fault-model.md: a chunk file is corrupted only while every other replica is complete and current"),
];

/// The `skipClusterReplicationTask` calls answered ok, per slave and task named: the first, with
/// the controller that answered and when.
#[derive(Debug, Default)]
pub struct SkipCalls {
    named: BTreeMap<(ClusterId, TaskId), (NodeId, SimTime)>,
}

impl SkipCalls {
    /// A call to `slave`'s controller `node` was answered at `at`.
    pub fn on_answer(&mut self, slave: Option<ClusterId>, node: NodeId, at: SimTime, call: &AdminCall, result: &AdminResult) {
        if let (Some(slave), AdminCall::SkipClusterReplicationTask { tasks }, Ok(_)) = (slave, call, result) {
            for &task in tasks {
                self.named.entry((slave, task)).or_insert((node, at));
            }
        }
    }

    /// The first ok'd call that named `task` on `slave`.
    pub fn naming(&self, slave: ClusterId, task: TaskId) -> Option<(NodeId, SimTime)> {
        self.named.get(&(slave, task)).copied()
    }
}

/// What the replication checkers know, for the slaves' copies.
#[derive(Debug, Clone, Copy)]
pub struct Slaves<'a> {
    /// The replication ledger (tasks, each slave's entries).
    pub ledger: &'a AsyncLedger,
    /// The master's capture history.
    pub capture: &'a CaptureCompleteness,
    /// The skip calls answered ok.
    pub skips: &'a SkipCalls,
}

/// A write judged: its client operation, and the transaction that committed it, if one did.
struct Write<'a> {
    op_id: u64,
    op: &'a LedgerOp,
    committed: Option<(Tid, Cid)>,
}

impl Write<'_> {
    /// The write for an engineer: client, op id, operation, outcome, tid and cid.
    fn describe(&self, topology: &Topology) -> String {
        let o = &self.op.op;
        let outcome = match &self.op.outcome {
            Some(OpOutcome::Ok { .. }) => "acknowledged",
            _ => "outcome unknown to its client",
        };
        let tx = self.committed.map_or("never committed".to_string(), |(tid, cid)| format!("tid {tid} cid {cid}"));
        let name = &topology.nodes[self.op.client as usize].name;
        format!(
            "{name} op {} {} {}{} ({outcome}, {tx})",
            self.op_id,
            o.kind(),
            o.database(),
            o.table().map_or(String::new(), |t| format!("/{t}"))
        )
    }
}

/// The write of client operation `op_id`, if it is judged: acknowledged, or of an unknown outcome.
fn write_of<'a>(ledger: &DfsLedger, op_id: u64, op: &'a LedgerOp) -> Option<Write<'a>> {
    let committed = match &op.outcome {
        Some(OpOutcome::Ok { tid, cid }) => Some((*tid, *cid)),
        Some(OpOutcome::Failed(_)) => return None,
        Some(OpOutcome::Unknown) | None => ledger.tids_of((op.client, op_id)).iter().find_map(|tid| match ledger.decisions.get(tid) {
            Some((Decision::Commit(cid), _)) => Some((*tid, *cid)),
            _ => None,
        }),
    };
    Some(Write { op_id, op, committed })
}

/// The fate of every master client write on every copy.
pub fn fates(master: &DfsLedger, replicas: &FinalReplicas, slaves: Option<Slaves<'_>>, topology: &Topology) -> Fates {
    let chunks_by_cid = FinalReplicas::chunks_by_cid(master);
    let slave_ids = topology.slaves();
    let mut fates = Fates::new();
    for (&op_id, op) in &master.ops {
        let Some(write) = write_of(master, op_id, op) else { continue };
        fates.write();
        let Some((tid, cid)) = write.committed else {
            fates.record("master", Fate::Indeterminate, || write.describe(topology));
            for &s in slaves.as_ref().map_or(&[][..], |_| &slave_ids[..]) {
                fates.record(&s.name(), Fate::Indeterminate, || write.describe(topology));
            }
            continue;
        };
        let chunks = chunks_by_cid.get(&cid).map_or(&[][..], Vec::as_slice);
        match replicas.fates(master, chunks, cid) {
            Some(by_node) => {
                for (node, f) in by_node {
                    let copy = &topology.nodes[node as usize].name;
                    fates.record(copy, f.fate, || format!("{}: {}", write.describe(topology), f.shows()));
                }
            }
            None if !chunks.is_empty() => {
                fates.record("master", Fate::Pending, || {
                    format!("{}: no controller leader runs to tell its chunks' replicas", write.describe(topology))
                });
            }
            None => {}
        }
        if let Some(s) = &slaves {
            for &slave in &slave_ids {
                let (fate, shows) = on_slave(s, slave, tid);
                fates.record(&slave.name(), fate, || format!("{}: {shows}", write.describe(topology)));
            }
        }
    }
    fates
}

/// Where master transaction `tid`'s write stands on `slave`, and what the slave shows of it.
fn on_slave(s: &Slaves<'_>, slave: ClusterId, tid: Tid) -> (Fate, String) {
    match s.capture.capture_of(tid) {
        Capture::Task(task) => {
            let target = &s.ledger.pipeline.targets[&slave];
            on_task(target, s.ledger.pipeline.source.truncated_below, s.skips.naming(slave, task), task)
        }
        Capture::NoTask(why, text) => {
            let cause = match why {
                NoTask::DatabaseNotReplicated => NOT_REPLICATED,
                NoTask::MasterDisabled => MASTER_DISABLED,
            };
            (Fate::Lost(cause), format!("became no task: {text}"))
        }
        Capture::Missing(text) => (Fate::Unexplained, format!("became no task, but had to: {text}")),
        Capture::Unknown => (Fate::Pending, "its transaction has not completed on the master (no task yet)".to_string()),
    }
}

/// Where `task` stands on a slave whose entries are `target`; `truncated_below`: the master's
/// truncation; `skip`: the first ok'd skip call that named the task.
fn on_task(target: &TargetTruth, truncated_below: TaskId, skip: Option<(NodeId, SimTime)>, task: TaskId) -> (Fate, String) {
    let Some(e) = target.entries.get(&task) else {
        return if task < truncated_below {
            (Fate::Unexplained, format!("task {task} was truncated on the master (below {truncated_below}) before the slave pulled it"))
        } else {
            (Fate::Pending, format!("task {task} not pulled yet"))
        };
    };
    match e.state {
        EntryState::Finished if e.skipped => match skip {
            Some((node, at)) => (
                Fate::Skipped,
                format!("task {task} skipped by skipClusterReplicationTask answered by node {node} at {}", at.as_secs_f64()),
            ),
            None => (Fate::Unexplained, format!("task {task} FINISHED skipped, but no skipClusterReplicationTask answered ok named it")),
        },
        EntryState::Finished => match e.applied_by.first() {
            Some(tx) => (Fate::Applied, format!("task {task} applied by slave transaction {tx}")),
            None => (Fate::Unexplained, format!("task {task} FINISHED without a slave transaction that committed it")),
        },
        EntryState::Failed => {
            let reason = e.reason.as_deref().unwrap_or("");
            if never_runs(reason) {
                let cause = if reason.contains(MISSING_TASK_DATA) { TASK_DATA_MISSING } else { TASK_DATA_CORRUPT };
                (Fate::Lost(cause), format!("task {task} FAILED, never runs: {reason}"))
            } else {
                (Fate::Pending, format!("task {task} FAILED, retried: {reason}"))
            }
        }
        EntryState::Waiting | EntryState::Running => (Fate::Pending, format!("task {task} {}", e.state.name())),
    }
}

#[cfg(test)]
mod tests {
    use ccrsim_model::pipeline::dolphindb_async::{AdminError, AdminReply, ReplFact};
    use ccrsim_model::replica::dolphindb_2pc::DfsFact;
    use ccrsim_model::replica::dolphindb_2pc::fact::OpOutcome;

    use super::*;
    use crate::checkers::Checker;
    use crate::checkers::pipeline::dolphindb_async::capture_completeness::Seen;
    use crate::checkers::pipeline::dolphindb_async::test_support::{enqueued, follow, ledger, part, pulled, task};
    use crate::checkers::pipeline::test_support::{master, node, slave, topology};

    /// The database every write appends to.
    const DB: &str = "dfs://a";

    /// The ledgers and final replicas of a run: client op `id` runs as transaction `100 + id`
    /// (task `id` if it is enqueued), committed as cid `id`, writing chunk `id`, whose one replica
    /// on `master.datanode.0` holds it.
    struct Run {
        dfs: DfsLedger,
        repl: AsyncLedger,
        capture: CaptureCompleteness,
        skips: SkipCalls,
        replicas: FinalReplicas,
    }

    impl Run {
        fn new() -> Self {
            let dn = node("master.datanode.0");
            let map = (1..=9)
                .map(|c| {
                    (c, vec![crate::checkers::replica::dolphindb_2pc::write_fate::MapReplica { node: dn, version: c, complete: true }])
                })
                .collect();
            let held = (1..=9).map(|c| ((dn, c), c)).collect();
            Run {
                dfs: DfsLedger::default(),
                repl: ledger(),
                capture: CaptureCompleteness::new([master()], [(DB.to_string(), 0)]),
                skips: SkipCalls::default(),
                replicas: FinalReplicas { map: Some(map), held, down: Default::default() },
            }
        }

        fn dfs(&mut self, node: NodeId, fact: DfsFact) {
            if node == master() {
                Checker::<(), Seen<'_>, ()>::on_fact(&mut self.capture, &(), node, &Seen::Dfs(&fact)).expect("a sound capture");
            }
            self.dfs.apply(node, &fact);
        }

        fn repl(&mut self, facts: &[(NodeId, ReplFact)]) {
            for (node, fact) in facts {
                if *node == master() {
                    Checker::<(), Seen<'_>, ()>::on_fact(&mut self.capture, &(), *node, &Seen::Repl(fact)).expect("a sound capture");
                }
            }
            follow(&mut self.repl, facts);
        }

        /// Client op `id` runs as transaction `100 + id`, committed as cid `id` (ended `outcome`,
        /// or no answer), and becomes task `id` if `task`.
        fn write(&mut self, id: u64, outcome: Option<OpOutcome>, task: bool) {
            let client = node("dfsclient.0");
            let t = task_of(id);
            let op = crate::checkers::pipeline::test_support::insert(DB, "t", 1);
            self.dfs(client, DfsFact::OpInvoked { op_id: id, op: op.clone(), at: 0 });
            let begun = DfsFact::TxBegun {
                tid: t.tid,
                kind: t.kind,
                coordinator: t.source,
                op_ref: (client, id),
                locks: t.footprint.clone(),
                online: vec![],
            };
            self.dfs(master(), begun);
            self.dfs(master(), DfsFact::TxDecided { tid: t.tid, decision: Decision::Commit(id), op: Some(op) });
            self.dfs(node("master.datanode.0"), DfsFact::ReplicaCommitted { tid: t.tid, chunk: id, cid: id, digest: 0 });
            self.dfs(master(), DfsFact::TxCompleted { tid: t.tid });
            if task {
                self.repl(&[enqueued(&t)]);
            }
            if let Some(o) = outcome {
                self.dfs(client, DfsFact::OpEnded { op_id: id, outcome: o, at: 1 });
            }
        }

        fn fates(&self) -> Fates {
            let s = Slaves { ledger: &self.repl, capture: &self.capture, skips: &self.skips };
            fates(&self.dfs, &self.replicas, Some(s), &topology())
        }
    }

    fn task_of(id: u64) -> ccrsim_model::pipeline::dolphindb_async::Task {
        let mut t = task(id, id, DB, vec![part(DB, 1)]);
        t.chunks = vec![id];
        t
    }

    fn ok(id: u64) -> Option<OpOutcome> {
        Some(OpOutcome::Ok { tid: 100 + id, cid: id })
    }

    #[test]
    fn applied_pending_failed_and_skipped_tasks_have_their_fates_on_the_slave() {
        let mut run = Run::new();
        for id in 1..=5 {
            run.write(id, ok(id), true);
        }
        let s0 = slave(0);
        let tasks: Vec<_> = (1..=5).map(task_of).collect();
        run.repl(&[(s0, pulled(&tasks[..4]))]);
        run.repl(&[
            (s0, ReplFact::TaskCommitted { task: 1, tid: 501 }),
            (s0, ReplFact::TaskFinished { task: 1, skipped: false }),
            (s0, ReplFact::TaskFailed { task: 2, reason: "S01023 write rejected".into(), failures: 1 }),
            (s0, ReplFact::TaskFailed { task: 3, reason: format!("{MISSING_TASK_DATA}: gone"), failures: 1 }),
            (s0, ReplFact::TaskFinished { task: 4, skipped: true }),
        ]);
        let call = AdminCall::SkipClusterReplicationTask { tasks: vec![4] };
        run.skips.on_answer(Some(ClusterId::Slave(0)), s0, SimTime::from_nanos(7), &call, &Ok(AdminReply::Done));
        let f = run.fates();
        assert_eq!(f.writes(), 5);
        let s = "slave0";
        assert_eq!(f.count(s, Fate::Applied), 1);
        // Task 2 retried, task 5 not pulled yet.
        assert_eq!(f.count(s, Fate::Pending), 2);
        assert_eq!(f.count(s, Fate::Lost(TASK_DATA_MISSING)), 1);
        assert_eq!(f.count(s, Fate::Skipped), 1);
        assert_eq!(f.count("master.datanode.0", Fate::Applied), 5);
        // Slave 1 pulled nothing: every write pending there.
        assert_eq!(f.count("slave1", Fate::Pending), 5);
        assert_eq!(f.verdict(), Ok(()));
        let summary = f.summary();
        assert!(summary.examples["slave0 skipped"].contains(&format!("answered by node {s0}")), "{:?}", summary.examples);
        assert!(
            summary.examples["slave0 applied"].contains("dfsclient.0 op 1 APPEND dfs://a/t (acknowledged, tid 101 cid 1)"),
            "{:?}",
            summary.examples
        );
    }

    #[test]
    fn a_task_skipped_without_a_call_naming_it_is_unexplained() {
        let mut run = Run::new();
        run.write(1, ok(1), true);
        run.write(2, ok(2), true);
        let s0 = slave(0);
        run.repl(&[(s0, pulled(&[task_of(1), task_of(2)])), (s0, ReplFact::TaskFinished { task: 1, skipped: true })]);
        // A call naming another task, and one naming task 1 answered with an error, do not count.
        let named = |tasks| AdminCall::SkipClusterReplicationTask { tasks };
        run.skips.on_answer(Some(ClusterId::Slave(0)), s0, SimTime::from_nanos(7), &named(vec![2]), &Ok(AdminReply::Done));
        run.skips.on_answer(Some(ClusterId::Slave(0)), s0, SimTime::from_nanos(8), &named(vec![1]), &Err(AdminError::not_stopped()));
        let err = run.fates().verdict().unwrap_err();
        assert!(
            err.contains("slave0: dfsclient.0 op 1 APPEND") && err.contains("no skipClusterReplicationTask answered ok named it"),
            "{err}"
        );
    }

    #[test]
    fn a_task_truncated_before_the_slave_pulled_it_is_unexplained() {
        let mut run = Run::new();
        run.write(1, ok(1), true);
        run.repl(&[(master(), ReplFact::Truncated { below: 2 })]);
        let err = run.fates().verdict().unwrap_err();
        assert!(err.contains("truncated on the master (below 2) before the slave pulled it"), "{err}");
    }

    #[test]
    fn writes_that_became_no_task_name_why_and_a_missing_task_is_unexplained() {
        let mut run = Run::new();
        // The master DISABLED: the completion of op 1 becomes no task, rightly.
        run.repl(&[(master(), ReplFact::StateChanged { state: ccrsim_model::pipeline::dolphindb_async::ReplicationState::Disabled })]);
        run.write(1, ok(1), false);
        let f = run.fates();
        assert_eq!(f.count("slave0", Fate::Lost(MASTER_DISABLED)), 1);
        assert_eq!(f.verdict(), Ok(()));

        // A database never set for replication.
        let mut run = Run::new();
        run.capture = CaptureCompleteness::new([master()], []);
        run.write(1, ok(1), false);
        assert_eq!(run.fates().count("slave1", Fate::Lost(NOT_REPLICATED)), 1);

        // Enabled and ENABLED, but no task: capture-completeness's history says it had to.
        let mut run = Run::new();
        let client = node("dfsclient.0");
        let t = task_of(1);
        let op = crate::checkers::pipeline::test_support::insert(DB, "t", 1);
        run.dfs(client, DfsFact::OpInvoked { op_id: 1, op: op.clone(), at: 0 });
        run.dfs(
            master(),
            DfsFact::TxBegun {
                tid: t.tid,
                kind: t.kind,
                coordinator: t.source,
                op_ref: (client, 1),
                locks: t.footprint.clone(),
                online: vec![],
            },
        );
        run.dfs(master(), DfsFact::TxDecided { tid: t.tid, decision: Decision::Commit(1), op: Some(op) });
        run.dfs(master(), DfsFact::TxCompleted { tid: t.tid });
        run.dfs(client, DfsFact::OpEnded { op_id: 1, outcome: OpOutcome::Ok { tid: t.tid, cid: 1 }, at: 1 });
        let err = run.fates().verdict().unwrap_err();
        assert!(err.contains("became no task, but had to"), "{err}");
    }

    #[test]
    fn an_indeterminate_write_is_judged_like_an_acknowledged_one_if_it_committed() {
        let mut run = Run::new();
        run.write(1, Some(OpOutcome::Unknown), true);
        let client = node("dfsclient.0");
        // Op 2 never began anywhere; op 3 failed (not judged).
        run.dfs(client, DfsFact::OpInvoked { op_id: 2, op: crate::checkers::pipeline::test_support::insert(DB, "t", 1), at: 0 });
        run.dfs(client, DfsFact::OpEnded { op_id: 2, outcome: OpOutcome::Unknown, at: 1 });
        run.dfs(client, DfsFact::OpInvoked { op_id: 3, op: crate::checkers::pipeline::test_support::insert(DB, "t", 1), at: 0 });
        run.dfs(
            client,
            DfsFact::OpEnded {
                op_id: 3,
                outcome: OpOutcome::Failed(ccrsim_model::dfs::OpError::new(ccrsim_model::dfs::ErrorCode::Aborted, "x")),
                at: 1,
            },
        );
        let f = run.fates();
        assert_eq!(f.writes(), 2);
        assert_eq!(f.count("master.datanode.0", Fate::Applied), 1);
        assert_eq!(f.count("slave0", Fate::Pending), 1);
        assert_eq!(f.count("slave0", Fate::Indeterminate), 1);
        assert_eq!(f.count("master", Fate::Indeterminate), 1);
        assert_eq!(f.verdict(), Ok(()));
    }

    #[test]
    fn a_task_whose_data_is_damaged_is_lost_with_that_cause_and_a_retried_failure_is_pending() {
        use crate::checkers::pipeline::dolphindb_async::rules::CORRUPT_TASK_DATA;
        use crate::checkers::pipeline::ledger::EntryTruth;
        let failed =
            |reason: String| EntryTruth { state: EntryState::Failed, applied_by: Default::default(), skipped: false, reason: Some(reason) };
        let mut target = TargetTruth::default();
        target.entries.insert(1, failed(format!("{CORRUPT_TASK_DATA}: checksum")));
        target.entries.insert(2, failed("TaskData not yet persisted".into()));
        assert_eq!(on_task(&target, 1, None, 1).0, Fate::Lost(TASK_DATA_CORRUPT));
        assert_eq!(on_task(&target, 1, None, 2).0, Fate::Pending);
    }
}

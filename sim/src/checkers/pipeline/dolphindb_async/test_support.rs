//! What the tests of DolphinDB's replication checkers share, beside the pipeline's deployment
//! (`pipeline::test_support`): the ledger, tasks writing table `t` of `dfs://a` (execution set 0)
//! or `dfs://b` (set 1), the facts that move them, and a runner that judges each fact against the
//! ledger as it was before it and then has the ledger follow it (as the design's checkers do).

#![cfg(test)]

use ccrsim_model::core::digest::stable_hash;
use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::{LockKey, OperationKind, Value};
use ccrsim_model::pipeline::dolphindb_async::task::TaskPayload;
use ccrsim_model::pipeline::dolphindb_async::{GroupId, ReplFact, Task, TaskId};

use super::ledger::{AsyncLedger, event_of};
use super::rules::queue_of;
use crate::checkers::Checker;
use crate::checkers::pipeline::test_support::{QUEUES, insert, master, node, scenario, topology};

/// An empty ledger of the pipeline's deployment.
pub fn ledger() -> AsyncLedger {
    AsyncLedger::new(&topology(), &scenario().replication.databases, |_| QUEUES)
}

/// Has the ledger follow `facts`, judging none.
pub fn follow(ledger: &mut AsyncLedger, facts: &[(NodeId, ReplFact)]) {
    for (node, fact) in facts {
        ledger.apply(*node, fact, event_of(fact).as_ref());
    }
}

/// Judges `facts` in order with `checker`, each against the ledger before it, which then follows
/// it; the first refusal.
pub fn run<C: Checker<AsyncLedger, ReplFact, ()>>(
    checker: &mut C,
    ledger: &mut AsyncLedger,
    facts: &[(NodeId, ReplFact)],
) -> Result<(), String> {
    for (node, fact) in facts {
        checker.on_fact(ledger, *node, fact)?;
        ledger.apply(*node, fact, event_of(fact).as_ref());
    }
    Ok(())
}

/// The lock on partition `p` of table `t` of `db`.
pub fn part(db: &str, p: i64) -> LockKey {
    LockKey::Partition(db.into(), "t".into(), Value::Long(p))
}

/// Task `id` of conflict group `group`, an APPEND to `db` (`dfs://a` runs in execution set 0,
/// anything else in set 1) under `footprint`, coordinated by the master's first data node.
pub fn task(id: TaskId, group: GroupId, db: &str, footprint: Vec<LockKey>) -> Task {
    Task {
        id,
        tid: 100 + id,
        cid: id,
        group,
        kind: OperationKind::APPEND,
        db: db.into(),
        table: Some("t".into()),
        footprint,
        chunks: vec![id],
        source: node("master.datanode.0"),
        submit_ms: 10 * id,
        exec_set: u8::from(db != "dfs://a"),
        payload: TaskPayload::AtSource,
    }
}

/// The master enqueued `task`.
pub fn enqueued(task: &Task) -> (NodeId, ReplFact) {
    (master(), ReplFact::Enqueued { task: Box::new(task.clone()), op: insert(&task.db, "t", 1) })
}

/// A slave pulled `tasks` (consecutive, as enqueued).
pub fn pulled(tasks: &[Task]) -> ReplFact {
    let ids: Vec<(TaskId, u64)> = tasks.iter().map(|t| (t.id, stable_hash(t))).collect();
    ReplFact::Pulled { from: ids[0].0, offset: ids[ids.len() - 1].0, tasks: ids }
}

/// The slave sent `task` to data node `to`, in its queue.
pub fn dispatched(task: &Task, to: NodeId) -> ReplFact {
    ReplFact::Dispatched { task: task.id, node: to, queue: (task.exec_set, queue_of(&task.db, QUEUES)), group: task.group }
}

/// The slave committed `task` under its transaction `500 + id` and finished it.
pub fn done(task: &Task) -> [ReplFact; 2] {
    [ReplFact::TaskCommitted { task: task.id, tid: 500 + task.id }, ReplFact::TaskFinished { task: task.id, skipped: false }]
}

//! Task data durability (DolphinDB clusterReplicationSyncPersistence): with synchronous
//! persistence, the data of every task is on its coordinator's disk before the commit decision,
//! so a slave never finds it missing or damaged unless the nemesis corrupted that disk. (With
//! asynchronous persistence a crash may lose it: then the task must fail with "Missing TaskData",
//! visible in the status, never diverge silently; the eventual-consistency checker sees to that.)

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::ReplFact;

use super::ledger::AsyncLedger;
use super::rules::{CORRUPT_TASK_DATA, MISSING_TASK_DATA};
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "task-data-durability";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: clusterReplicationSyncPersistence, Missing TaskData (S01040)";

/// Judges every failed task.
#[derive(Debug, Default)]
pub struct TaskDataDurability {
    /// clusterReplicationSyncPersistence: task data is fsynced before the commit decision.
    pub sync: bool,
}

impl<V: ?Sized> Checker<AsyncLedger, ReplFact, V> for TaskDataDurability {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &AsyncLedger, _: NodeId, fact: &ReplFact) -> Result<(), String> {
        check(ledger, fact, self.sync)
    }
}

/// Judges a `TaskFailed` fact; `sync` is the scenario's persistence mode.
fn check(ledger: &AsyncLedger, fact: &ReplFact, sync: bool) -> Result<(), String> {
    let ReplFact::TaskFailed { task, reason, .. } = fact else { return Ok(()) };
    let lost = reason.contains(MISSING_TASK_DATA);
    let damaged = !lost && reason.contains(CORRUPT_TASK_DATA);
    if !lost && !damaged {
        return Ok(());
    }
    let Some(t) = ledger.tasks.get(task) else { return Ok(()) };
    let source: NodeId = t.source;
    if ledger.corrupted.contains(&source) {
        return Ok(());
    }
    if damaged {
        return Err(format!("task {task}: its data on node {source} is damaged, and the nemesis never corrupted that disk"));
    }
    if sync {
        return Err(format!("task {task}: its data is missing on node {source} although it was persisted synchronously"));
    }
    Ok(())
}

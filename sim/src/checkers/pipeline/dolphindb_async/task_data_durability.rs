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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::pipeline::dolphindb_async::test_support::{enqueued, ledger, part, pulled, run, task};
    use crate::checkers::pipeline::test_support::{node, slave};

    /// Slave 0 pulled task 1, whose execution then failed with `reason`; the persistence mode is
    /// `sync`, and the nemesis corrupted the disk of the task's coordinator if `corrupted`.
    fn failed(reason: &str, sync: bool, corrupted: bool) -> Result<(), String> {
        let t = task(1, 1, "dfs://a", vec![part("dfs://a", 1)]);
        let mut l = ledger();
        if corrupted {
            l.corrupted.insert(node("master.datanode.0"));
        }
        let failure = ReplFact::TaskFailed { task: 1, reason: format!("{reason}: no data for tid 101"), failures: 1 };
        let facts = [enqueued(&t), (slave(0), pulled(std::slice::from_ref(&t))), (slave(0), failure)];
        run(&mut TaskDataDurability { sync }, &mut l, &facts)
    }

    #[test]
    fn task_data_lost_without_synchronous_persistence_or_damaged_by_the_nemesis_passes() {
        // Asynchronous persistence may lose task data in a crash: the task fails, visibly.
        assert_eq!(failed(MISSING_TASK_DATA, false, false), Ok(()));
        assert_eq!(failed(CORRUPT_TASK_DATA, true, true), Ok(()));
        assert_eq!(failed(MISSING_TASK_DATA, true, true), Ok(()));
        // Other failures are not about task data.
        assert_eq!(failed("S01023 write rejected", true, false), Ok(()));
    }

    #[test]
    fn synchronously_persisted_task_data_missing_is_refused() {
        let err = failed(MISSING_TASK_DATA, true, false).unwrap_err();
        assert!(err.contains("its data is missing on node") && err.contains("although it was persisted synchronously"), "{err}");
    }

    #[test]
    fn task_data_damaged_on_a_disk_the_nemesis_spared_is_refused() {
        let err = failed(CORRUPT_TASK_DATA, false, false).unwrap_err();
        assert!(err.contains("is damaged, and the nemesis never corrupted that disk"), "{err}");
    }
}

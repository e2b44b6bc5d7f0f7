//! Task data durability (DolphinDB clusterReplicationSyncPersistence): with synchronous
//! persistence, the data of every task is on its coordinator's disk before the commit decision,
//! so a slave never finds it missing or damaged unless the nemesis corrupted that disk. (With
//! asynchronous persistence a crash may lose it: then the task must fail with "Missing TaskData",
//! visible in the status, never diverge silently; the eventual-consistency checker sees to that.)
//! And, per master data node, whatever the persistence: it deletes task data only as garbage
//! collection allows, of a truncated task or of a transaction that ended without a task.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::ReplFact;

use super::ledger::AsyncLedger;
use super::rules::{CORRUPT_TASK_DATA, MISSING_TASK_DATA};
use crate::checkers::Checker;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// The checker's name.
pub const NAME: &str = "task-data-durability";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: clusterReplicationSyncPersistence, Missing TaskData (S01040); task data of truncated tasks deleted (isTruncated)";

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

/// What judging a deletion of task data needs: the replication ledger (tasks, truncation) and the
/// master's DFS ledger (which transactions ended).
pub struct Forgetting<'a> {
    /// The replication ledger.
    pub repl: &'a AsyncLedger,
    /// The master's DFS ledger.
    pub dfs: &'a DfsLedger,
}

impl<V: ?Sized> Checker<Forgetting<'_>, ReplFact, V> for TaskDataDurability {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, known: &Forgetting<'_>, node: NodeId, fact: &ReplFact) -> Result<(), String> {
        let ReplFact::TaskDataForgotten { tids } = fact else { return Ok(()) };
        let truncated_below = known.repl.pipeline.source.truncated_below;
        for &tid in tids {
            match known.repl.tasks.values().find(|t| t.tid == tid) {
                Some(t) if t.id >= truncated_below => {
                    return Err(format!(
                        "data node {node} deleted the data of transaction {tid}, whose task {} is not truncated (truncated below {truncated_below})",
                        t.id
                    ));
                }
                Some(_) => {}
                None if known.dfs.txs.get(&tid).is_none_or(|t| t.open) => {
                    return Err(format!("data node {node} deleted the data of transaction {tid}, which has not ended"));
                }
                None => {}
            }
        }
        Ok(())
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

    /// Tasks 1 and 2 (transactions 101, 102) enqueued and completed, the queue truncated below
    /// 2; transaction 7 rolled back and transaction 8 still open, neither a task; then master data
    /// node 0 reports deleting the data of `tids`.
    fn forgotten(tids: &[u64]) -> Result<(), String> {
        use crate::checkers::replica::dolphindb_2pc::test_support::{begun, commit, rollback};
        let (t1, t2) = (task(1, 1, "dfs://a", vec![part("dfs://a", 1)]), task(2, 1, "dfs://a", vec![part("dfs://a", 2)]));
        let mut repl = ledger();
        let facts = [enqueued(&t1), enqueued(&t2), (crate::checkers::pipeline::test_support::master(), ReplFact::Truncated { below: 2 })];
        crate::checkers::pipeline::dolphindb_async::test_support::follow(&mut repl, &facts);
        let mut dfs = DfsLedger::default();
        for (tid, p) in [(101, 1), (102, 2), (7, 3), (8, 4)] {
            let (n, f) = begun(tid, tid, vec![part("dfs://a", p)]);
            dfs.apply(n, &f);
        }
        for (n, f) in [commit(101, 1), commit(102, 2), rollback(7)] {
            dfs.apply(n, &f);
        }
        for tid in [101, 102] {
            dfs.apply(0, &ccrsim_model::replica::dolphindb_2pc::DfsFact::TxCompleted { tid });
        }
        let fact = ReplFact::TaskDataForgotten { tids: tids.to_vec() };
        Checker::<Forgetting<'_>, ReplFact, ()>::on_fact(
            &mut TaskDataDurability { sync: true },
            &Forgetting { repl: &repl, dfs: &dfs },
            node("master.datanode.0"),
            &fact,
        )
    }

    #[test]
    fn deleting_the_data_of_a_truncated_task_or_of_an_ended_transaction_without_a_task_passes() {
        assert_eq!(forgotten(&[101, 7]), Ok(()));
    }

    #[test]
    fn deleting_the_data_of_an_untruncated_task_or_of_an_open_transaction_is_refused() {
        let e = forgotten(&[101, 102]).unwrap_err();
        assert!(e.contains("deleted the data of transaction 102, whose task 2 is not truncated (truncated below 2)"), "{e}");
        let e = forgotten(&[8]).unwrap_err();
        assert!(e.contains("deleted the data of transaction 8, which has not ended"), "{e}");
    }
}

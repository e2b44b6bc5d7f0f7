//! Slave order (DolphinDB: a queue starts the next group only when every task of the current one
//! FINISHED; conflicting tasks keep their master order): a task is dispatched only when every
//! task of an earlier group in its execution queue finished, and a task commits on the slave only
//! after every earlier task it conflicts with committed or finished (skipped by hand, or, in a
//! broken system, marked FINISHED without running: exactly-once refuses that).

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::ReplFact;

use super::ledger::AsyncLedger;
use crate::checkers::Checker;
use crate::checkers::oracle::footprints_overlap;

/// The checker's name.
pub const NAME: &str = "slave-order";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: per-queue group barrier, conflicting tasks in taskId order (DolphinDB's cluster replication manual, how it works)";

/// Judges every dispatch and every commit of a task on a slave.
#[derive(Debug, Default)]
pub struct SlaveOrder;

impl<V: ?Sized> Checker<AsyncLedger, ReplFact, V> for SlaveOrder {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &AsyncLedger, node: NodeId, fact: &ReplFact) -> Result<(), String> {
        let Some(cluster) = ledger.slave_of(node) else { return Ok(()) };
        let slave = &ledger.slaves[&cluster];
        let task_of = |id| ledger.tasks.get(&id);
        match fact {
            ReplFact::Dispatched { task, group, .. } => {
                let Some(t) = task_of(*task) else { return Ok(()) };
                let queue = ledger.queue_of(cluster, t);
                match slave.unfinished_by_queue.get(&queue).and_then(|q| q.first()) {
                    Some(&(g, u)) if g < *group => Err(format!(
                        "task {task} of group {group} dispatched while task {u} of group {g} in its queue {queue:?} is unfinished"
                    )),
                    _ => Ok(()),
                }
            }
            ReplFact::TaskCommitted { task, .. } => {
                let Some(t) = task_of(*task) else { return Ok(()) };
                let Some(open) = slave.open_by_db.get(&t.db) else { return Ok(()) };
                for &earlier in open.range(..*task) {
                    let u = task_of(earlier).expect("open tasks were enqueued");
                    if footprints_overlap(&u.footprint, &t.footprint) {
                        return Err(format!(
                            "task {task} ({} {:?}) committed before the earlier conflicting task {earlier} ({} {:?})",
                            t.kind, t.footprint, u.kind, u.footprint
                        ));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use ccrsim_model::pipeline::dolphindb_async::Task;

    use super::*;
    use crate::checkers::pipeline::dolphindb_async::test_support::{dispatched, done, enqueued, ledger, part, pulled, run, task};
    use crate::checkers::pipeline::test_support::{node, slave};

    /// Task 1 (group 1) and task 3 (group 2) both write partition 1 of `dfs://a`; task 2 (group
    /// 1) writes `dfs://b`, in the other execution set, so in another queue.
    fn tasks() -> [Task; 3] {
        [
            task(1, 1, "dfs://a", vec![part("dfs://a", 1)]),
            task(2, 1, "dfs://b", vec![part("dfs://b", 1)]),
            task(3, 2, "dfs://a", vec![part("dfs://a", 1)]),
        ]
    }

    /// The master enqueued [`tasks`], slave 0 pulled them, then did `facts`.
    fn judged(facts: &[ReplFact]) -> Result<(), String> {
        let (s0, tasks) = (slave(0), tasks());
        let mut all: Vec<_> = tasks.iter().map(enqueued).collect();
        all.push((s0, pulled(&tasks)));
        all.extend(facts.iter().map(|f| (s0, f.clone())));
        run(&mut SlaveOrder, &mut ledger(), &all)
    }

    fn data() -> NodeId {
        node("slave0.datanode.0")
    }

    #[test]
    fn a_group_runs_once_the_earlier_group_of_its_queue_finished() {
        let [t1, t2, t3] = tasks();
        let mut facts = vec![dispatched(&t1, data()), dispatched(&t2, data())];
        facts.extend(done(&t1));
        // Task 2 is still running, but in another queue: it holds nothing back here.
        facts.push(dispatched(&t3, data()));
        facts.extend(done(&t3));
        assert_eq!(judged(&facts), Ok(()));
    }

    #[test]
    fn a_group_dispatched_before_the_earlier_group_of_its_queue_finished_is_refused() {
        let [t1, _, t3] = tasks();
        let err = judged(&[dispatched(&t1, data()), dispatched(&t3, data())]).unwrap_err();
        assert!(err.contains("task 3 of group 2 dispatched while task 1 of group 1 in its queue"), "{err}");
    }

    #[test]
    fn a_commit_after_earlier_conflicting_tasks_ended_passes() {
        // Task 1 was skipped by hand: it no longer holds task 3 back.
        let [_, t2, t3] = tasks();
        let facts = [ReplFact::TaskFinished { task: 1, skipped: true }, done(&t3)[0].clone(), done(&t2)[0].clone()];
        assert_eq!(judged(&facts), Ok(()));
    }

    #[test]
    fn a_commit_overtaking_an_earlier_conflicting_task_is_refused() {
        let [_, _, t3] = tasks();
        let err = judged(&done(&t3)).unwrap_err();
        assert!(err.contains("task 3") && err.contains("committed before the earlier conflicting task 1"), "{err}");
    }
}

//! Grouping (DolphinDB: the master groups tasks by chunk conflicts; tasks of one group may run in
//! parallel on the slave): task ids are dense in enqueue order, group ids never decrease, and a task
//! opens a new group exactly when it conflicts with a member of the current one. Hence no two tasks
//! of a group conflict and every earlier conflicting task sits in an earlier group.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::ReplFact;

use super::ledger::AsyncLedger;
use crate::checkers::Checker;
use crate::checkers::oracle::footprints_overlap;

/// The checker's name.
pub const NAME: &str = "grouping";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: conflict detection on written chunk sets and groupId assignment (DolphinDB's cluster replication manual, how it works)";

/// Judges every task enqueued against the queue so far.
#[derive(Debug, Default)]
pub struct Grouping;

impl<V: ?Sized> Checker<AsyncLedger, ReplFact, V> for Grouping {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &AsyncLedger, _node: NodeId, fact: &ReplFact) -> Result<(), String> {
        let ReplFact::Enqueued { task, .. } = fact else { return Ok(()) };
        let queue = &ledger.tasks;
        if let Some(known) = queue.get(&task.id) {
            // A report of an apply already reported: every controller must have enqueued the same task.
            return if known == &**task { Ok(()) } else { Err(format!("controllers disagree on task {}: {known:?} / {task:?}", task.id)) };
        }
        let Some((last_id, last)) = queue.last_key_value() else {
            return if (task.id, task.group) == (1, 1) {
                Ok(())
            } else {
                Err(format!("the first task is {} in group {}, not 1 in group 1", task.id, task.group))
            };
        };
        if task.id != last_id + 1 {
            return Err(format!("task id {} follows {last_id}: task ids must be dense", task.id));
        }
        let clash = queue.values().rev().take_while(|t| t.group == last.group).find(|m| footprints_overlap(&m.footprint, &task.footprint));
        match (task.group, clash) {
            (g, None) if g == last.group => Ok(()),
            (g, Some(_)) if g == last.group + 1 => Ok(()),
            (g, Some(m)) if g == last.group => Err(format!(
                "task {} ({} {:?}) joined group {g} although it conflicts with member task {} ({} {:?})",
                task.id, task.kind, task.footprint, m.id, m.kind, m.footprint
            )),
            (g, None) => {
                Err(format!("task {} opened group {g} after group {} although it conflicts with none of its members", task.id, last.group))
            }
            (g, Some(_)) => Err(format!("task {} got group {g} after group {}: groups go up one at a time", task.id, last.group)),
        }
    }
}

#[cfg(test)]
mod tests {
    use ccrsim_model::dfs::LockKey;
    use ccrsim_model::pipeline::dolphindb_async::Task;

    use super::*;
    use crate::checkers::pipeline::dolphindb_async::test_support::{enqueued, ledger, part, run, task};

    fn judged(tasks: &[Task]) -> Result<(), String> {
        let facts: Vec<_> = tasks.iter().map(enqueued).collect();
        run(&mut Grouping, &mut ledger(), &facts)
    }

    #[test]
    fn a_group_closes_exactly_at_a_conflict_with_one_of_its_members() {
        let t1 = task(1, 1, "dfs://a", vec![part("dfs://a", 1)]);
        let tasks = [
            t1.clone(),
            task(2, 1, "dfs://a", vec![part("dfs://a", 2)]),
            // Conflicts with task 1.
            task(3, 2, "dfs://a", vec![part("dfs://a", 1)]),
            // Conflicts with task 2 only, which is in an earlier group.
            task(4, 2, "dfs://a", vec![part("dfs://a", 2)]),
            // A database lock covers every chunk of it: it conflicts with task 4.
            task(5, 3, "dfs://a", vec![LockKey::Db("dfs://a".into())]),
            // Another controller reports enqueuing task 1 again, alike.
            t1,
        ];
        assert_eq!(judged(&tasks), Ok(()));
    }

    #[test]
    fn a_first_task_other_than_1_in_group_1_is_refused() {
        let err = judged(&[task(1, 2, "dfs://a", vec![part("dfs://a", 1)])]).unwrap_err();
        assert!(err.contains("the first task is 1 in group 2, not 1 in group 1"), "{err}");
    }

    #[test]
    fn a_gap_in_task_ids_is_refused() {
        let err = judged(&[task(1, 1, "dfs://a", vec![part("dfs://a", 1)]), task(3, 1, "dfs://a", vec![part("dfs://a", 2)])]).unwrap_err();
        assert!(err.contains("task id 3 follows 1: task ids must be dense"), "{err}");
    }

    #[test]
    fn a_task_joining_a_group_it_conflicts_with_is_refused() {
        let err = judged(&[task(1, 1, "dfs://a", vec![part("dfs://a", 1)]), task(2, 1, "dfs://a", vec![part("dfs://a", 1)])]).unwrap_err();
        assert!(err.contains("joined group 1 although it conflicts with member task 1"), "{err}");
    }

    #[test]
    fn a_task_opening_a_group_without_a_conflict_is_refused() {
        let err = judged(&[task(1, 1, "dfs://a", vec![part("dfs://a", 1)]), task(2, 2, "dfs://b", vec![part("dfs://b", 1)])]).unwrap_err();
        assert!(err.contains("task 2 opened group 2 after group 1 although it conflicts with none of its members"), "{err}");
    }

    #[test]
    fn a_group_id_jumping_ahead_is_refused() {
        let err = judged(&[task(1, 1, "dfs://a", vec![part("dfs://a", 1)]), task(2, 3, "dfs://a", vec![part("dfs://a", 1)])]).unwrap_err();
        assert!(err.contains("task 2 got group 3 after group 1: groups go up one at a time"), "{err}");
    }

    #[test]
    fn controllers_enqueuing_different_tasks_under_one_id_is_refused() {
        let err = judged(&[task(1, 1, "dfs://a", vec![part("dfs://a", 1)]), task(1, 1, "dfs://a", vec![part("dfs://a", 2)])]).unwrap_err();
        assert!(err.contains("controllers disagree on task 1"), "{err}");
    }
}

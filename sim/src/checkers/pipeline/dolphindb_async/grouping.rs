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

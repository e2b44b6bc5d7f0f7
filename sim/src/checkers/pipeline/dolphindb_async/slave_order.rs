//! Slave order (DolphinDB: a queue starts the next group only when every task of the current one
//! FINISHED; conflicting tasks keep their master order): a task is dispatched only when every
//! task of an earlier group in its execution queue finished, and a task commits on the slave only
//! after every earlier task it conflicts with committed or finished (skipped by hand, or, in a
//! broken system, marked FINISHED without running: that divergence is eventual-consistency's).

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

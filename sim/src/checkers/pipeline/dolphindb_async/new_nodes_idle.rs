//! Data nodes added after start never get tasks, and every task runs on its queue's node
//! (DolphinDB: queues map to data nodes by hashing over the original node count): a dispatch goes
//! to a data node the slave started with, and to the one the checkers' own rules give the task's
//! queue (its database's queue, `rules::queue_of`, onto the original nodes, `rules::node_of_queue`).

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::ReplFact;

use super::ledger::AsyncLedger;
use super::rules::node_of_queue;
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "new-nodes-idle";
/// Where the property comes from.
pub const SOURCE: &str =
    "DolphinDB cluster replication: a queue runs on original data node queue mod the original data-node count; added nodes get no tasks";

/// Judges every dispatch.
#[derive(Debug, Default)]
pub struct NewNodesIdle;

impl<V: ?Sized> Checker<AsyncLedger, ReplFact, V> for NewNodesIdle {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &AsyncLedger, node: NodeId, fact: &ReplFact) -> Result<(), String> {
        let ReplFact::Dispatched { task, node: target, .. } = fact else { return Ok(()) };
        let Some(slave) = ledger.slave_of(node) else { return Ok(()) };
        let Some(original) = ledger.original_nodes.get(&slave).filter(|o| o.contains(target)) else {
            return Err(format!("task {task} dispatched to data node {target}, which {} did not start with", slave.name()));
        };
        let Some(t) = ledger.tasks.get(task) else { return Ok(()) };
        let (_, queue) = ledger.queue_of(slave, t);
        let expected = node_of_queue(queue, original);
        if *target != expected {
            return Err(format!(
                "task {task} of {} (queue {queue}) dispatched to data node {target}, not to its queue's node {expected} (queue mod {} original data nodes)",
                t.db,
                original.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::pipeline::dolphindb_async::rules::queue_of;
    use crate::checkers::pipeline::dolphindb_async::test_support::{dispatched, enqueued, ledger, part, pulled, run, task};
    use crate::checkers::pipeline::test_support::{QUEUES, node, slave};

    /// Slave 0 pulled task 1 and sent it to data node `to`.
    fn dispatched_to(to: &str) -> Result<(), String> {
        let t = task(1, 1, "dfs://a", vec![part("dfs://a", 1)]);
        let facts = [enqueued(&t), (slave(0), pulled(std::slice::from_ref(&t))), (slave(0), dispatched(&t, node(to)))];
        run(&mut NewNodesIdle, &mut ledger(), &facts)
    }

    /// The original data node that runs task 1's queue, and the other one.
    fn queue_node_and_other() -> (&'static str, &'static str) {
        match queue_of("dfs://a", QUEUES) % 2 {
            0 => ("slave0.datanode.0", "slave0.datanode.1"),
            _ => ("slave0.datanode.1", "slave0.datanode.0"),
        }
    }

    #[test]
    fn a_task_sent_to_its_queues_data_node_passes() {
        assert_eq!(dispatched_to(queue_node_and_other().0), Ok(()));
    }

    #[test]
    fn a_task_sent_to_another_original_data_node_is_refused() {
        let (right, wrong) = queue_node_and_other();
        let err = dispatched_to(wrong).unwrap_err();
        let want =
            format!("dispatched to data node {}, not to its queue's node {} (queue mod 2 original data nodes)", node(wrong), node(right));
        assert!(err.contains(&want), "{err}");
    }

    #[test]
    fn a_task_sent_to_an_added_data_node_is_refused() {
        let err = dispatched_to("slave0.datanode.2").unwrap_err();
        assert!(err.contains(&format!("dispatched to data node {}, which slave0 did not start with", node("slave0.datanode.2"))), "{err}");
    }
}

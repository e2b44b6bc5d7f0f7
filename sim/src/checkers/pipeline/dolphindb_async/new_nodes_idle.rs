//! Data nodes added after start never get tasks (DolphinDB: queues map to data nodes by hashing
//! over the original node count).

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::ReplFact;

use super::ledger::AsyncLedger;
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "new-nodes-idle";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: queues hashed over the original data-node count; added nodes get no tasks";

/// Judges every dispatch.
#[derive(Debug, Default)]
pub struct NewNodesIdle;

impl<V: ?Sized> Checker<AsyncLedger, ReplFact, V> for NewNodesIdle {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &AsyncLedger, node: NodeId, fact: &ReplFact) -> Result<(), String> {
        let ReplFact::Dispatched { task, node: target, .. } = fact else { return Ok(()) };
        let Some(slave) = ledger.slave_of(node) else { return Ok(()) };
        if ledger.original_nodes.get(&slave).is_some_and(|o| o.contains(target)) {
            Ok(())
        } else {
            Err(format!("task {task} dispatched to data node {target}, which {} did not start with", slave.name()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::pipeline::dolphindb_async::test_support::{dispatched, enqueued, ledger, part, pulled, run, task};
    use crate::checkers::pipeline::test_support::{node, slave};

    /// Slave 0 pulled task 1 and sent it to data node `to`.
    fn dispatched_to(to: &str) -> Result<(), String> {
        let t = task(1, 1, "dfs://a", vec![part("dfs://a", 1)]);
        let facts = [enqueued(&t), (slave(0), pulled(std::slice::from_ref(&t))), (slave(0), dispatched(&t, node(to)))];
        run(&mut NewNodesIdle, &mut ledger(), &facts)
    }

    #[test]
    fn a_task_sent_to_an_original_data_node_passes() {
        assert_eq!(dispatched_to("slave0.datanode.1"), Ok(()));
    }

    #[test]
    fn a_task_sent_to_an_added_data_node_is_refused() {
        let err = dispatched_to("slave0.datanode.2").unwrap_err();
        assert!(err.contains(&format!("dispatched to data node {}, which slave0 did not start with", node("slave0.datanode.2"))), "{err}");
    }
}

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

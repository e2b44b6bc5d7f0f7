//! GC safety (DolphinDB: the master truncates its queue, and deletes task data, only up to what
//! every slave reported finished): when the queue is truncated below a task id, every slave has
//! finished every task below it.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::ReplFact;

use crate::checkers::Checker;
use crate::checkers::pipeline::ledger::ReplLedger;

/// The checker's name.
pub const NAME: &str = "gc-safety";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: garbage collection below the slaves' finished taskIds (isTruncated)";

/// Judges every truncation of the send queue.
#[derive(Debug, Default)]
pub struct GcSafety;

impl<V: ?Sized> Checker<ReplLedger, ReplFact, V> for GcSafety {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &ReplLedger, _node: NodeId, fact: &ReplFact) -> Result<(), String> {
        let ReplFact::Truncated { below } = fact else { return Ok(()) };
        for (slave, s) in &ledger.slaves {
            let id = s.finished_below();
            if id < *below {
                let state = s.tasks.get(&id).map_or("not pulled".to_string(), |t| format!("{:?}", t.state));
                return Err(format!("the master truncated below task {below} while task {id} is {state} on {}", slave.name()));
            }
        }
        Ok(())
    }
}

//! No gaps in pulled task ids (DolphinDB: the slave's offset is the last task id it pulled; it pulls
//! from there): every batch a slave takes starts right after the last task it took, holds
//! consecutive ids, leaves the offset at its last task, and carries exactly the tasks the master
//! enqueued.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::ReplFact;

use crate::checkers::Checker;
use crate::checkers::pipeline::ledger::ReplLedger;

/// The checker's name.
pub const NAME: &str = "no-gaps";
/// Where the property comes from.
pub const SOURCE: &str =
    "DolphinDB cluster replication: the slave pulls by offset, the last task id it pulled (reference/replication-facts.md section 3)";

/// Judges every batch a slave controller takes.
#[derive(Debug, Default)]
pub struct NoGaps;

impl<V: ?Sized> Checker<ReplLedger, ReplFact, V> for NoGaps {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &ReplLedger, node: NodeId, fact: &ReplFact) -> Result<(), String> {
        let ReplFact::Pulled { from, tasks, offset } = fact else { return Ok(()) };
        let Some(slave) = ledger.slave_of(node).and_then(|c| ledger.slaves.get(&c)) else { return Ok(()) };
        let last = tasks.last().map_or(*from - 1, |(id, _)| *id);
        if *offset != last {
            return Err(format!("a batch from task {from} to {last} left the offset at {offset}"));
        }
        for (i, (id, hash)) in tasks.iter().enumerate() {
            if *id != from + i as u64 {
                return Err(format!("batch from task {from} holds task {id} at position {i}"));
            }
            if ledger.enqueued_hash(*id) != Some(*hash) {
                return Err(format!("pulled task {id} is not the task the master enqueued with that id"));
            }
        }
        match slave.pulled.last_key_value() {
            // A repeat of a batch already taken (another controller applying it).
            Some((&known, _)) if *from <= known => {
                if tasks.iter().all(|(id, h)| slave.pulled.get(id).is_none_or(|k| k == h)) {
                    Ok(())
                } else {
                    Err(format!("controllers took different tasks from {from}"))
                }
            }
            Some((&known, _)) if *from != known + 1 => {
                Err(format!("tasks {}..{from} were never pulled: the batch starts at {from} after task {known}", known + 1))
            }
            None if *from != 1 => Err(format!("the first batch starts at task {from}: tasks 1..{from} were never pulled")),
            _ => Ok(()),
        }
    }
}

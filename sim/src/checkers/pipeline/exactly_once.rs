//! Exactly once (DolphinDB: before executing, the controller checks the EditLog; a task already
//! finished is never applied twice, duplicates are rolled back): no task commits under two
//! transactions on a slave, and at the end every committed task is FINISHED. (A task FINISHED
//! without ever committing is silent divergence: the eventual-consistency checker's.)

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::ReplFact;
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;

use crate::checkers::Checker;
use crate::checkers::pipeline::ledger::ReplLedger;

/// The checker's name.
pub const NAME: &str = "exactly-once";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: EditLog check before execution, duplicates rolled back (S01025/S01039)";

/// Judges every commit of a task on a slave, and every task at the end.
#[derive(Debug, Default)]
pub struct ExactlyOnce;

impl<V: ?Sized> Checker<ReplLedger, ReplFact, V> for ExactlyOnce {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &ReplLedger, node: NodeId, fact: &ReplFact) -> Result<(), String> {
        check(ledger, node, fact)
    }

    fn at_end(&self, ledger: &ReplLedger, _: &V) -> Result<(), String> {
        at_end(ledger)
    }
}

/// Judges a `TaskCommitted` fact of slave controller `node`.
fn check(ledger: &ReplLedger, node: NodeId, fact: &ReplFact) -> Result<(), String> {
    let ReplFact::TaskCommitted { task, tid } = fact else { return Ok(()) };
    let Some(t) = ledger.slave_of(node).and_then(|c| ledger.slaves.get(&c)).and_then(|s| s.tasks.get(task)) else { return Ok(()) };
    match t.commits.iter().find(|&&other| other != *tid) {
        Some(other) => Err(format!("task {task} committed by transaction {tid} after transaction {other} committed it")),
        None => Ok(()),
    }
}

/// At the end: committed means FINISHED.
fn at_end(ledger: &ReplLedger) -> Result<(), String> {
    for (slave, s) in &ledger.slaves {
        for (id, t) in &s.tasks {
            if !t.commits.is_empty() && t.state != SlaveTaskState::Finished {
                return Err(format!("{}: task {id} committed but {:?}", slave.name(), t.state));
            }
        }
    }
    Ok(())
}

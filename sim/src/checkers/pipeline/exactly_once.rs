//! Exactly once: a target applies each entry once (DolphinDB: before executing, the controller
//! checks the EditLog; a task already finished is never applied twice, duplicates are rolled back;
//! Doris CCR: a binlog at or below a table's recorded commit sequence is skipped). No
//! entry commits under two transactions on a target, and at the end every committed entry is
//! FINISHED. (An entry FINISHED without ever committing is silent divergence: the
//! eventual-consistency checker's.)

use ccrsim_model::core::io::NodeId;

use super::event::{EntryState, PipelineEvent};
use super::ledger::PipelineLedger;
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "exactly-once";
/// Where the property comes from.
pub const SOURCE: &str = "exactly-once apply: DolphinDB checks the EditLog before execution and rolls back duplicates (S01025/S01039); Doris CCR skips binlogs at or below a table's recorded commit seq (ccr-syncer)";

/// Judges every commit of an entry on a target, and every entry at the end.
#[derive(Debug, Default)]
pub struct ExactlyOnce;

impl<V: ?Sized> Checker<PipelineLedger, PipelineEvent<'_>, V> for ExactlyOnce {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &PipelineLedger, node: NodeId, event: &PipelineEvent<'_>) -> Result<(), String> {
        let PipelineEvent::Applied { id, tx } = *event else { return Ok(()) };
        let Some(e) = ledger.target_truth(node).and_then(|t| t.entries.get(&id)) else { return Ok(()) };
        match e.applied_by.iter().find(|&&other| other != tx) {
            Some(other) => Err(format!("entry {id} committed by transaction {tx} after transaction {other} committed it")),
            None => Ok(()),
        }
    }

    /// At the end: committed means FINISHED.
    fn at_end(&self, ledger: &PipelineLedger, _: &V) -> Result<(), String> {
        for (target, t) in &ledger.targets {
            if let Some((id, e)) = t.entries.iter().find(|(_, e)| !e.applied_by.is_empty() && e.state != EntryState::Finished) {
                return Err(format!("{}: entry {id} committed but {}", target.name(), e.state.name()));
            }
        }
        Ok(())
    }
}

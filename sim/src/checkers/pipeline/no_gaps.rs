//! No gaps: a target fetches the source's log by offset (DolphinDB: the slave's offset is the last
//! task id it pulled, and it pulls from there; Doris CCR: the syncer reads the binlog from the
//! commit sequence after the last one it applied). Every batch a target takes starts right after the
//! last entry it took, holds consecutive ids, leaves the offset at its last entry, and carries
//! exactly the entries the source logged.

use ccrsim_model::core::io::NodeId;

use super::event::PipelineEvent;
use super::ledger::PipelineLedger;
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "no-gaps";
/// Where the property comes from.
pub const SOURCE: &str = "asynchronous log shipping by offset: DolphinDB's slave pulls from the last task id it pulled (DolphinDB's cluster replication manual, how it works); Doris CCR's syncer fetches binlogs after its PrevCommitSeq (ccr-syncer job.go)";

/// Judges every batch a target takes.
#[derive(Debug, Default)]
pub struct NoGaps;

impl<V: ?Sized> Checker<PipelineLedger, PipelineEvent<'_>, V> for NoGaps {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &PipelineLedger, node: NodeId, event: &PipelineEvent<'_>) -> Result<(), String> {
        let PipelineEvent::Fetched { from, entries, offset } = *event else { return Ok(()) };
        let Some(target) = ledger.target_truth(node) else { return Ok(()) };
        let last = entries.last().map_or(from - 1, |(id, _)| *id);
        if offset != last {
            return Err(format!("a batch from entry {from} to {last} left the offset at {offset}"));
        }
        for (i, (id, hash)) in entries.iter().enumerate() {
            if *id != from + i as u64 {
                return Err(format!("batch from entry {from} holds entry {id} at position {i}"));
            }
            if ledger.logged_hash(*id) != Some(*hash) {
                return Err(format!("fetched entry {id} is not the entry the source logged with that id"));
            }
        }
        match target.fetched.last_key_value() {
            // A repeat of a batch already taken (another controller applying it).
            Some((&known, _)) if from <= known => {
                if entries.iter().all(|(id, h)| target.fetched.get(id).is_none_or(|k| k == h)) {
                    Ok(())
                } else {
                    Err(format!("controllers took different entries from {from}"))
                }
            }
            Some((&known, _)) if from != known + 1 => {
                Err(format!("entries {}..{from} were never fetched: the batch starts at {from} after entry {known}", known + 1))
            }
            None if from != 1 => Err(format!("the first batch starts at entry {from}: entries 1..{from} were never fetched")),
            _ => Ok(()),
        }
    }
}

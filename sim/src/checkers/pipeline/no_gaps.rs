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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::pipeline::test_support::{batch, create_db, hash, ledger, logged, run, slave};

    /// The source logged three entries; then `events`.
    fn judged(events: &[(NodeId, PipelineEvent<'_>)]) -> Result<(), String> {
        let ops = [create_db("dfs://a"), create_db("dfs://b"), create_db("dfs://c")];
        let mut l = ledger();
        run(&mut NoGaps, &mut l, &logged(&ops)).expect("logging fetches nothing");
        run(&mut NoGaps, &mut l, events)
    }

    #[test]
    fn batches_continuing_the_offset_with_the_logged_entries_pass() {
        let (s0, s1) = (slave(0), slave(1));
        let (first, rest, all) = (batch(1..=2), batch(3..=3), batch(1..=3));
        let events = [
            (s0, PipelineEvent::Fetched { from: 1, entries: &first, offset: 2 }),
            // The same batch reported again (a controller applying it once more).
            (s0, PipelineEvent::Fetched { from: 1, entries: &first, offset: 2 }),
            (s0, PipelineEvent::Fetched { from: 3, entries: &rest, offset: 3 }),
            // Nothing new yet: an empty batch leaves the offset where it was.
            (s0, PipelineEvent::Fetched { from: 4, entries: &[], offset: 3 }),
            // Each target has its own offset.
            (s1, PipelineEvent::Fetched { from: 1, entries: &all, offset: 3 }),
        ];
        assert_eq!(judged(&events), Ok(()));
    }

    #[test]
    fn a_batch_skipping_entries_is_refused() {
        let (first, third) = (batch(1..=1), batch(3..=3));
        let events = [
            (slave(0), PipelineEvent::Fetched { from: 1, entries: &first, offset: 1 }),
            (slave(0), PipelineEvent::Fetched { from: 3, entries: &third, offset: 3 }),
        ];
        let err = judged(&events).unwrap_err();
        assert!(err.contains("entries 2..3 were never fetched"), "{err}");
    }

    #[test]
    fn a_first_batch_not_starting_at_the_first_entry_is_refused() {
        let b = batch(2..=3);
        let err = judged(&[(slave(1), PipelineEvent::Fetched { from: 2, entries: &b, offset: 3 })]).unwrap_err();
        assert!(err.contains("the first batch starts at entry 2: entries 1..2 were never fetched"), "{err}");
    }

    #[test]
    fn a_batch_leaving_the_offset_elsewhere_is_refused() {
        let b = batch(1..=2);
        let err = judged(&[(slave(0), PipelineEvent::Fetched { from: 1, entries: &b, offset: 3 })]).unwrap_err();
        assert!(err.contains("a batch from entry 1 to 2 left the offset at 3"), "{err}");
    }

    #[test]
    fn a_batch_with_a_hole_is_refused() {
        let b = [(1, hash(1)), (3, hash(3))];
        let err = judged(&[(slave(0), PipelineEvent::Fetched { from: 1, entries: &b, offset: 3 })]).unwrap_err();
        assert!(err.contains("batch from entry 1 holds entry 3 at position 1"), "{err}");
    }

    #[test]
    fn a_fetched_entry_other_than_logged_is_refused() {
        let b = [(1, hash(1)), (2, 7)];
        let err = judged(&[(slave(0), PipelineEvent::Fetched { from: 1, entries: &b, offset: 2 })]).unwrap_err();
        assert!(err.contains("fetched entry 2 is not the entry the source logged"), "{err}");
    }
}

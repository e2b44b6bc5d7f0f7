//! No gaps: a target fetches the source's log by offset (DolphinDB: the slave's offset is the last
//! task id it pulled, and it pulls from there; Doris CCR: the syncer reads the binlog from the
//! commit sequence after the last one it applied). Every batch a target takes starts right after the
//! last entry it took, holds consecutive ids, leaves the offset at its last entry, and carries
//! exactly the entries the source logged.
//!
//! Judged per controller of the target: each applies the target's replicated log on its own, so
//! each batch it reports must continue *its own* offset, whatever its peers already took (a
//! controller that takes a batch at or below its offset takes its entries twice; one that skips
//! ahead catches up on entries it never took). A controller's offset starts at 0 and is reset by
//! `Resumed` (a restart or an installed snapshot) to the offset its new state holds, which no
//! controller of the target can hold beyond the entries the target fetched. Every controller's
//! batches must also carry the same entries under an id as its peers'.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;

use super::event::PipelineEvent;
use super::ledger::PipelineLedger;
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "no-gaps";
/// Where the property comes from.
pub const SOURCE: &str = "asynchronous log shipping by offset: DolphinDB's slave pulls from the last task id it pulled (DolphinDB's cluster replication manual, how it works); Doris CCR's syncer fetches binlogs after its PrevCommitSeq (ccr-syncer job.go)";

/// Judges every batch each target controller takes.
#[derive(Debug, Default)]
pub struct NoGaps {
    /// Each target controller's offset: the last entry it took (absent: none yet).
    offsets: BTreeMap<NodeId, u64>,
}

impl<V: ?Sized> Checker<PipelineLedger, PipelineEvent<'_>, V> for NoGaps {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &PipelineLedger, node: NodeId, event: &PipelineEvent<'_>) -> Result<(), String> {
        let Some(target) = ledger.target_truth(node) else { return Ok(()) };
        let known = target.fetched.last_key_value().map_or(0, |(id, _)| *id);
        let (from, entries, offset) = match *event {
            PipelineEvent::Resumed { offset } => {
                if offset > known {
                    return Err(format!("a controller resumed at offset {offset}, beyond entry {known}, the last its target fetched"));
                }
                self.offsets.insert(node, offset);
                return Ok(());
            }
            PipelineEvent::Fetched { from, entries, offset } => (from, entries, offset),
            _ => return Ok(()),
        };
        let last = entries.last().map_or(from - 1, |(id, _)| *id);
        let own = self.offsets.get(&node).copied().unwrap_or(0);
        if from <= own {
            return Err(format!(
                "a controller at offset {own} took a stale batch from entry {from} to {last}: entries {from}..={} again",
                own.min(last)
            ));
        }
        if from != own + 1 {
            return Err(if own == 0 {
                format!("the first batch starts at entry {from}: entries 1..{from} were never fetched")
            } else {
                format!("entries {}..{from} were never fetched: the batch starts at {from} after entry {own}", own + 1)
            });
        }
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
            if target.fetched.get(id).is_some_and(|known| known != hash) {
                return Err(format!("controllers took different entries from {from}"));
            }
        }
        self.offsets.insert(node, offset);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::pipeline::test_support::{batch, create_db, hash, ledger, logged, run, slave, slave_controller};

    /// The source logged three entries; then `events`.
    fn judged(events: &[(NodeId, PipelineEvent<'_>)]) -> Result<(), String> {
        let ops = [create_db("dfs://a"), create_db("dfs://b"), create_db("dfs://c")];
        let mut l = ledger();
        let mut c = NoGaps::default();
        run(&mut c, &mut l, &logged(&ops)).expect("logging fetches nothing");
        run(&mut c, &mut l, events)
    }

    #[test]
    fn batches_continuing_the_offset_with_the_logged_entries_pass() {
        let (s0, s1, peer) = (slave(0), slave(1), slave_controller(0, 1));
        let (first, rest, all) = (batch(1..=2), batch(3..=3), batch(1..=3));
        let events = [
            (s0, PipelineEvent::Fetched { from: 1, entries: &first, offset: 2 }),
            // The same batch applied by the other controller, from its own offset.
            (peer, PipelineEvent::Fetched { from: 1, entries: &first, offset: 2 }),
            // A restart from the initial state replays the batch from offset 0.
            (s0, PipelineEvent::Resumed { offset: 0 }),
            (s0, PipelineEvent::Fetched { from: 1, entries: &first, offset: 2 }),
            (s0, PipelineEvent::Fetched { from: 3, entries: &rest, offset: 3 }),
            // A snapshot taken at offset 3 puts the other controller there.
            (peer, PipelineEvent::Resumed { offset: 3 }),
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

    #[test]
    fn a_controller_taking_a_batch_at_or_below_its_own_offset_is_refused_even_when_its_peers_took_it() {
        let (first, again) = (batch(1..=2), batch(2..=3));
        let events = [
            (slave_controller(0, 1), PipelineEvent::Fetched { from: 1, entries: &batch(1..=3), offset: 3 }),
            (slave(0), PipelineEvent::Fetched { from: 1, entries: &first, offset: 2 }),
            (slave(0), PipelineEvent::Fetched { from: 2, entries: &again, offset: 3 }),
        ];
        let err = judged(&events).unwrap_err();
        assert!(err.contains("a controller at offset 2 took a stale batch from entry 2 to 3"), "{err}");
    }

    #[test]
    fn a_controller_skipping_its_own_gap_is_refused_even_when_its_peers_took_the_entries() {
        let (all, third) = (batch(1..=3), batch(3..=3));
        let events = [
            (slave_controller(0, 1), PipelineEvent::Fetched { from: 1, entries: &all, offset: 3 }),
            (slave(0), PipelineEvent::Fetched { from: 1, entries: &batch(1..=1), offset: 1 }),
            (slave(0), PipelineEvent::Fetched { from: 3, entries: &third, offset: 3 }),
        ];
        let err = judged(&events).unwrap_err();
        assert!(err.contains("entries 2..3 were never fetched: the batch starts at 3 after entry 1"), "{err}");
    }

    #[test]
    fn a_restart_puts_the_offset_where_its_state_holds_it() {
        let (first, rest) = (batch(1..=2), batch(3..=3));
        let events = [
            (slave(0), PipelineEvent::Fetched { from: 1, entries: &first, offset: 2 }),
            (slave(0), PipelineEvent::Resumed { offset: 1 }),
            (slave(0), PipelineEvent::Fetched { from: 3, entries: &rest, offset: 3 }),
        ];
        let err = judged(&events).unwrap_err();
        assert!(err.contains("entries 2..3 were never fetched"), "{err}");
    }

    #[test]
    fn resuming_beyond_what_the_target_fetched_is_refused() {
        let err = judged(&[(slave(0), PipelineEvent::Resumed { offset: 2 })]).unwrap_err();
        assert!(err.contains("resumed at offset 2, beyond entry 0"), "{err}");
    }
}

//! GC safety: the source truncates its log only below what every target finished (DolphinDB: the
//! master truncates its queue, and deletes task data, only up to what every slave reported
//! finished; Doris: binlog GC must not pass the syncer's position, which upstream enforces with binlog locks). When the log is
//! truncated below an id, every target has finished every entry below it.

use ccrsim_model::core::io::NodeId;

use super::event::PipelineEvent;
use super::ledger::PipelineLedger;
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "gc-safety";
/// Where the property comes from.
pub const SOURCE: &str = "log garbage collection below what every target finished: DolphinDB truncates below the slaves' finished taskIds (isTruncated); Doris binlog GC must not pass the syncer's position (binlog locks in ccr-syncer)";

/// Judges every truncation of the source's log.
#[derive(Debug, Default)]
pub struct GcSafety;

impl<V: ?Sized> Checker<PipelineLedger, PipelineEvent<'_>, V> for GcSafety {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &PipelineLedger, _node: NodeId, event: &PipelineEvent<'_>) -> Result<(), String> {
        let PipelineEvent::Truncated { below } = *event else { return Ok(()) };
        for (target, t) in &ledger.targets {
            let id = t.finished_below();
            if id < below {
                let state = t.entries.get(&id).map_or("not fetched", |e| e.state.name());
                return Err(format!("the source truncated below entry {below} while entry {id} is {state} on {}", target.name()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::pipeline::test_support::{batch, create_db, done, ledger, logged, master, run, slave};

    /// The source logged two entries, each slave fetched both; slave 0 finished both (the second
    /// first), slave 1 those of `slave1_done`; then the source truncates below `below`.
    fn truncate(slave1_done: &[u64], below: u64) -> Result<(), String> {
        let ops = [create_db("dfs://a"), create_db("dfs://b")];
        let b = batch(1..=2);
        let mut events = logged(&ops);
        for s in [slave(0), slave(1)] {
            events.push((s, PipelineEvent::Fetched { from: 1, entries: &b, offset: 2 }));
        }
        events.extend(done(slave(0), 2));
        events.extend(done(slave(0), 1));
        events.extend(slave1_done.iter().flat_map(|&id| done(slave(1), id)));
        events.push((master(), PipelineEvent::Truncated { below }));
        run(&mut GcSafety, &mut ledger(), &events)
    }

    #[test]
    fn truncating_below_what_every_target_finished_passes() {
        assert_eq!(truncate(&[1, 2], 3), Ok(()));
        assert_eq!(truncate(&[1], 2), Ok(()));
    }

    #[test]
    fn truncating_an_entry_a_target_has_not_finished_is_refused() {
        let err = truncate(&[1], 3).unwrap_err();
        assert!(err.contains("the source truncated below entry 3 while entry 2 is WAITING on slave1"), "{err}");
    }

    #[test]
    fn truncating_an_entry_a_target_never_fetched_is_refused() {
        // A target that finished nothing yet holds the whole log back.
        let ops = [create_db("dfs://a")];
        let mut events = logged(&ops);
        events.push((master(), PipelineEvent::Truncated { below: 2 }));
        let err = run(&mut GcSafety, &mut ledger(), &events).unwrap_err();
        assert!(err.contains("while entry 1 is not fetched on slave0"), "{err}");
    }
}

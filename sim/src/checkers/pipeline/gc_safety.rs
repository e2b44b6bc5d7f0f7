//! GC safety: the source truncates its log only below what every target finished (DolphinDB: the
//! master truncates its queue, and deletes task data, only up to what every slave reported
//! finished; Doris: binlog GC must not pass the syncer's position, which upstream enforces with binlog locks). When the log is
//! truncated below an id, every target has finished every entry below it. And the other way
//! round, after heal: once every target finished every entry below an id, every running source
//! controller eventually truncates its log below it, and no running source node keeps the data of
//! an entry below it (DolphinDB: isTruncated, and the task data of truncated tasks is deleted).

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

/// What garbage collection left at the source, as the running deployment holds it.
pub trait SourceGc {
    /// Each running source controller, with the entry its log is truncated below.
    fn truncated_below(&self) -> Vec<(NodeId, u64)>;
    /// Each running source node that keeps entries' data, with those entries.
    fn data_kept(&self) -> Vec<(NodeId, Vec<u64>)>;
}

/// No deployment to look at (while facts are judged): nothing to collect.
impl SourceGc for () {
    fn truncated_below(&self) -> Vec<(NodeId, u64)> {
        Vec::new()
    }
    fn data_kept(&self) -> Vec<(NodeId, Vec<u64>)> {
        Vec::new()
    }
}

impl<V: SourceGc + ?Sized> Checker<PipelineLedger, PipelineEvent<'_>, V> for GcSafety {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    /// Per source controller and per source node: what every target finished is collected. Not
    /// asked while a target is out of the state it starts in (DolphinDB: STOPPED or DISABLED): such
    /// a DolphinDB slave stops pulling and then keeps reporting its watermark to the master
    /// controller it last pulled from, which, if no longer the leader, drops the reports
    /// (docs/promise-gaps.txt, GC3).
    fn pending(&self, ledger: &PipelineLedger, source: &V) -> Option<String> {
        if !ledger.targets.values().all(|t| ledger.in_initial_state(t)) {
            return None;
        }
        let finished_below = ledger.targets.values().map(|t| t.finished_below()).min()?;
        if let Some((node, below)) = source.truncated_below().into_iter().find(|&(_, below)| below < finished_below) {
            return Some(format!(
                "source controller {node} truncated its log below entry {below} only, though every target finished every entry below {finished_below}"
            ));
        }
        source.data_kept().into_iter().find_map(|(node, entries)| {
            let id = entries.into_iter().find(|&id| id < finished_below)?;
            Some(format!("source node {node} still keeps the data of entry {id}, which every target finished (below {finished_below})"))
        })
    }

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
    /// first), slave 1 those of `slave1_done`; then the source truncates below `below`, if given.
    fn judged(slave1_done: &[u64], below: Option<u64>, ledger: &mut PipelineLedger) -> Result<(), String> {
        let ops = [create_db("dfs://a"), create_db("dfs://b")];
        let b = batch(1..=2);
        let mut events = logged(&ops);
        for s in [slave(0), slave(1)] {
            events.push((s, PipelineEvent::Fetched { from: 1, entries: &b, offset: 2 }));
        }
        events.extend(done(slave(0), 2));
        events.extend(done(slave(0), 1));
        events.extend(slave1_done.iter().flat_map(|&id| done(slave(1), id)));
        events.extend(below.map(|below| (master(), PipelineEvent::Truncated { below })));
        run(&mut GcSafety, ledger, &events)
    }

    fn truncate(slave1_done: &[u64], below: u64) -> Result<(), String> {
        judged(slave1_done, Some(below), &mut ledger())
    }

    /// A source as garbage collection left it.
    struct Source {
        truncated: Vec<(NodeId, u64)>,
        kept: Vec<(NodeId, Vec<u64>)>,
    }

    impl SourceGc for Source {
        fn truncated_below(&self) -> Vec<(NodeId, u64)> {
            self.truncated.clone()
        }
        fn data_kept(&self) -> Vec<(NodeId, Vec<u64>)> {
            self.kept.clone()
        }
    }

    /// What is pending once slave 1 finished `slave1_done`, at a source that truncated (per
    /// controller) and keeps data (per node) as given.
    fn pending(slave1_done: &[u64], truncated: &[u64], kept: &[u64]) -> Option<String> {
        let mut l = ledger();
        judged(slave1_done, None, &mut l).unwrap();
        let source = Source {
            truncated: truncated.iter().enumerate().map(|(c, &below)| (c as NodeId, below)).collect(),
            kept: vec![(10, kept.to_vec())],
        };
        Checker::<PipelineLedger, PipelineEvent<'_>, Source>::pending(&GcSafety, &l, &source)
    }

    #[test]
    fn a_source_that_collected_what_every_target_finished_is_not_pending() {
        assert_eq!(pending(&[1, 2], &[3, 3], &[]), None);
        // Slave 1 finished only entry 1: collecting below 2 is enough, entry 2's data stays.
        assert_eq!(pending(&[1], &[2, 2], &[2]), None);
        // A target that finished nothing holds everything back.
        assert_eq!(pending(&[], &[1, 1], &[1, 2]), None);
    }

    #[test]
    fn nothing_is_pending_while_a_target_is_stopped() {
        let mut l = ledger();
        judged(&[1, 2], None, &mut l).unwrap();
        let source = Source { truncated: vec![(0, 1)], kept: vec![] };
        assert!(Checker::<PipelineLedger, PipelineEvent<'_>, Source>::pending(&GcSafety, &l, &source).is_some());
        l.apply(slave(1), &PipelineEvent::State { name: "STOPPED" });
        assert_eq!(Checker::<PipelineLedger, PipelineEvent<'_>, Source>::pending(&GcSafety, &l, &source), None);
    }

    #[test]
    fn a_controller_behind_the_watermark_or_data_kept_below_it_is_pending() {
        let p = pending(&[1, 2], &[3, 2], &[]).expect("pending");
        assert!(
            p.contains("source controller 1 truncated its log below entry 2 only, though every target finished every entry below 3"),
            "{p}"
        );
        let p = pending(&[1, 2], &[3, 3], &[3, 2]).expect("pending");
        assert!(p.contains("source node 10 still keeps the data of entry 2, which every target finished (below 3)"), "{p}");
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

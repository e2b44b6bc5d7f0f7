//! Exactly once: a target applies each entry once (DolphinDB: before executing, the controller
//! checks the EditLog; a task already finished is never applied twice, duplicates are rolled back;
//! Doris CCR: a binlog at or below a table's recorded commit sequence is skipped). No
//! entry commits under two transactions on a target, none commits on a target that never fetched
//! it, and at the end every committed entry is FINISHED.
//!
//! Finished means committed (DolphinDB: COMPLETE of the task's transaction marks it FINISHED): an
//! entry a target controller reports finished without a skip was committed in that controller's
//! history before. The controller reported the commit itself since its last `Resumed`, or, when
//! its history since then begins at a snapshot (which carries no commits), some controller of the
//! target reported it (every controller applies the same replicated log, so the commit is before
//! the finish in it). (Whether what was committed is what the source wrote is eventual-consistency's.)

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::NodeId;

use super::event::{EntryState, PipelineEvent};
use super::ledger::PipelineLedger;
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "exactly-once";
/// Where the property comes from.
pub const SOURCE: &str = "exactly-once apply: DolphinDB checks the EditLog before execution and rolls back duplicates (S01025/S01039); Doris CCR skips binlogs at or below a table's recorded commit seq (ccr-syncer)";

/// Judges every commit and every finish of an entry on a target, and every entry at the end.
#[derive(Debug, Default)]
pub struct ExactlyOnce {
    /// Per target controller: the entries it reported committed since its last `Resumed`.
    committed_here: BTreeMap<NodeId, BTreeSet<u64>>,
    /// Target controllers whose history since their last `Resumed` begins at a snapshot.
    resumed: BTreeSet<NodeId>,
}

impl ExactlyOnce {
    /// An entry finished without a skip: it committed in `node`'s history before.
    fn finished(&self, ledger: &PipelineLedger, node: NodeId, id: u64) -> Result<(), String> {
        if self.committed_here.get(&node).is_some_and(|c| c.contains(&id)) {
            return Ok(());
        }
        let committed_by_any = ledger.applied_by(node, id).is_some_and(|by| !by.is_empty());
        if self.resumed.contains(&node) && committed_by_any {
            return Ok(());
        }
        Err(format!("entry {id} FINISHED without a skip on controller {node}, which saw no transaction commit it"))
    }
}

impl<V: ?Sized> Checker<PipelineLedger, PipelineEvent<'_>, V> for ExactlyOnce {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &PipelineLedger, node: NodeId, event: &PipelineEvent<'_>) -> Result<(), String> {
        let Some(target) = ledger.target_truth(node) else { return Ok(()) };
        let (id, tx) = match *event {
            PipelineEvent::Applied { id, tx } => (id, tx),
            PipelineEvent::Finished { id, skipped: false } => return self.finished(ledger, node, id),
            PipelineEvent::Resumed { .. } => {
                self.committed_here.remove(&node);
                self.resumed.insert(node);
                return Ok(());
            }
            _ => return Ok(()),
        };
        self.committed_here.entry(node).or_default().insert(id);
        if let Some(other) = ledger.applied_by(node, id).and_then(|by| by.iter().find(|&&other| other != tx)) {
            return Err(format!("entry {id} committed by transaction {tx} after transaction {other} committed it"));
        }
        if !target.fetched.contains_key(&id) {
            return Err(format!("entry {id} committed by transaction {tx} on a target that never fetched it"));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::pipeline::test_support::{batch, create_db, done, ledger, logged, run, slave, slave_controller};

    /// The source logged two entries and slave 0 fetched them; then `events`, and the ledger.
    fn judged(events: &[(NodeId, PipelineEvent<'_>)]) -> Result<PipelineLedger, String> {
        let ops = [create_db("dfs://a"), create_db("dfs://b")];
        let b = batch(1..=2);
        let mut l = ledger();
        let mut c = ExactlyOnce::default();
        run(&mut c, &mut l, &logged(&ops)).expect("logged");
        run(&mut c, &mut l, &[(slave(0), PipelineEvent::Fetched { from: 1, entries: &b, offset: 2 })]).expect("fetched");
        run(&mut c, &mut l, events).map(|()| l)
    }

    fn at_end(l: &PipelineLedger) -> Result<(), String> {
        Checker::<PipelineLedger, PipelineEvent<'_>, ()>::at_end(&ExactlyOnce::default(), l, &())
    }

    #[test]
    fn an_entry_committed_once_and_finished_and_one_skipped_pass() {
        let s0 = slave(0);
        let mut events = Vec::from(done(s0, 1));
        // The commit reported again by another controller of the target: the same transaction.
        events.push((s0, PipelineEvent::Applied { id: 1, tx: 501 }));
        events.push((s0, PipelineEvent::Finished { id: 2, skipped: true }));
        let l = judged(&events).expect("no entry committed twice");
        assert_eq!(at_end(&l), Ok(()));
    }

    #[test]
    fn an_entry_committed_by_a_second_transaction_is_refused() {
        let s0 = slave(0);
        let mut events = Vec::from(done(s0, 1));
        events.push((s0, PipelineEvent::Applied { id: 1, tx: 777 }));
        let err = judged(&events).unwrap_err();
        assert!(err.contains("entry 1 committed by transaction 777 after transaction 501 committed it"), "{err}");
    }

    #[test]
    fn a_commit_of_an_entry_never_reported_fetched_is_refused() {
        // Slave 1 fetched nothing, yet reports entry 1 committed: it ran a task it never pulled.
        let err = judged(&[(slave(1), PipelineEvent::Applied { id: 1, tx: 501 })]).unwrap_err();
        assert!(err.contains("entry 1 committed by transaction 501 on a target that never fetched it"), "{err}");
    }

    #[test]
    fn a_second_commit_of_an_entry_never_reported_fetched_is_refused() {
        // The first commit, refused above, is still recorded: a second one under another
        // transaction is a double apply, whether or not the target fetched the entry.
        let s1 = slave(1);
        let mut l = judged(&[]).expect("fetched by slave 0 only");
        l.apply(s1, &PipelineEvent::Applied { id: 1, tx: 501 });
        let judge = |tx| {
            Checker::<PipelineLedger, PipelineEvent<'_>, ()>::on_fact(
                &mut ExactlyOnce::default(),
                &l,
                s1,
                &PipelineEvent::Applied { id: 1, tx },
            )
        };
        let err = judge(777).unwrap_err();
        assert!(err.contains("entry 1 committed by transaction 777 after transaction 501 committed it"), "{err}");
        // The same transaction reported again is only refused for the missing fetch.
        let err = judge(501).unwrap_err();
        assert!(err.contains("never fetched"), "{err}");
    }

    #[test]
    fn an_entry_finished_without_a_commit_is_refused() {
        let err = judged(&[(slave(0), PipelineEvent::Started { id: 1 }), (slave(0), PipelineEvent::Finished { id: 1, skipped: false })])
            .unwrap_err();
        assert!(err.contains("entry 1 FINISHED without a skip on controller"), "{err}");
    }

    #[test]
    fn a_finish_needs_the_commit_in_the_reporting_controllers_history() {
        // Controller 0 of slave 0 committed entry 1; controller 1, which never resumed from a
        // snapshot, reports it finished without having applied the commit itself.
        let (s0, s0b) = (slave(0), slave_controller(0, 1));
        let err = judged(&[(s0, PipelineEvent::Applied { id: 1, tx: 501 }), (s0b, PipelineEvent::Finished { id: 1, skipped: false })])
            .unwrap_err();
        assert!(err.contains(&format!("entry 1 FINISHED without a skip on controller {s0b}")), "{err}");
        // Its commit before a restart does not count after it, unless the restart resumed from a
        // snapshot: then any controller's commit before the finish does.
        let events = [
            (s0, PipelineEvent::Applied { id: 1, tx: 501 }),
            (s0b, PipelineEvent::Resumed { offset: 2 }),
            (s0b, PipelineEvent::Finished { id: 1, skipped: false }),
            (s0, PipelineEvent::Finished { id: 1, skipped: false }),
        ];
        assert!(judged(&events).is_ok());
    }

    #[test]
    fn an_entry_committed_but_not_finished_is_refused_at_the_end() {
        let s0 = slave(0);
        let l = judged(&[(s0, PipelineEvent::Started { id: 1 }), (s0, PipelineEvent::Applied { id: 1, tx: 501 })]).expect("judged");
        let err = at_end(&l).unwrap_err();
        assert!(err.contains("slave0: entry 1 committed but RUNNING"), "{err}");
    }
}

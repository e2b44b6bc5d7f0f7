//! Exactly once: a target applies each entry once (DolphinDB: before executing, the controller
//! checks the EditLog; a task already finished is never applied twice, duplicates are rolled back;
//! Doris CCR: a binlog at or below a table's recorded commit sequence is skipped). No
//! entry commits under two transactions on a target, none commits on a target that never fetched
//! it, and at the end every committed entry is FINISHED. (An entry FINISHED without ever committing is silent divergence: the
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
        let Some(target) = ledger.target_truth(node) else { return Ok(()) };
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
    use crate::checkers::pipeline::test_support::{batch, create_db, done, ledger, logged, run, slave};

    /// The source logged two entries and slave 0 fetched them; then `events`, and the ledger.
    fn judged(events: &[(NodeId, PipelineEvent<'_>)]) -> Result<PipelineLedger, String> {
        let ops = [create_db("dfs://a"), create_db("dfs://b")];
        let b = batch(1..=2);
        let mut l = ledger();
        run(&mut ExactlyOnce, &mut l, &logged(&ops)).expect("logged");
        run(&mut ExactlyOnce, &mut l, &[(slave(0), PipelineEvent::Fetched { from: 1, entries: &b, offset: 2 })]).expect("fetched");
        run(&mut ExactlyOnce, &mut l, events).map(|()| l)
    }

    fn at_end(l: &PipelineLedger) -> Result<(), String> {
        Checker::<PipelineLedger, PipelineEvent<'_>, ()>::at_end(&ExactlyOnce, l, &())
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
        let judge =
            |tx| Checker::<PipelineLedger, PipelineEvent<'_>, ()>::on_fact(&mut ExactlyOnce, &l, s1, &PipelineEvent::Applied { id: 1, tx });
        let err = judge(777).unwrap_err();
        assert!(err.contains("entry 1 committed by transaction 777 after transaction 501 committed it"), "{err}");
        // The same transaction reported again is only refused for the missing fetch.
        let err = judge(501).unwrap_err();
        assert!(err.contains("never fetched"), "{err}");
    }

    #[test]
    fn an_entry_committed_but_not_finished_is_refused_at_the_end() {
        let s0 = slave(0);
        let l = judged(&[(s0, PipelineEvent::Started { id: 1 }), (s0, PipelineEvent::Applied { id: 1, tx: 501 })]).expect("judged");
        let err = at_end(&l).unwrap_err();
        assert!(err.contains("slave0: entry 1 committed but RUNNING"), "{err}");
    }
}

//! Eventual consistency (DolphinDB: "the master and slave clusters eventually hold the same data";
//! a task that cannot run is FAILED with its reason, visible in getSlaveReplicationStatus, and an
//! operator skips it; Doris CCR: the target eventually equals the source): after the liveness
//! phase,
//!
//! 1. each target's replicated units equal, row for row and schema for schema, the state of
//!    applying the entries it committed, in log order (so nothing ran twice, nothing ran that was
//!    not committed, and no committed entry's effect went missing);
//! 2. where nothing explains a difference, that is the source's state: for every replicated unit
//!    whose every committed source operation was logged, and whose every entry the target
//!    committed, the target equals the source. What may explain a difference: entries FAILED,
//!    WAITING behind one, skipped by hand, or transactions completed while replication was off for
//!    the unit or the source was disabled. Anything else is silent divergence.
//!
//! A unit is a database here: the data model every design of ccrsim shares (`dfs`), and the
//! checkers' own sequential database as the oracle.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::dfs::SharedOperation;

use super::event::{EntryState, PipelineEvent};
use super::ledger::PipelineLedger;
use crate::checkers::Checker;
use crate::checkers::oracle::{DbView, SequentialDb, first_difference};
use crate::topology::ClusterId;

/// The checker's name.
pub const NAME: &str = "eventual-consistency";
/// Where the property comes from.
pub const SOURCE: &str = "asynchronous replication converges: DolphinDB's slave eventually equals the master, diverging only through FAILED or skipped tasks its status shows; Doris CCR's target equals its source";

/// A target cluster's databases that a filter selects, as a user sees them (or why they cannot be
/// read).
pub type TargetViews<'a> = dyn Fn(ClusterId, &dyn Fn(&str) -> bool) -> Result<BTreeMap<String, DbView>, String> + 'a;

/// What the end-state check reads besides the ledger: the source's committed history, each
/// target's databases as a user sees them, and the databases replicated from the start. The replica
/// protocol supplies the first two (they are its state).
pub struct Targets<'a> {
    /// The source cluster's committed operations in commit order: `(transaction, operation)`.
    pub source_history: Vec<(u64, &'a SharedOperation)>,
    /// A target cluster's databases that `keep` selects, as a user sees them.
    pub views: &'a TargetViews<'a>,
    /// Databases replicated from the start.
    pub scope: &'a BTreeSet<String>,
}

/// Judges every target at the end (stateless).
#[derive(Debug, Default)]
pub struct EventualConsistency;

impl<'a> Checker<PipelineLedger, PipelineEvent<'_>, Targets<'a>> for EventualConsistency {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn at_end(&self, ledger: &PipelineLedger, targets: &Targets<'a>) -> Result<(), String> {
        at_end(ledger, targets)
    }
}

/// Checks every target.
fn at_end(ledger: &PipelineLedger, targets: &Targets<'_>) -> Result<(), String> {
    // The databases replication covers: the configured ones and any an entry names.
    let mut replicated: BTreeSet<String> = targets.scope.clone();
    replicated.extend(ledger.source.entries.values().map(|e| e.unit.clone()));
    let keep = |db: &str| replicated.contains(db);
    // The master, from its committed history (the reference-model checker ties it to the real master).
    let mut master = SequentialDb::new();
    let enqueued_tids: BTreeSet<u64> = ledger.source.entries.values().map(|e| e.tx).collect();
    let mut unenqueued: BTreeSet<String> = BTreeSet::new();
    for (tid, op) in &targets.source_history {
        master.apply(op).map_err(|e| format!("master committed transaction {tid} is invalid in commit order: {e}"))?;
        if !enqueued_tids.contains(tid) {
            unenqueued.insert(op.database().to_string());
        }
    }
    let master_views = master.views(keep);
    for (&slave, truth) in &ledger.targets {
        let name = slave.name();
        let mut expected = SequentialDb::new();
        let mut held_back: BTreeSet<String> = unenqueued.clone();
        for (id, entry) in &ledger.source.entries {
            match truth.entries.get(id) {
                Some(t) if !t.applied_by.is_empty() => {
                    let op = &entry.op;
                    expected
                        .apply(op)
                        .map_err(|e| format!("{name}: entry {id} ({}) committed there but is invalid in log order: {e}", op.kind()))?;
                }
                // FINISHED without a skip yet never committed: the status claims an effect the
                // target does not have. That explains nothing; the comparison below must see it.
                Some(t) if t.state == EntryState::Finished && !t.skipped => {}
                // Not fetched, WAITING, RUNNING, FAILED or skipped: the status shows it.
                _ => {
                    held_back.insert(entry.unit.clone());
                }
            }
        }
        let actual = (targets.views)(slave, &keep).map_err(|e| format!("{name}: {e}"))?;
        let want = expected.views(keep);
        if actual != want {
            return Err(format!("{name} diverges from its committed entries: {}", first_difference(&actual, &want)));
        }
        for (db, view) in &master_views {
            if held_back.contains(db) {
                continue;
            }
            if want.get(db) != Some(view) {
                let unapplied: Vec<u64> = ledger
                    .source
                    .entries
                    .iter()
                    .filter(|(id, e)| {
                        e.unit == *db
                            && truth
                                .entries
                                .get(id)
                                .is_some_and(|s| s.state == EntryState::Finished && !s.skipped && s.applied_by.is_empty())
                    })
                    .map(|(id, _)| *id)
                    .collect();
                let only = |v: Option<&DbView>| v.map(|v| BTreeMap::from([(db.clone(), v.clone())])).unwrap_or_default();
                return Err(format!(
                    "{name} silently diverges from the source in {db} (target / source; every operation logged, every entry FINISHED or committed, none FAILED or skipped): {}; entries FINISHED there without ever committing: {unapplied:?}",
                    first_difference(&only(want.get(db)), &only(Some(view)))
                ));
            }
        }
        if let Some(db) = want.keys().find(|db| !master_views.contains_key(*db) && !held_back.contains(*db)) {
            return Err(format!("{name} holds {db}, which the source does not, with nothing to explain it"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ccrsim_model::core::io::NodeId;
    use ccrsim_model::dfs::Operation;

    use super::*;
    use crate::checkers::pipeline::test_support::{batch, create_db, create_table, done, follow, insert, ledger, logged, slave, tx};

    /// The source committed and logged `ops` as entries 1, 2, ... (plus the transactions of
    /// `unlogged`, never logged); each slave fetched every entry and then did `events`; each
    /// slave's databases are what applying its operations of `holds` gives. The verdict at the end.
    fn verdict(
        ops: &[SharedOperation],
        unlogged: &[SharedOperation],
        events: &[(NodeId, PipelineEvent<'_>)],
        holds: [&[SharedOperation]; 2],
    ) -> Result<(), String> {
        let all = batch(1..=ops.len() as u64);
        let mut l = ledger();
        let mut setup = logged(ops);
        for k in 0..2 {
            setup.push((slave(k), PipelineEvent::Fetched { from: 1, entries: &all, offset: ops.len() as u64 }));
        }
        follow(&mut l, &setup);
        follow(&mut l, events);
        let mut source_history: Vec<(u64, &SharedOperation)> = (1..).zip(ops).map(|(id, op)| (tx(id), op)).collect();
        source_history.extend((900..).zip(unlogged));
        let views = |c: ClusterId, keep: &dyn Fn(&str) -> bool| {
            let ClusterId::Slave(k) = c else { panic!("only slaves are targets") };
            let mut db = SequentialDb::new();
            for op in holds[k as usize] {
                db.apply(op).expect("a valid history");
            }
            Ok(db.views(keep))
        };
        let scope = BTreeSet::from(["dfs://a".to_string()]);
        EventualConsistency.at_end(&l, &Targets { source_history, views: &views, scope: &scope })
    }

    /// A database, a table and a row.
    fn history() -> Vec<SharedOperation> {
        vec![create_db("dfs://a"), create_table("dfs://a", "t"), insert("dfs://a", "t", 1)]
    }

    /// Every entry committed and finished on both slaves, but `except` on slave 0.
    fn all_done(except: Option<u64>) -> Vec<(NodeId, PipelineEvent<'static>)> {
        (0..2).flat_map(|k| (1..=3).filter(move |&id| k != 0 || Some(id) != except).flat_map(move |id| done(slave(k), id))).collect()
    }

    #[test]
    fn targets_equal_to_their_entries_and_the_source_pass() {
        let ops = history();
        assert_eq!(verdict(&ops, &[], &all_done(None), [&ops, &ops]), Ok(()));
    }

    #[test]
    fn a_failed_or_skipped_entry_explains_a_difference_from_the_source() {
        // The status shows why slave 0 lacks the row: entry 3 FAILED (or skipped by an operator).
        let ops = history();
        for end in [PipelineEvent::Failed { id: 3, reason: "Missing TaskData" }, PipelineEvent::Finished { id: 3, skipped: true }] {
            let mut events = all_done(Some(3));
            events.extend([(slave(0), PipelineEvent::Started { id: 3 }), (slave(0), end)]);
            assert_eq!(verdict(&ops, &[], &events, [&ops[..2], &ops]), Ok(()), "{end:?}");
        }
    }

    #[test]
    fn a_source_write_never_logged_explains_a_difference() {
        // Written while replication was off for the database: the target never had it to apply.
        let ops = history();
        let unlogged = [insert("dfs://a", "t", 2)];
        assert_eq!(verdict(&ops, &unlogged, &all_done(None), [&ops, &ops]), Ok(()));
    }

    #[test]
    fn a_target_other_than_its_committed_entries_is_refused() {
        let ops = history();
        let err = verdict(&ops, &[], &all_done(None), [&ops[..2], &ops]).unwrap_err();
        assert!(err.contains("slave0 diverges from its committed entries"), "{err}");
    }

    #[test]
    fn an_entry_finished_without_committing_is_silent_divergence() {
        // The target equals what it committed, and its status says FINISHED: nothing explains why
        // it lacks the source's row.
        let ops = history();
        let mut events = all_done(Some(3));
        events.push((slave(0), PipelineEvent::Finished { id: 3, skipped: false }));
        let err = verdict(&ops, &[], &events, [&ops[..2], &ops]).unwrap_err();
        assert!(err.contains("slave0 silently diverges from the source in dfs://a"), "{err}");
        assert!(err.contains("entries FINISHED there without ever committing: [3]"), "{err}");
    }

    #[test]
    fn a_target_keeping_a_database_the_source_dropped_is_refused() {
        let ops = [create_db("dfs://a"), Arc::new(Operation::DropDb { db: "dfs://a".into() })];
        let mut events = Vec::from(done(slave(0), 1));
        events.push((slave(0), PipelineEvent::Finished { id: 2, skipped: false }));
        events.extend(done(slave(1), 1));
        events.extend(done(slave(1), 2));
        let err = verdict(&ops, &[], &events, [&ops[..1], &ops]).unwrap_err();
        assert!(err.contains("slave0 holds dfs://a, which the source does not"), "{err}");
    }

    #[test]
    fn a_committed_entry_invalid_in_log_order_is_refused() {
        // Slave 0 committed the row without the table it goes to.
        let ops = history();
        let mut events = all_done(Some(2));
        events.extend([(slave(0), PipelineEvent::Finished { id: 2, skipped: true })]);
        let err = verdict(&ops, &[], &events, [&ops[..1], &ops]).unwrap_err();
        assert!(err.contains("slave0: entry 3 (APPEND) committed there but is invalid in log order"), "{err}");
    }
}

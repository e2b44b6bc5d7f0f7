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

//! Eventual consistency (DolphinDB: "the master and slave clusters eventually hold the same data";
//! a task that cannot run is FAILED with its reason, visible in getSlaveReplicationStatus, and an
//! operator skips it): after the liveness phase,
//!
//! 1. each slave's replicated databases equal, row for row and schema for schema, the state of
//!    applying the tasks it committed, in task id order (so nothing ran twice, nothing ran that was
//!    not committed, and no committed task's effect went missing);
//! 2. where nothing explains a difference, that is the master's state: for every replicated
//!    database whose every committed master operation was enqueued, and whose every task the slave
//!    committed, the slave equals the master. What may explain a difference: tasks FAILED, WAITING
//!    behind one, skipped by hand, or transactions completed while replication was off for the
//!    database or the master was DISABLED. Anything else is silent divergence.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::dfs::SharedOperation;
use ccrsim_model::pipeline::dolphindb_async::ReplFact;
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;

use crate::checkers::Checker;
use crate::checkers::oracle::{DbView, SequentialDb};
use crate::checkers::pipeline::ledger::ReplLedger;
use crate::checkers::replica::dolphindb_2pc::reference_model::first_difference;
use crate::topology::ClusterId;

/// The checker's name.
pub const NAME: &str = "eventual-consistency";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: the slave eventually equals the master, divergence only through FAILED or skipped tasks the status shows";

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

impl<'a> Checker<ReplLedger, ReplFact, Targets<'a>> for EventualConsistency {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn at_end(&self, ledger: &ReplLedger, targets: &Targets<'a>) -> Result<(), String> {
        at_end(ledger, targets)
    }
}

/// Checks every slave.
fn at_end(ledger: &ReplLedger, targets: &Targets<'_>) -> Result<(), String> {
    // The databases replication covers: the configured ones and any a task names.
    let mut replicated: BTreeSet<String> = targets.scope.clone();
    replicated.extend(ledger.master.tasks.values().map(|(t, _)| t.db.clone()));
    let keep = |db: &str| replicated.contains(db);
    // The master, from its committed history (the reference-model checker ties it to the real master).
    let mut master = SequentialDb::new();
    let enqueued_tids: BTreeSet<u64> = ledger.master.tasks.values().map(|(t, _)| t.tid).collect();
    let mut unenqueued: BTreeSet<String> = BTreeSet::new();
    for (tid, op) in &targets.source_history {
        master.apply(op).map_err(|e| format!("master committed transaction {tid} is invalid in commit order: {e}"))?;
        if !enqueued_tids.contains(tid) {
            unenqueued.insert(op.database().to_string());
        }
    }
    let master_views = master.views(keep);
    for (&slave, truth) in &ledger.slaves {
        let name = slave.name();
        let mut expected = SequentialDb::new();
        let mut held_back: BTreeSet<String> = unenqueued.clone();
        for ((id, (task, op)), committed) in ledger.master.tasks.iter().map(|e| (e, truth.tasks.get(e.0))) {
            match committed {
                Some(t) if !t.commits.is_empty() => {
                    expected
                        .apply(op)
                        .map_err(|e| format!("{name}: task {id} ({}) committed there but is invalid in task order: {e}", op.kind()))?;
                }
                // FINISHED without a skip yet never committed: the status claims an effect the
                // slave does not have. That explains nothing; the comparison below must see it.
                Some(t) if t.state == SlaveTaskState::Finished && !t.skipped => {}
                // Not pulled, WAITING, EXECUTING, FAILED or skipped: the status shows it.
                _ => {
                    held_back.insert(task.db.clone());
                }
            }
        }
        let actual = (targets.views)(slave, &keep).map_err(|e| format!("{name}: {e}"))?;
        let want = expected.views(keep);
        if actual != want {
            return Err(format!("{name} diverges from its committed tasks: {}", first_difference(&actual, &want)));
        }
        for (db, view) in &master_views {
            if held_back.contains(db) {
                continue;
            }
            if want.get(db) != Some(view) {
                let unapplied: Vec<u64> = ledger
                    .master
                    .tasks
                    .iter()
                    .filter(|(id, (t, _))| {
                        t.db == *db
                            && truth
                                .tasks
                                .get(id)
                                .is_some_and(|s| s.state == SlaveTaskState::Finished && !s.skipped && s.commits.is_empty())
                    })
                    .map(|(id, _)| *id)
                    .collect();
                let only = |v: Option<&DbView>| v.map(|v| BTreeMap::from([(db.clone(), v.clone())])).unwrap_or_default();
                return Err(format!(
                    "{name} silently diverges from the master in {db} (slave / master; every operation enqueued, every task FINISHED or committed, none FAILED or skipped): {}; tasks FINISHED there without ever committing: {unapplied:?}",
                    first_difference(&only(want.get(db)), &only(Some(view)))
                ));
            }
        }
        if let Some(db) = want.keys().find(|db| !master_views.contains_key(*db) && !held_back.contains(*db)) {
            return Err(format!("{name} holds {db}, which the master does not, with nothing to explain it"));
        }
    }
    Ok(())
}

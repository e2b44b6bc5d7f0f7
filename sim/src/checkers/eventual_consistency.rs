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

use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::{DatabaseView, ReferenceDb, database_views};
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;

use super::dfs_ledger::DfsLedger;
use super::reference_model::cluster_state;
use super::repl_ledger::ReplLedger;
use crate::topology::ClusterId;
use crate::world::Node;

/// The checker's name.
pub const NAME: &str = "eventual-consistency";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: the slave eventually equals the master, divergence only through FAILED or skipped tasks the status shows";

/// Checks every slave; `controllers_of` gives a cluster's controllers, `scope` the databases
/// replicated from the start.
pub fn at_end<'c>(
    ledger: &ReplLedger,
    master_ledger: &DfsLedger,
    nodes: &[Node],
    controllers_of: impl Fn(ClusterId) -> &'c [NodeId],
    scope: &BTreeSet<String>,
) -> Result<(), String> {
    // The databases replication covers: the configured ones and any a task names.
    let mut replicated: BTreeSet<String> = scope.clone();
    replicated.extend(ledger.master.tasks.values().map(|(t, _)| t.db.clone()));
    let keep = |db: &str| replicated.contains(db);
    // The master, from its committed history (the reference-model checker ties it to the real master).
    let mut master = ReferenceDb::default();
    let mut enqueued_tids: BTreeSet<u64> = BTreeSet::new();
    enqueued_tids.extend(ledger.master.tasks.values().map(|(t, _)| t.tid));
    let mut unenqueued: BTreeSet<String> = BTreeSet::new();
    for (tid, op) in master_ledger.committed.values() {
        master.apply(op).map_err(|e| format!("master committed transaction {tid} is invalid in commit order: {e}"))?;
        if !enqueued_tids.contains(tid) {
            unenqueued.insert(op.database().to_string());
        }
    }
    let master_views = master.views(keep);
    for (&slave, truth) in &ledger.slaves {
        let name = slave.name();
        let mut expected = ReferenceDb::default();
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
        let (catalog, rows) = cluster_state(nodes, controllers_of(slave)).map_err(|e| format!("{name}: {e}"))?;
        let actual = database_views(catalog, |t| rows.get(&t).cloned().unwrap_or_default(), keep);
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
                let only = |v: Option<&DatabaseView>| v.map(|v| BTreeMap::from([(db.clone(), v.clone())])).unwrap_or_default();
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

/// The first difference between two sets of database views, said briefly: which database, which
/// table, and what differs (schema, or the first row only one side has).
fn first_difference(a: &BTreeMap<String, DatabaseView>, b: &BTreeMap<String, DatabaseView>) -> String {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for n in names {
        match (a.get(n), b.get(n)) {
            (Some(x), Some(y)) if x != y => return format!("{n}: {}", database_difference(x, y)),
            (Some(_), None) => return format!("{n} only on the left"),
            (None, Some(_)) => return format!("{n} only on the right"),
            _ => {}
        }
    }
    "none".into()
}

fn database_difference(x: &DatabaseView, y: &DatabaseView) -> String {
    if x.scheme != y.scheme {
        return format!("partition scheme {:?} / {:?}", x.scheme, y.scheme);
    }
    let tables: BTreeSet<&String> = x.tables.keys().chain(y.tables.keys()).collect();
    for t in tables {
        match (x.tables.get(t), y.tables.get(t)) {
            (Some(p), Some(q)) if p.columns != q.columns || p.partition_column != q.partition_column => {
                return format!("table {t} schema {:?} / {:?}", p.columns, q.columns);
            }
            (Some(p), Some(q)) if p.rows != q.rows => {
                let only_left = p.rows.iter().find(|r| !q.rows.contains(r));
                let only_right = q.rows.iter().find(|r| !p.rows.contains(r));
                return format!(
                    "table {t}: {} rows / {} rows; first only on the left {only_left:?}, first only on the right {only_right:?}",
                    p.rows.len(),
                    q.rows.len()
                );
            }
            (Some(_), None) => return format!("table {t} only on the left"),
            (None, Some(_)) => return format!("table {t} only on the right"),
            _ => {}
        }
    }
    "none".into()
}

//! Eventual consistency (DolphinDB: "the master and slave clusters eventually hold the same data";
//! a task that cannot run is FAILED with its reason, visible in getSlaveReplicationStatus, and an
//! operator skips it; Doris CCR: the target eventually equals the source): after the liveness
//! phase,
//!
//! 1. each target's replicated units equal, row for row and schema for schema, the state of
//!    applying the entries it committed, in log order (so nothing ran twice, nothing ran that was
//!    not committed, and no committed entry's effect went missing);
//! 2. where nothing explains a difference, that is the source's state. What may explain a
//!    difference: entries FAILED, WAITING behind one, skipped by hand, or transactions completed
//!    while replication was off for the unit or the source was disabled; each explains only what
//!    its operation touches (its footprint, with the checkers' own lock rules: the partitions it
//!    writes, else its table, else its database) and what the later entries conflicting with it
//!    touch (they ran on another state than the source's; a row operation, which changes each
//!    partition from its own state, only where it meets the held partitions). Everything else of
//!    every replicated unit, schema and rows, equals the source; a difference there is silent
//!    divergence.
//!
//! A unit is a database here: the data model every design of ccrsim shares (`dfs`), and the
//! checkers' own sequential database as the oracle.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::dfs::{LockKey, Operation, SharedOperation, Value};

use super::event::{EntryState, PipelineEvent};
use super::ledger::{EntryTruth, PipelineLedger, TargetTruth};
use crate::checkers::Checker;
use crate::checkers::oracle::{DbView, SequentialDb, first_difference, footprint, footprints_overlap, partition_local, row_partition};
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
    /// Each target's last status answer, if its status was asked.
    pub status: &'a BTreeMap<ClusterId, ShownStatus>,
}

/// How a target's status answer shows an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// Waiting or being applied.
    Unfinished,
    /// FAILED, with the reason the answer gives.
    Failed(String),
    /// Finished by an operator's skip.
    Skipped,
    /// Finished as applied.
    Finished,
}

/// A target's last status answer, in the neutral checkers' words: what an operator sees when the
/// target differs from the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownStatus {
    /// Each entry the answer shows.
    pub rows: BTreeMap<u64, Shown>,
    /// The entries the answer must show if they explain a difference: those the answering
    /// controller held, less the old finished ones a status may age out.
    pub must_show: std::ops::RangeInclusive<u64>,
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
    for (tid, op) in &targets.source_history {
        master.apply(op).map_err(|e| format!("master committed transaction {tid} is invalid in commit order: {e}"))?;
    }
    let master_views = master.views(keep);
    let footprint_of = |op: &Operation| footprint(op, master_views.get(op.database()));
    // What source transactions never logged may have changed: no target had them to apply.
    let enqueued_tids: BTreeSet<u64> = ledger.source.entries.values().map(|e| e.tx).collect();
    let mut unlogged = HeldBack::default();
    for (_, op) in targets.source_history.iter().filter(|(tid, _)| !enqueued_tids.contains(tid)) {
        unlogged.hold(footprint_of(op));
    }
    for (&slave, truth) in &ledger.targets {
        let name = slave.name();
        let mut expected = SequentialDb::new();
        let mut held = unlogged.clone();
        for (id, entry) in &ledger.source.entries {
            let state = truth.entries.get(id);
            if state.is_some_and(|t| !t.applied_by.is_empty()) {
                let op = &entry.op;
                expected
                    .apply(op)
                    .map_err(|e| format!("{name}: entry {id} ({}) committed there but is invalid in log order: {e}", op.kind()))?;
            }
            // Not fetched, WAITING, RUNNING, FAILED or skipped: the status shows it, and it
            // explains a difference in what it touches. FINISHED without a skip yet never
            // committed explains nothing: the status claims an effect the target does not have,
            // and the comparison below must see it. A later entry that conflicts with a held
            // one ran on another state than the source's there: a row operation changes each
            // partition from its own state, so it leaves a difference only where it meets the
            // held ones (masked already); any other operation is held back with all it touches.
            let footprint = footprint_of(&entry.op);
            if explains(state) || (held.overlaps(&footprint) && !partition_local(&entry.op)) {
                held.hold(footprint);
            }
        }
        let actual = (targets.views)(slave, &keep).map_err(|e| format!("{name}: {e}"))?;
        let want = expected.views(keep);
        if actual != want {
            return Err(format!("{name} diverges from its committed entries: {}", first_difference(&actual, &want)));
        }
        let (want, source) = (held.mask(&want), held.mask(&master_views));
        let names: BTreeSet<&String> = want.keys().chain(source.keys()).collect();
        for db in names {
            let only = |v: Option<&DbView>| v.map(|v| BTreeMap::from([(db.clone(), v.clone())])).unwrap_or_default();
            match (want.get(db), source.get(db)) {
                (Some(w), Some(s)) if w == s => {}
                (Some(_), None) => return Err(format!("{name} holds {db}, which the source does not, with nothing to explain it")),
                (w, s) => {
                    let unapplied = finished_unapplied(ledger, truth, db);
                    return Err(format!(
                        "{name} silently diverges from the source in {db} (target / source, outside what FAILED, skipped, unfinished or unlogged operations touch and the later entries conflicting with them): {}; entries FINISHED there without ever committing: {unapplied:?}",
                        first_difference(&only(w), &only(s))
                    ));
                }
            }
        }
        if let Some(shown) = targets.status.get(&slave) {
            status_explains(truth, shown).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    Ok(())
}

/// Whether an entry in `state` on a target explains a difference from the source where it
/// touches: it did not commit there and is not FINISHED as if it had (not fetched, WAITING,
/// RUNNING, FAILED, or skipped by hand).
fn explains(state: Option<&EntryTruth>) -> bool {
    match state {
        Some(t) if !t.applied_by.is_empty() => false,
        Some(t) => t.state != EntryState::Finished || t.skipped,
        None => true,
    }
}

/// Whether the last status answer of a target shows why each entry that explains a difference
/// there was not applied (SPEC: a divergence is "explained by FAILED or skipped tasks that the
/// status API reports"): unfinished, FAILED with its reason, or skipped. Entries fetched after
/// the answer, or old enough to have aged out of it, are not judged.
fn status_explains(truth: &TargetTruth, shown: &ShownStatus) -> Result<(), String> {
    if shown.must_show.is_empty() {
        return Ok(()); // asked before the target held any entry
    }
    let judged = truth.entries.range(shown.must_show.clone()).filter(|(_, t)| explains(Some(t)));
    for (id, t) in judged {
        let state = if t.skipped { "skipped" } else { t.state.name() };
        let why = match shown.rows.get(id) {
            Some(Shown::Unfinished | Shown::Skipped) => continue,
            Some(Shown::Failed(reason)) if !reason.is_empty() => continue,
            Some(Shown::Failed(_)) => "shows it FAILED without a reason",
            Some(Shown::Finished) => "shows it FINISHED as applied",
            None => "does not show it",
        };
        return Err(format!("entry {id} is {state} there and explains a difference from the source, but the last status answer {why}"));
    }
    Ok(())
}

/// The entries of `db` FINISHED on a target without a skip and without ever committing there.
fn finished_unapplied(ledger: &PipelineLedger, truth: &TargetTruth, db: &str) -> Vec<u64> {
    let finished_unapplied = |s: &EntryTruth| s.state == EntryState::Finished && !s.skipped && s.applied_by.is_empty();
    let of_db = ledger.source.entries.iter().filter(|(_, e)| e.unit == db);
    of_db.filter(|(id, _)| truth.entries.get(id).is_some_and(finished_unapplied)).map(|(id, _)| *id).collect()
}

/// What may differ between a target and the source: the footprints of the operations that
/// explain a difference and of the later entries conflicting with them.
#[derive(Debug, Clone, Default)]
struct HeldBack {
    keys: Vec<LockKey>,
}

impl HeldBack {
    fn hold(&mut self, footprint: Vec<LockKey>) {
        for key in footprint {
            if !self.keys.contains(&key) {
                self.keys.push(key);
            }
        }
    }

    fn overlaps(&self, footprint: &[LockKey]) -> bool {
        footprints_overlap(&self.keys, footprint)
    }

    /// `views` without what is held back: whole databases, whole tables, and the rows of held
    /// partitions (placed by each view's own scheme).
    fn mask(&self, views: &BTreeMap<String, DbView>) -> BTreeMap<String, DbView> {
        let held_db = |db: &String| self.keys.contains(&LockKey::Db(db.clone()));
        views.iter().filter(|(db, _)| !held_db(db)).map(|(db, view)| (db.clone(), self.mask_db(db, view))).collect()
    }

    fn mask_db(&self, db: &str, view: &DbView) -> DbView {
        let mut masked = view.clone();
        masked.tables.retain(|t, _| !self.keys.contains(&LockKey::Table(db.to_string(), t.clone())));
        for (t, table) in masked.tables.iter_mut() {
            let partitions: Vec<&Value> = self
                .keys
                .iter()
                .filter_map(|k| match k {
                    LockKey::Partition(d, tk, p) if d == db && tk == t => Some(p),
                    _ => None,
                })
                .collect();
            if partitions.is_empty() {
                continue;
            }
            let original = &view.tables[t];
            table.rows.retain(|row| !row_partition(view, original, row).is_some_and(|p| partitions.contains(&&p)));
        }
        masked
    }
}

#[cfg(test)]
mod tests {

    use ccrsim_model::core::io::NodeId;
    use ccrsim_model::dfs::{Filter, Operation};

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
        verdict_with_status(ops, unlogged, events, holds, &BTreeMap::new())
    }

    /// [`verdict`], with the targets' last status answers `status`.
    fn verdict_with_status(
        ops: &[SharedOperation],
        unlogged: &[SharedOperation],
        events: &[(NodeId, PipelineEvent<'_>)],
        holds: [&[SharedOperation]; 2],
        status: &BTreeMap<ClusterId, ShownStatus>,
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
        EventualConsistency.at_end(&l, &Targets { source_history, views: &views, scope: &scope, status })
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

    /// A database, a table partitioned on `k` (partitions 1 and 2), and one row in each partition
    /// (entries 3 and 4), then `more`.
    fn partitioned(more: &[SharedOperation]) -> Vec<SharedOperation> {
        let columns = vec![ccrsim_model::dfs::Column::new("k", ccrsim_model::dfs::ColumnType::Long)];
        let table = Operation::CreatePartitionedTable { db: "dfs://a".into(), table: "t".into(), columns, partition_column: "k".into() };
        let mut ops = vec![create_db("dfs://a"), SharedOperation::new(table), insert("dfs://a", "t", 1), insert("dfs://a", "t", 2)];
        ops.extend_from_slice(more);
        ops
    }

    /// Slave 1 ran every entry; slave 0 every one but entry 3, which FAILED, then did `events`.
    fn beside_a_failure(count: u64, events: &[(NodeId, PipelineEvent<'static>)]) -> Vec<(NodeId, PipelineEvent<'static>)> {
        let mut all: Vec<_> = (1..=count).flat_map(|id| done(slave(1), id)).collect();
        all.extend((1..=2).flat_map(|id| done(slave(0), id)));
        all.extend([(slave(0), PipelineEvent::Started { id: 3 }), (slave(0), PipelineEvent::Failed { id: 3, reason: "Missing TaskData" })]);
        all.extend_from_slice(events);
        all
    }

    #[test]
    fn a_failed_entry_explains_a_difference_only_in_what_it_touches() {
        // Entry 3 wrote partition 1; slave 0 lacks that row and has the row of partition 2.
        let ops = partitioned(&[]);
        let events = beside_a_failure(4, &done(slave(0), 4));
        let holds = [ops[0].clone(), ops[1].clone(), ops[3].clone()];
        assert_eq!(verdict(&ops, &[], &events, [&holds, &ops]), Ok(()));
    }

    #[test]
    fn a_difference_beside_a_failed_entry_is_silent_divergence() {
        // Entry 4 (partition 2) FINISHED on slave 0 without committing: entry 3's failure in
        // partition 1 does not explain partition 2.
        let ops = partitioned(&[]);
        let events = beside_a_failure(4, &[(slave(0), PipelineEvent::Finished { id: 4, skipped: false })]);
        let err = verdict(&ops, &[], &events, [&ops[..2], &ops]).unwrap_err();
        assert!(err.contains("slave0 silently diverges from the source in dfs://a"), "{err}");
        assert!(err.contains("entries FINISHED there without ever committing: [4]"), "{err}");
    }

    /// Entry 5 is `op`, FINISHED on slave 0 without committing, beside entry 3 FAILED there
    /// (partition 1); slave 0 holds the rows of entries 1, 2 and 4. The verdict.
    fn fifth_finished_unapplied(op: Operation) -> Result<(), String> {
        let ops = partitioned(&[SharedOperation::new(op)]);
        let mut tail = Vec::from(done(slave(0), 4));
        tail.push((slave(0), PipelineEvent::Finished { id: 5, skipped: false }));
        let holds = [ops[0].clone(), ops[1].clone(), ops[3].clone()];
        verdict(&ops, &[], &beside_a_failure(5, &tail), [&holds, &ops])
    }

    fn delete(filter: Option<Filter>) -> Operation {
        Operation::SqlDelete { db: "dfs://a".into(), table: "t".into(), filter }
    }

    #[test]
    fn a_later_entry_conflicting_with_a_failed_one_is_held_back_where_they_meet() {
        let on = |k| Some(Filter { column: "k".into(), cmp: ccrsim_model::dfs::Cmp::Eq, value: Value::Long(k) });
        // A delete of partition 1 meets entry 3 there only: nothing else to compare.
        assert_eq!(fifth_finished_unapplied(delete(on(1))), Ok(()));
        // Table DDL that conflicts with entry 3 holds back its whole table.
        assert_eq!(fifth_finished_unapplied(Operation::TruncateTable { db: "dfs://a".into(), table: "t".into() }), Ok(()));
        // A delete of every partition meets entry 3 in partition 1 only: partition 2 must show
        // it, and does not.
        for filter in [on(2), None] {
            let err = fifth_finished_unapplied(delete(filter.clone())).unwrap_err();
            assert!(err.contains("entries FINISHED there without ever committing: [5]"), "{filter:?}: {err}");
        }
    }

    #[test]
    fn an_explaining_entry_must_be_shown_in_the_last_status_answer() {
        // Entry 3 FAILED on slave 0 (partition 1), explaining why it lacks that row.
        let ops = partitioned(&[]);
        let events = beside_a_failure(4, &done(slave(0), 4));
        let holds = [ops[0].clone(), ops[1].clone(), ops[3].clone()];
        let answer = |third: Option<Shown>| {
            let mut rows: BTreeMap<u64, Shown> = (1..=4).filter(|&id| id != 3).map(|id| (id, Shown::Finished)).collect();
            rows.extend(third.map(|s| (3, s)));
            BTreeMap::from([(ClusterId::Slave(0), ShownStatus { rows, must_show: 1..=4 })])
        };
        let judged = |third| verdict_with_status(&ops, &[], &events, [&holds, &ops], &answer(third));
        for shown in [Shown::Failed("Missing TaskData".into()), Shown::Unfinished, Shown::Skipped] {
            assert_eq!(judged(Some(shown.clone())), Ok(()), "{shown:?}");
        }
        for (shown, why) in [
            (None, "does not show it"),
            (Some(Shown::Failed(String::new())), "shows it FAILED without a reason"),
            (Some(Shown::Finished), "shows it FINISHED as applied"),
        ] {
            let err = judged(shown).unwrap_err();
            assert!(err.contains("slave0: entry 3 is FAILED there and explains a difference"), "{err}");
            assert!(err.contains(why), "{err}");
        }
        // An answer given before the slave held entry 3, or after it aged out, is not judged on it.
        let before = BTreeMap::from([(ClusterId::Slave(0), ShownStatus { rows: BTreeMap::new(), must_show: 1..=2 })]);
        assert_eq!(verdict_with_status(&ops, &[], &events, [&holds, &ops], &before), Ok(()));
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
        let ops = [create_db("dfs://a"), SharedOperation::new(Operation::DropDb { db: "dfs://a".into() })];
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

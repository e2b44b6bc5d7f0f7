//! Full sync delivers every write exactly once (the reference's §6, clsFSSrcSession.cpp `notifyLSN`:
//! a record written while the copy runs is forwarded iff the copy cursor has passed its position;
//! the scan reads the others; seed 002 §全量同步: changes on the source during the sync are copied to
//! the target). Between a target's `FullSyncBegan` and its completed `FullSyncEnded`:
//!
//! - the copy of document `d` found it at `written_at = L` (or deleted): it delivered every write to
//!   `d` up to `L`, none after;
//! - a forwarded record at or below what the copy of its document delivered is delivered twice; a
//!   record forwarded twice too;
//! - a record the source's log got in the window (its own write as primary, or replayed) that
//!   carries a client write is delivered by the copy of its document or by forwarding: exactly one;
//! - the target's log moves to the end `FullSyncEnded` names, and the incremental sync delivers
//!   every record after it: neither a forwarded record nor a copied document may be after it.
//!
//! A copy that found the document deleted, or never sent it (the copy sends the documents that
//! exist when its cursor passes them), tells only that it read after some delete (or before the
//! document's first write in the window): writes up to the earliest such point must not be
//! forwarded, writes after the latest must be; between, either delivery is right, but not both.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::fact::CollectionId;
use ccrsim_model::replica::sequoiadb::types::{DocId, DocValue, Member, WriteOp};
use ccrsim_model::replica::sequoiadb::{Lsn, SeqFact};

use super::final_state::FinalNode;
use super::ledger::SeqLedger;
use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "full-sync-exactly-once";
/// Where the property comes from.
pub const SOURCE: &str = "seed 002 §全量同步; sequoiadb-replica-group.md §6 (clsFSSrcSession.cpp notifyLSN: forwarded iff the copy \
                          cursor passed it)";

/// A document's copy: what it found, and how many of the window's source records came before it.
#[derive(Debug, Clone, Copy)]
struct Copy {
    value: Option<DocValue>,
    after_records: usize,
}

/// One running full sync of a target.
#[derive(Debug, Clone)]
struct Window {
    source: NodeId,
    source_end: Lsn,
    copies: BTreeMap<(CollectionId, DocId), Copy>,
    forwarded: BTreeMap<Lsn, u32>,
    /// Records the source's log got since the sync began, in order.
    source_records: Vec<Lsn>,
}

/// Whether a document's copy delivered a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivered {
    ByCopy,
    NotByCopy,
    Either,
}

/// The running full syncs, by target.
#[derive(Debug, Default)]
pub struct FullSyncOnce {
    windows: BTreeMap<Member, Window>,
}

impl Checker<SeqLedger, SeqFact, [FinalNode]> for FullSyncOnce {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &SeqLedger, _node: NodeId, fact: &SeqFact) -> Result<(), String> {
        match fact {
            SeqFact::FullSyncBegan { at, source, source_end } => {
                let window = Window {
                    source: *source,
                    source_end: *source_end,
                    copies: BTreeMap::new(),
                    forwarded: BTreeMap::new(),
                    source_records: Vec::new(),
                };
                self.windows.insert(*at, window);
            }
            SeqFact::FullSyncDocCopied { at, collection, id, value, .. } => {
                if let Some(w) = self.windows.get_mut(at) {
                    w.copies.insert((*collection, *id), Copy { value: *value, after_records: w.source_records.len() });
                }
            }
            SeqFact::FullSyncRecordForwarded { at, lsn, .. } => {
                if let Some(w) = self.windows.get_mut(at) {
                    *w.forwarded.entry(*lsn).or_default() += 1;
                }
            }
            SeqFact::RecordWritten { at, lsn, .. } => {
                for w in self.windows.iter_mut().filter(|(t, w)| t.group == at.group && w.source == at.node).map(|(_, w)| w) {
                    w.source_records.push(*lsn);
                }
            }
            SeqFact::RolledBack { at, to, .. } => {
                for w in self.windows.iter_mut().filter(|(t, w)| t.group == at.group && w.source == at.node).map(|(_, w)| w) {
                    w.source_records.retain(|l| l <= to);
                }
            }
            SeqFact::FullSyncEnded { at, completed, end, .. } => {
                let Some(window) = self.windows.remove(at) else { return Ok(()) };
                if *completed {
                    return judge(ledger, *at, &window, *end).map_err(|why| {
                        format!("the full sync of node {} from node {} (began at {}): {why}", at.node, window.source, window.source_end)
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Every delivery of the window, at its end: the target's log moved to `end`, so the incremental
/// sync that follows delivers every record after it.
fn judge(ledger: &SeqLedger, target: Member, w: &Window, end: Lsn) -> Result<(), String> {
    if let Some((lsn, n)) = w.forwarded.iter().find(|(_, n)| **n > 1) {
        return Err(format!("forwarded the record at {lsn} {n} times"));
    }
    if let Some(lsn) = w.forwarded.keys().find(|&&l| l > end) {
        return Err(format!("forwarded the record at {lsn}, after the end {end} its log moved to: the incremental sync delivers it again"));
    }
    if let Some((doc, v)) = w.copies.iter().find_map(|(d, c)| c.value.filter(|v| v.written_at > end).map(|v| (d, v))) {
        return Err(format!(
            "copied document {doc:?} as written at {}, after the end {end} its log moved to: the incremental sync delivers that write again",
            v.written_at
        ));
    }
    for &lsn in w.forwarded.keys() {
        let Some((write, info)) = ledger.write_of(target.group, lsn) else { continue };
        if delivered_by_copy(ledger, target, w, (info.collection, info.id), lsn) == Delivered::ByCopy {
            return Err(format!(
                "write {write:?} at {lsn} was delivered twice: copied with document {:?} ({}) and forwarded",
                (info.collection, info.id),
                shown_copy(w, (info.collection, info.id))
            ));
        }
    }
    for &lsn in w.source_records.iter().filter(|&&l| l <= end) {
        let Some((write, info)) = ledger.write_of(target.group, lsn) else { continue };
        let by_copy = delivered_by_copy(ledger, target, w, (info.collection, info.id), lsn);
        if by_copy == Delivered::NotByCopy && !w.forwarded.contains_key(&lsn) {
            return Err(format!(
                "write {write:?} at {lsn}, written on the source during the sync, was neither copied (document {:?}: {}) nor forwarded",
                (info.collection, info.id),
                shown_copy(w, (info.collection, info.id))
            ));
        }
    }
    Ok(())
}

/// What the copy of `doc` found, as a message shows it.
fn shown_copy(w: &Window, doc: (CollectionId, DocId)) -> String {
    match w.copies.get(&doc).map(|c| c.value) {
        Some(Some(v)) => format!("copied as written at {} with counter {}", v.written_at, v.counter),
        Some(None) => "copied as deleted".into(),
        None => "never copied".into(),
    }
}

/// Whether the copy of `doc` delivered the write at `lsn`. A document the copy never sent was absent
/// when the copy's cursor passed its place, some time before the sync ended.
fn delivered_by_copy(ledger: &SeqLedger, target: Member, w: &Window, doc: (CollectionId, DocId), lsn: Lsn) -> Delivered {
    let (value, after_records) = match w.copies.get(&doc) {
        Some(copy) => (copy.value, copy.after_records),
        None => (None, w.source_records.len()),
    };
    if let Some(v) = value {
        return if lsn <= v.written_at { Delivered::ByCopy } else { Delivered::NotByCopy };
    }
    // Found absent: it read before the document's first write in the window, or after one of the
    // deletes the source logged before the copy arrived.
    let deletes = w.source_records[..after_records]
        .iter()
        .filter(|&&l| ledger.write_of(target.group, l).is_some_and(|(_, i)| (i.collection, i.id) == doc && i.op == WriteOp::Delete));
    let earliest = w.source_end;
    let latest = deletes.max().copied().unwrap_or(earliest).max(earliest);
    if lsn <= earliest {
        Delivered::ByCopy
    } else if lsn > latest {
        Delivered::NotByCopy
    } else {
        Delivered::Either
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{C, N, doc, invoked, l, m, rec, run, w};
    use ccrsim_model::replica::sequoiadb::types::ReplSize;

    const T: NodeId = 12;

    fn began(source_end: Lsn) -> (NodeId, SeqFact) {
        (T, SeqFact::FullSyncBegan { at: m(T), source: N[0], source_end })
    }

    fn copied(id: DocId, value: Option<DocValue>) -> (NodeId, SeqFact) {
        (T, SeqFact::FullSyncDocCopied { at: m(T), source: N[0], collection: C, id, value })
    }

    fn forwarded(lsn: Lsn) -> (NodeId, SeqFact) {
        (T, SeqFact::FullSyncRecordForwarded { at: m(T), source: N[0], lsn })
    }

    fn ended() -> (NodeId, SeqFact) {
        (T, SeqFact::FullSyncEnded { at: m(T), source: N[0], end: l(1, 30), completed: true })
    }

    /// Document 1 inserted at 1:0 (before the sync), then incremented at 1:10 and 1:20 on the
    /// source while the sync runs.
    fn sync_with(deliveries: Vec<(NodeId, SeqFact)>) -> Result<(), String> {
        let inc = WriteOp::Increment { delta: 1 };
        let mut facts = vec![
            invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(1)),
            invoked(w(2), 1, inc, ReplSize::Nodes(1)),
            invoked(w(3), 1, inc, ReplSize::Nodes(1)),
            rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))),
            began(l(1, 0)),
            rec(N[0], l(1, 10), l(1, 0), Some(w(2))),
            rec(N[0], l(1, 20), l(1, 10), Some(w(3))),
        ];
        facts.extend(deliveries);
        facts.push(ended());
        run(&mut FullSyncOnce::default(), &facts).map(|_| ())
    }

    #[test]
    fn the_copy_then_the_forwarded_rest_passes() {
        assert_eq!(sync_with(vec![copied(1, Some(doc(2, l(1, 10)))), forwarded(l(1, 20))]), Ok(()));
        assert_eq!(sync_with(vec![copied(1, Some(doc(3, l(1, 20))))]), Ok(()));
        assert_eq!(sync_with(vec![copied(1, Some(doc(1, l(1, 0)))), forwarded(l(1, 10)), forwarded(l(1, 20))]), Ok(()));
    }

    #[test]
    fn a_write_both_copied_and_forwarded_is_refused() {
        // What a source that forwards writes the copy has not passed yet does
        // (forward_uncopied_writes).
        let err = sync_with(vec![copied(1, Some(doc(3, l(1, 20)))), forwarded(l(1, 20))]).unwrap_err();
        assert!(err.contains("write (1, 3) at 1:20 was delivered twice: copied with document (5, 1)"), "{err}");
    }

    #[test]
    fn a_write_before_the_sync_forwarded_after_the_copy_is_refused() {
        let err = sync_with(vec![copied(1, Some(doc(3, l(1, 20)))), forwarded(l(1, 0))]).unwrap_err();
        assert!(err.contains("write (1, 1) at 1:0 was delivered twice"), "{err}");
    }

    #[test]
    fn a_write_neither_copied_nor_forwarded_is_refused() {
        let err = sync_with(vec![copied(1, Some(doc(2, l(1, 10))))]).unwrap_err();
        assert!(err.contains("write (1, 3) at 1:20, written on the source during the sync, was neither copied"), "{err}");
    }

    #[test]
    fn a_record_forwarded_twice_is_refused() {
        let err = sync_with(vec![copied(1, Some(doc(2, l(1, 10)))), forwarded(l(1, 20)), forwarded(l(1, 20))]).unwrap_err();
        assert!(err.contains("forwarded the record at 1:20 2 times"), "{err}");
    }

    #[test]
    fn deliveries_after_the_end_the_log_moved_to_are_refused() {
        let end = |at| (T, SeqFact::FullSyncEnded { at: m(T), source: N[0], end: at, completed: true });
        let facts = |delivery, at| {
            let mut f = vec![
                invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(1)),
                began(Lsn::INVALID),
                rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))),
            ];
            f.extend([delivery, end(at)]);
            f
        };
        // Left to the incremental sync that follows: fine.
        assert!(run(&mut FullSyncOnce::default(), &facts(copied(1, None), Lsn::INVALID)).is_ok());
        let err = run(&mut FullSyncOnce::default(), &facts(forwarded(l(1, 0)), Lsn::INVALID)).unwrap_err();
        assert!(err.contains("forwarded the record at 1:0, after the end 0:0 its log moved to"), "{err}");
        let err = run(&mut FullSyncOnce::default(), &facts(copied(1, Some(doc(1, l(1, 0)))), Lsn::INVALID)).unwrap_err();
        assert!(err.contains("copied document (5, 1) as written at 1:0, after the end 0:0"), "{err}");
        assert!(run(&mut FullSyncOnce::default(), &facts(forwarded(l(1, 0)), l(1, 0))).is_ok());
    }

    #[test]
    fn an_abandoned_sync_binds_nothing() {
        let facts = vec![
            invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(1)),
            began(Lsn::INVALID),
            rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))),
            (T, SeqFact::FullSyncEnded { at: m(T), source: N[0], end: Lsn::INVALID, completed: false }),
        ];
        assert!(run(&mut FullSyncOnce::default(), &facts).is_ok());
    }

    /// Document 2 inserted at 1:10 and deleted at 1:20 during the sync; the copy found it deleted.
    fn deleted_with(deliveries: Vec<(NodeId, SeqFact)>) -> Result<(), String> {
        let mut facts = vec![
            invoked(w(1), 2, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(1)),
            invoked(w(2), 2, WriteOp::Delete, ReplSize::Nodes(1)),
            began(l(1, 0)),
            rec(N[0], l(1, 10), l(1, 0), Some(w(1))),
        ];
        facts.extend(deliveries);
        facts.push(ended());
        facts.insert(facts.len() - 1, rec(N[0], l(1, 20), l(1, 10), Some(w(2))));
        run(&mut FullSyncOnce::default(), &facts).map(|_| ())
    }

    #[test]
    fn a_document_the_copy_never_sent_needs_its_writes_after_its_last_delete_forwarded() {
        // Inserted and deleted before the cursor passed it: neither copied nor forwarded.
        assert_eq!(deleted_with(vec![]), Ok(()));
        // Inserted after the cursor passed it, never deleted: it must be forwarded.
        let facts = vec![
            invoked(w(1), 2, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(1)),
            began(l(1, 0)),
            rec(N[0], l(1, 10), l(1, 0), Some(w(1))),
            ended(),
        ];
        let err = run(&mut FullSyncOnce::default(), &facts).unwrap_err();
        assert!(
            err.contains(
                "write (1, 1) at 1:10, written on the source during the sync, was neither copied (document (5, 2): never copied) nor forwarded"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_copy_that_found_a_document_deleted_before_its_insert_needs_both_forwarded() {
        assert_eq!(deleted_with(vec![copied(2, None), forwarded(l(1, 10)), forwarded(l(1, 20))]), Ok(()));
        let err = deleted_with(vec![copied(2, None), forwarded(l(1, 10))]).unwrap_err();
        assert!(err.contains("write (1, 2) at 1:20"), "{err}");
    }
}

//! Session guarantees (seed 002 §读写分离: a session that wrote reads from the primary, 读我所写; the
//! reference's §9, coord/coordRemoteSession.cpp `_coordGroupSel` and `addLastNode`: the session's
//! last node is reused until its PreferredPeriod expires; Jepsen's session-guarantee vocabulary,
//! after Terry et al. 1994).
//!
//! The promises judged read by read:
//!
//! - the session's sticky node is its last node in the group (`addLastNode`): after a write
//!   acknowledged by primary `p`, a read sent sticky (`ReadInvoked::sticky` is `Some`: the
//!   PreferredPeriod has not expired) is sticky to `p`; after a read answered by `m`, to `m`
//!   (nothing is expected after an operation that ended otherwise);
//! - a read sent sticky to node `n` and answered by `n` sees the session's last acknowledged write
//!   to its document (or a later one), as long as `n`'s log (as its facts tell it) still holds that
//!   write's record: a node holding a write's record and answering without it is a stale read
//!   SequoiaDB does not allow.
//!
//! Every other stale read is allowed (eventual consistency) and counted, by class:
//!
//! - `read-your-writes`: a read older than the session's last acknowledged write to the document;
//! - `monotonic-reads`: a read older than what the session read of the document before;
//! - `monotonic-writes` (on the final history): a session's acknowledged write lost while a later
//!   acknowledged write of the session in the same group survived;
//! - `writes-follow-reads` (on the final history): a session's acknowledged write survived while a
//!   write it had read before writing (in the same group) was lost.
//!
//! "Older" compares LSNs (version first): a document's `written_at` below the write's LSN. A
//! document found absent is older only if the session's write was no delete and no delete of the
//! document was logged after it. Writes whose outcome the client does not know are neither
//! expected nor forbidden: only acknowledged writes set expectations.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::fact::{CollectionId, ReadOutcome, WriteOutcome};
use ccrsim_model::replica::sequoiadb::types::{DocId, DocValue, GroupId, Member, WriteId, WriteOp};
use ccrsim_model::replica::sequoiadb::{Lsn, SeqFact};

use super::final_state::{FinalNode, History};
use super::ledger::SeqLedger;
use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "session-guarantees";
/// Where the property comes from.
pub const SOURCE: &str = "seed 002 §读写分离 (读我所写); sequoiadb-replica-group.md §9 (coord/coordRemoteSession.cpp _coordGroupSel, \
                          addLastNode, PreferredPeriod); Jepsen session guarantees (Terry et al. 1994)";

/// A document of a session: `(session, collection, _id)`.
type SessionDoc = (u32, CollectionId, DocId);

/// A session's acknowledged write.
#[derive(Debug, Clone, Copy)]
struct Acked {
    write: WriteId,
    group: GroupId,
    lsn: Lsn,
    op: WriteOp,
}

/// A session's last node in a group, and the operation that made it so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LastNode {
    /// The primary its acknowledged write went through.
    Wrote { node: NodeId, write: WriteId },
    /// The node that answered its read.
    Read { node: NodeId, read: (u32, u64) },
}

impl LastNode {
    fn node(self) -> NodeId {
        match self {
            LastNode::Wrote { node, .. } | LastNode::Read { node, .. } => node,
        }
    }
}

impl std::fmt::Display for LastNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LastNode::Wrote { node, write } => write!(f, "{node} (its write {write:?} went through primary {node})"),
            LastNode::Read { node, read } => write!(f, "{node} (its read {read:?} was answered by node {node})"),
        }
    }
}

/// What a read was sent expecting.
#[derive(Debug, Clone, Copy)]
struct Expectation {
    doc: SessionDoc,
    sticky: Option<NodeId>,
    acked: Option<Acked>,
    seen: Option<Lsn>,
}

/// Stale reads and session anomalies counted, by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StaleReads {
    /// Reads answered with a value (or absence).
    pub reads: u64,
    /// Reads sent while sticky and answered by the sticky node.
    pub sticky_reads: u64,
    /// `read-your-writes`.
    pub read_your_writes: u64,
    /// `monotonic-reads`.
    pub monotonic_reads: u64,
    /// `monotonic-writes` (on the final history).
    pub monotonic_writes: u64,
    /// `writes-follow-reads` (on the final history).
    pub writes_follow_reads: u64,
}

/// Each session's writes and reads, as the checker follows them.
#[derive(Debug, Default)]
pub struct SessionGuarantees {
    last_acked: BTreeMap<SessionDoc, Acked>,
    last_seen: BTreeMap<SessionDoc, Lsn>,
    expecting: BTreeMap<(u32, u64), Expectation>,
    /// Each session's acknowledged writes in order, with the latest LSN it had read in the write's
    /// group before sending it (for the final-history classes).
    session_writes: BTreeMap<u32, Vec<(Acked, Option<Lsn>)>>,
    /// The latest LSN each session read, per group.
    read_in_group: BTreeMap<(u32, GroupId), Lsn>,
    /// What each write in flight had read before it was sent.
    read_before: BTreeMap<WriteId, Option<Lsn>>,
    /// Each session's last node per group and the operation that made it so (`None`: not known,
    /// after an operation that ended without an answer from a node).
    last_node: BTreeMap<(u32, GroupId), Option<LastNode>>,
    counts: StaleReads,
}

impl Checker<SeqLedger, SeqFact, [FinalNode]> for SessionGuarantees {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &SeqLedger, _node: NodeId, fact: &SeqFact) -> Result<(), String> {
        match fact {
            SeqFact::WriteInvoked { write, collection, .. } => {
                let group = ledger.collections.get(collection).map(|(g, _)| *g);
                let seen = group.and_then(|g| self.read_in_group.get(&(write.0, g)).copied());
                self.read_before.insert(*write, seen);
            }
            SeqFact::WriteEnded { write, outcome, .. } => self.write_ended(ledger, *write, outcome),
            SeqFact::ReadInvoked { read, collection, id, sticky, .. } => {
                self.sticks_to_last_node(ledger, *read, *collection, *sticky)?;
                let doc = (read.0, *collection, *id);
                let expectation = Expectation {
                    doc,
                    sticky: *sticky,
                    acked: self.last_acked.get(&doc).copied(),
                    seen: self.last_seen.get(&doc).copied(),
                };
                self.expecting.insert(*read, expectation);
            }
            SeqFact::ReadEnded { read, outcome: ReadOutcome::Value { node, value }, .. } => {
                let Some(e) = self.expecting.remove(read) else { return Ok(()) };
                return self.read_ended(ledger, *read, e, *node, *value);
            }
            SeqFact::ReadEnded { read, .. } => {
                if let Some(e) = self.expecting.remove(read)
                    && let Some(group) = ledger.collections.get(&e.doc.1).map(|(g, _)| *g)
                {
                    self.last_node.insert((read.0, group), None);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl SessionGuarantees {
    /// A read sent sticky goes to the session's last node of its group.
    fn sticks_to_last_node(
        &self,
        ledger: &SeqLedger,
        read: (u32, u64),
        collection: CollectionId,
        sticky: Option<NodeId>,
    ) -> Result<(), String> {
        let (Some(sticky), Some(group)) = (sticky, ledger.collections.get(&collection).map(|(g, _)| *g)) else { return Ok(()) };
        match self.last_node.get(&(read.0, group)) {
            Some(Some(last)) if last.node() != sticky => {
                Err(format!("read {read:?} of group {group} was sent sticky to node {sticky}, but the session's last node there is {last}"))
            }
            _ => Ok(()),
        }
    }

    fn write_ended(&mut self, ledger: &SeqLedger, write: WriteId, outcome: &WriteOutcome) {
        let read_before = self.read_before.remove(&write).flatten();
        let group = match outcome {
            WriteOutcome::Ok { group, .. } => Some(*group),
            _ => ledger.writes.get(&write).and_then(|w| w.group),
        };
        if let Some(group) = group {
            let last = match outcome {
                WriteOutcome::Ok { node, .. } => Some(LastNode::Wrote { node: *node, write }),
                _ => None,
            };
            self.last_node.insert((write.0, group), last);
        }
        let (WriteOutcome::Ok { group, lsn, .. }, Some(info)) = (outcome, ledger.writes.get(&write)) else { return };
        let acked = Acked { write, group: *group, lsn: *lsn, op: info.op };
        self.last_acked.insert((write.0, info.collection, info.id), acked);
        self.session_writes.entry(write.0).or_default().push((acked, read_before));
    }

    fn read_ended(
        &mut self,
        ledger: &SeqLedger,
        read: (u32, u64),
        e: Expectation,
        node: NodeId,
        value: Option<DocValue>,
    ) -> Result<(), String> {
        self.counts.reads += 1;
        let (session, collection, id) = e.doc;
        if let Some(group) = ledger.collections.get(&collection).map(|(g, _)| *g) {
            self.last_node.insert((session, group), Some(LastNode::Read { node, read }));
        }
        let read_at = value.map(|v| v.written_at);
        if let Some(group) = ledger.collections.get(&collection).map(|(g, _)| *g)
            && let Some(at) = read_at
        {
            let latest = self.read_in_group.entry((session, group)).or_insert(at);
            *latest = (*latest).max(at);
        }
        if let Some(at) = read_at {
            if e.seen.is_some_and(|seen| at < seen) {
                self.counts.monotonic_reads += 1;
            }
            let seen = self.last_seen.entry(e.doc).or_insert(at);
            *seen = (*seen).max(at);
        }
        let sticky = e.sticky == Some(node);
        self.counts.sticky_reads += u64::from(sticky);
        let Some(acked) = e.acked else { return Ok(()) };
        if !older(ledger, acked, (collection, id), value) {
            return Ok(());
        }
        self.counts.read_your_writes += 1;
        let holds = ledger.log(Member { group: acked.group, node }).holds(acked.lsn, acked.write) == Some(true);
        if sticky && holds {
            return Err(format!(
                "read {read:?} of document {:?}, sent sticky to node {node} and answered by it with {value:?}, misses the session's write {:?} at {} that node {node}'s log holds",
                (collection, id),
                acked.write,
                acked.lsn
            ));
        }
        Ok(())
    }

    /// The counts so far, with the final-history classes judged on `history_of`.
    pub fn counts(&self, history_of: impl Fn(GroupId) -> Option<History>) -> StaleReads {
        let mut counts = self.counts;
        let mut histories: BTreeMap<GroupId, Option<History>> = BTreeMap::new();
        let mut kept =
            |group: GroupId, lsn: Lsn| histories.entry(group).or_insert_with(|| history_of(group)).as_ref().and_then(|h| h.holds(lsn));
        for writes in self.session_writes.values() {
            let mut lost_earlier: BTreeMap<GroupId, bool> = BTreeMap::new();
            for (acked, read_before) in writes {
                let this = kept(acked.group, acked.lsn);
                if this == Some(true) && lost_earlier.get(&acked.group).copied().unwrap_or(false) {
                    counts.monotonic_writes += 1;
                }
                if this == Some(true) && read_before.is_some_and(|r| r.is_valid() && kept(acked.group, r) == Some(false)) {
                    counts.writes_follow_reads += 1;
                }
                if this == Some(false) {
                    lost_earlier.insert(acked.group, true);
                }
            }
        }
        counts
    }
}

/// Whether `value` of `doc` is older than the acknowledged write `acked` to it.
fn older(ledger: &SeqLedger, acked: Acked, doc: (CollectionId, DocId), value: Option<DocValue>) -> bool {
    match value {
        Some(v) => v.written_at < acked.lsn,
        None if acked.op == WriteOp::Delete => false,
        None => !deleted_after(ledger, acked.group, doc, acked.lsn),
    }
}

/// Whether a delete of `doc` was logged in `group` after `lsn`.
fn deleted_after(ledger: &SeqLedger, group: GroupId, doc: (CollectionId, DocId), lsn: Lsn) -> bool {
    let Some(records) = ledger.records.get(&group) else { return false };
    records.range(super::ledger::next(lsn)..).any(|(_, r)| {
        r.record.write.and_then(|w| ledger.writes.get(&w)).is_some_and(|i| (i.collection, i.id) == doc && i.op == WriteOp::Delete)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{
        N, acked, catalog, doc, insert_acked, invoked, l, r, read_ended, read_invoked, rec, rolled_back, run, w,
    };
    use ccrsim_model::replica::sequoiadb::types::ReplSize;

    /// Session 1 inserted document 1 at 1:0 through primary N0 (N1 replayed it), and later
    /// incremented it at 1:10 through N0 (N1 did not replay that yet).
    fn wrote() -> Vec<(NodeId, SeqFact)> {
        let mut facts = catalog(ReplSize::Nodes(1));
        facts.extend(insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, &[N[0]]));
        facts.push(rec(N[1], l(1, 0), Lsn::INVALID, Some(w(1))));
        facts.extend([invoked(w(2), 1, WriteOp::Increment { delta: 1 }, ReplSize::Nodes(1)), rec(N[0], l(1, 10), l(1, 0), Some(w(2)))]);
        facts.push(acked(w(2), N[0], l(1, 10), &[N[0]]));
        facts
    }

    fn judged(extra: Vec<(NodeId, SeqFact)>) -> Result<(SessionGuarantees, SeqLedger), String> {
        let mut facts = wrote();
        facts.extend(extra);
        let mut checker = SessionGuarantees::default();
        let ledger = run(&mut checker, &facts)?;
        Ok((checker, ledger))
    }

    #[test]
    fn a_sticky_read_that_sees_the_last_write_passes() {
        let (checker, _) = judged(vec![read_invoked(r(1), 1, Some(N[0])), read_ended(r(1), N[0], Some(doc(2, l(1, 10))))]).unwrap();
        let counts = checker.counts(|_| None);
        assert_eq!((counts.reads, counts.sticky_reads, counts.read_your_writes), (1, 1, 0));
    }

    #[test]
    fn a_sticky_read_answered_without_the_write_its_node_holds_is_refused() {
        // A sticky node that serves a value older than its own log (the read-your-writes bug).
        let err = judged(vec![read_invoked(r(1), 1, Some(N[0])), read_ended(r(1), N[0], Some(doc(1, l(1, 0))))]).err().unwrap();
        assert!(err.contains("sent sticky to node 10 and answered by it with Some(DocValue { counter: 1, written_at: Lsn { version: 1, offset: 0 } }), misses the session's write (1, 2) at 1:10"), "{err}");
    }

    #[test]
    fn a_read_sent_sticky_to_another_node_than_the_sessions_last_is_refused() {
        // What a session that does not record the primary it wrote through does
        // (sticky_write_not_recorded): it stays sticky to the node it last read from.
        let facts = vec![
            read_invoked(r(1), 1, Some(N[0])),
            read_ended(r(1), N[0], Some(doc(2, l(1, 10)))),
            read_invoked(r(2), 1, None),
            read_ended(r(2), N[1], Some(doc(1, l(1, 0)))),
            read_invoked(r(3), 1, Some(N[1])),
        ];
        assert!(judged(facts.clone()).is_ok(), "sticky to the node its last read went to");
        let mut after_write = facts;
        after_write.insert(4, invoked(w(3), 1, WriteOp::Increment { delta: 1 }, ReplSize::Nodes(1)));
        after_write.insert(5, rec(N[0], l(1, 20), l(1, 10), Some(w(3))));
        after_write.insert(6, acked(w(3), N[0], l(1, 20), &[N[0]]));
        let err = judged(after_write).err().unwrap();
        assert!(err.contains("read (1, 3) of group 1 was sent sticky to node 11, but the session's last node there is 10 (its write (1, 3) went through primary 10)"), "{err}");
    }

    #[test]
    fn after_a_write_without_an_answer_any_sticky_node_passes() {
        let facts = vec![
            invoked(w(3), 1, WriteOp::Increment { delta: 1 }, ReplSize::Nodes(1)),
            (90, SeqFact::WriteEnded { write: w(3), outcome: WriteOutcome::Indeterminate(None), at: 40 }),
            read_invoked(r(1), 1, Some(N[2])),
        ];
        assert!(judged(facts).is_ok());
    }

    #[test]
    fn a_stale_read_from_a_lagging_secondary_is_counted_not_refused() {
        let (checker, _) = judged(vec![read_invoked(r(1), 1, None), read_ended(r(1), N[1], Some(doc(1, l(1, 0))))]).unwrap();
        assert_eq!(checker.counts(|_| None).read_your_writes, 1);
    }

    #[test]
    fn a_sticky_node_that_lost_the_write_in_a_rollback_is_counted_not_refused() {
        let (checker, _) = judged(vec![
            rolled_back(N[0], l(1, 0), &[(l(1, 10), Some(w(2)))]),
            read_invoked(r(1), 1, Some(N[0])),
            read_ended(r(1), N[0], Some(doc(1, l(1, 0)))),
        ])
        .unwrap();
        assert_eq!(checker.counts(|_| None).read_your_writes, 1);
    }

    #[test]
    fn a_read_older_than_an_earlier_read_counts_as_monotonic_reads() {
        let (checker, _) = judged(vec![
            read_invoked(r(1), 1, None),
            read_ended(r(1), N[0], Some(doc(2, l(1, 10)))),
            read_invoked(r(2), 1, None),
            read_ended(r(2), N[1], Some(doc(1, l(1, 0)))),
        ])
        .unwrap();
        let counts = checker.counts(|_| None);
        assert_eq!((counts.monotonic_reads, counts.read_your_writes), (1, 1));
    }

    #[test]
    fn an_absent_document_after_a_later_delete_is_not_stale() {
        let (checker, _) = judged(vec![
            (90, SeqFact::WriteInvoked { write: (2, 1), collection: 5, id: 1, op: WriteOp::Delete, repl_size: ReplSize::Nodes(1), at: 0 }),
            rec(N[0], l(1, 20), l(1, 10), Some((2, 1))),
            read_invoked(r(1), 1, Some(N[0])),
            read_ended(r(1), N[0], None),
        ])
        .unwrap();
        assert_eq!(checker.counts(|_| None).read_your_writes, 0);
        let err = judged(vec![read_invoked(r(1), 1, Some(N[0])), read_ended(r(1), N[0], None)]).err().unwrap();
        assert!(err.contains("answered by it with None, misses the session's write (1, 2)"), "{err}");
    }

    #[test]
    fn a_lost_write_before_a_kept_one_counts_as_monotonic_writes_and_writes_follow_reads() {
        // The final history holds 1:0 and 2:10 (written after reading 1:10), not 1:10.
        let (checker, ledger) = judged(vec![
            read_invoked(r(1), 1, None),
            read_ended(r(1), N[0], Some(doc(2, l(1, 10)))),
            invoked(w(3), 1, WriteOp::Increment { delta: 1 }, ReplSize::Nodes(1)),
            rec(N[1], l(2, 10), l(1, 0), Some(w(3))),
            acked(w(3), N[1], l(2, 10), &[N[1]]),
        ])
        .unwrap();
        let counts = checker.counts(|g| Some(History::of(&ledger, g, l(2, 10))));
        assert_eq!((counts.monotonic_writes, counts.writes_follow_reads), (1, 1));
        let all_kept = checker.counts(|_| Some(History { lsns: [l(1, 0), l(1, 10), l(2, 10)].into(), complete: true, floor: l(1, 0) }));
        assert_eq!((all_kept.monotonic_writes, all_kept.writes_follow_reads), (0, 0));
    }
}

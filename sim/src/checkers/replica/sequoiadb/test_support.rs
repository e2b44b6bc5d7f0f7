//! What the SequoiaDB checkers' tests share: a runner that judges each fact against the ledger as
//! it was before it and then has the ledger follow it (as `SeqCheckers::on_fact` does), the nodes
//! of one three-node group, and short names for the facts.

#![cfg(test)]

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::Lsn;
use ccrsim_model::replica::sequoiadb::fact::{CollectionId, ReadOutcome, RecordSource, SeqFact, WriteOutcome};
use ccrsim_model::replica::sequoiadb::types::{
    DbStatus, DocId, DocValue, GroupId, Member, NodeRole, PreferredInstance, ReadId, ReplSize, WriteId, WriteOp,
};

use super::final_state::FinalNode;
use super::ledger::SeqLedger;
use crate::checkers::Checker;

/// The group every test writes to.
pub const G: GroupId = 1;
/// Its three nodes.
pub const N: [NodeId; 3] = [10, 11, 12];
/// The collection every test writes, in group [`G`].
pub const C: CollectionId = 5;
/// A client node.
pub const CLIENT: NodeId = 90;

/// Node `n` of group [`G`].
pub fn m(n: NodeId) -> Member {
    Member { group: G, node: n }
}

/// LSN `v:o`.
pub fn l(v: u32, o: u64) -> Lsn {
    Lsn::new(v, o)
}

/// Judges `facts` in order with `checker`, each against the ledger before it; the ledger after
/// them all, or the first refusal.
pub fn run<V: ?Sized, K: Checker<SeqLedger, SeqFact, V>>(checker: &mut K, facts: &[(NodeId, SeqFact)]) -> Result<SeqLedger, String> {
    let mut ledger = SeqLedger::default();
    for (node, fact) in facts {
        checker.on_fact(&ledger, *node, fact)?;
        ledger.apply(fact);
    }
    Ok(ledger)
}

/// Group [`G`] of three nodes and collection [`C`] with write concern `repl_size`.
pub fn catalog(repl_size: ReplSize) -> Vec<(NodeId, SeqFact)> {
    let mut facts: Vec<(NodeId, SeqFact)> = N.iter().map(|&n| (0, SeqFact::MemberAdded { at: m(n), weight: 10 })).collect();
    facts.push((0, SeqFact::CollectionCreated { collection: C, group: G, repl_size }));
    facts
}

/// Node `n` became primary of `version`, its log ending at `end`, voted for by every node.
pub fn primary(n: NodeId, version: u32, end: Lsn) -> (NodeId, SeqFact) {
    (n, SeqFact::BecamePrimary { at: m(n), version, end, votes: N.to_vec(), group_size: 3 })
}

/// Node `n` became primary of `version`, its log ending at `end`, voted for by `votes` (itself
/// among them).
pub fn primary_by(n: NodeId, version: u32, end: Lsn, votes: &[NodeId]) -> (NodeId, SeqFact) {
    (n, SeqFact::BecamePrimary { at: m(n), version, end, votes: votes.to_vec(), group_size: 3 })
}

/// A record's digest, from its LSN (so that equal LSNs give equal content unless a test says
/// otherwise).
pub fn digest(lsn: Lsn) -> u64 {
    u64::from(lsn.version) * 1_000_000 + lsn.offset
}

/// Node `n` wrote the record at `lsn` after `pre` carrying `write`, with the usual digest.
pub fn rec(n: NodeId, lsn: Lsn, pre: Lsn, write: Option<WriteId>) -> (NodeId, SeqFact) {
    rec_digest(n, lsn, pre, write, digest(lsn))
}

/// Node `n` wrote the record at `lsn` after `pre` carrying `write`, with digest `d`.
pub fn rec_digest(n: NodeId, lsn: Lsn, pre: Lsn, write: Option<WriteId>, d: u64) -> (NodeId, SeqFact) {
    (n, SeqFact::RecordWritten { at: m(n), lsn, pre_lsn: pre, digest: d, write, source: RecordSource::Primary })
}

/// Client session 1's write number `seq`.
pub fn w(seq: u64) -> WriteId {
    (1, seq)
}

/// Client session 1's read number `seq`.
pub fn r(seq: u64) -> ReadId {
    (1, seq)
}

/// The client sent write `write` of `op` on document `id`, with write concern `repl_size`.
pub fn invoked(write: WriteId, id: DocId, op: WriteOp, repl_size: ReplSize) -> (NodeId, SeqFact) {
    (CLIENT, SeqFact::WriteInvoked { write, collection: C, id, op, repl_size, at: write.1 * 10 })
}

/// The client saw `write` acknowledged by primary `n` at `lsn`, confirmed by `by`.
pub fn acked(write: WriteId, n: NodeId, lsn: Lsn, by: &[NodeId]) -> (NodeId, SeqFact) {
    let outcome = WriteOutcome::Ok { group: G, node: n, lsn, confirmed_by: by.to_vec() };
    (CLIENT, SeqFact::WriteEnded { write, outcome, at: write.1 * 10 + 5 })
}

/// The client saw `write` end so.
pub fn ended(write: WriteId, outcome: WriteOutcome) -> (NodeId, SeqFact) {
    (CLIENT, SeqFact::WriteEnded { write, outcome, at: write.1 * 10 + 5 })
}

/// Write `seq` inserting document `id` with counter 1, written by primary `n` at `lsn` after
/// `pre` and acknowledged, confirmed by `by`: invoked, written, acknowledged.
pub fn insert_acked(seq: u64, id: DocId, n: NodeId, lsn: Lsn, pre: Lsn, by: &[NodeId]) -> Vec<(NodeId, SeqFact)> {
    vec![
        invoked(w(seq), id, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(by.len() as u8)),
        rec(n, lsn, pre, Some(w(seq))),
        acked(w(seq), n, lsn, by),
    ]
}

/// Node `n` rolled back to `to`, undoing `records` (LSNs) that carried `writes`.
pub fn rolled_back(n: NodeId, to: Lsn, records: &[(Lsn, Option<WriteId>)]) -> (NodeId, SeqFact) {
    let records = records.iter().rev().map(|&(lsn, w)| (lsn, digest(lsn), w)).collect();
    (n, SeqFact::RolledBack { at: m(n), to, records, kept: false })
}

/// The client sent read `read` of document `id`, sticky to `sticky`.
pub fn read_invoked(read: ReadId, id: DocId, sticky: Option<NodeId>) -> (NodeId, SeqFact) {
    (CLIENT, SeqFact::ReadInvoked { read, collection: C, id, preferred: PreferredInstance::Any, sticky, at: read.1 * 10 })
}

/// Node `n` answered read `read` with `value`.
pub fn read_ended(read: ReadId, n: NodeId, value: Option<DocValue>) -> (NodeId, SeqFact) {
    (CLIENT, SeqFact::ReadEnded { read, outcome: ReadOutcome::Value { node: n, value }, at: read.1 * 10 + 5 })
}

/// A document value.
pub fn doc(counter: i64, written_at: Lsn) -> DocValue {
    DocValue { counter, written_at }
}

/// A final node of group [`G`], Normal, with `log` (LSNs with the usual digests) and `docs` of
/// collection [`C`].
pub fn final_node(n: NodeId, role: NodeRole, log: &[Lsn], docs: &[(DocId, DocValue)]) -> FinalNode {
    FinalNode {
        member: m(n),
        role,
        status: DbStatus::Normal,
        end: log.last().copied().unwrap_or(Lsn::INVALID),
        log: log.iter().map(|&lsn| (lsn, digest(lsn))).collect(),
        docs: docs.iter().map(|&(id, v)| ((C, id), v)).collect::<BTreeMap<_, _>>(),
    }
}

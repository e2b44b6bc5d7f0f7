//! Client writes with their ReplSize, and reads (reference section 8; cls/clsShardSession.cpp
//! `_waitSync`, cls/clsReplicateSet.cpp `replSizeCheck`, cls/clsSyncManager.cpp `sync`).
//!
//! A write's ReplSize is checked before the write: too few alive nodes refuse it
//! (NODE_NOT_ENOUGH, nothing written). Once written on the primary, the write waits for
//! confirmations (secondaries' acks at or past its LSN) up to `waitSyncTimeout`; running out
//! answers WAIT_SYNC_FAILED if too few nodes are alive by then, else TIMEOUT, and in neither case
//! undoes the write. A primary that steps down fails its waiters with WAIT_SYNC_FAILED.

use super::super::fact::{CollectionId, RecordSource, SeqFact};
use super::super::lsn::Lsn;
use super::super::message::SeqMessage;
use super::super::types::{DbStatus, DocId, ReadId, ReplSize, SeqError, WriteId, WriteOp};
use super::log::{LogRecord, next_lsn};
use super::{NodeFacts, NodeOut, SeqDataNode};
use crate::core::io::{Millis, NodeId, Output};

/// `waitSyncTimeout` 0 means 10 ms.
const MIN_WAIT_SYNC_MS: Millis = 10;

/// A write waiting for its confirmations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiter {
    /// The client to answer.
    pub client: NodeId,
    /// The write.
    pub write: WriteId,
    /// Its record.
    pub lsn: Lsn,
    /// Its ReplSize.
    pub repl_size: ReplSize,
    /// Nodes that must confirm, the primary included.
    pub required: u8,
    /// When it gives up.
    pub deadline: Millis,
}

/// The nodes a ReplSize asks for in a group of `group_size` with `alive` alive
/// (`replSizeCheck`): a one-node group 1; `0` or more than the group every node; `-1` the alive
/// ones; else `n`.
pub fn required_nodes(repl_size: ReplSize, group_size: usize, alive: usize) -> usize {
    if group_size == 1 {
        return 1;
    }
    match repl_size {
        ReplSize::All => group_size,
        ReplSize::AllAlive => alive,
        ReplSize::Nodes(n) => usize::from(n).min(group_size),
    }
}

/// Why a write is refused on the document as it is, if it is.
pub fn semantic_error(doc_exists: bool, op: WriteOp) -> Option<SeqError> {
    match op {
        WriteOp::Insert { .. } if doc_exists => Some(SeqError::DuplicateKey),
        WriteOp::Increment { .. } | WriteOp::Delete if !doc_exists => Some(SeqError::NotFound),
        _ => None,
    }
}

impl SeqDataNode {
    /// A client's write.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_write<M: NodeOut, F: NodeFacts>(
        &mut self,
        now: Millis,
        client: NodeId,
        write: WriteId,
        collection: CollectionId,
        id: DocId,
        op: WriteOp,
        repl_size: ReplSize,
        out: &mut Output<M, F>,
    ) {
        if self.seen_before(write, false) {
            return;
        }
        let Some(version) = self.primary_version() else {
            let primary = self.known_primary(now);
            out.send_replica(client, SeqMessage::WriteRes { write, node: self.id, result: Err(SeqError::NotPrimary), primary });
            return;
        };
        assert_eq!(self.status, DbStatus::Normal, "a primary serves normally");
        let alive = self.alive_members(now).len();
        let required = required_nodes(repl_size, self.group_size(), alive);
        let before = self.docs.get(&(collection, id)).copied();
        let refusal = if required > alive { Some(SeqError::NodeNotEnough) } else { semantic_error(before.is_some(), op) };
        if let Some(error) = refusal {
            let w = Waiter { client, write, lsn: Lsn::INVALID, repl_size, required: required as u8, deadline: now };
            self.answer_waiter(w, Err(error), out);
            return;
        }
        let end = self.log.end();
        let record = LogRecord { lsn: next_lsn(end, version), pre_lsn: end, collection, id, op, write: Some(write), before };
        let lsn = record.lsn;
        self.append_record(record, RecordSource::Primary, out);
        for n in std::mem::take(&mut self.waiting_notify) {
            out.send_replica(n, SeqMessage::SyncNotify);
        }
        let wait = self.config.wait_sync_timeout_ms.max(MIN_WAIT_SYNC_MS);
        self.waiters.push(Waiter { client, write, lsn, repl_size, required: required as u8, deadline: now + wait });
        self.check_waiters(now, out);
    }

    /// The nodes whose log holds `lsn`: this primary, and the secondaries that acked it.
    pub fn confirmations(&self, lsn: Lsn) -> Vec<NodeId> {
        let mut nodes = vec![self.id];
        nodes.extend(self.acked.iter().filter(|(n, a)| **n != self.id && self.members.contains_key(n) && **a >= lsn).map(|(n, _)| *n));
        nodes.sort_unstable();
        nodes
    }

    /// Answers the waiters that are confirmed, or out of time.
    pub(crate) fn check_waiters<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        if self.waiters.is_empty() {
            return;
        }
        let alive = self.alive_members(now).len();
        let short = usize::from(self.config.bugs.ack_before_repl_size);
        let waiters = std::mem::take(&mut self.waiters);
        for w in waiters {
            let confirmed = self.confirmations(w.lsn);
            if confirmed.len() + short >= usize::from(w.required) {
                self.answer_waiter(w, Ok(()), out);
            } else if now >= w.deadline {
                let error = match alive < usize::from(w.required) {
                    true if self.config.bugs.node_not_enough_after_write => SeqError::NodeNotEnough,
                    true => SeqError::WaitSyncFailed,
                    false => SeqError::Timeout,
                };
                crate::mark!("sequoiadb.write_unconfirmed");
                self.answer_waiter(w, Err(error), out);
            } else {
                self.waiters.push(w);
            }
        }
    }

    pub(super) fn waiters_tick<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        if self.is_primary() {
            self.check_waiters(now, out);
        }
    }

    /// Answers a write the primary took (or refused), reporting it.
    pub(crate) fn answer_waiter<M: NodeOut, F: NodeFacts>(&mut self, w: Waiter, result: Result<(), SeqError>, out: &mut Output<M, F>) {
        let confirmed_by = if w.lsn.is_valid() { self.confirmations(w.lsn) } else { vec![self.id] };
        assert!(
            self.config.bugs.any() || result.is_err() || confirmed_by.len() >= usize::from(w.required),
            "write {:?} answered Ok with {confirmed_by:?} for {} required",
            w.write,
            w.required
        );
        out.fact_replica(SeqFact::WriteAnswered {
            at: self.member(),
            write: w.write,
            lsn: w.lsn,
            repl_size: w.repl_size,
            required: w.required,
            confirmed_by: confirmed_by.clone(),
            error: result.err(),
        });
        let primary = self.known_primary_hint();
        let result = result.map(|()| (w.lsn, confirmed_by));
        out.send_replica(w.client, SeqMessage::WriteRes { write: w.write, node: self.id, result, primary });
    }

    fn known_primary_hint(&self) -> Option<NodeId> {
        self.is_primary().then_some(self.id)
    }

    /// Whether this request of a client session (`(session, sequence)`; reads apart) was taken
    /// already: a session sends its requests one at a time in sequence, so a number not above the
    /// last one taken is a copy the network made.
    fn seen_before(&mut self, (session, seq): (u32, u64), is_read: bool) -> bool {
        let last = self.client_seqs.entry((session, is_read)).or_insert(0);
        let seen = seq <= *last;
        *last = (*last).max(seq);
        seen
    }

    /// A client's read: served only in status Normal.
    pub(super) fn on_read<M: NodeOut, F: NodeFacts>(
        &mut self,
        client: NodeId,
        read: ReadId,
        collection: CollectionId,
        id: DocId,
        out: &mut Output<M, F>,
    ) {
        if self.seen_before(read, true) {
            return;
        }
        let serves = self.status == DbStatus::Normal || self.config.bugs.serve_reads_in_full_sync;
        let result = if serves {
            let value = self.docs.get(&(collection, id)).copied();
            out.fact_replica(SeqFact::ReadServed { at: self.member(), read, collection, id, value, status: self.status });
            Ok(value)
        } else {
            Err(SeqError::FullSync)
        };
        out.send_replica(client, SeqMessage::ReadRes { read, node: self.id, result });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repl_size_counts_as_replsizecheck_does() {
        assert_eq!(required_nodes(ReplSize::Nodes(2), 1, 1), 1);
        assert_eq!(required_nodes(ReplSize::All, 3, 2), 3);
        assert_eq!(required_nodes(ReplSize::AllAlive, 3, 2), 2);
        assert_eq!(required_nodes(ReplSize::Nodes(7), 3, 3), 3);
        assert_eq!(required_nodes(ReplSize::Nodes(2), 3, 1), 2);
    }

    #[test]
    fn inserts_need_absence_updates_need_presence() {
        assert_eq!(semantic_error(true, WriteOp::Insert { counter: 1 }), Some(SeqError::DuplicateKey));
        assert_eq!(semantic_error(false, WriteOp::Delete), Some(SeqError::NotFound));
        assert_eq!(semantic_error(true, WriteOp::Increment { delta: 1 }), None);
    }
}

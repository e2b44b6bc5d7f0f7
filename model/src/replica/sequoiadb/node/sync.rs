//! Incremental sync on a secondary and as a source (reference sections 3-5; cls/clsReplSession.cpp,
//! cls/clsSyncManager.cpp): the choice of a sync source (PEER, primary preferred; then RC; then
//! the primary), the blacklist, SYNC_REQ / SYNC_RES / SYNC_NOTIFY, acks (every SYNC_REQ's `next`
//! confirms the requester's log up to it; a non-primary source forwards it to the primary as
//! SYNC_VIR_REQ), and CONSULT: the walk back to a common point and the rollback record by record,
//! or a full sync when none is found.
//!
//! `next` in a SYNC_REQ is the requester's log end: the source serves the records after it only if
//! it holds that very record (the context check SequoiaDB does when the source changes), so a
//! divergent tail always shows as SYNC_FAILED.

use std::collections::BTreeSet;

use super::super::fact::{ConsultOutcome, RecordSource, SeqFact, SyncStatus};
use super::super::lsn::Lsn;
use super::super::message::{ConsultFailed, SeqMessage, SyncFailed};
use super::super::types::{DbStatus, WriteOp};
use super::log::{LogRecord, apply_op};
use super::{NodeFacts, NodeOut, SeqDataNode, storage};
use crate::core::io::{Millis, NodeId, Output};

/// CLS_SYNC_INTERVAL: between two requests when idle, and the wait for an answer.
pub const SYNC_INTERVAL_MS: Millis = 2_000;
/// CLS_CONSULT_INTERVAL: a CONSULT unanswered this long is asked again.
pub const CONSULT_INTERVAL_MS: Millis = 5_000;
/// Records per SYNC_RES (CLS_SYNC_MAX_LEN, in records).
pub const MAX_RECORDS_PER_RES: usize = 64;
/// Where rolled-back records are kept under `consultrollbacklogon`.
pub const ROLLBACK_LOG_PATH: &str = "seq/rollback";

/// A CONSULT in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consult {
    /// Whom it asks.
    pub source: NodeId,
    /// The consult point: the record of this node's log it asks about.
    pub current: Lsn,
    /// When it asked.
    pub sent_at: Millis,
}

/// A secondary's replication session.
#[derive(Debug, Clone, Default)]
pub struct SyncSession {
    /// The sync source.
    pub source: Option<NodeId>,
    /// The current request's id (stale answers carry another).
    pub request: u64,
    /// When the request in flight was sent.
    pub in_flight_since: Option<Millis>,
    /// Not before this time for the next request.
    pub next_at: Millis,
    /// Sources not to choose.
    pub blacklist: BTreeSet<NodeId>,
    /// SYNC_FAILED answers in a row.
    pub failures: u32,
    /// A CONSULT in progress.
    pub consult: Option<Consult>,
}

impl SyncSession {
    /// Nothing pending that an election must wait for (a CONSULT in progress).
    pub fn idle_for_election(&self) -> bool {
        self.consult.is_none()
    }
}

impl SeqDataNode {
    pub(super) fn sync_tick<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        if self.is_primary() || self.fs_target.is_some() || self.status != DbStatus::Normal || self.known_primary(now).is_none() {
            // With no primary known, a source would not answer (`_syncLog`: no reply).
            return;
        }
        if let Some(c) = self.sync.consult {
            if now >= c.sent_at + CONSULT_INTERVAL_MS {
                if self.alive(c.source, now) {
                    self.send_consult(now, c.source, c.current, out);
                } else {
                    self.sync.consult = None;
                }
            }
            return;
        }
        if let Some(since) = self.sync.in_flight_since {
            if now < since + SYNC_INTERVAL_MS {
                return;
            }
            self.sync.in_flight_since = None;
            if let Some(s) = self.sync.source.filter(|&s| !self.alive(s, now)) {
                self.sync.blacklist.insert(s);
                self.sync.source = None;
            }
        }
        if now < self.sync.next_at {
            return;
        }
        if self.sync.source.is_none_or(|s| !self.alive(s, now)) {
            self.sync.source = None;
            let Some((source, status)) = self.choose_source(now) else { return };
            self.sync.source = Some(source);
            out.fact_replica(SeqFact::SyncSourceChosen { at: self.member(), source, status });
        }
        self.send_sync_req(now, out);
    }

    /// The sync source (`getSyncSrc`, clsSyncManager.cpp): among alive members not blacklisted,
    /// the PEERs (the primary among them first, else one at random), then the RCs likewise, else
    /// the primary.
    pub fn choose_source(&mut self, now: Millis) -> Option<(NodeId, SyncStatus)> {
        let primary = self.known_primary(now);
        for status in [SyncStatus::Peer, SyncStatus::RemoteCatchup] {
            let candidates: Vec<NodeId> = self
                .peers
                .iter()
                .filter(|(n, p)| {
                    self.members.contains_key(n)
                        && self.alive(**n, now)
                        && !self.sync.blacklist.contains(n)
                        && p.beat.status == DbStatus::Normal
                        && p.beat.sync_status == status
                })
                .map(|(n, _)| *n)
                .collect();
            if let Some(p) = primary.filter(|p| candidates.contains(p)) {
                return Some((p, status));
            }
            if !candidates.is_empty() {
                let i = self.rng.range(0, candidates.len() as u64) as usize;
                return Some((candidates[i], status));
            }
        }
        primary.map(|p| (p, SyncStatus::None))
    }

    fn send_sync_req<M: NodeOut, F>(&mut self, now: Millis, out: &mut Output<M, F>) {
        let source = self.sync.source.expect("a request needs a source");
        self.sync.request += 1;
        self.sync.in_flight_since = Some(now);
        out.send_replica(source, SeqMessage::SyncReq { request: self.sync.request, next: self.log.end(), need_data: true });
    }

    /// What a source answers to records after `next` (`_syncLog`).
    pub fn serve_sync(&self, next: Lsn) -> Result<Vec<LogRecord>, SyncFailed> {
        let end = self.log.end();
        if next == end {
            Ok(Vec::new())
        } else if next > end {
            // The requester has log this node has not: a primary says so; a secondary may lag.
            if self.is_primary() { Err(SyncFailed) } else { Ok(Vec::new()) }
        } else if self.log.can_serve_after(next) {
            Ok(self.log.after(next, MAX_RECORDS_PER_RES))
        } else {
            // Rolled over past it, or a record this node does not hold there.
            Err(SyncFailed)
        }
    }

    pub(super) fn on_sync_req<M: NodeOut, F: NodeFacts>(
        &mut self,
        now: Millis,
        from: NodeId,
        request: u64,
        next: Lsn,
        need_data: bool,
        out: &mut Output<M, F>,
    ) {
        if !self.members.contains_key(&from) {
            return;
        }
        self.seen_end.insert(from, next);
        if self.is_primary() {
            self.on_ack(now, from, next, out);
        } else if let Some(p) = self.known_primary(now).filter(|&p| p != from) {
            out.send_replica(p, SeqMessage::SyncVirReq { from, next });
        }
        if !need_data || (!self.is_primary() && self.known_primary(now).is_none()) {
            return;
        }
        let result = if self.status == DbStatus::Normal && self.fs_target.is_none() { self.serve_sync(next) } else { Err(SyncFailed) };
        if self.is_primary() && result.as_ref().is_ok_and(Vec::is_empty) {
            self.waiting_notify.insert(from);
        }
        out.send_replica(from, SeqMessage::SyncRes { request, result });
    }

    /// A secondary confirmed its log up to `next` (directly, or through a cascade).
    pub(super) fn on_ack<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, secondary: NodeId, next: Lsn, out: &mut Output<M, F>) {
        if !self.is_primary() || !self.members.contains_key(&secondary) {
            return;
        }
        let holds = next == self.log.base() || self.log.get(next).is_some();
        if next.is_valid() && holds {
            let acked = self.acked.entry(secondary).or_insert(Lsn::INVALID);
            *acked = (*acked).max(next);
            self.check_waiters(now, out);
        }
    }

    pub(super) fn on_sync_res<M: NodeOut, F: NodeFacts>(
        &mut self,
        now: Millis,
        from: NodeId,
        request: u64,
        result: Result<Vec<LogRecord>, SyncFailed>,
        out: &mut Output<M, F>,
    ) {
        let current = request == self.sync.request && self.sync.source == Some(from) && self.sync.in_flight_since.is_some();
        if !current || self.sync.consult.is_some() || self.fs_target.is_some() || self.is_primary() {
            return;
        }
        self.sync.in_flight_since = None;
        let records = match result {
            Err(SyncFailed) => return self.on_sync_failed(now, from, out),
            Ok(records) => records,
        };
        if records.is_empty() {
            if self.known_primary(now) == Some(from) {
                self.sync.next_at = now + SYNC_INTERVAL_MS;
            } else {
                self.sync.blacklist.insert(from);
                self.sync.source = None;
            }
            return;
        }
        for r in records {
            if r.pre_lsn != self.log.end() {
                return self.on_sync_failed(now, from, out);
            }
            let r = if self.config.bugs.replay_logs_after_image { self.after_image(r) } else { r };
            self.append_record(r, RecordSource::Replayed { source: from }, out);
        }
        self.sync.failures = 0;
        self.sync.blacklist.clear();
        self.send_sync_req(now, out);
    }

    /// The planted bug `replay_logs_after_image`: an increment re-logged as an insert of the
    /// counter it leads to.
    fn after_image(&self, mut r: LogRecord) -> LogRecord {
        if let WriteOp::Increment { .. } = r.op
            && let Some(after) = apply_op(self.docs.get(&r.key()).copied(), r.op, r.lsn)
        {
            r.op = WriteOp::Insert { counter: after.counter };
        }
        r
    }

    fn on_sync_failed<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, from: NodeId, out: &mut Output<M, F>) {
        self.sync.failures += 1;
        if (self.sync.failures as usize) < self.group_size() - 1 {
            self.sync.blacklist.insert(from);
            self.sync.source = None;
            self.sync.next_at = now;
            return;
        }
        self.sync.failures = 0;
        let source = self.known_primary(now).unwrap_or(from);
        self.send_consult(now, source, self.log.end(), out);
    }

    pub(super) fn on_sync_notify<M: NodeOut, F>(&mut self, now: Millis, from: NodeId, out: &mut Output<M, F>) {
        let waiting = self.sync.source == Some(from) && self.sync.in_flight_since.is_none() && self.sync.consult.is_none();
        if waiting && !self.is_primary() && self.fs_target.is_none() {
            self.send_sync_req(now, out);
        }
    }

    fn send_consult<M: NodeOut, F>(&mut self, now: Millis, source: NodeId, current: Lsn, out: &mut Output<M, F>) {
        self.sync.request += 1;
        self.sync.consult = Some(Consult { source, current, sent_at: now });
        let digest = self.log.get(current).map_or(0, LogRecord::digest);
        out.send_replica(source, SeqMessage::ConsultReq { request: self.sync.request, current, digest });
    }

    /// The source's return point for a requester at `current` whose record there has `digest`
    /// (handleConsultReq): its own end if the requester simply has more; `current` if it holds the
    /// same record; else the newest record before `current` of a version not above `current`'s.
    pub fn consult_return_point(&self, current: Lsn, digest: u64) -> Result<(Lsn, u64), ConsultFailed> {
        let end = self.log.end();
        let base = self.log.base();
        if !current.is_valid() || !end.is_valid() || (base.is_valid() && current.offset <= base.offset) {
            return Err(ConsultFailed);
        }
        let digest_at = |lsn: Lsn| self.log.get(lsn).map_or(0, LogRecord::digest);
        if end.offset < current.offset && end.version <= current.version {
            return Ok((end, digest_at(end)));
        }
        if self.log.get(current).is_some_and(|r| r.digest() == digest) {
            return Ok((current, digest));
        }
        if self.config.bugs.consult_skips_hash_check && self.log.at_offset(current.offset).is_some() {
            // The bug: a record at the same place is taken for the same record.
            return Ok((current, digest));
        }
        match self.log.records().rev().find(|r| r.lsn.offset < current.offset && r.lsn.version <= current.version) {
            Some(r) => Ok((r.lsn, r.digest())),
            None if !base.is_valid() => Ok((Lsn::INVALID, 0)),
            None => Err(ConsultFailed),
        }
    }

    pub(super) fn on_consult_req<M: NodeOut, F>(&mut self, from: NodeId, request: u64, current: Lsn, digest: u64, out: &mut Output<M, F>) {
        if !self.members.contains_key(&from) || self.status != DbStatus::Normal {
            return;
        }
        out.send_replica(from, SeqMessage::ConsultRes { request, result: self.consult_return_point(current, digest) });
    }

    pub(super) fn on_consult_res<M: NodeOut, F: NodeFacts>(
        &mut self,
        now: Millis,
        from: NodeId,
        request: u64,
        result: Result<(Lsn, u64), ConsultFailed>,
        out: &mut Output<M, F>,
    ) {
        let Some(c) = self.sync.consult.filter(|c| c.source == from && request == self.sync.request) else {
            return;
        };
        if self.is_primary() || self.fs_target.is_some() {
            self.sync.consult = None;
            return;
        }
        let Ok((return_to, digest)) = result else {
            return self.consult_to_full_sync(now, from, Lsn::INVALID, out);
        };
        if return_to > self.log.end() {
            return self.consult_to_full_sync(now, from, return_to, out);
        }
        let matched = if return_to.is_valid() {
            self.log.get(return_to).is_some_and(|r| r.digest() == digest)
        } else {
            self.log.base() == Lsn::INVALID
        };
        if matched {
            return self.roll_back(now, from, return_to, out);
        }
        let point = c.current.offset.min(return_to.offset);
        let earlier = self.log.records().rev().find(|r| r.lsn.offset < point).map(|r| r.lsn);
        match earlier {
            Some(earlier) => {
                self.send_consult(now, from, earlier, out);
            }
            None => self.consult_to_full_sync(now, from, return_to, out),
        }
    }

    fn consult_to_full_sync<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, source: NodeId, return_to: Lsn, out: &mut Output<M, F>) {
        self.sync.consult = None;
        out.fact_replica(SeqFact::ConsultEnded { at: self.member(), source, return_to, outcome: ConsultOutcome::FullSync });
        self.begin_full_sync(now, out);
    }

    /// Undoes the log after `to`, record by record, last first (`_rollback`): each document gets
    /// back its before-image.
    fn roll_back<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, source: NodeId, to: Lsn, out: &mut Output<M, F>) {
        let undone = self.log.truncate_after(to);
        let restored = if self.config.bugs.rollback_keeps_documents { &[][..] } else { &undone[..] };
        for r in restored {
            let key = r.key();
            match r.before {
                Some(v) => self.docs.insert(key, v),
                None => self.docs.remove(&key),
            };
        }
        assert_eq!(self.log.end(), to, "rolled back to the return point");
        let outcome = if undone.is_empty() { ConsultOutcome::Matched } else { ConsultOutcome::RolledBack };
        if !undone.is_empty() {
            crate::mark!("sequoiadb.rolled_back");
            let kept = self.config.consult_rollback_log_on;
            let records = undone.iter().map(|r| (r.lsn, r.digest(), r.write)).collect();
            out.fact_replica(SeqFact::RolledBack { at: self.member(), to, records, kept });
            let mut ops = Vec::new();
            if kept {
                let mut data = Vec::new();
                for r in &undone {
                    crate::core::record::encode_value(1, r, &mut data);
                }
                ops.push(crate::core::io::DiskOp::Append { path: ROLLBACK_LOG_PATH.into(), data });
            }
            ops.extend(storage::docs_ops(&self.docs, self.log.end()));
            ops.extend(storage::rewrite_log_ops(&self.log));
            self.write_disk(ops, out);
            // The full syncs this node serves copied data that is gone now: they end (their
            // targets start over).
            self.fs_sources.clear();
        }
        out.fact_replica(SeqFact::ConsultEnded { at: self.member(), source, return_to: to, outcome });
        self.sync.consult = None;
        self.sync.failures = 0;
        self.sync.blacklist.clear();
        self.sync.in_flight_since = None;
        self.sync.next_at = now;
    }
}

//! Full sync (reference section 6; cls/clsFSDstSession.cpp, cls/clsFSSrcSession.cpp): a node that
//! cannot catch up by its log (a crash restart, a failed CONSULT) discards its data and copies the
//! documents of a ready source, batch by batch, behind a cursor in key order. While the copy runs,
//! the source forwards a new record only if its document's key is at or before the cursor (already
//! copied); the copy reads the rest. At the end the target's log moves to the source's end at
//! that moment, and the node serves again. It serves no reads meanwhile (DB status FULLSYNC).
//!
//! The target pulls: batch `seq` answers pull `seq`, and a pull asked again gets the same batch,
//! so a lost message costs a retry, never a gap or a repeat.

use std::collections::BTreeSet;
use std::ops::Bound;

use super::super::fact::{CollectionId, SeqFact};
use super::super::lsn::Lsn;
use super::super::message::{FsBatch, NotReady, SeqMessage};
use super::super::types::{DbStatus, DocId};
use super::log::LogRecord;
use super::{NodeFacts, NodeOut, SeqDataNode, storage};
use crate::core::io::{Millis, NodeId, Output};

/// Documents per batch (small: a copy spans several ticks, as a real one spans many pages).
pub const FS_DOCS_PER_BATCH: usize = 4;
/// A request unanswered this long is asked again.
const FS_RETRY_MS: Millis = 2_000;
/// CLS_FS_NORES_TIMEOUT: a source silent this long is given up; a source's session untouched
/// this long ends.
pub const FS_NORES_TIMEOUT_MS: Millis = 10_000;

/// A full sync this node receives.
#[derive(Debug, Clone)]
pub struct FsTarget {
    /// The source, once chosen.
    pub source: Option<NodeId>,
    /// The session's id.
    pub session: u64,
    /// The source accepted (BEGIN answered).
    pub began: bool,
    /// The batch to pull next.
    pub seq: u64,
    /// Pull at the next tick.
    pub pull_due: bool,
    /// When the last request went out.
    pub sent_at: Millis,
    /// When the source last answered.
    pub heard_at: Millis,
    /// Sources that refused.
    pub refused: BTreeSet<NodeId>,
    /// A source began: this node's data was discarded (it can no longer rebuild from it).
    pub discarded: bool,
}

/// A full sync this node serves.
#[derive(Debug, Clone, Default)]
pub struct FsSource {
    /// The last key copied.
    pub cursor: Option<(CollectionId, DocId)>,
    /// Records to forward with the next batch.
    pub queue: Vec<LogRecord>,
    /// The last batch sent, for a pull asked again.
    pub last: Option<(u64, FsBatch)>,
    /// When the target last pulled.
    pub touched: Millis,
    /// The copy is complete.
    pub done: bool,
}

impl SeqDataNode {
    /// Starts a full sync as target: the node stops serving.
    pub(crate) fn begin_full_sync<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        assert!(self.config.bugs.any() || !self.is_primary(), "a primary rebuilds, it does not full-sync");
        self.set_status(DbStatus::FullSync, out);
        self.sync = Default::default();
        let session = self.rng.next_u64();
        self.fs_target = Some(FsTarget {
            source: None,
            session,
            began: false,
            seq: 0,
            pull_due: false,
            sent_at: now,
            heard_at: now,
            refused: BTreeSet::new(),
            discarded: false,
        });
    }

    pub(super) fn full_sync_tick<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        self.fs_sources.retain(|_, s| now < s.touched + FS_NORES_TIMEOUT_MS);
        let Some(t) = &self.fs_target else { return };
        let (source, began) = (t.source, t.began);
        match source {
            Some(s) if began && (!self.alive(s, now) || now >= t.heard_at + FS_NORES_TIMEOUT_MS) => {
                out.fact_replica(SeqFact::FullSyncEnded { at: self.member(), source: s, end: self.log.end(), completed: false });
                let t = self.fs_target.as_mut().expect("checked");
                t.source = None;
                t.began = false;
            }
            Some(s) if began && (t.pull_due || now >= t.sent_at + FS_RETRY_MS) => {
                let t = self.fs_target.as_mut().expect("checked");
                t.pull_due = false;
                t.sent_at = now;
                out.send_replica(s, SeqMessage::FsPull { session: t.session, seq: t.seq });
            }
            Some(_) if !began && now >= t.sent_at + FS_RETRY_MS => {
                let t = self.fs_target.as_mut().expect("checked");
                t.source = None;
            }
            Some(_) => {}
            None => self.ask_full_sync_source(now, out),
        }
    }

    /// A ready source (`_isReady`): an alive member serving normally that started OK; the primary
    /// first, else the one with the highest log end.
    fn ask_full_sync_source<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        let refused = &self.fs_target.as_ref().expect("a target").refused;
        let ready: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(n, p)| {
                self.members.contains_key(n)
                    && self.alive(**n, now)
                    && p.beat.status == DbStatus::Normal
                    && p.beat.startup_ok
                    && !refused.contains(n)
            })
            .map(|(n, _)| *n)
            .collect();
        // The primary first; else the most advanced ready node (a copy from a lagging one would
        // lose what the others confirmed), at random among equals.
        let primary = self.known_primary(now).filter(|p| ready.contains(p));
        let highest = ready.iter().map(|n| self.peers[n].beat.end).max();
        let most_advanced: Vec<NodeId> = ready.iter().copied().filter(|n| Some(self.peers[n].beat.end) == highest).collect();
        let choice = match primary {
            Some(p) => Some(p),
            None if most_advanced.is_empty() => None,
            None => Some(most_advanced[self.rng.range(0, most_advanced.len() as u64) as usize]),
        };
        let discarded = self.fs_target.as_ref().is_some_and(|t| t.discarded);
        if choice.is_none() && !discarded && self.all_alive_abnormal(now) {
            return self.rebuild_locally(out);
        }
        let session = self.rng.next_u64();
        let t = self.fs_target.as_mut().expect("a target");
        let Some(source) = choice else {
            t.refused.clear();
            return;
        };
        t.source = Some(source);
        t.session = session;
        t.began = false;
        t.seq = 0;
        t.sent_at = now;
        out.send_replica(source, SeqMessage::FsBegin { session });
    }

    /// Whether a majority is alive and not one of them serves normally after a clean start (every
    /// node crashed): then nobody can be a full-sync source (`_launch`: "unless all nodes
    /// abnormal"). Judged only once every member beat since this boot learned its group, or a
    /// sharing break passed without it (as the vote machine waits for the start shift or every
    /// node's beat, the reference's §7): a node just booted that has heard only from another
    /// crashed one would otherwise rebuild from its own, possibly damaged, files while a normal
    /// node it has not heard from yet holds the group's data (a crash-and-corruption sweep lost
    /// documents so in 1 of 60 seeds: the rebuilt node became primary without them).
    fn all_alive_abnormal(&self, now: Millis) -> bool {
        let heard_from_all = self.members.keys().all(|n| *n == self.id || self.peers.contains_key(n));
        if !heard_from_all && now < self.group_known_at + self.config.sharing_break_ms {
            return false;
        }
        let alive = self.alive_members(now);
        let abnormal = |n: &NodeId| self.peers.get(n).is_some_and(|p| p.beat.status != DbStatus::Normal || !p.beat.startup_ok);
        super::election::is_majority(alive.len(), self.group_size()) && alive.iter().filter(|&&n| n != self.id).all(abnormal)
    }

    /// With no source anywhere, the node rebuilds from its own files (rtnDBRebuilder) and serves
    /// again; elections then pick the most advanced log, and CONSULT brings the others in line.
    pub(super) fn rebuild_locally<M: NodeOut, F: NodeFacts>(&mut self, out: &mut Output<M, F>) {
        self.fs_target = None;
        self.set_status(DbStatus::Rebuilding, out);
        self.startup_ok = true;
        self.set_status(DbStatus::Normal, out);
    }

    pub(super) fn on_fs_begin<M: NodeOut, F>(&mut self, now: Millis, from: NodeId, session: u64, out: &mut Output<M, F>) {
        let ready = self.members.contains_key(&from)
            && self.status == DbStatus::Normal
            && self.startup_ok
            && self.fs_target.is_none()
            && self.sync.consult.is_none();
        let result = if ready {
            // A copy of a BEGIN the network made must not restart a copy under way.
            self.fs_sources.entry((from, session)).or_insert_with(|| FsSource { touched: now, ..FsSource::default() });
            Ok(self.log.end())
        } else {
            Err(NotReady)
        };
        out.send_replica(from, SeqMessage::FsBeginRes { session, result });
    }

    pub(super) fn on_fs_begin_res<M: NodeOut, F: NodeFacts>(
        &mut self,
        now: Millis,
        from: NodeId,
        session: u64,
        result: Result<Lsn, NotReady>,
        out: &mut Output<M, F>,
    ) {
        let Some(t) = self.fs_target.as_mut().filter(|t| t.session == session && t.source == Some(from) && !t.began) else { return };
        let Ok(source_end) = result else {
            t.refused.insert(from);
            t.source = None;
            return;
        };
        t.began = true;
        t.discarded = true;
        t.seq = 0;
        t.pull_due = true;
        t.heard_at = now;
        // The target's old data is discarded (its log moves at the end).
        self.docs.clear();
        out.fact_replica(SeqFact::FullSyncBegan { at: self.member(), source: from, source_end });
    }

    /// A record entered this node's log: the full syncs it serves forward it if the copy has
    /// passed its document (`notifyLSN`).
    pub(crate) fn feed_full_syncs(&mut self, record: &LogRecord) {
        let forward_all = self.config.bugs.forward_uncopied_writes;
        for s in self.fs_sources.values_mut().filter(|s| !s.done) {
            if forward_all || s.cursor.is_some_and(|c| record.key() <= c) {
                s.queue.push(record.clone());
            }
        }
    }

    pub(super) fn on_fs_pull<M: NodeOut, F>(&mut self, now: Millis, from: NodeId, session: u64, seq: u64, out: &mut Output<M, F>) {
        let end = self.log.end();
        let Some(s) = self.fs_sources.get_mut(&(from, session)) else { return };
        s.touched = now;
        if let Some((last_seq, batch)) = &s.last
            && *last_seq == seq
        {
            out.send_replica(from, SeqMessage::FsBatch { session, seq, batch: Box::new(batch.clone()) });
            return;
        }
        let expected = s.last.as_ref().map_or(0, |(l, _)| l + 1);
        if seq != expected || s.done {
            return;
        }
        let from_key = s.cursor.map_or(Bound::Unbounded, Bound::Excluded);
        let docs: Vec<_> =
            self.docs.range((from_key, Bound::Unbounded)).take(FS_DOCS_PER_BATCH).map(|(k, v)| (k.0, k.1, Some(*v))).collect();
        if let Some(&(c, id, _)) = docs.last() {
            s.cursor = Some((c, id));
        }
        let done = (docs.len() < FS_DOCS_PER_BATCH).then_some(end);
        s.done = done.is_some();
        let batch = FsBatch { forwarded: std::mem::take(&mut s.queue), docs, done };
        s.last = Some((seq, batch.clone()));
        out.send_replica(from, SeqMessage::FsBatch { session, seq, batch: Box::new(batch) });
    }

    pub(super) fn on_fs_batch<M: NodeOut, F: NodeFacts>(
        &mut self,
        now: Millis,
        from: NodeId,
        session: u64,
        seq: u64,
        batch: FsBatch,
        out: &mut Output<M, F>,
    ) {
        let Some(t) = self.fs_target.as_mut().filter(|t| t.session == session && t.source == Some(from) && t.began && t.seq == seq) else {
            return;
        };
        t.heard_at = now;
        t.seq += 1;
        t.pull_due = true;
        let at = self.member();
        for r in &batch.forwarded {
            storage::replay_into(&mut self.docs, r);
            out.fact_replica(SeqFact::FullSyncRecordForwarded { at, source: from, lsn: r.lsn });
        }
        for &(collection, id, value) in &batch.docs {
            match value {
                Some(v) => self.docs.insert((collection, id), v),
                None => self.docs.remove(&(collection, id)),
            };
            out.fact_replica(SeqFact::FullSyncDocCopied { at, source: from, collection, id, value });
        }
        if let Some(end) = batch.done {
            self.end_full_sync(from, end, out);
        }
    }

    /// The copy is complete: the log moves to the source's end (`_logger->move`), and the node
    /// serves again.
    fn end_full_sync<M: NodeOut, F: NodeFacts>(&mut self, source: NodeId, end: Lsn, out: &mut Output<M, F>) {
        crate::mark!("sequoiadb.full_sync_completed");
        self.fs_target = None;
        self.log.move_to(end);
        self.known_version = self.known_version.max(end.version);
        let mut ops = storage::rewrite_log_ops(&self.log);
        ops.extend(storage::docs_ops(&self.docs, end));
        self.write_disk(ops, out);
        self.save_meta(out);
        self.startup_ok = true;
        self.sync = Default::default();
        out.fact_replica(SeqFact::FullSyncEnded { at: self.member(), source, end, completed: true });
        self.set_status(DbStatus::Normal, out);
    }
}

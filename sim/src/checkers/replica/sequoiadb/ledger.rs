//! What the SequoiaDB checkers know: a ledger of the facts so far (the catalog, each node's log as
//! its facts tell it, every record the group ever wrote, the clients' writes and reads), followed
//! fact by fact. Property checkers look at it as it was before each fact, then it follows the fact
//! (`SeqCheckers::on_fact`).
//!
//! A node's log is tracked as its *history*: the records it holds, from the point its facts tell
//! completely (`known_from`) up to its last record. A log rollover only moves its `file_begin`:
//! the records stay in the history (the node's data still reflects them); a rollback, a torn tail
//! dropped at boot and a full sync take records out of it.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::{Millis, NodeId};
use ccrsim_model::replica::sequoiadb::Lsn;
use ccrsim_model::replica::sequoiadb::fact::{CollectionId, ReadOutcome, SeqFact, WriteOutcome};
use ccrsim_model::replica::sequoiadb::types::{DbStatus, DocId, GroupId, Member, ReadId, ReplSize, WriteId, WriteOp};

/// The LSN right after `lsn` in the order of LSNs: no record lies strictly between them, so
/// "from `next(l)` on" means "after `l`".
pub fn next(lsn: Lsn) -> Lsn {
    Lsn::new(lsn.version, lsn.offset + 1)
}

/// A record as a node's log holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// The LSN of the record before it.
    pub pre_lsn: Lsn,
    /// The digest of its content.
    pub digest: u64,
    /// The client write it carries, if any.
    pub write: Option<WriteId>,
}

/// A node's log as its facts tell it.
#[derive(Debug, Clone)]
pub struct TrackedLog {
    /// Its records from `known_from` on (rolled-over ones included: see the module comment).
    pub records: BTreeMap<Lsn, Record>,
    /// Every record of its history at or after this LSN is in `records` (`INVALID`: from the
    /// group's first record on).
    pub known_from: Lsn,
    /// Its last record (`INVALID`: an empty log); `None` while a full sync rebuilds it.
    pub last: Option<Lsn>,
    /// The oldest record its log files still hold.
    pub file_begin: Lsn,
}

impl Default for TrackedLog {
    fn default() -> Self {
        TrackedLog { records: BTreeMap::new(), known_from: Lsn::INVALID, last: Some(Lsn::INVALID), file_begin: Lsn::INVALID }
    }
}

impl TrackedLog {
    /// Its records in `(from, to]`, as `(lsn, digest)`.
    pub fn range(&self, after: Lsn, to: Lsn) -> Vec<(Lsn, u64)> {
        if to <= after {
            return Vec::new();
        }
        self.records.range(next(after)..=to).map(|(l, r)| (*l, r.digest)).collect()
    }

    /// Whether it holds `write`'s record at `lsn`: `Some(false)` if its history is known there and
    /// lacks it, `None` if its facts do not tell.
    pub fn holds(&self, lsn: Lsn, write: WriteId) -> Option<bool> {
        match self.records.get(&lsn) {
            Some(r) => Some(r.write == Some(write)),
            None if lsn >= self.known_from && self.last.is_some() => Some(false),
            None => None,
        }
    }

    fn drop_after(&mut self, lsn: Lsn) {
        self.records.split_off(&next(lsn));
    }

    /// Nothing before `from` is known any more (`from` itself is).
    fn forget_before(&mut self, from: Lsn) {
        self.records = self.records.split_off(&from);
        self.known_from = self.known_from.max(from);
    }
}

/// A record of a group, as the first node that reported it wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRecord {
    /// Its content.
    pub record: Record,
    /// The node that reported it first.
    pub first_at: NodeId,
}

/// A client's write.
#[derive(Debug, Clone)]
pub struct WriteInfo {
    /// The document it writes.
    pub collection: CollectionId,
    /// Its `_id`.
    pub id: DocId,
    /// What it does.
    pub op: WriteOp,
    /// Its write concern.
    pub repl_size: ReplSize,
    /// The group its collection lives in, as the catalog said when it was sent.
    pub group: Option<GroupId>,
    /// When it was sent, on its client's clock.
    pub invoked_at: Millis,
    /// How it ended, and when, once it did.
    pub ended: Option<(WriteOutcome, Millis)>,
    /// Members of its group when it was sent (the fewest it can have had: `group_size`).
    pub group_size_at_invoke: usize,
    /// Members of its group when it ended (the most it can have had: `group_size_ever`).
    pub group_size_at_end: usize,
    /// Its end's place in the run's order.
    pub ended_fact: u64,
}

/// A client's read.
#[derive(Debug, Clone)]
pub struct ReadInfo {
    /// The document.
    pub collection: CollectionId,
    /// Its `_id`.
    pub id: DocId,
    /// The node its session was sticky to, if any.
    pub sticky: Option<NodeId>,
    /// How it ended, once it did.
    pub outcome: Option<ReadOutcome>,
}

/// What happened, counted for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Nodes that became primary.
    pub promotions: u64,
    /// Promotions in a group that had a primary before (failovers and switchovers).
    pub failovers: u64,
    /// Rollbacks (`RolledBack` facts).
    pub rollbacks: u64,
    /// Records they undid.
    pub rolled_back_records: u64,
    /// Full syncs begun.
    pub full_syncs_began: u64,
    /// Full syncs completed.
    pub full_syncs_completed: u64,
    /// Full syncs abandoned.
    pub full_syncs_abandoned: u64,
    /// CONSULTs ended.
    pub consults: u64,
    /// Log rollovers.
    pub rollovers: u64,
}

/// The SequoiaDB facts so far.
#[derive(Debug, Default)]
pub struct SeqLedger {
    /// Each collection's group and write concern.
    pub collections: BTreeMap<CollectionId, (GroupId, ReplSize)>,
    /// Each group's members, every node ever added (every controller reports what it applies,
    /// and a lagging or restarted one reports old additions after newer removals: the catalog's
    /// facts are kept as sets, not replayed as a sequence).
    pub members: BTreeMap<GroupId, BTreeSet<NodeId>>,
    /// Members ever removed from each group.
    pub removed: BTreeMap<GroupId, BTreeSet<NodeId>>,
    /// Each node's log.
    pub logs: BTreeMap<Member, TrackedLog>,
    /// Every record each group wrote, by LSN.
    pub records: BTreeMap<GroupId, BTreeMap<Lsn, GroupRecord>>,
    /// The nodes whose log ever got a record of a write, each with the place in the run's order
    /// of the first time it did.
    pub written: BTreeMap<WriteId, BTreeMap<Member, u64>>,
    /// Each node's accepted round-two ballots: the version promised, by their place in the run's
    /// order.
    pub promises: BTreeMap<NodeId, Vec<(u32, u64)>>,
    /// The primary of each (group, version).
    pub primaries: BTreeMap<(GroupId, u32), NodeId>,
    /// The size of its group each primary counted at its promotion, by (group, version).
    pub primary_group_sizes: BTreeMap<(GroupId, u32), u32>,
    /// The primaries that stepped down, by (group, version).
    pub stepped_down: BTreeSet<(GroupId, u32)>,
    /// Each node's database status as it last reported it.
    pub status: BTreeMap<Member, DbStatus>,
    /// Nodes in a full sync, with their source.
    pub in_full_sync: BTreeMap<Member, NodeId>,
    /// Nodes that booted without a clean startup and have not been repaired yet (by a completed
    /// full sync or a local rebuild).
    pub unrepaired: BTreeSet<Member>,
    /// Clients' writes.
    pub writes: BTreeMap<WriteId, WriteInfo>,
    /// Facts followed so far: a fact's place in the run's order (facts of different nodes carry
    /// clocks that do not compare).
    pub facts_seen: u64,
    /// Each node's boots without a clean startup, by their place in the run's order.
    pub abnormal_boots: BTreeMap<NodeId, Vec<u64>>,
    /// Clients' reads.
    pub reads: BTreeMap<ReadId, ReadInfo>,
    /// Counts for reports.
    pub counts: Counts,
}

impl SeqLedger {
    /// A node's log (an empty one if it reported nothing yet).
    pub fn log(&self, at: Member) -> std::borrow::Cow<'_, TrackedLog> {
        match self.logs.get(&at) {
            Some(l) => std::borrow::Cow::Borrowed(l),
            None => std::borrow::Cow::Owned(TrackedLog::default()),
        }
    }

    /// The record a group wrote at `lsn`.
    pub fn record(&self, group: GroupId, lsn: Lsn) -> Option<&Record> {
        self.records.get(&group).and_then(|r| r.get(&lsn)).map(|g| &g.record)
    }

    /// The write a record carries, with its document.
    pub fn write_of(&self, group: GroupId, lsn: Lsn) -> Option<(WriteId, &WriteInfo)> {
        let w = self.record(group, lsn)?.write?;
        self.writes.get(&w).map(|info| (w, info))
    }

    /// Whether `node` got `write`'s record only after it had promised a primary a version above
    /// `version` (the record's): a confirmation no election stands behind, since the newer
    /// primary may lack the record and the node will roll it back.
    pub fn written_after_promising_above(&self, write: WriteId, at: Member, version: u32) -> bool {
        let Some(&written) = self.written.get(&write).and_then(|on| on.get(&at)) else { return false };
        let node = at.node;
        self.promises.get(&node).is_some_and(|p| p.iter().any(|&(promised, at)| promised > version && at < written))
    }

    /// The fewest members a group can have had: those added and never removed.
    pub fn group_size(&self, group: GroupId) -> usize {
        let removed = self.removed.get(&group);
        self.members.get(&group).map_or(0, |m| m.iter().filter(|n| removed.is_none_or(|r| !r.contains(n))).count())
    }

    /// The most members a group can have had: every node ever added.
    pub fn group_size_ever(&self, group: GroupId) -> usize {
        self.members.get(&group).map_or(0, BTreeSet::len)
    }

    /// The group's current primary as the facts tell: the one of its highest version, unless it
    /// stepped down.
    pub fn current_primary(&self, group: GroupId) -> Option<Member> {
        let (&(_, version), &node) = self.primaries.range((group, 0)..=(group, u32::MAX)).next_back()?;
        (!self.stepped_down.contains(&(group, version))).then_some(Member { group, node })
    }

    /// Follows one fact.
    pub fn apply(&mut self, fact: &SeqFact) {
        self.facts_seen += 1;
        match fact {
            SeqFact::CollectionCreated { collection, group, repl_size } => {
                self.collections.insert(*collection, (*group, *repl_size));
            }
            SeqFact::MemberAdded { at, .. } => {
                self.members.entry(at.group).or_default().insert(at.node);
            }
            SeqFact::MemberRemoved { at } => {
                self.removed.entry(at.group).or_default().insert(at.node);
            }
            SeqFact::WeightChanged { .. } | SeqFact::SyncSourceChosen { .. } | SeqFact::FullSyncDocCopied { .. } => {}
            SeqFact::FullSyncRecordForwarded { .. } | SeqFact::WriteAnswered { .. } | SeqFact::ReadServed { .. } => {}
            SeqFact::NodeBooted { at, file_begin, end, startup_ok, .. } => {
                // A status said before the crash is gone with the process.
                self.status.remove(at);
                if !startup_ok {
                    self.unrepaired.insert(*at);
                    self.abnormal_boots.entry(at.node).or_default().push(self.facts_seen);
                }
                self.booted(*at, *file_begin, *end);
            }
            SeqFact::DbStatusChanged { at, status } => {
                self.status.insert(*at, *status);
                // A node that rebuilds from its own files (a one-node group) no longer waits for
                // a full sync.
                if *status == DbStatus::Rebuilding {
                    self.in_full_sync.remove(at);
                    self.unrepaired.remove(at);
                }
            }
            SeqFact::RecordWritten { at, lsn, pre_lsn, digest, write, .. } => {
                let record = Record { pre_lsn: *pre_lsn, digest: *digest, write: *write };
                self.records.entry(at.group).or_default().entry(*lsn).or_insert(GroupRecord { record, first_at: at.node });
                let log = self.logs.entry(*at).or_default();
                if log.last.is_none() && log.records.is_empty() {
                    log.known_from = *lsn;
                }
                log.records.insert(*lsn, record);
                log.last = Some(*lsn);
                if let Some(w) = write {
                    self.written.entry(*w).or_default().entry(*at).or_insert(self.facts_seen);
                }
            }
            SeqFact::LogRolledOver { at, file_begin } => {
                self.logs.entry(*at).or_default().file_begin = *file_begin;
                self.counts.rollovers += 1;
            }
            SeqFact::RolledBack { at, to, records, .. } => {
                let log = self.logs.entry(*at).or_default();
                log.drop_after(*to);
                log.last = Some(*to);
                self.counts.rollbacks += 1;
                self.counts.rolled_back_records += records.len() as u64;
            }
            SeqFact::BecamePrimary { at, version, group_size, .. } => {
                self.primary_group_sizes.insert((at.group, *version), *group_size);
                if self.primaries.range((at.group, 0)..=(at.group, u32::MAX)).next().is_some() {
                    self.counts.failovers += 1;
                }
                self.primaries.insert((at.group, *version), at.node);
                self.counts.promotions += 1;
            }
            SeqFact::SteppedDown { at, version, .. } => {
                self.stepped_down.insert((at.group, *version));
            }
            SeqFact::VoteAccepted { at, version, .. } => {
                self.promises.entry(at.node).or_default().push((*version, self.facts_seen));
            }
            SeqFact::ConsultEnded { .. } => self.counts.consults += 1,
            SeqFact::FullSyncBegan { at, source, .. } => {
                self.in_full_sync.insert(*at, *source);
                let log = self.logs.entry(*at).or_default();
                log.records.clear();
                log.last = None;
                self.counts.full_syncs_began += 1;
            }
            SeqFact::FullSyncEnded { at, end, completed, .. } => {
                if *completed {
                    self.in_full_sync.remove(at);
                    self.unrepaired.remove(at);
                    let log = self.logs.entry(*at).or_default();
                    // The log is moved to `end`: what came before is the source's, not told here.
                    log.records.clear();
                    log.known_from = next(*end);
                    log.last = Some(*end);
                    log.file_begin = next(*end);
                    self.counts.full_syncs_completed += 1;
                } else {
                    self.counts.full_syncs_abandoned += 1;
                }
            }
            SeqFact::WriteInvoked { write, collection, id, op, repl_size, at } => {
                let group = self.collections.get(collection).map(|(g, _)| *g);
                let info = WriteInfo {
                    collection: *collection,
                    id: *id,
                    op: *op,
                    repl_size: *repl_size,
                    group,
                    invoked_at: *at,
                    ended: None,
                    group_size_at_invoke: group.map_or(0, |g| self.group_size(g)),
                    group_size_at_end: 0,
                    ended_fact: 0,
                };
                self.writes.insert(*write, info);
            }
            SeqFact::WriteEnded { write, outcome, at } => {
                let group = match outcome {
                    WriteOutcome::Ok { group, .. } => Some(*group),
                    _ => self.writes.get(write).and_then(|w| w.group),
                };
                let size = group.map_or(0, |g| self.group_size_ever(g));
                if let Some(w) = self.writes.get_mut(write) {
                    w.ended = Some((outcome.clone(), *at));
                    w.group_size_at_end = size;
                    w.ended_fact = self.facts_seen;
                }
            }
            SeqFact::ReadInvoked { read, collection, id, sticky, .. } => {
                self.reads.insert(*read, ReadInfo { collection: *collection, id: *id, sticky: *sticky, outcome: None });
            }
            SeqFact::ReadEnded { read, outcome, .. } => {
                if let Some(r) = self.reads.get_mut(read) {
                    r.outcome = Some(outcome.clone());
                }
            }
        }
    }

    /// A node booted with its log `file_begin ..= end`: what its facts said after `end` is gone (a
    /// torn tail or records never synced); if it holds a record its facts never told, its history
    /// is unknown up to there.
    fn booted(&mut self, at: Member, file_begin: Lsn, end: Lsn) {
        let log = self.logs.entry(at).or_default();
        log.drop_after(end);
        if end.is_valid() && !log.records.contains_key(&end) && end >= log.known_from {
            log.forget_before(next(end));
        }
        log.file_begin = file_begin;
        // A node that crashed in a full sync restarts it: its log stays unknown until then.
        if !self.in_full_sync.contains_key(&at) {
            log.last = Some(end);
        }
    }
}

//! The data node of a SequoiaDB replica group (reference sections 1-8): its sync log and
//! documents, the sharing beat, the vote machine, incremental sync with CONSULT, full sync (as
//! target and as source), the primary's ReplSize waiters, and reads.
//!
//! - `log.rs`: the sync log and its window; `storage.rs`: its files;
//! - `election.rs`: the vote machine (clsVoteMachine, clsVSSecondary/Primary);
//! - `sync.rs`: source choice, SYNC_REQ/RES/NOTIFY, acks, CONSULT (clsReplSession, clsSyncManager);
//! - `fullsync.rs`: full sync target and source (clsFSDstSession, clsFSSrcSession);
//! - `serve.rs`: client writes with ReplSize, and reads (clsShardSession, clsReplicateSet).
//!
//! Everything runs off one tick timer: each duty keeps its own deadline. The node does nothing
//! until the catalog tells it its group.

pub mod election;
pub mod fullsync;
pub mod log;
pub mod serve;
pub mod storage;
pub mod sync;

use std::collections::BTreeMap;

use super::call::{SeqCall, SeqCallResult};
use super::catalog::CollectionEntry;
use super::config::SeqNodeConfig;
use super::controller::CatalogLink;
use super::fact::{CollectionId, RecordSource, SeqFact, StepDownCause, SyncStatus};
use super::lsn::Lsn;
use super::message::{Beat, CatalogInfo, SeqMessage};
use super::types::{DbStatus, GroupId, Member, NodeRole};
use crate::core::io::{Carries, DiskCompletion, DiskOp, DiskView, IoToken, Millis, NodeId, Output, RecoveryError, TimerKey, part};
use crate::core::rng::SplitMix64;

use self::election::Role;
use self::fullsync::{FsSource, FsTarget};
use self::log::{LogRecord, LogShape, SyncLog};
use self::serve::Waiter;
use self::storage::{Docs, Meta};
use self::sync::SyncSession;

/// The node's one timer: every duty runs off deadlines checked at each tick.
pub const TIMER_NODE_TICK: TimerKey = 500;
/// The tick.
pub const TICK_MS: Millis = 100;
/// How often a node asks the catalog.
const CATALOG_REFRESH_MS: Millis = 1_000;

/// The deployment's message type, as a node writes into it.
pub trait NodeOut: Carries<SeqMessage, part::Replica> {}
impl<T: Carries<SeqMessage, part::Replica>> NodeOut for T {}
/// The deployment's fact type a node writes into.
pub trait NodeFacts: Carries<SeqFact, part::Replica> {}
impl<T: Carries<SeqFact, part::Replica>> NodeFacts for T {}

/// What the node last heard from a member.
#[derive(Debug, Clone, Copy)]
pub struct PeerView {
    /// When.
    pub at: Millis,
    /// The beat.
    pub beat: Beat,
}

/// What a node does once a disk write it waits for is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDisk {
    /// Take the role its candidacy `ballot` won (the bumped version is on disk).
    Promote { ballot: u64 },
    /// Answer candidate `candidate`'s round two (ballot `id`) yes (the promise is on disk).
    Accept { candidate: NodeId, id: u64 },
}

/// What the node found at boot, reported once its group is known.
#[derive(Debug, Clone, Copy)]
struct BootReport {
    file_begin: Lsn,
    end: Lsn,
    torn_records: u32,
    startup_ok: bool,
    consistent: bool,
}

/// A data node.
#[derive(Debug)]
pub struct SeqDataNode {
    pub(crate) id: NodeId,
    pub(crate) config: SeqNodeConfig,
    pub(crate) rng: SplitMix64,
    /// The group, once the catalog said.
    pub(crate) group: Option<GroupId>,
    /// The group's members and weights (this node included).
    pub(crate) members: BTreeMap<NodeId, u8>,
    /// The collections (and their groups), from the catalog.
    pub(crate) collections: BTreeMap<CollectionId, CollectionEntry>,
    catalog_version: u64,
    catalog: CatalogLink,
    next_catalog_at: Millis,
    boot: Option<BootReport>,
    /// The sync log.
    pub(crate) log: SyncLog,
    /// The documents.
    pub(crate) docs: Docs,
    /// The highest version this node promised (round two) or took.
    pub(crate) known_version: u32,
    /// The DB status.
    pub(crate) status: DbStatus,
    /// The node started OK (or was repaired by a full sync since).
    pub(crate) startup_ok: bool,
    /// The last beat of each member.
    pub(crate) peers: BTreeMap<NodeId, PeerView>,
    /// Each member's log end as this node last saw it (beats, sync requests).
    pub(crate) seen_end: BTreeMap<NodeId, Lsn>,
    next_beat_at: Millis,
    /// When this boot learned its group (beats from its peers count from then).
    pub(crate) group_known_at: Millis,
    /// The vote machine.
    pub(crate) role: Role,
    /// Incremental sync (a non-primary).
    pub(crate) sync: SyncSession,
    /// A full sync this node receives.
    pub(crate) fs_target: Option<FsTarget>,
    /// Full syncs this node serves, by (target, session).
    pub(crate) fs_sources: BTreeMap<(NodeId, u64), FsSource>,
    /// The primary's record of each secondary's confirmed log end.
    pub(crate) acked: BTreeMap<NodeId, Lsn>,
    /// Writes waiting for their ReplSize.
    pub(crate) waiters: Vec<Waiter>,
    /// Secondaries that asked and got nothing new: poked at the next write.
    pub(crate) waiting_notify: std::collections::BTreeSet<NodeId>,
    /// The last write and read sequence number taken from each client session: the network may
    /// deliver a request twice (SequoiaDB's TCP connections never do), and a write must not be
    /// applied twice.
    pub(crate) client_seqs: BTreeMap<(u32, bool), u64>,
    /// What to do once a reported disk request completes.
    pub(crate) after_disk: BTreeMap<IoToken, AfterDisk>,
    next_token: IoToken,
}

impl SeqDataNode {
    /// Rebuilds the node from its disk.
    pub fn boot(id: NodeId, config: &SeqNodeConfig, disk: &dyn DiskView, entropy: u64) -> Result<Self, RecoveryError> {
        assert!(config.invalid().is_none(), "invalid node settings: {:?}", config.invalid());
        let shape =
            LogShape { file_bytes: config.log_file_size_bytes, file_num: config.log_file_num, buff_bytes: config.log_buff_size_bytes };
        let found = storage::recover(shape, disk)?;
        let boot = BootReport {
            file_begin: found.log.file_begin(),
            end: found.log.end(),
            torn_records: found.torn_records,
            startup_ok: found.startup_ok,
            consistent: found.consistent,
        };
        let known_version = found.meta.known_version.max(found.log.end().version);
        Ok(Self {
            id,
            config: config.clone(),
            rng: SplitMix64::new(entropy),
            group: None,
            members: BTreeMap::new(),
            collections: BTreeMap::new(),
            catalog_version: 0,
            catalog: CatalogLink::new(config.controllers.clone(), id as usize),
            next_catalog_at: 0,
            boot: Some(boot),
            log: found.log,
            docs: found.docs,
            known_version,
            status: DbStatus::Normal,
            startup_ok: found.startup_ok && found.consistent,
            peers: BTreeMap::new(),
            seen_end: BTreeMap::new(),
            next_beat_at: 0,
            group_known_at: 0,
            role: Role::Secondary { since: 0 },
            sync: SyncSession::default(),
            fs_target: None,
            fs_sources: BTreeMap::new(),
            acked: BTreeMap::new(),
            waiters: Vec::new(),
            waiting_notify: std::collections::BTreeSet::new(),
            client_seqs: BTreeMap::new(),
            after_disk: BTreeMap::new(),
            next_token: 1,
        })
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The sync log.
    pub fn log(&self) -> &SyncLog {
        &self.log
    }

    /// The documents.
    pub fn docs(&self) -> &Docs {
        &self.docs
    }

    /// The DB status.
    pub fn status(&self) -> DbStatus {
        self.status
    }

    /// The group, once known.
    pub fn group(&self) -> Option<GroupId> {
        self.group
    }

    /// The role in the group.
    pub fn node_role(&self) -> NodeRole {
        if self.is_primary() { NodeRole::Primary } else { NodeRole::Secondary }
    }

    /// The version this node is primary of, if it is.
    pub fn primary_version(&self) -> Option<u32> {
        match self.role {
            Role::Primary { version, .. } => Some(version),
            _ => None,
        }
    }

    /// Whether this node is its group's primary.
    pub fn is_primary(&self) -> bool {
        matches!(self.role, Role::Primary { .. })
    }

    /// The node and its group, for facts.
    pub(crate) fn member(&self) -> Member {
        Member { group: self.group.expect("facts are reported once the group is known"), node: self.id }
    }

    /// The number of members.
    pub(crate) fn group_size(&self) -> usize {
        self.members.len()
    }

    /// Whether `node` beat within `sharingbreak` (this node always is).
    pub(crate) fn alive(&self, node: NodeId, now: Millis) -> bool {
        node == self.id || self.peers.get(&node).is_some_and(|p| now <= p.at + self.config.sharing_break_ms)
    }

    /// The members alive, this node included.
    pub(crate) fn alive_members(&self, now: Millis) -> Vec<NodeId> {
        self.members.keys().copied().filter(|&n| self.alive(n, now)).collect()
    }

    /// The primary this node knows: itself, or the alive member beating as primary of the highest
    /// version.
    pub(crate) fn known_primary(&self, now: Millis) -> Option<NodeId> {
        if self.is_primary() {
            return Some(self.id);
        }
        self.peers
            .iter()
            .filter(|(n, p)| self.members.contains_key(n) && p.beat.role == NodeRole::Primary && self.alive(**n, now))
            .max_by_key(|(n, p)| (p.beat.version, **n))
            .map(|(n, _)| *n)
    }

    fn token(&mut self) -> IoToken {
        self.next_token += 1;
        self.next_token
    }

    /// Queues disk operations; only failures come back.
    pub(crate) fn write_disk<M, F>(&mut self, ops: Vec<DiskOp>, out: &mut Output<M, F>) {
        for op in ops {
            let t = self.token();
            out.disk_unreported(t, op);
        }
    }

    /// Sets the DB status, reporting a change.
    pub(crate) fn set_status<M, F: NodeFacts>(&mut self, status: DbStatus, out: &mut Output<M, F>) {
        if self.status != status {
            self.status = status;
            out.fact_replica(SeqFact::DbStatusChanged { at: self.member(), status });
        }
    }

    /// Persists the meta file.
    pub(crate) fn save_meta<M, F>(&mut self, out: &mut Output<M, F>) {
        let meta = Meta { base: self.log.base(), known_version: self.known_version };
        self.write_disk(storage::meta_ops(meta), out);
    }

    /// Persists the meta file and does `then` once it is durable (a version promised or taken
    /// must survive a crash before anyone relies on it).
    pub(crate) fn save_meta_then<M, F>(&mut self, then: AfterDisk, out: &mut Output<M, F>) {
        let meta = Meta { base: self.log.base(), known_version: self.known_version };
        let mut ops = storage::meta_ops(meta);
        let last = ops.pop().expect("a meta write has operations");
        self.write_disk(ops, out);
        let token = self.token();
        out.disk(token, last);
        self.after_disk.insert(token, then);
    }

    /// Appends a record to the log (a primary's write, a replayed or a forwarded one), applies it
    /// to the documents, reports it, writes it to disk and hands it to the full syncs this node
    /// serves.
    pub(crate) fn append_record<M: NodeOut, F: NodeFacts>(&mut self, record: LogRecord, source: RecordSource, out: &mut Output<M, F>) {
        assert_eq!(record.pre_lsn, self.log.end(), "record {} does not follow {}", record.lsn, self.log.end());
        let would_roll = !self.log.is_empty() && {
            let file = record.lsn.offset / self.config.log_file_size_bytes;
            let first = self.log.file_begin().offset / self.config.log_file_size_bytes;
            first + u64::from(self.config.log_file_num) <= file
        };
        if would_roll {
            // The oldest file is about to be overwritten: the documents are saved first, so that
            // a reboot finds a snapshot whose point is still in the log.
            let ops = storage::docs_ops(&self.docs, self.log.end());
            self.write_disk(ops, out);
        }
        let appended = self.log.append(record.clone());
        storage::replay_into(&mut self.docs, &record);
        out.fact_replica(SeqFact::RecordWritten {
            at: self.member(),
            lsn: record.lsn,
            pre_lsn: record.pre_lsn,
            digest: record.digest(),
            write: record.write,
            source,
        });
        if let Some(file_begin) = appended.rolled_over_to {
            crate::mark!("sequoiadb.log_rolled_over");
            out.fact_replica(SeqFact::LogRolledOver { at: self.member(), file_begin });
        }
        self.write_disk(storage::append_ops(&record, appended.slot, appended.new_file), out);
        self.known_version = self.known_version.max(record.lsn.version);
        self.feed_full_syncs(&record);
    }

    /// First step after boot.
    pub fn start<M: NodeOut, F: NodeFacts>(&mut self, _now: Millis, out: &mut Output<M, F>) {
        self.write_disk(storage::running_ops(), out);
        out.set_timer(TIMER_NODE_TICK, TICK_MS);
    }

    /// A message.
    pub fn on_message<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, from: NodeId, msg: SeqMessage, out: &mut Output<M, F>) {
        match msg {
            SeqMessage::CatalogReply { req, info } => {
                if self.catalog.answers(req) {
                    self.on_catalog(now, *info, out);
                }
            }
            SeqMessage::CatalogNotLeader { req, hint } => {
                if self.catalog.answers(req) {
                    self.catalog.not_leader(hint);
                    self.next_catalog_at = now;
                }
            }
            SeqMessage::CatalogQuery { .. } | SeqMessage::CatalogApplied { .. } => {}
            _ if self.group.is_none() => {
                // Not a member of any group (yet, or any more): it takes part in nothing.
                if let SeqMessage::WriteReq { write, .. } = msg {
                    out.send_replica(
                        from,
                        SeqMessage::WriteRes { write, node: self.id, result: Err(super::types::SeqError::NoPrimary), primary: None },
                    );
                }
                if let SeqMessage::ReadReq { read, .. } = msg {
                    out.send_replica(from, SeqMessage::ReadRes { read, node: self.id, result: Err(super::types::SeqError::NoPrimary) });
                }
            }
            SeqMessage::Beat(beat) => self.on_beat(now, from, beat, out),
            SeqMessage::Ballot { round, id, end, weight, version } => self.on_ballot(now, from, round, id, end, weight, version, out),
            SeqMessage::BallotReply { round, id, accept, version } => self.on_ballot_reply(now, from, round, id, accept, version, out),
            SeqMessage::SyncReq { request, next, need_data } => self.on_sync_req(now, from, request, next, need_data, out),
            SeqMessage::SyncRes { request, result } => self.on_sync_res(now, from, request, result, out),
            SeqMessage::SyncNotify => self.on_sync_notify(now, from, out),
            SeqMessage::SyncVirReq { from: secondary, next } => self.on_ack(now, secondary, next, out),
            SeqMessage::ConsultReq { request, current, digest } => self.on_consult_req(from, request, current, digest, out),
            SeqMessage::ConsultRes { request, result } => self.on_consult_res(now, from, request, result, out),
            SeqMessage::FsBegin { session } => self.on_fs_begin(now, from, session, out),
            SeqMessage::FsBeginRes { session, result } => self.on_fs_begin_res(now, from, session, result, out),
            SeqMessage::FsPull { session, seq } => self.on_fs_pull(now, from, session, seq, out),
            SeqMessage::FsBatch { session, seq, batch } => self.on_fs_batch(now, from, session, seq, *batch, out),
            SeqMessage::WriteReq { write, collection, id, op, repl_size } => {
                self.on_write(now, from, write, collection, id, op, repl_size, out)
            }
            SeqMessage::ReadReq { read, collection, id } => self.on_read(from, read, collection, id, out),
            SeqMessage::WriteRes { .. } | SeqMessage::ReadRes { .. } => {}
        }
    }

    /// A timer.
    pub fn on_timer<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, key: TimerKey, out: &mut Output<M, F>) {
        if key != TIMER_NODE_TICK {
            return;
        }
        out.set_timer(TIMER_NODE_TICK, TICK_MS);
        if now >= self.next_catalog_at {
            self.ask_catalog(now, out);
        }
        if self.group.is_none() {
            return;
        }
        if now >= self.next_beat_at {
            self.next_beat_at = now + self.config.heartbeat_ms;
            self.send_beats(out);
        }
        self.election_tick(now, out);
        self.sync_tick(now, out);
        self.full_sync_tick(now, out);
        self.waiters_tick(now, out);
    }

    /// A disk completion: only failures come back. A node that cannot write its log stops
    /// (SequoiaDB's node goes down on a log write failure).
    pub fn on_disk<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, done: DiskCompletion, out: &mut Output<M, F>) {
        let then = self.after_disk.remove(&done.token);
        if let Err(e) = done.result {
            out.halt(format!("sequoiadb node {}: disk write failed: {e:?}", self.id));
            return;
        }
        match then {
            Some(AfterDisk::Promote { ballot }) => self.on_version_durable(now, ballot, out),
            Some(AfterDisk::Accept { candidate, id }) => {
                out.send_replica(candidate, SeqMessage::BallotReply { round: 2, id, accept: true, version: self.known_version });
            }
            None => {}
        }
    }

    /// A management call made on this node; the answer.
    pub fn on_call<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, call: SeqCall, out: &mut Output<M, F>) -> SeqCallResult {
        match call {
            SeqCall::StepDown { group } if Some(group) == self.group && self.is_primary() => {
                self.step_down(now, StepDownCause::Forced, out);
                SeqCallResult::Done
            }
            SeqCall::StepDown { .. } => SeqCallResult::NotPrimary,
            SeqCall::AddNode { .. } | SeqCall::RemoveNode { .. } | SeqCall::SetWeight { .. } => SeqCallResult::NoPart,
        }
    }

    fn ask_catalog<M: NodeOut, F>(&mut self, now: Millis, out: &mut Output<M, F>) {
        self.next_catalog_at = now + CATALOG_REFRESH_MS;
        let primary_of = match (self.group, self.primary_version()) {
            (Some(g), Some(v)) => Some((g, v)),
            _ => None,
        };
        let (to, req) = self.catalog.ask();
        out.send_replica(to, SeqMessage::CatalogQuery { req, primary_of });
    }

    fn on_catalog<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, info: CatalogInfo, out: &mut Output<M, F>) {
        if info.version < self.catalog_version {
            return;
        }
        self.catalog_version = info.version;
        self.collections = info.collections;
        let mine = info.groups.iter().find(|(_, m)| m.contains_key(&self.id)).map(|(g, m)| (*g, m.clone()));
        match (self.group, mine) {
            (None, Some((group, members))) => {
                self.group = Some(group);
                self.members = members;
                self.on_group_known(now, out);
            }
            (Some(g), Some((group, members))) if g == group => self.members = members,
            (Some(_), _) => self.leave_group(now, out),
            (None, None) => {}
        }
    }

    /// The group became known: the boot is reported, and a node that did not start OK repairs
    /// itself (reference section 6: a crash restart full-syncs; a one-node group rebuilds).
    fn on_group_known<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        self.role = Role::Secondary { since: now };
        self.group_known_at = now;
        if let Some(b) = self.boot.take() {
            out.fact_replica(SeqFact::NodeBooted {
                at: self.member(),
                file_begin: b.file_begin,
                end: b.end,
                torn_records: b.torn_records,
                startup_ok: b.startup_ok,
            });
            // No coverage mark here: a torn or corrupt tail is dropped only after a bit flip in a
            // log file and a restart, which the CI sweep reaches in a few seeds of sequoiadb-chaos
            // alone.
            if !b.startup_ok || !b.consistent {
                self.repair(now, out);
            }
        }
    }

    /// A node whose data cannot be trusted: a full sync, or in a one-node group a local rebuild
    /// from its own files (rtnDBRebuilder).
    pub(crate) fn repair<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        if self.group_size() == 1 {
            self.rebuild_locally(out);
        } else {
            self.begin_full_sync(now, out);
        }
    }

    /// Removed from its group: a primary steps down, every session ends, the node idles.
    fn leave_group<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        if self.is_primary() {
            self.step_down(now, StepDownCause::Removed, out);
        }
        self.group = None;
        self.members.clear();
        self.peers.clear();
        self.seen_end.clear();
        self.sync = SyncSession::default();
        self.fs_target = None;
        self.fs_sources.clear();
        self.role = Role::Secondary { since: now };
    }

    pub(crate) fn send_beats<M: NodeOut, F>(&mut self, out: &mut Output<M, F>) {
        let group = self.group.expect("beats need a group");
        let others: Vec<NodeId> = self.members.keys().copied().filter(|&n| n != self.id).collect();
        for to in others {
            let sync_status = match self.seen_end.get(&to) {
                Some(&end) => self.log.window_status(end),
                None => SyncStatus::None,
            };
            let beat = Beat {
                group,
                end: self.log.end(),
                role: self.node_role(),
                version: self.primary_version().unwrap_or(self.known_version),
                status: self.status,
                startup_ok: self.startup_ok,
                sync_status,
            };
            out.send_replica(to, SeqMessage::Beat(beat));
        }
    }

    fn on_beat<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, from: NodeId, beat: Beat, out: &mut Output<M, F>) {
        if Some(beat.group) != self.group || !self.members.contains_key(&from) || from == self.id {
            return;
        }
        self.peers.insert(from, PeerView { at: now, beat });
        self.seen_end.insert(from, beat.end);
        if beat.role == NodeRole::Primary {
            if let Some(mine) = self.primary_version()
                && beat.version > mine
            {
                self.step_down(now, StepDownCause::HigherVersion, out);
            }
            self.known_version = self.known_version.max(beat.version);
        }
    }
}

//! The data node: holds chunk replicas (the 2PC participant, `participant.rs`), coordinates the
//! transactions of the operations clients send it (`coordinator.rs`), resolves its in-doubt
//! transactions with the controller after a crash, and recovers stale replicas from peers
//! (`recovery.rs`). This file holds the node itself: its inputs, its channel to the controller
//! leader, its durability discipline, and the services it offers the pipeline part it hosts.
//!
//! Durability rule, as in Raft: a reply that vouches for durable state (prepared, decided) leaves
//! only once every disk write issued before it is synced.
//!
//! `P` is the pipeline whose part the node hosts (`guest.rs`); `M` and `F` are the deployment's
//! message and fact types, into which the node writes its own.

mod coordinator;
mod participant;
mod query;
mod recovery;
mod work;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use self::work::{CoordOp, RecoveryTask};
use super::fact::DfsFact;
use super::guest::{Carry, Guest2pc, NodeServices, Report};
use super::message::{DfsMessage, DfsRequest};
use super::state::{ChunkId, Cid, Decision, DfsOutput, Tid};
use super::storage::{self, ChunkRecord, ChunkSnapshot};
use crate::core::io::RecoveryError;
use crate::core::io::{DiskCompletion, DiskOp, DiskView, IoToken, Millis, NodeId, Output, TimerKey};
use crate::core::rng::SplitMix64;
use crate::dfs::{ChunkData, ChunkDelta, SharedOperation};
use crate::replica::PipelineWriteId;

const TIMER_TICK: TimerKey = 300;
const TICK_MS: Millis = 50;
/// Disk tokens of scrub reads carry this tag.
const SCRUB_TAG: IoToken = 0x5c << 56;

/// Bugs of the data node that can be switched on to prove the checkers. All off in a real run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataNodeBugs {
    /// An in-doubt participant commits on its own instead of asking the controller.
    pub commit_without_decision: bool,
    /// Chunk logs are never fsynced (acknowledgements run ahead of the disk).
    pub skip_fsync: bool,
    /// A commit leaves the prepare in place, so a repeated decision applies the change again.
    pub commit_not_idempotent: bool,
    /// A participant applies SQL_UPDATE to every row, ignoring its filter.
    pub update_ignores_filter: bool,
    /// The coordinator answers the client "aborted" after the controller decided commit.
    pub report_failure_after_commit: bool,
    /// The coordinator answers the client "committed" once every participant prepared, before the
    /// controller decided.
    pub ack_before_commit_decision: bool,
    /// The data node ignores the controller's orders to recover stale replicas.
    pub ignore_recover_orders: bool,
    /// A participant answers `Prepared` as soon as it has written its prepare record, before the
    /// fsync that makes it durable: a crash in between loses a prepare it voted yes on.
    pub prepare_vote_before_fsync: bool,
    /// The coordinator asks for the commit decision after the first yes vote, not the last.
    pub commit_after_first_prepared: bool,
    /// A replica asked for a chunk's rows while a transaction on it is prepared serves them with
    /// the prepared (undecided) change applied.
    pub read_uncommitted_version: bool,
    /// A replica asked for a chunk's rows at a version serves its current rows whatever version
    /// it holds (behind the snapshot, or past it).
    pub read_any_version: bool,
    /// A participant refuses the prepare of every transaction whose tid is a multiple of 5, as if
    /// its partition were held by another transaction: a fifth of the writes abort for nothing.
    pub refuse_some_prepares: bool,
}

impl DataNodeBugs {
    /// True when any bug is on (the node's own invariant assertions then stand back: the checkers
    /// must catch the consequences).
    pub fn any(&self) -> bool {
        // Every flag, the ones added later included: a flag left out would keep the role's own
        // assertions strict while its bug is on.
        *self != Self::default()
    }
}

/// Settings of a data node (`G`: the settings of the pipeline part it hosts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataNodeConfig<G> {
    /// Controllers of its cluster.
    pub controllers: Vec<NodeId>,
    /// Heartbeat period.
    pub heartbeat_ms: Millis,
    /// Phase one must finish within this.
    pub prepare_timeout_ms: Millis,
    /// Participants get this long to acknowledge the decision before the stragglers are left stale.
    pub commit_timeout_ms: Millis,
    /// Resend a controller request after this long without an answer.
    pub request_retry_ms: Millis,
    /// A prepare without a decision for this long is in doubt: ask the controller.
    pub in_doubt_ms: Millis,
    /// An operation whose BEGIN found no controller for this long fails.
    pub begin_timeout_ms: Millis,
    /// Compact a chunk's log after this many records.
    pub compaction_records: usize,
    /// Read back one chunk's files this often to find latent corruption (0: never).
    pub scrub_interval_ms: Millis,
    /// Whether any client of the deployment sends queries. Only then does a replica keep older
    /// versions (`query::OLD_VERSIONS_KEPT`): nothing else reads them, and copying a chunk's rows
    /// at every commit is wasted in a run without them.
    pub serves_queries: bool,
    /// The pipeline part's settings.
    pub pipeline: G,
    /// Planted bugs.
    pub bugs: DataNodeBugs,
}

#[derive(Debug, Clone)]
pub(super) struct PreparedTx {
    tid: Tid,
    expected: Cid,
    delta: std::sync::Arc<ChunkDelta>,
    since: Millis,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Replica {
    data: ChunkData,
    /// The cid of the last commit applied.
    ///
    /// Invariant: only grows (to the cid of each commit applied), except when a recovery image
    /// replaces the replica or the replica is dropped.
    version: Cid,
    /// Open prepares.
    ///
    /// Invariant: at most one (one writer per partition), and it expects `version`.
    prepared: Vec<PreparedTx>,
    /// Records in the chunk's log (the next one's position).
    records: usize,
    /// Older committed versions kept for queries (in memory only), oldest first.
    ///
    /// Invariant: at most `query::OLD_VERSIONS_KEPT`, versions increasing, all below `version`.
    older: VecDeque<(Cid, ChunkData)>,
}

impl Replica {
    /// Keeps the current version for queries before a commit replaces it.
    fn keep_current_version(&mut self) {
        self.older.push_back((self.version, self.data.clone()));
        if self.older.len() > query::OLD_VERSIONS_KEPT {
            self.older.pop_front();
        }
        assert!(self.older.len() <= query::OLD_VERSIONS_KEPT && self.older.iter().all(|(v, _)| *v <= self.version));
    }
}

/// What a request to the controller leader is for: where its answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Coord(u64),
    Resolve(ChunkId, Tid),
    RecoveryLock(ChunkId),
    Recovered(ChunkId),
    /// A query's read plan.
    Read(u64),
    Unlock,
    /// The pipeline part's request, with the correlation it chose.
    Pipeline(u64),
}

#[derive(Debug, Clone)]
struct PendingRequest<P: Guest2pc> {
    request: DfsRequest<P>,
    purpose: Purpose,
    sent_at: Millis,
    redirects: u32,
}

/// Something that may happen only once every disk write issued before it is durable.
#[derive(Debug, Clone)]
enum AfterSync<P: Guest2pc> {
    /// A reply that vouches for durable state.
    Send(NodeId, DfsMessage<P>),
    /// A commit acknowledgement: the replica holds `cid` durably (reported to the checkers).
    Acknowledge { to: NodeId, tid: Tid, chunk: ChunkId, cid: Option<Cid> },
    /// A request to the controller that does (a recovery's report).
    Request(DfsRequest<P>, Purpose),
}

/// A data node.
#[derive(Debug)]
pub struct DataNode<P: Guest2pc, M, F> {
    id: NodeId,
    config: DataNodeConfig<P::NodeConfig>,
    replicas: BTreeMap<ChunkId, Replica>,
    ops: BTreeMap<u64, CoordOp>,
    next_op: u64,
    /// Queries it runs for clients.
    reads: BTreeMap<u64, query::ReadOp>,
    next_read: u64,
    /// Operations answered within the last minute, `(client, op_id)`: a copy of a request that the
    /// network duplicated or delayed must not run the operation a second time.
    answered: BTreeSet<(NodeId, u64)>,
    /// `answered` in the order of answering, with when: expiry pops from the front.
    answered_at: VecDeque<(Millis, (NodeId, u64))>,
    session: u64,
    next_req: u64,
    requests: BTreeMap<u64, PendingRequest<P>>,
    leader: usize,
    recoveries: BTreeMap<ChunkId, RecoveryTask>,
    /// Replicas found corrupt at boot: their files stay (so that a crash cannot make the loss
    /// silent) until a recovery image replaces them or the chunk is forgotten.
    lost: BTreeSet<ChunkId>,
    /// Log records produced by this step, per chunk, written and synced when it ends.
    ///
    /// Invariant: empty between steps.
    log_buffer: BTreeMap<ChunkId, Vec<u8>>,
    /// What this step produced that must wait for durability.
    ///
    /// Invariant: empty between steps (it joins the last synced request in flight, or leaves).
    held: Vec<AfterSync<P>>,
    /// Synced requests in flight, each with what it releases.
    ///
    /// Invariant: in issue order (tokens increase); what an entry holds is released only when its
    /// token completes, i.e. once every disk request issued before it is durable.
    pending: VecDeque<(IoToken, Vec<AfterSync<P>>)>,
    /// The local time of the input being handled.
    now: Millis,
    next_token: IoToken,
    startup_ops: Vec<DiskOp>,
    next_heartbeat: Millis,
    next_scrub: Millis,
    /// No open prepare is in doubt before this time, so the in-doubt walk over every replica on
    /// each tick waits for it (a prepare already due keeps it at or below every later tick).
    ///
    /// Invariant: at most the smallest `since + in_doubt_ms` of the open prepares.
    in_doubt_walk_at: Millis,
    /// The chunk the next scrub reads (round robin over the replicas).
    scrub_cursor: ChunkId,
    rng: SplitMix64,
    /// The pipeline's part of the node.
    guest: P::NodeState,
    /// What the boot found, reported when the node starts.
    boot_facts: Vec<DfsFact>,
    wire: PhantomData<fn() -> (M, F)>,
}

pub(super) fn send<P: Guest2pc, M: Carry<P>, F>(out: &mut Output<M, F>, to: NodeId, msg: DfsMessage<P>) {
    out.send_replica(to, msg);
}

/// What the node holds, for the checkers and the pipeline part.
impl<P: Guest2pc, M, F> DataNode<P, M, F> {
    /// Replicas held: `(chunk, version, rows)`.
    pub fn replicas(&self) -> impl Iterator<Item = (ChunkId, Cid, &ChunkData)> {
        self.replicas.iter().map(|(c, r)| (*c, r.version, &r.data))
    }

    /// Open prepares: `(chunk, tid)`.
    pub fn open_prepares(&self) -> Vec<(ChunkId, Tid)> {
        self.replicas.iter().flat_map(|(c, r)| r.prepared.iter().map(move |p| (*c, p.tid))).collect()
    }

    /// Operations being coordinated.
    pub fn coordinating(&self) -> usize {
        self.ops.len()
    }
}

impl<P: Guest2pc, M: Carry<P>, F: Report<P>> DataNode<P, M, F> {
    fn fresh_token(&mut self) -> IoToken {
        self.next_token += 1;
        assert!(self.next_token & SCRUB_TAG == 0, "disk tokens ran into the scrub tag");
        self.next_token
    }

    /// Queues a synced request in flight with what it releases: in issue order.
    fn push_pending(&mut self, token: IoToken, release: Vec<AfterSync<P>>) {
        assert!(self.pending.back().is_none_or(|(t, _)| *t < token), "pending token {token} out of issue order");
        self.pending.push_back((token, release));
    }

    /// Rebuilds a data node from its disk. Corrupt replicas are discarded (and reported): their
    /// peers hold the data, and the controller will have them recovered.
    pub fn recover(id: NodeId, config: DataNodeConfig<P::NodeConfig>, disk: &dyn DiskView, entropy: u64) -> Result<Self, RecoveryError> {
        assert!(!config.controllers.is_empty());
        let found = storage::recover(disk).map_err(RecoveryError::Disk)?;
        let mut rng = SplitMix64::new(entropy);
        let guest = P::node_boot(&config.pipeline, disk);
        let mut node = DataNode {
            id,
            config,
            replicas: BTreeMap::new(),
            ops: BTreeMap::new(),
            next_op: 0,
            reads: BTreeMap::new(),
            next_read: 0,
            answered: BTreeSet::new(),
            answered_at: VecDeque::new(),
            session: rng.next_u64(),
            next_req: 0,
            requests: BTreeMap::new(),
            leader: 0,
            recoveries: BTreeMap::new(),
            lost: BTreeSet::new(),
            log_buffer: BTreeMap::new(),
            held: Vec::new(),
            pending: VecDeque::new(),
            now: 0,
            next_token: 0,
            startup_ops: Vec::new(),
            next_heartbeat: 0,
            next_scrub: 0,
            in_doubt_walk_at: 0,
            scrub_cursor: 0,
            rng,
            guest,
            boot_facts: Vec::new(),
            wire: PhantomData,
        };
        // Request numbers start where this life's session puts them, not at 1: a controller may
        // answer a request of the node's earlier life after the reboot, and that answer must not
        // match a request of this life (it did: a BEGIN took another operation's transaction as
        // its own). The session is drawn per boot, so the lives' ranges do not meet.
        node.next_req = (node.session >> 2) | 1;
        let mut facts = vec![DfsFact::DataNodeBooted];
        let mut torn = Vec::new();
        for (chunk, r) in found {
            match r {
                Ok(r) => {
                    if !r.prepared.is_empty() {
                        crate::mark!("dfs.prepare_in_doubt_at_boot");
                    }
                    if r.torn_log {
                        torn.push(chunk);
                    }
                    facts.push(DfsFact::ReplicaLoaded {
                        chunk,
                        version: r.version,
                        digest: r.data.digest(),
                        prepared: r.prepared.iter().map(|p| p.0).collect(),
                    });
                    let prepared =
                        r.prepared.into_iter().map(|(tid, expected, delta)| PreparedTx { tid, expected, delta, since: 0 }).collect();
                    node.replicas
                        .insert(chunk, Replica { data: r.data, version: r.version, prepared, records: r.records, older: VecDeque::new() });
                }
                Err(why) => {
                    facts.push(DfsFact::ReplicaLost { chunk, why });
                    node.lost.insert(chunk);
                }
            }
        }
        for chunk in torn {
            // Rewrite before appending: records after a torn one would never be read back.
            node.compaction_ops(chunk);
        }
        assert!(node.lost.iter().all(|c| !node.replicas.contains_key(c)), "a replica both loaded and lost");
        node.boot_facts = facts;
        Ok(node)
    }

    /// Starts after boot: finishes recovery writes, arms the tick.
    pub fn start(&mut self, out: &mut Output<M, F>) {
        for f in std::mem::take(&mut self.boot_facts) {
            out.fact_replica(f);
        }
        P::node_start(&self.guest, out);
        let ops = std::mem::take(&mut self.startup_ops);
        for op in ops {
            let t = self.fresh_token();
            out.disk(t, op);
        }
        out.set_timer(TIMER_TICK, TICK_MS);
        self.finish(out);
        assert!(self.startup_ops.is_empty() && self.boot_facts.is_empty());
    }

    // ----- Inputs ------------------------------------------------------------------------------------

    /// Handles a message of the pipeline.
    pub fn on_pipeline_message(&mut self, now: Millis, from: NodeId, msg: P::Message, out: &mut Output<M, F>) {
        self.now = now;
        P::node_on_message(self, now, from, msg, out);
        self.finish(out);
    }

    /// Handles a management call made on this node (answered by a `CallAnswered` fact).
    pub fn on_call(&mut self, now: Millis, call_id: u64, call: P::Call, out: &mut Output<M, F>) {
        self.now = now;
        P::node_on_call(self, now, call_id, call, out);
        self.finish(out);
    }

    /// Handles a message.
    /// Handles a message of the protocol.
    pub fn on_message(&mut self, now: Millis, from: NodeId, msg: DfsMessage<P>, out: &mut Output<M, F>) {
        self.now = now;
        match msg {
            DfsMessage::Run { op_id, op } => self.run(now, from, op_id, op, out),
            DfsMessage::Query { op_id, query, floor } => self.on_query(now, from, op_id, query, floor, out),
            DfsMessage::ReadChunk { read, chunk, version, condition } => self.on_read_chunk(from, read, chunk, version, condition, out),
            DfsMessage::ChunkRows { read, chunk, rows } => self.on_chunk_rows(now, from, read, chunk, rows, out),
            DfsMessage::Response { req, result } => self.on_response(now, req, result, out),
            DfsMessage::Prepare { tid, chunk, expected_version, delta } => {
                self.on_prepare(now, from, tid, chunk, expected_version, delta, out)
            }
            DfsMessage::Prepared { tid, chunk, ok, reason } => {
                let refusal = (!ok).then_some(reason);
                self.on_prepared(now, from, tid, chunk, refusal, out)
            }
            DfsMessage::Decide { tid, chunk, decision } => {
                if self.apply_decision(tid, chunk, decision, out) {
                    let cid = match decision {
                        Decision::Commit(cid) if self.replicas.contains_key(&chunk) => Some(cid),
                        _ => None,
                    };
                    // The acknowledgement vouches for a replica that holds the commit (once synced).
                    assert!(cid.is_none_or(|c| self.replicas[&chunk].version >= c), "{tid} acknowledged below {cid:?}");
                    self.held.push(AfterSync::Acknowledge { to: from, tid, chunk, cid });
                }
            }
            DfsMessage::Decided { tid, chunk } => self.on_decided(now, from, tid, chunk, out),
            DfsMessage::Recover { chunk, source } => self.on_recover(now, chunk, source, out),
            DfsMessage::Fetch { chunk } => {
                let image =
                    self.replicas.get(&chunk).filter(|_| !self.recoveries.contains_key(&chunk)).map(|r| (r.version, r.data.clone()));
                // A replica being recovered itself never serves as a source.
                assert!(image.is_none() || !self.recoveries.contains_key(&chunk));
                send(out, from, DfsMessage::Image { chunk, image });
            }
            DfsMessage::Image { chunk, image } => self.on_image(now, from, chunk, image, out),
            DfsMessage::Forget { chunks } => {
                for chunk in chunks {
                    let idle = self.replicas.get(&chunk).is_none_or(|r| r.prepared.is_empty()) && !self.recoveries.contains_key(&chunk);
                    if idle && (self.replicas.contains_key(&chunk) || self.lost.contains(&chunk)) {
                        self.drop_replica(chunk, out);
                        assert!(!self.replicas.contains_key(&chunk) && !self.lost.contains(&chunk));
                    }
                }
            }
            DfsMessage::Outcome { .. }
            | DfsMessage::QueryAnswer { .. }
            | DfsMessage::Request { .. }
            | DfsMessage::Heartbeat { .. }
            | DfsMessage::CatalogQuery { .. }
            | DfsMessage::CatalogReply { .. } => {}
        }
        self.finish(out);
    }

    /// Handles a timer.
    /// Handles a timer.
    pub fn on_timer(&mut self, now: Millis, key: TimerKey, out: &mut Output<M, F>) {
        if key != TIMER_TICK {
            return;
        }
        self.now = now;
        out.set_timer(TIMER_TICK, TICK_MS);
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.config.heartbeat_ms;
            assert!(self.next_heartbeat > now, "a heartbeat period of zero");
            let replicas = self.replicas.iter().filter(|(c, _)| !self.recoveries.contains_key(c)).map(|(c, r)| (*c, r.version)).collect();
            let prepared = self.open_prepares();
            let lost = self.lost.iter().copied().collect();
            let pipeline = P::node_beat(&self.guest);
            assert!(
                self.config.bugs.any() || prepared.iter().all(|(c, _)| self.replicas[c].prepared.len() == 1),
                "a replica with more than one open prepare"
            );
            let beat = DfsMessage::Heartbeat { replicas, prepared, lost, pipeline };
            // Held like an acknowledgement: the controller may rely on the versions it reports.
            for &c in &self.config.controllers {
                self.held.push(AfterSync::Send(c, beat.clone()));
            }
        }
        if self.config.scrub_interval_ms > 0 && now >= self.next_scrub {
            self.next_scrub = now + self.config.scrub_interval_ms;
            self.scrub(out);
        }
        self.retry_requests(now, out);
        self.tick_coordinator(now, out);
        self.tick_reads(now, out);
        self.tick_in_doubt(now, out);
        self.tick_recoveries(now, out);
        P::node_tick(self, now, out);
        self.finish(out);
    }

    /// Handles a disk completion.
    pub fn on_disk(&mut self, now: Millis, done: DiskCompletion, out: &mut Output<M, F>) {
        self.now = now;
        if P::node_on_disk(self, &done, out) {
            self.finish(out);
            return;
        }
        if done.token & SCRUB_TAG == SCRUB_TAG {
            // A scrub read: a failed read is a transient fault; corrupt bytes are rewritten from
            // the replica in memory, which the corruption did not touch.
            let chunk = done.token & !SCRUB_TAG;
            if let Ok(Some(bytes)) = &done.result
                && storage::is_corrupt(bytes)
                && self.replicas.contains_key(&chunk)
                && !self.recoveries.contains_key(&chunk)
            {
                crate::mark!("dfs.scrub_found_corrupt_replica");
                out.fact_replica(DfsFact::ReplicaRepaired { chunk });
                self.compaction_ops(chunk);
            }
            self.finish(out);
            return;
        }
        if let Err(e) = done.result {
            out.halt(format!("data node disk request failed: {e:?}"));
            return;
        }
        // Completions come in issue order: none passes the oldest synced request in flight.
        assert!(self.pending.front().is_none_or(|(t, _)| done.token <= *t), "completion {} passed a pending sync", done.token);
        if self.pending.front().is_some_and(|(t, _)| *t == done.token) {
            let (_, release) = self.pending.pop_front().expect("checked");
            for after in release {
                self.release(after, out);
            }
        }
        self.finish(out);
    }

    fn release(&mut self, after: AfterSync<P>, out: &mut Output<M, F>) {
        match after {
            AfterSync::Send(to, msg) => send(out, to, msg),
            AfterSync::Acknowledge { to, tid, chunk, cid } => {
                if let Some(cid) = cid {
                    out.fact_replica(DfsFact::CommitAcknowledged { tid, chunk, cid });
                }
                send(out, to, DfsMessage::Decided { tid, chunk });
            }
            AfterSync::Request(request, purpose) => self.request(self.now, request, purpose, out),
        }
    }

    fn request(&mut self, now: Millis, request: DfsRequest<P>, purpose: Purpose, out: &mut Output<M, F>) {
        let req = self.next_req;
        self.next_req += 1;
        let to = self.config.controllers[self.leader % self.config.controllers.len()];
        send(out, to, DfsMessage::Request { req, request: request.clone() });
        let earlier = self.requests.insert(req, PendingRequest { request, purpose, sent_at: now, redirects: 0 });
        assert!(earlier.is_none(), "request number {req} reused");
    }

    fn retry_requests(&mut self, now: Millis, out: &mut Output<M, F>) {
        let late: Vec<u64> =
            self.requests.iter().filter(|(_, p)| now >= p.sent_at + self.config.request_retry_ms).map(|(r, _)| *r).collect();
        if !late.is_empty() {
            self.leader += 1;
        }
        for req in late {
            let to = self.config.controllers[self.leader % self.config.controllers.len()];
            let p = self.requests.get_mut(&req).expect("listed");
            if matches!(p.request, DfsRequest::Commit { .. }) {
                crate::mark!("dfs.commit_request_resent_after_timeout");
            }
            p.sent_at = now;
            p.redirects = 0;
            send(out, to, DfsMessage::Request { req, request: p.request.clone() });
        }
        assert!(self.requests.values().all(|p| now < p.sent_at + self.config.request_retry_ms), "a late request not resent");
    }

    fn on_response(&mut self, now: Millis, req: u64, result: Result<DfsOutput<P>, Option<NodeId>>, out: &mut Output<M, F>) {
        let Some(p) = self.requests.get_mut(&req) else { return };
        let output = match result {
            Ok(output) => output,
            Err(hint) => {
                // Not the leader: follow the hint at once (a few times), else wait for the retry.
                if let Some(i) = hint.and_then(|h| self.config.controllers.iter().position(|c| *c == h))
                    && p.redirects < 3
                {
                    crate::mark!("dfs.request_redirected_by_follower");
                    self.leader = i;
                    p.redirects += 1;
                    assert!(p.redirects <= 3 && req < self.next_req);
                    p.sent_at = now;
                    send(out, hint.expect("checked"), DfsMessage::Request { req, request: p.request.clone() });
                }
                return;
            }
        };
        let p = self.requests.remove(&req).expect("present");
        assert!(req < self.next_req && !self.requests.contains_key(&req));
        match p.purpose {
            Purpose::Coord(key) => self.on_coord_output(now, key, output, out),
            Purpose::Resolve(chunk, tid) => {
                if let DfsOutput::Decided(t, decision) = output
                    && t == tid
                {
                    match decision {
                        Decision::Commit(_) => crate::mark!("dfs.in_doubt_prepare_resolved_commit"),
                        Decision::Rollback => crate::mark!("dfs.in_doubt_prepare_resolved_rollback"),
                    }
                    self.apply_decision(tid, chunk, decision, out);
                }
            }
            Purpose::RecoveryLock(chunk) => self.on_recovery_lock(now, chunk, output, out),
            Purpose::Recovered(chunk) => {
                self.recoveries.remove(&chunk);
            }
            Purpose::Unlock => {}
            Purpose::Read(key) => self.on_read_plan(now, key, output, out),
            Purpose::Pipeline(correlation) => {
                let reply = match output {
                    DfsOutput::Pipeline(reply) => Ok(reply),
                    other => Err(format!("unexpected answer {other:?}")),
                };
                P::node_on_reply(self, correlation, reply, out);
            }
        }
    }

    /// Queues the requests that replace a chunk's files by a snapshot of its current state and a
    /// log holding only its open prepares.
    fn compaction_ops(&mut self, chunk: ChunkId) {
        let r = self.replicas.get_mut(&chunk).expect("replica");
        assert!(self.config.bugs.any() || r.prepared.len() <= 1, "chunk {chunk} compacted with {} open prepares", r.prepared.len());
        r.records = r.prepared.len();
        let snapshot = storage::encode_snapshot(&ChunkSnapshot { version: r.version, data: r.data.clone() });
        let mut log = Vec::new();
        for (seq, p) in r.prepared.iter().enumerate() {
            let record = ChunkRecord::Prepare { tid: p.tid, expected_version: p.expected, delta: p.delta.clone() };
            storage::encode_record(seq as u64, &record, &mut log);
        }
        for (path, data) in [(storage::snapshot_path(chunk), snapshot), (storage::log_path(chunk), log)] {
            let tmp = format!("{path}.tmp");
            self.startup_ops.push(DiskOp::WriteAll { path: tmp.clone(), data });
            self.startup_ops.push(DiskOp::Fsync { path: tmp.clone() });
            self.startup_ops.push(DiskOp::Rename { from: tmp, to: path });
        }
    }

    fn flush_startup(&mut self, out: &mut Output<M, F>) {
        let ops = std::mem::take(&mut self.startup_ops);
        if let Some(t) = out.disk_chain(ops, || self.fresh_token()) {
            self.push_pending(t, Vec::new());
        }
    }

    /// Ends every input: writes and syncs this step's log records, compacts long logs, and lets held
    /// replies go once everything before them is durable.
    fn finish(&mut self, out: &mut Output<M, F>) {
        // Only a chunk whose log grew in this step can have crossed the compaction threshold (a log
        // loaded long at boot is compacted at its next append).
        let appended: Vec<ChunkId> = self.log_buffer.keys().copied().collect();
        for (chunk, bytes) in std::mem::take(&mut self.log_buffer) {
            let path = storage::log_path(chunk);
            if self.config.bugs.skip_fsync {
                let t = self.fresh_token();
                out.disk(t, DiskOp::Append { path, data: bytes });
            } else {
                let ops = vec![DiskOp::Append { path: path.clone(), data: bytes }, DiskOp::Fsync { path }];
                let t = out.disk_chain(ops, || self.fresh_token()).expect("two requests");
                self.push_pending(t, Vec::new());
            }
        }
        for chunk in appended {
            if self.replicas.get(&chunk).is_some_and(|r| r.records >= self.config.compaction_records) {
                self.compaction_ops(chunk);
            }
        }
        self.flush_startup(out);
        assert!(self.log_buffer.is_empty() && self.startup_ops.is_empty(), "disk work left behind a step");
        let held = std::mem::take(&mut self.held);
        match self.pending.back_mut() {
            Some((_, release)) if !self.config.bugs.skip_fsync => release.extend(held),
            _ => {
                // Nothing synced is in flight: what the replies vouch for is durable already.
                assert!(self.config.bugs.any() || self.pending.is_empty(), "held replies released before their sync");
                held.into_iter().for_each(|after| self.release(after, out))
            }
        }
        assert!(self.held.is_empty(), "a released reply held another");
    }
}

/// The services the node offers the pipeline part it hosts.
impl<P: Guest2pc, M: Carry<P>, F: Report<P>> NodeServices<P, M, F> for DataNode<P, M, F> {
    fn id(&self) -> NodeId {
        self.id
    }

    fn now(&self) -> Millis {
        self.now
    }

    fn guest(&self) -> &P::NodeState {
        &self.guest
    }

    fn guest_mut(&mut self) -> &mut P::NodeState {
        &mut self.guest
    }

    fn guest_config(&self) -> &P::NodeConfig {
        &self.config.pipeline
    }

    fn token(&mut self) -> IoToken {
        self.fresh_token()
    }

    fn queue_disk(&mut self, op: DiskOp) {
        self.startup_ops.push(op);
    }

    fn request_for_pipeline(&mut self, now: Millis, request: P::NodeRequest, correlation: u64, out: &mut Output<M, F>) {
        self.request(now, DfsRequest::Pipeline(request), Purpose::Pipeline(correlation), out);
    }

    fn submit_write(&mut self, now: Millis, write: PipelineWriteId, op: SharedOperation, out: &mut Output<M, F>) {
        self.submit(now, write, op, out);
    }
}

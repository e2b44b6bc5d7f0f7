//! The data node: holds chunk replicas (the 2PC participant), coordinates the transactions of the
//! operations clients send it, resolves its in-doubt transactions with the controller after a
//! crash, and recovers stale replicas from peers (online recovery).
//!
//! Durability rule, as in Raft: a reply that vouches for durable state (prepared, decided) leaves
//! only once every disk write issued before it is synced.
//!
//! Its part in replication (`replication.rs`): on a master, a coordinator keeps the task data of
//! its writes on replicated databases and hands it to slaves; on a slave, it executes tasks.

mod replication;

pub use replication::ReplicationSettings;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::fact::DfsFact;
use super::message::{DfsMessage, DfsRequest};
use super::state::{ChunkId, Cid, Decision, DfsOutput, Participation, Tid};
use super::storage::{self, ChunkRecord, ChunkSnapshot};
use crate::core::io::{DiskCompletion, DiskOp, DiskView, IoToken, Millis, NodeId, Output, TimerKey};
use crate::core::rng::SplitMix64;
use crate::deployment::fact::Fact;
use crate::deployment::message::Message;
use crate::dfs::{ChunkData, ChunkDelta, ErrorCode, OpError, Operation};
use crate::raft::RecoveryError;

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
    /// Task data is written without an fsync even with synchronous persistence.
    pub task_data_without_fsync: bool,
}

/// Settings of a data node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataNodeConfig {
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
    /// Its part in replication.
    pub replication: ReplicationSettings,
    /// Planted bugs.
    pub bugs: DataNodeBugs,
}

#[derive(Debug, Clone)]
struct PreparedTx {
    tid: Tid,
    expected: Cid,
    delta: std::sync::Arc<ChunkDelta>,
    since: Millis,
}

#[derive(Debug, Clone, Default)]
struct Replica {
    data: ChunkData,
    version: Cid,
    prepared: Vec<PreparedTx>,
    records: usize,
}

#[derive(Debug, Clone)]
enum Phase {
    Begin,
    Backoff {
        until: Millis,
    },
    Prepare {
        tid: Tid,
        parts: Vec<Participation>,
        waiting: BTreeSet<(ChunkId, NodeId)>,
        deadline: Millis,
        resend_at: Millis,
    },
    Commit {
        tid: Tid,
        parts: Vec<Participation>,
    },
    Finish {
        tid: Tid,
        cid: Cid,
        parts: Vec<Participation>,
        waiting: BTreeSet<(ChunkId, NodeId)>,
        committed: Vec<(ChunkId, NodeId)>,
        deadline: Millis,
        resend_at: Millis,
    },
    Complete {
        tid: Tid,
        cid: Cid,
    },
    Abort {
        tid: Tid,
        parts: Vec<Participation>,
        error: OpError,
    },
}

#[derive(Debug, Clone)]
struct CoordOp {
    op_id: u64,
    client: NodeId,
    op: crate::dfs::SharedOperation,
    started: Millis,
    attempts: u32,
    phase: Phase,
    /// Slave: the replication task it executes (then `client` is this node and `op_id` the task).
    task: Option<crate::pipeline::dolphindb_async::TaskId>,
    /// Master: its data must be kept as replication task data before the commit decision.
    task_data: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Coord(u64),
    Resolve(ChunkId, Tid),
    RecoveryLock(ChunkId),
    Recovered(ChunkId),
    Unlock,
    /// A management call made on this node: `(call id, call)` are kept in `admin_calls`.
    Admin(u64),
    /// A task failure report.
    TaskReport,
}

#[derive(Debug, Clone)]
struct PendingRequest {
    request: DfsRequest,
    purpose: Purpose,
    sent_at: Millis,
    redirects: u32,
}

/// Something that may happen only once every disk write issued before it is durable.
#[derive(Debug, Clone)]
enum AfterSync {
    /// A reply that vouches for durable state.
    Send(NodeId, DfsMessage),
    /// A commit acknowledgement: the replica holds `cid` durably (reported to the checkers).
    Acknowledge { to: NodeId, tid: Tid, chunk: ChunkId, cid: Option<Cid> },
    /// A request to the controller that does (a recovery's report).
    Request(DfsRequest, Purpose),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecoveryPhase {
    /// First copy, without blocking writes.
    Copy,
    /// Waiting for the controller's lock.
    Locking,
    /// Lock refused: ask again at this time.
    LockAgainAt(Millis),
    /// Second copy, writes blocked.
    Sync { locked_version: Cid },
    /// Reporting the result.
    Reporting,
}

#[derive(Debug, Clone)]
struct RecoveryTask {
    source: NodeId,
    phase: RecoveryPhase,
    deadline: Millis,
}

/// A data node.
#[derive(Debug)]
pub struct DataNode {
    id: NodeId,
    config: DataNodeConfig,
    replicas: BTreeMap<ChunkId, Replica>,
    ops: BTreeMap<u64, CoordOp>,
    next_op: u64,
    /// Operations answered within the last minute, `(client, op_id)`: a copy of a request that the
    /// network duplicated or delayed must not run the operation a second time.
    answered: BTreeSet<(NodeId, u64)>,
    /// `answered` in the order of answering, with when: expiry pops from the front.
    answered_at: VecDeque<(Millis, (NodeId, u64))>,
    session: u64,
    next_req: u64,
    requests: BTreeMap<u64, PendingRequest>,
    leader: usize,
    recoveries: BTreeMap<ChunkId, RecoveryTask>,
    /// Replicas found corrupt at boot: their files stay (so that a crash cannot make the loss
    /// silent) until a recovery image replaces them or the chunk is forgotten.
    lost: BTreeSet<ChunkId>,
    /// Log records produced by this step, per chunk, written and synced when it ends.
    log_buffer: BTreeMap<ChunkId, Vec<u8>>,
    /// What this step produced that must wait for durability.
    held: Vec<AfterSync>,
    /// Synced requests in flight, each with what it releases.
    pending: VecDeque<(IoToken, Vec<AfterSync>)>,
    /// The local time of the input being handled.
    now: Millis,
    next_token: IoToken,
    startup_ops: Vec<DiskOp>,
    next_heartbeat: Millis,
    next_scrub: Millis,
    /// The chunk the next scrub reads (round robin over the replicas).
    scrub_cursor: ChunkId,
    rng: SplitMix64,
    repl: replication::ReplState,
}

fn send(out: &mut Output<Message, Fact>, to: NodeId, msg: DfsMessage) {
    out.send(to, Message::Dfs(msg));
}

impl DataNode {
    /// Rebuilds a data node from its disk. Corrupt replicas are discarded (and reported): their
    /// peers hold the data, and the controller will have them recovered.
    pub fn recover(id: NodeId, config: DataNodeConfig, disk: &dyn DiskView, entropy: u64) -> Result<(Self, Vec<DfsFact>), RecoveryError> {
        assert!(!config.controllers.is_empty());
        let found = storage::recover(disk).map_err(RecoveryError::Disk)?;
        let mut rng = SplitMix64::new(entropy);
        let mut node = DataNode {
            id,
            config,
            replicas: BTreeMap::new(),
            ops: BTreeMap::new(),
            next_op: 0,
            answered: BTreeSet::new(),
            answered_at: VecDeque::new(),
            session: rng.next_u64(),
            next_req: 1,
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
            scrub_cursor: 0,
            rng,
            repl: replication::ReplState::default(),
        };
        let mut facts = vec![DfsFact::DataNodeBooted];
        let mut torn = Vec::new();
        for (chunk, r) in found {
            match r {
                Ok(r) => {
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
                    node.replicas.insert(chunk, Replica { data: r.data, version: r.version, prepared, records: r.records });
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
        node.load_task_data(disk);
        Ok((node, facts))
    }

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

    /// Starts after boot: finishes recovery writes, arms the tick.
    pub fn start(&mut self, facts: Vec<DfsFact>, out: &mut Output<Message, Fact>) {
        for f in facts {
            out.fact(f);
        }
        self.report_task_data(out);
        let ops = std::mem::take(&mut self.startup_ops);
        for op in ops {
            let t = self.token();
            out.disk(t, op);
        }
        out.set_timer(TIMER_TICK, TICK_MS);
        self.finish(out);
    }

    fn token(&mut self) -> IoToken {
        self.next_token += 1;
        self.next_token
    }

    // ----- Inputs ------------------------------------------------------------------------------------

    /// Handles a message.
    pub fn on_message(&mut self, now: Millis, from: NodeId, msg: DfsMessage, out: &mut Output<Message, Fact>) {
        self.now = now;
        match msg {
            DfsMessage::Run { op_id, op } => self.run(now, from, op_id, op, out),
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
                    self.held.push(AfterSync::Acknowledge { to: from, tid, chunk, cid });
                }
            }
            DfsMessage::Decided { tid, chunk } => self.on_decided(now, from, tid, chunk, out),
            DfsMessage::Recover { chunk, source } => self.on_recover(now, chunk, source, out),
            DfsMessage::Fetch { chunk } => {
                let image =
                    self.replicas.get(&chunk).filter(|_| !self.recoveries.contains_key(&chunk)).map(|r| (r.version, r.data.clone()));
                send(out, from, DfsMessage::Image { chunk, image });
            }
            DfsMessage::Image { chunk, image } => self.on_image(now, from, chunk, image, out),
            DfsMessage::Forget { chunks } => {
                for chunk in chunks {
                    let idle = self.replicas.get(&chunk).is_none_or(|r| r.prepared.is_empty()) && !self.recoveries.contains_key(&chunk);
                    if idle && (self.replicas.contains_key(&chunk) || self.lost.contains(&chunk)) {
                        self.drop_replica(chunk, out);
                    }
                }
            }
            DfsMessage::Outcome { .. }
            | DfsMessage::Request { .. }
            | DfsMessage::Heartbeat { .. }
            | DfsMessage::CatalogQuery { .. }
            | DfsMessage::CatalogReply { .. } => {}
        }
        self.finish(out);
    }

    /// Handles a timer.
    pub fn on_timer(&mut self, now: Millis, key: TimerKey, out: &mut Output<Message, Fact>) {
        if key != TIMER_TICK {
            return;
        }
        self.now = now;
        out.set_timer(TIMER_TICK, TICK_MS);
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.config.heartbeat_ms;
            let replicas = self.replicas.iter().filter(|(c, _)| !self.recoveries.contains_key(c)).map(|(c, r)| (*c, r.version)).collect();
            let prepared = self.open_prepares();
            let lost = self.lost.iter().copied().collect();
            let task_data = self.task_data_held();
            let beat = DfsMessage::Heartbeat { replicas, prepared, lost, task_data };
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
        self.tick_in_doubt(now, out);
        self.tick_recoveries(now, out);
        self.tick_replication(now, out);
        self.finish(out);
    }

    /// Handles a disk completion.
    pub fn on_disk(&mut self, now: Millis, done: DiskCompletion, out: &mut Output<Message, Fact>) {
        self.now = now;
        if self.on_task_read(&done, out) {
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
                out.fact(DfsFact::ReplicaRepaired { chunk });
                self.compaction_ops(chunk);
            }
            self.finish(out);
            return;
        }
        if let Err(e) = done.result {
            out.halt(format!("data node disk request failed: {e:?}"));
            return;
        }
        if self.pending.front().is_some_and(|(t, _)| *t == done.token) {
            let (_, release) = self.pending.pop_front().expect("checked");
            for after in release {
                self.release(after, out);
            }
        }
        self.finish(out);
    }

    fn release(&mut self, after: AfterSync, out: &mut Output<Message, Fact>) {
        match after {
            AfterSync::Send(to, msg) => send(out, to, msg),
            AfterSync::Acknowledge { to, tid, chunk, cid } => {
                if let Some(cid) = cid {
                    out.fact(DfsFact::CommitAcknowledged { tid, chunk, cid });
                }
                send(out, to, DfsMessage::Decided { tid, chunk });
            }
            AfterSync::Request(request, purpose) => self.request(self.now, request, purpose, out),
        }
    }

    // ----- Coordinator --------------------------------------------------------------------------------

    fn run(&mut self, now: Millis, client: NodeId, op_id: u64, op: crate::dfs::SharedOperation, out: &mut Output<Message, Fact>) {
        if self.answered.contains(&(client, op_id)) || self.ops.values().any(|o| o.client == client && o.op_id == op_id) {
            return; // a copy of an operation under way or answered
        }
        let key = self.next_op;
        self.next_op += 1;
        self.ops.insert(key, CoordOp { op_id, client, op, started: now, attempts: 0, phase: Phase::Begin, task: None, task_data: false });
        self.begin(now, key, out);
    }

    fn begin(&mut self, now: Millis, key: u64, out: &mut Output<Message, Fact>) {
        let o = self.ops.get_mut(&key).expect("op");
        o.attempts += 1;
        o.phase = Phase::Begin;
        let (op, op_ref, task) = (o.op.clone(), (o.client, o.op_id), o.task);
        let seq = self.next_req;
        let below = self.requests.keys().next().copied().unwrap_or(seq).min(seq);
        self.request(now, DfsRequest::Begin { session: self.session, seq, below, op, op_ref, task }, Purpose::Coord(key), out);
    }

    fn request(&mut self, now: Millis, request: DfsRequest, purpose: Purpose, out: &mut Output<Message, Fact>) {
        let req = self.next_req;
        self.next_req += 1;
        let to = self.config.controllers[self.leader % self.config.controllers.len()];
        send(out, to, DfsMessage::Request { req, request: request.clone() });
        self.requests.insert(req, PendingRequest { request, purpose, sent_at: now, redirects: 0 });
    }

    fn retry_requests(&mut self, now: Millis, out: &mut Output<Message, Fact>) {
        let late: Vec<u64> =
            self.requests.iter().filter(|(_, p)| now >= p.sent_at + self.config.request_retry_ms).map(|(r, _)| *r).collect();
        if !late.is_empty() {
            self.leader += 1;
        }
        for req in late {
            let to = self.config.controllers[self.leader % self.config.controllers.len()];
            let p = self.requests.get_mut(&req).expect("listed");
            p.sent_at = now;
            p.redirects = 0;
            send(out, to, DfsMessage::Request { req, request: p.request.clone() });
        }
    }

    fn on_response(&mut self, now: Millis, req: u64, result: Result<DfsOutput, Option<NodeId>>, out: &mut Output<Message, Fact>) {
        let Some(p) = self.requests.get_mut(&req) else { return };
        let output = match result {
            Ok(output) => output,
            Err(hint) => {
                // Not the leader: follow the hint at once (a few times), else wait for the retry.
                if let Some(i) = hint.and_then(|h| self.config.controllers.iter().position(|c| *c == h))
                    && p.redirects < 3
                {
                    self.leader = i;
                    p.redirects += 1;
                    p.sent_at = now;
                    send(out, hint.expect("checked"), DfsMessage::Request { req, request: p.request.clone() });
                }
                return;
            }
        };
        let p = self.requests.remove(&req).expect("present");
        match p.purpose {
            Purpose::Coord(key) => self.on_coord_output(now, key, output, out),
            Purpose::Resolve(chunk, tid) => {
                if let DfsOutput::Decided(t, decision) = output
                    && t == tid
                {
                    self.apply_decision(tid, chunk, decision, out);
                }
            }
            Purpose::RecoveryLock(chunk) => self.on_recovery_lock(now, chunk, output, out),
            Purpose::Recovered(chunk) => {
                self.recoveries.remove(&chunk);
            }
            Purpose::Unlock | Purpose::TaskReport => {}
            Purpose::Admin(call_id) => self.on_admin_answer(call_id, output, out),
        }
    }

    fn on_coord_output(&mut self, now: Millis, key: u64, output: DfsOutput, out: &mut Output<Message, Fact>) {
        let Some(o) = self.ops.get(&key) else { return };
        match (&o.phase, output) {
            (Phase::Begin, DfsOutput::Begun(begun)) => {
                let parts = begun.participations;
                self.ops.get_mut(&key).expect("op").task_data = begun.task_data;
                if parts.is_empty() {
                    self.ops.get_mut(&key).expect("op").phase = Phase::Commit { tid: begun.tid, parts };
                    self.request_commit(now, key, begun.tid, out);
                    return;
                }
                let waiting = parts.iter().flat_map(|p| p.replicas.iter().map(move |n| (p.chunk, *n))).collect();
                send_prepares(&parts, begun.tid, None, out);
                let deadline = now + self.config.prepare_timeout_ms;
                self.ops.get_mut(&key).expect("op").phase =
                    Phase::Prepare { tid: begun.tid, parts, waiting, deadline, resend_at: now + self.config.request_retry_ms };
            }
            (Phase::Begin, DfsOutput::Refused(e)) => {
                let retry = e.code == ErrorCode::Conflict && matches!(*o.op, Operation::AppendChunkGranularity { .. }) && o.attempts < 50;
                if retry {
                    let until = now + 10 + self.rng.range(0, 40);
                    self.ops.get_mut(&key).expect("op").phase = Phase::Backoff { until };
                } else {
                    self.reply(key, Err(e), out);
                }
            }
            (Phase::Begin, DfsOutput::Decided(tid, decision)) => {
                // The BEGIN was answered before and the transaction ended without us.
                let result = match decision {
                    Decision::Commit(cid) => Ok((tid, cid)),
                    Decision::Rollback => Err(OpError::new(ErrorCode::Aborted, "rolled back")),
                };
                self.reply(key, result, out);
            }
            (Phase::Commit { tid, parts } | Phase::Abort { tid, parts, .. }, DfsOutput::Decided(t, decision)) if *tid == t => {
                let (tid, parts) = (*tid, parts.clone());
                match decision {
                    Decision::Commit(cid) => {
                        if self.config.bugs.report_failure_after_commit {
                            let o = self.ops.get(&key).expect("op");
                            send(
                                out,
                                o.client,
                                DfsMessage::Outcome { op_id: o.op_id, result: Err(OpError::new(ErrorCode::Aborted, "timed out")) },
                            );
                        }
                        if parts.is_empty() {
                            self.ops.get_mut(&key).expect("op").phase = Phase::Complete { tid, cid };
                            self.request(now, DfsRequest::Complete { tid, committed: Vec::new() }, Purpose::Coord(key), out);
                            return;
                        }
                        let waiting = parts.iter().flat_map(|p| p.replicas.iter().map(move |n| (p.chunk, *n))).collect();
                        send_decisions(&parts, tid, Decision::Commit(cid), None, out);
                        let deadline = now + self.config.commit_timeout_ms;
                        self.ops.get_mut(&key).expect("op").phase = Phase::Finish {
                            tid,
                            cid,
                            parts,
                            waiting,
                            committed: Vec::new(),
                            deadline,
                            resend_at: now + self.config.request_retry_ms,
                        };
                    }
                    Decision::Rollback => {
                        send_decisions(&parts, tid, Decision::Rollback, None, out);
                        let error = match &self.ops[&key].phase {
                            Phase::Abort { error, .. } => error.clone(),
                            _ => OpError::new(ErrorCode::Aborted, "rolled back by the controller"),
                        };
                        self.reply(key, Err(error), out);
                    }
                }
            }
            (Phase::Complete { tid, cid }, DfsOutput::Completed(t)) if *tid == t => {
                let result = Ok((*tid, *cid));
                self.reply(key, result, out);
            }
            _ => {}
        }
    }

    fn on_prepared(
        &mut self,
        now: Millis,
        from: NodeId,
        tid: Tid,
        chunk: ChunkId,
        refusal: Option<String>,
        out: &mut Output<Message, Fact>,
    ) {
        let Some((&key, o)) = self.ops.iter_mut().find(|(_, o)| matches!(&o.phase, Phase::Prepare { tid: t, .. } if *t == tid)) else {
            return;
        };
        let Phase::Prepare { waiting, parts, .. } = &mut o.phase else { unreachable!() };
        if let Some(reason) = refusal {
            let parts = parts.clone();
            let error = OpError::new(ErrorCode::Aborted, format!("participant {from} refused chunk {chunk}: {reason}"));
            o.phase = Phase::Abort { tid, parts, error };
            self.request(now, DfsRequest::Rollback { tid }, Purpose::Coord(key), out);
            return;
        }
        waiting.remove(&(chunk, from));
        if waiting.is_empty() {
            let parts = parts.clone();
            if self.config.bugs.ack_before_commit_decision {
                send(out, o.client, DfsMessage::Outcome { op_id: o.op_id, result: Ok((tid, tid)) });
            }
            o.phase = Phase::Commit { tid, parts };
            self.request_commit(now, key, tid, out);
        }
    }

    fn on_decided(&mut self, now: Millis, from: NodeId, tid: Tid, chunk: ChunkId, out: &mut Output<Message, Fact>) {
        let Some((&key, o)) = self.ops.iter_mut().find(|(_, o)| matches!(&o.phase, Phase::Finish { tid: t, .. } if *t == tid)) else {
            return;
        };
        let Phase::Finish { cid, waiting, committed, .. } = &mut o.phase else { unreachable!() };
        if waiting.remove(&(chunk, from)) {
            committed.push((chunk, from));
        }
        if waiting.is_empty() {
            let (cid, committed) = (*cid, std::mem::take(committed));
            o.phase = Phase::Complete { tid, cid };
            self.request(now, DfsRequest::Complete { tid, committed }, Purpose::Coord(key), out);
        }
    }

    fn tick_coordinator(&mut self, now: Millis, out: &mut Output<Message, Fact>) {
        let keys: Vec<u64> = self.ops.keys().copied().collect();
        for key in keys {
            let retry_ms = self.config.request_retry_ms;
            let Some(o) = self.ops.get_mut(&key) else { continue };
            match &mut o.phase {
                Phase::Backoff { until } if now >= *until => self.begin(now, key, out),
                Phase::Begin if now >= o.started + self.config.begin_timeout_ms => {
                    // No commit was ever asked for: if the BEGIN took effect, it will be rolled back.
                    self.reply(key, Err(OpError::new(ErrorCode::Unavailable, "no controller answered")), out);
                }
                Phase::Prepare { tid, parts, waiting, deadline, resend_at } => {
                    if now >= *deadline {
                        let (tid, parts) = (*tid, parts.clone());
                        let error = OpError::new(ErrorCode::Aborted, format!("phase one timed out waiting for {waiting:?}"));
                        o.phase = Phase::Abort { tid, parts, error };
                        self.request(now, DfsRequest::Rollback { tid }, Purpose::Coord(key), out);
                    } else if now >= *resend_at {
                        *resend_at = now + retry_ms;
                        send_prepares(parts, *tid, Some(waiting), out);
                    }
                }
                Phase::Finish { tid, cid, parts, waiting, committed, deadline, resend_at } => {
                    if now >= *deadline {
                        // Stragglers become stale replicas, recovered later.
                        let (tid, cid, committed) = (*tid, *cid, std::mem::take(committed));
                        o.phase = Phase::Complete { tid, cid };
                        self.request(now, DfsRequest::Complete { tid, committed }, Purpose::Coord(key), out);
                    } else if now >= *resend_at {
                        *resend_at = now + retry_ms;
                        send_decisions(parts, *tid, Decision::Commit(*cid), Some(waiting), out);
                    }
                }
                _ => {}
            }
        }
    }

    fn reply(&mut self, key: u64, result: Result<(Tid, Cid), OpError>, out: &mut Output<Message, Fact>) {
        let o = self.ops.remove(&key).expect("op");
        if let Some(task) = o.task {
            self.task_ended(task, result, out);
            return;
        }
        // Copies arrive within the network's worst delay; a minute is far beyond it.
        let now = self.now;
        while let Some(&(at, op)) = self.answered_at.front()
            && now >= at + 60_000
        {
            self.answered_at.pop_front();
            self.answered.remove(&op);
        }
        if self.answered.insert((o.client, o.op_id)) {
            self.answered_at.push_back((now, (o.client, o.op_id)));
        }
        send(out, o.client, DfsMessage::Outcome { op_id: o.op_id, result });
    }

    // ----- Participant --------------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn on_prepare(
        &mut self,
        now: Millis,
        from: NodeId,
        tid: Tid,
        chunk: ChunkId,
        expected: Cid,
        delta: std::sync::Arc<ChunkDelta>,
        out: &mut Output<Message, Fact>,
    ) {
        let refuse =
            |out: &mut Output<Message, Fact>, reason: String| send(out, from, DfsMessage::Prepared { tid, chunk, ok: false, reason });
        if self.recoveries.contains_key(&chunk) || self.lost.contains(&chunk) {
            return refuse(out, "replica under recovery or lost".into());
        }
        let replica = self.replicas.entry(chunk).or_default();
        if replica.prepared.iter().any(|p| p.tid == tid) {
            self.held.push(AfterSync::Send(from, DfsMessage::Prepared { tid, chunk, ok: true, reason: String::new() }));
            return;
        }
        if let Some(p) = replica.prepared.first() {
            return refuse(out, format!("partition held by open transaction {}", p.tid));
        }
        if replica.version != expected {
            return refuse(out, format!("replica at version {}, transaction expects {expected}", replica.version));
        }
        let record = ChunkRecord::Prepare { tid, expected_version: expected, delta: delta.clone() };
        storage::encode_record(replica.records as u64, &record, self.log_buffer.entry(chunk).or_default());
        replica.records += 1;
        replica.prepared.push(PreparedTx { tid, expected, delta, since: now });
        out.fact(DfsFact::Prepared { tid, chunk });
        self.held.push(AfterSync::Send(from, DfsMessage::Prepared { tid, chunk, ok: true, reason: String::new() }));
    }

    /// Applies a decision to a replica; returns whether the replica has it now (so it may say so).
    fn apply_decision(&mut self, tid: Tid, chunk: ChunkId, decision: Decision, out: &mut Output<Message, Fact>) -> bool {
        let Some(replica) = self.replicas.get_mut(&chunk) else {
            // A dropped chunk whose decision is repeated, or one never prepared here.
            return false;
        };
        let Some(i) = replica.prepared.iter().position(|p| p.tid == tid) else {
            // Already decided here (a repeated decision), or never prepared here.
            return matches!(decision, Decision::Commit(cid) if replica.version >= cid) || decision == Decision::Rollback;
        };
        match decision {
            Decision::Commit(cid) => {
                let p = if self.config.bugs.commit_not_idempotent { replica.prepared[i].clone() } else { replica.prepared.remove(i) };
                storage::encode_record(
                    replica.records as u64,
                    &ChunkRecord::Commit { tid, cid },
                    self.log_buffer.entry(chunk).or_default(),
                );
                replica.records += 1;
                if *p.delta == ChunkDelta::Drop {
                    self.drop_replica(chunk, out);
                    return true;
                }
                match &*p.delta {
                    ChunkDelta::Update { column, value, .. } if self.config.bugs.update_ignores_filter => {
                        replica.data.apply(&ChunkDelta::Update { column: *column, value: value.clone(), condition: None })
                    }
                    delta => replica.data.apply(delta),
                }
                replica.version = cid;
                out.fact(DfsFact::ReplicaCommitted { tid, chunk, cid, digest: replica.data.digest() });
            }
            Decision::Rollback => {
                replica.prepared.remove(i);
                storage::encode_record(replica.records as u64, &ChunkRecord::Rollback { tid }, self.log_buffer.entry(chunk).or_default());
                replica.records += 1;
                out.fact(DfsFact::ReplicaRolledBack { tid, chunk });
            }
        }
        true
    }

    fn drop_replica(&mut self, chunk: ChunkId, out: &mut Output<Message, Fact>) {
        self.replicas.remove(&chunk);
        self.lost.remove(&chunk);
        self.log_buffer.remove(&chunk);
        for path in [storage::log_path(chunk), storage::snapshot_path(chunk)] {
            let t = self.token();
            out.disk(t, DiskOp::Remove { path });
        }
        out.fact(DfsFact::ReplicaDropped { chunk });
    }

    fn tick_in_doubt(&mut self, now: Millis, out: &mut Output<Message, Fact>) {
        let asked: BTreeSet<Tid> = self
            .requests
            .values()
            .filter_map(|p| match p.purpose {
                Purpose::Resolve(_, tid) => Some(tid),
                _ => None,
            })
            .collect();
        let mut doubts = Vec::new();
        for (&chunk, r) in &self.replicas {
            for p in &r.prepared {
                if now >= p.since + self.config.in_doubt_ms && !asked.contains(&p.tid) {
                    doubts.push((chunk, p.tid, p.expected));
                }
            }
        }
        for (chunk, tid, expected) in doubts {
            if self.config.bugs.commit_without_decision {
                // Presumed commit: the bug this knob plants.
                self.apply_decision(tid, chunk, Decision::Commit(expected + 1), out);
            } else {
                self.request(now, DfsRequest::Resolve { tid }, Purpose::Resolve(chunk, tid), out);
            }
        }
    }

    /// Reads the files of the next replica in turn, to check them.
    fn scrub(&mut self, out: &mut Output<Message, Fact>) {
        let next = self.replicas.range(self.scrub_cursor + 1..).next().or_else(|| self.replicas.iter().next()).map(|(c, _)| *c);
        let Some(chunk) = next else { return };
        self.scrub_cursor = chunk;
        for path in [storage::log_path(chunk), storage::snapshot_path(chunk)] {
            out.disk(SCRUB_TAG | chunk, DiskOp::Read { path });
        }
    }

    // ----- Online recovery ----------------------------------------------------------------------------

    fn on_recover(&mut self, now: Millis, chunk: ChunkId, source: NodeId, out: &mut Output<Message, Fact>) {
        if self.config.bugs.ignore_recover_orders
            || self.recoveries.contains_key(&chunk)
            || self.replicas.get(&chunk).is_some_and(|r| !r.prepared.is_empty())
            || source == self.id
        {
            return;
        }
        self.recoveries.insert(chunk, RecoveryTask { source, phase: RecoveryPhase::Copy, deadline: now + 5000 });
        send(out, source, DfsMessage::Fetch { chunk });
    }

    fn on_image(&mut self, now: Millis, from: NodeId, chunk: ChunkId, image: Option<(Cid, ChunkData)>, out: &mut Output<Message, Fact>) {
        let Some(task) = self.recoveries.get(&chunk) else { return };
        if task.source != from {
            return;
        }
        let Some((version, data)) = image else {
            self.abandon_recovery(now, chunk, out);
            return;
        };
        if self.replicas.get(&chunk).is_some_and(|r| !r.prepared.is_empty()) {
            self.abandon_recovery(now, chunk, out);
            return;
        }
        match task.phase {
            RecoveryPhase::Copy => {
                self.install(chunk, version, data, out);
                self.recoveries.get_mut(&chunk).expect("task").phase = RecoveryPhase::Locking;
                self.request(now, DfsRequest::RecoveryLock { chunk }, Purpose::RecoveryLock(chunk), out);
            }
            RecoveryPhase::Sync { .. } => {
                self.install(chunk, version, data, out);
                self.recoveries.get_mut(&chunk).expect("task").phase = RecoveryPhase::Reporting;
                // The report vouches for the installed copy: it leaves once that is durable.
                self.held.push(AfterSync::Request(DfsRequest::Recovered { chunk, version }, Purpose::Recovered(chunk)));
            }
            _ => {}
        }
    }

    fn on_recovery_lock(&mut self, now: Millis, chunk: ChunkId, output: DfsOutput, out: &mut Output<Message, Fact>) {
        let Some(task) = self.recoveries.get_mut(&chunk) else { return };
        match output {
            DfsOutput::RecoveryLock(Some(locked_version)) => {
                task.phase = RecoveryPhase::Sync { locked_version };
                let source = task.source;
                send(out, source, DfsMessage::Fetch { chunk });
            }
            _ => task.phase = RecoveryPhase::LockAgainAt(now + 200),
        }
    }

    fn tick_recoveries(&mut self, now: Millis, out: &mut Output<Message, Fact>) {
        let chunks: Vec<ChunkId> = self.recoveries.keys().copied().collect();
        for chunk in chunks {
            let task = &self.recoveries[&chunk];
            if now >= task.deadline {
                self.abandon_recovery(now, chunk, out);
            } else if let RecoveryPhase::LockAgainAt(at) = task.phase
                && now >= at
            {
                self.recoveries.get_mut(&chunk).expect("task").phase = RecoveryPhase::Locking;
                self.request(now, DfsRequest::RecoveryLock { chunk }, Purpose::RecoveryLock(chunk), out);
            }
        }
    }

    fn abandon_recovery(&mut self, now: Millis, chunk: ChunkId, out: &mut Output<Message, Fact>) {
        if let Some(task) = self.recoveries.remove(&chunk)
            && matches!(task.phase, RecoveryPhase::Sync { .. } | RecoveryPhase::Reporting | RecoveryPhase::Locking)
        {
            self.request(now, DfsRequest::RecoveryUnlock { chunk }, Purpose::Unlock, out);
        }
    }

    /// Replaces a replica with a peer's image, durably (snapshot, then an empty log).
    fn install(&mut self, chunk: ChunkId, version: Cid, data: ChunkData, out: &mut Output<Message, Fact>) {
        out.fact(DfsFact::ReplicaInstalled { chunk, version, digest: data.digest() });
        self.log_buffer.remove(&chunk);
        self.lost.remove(&chunk);
        self.replicas.insert(chunk, Replica { data, version, prepared: Vec::new(), records: 0 });
        self.compaction_ops(chunk);
        self.flush_startup(out);
    }

    // ----- Durability ---------------------------------------------------------------------------------

    /// Queues the requests that replace a chunk's files by a snapshot of its current state and a
    /// log holding only its open prepares.
    fn compaction_ops(&mut self, chunk: ChunkId) {
        let r = self.replicas.get_mut(&chunk).expect("replica");
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

    fn flush_startup(&mut self, out: &mut Output<Message, Fact>) {
        let ops = std::mem::take(&mut self.startup_ops);
        if let Some(t) = out.disk_chain(ops, || self.token()) {
            self.pending.push_back((t, Vec::new()));
        }
    }

    /// Ends every input: writes and syncs this step's log records, compacts long logs, and lets held
    /// replies go once everything before them is durable.
    fn finish(&mut self, out: &mut Output<Message, Fact>) {
        // Only a chunk whose log grew in this step can have crossed the compaction threshold (a log
        // loaded long at boot is compacted at its next append).
        let appended: Vec<ChunkId> = self.log_buffer.keys().copied().collect();
        for (chunk, bytes) in std::mem::take(&mut self.log_buffer) {
            let path = storage::log_path(chunk);
            if self.config.bugs.skip_fsync {
                let t = self.token();
                out.disk(t, DiskOp::Append { path, data: bytes });
            } else {
                let ops = vec![DiskOp::Append { path: path.clone(), data: bytes }, DiskOp::Fsync { path }];
                let t = out.disk_chain(ops, || self.token()).expect("two requests");
                self.pending.push_back((t, Vec::new()));
            }
        }
        for chunk in appended {
            if self.replicas.get(&chunk).is_some_and(|r| r.records >= self.config.compaction_records) {
                self.compaction_ops(chunk);
            }
        }
        self.flush_startup(out);
        let held = std::mem::take(&mut self.held);
        match self.pending.back_mut() {
            Some((_, release)) if !self.config.bugs.skip_fsync => release.extend(held),
            _ => held.into_iter().for_each(|after| self.release(after, out)),
        }
    }
}

fn send_prepares(parts: &[Participation], tid: Tid, only: Option<&BTreeSet<(ChunkId, NodeId)>>, out: &mut Output<Message, Fact>) {
    for p in parts {
        for &n in &p.replicas {
            if only.is_none_or(|w| w.contains(&(p.chunk, n))) {
                send(out, n, DfsMessage::Prepare { tid, chunk: p.chunk, expected_version: p.expected_version, delta: p.delta.clone() });
            }
        }
    }
}

fn send_decisions(
    parts: &[Participation],
    tid: Tid,
    decision: Decision,
    only: Option<&BTreeSet<(ChunkId, NodeId)>>,
    out: &mut Output<Message, Fact>,
) {
    for p in parts {
        for &n in &p.replicas {
            if only.is_none_or(|w| w.contains(&(p.chunk, n))) {
                send(out, n, DfsMessage::Decide { tid, chunk: p.chunk, decision });
            }
        }
    }
}

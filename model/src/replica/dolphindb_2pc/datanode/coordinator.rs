//! The coordinator: a data node runs each operation a client sends it (or a pipeline submits) as a
//! transaction: BEGIN at the controller leader, phase one (`Prepare` to every replica of every
//! chunk written), the commit decision at the controller (its Raft log decides), phase two
//! (`Decide`), and COMPLETE; then the client hears the outcome.

use std::collections::BTreeSet;

use super::work::{CoordOp, Phase};
use super::{AfterSync, DataNode, Purpose, send};
use crate::core::io::{Millis, NodeId, Output};
use crate::dfs::{ErrorCode, OpError, Operation, SharedOperation};
use crate::replica::PipelineWriteId;
use crate::replica::dolphindb_2pc::guest::{Carry, CommitGate, Guest2pc, Report};
use crate::replica::dolphindb_2pc::message::{DfsMessage, DfsRequest};
use crate::replica::dolphindb_2pc::state::{ChunkId, Cid, Decision, DfsOutput, Participation, Tid};

impl<P: Guest2pc, M: Carry<P>, F: Report<P>> DataNode<P, M, F> {
    pub(super) fn run(&mut self, now: Millis, client: NodeId, op_id: u64, op: crate::dfs::SharedOperation, out: &mut Output<M, F>) {
        if self.answered.contains(&(client, op_id)) || self.ops.values().any(|o| o.client == client && o.op_id == op_id) {
            return; // a copy of an operation under way or answered
        }
        let key = self.next_op;
        self.next_op += 1;
        assert!(!self.ops.contains_key(&key), "operation key {key} reused");
        self.ops
            .insert(key, CoordOp { op_id, client, op, started: now, attempts: 0, phase: Phase::Begin, applies: None, keeps_data: false });
        self.begin(now, key, out);
    }

    pub(super) fn begin(&mut self, now: Millis, key: u64, out: &mut Output<M, F>) {
        let o = self.ops.get_mut(&key).expect("op");
        // A BEGIN is sent first, or again after a conflict's backoff: never for a transaction under way.
        assert!(matches!(o.phase, Phase::Begin | Phase::Backoff { .. }), "BEGIN again in {:?}", o.phase);
        o.attempts += 1;
        o.phase = Phase::Begin;
        let (op, op_ref, applies) = (o.op.clone(), (o.client, o.op_id), o.applies);
        let seq = self.next_req;
        let below = self.requests.keys().next().copied().unwrap_or(seq).min(seq);
        self.request(now, DfsRequest::Begin { session: self.session, seq, below, op, op_ref, applies }, Purpose::Coord(key), out);
    }

    pub(super) fn on_coord_output(&mut self, now: Millis, key: u64, output: DfsOutput<P>, out: &mut Output<M, F>) {
        let Some(o) = self.ops.get(&key) else { return };
        match (&o.phase, output) {
            (Phase::Begin, DfsOutput::Begun(begun)) => {
                let parts = begun.participations;
                self.ops.get_mut(&key).expect("op").keeps_data = begun.task_data;
                if parts.is_empty() {
                    self.ops.get_mut(&key).expect("op").phase = Phase::Commit { tid: begun.tid, parts };
                    self.request_commit(now, key, begun.tid, out);
                    return;
                }
                let waiting: BTreeSet<(ChunkId, NodeId)> =
                    parts.iter().flat_map(|p| p.replicas.iter().map(move |n| (p.chunk, *n))).collect();
                // The controller gives every chunk written at least one complete replica.
                assert!(parts.iter().all(|p| !p.replicas.is_empty()), "a chunk of {} with no replica to prepare", begun.tid);
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
                        let waiting: BTreeSet<(ChunkId, NodeId)> =
                            parts.iter().flat_map(|p| p.replicas.iter().map(move |n| (p.chunk, *n))).collect();
                        assert!(!waiting.is_empty() && cid > 0, "phase two of {tid} with nobody to tell");
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
                        if matches!(self.ops[&key].phase, Phase::Commit { .. }) {
                            crate::mark!("dfs.commit_request_answered_rollback");
                        }
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

    pub(super) fn on_prepared(
        &mut self,
        now: Millis,
        from: NodeId,
        tid: Tid,
        chunk: ChunkId,
        refusal: Option<String>,
        out: &mut Output<M, F>,
    ) {
        let first_vote_enough = self.config.bugs.commit_after_first_prepared;
        let Some((&key, o)) = self.ops.iter_mut().find(|(_, o)| matches!(&o.phase, Phase::Prepare { tid: t, .. } if *t == tid)) else {
            return;
        };
        let Phase::Prepare { waiting, parts, .. } = &mut o.phase else { unreachable!() };
        assert!(!waiting.is_empty(), "{tid} still in phase one with every replica prepared");
        if let Some(reason) = refusal {
            crate::mark!("dfs.participant_voted_no");
            let parts = parts.clone();
            let error = OpError::new(ErrorCode::Aborted, format!("participant {from} refused chunk {chunk}: {reason}"));
            o.phase = Phase::Abort { tid, parts, error };
            self.request(now, DfsRequest::Rollback { tid }, Purpose::Coord(key), out);
            return;
        }
        waiting.remove(&(chunk, from));
        if waiting.is_empty() || first_vote_enough {
            let parts = parts.clone();
            // Phase one is over only when every replica of every chunk written said yes.
            assert!(parts.iter().all(|p| !p.replicas.is_empty()));
            if self.config.bugs.ack_before_commit_decision {
                send(out, o.client, DfsMessage::Outcome { op_id: o.op_id, result: Ok((tid, tid)) });
            }
            o.phase = Phase::Commit { tid, parts };
            self.request_commit(now, key, tid, out);
        }
    }

    pub(super) fn on_decided(&mut self, now: Millis, from: NodeId, tid: Tid, chunk: ChunkId, out: &mut Output<M, F>) {
        let Some((&key, o)) = self.ops.iter_mut().find(|(_, o)| matches!(&o.phase, Phase::Finish { tid: t, .. } if *t == tid)) else {
            return;
        };
        let Phase::Finish { cid, waiting, committed, parts, .. } = &mut o.phase else { unreachable!() };
        if waiting.remove(&(chunk, from)) {
            committed.push((chunk, from));
        }
        // Each replica that acknowledged counts once, and only a participant's acknowledgement counts.
        assert!(
            committed.iter().all(|(c, n)| !waiting.contains(&(*c, *n)) && parts.iter().any(|p| p.chunk == *c && p.replicas.contains(n))),
            "{tid}: acknowledgements {committed:?} out of step with {waiting:?}"
        );
        if waiting.is_empty() {
            let (cid, committed) = (*cid, std::mem::take(committed));
            o.phase = Phase::Complete { tid, cid };
            self.request(now, DfsRequest::Complete { tid, committed }, Purpose::Coord(key), out);
        }
    }

    pub(super) fn tick_coordinator(&mut self, now: Millis, out: &mut Output<M, F>) {
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
                        crate::mark!("dfs.prepare_timed_out_rolled_back");
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
                        crate::mark!("dfs.commit_stragglers_left_stale");
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
        // No phase is left past its deadline: phase one ends in a rollback, phase two in COMPLETE.
        assert!(
            self.ops.values().all(|o| match &o.phase {
                Phase::Prepare { deadline, .. } | Phase::Finish { deadline, .. } => now < *deadline,
                _ => true,
            }),
            "a coordinated operation left past its deadline"
        );
    }

    /// Asks for the commit decision of a coordinated operation. A captured write whose data the
    /// pipeline keeps lets the pipeline keep it first, and waits until it is durable if the
    /// pipeline says so (synchronous persistence).
    pub(super) fn request_commit(&mut self, now: Millis, key: u64, tid: Tid, out: &mut Output<M, F>) {
        let o = &self.ops[&key];
        // The commit decision is asked for only after phase one, for the transaction begun.
        assert!(matches!(&o.phase, Phase::Commit { tid: t, .. } if *t == tid), "commit of {tid} asked in {:?}", o.phase);
        if !o.keeps_data {
            self.request(now, DfsRequest::Commit { tid }, Purpose::Coord(key), out);
            return;
        }
        let op = o.op.clone();
        match P::node_before_commit(self, now, tid, &op, out) {
            CommitGate::AfterDurable => self.held.push(AfterSync::Request(DfsRequest::Commit { tid }, Purpose::Coord(key))),
            CommitGate::Now => self.request(now, DfsRequest::Commit { tid }, Purpose::Coord(key), out),
        }
    }

    /// Starts a transaction for pipeline write `write` (see `DataNode::submit_write`).
    pub(super) fn submit(&mut self, now: Millis, write: PipelineWriteId, op: SharedOperation, out: &mut Output<M, F>) {
        let key = self.next_op;
        self.next_op += 1;
        assert!(!self.ops.contains_key(&key), "operation key {key} reused");
        let coord = CoordOp {
            op_id: write,
            client: self.id,
            op,
            started: now,
            attempts: 0,
            phase: Phase::Begin,
            applies: Some(write),
            keeps_data: false,
        };
        self.ops.insert(key, coord);
        self.begin(now, key, out);
    }

    pub(super) fn reply(&mut self, key: u64, result: Result<(Tid, Cid), OpError>, out: &mut Output<M, F>) {
        let o = self.ops.remove(&key).expect("op");
        // A pipeline write is this node's own operation; a client's operation is answered once.
        assert!(o.applies.is_none_or(|w| o.client == self.id && o.op_id == w));
        assert!(o.applies.is_some() || !self.answered.contains(&(o.client, o.op_id)), "{:?} answered twice", (o.client, o.op_id));
        if let Some(write) = o.applies {
            P::node_write_ended(self, write, result, out);
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
}

fn send_prepares<P: Guest2pc, M: Carry<P>, F>(
    parts: &[Participation],
    tid: Tid,
    only: Option<&BTreeSet<(ChunkId, NodeId)>>,
    out: &mut Output<M, F>,
) {
    for p in parts {
        for &n in &p.replicas {
            if only.is_none_or(|w| w.contains(&(p.chunk, n))) {
                send(out, n, DfsMessage::Prepare { tid, chunk: p.chunk, expected_version: p.expected_version, delta: p.delta.clone() });
            }
        }
    }
}

fn send_decisions<P: Guest2pc, M: Carry<P>, F>(
    parts: &[Participation],
    tid: Tid,
    decision: Decision,
    only: Option<&BTreeSet<(ChunkId, NodeId)>>,
    out: &mut Output<M, F>,
) {
    for p in parts {
        for &n in &p.replicas {
            if only.is_none_or(|w| w.contains(&(p.chunk, n))) {
                send(out, n, DfsMessage::Decide { tid, chunk: p.chunk, decision });
            }
        }
    }
}

//! The participant: a replica of a chunk prepares a transaction's change durably, applies the
//! decision, resolves a prepare left in doubt with the controller, and reads its own files back to
//! find latent corruption (scrubbing).

use std::collections::BTreeSet;

use super::{AfterSync, DataNode, PreparedTx, Purpose, SCRUB_TAG, send};
use crate::core::io::{DiskOp, Millis, NodeId, Output};
use crate::dfs::ChunkDelta;
use crate::replica::dolphindb_2pc::fact::DfsFact;
use crate::replica::dolphindb_2pc::guest::{Carry, Guest2pc, Report};
use crate::replica::dolphindb_2pc::message::{DfsMessage, DfsRequest};
use crate::replica::dolphindb_2pc::state::{ChunkId, Cid, Decision, Tid};
use crate::replica::dolphindb_2pc::storage::{self, ChunkRecord};

impl<P: Guest2pc, M: Carry<P>, F: Report<P>> DataNode<P, M, F> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_prepare(
        &mut self,
        now: Millis,
        from: NodeId,
        tid: Tid,
        chunk: ChunkId,
        expected: Cid,
        delta: std::sync::Arc<ChunkDelta>,
        out: &mut Output<M, F>,
    ) {
        let refuse = |out: &mut Output<M, F>, reason: String| send(out, from, DfsMessage::Prepared { tid, chunk, ok: false, reason });
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
        if self.config.bugs.refuse_some_prepares && tid.is_multiple_of(5) {
            return refuse(out, "partition held by another transaction".into());
        }
        if replica.version != expected {
            crate::mark!("dfs.prepare_refused_version_mismatch");
            return refuse(out, format!("replica at version {}, transaction expects {expected}", replica.version));
        }
        assert!(replica.prepared.is_empty() && replica.version == expected);
        let record = ChunkRecord::Prepare { tid, expected_version: expected, delta: delta.clone() };
        storage::encode_record(replica.records as u64, &record, self.log_buffer.entry(chunk).or_default());
        replica.records += 1;
        replica.prepared.push(PreparedTx { tid, expected, delta, since: now });
        self.in_doubt_walk_at = self.in_doubt_walk_at.min(now + self.config.in_doubt_ms);
        // One open prepare per replica: the partition is this transaction's until its decision.
        assert_eq!(replica.prepared.len(), 1);
        out.fact_replica(DfsFact::Prepared { tid, chunk });
        let yes = DfsMessage::Prepared { tid, chunk, ok: true, reason: String::new() };
        if self.config.bugs.prepare_vote_before_fsync {
            // The bug: the vote leaves before the prepare record is durable.
            send(out, from, yes);
        } else {
            // The vote vouches for a durable prepare: it leaves once the record is synced.
            self.held.push(AfterSync::Send(from, yes));
        }
    }

    /// Applies a decision to a replica; returns whether the replica has it now (so it may say so).
    pub(super) fn apply_decision(&mut self, tid: Tid, chunk: ChunkId, decision: Decision, out: &mut Output<M, F>) -> bool {
        let Some(replica) = self.replicas.get_mut(&chunk) else {
            // A dropped chunk whose decision is repeated, or one never prepared here.
            return false;
        };
        let Some(i) = replica.prepared.iter().position(|p| p.tid == tid) else {
            crate::mark!("dfs.decision_without_open_prepare");
            // Already decided here (a repeated decision), or never prepared here.
            return matches!(decision, Decision::Commit(cid) if replica.version >= cid) || decision == Decision::Rollback;
        };
        let bugs = self.config.bugs.any();
        assert!(bugs || replica.prepared.len() == 1, "chunk {chunk} holds {} open prepares", replica.prepared.len());
        match decision {
            Decision::Commit(cid) => {
                // The version only grows: the prepare expected the version the replica still holds
                // (nothing commits past an open prepare), and the controller's cid is later.
                assert!(bugs || replica.prepared[i].expected == replica.version, "chunk {chunk} moved past prepare {tid}");
                assert!(bugs || cid > replica.version, "commit {cid} of {tid} at or below version {}", replica.version);
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
                if self.config.serves_queries {
                    replica.keep_current_version();
                }
                match &*p.delta {
                    ChunkDelta::Update { column, value, .. } if self.config.bugs.update_ignores_filter => {
                        replica.data.apply(&ChunkDelta::Update { column: *column, value: value.clone(), condition: None })
                    }
                    delta => replica.data.apply(delta),
                }
                replica.version = cid;
                assert!(bugs || replica.prepared.iter().all(|p| p.tid != tid), "{tid} still prepared after its commit");
                out.fact_replica(DfsFact::ReplicaCommitted { tid, chunk, cid, digest: replica.data.digest() });
            }
            Decision::Rollback => {
                replica.prepared.remove(i);
                assert!(bugs || replica.prepared.is_empty(), "chunk {chunk} still prepared after rolling back {tid}");
                storage::encode_record(replica.records as u64, &ChunkRecord::Rollback { tid }, self.log_buffer.entry(chunk).or_default());
                replica.records += 1;
                out.fact_replica(DfsFact::ReplicaRolledBack { tid, chunk });
            }
        }
        true
    }

    pub(super) fn drop_replica(&mut self, chunk: ChunkId, out: &mut Output<M, F>) {
        assert!(!self.recoveries.contains_key(&chunk), "chunk {chunk} dropped under recovery");
        self.replicas.remove(&chunk);
        self.lost.remove(&chunk);
        self.log_buffer.remove(&chunk);
        for path in [storage::log_path(chunk), storage::snapshot_path(chunk)] {
            let t = self.fresh_token();
            out.disk(t, DiskOp::Remove { path });
        }
        out.fact_replica(DfsFact::ReplicaDropped { chunk });
    }

    pub(super) fn tick_in_doubt(&mut self, now: Millis, out: &mut Output<M, F>) {
        if now < self.in_doubt_walk_at {
            return;
        }
        let asked: BTreeSet<Tid> = self
            .requests
            .values()
            .filter_map(|p| match p.purpose {
                Purpose::Resolve(_, tid) => Some(tid),
                _ => None,
            })
            .collect();
        let mut doubts = Vec::new();
        let mut next_walk = Millis::MAX;
        for (&chunk, r) in &self.replicas {
            for p in &r.prepared {
                let due = p.since + self.config.in_doubt_ms;
                if now >= due && !asked.contains(&p.tid) {
                    doubts.push((chunk, p.tid, p.expected));
                }
                next_walk = next_walk.min(due);
            }
        }
        self.in_doubt_walk_at = next_walk;
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
    pub(super) fn scrub(&mut self, out: &mut Output<M, F>) {
        let next = self.replicas.range(self.scrub_cursor + 1..).next().or_else(|| self.replicas.iter().next()).map(|(c, _)| *c);
        let Some(chunk) = next else { return };
        assert!(self.replicas.contains_key(&chunk));
        self.scrub_cursor = chunk;
        for path in [storage::log_path(chunk), storage::snapshot_path(chunk)] {
            out.disk(SCRUB_TAG | chunk, DiskOp::Read { path });
        }
    }
}

//! Online recovery of a stale replica: copy a complete peer's image without blocking writers, take
//! the controller's recovery lock (the short write-blocking sync phase), copy again, install the
//! image durably and report it; the controller marks the replica complete.

use super::work::{RecoveryPhase, RecoveryTask};
use super::{AfterSync, DataNode, Purpose, Replica, send};
use crate::core::io::{Millis, NodeId, Output};
use crate::dfs::ChunkData;
use crate::replica::dolphindb_2pc::fact::DfsFact;
use crate::replica::dolphindb_2pc::guest::{Carry, Guest2pc, Report};
use crate::replica::dolphindb_2pc::message::{DfsMessage, DfsRequest};
use crate::replica::dolphindb_2pc::state::{ChunkId, Cid, DfsOutput};

impl<P: Guest2pc, M: Carry<P>, F: Report<P>> DataNode<P, M, F> {
    pub(super) fn on_recover(&mut self, now: Millis, chunk: ChunkId, source: NodeId, out: &mut Output<M, F>) {
        if self.config.bugs.ignore_recover_orders
            || self.recoveries.contains_key(&chunk)
            || self.replicas.get(&chunk).is_some_and(|r| !r.prepared.is_empty())
            || source == self.id
        {
            return;
        }
        // Recovery and writes exclude each other on a replica: no prepare is open, and none is
        // accepted while the recovery runs.
        assert!(self.replicas.get(&chunk).is_none_or(|r| r.prepared.is_empty()));
        self.recoveries.insert(chunk, RecoveryTask { source, phase: RecoveryPhase::Copy, deadline: now + 5000 });
        send(out, source, DfsMessage::Fetch { chunk });
    }

    pub(super) fn on_image(&mut self, now: Millis, from: NodeId, chunk: ChunkId, image: Option<(Cid, ChunkData)>, out: &mut Output<M, F>) {
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
        assert!(task.source != self.id, "chunk {chunk} recovers from itself");
        match task.phase {
            RecoveryPhase::Copy => {
                self.install(chunk, version, data, out);
                self.recoveries.get_mut(&chunk).expect("task").phase = RecoveryPhase::Locking;
                self.request(now, DfsRequest::RecoveryLock { chunk }, Purpose::RecoveryLock(chunk), out);
            }
            RecoveryPhase::Sync { .. } => {
                crate::mark!("dfs.recovery_installed_image_under_lock");
                self.install(chunk, version, data, out);
                self.recoveries.get_mut(&chunk).expect("task").phase = RecoveryPhase::Reporting;
                // The report vouches for the installed copy: it leaves once that is durable.
                self.held.push(AfterSync::Request(DfsRequest::Recovered { chunk, version }, Purpose::Recovered(chunk)));
            }
            _ => {}
        }
    }

    pub(super) fn on_recovery_lock(&mut self, now: Millis, chunk: ChunkId, output: DfsOutput<P>, out: &mut Output<M, F>) {
        let Some(task) = self.recoveries.get_mut(&chunk) else { return };
        assert!(task.source != self.id);
        match output {
            DfsOutput::RecoveryLock(Some(locked_version)) => {
                task.phase = RecoveryPhase::Sync { locked_version };
                let source = task.source;
                send(out, source, DfsMessage::Fetch { chunk });
            }
            _ => task.phase = RecoveryPhase::LockAgainAt(now + 200),
        }
    }

    pub(super) fn tick_recoveries(&mut self, now: Millis, out: &mut Output<M, F>) {
        let chunks: Vec<ChunkId> = self.recoveries.keys().copied().collect();
        for chunk in chunks {
            let task = &self.recoveries[&chunk];
            if now >= task.deadline {
                crate::mark!("dfs.recovery_abandoned_at_deadline");
                self.abandon_recovery(now, chunk, out);
            } else if let RecoveryPhase::LockAgainAt(at) = task.phase
                && now >= at
            {
                self.recoveries.get_mut(&chunk).expect("task").phase = RecoveryPhase::Locking;
                self.request(now, DfsRequest::RecoveryLock { chunk }, Purpose::RecoveryLock(chunk), out);
            }
        }
    }

    pub(super) fn abandon_recovery(&mut self, now: Millis, chunk: ChunkId, out: &mut Output<M, F>) {
        if let Some(task) = self.recoveries.remove(&chunk)
            && matches!(task.phase, RecoveryPhase::Sync { .. } | RecoveryPhase::Reporting | RecoveryPhase::Locking)
        {
            self.request(now, DfsRequest::RecoveryUnlock { chunk }, Purpose::Unlock, out);
        }
        assert!(!self.recoveries.contains_key(&chunk));
    }

    /// Replaces a replica with a peer's image, durably (snapshot, then an empty log).
    pub(super) fn install(&mut self, chunk: ChunkId, version: Cid, data: ChunkData, out: &mut Output<M, F>) {
        out.fact_replica(DfsFact::ReplicaInstalled { chunk, version, digest: data.digest() });
        self.log_buffer.remove(&chunk);
        self.lost.remove(&chunk);
        let earlier = self
            .replicas
            .insert(chunk, Replica { data, version, prepared: Vec::new(), records: 0, older: std::collections::VecDeque::new() });
        // An image replaces only a replica with no open prepare (writes and recovery exclude each other).
        assert!(earlier.is_none_or(|r| r.prepared.is_empty()), "chunk {chunk} installed over an open prepare");
        self.compaction_ops(chunk);
        self.flush_startup(out);
        assert!(self.replicas[&chunk].records == 0 && !self.lost.contains(&chunk));
    }
}

//! The data node's work in progress: the operations it coordinates (each in its 2PC phase) and the
//! online recoveries it runs.

use std::collections::BTreeSet;

use crate::core::io::{Millis, NodeId};
use crate::dfs::{OpError, SharedOperation};
use crate::replica::PipelineWriteId;
use crate::replica::dolphindb_2pc::state::{ChunkId, Cid, Participation, Tid};

/// Where a coordinated operation stands.
#[derive(Debug, Clone)]
pub(super) enum Phase {
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

/// An operation this node coordinates.
#[derive(Debug, Clone)]
pub(super) struct CoordOp {
    pub(super) op_id: u64,
    pub(super) client: NodeId,
    pub(super) op: SharedOperation,
    pub(super) started: Millis,
    pub(super) attempts: u32,
    pub(super) phase: Phase,
    /// The pipeline write it applies (then `client` is this node and `op_id` the write).
    pub(super) applies: Option<PipelineWriteId>,
    /// Captured by the pipeline, which keeps its data before the commit decision.
    pub(super) keeps_data: bool,
}

/// Where an online recovery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RecoveryPhase {
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

/// An online recovery of one replica.
#[derive(Debug, Clone)]
pub(super) struct RecoveryTask {
    pub(super) source: NodeId,
    pub(super) phase: RecoveryPhase,
    pub(super) deadline: Millis,
}

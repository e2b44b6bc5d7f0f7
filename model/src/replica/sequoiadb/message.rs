//! What crosses the network in the SequoiaDB design (include/msgReplicator.hpp, clsDef.hpp,
//! msgCatalog.hpp), and the catalog's answer to a node or a client.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalog::CollectionEntry;
use super::fact::{CollectionId, SyncStatus};
use super::lsn::Lsn;
use super::node::log::LogRecord;
use super::types::{DbStatus, DocId, DocValue, GroupId, NodeRole, ReadId, ReplSize, SeqError, WriteId, WriteOp};
use crate::core::io::NodeId;
use crate::replica::MessageKind;

/// What a node or a client learns of the catalog, with the primaries the controller leader heard
/// of (volatile: nodes report theirs in their catalog requests, as MSG_CAT_PRIMARY_CHANGE does).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CatalogInfo {
    /// The catalog's version.
    pub version: u64,
    /// Groups: members and weights.
    pub groups: BTreeMap<GroupId, BTreeMap<NodeId, u8>>,
    /// Collections.
    pub collections: BTreeMap<CollectionId, CollectionEntry>,
    /// The primary of each group, with its version, as last reported.
    pub primaries: BTreeMap<GroupId, (NodeId, u32)>,
}

/// The sharing beat (`_clsGroupBeat`, clsDef.hpp): sent every 2 s to every other member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Beat {
    /// The sender's group.
    pub group: GroupId,
    /// The sender's log end.
    pub end: Lsn,
    /// The sender's role.
    pub role: NodeRole,
    /// The highest version the sender knows (the primary's own, for a primary).
    pub version: u32,
    /// The sender's DB status.
    pub status: DbStatus,
    /// Whether the sender started OK (not after a crash still to be repaired).
    pub startup_ok: bool,
    /// How the receiver's log (as last seen by the sender) stands in the sender's window
    /// (`clsSyncWindow`, computed per receiver).
    pub sync_status: SyncStatus,
}

/// A page of a full sync (clsFSDef.hpp NOTIFY_DOC / NOTIFY_LOG / END, as one pulled batch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FsBatch {
    /// Records the source forwarded since the last batch: their positions were already copied.
    pub forwarded: Vec<LogRecord>,
    /// Documents after the cursor, in key order.
    pub docs: Vec<(CollectionId, DocId, Option<DocValue>)>,
    /// `Some(end)`: the copy is complete and the target's log moves to `end`.
    pub done: Option<Lsn>,
}

/// SDB_CLS_SYNC_FAILED: the source cannot serve the records after the requester's end (rolled
/// over past it, or it does not hold that record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyncFailed;

/// CONSULT_FAILED: the source found no point to return to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConsultFailed;

/// A full-sync source that is not ready (`_isReady`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotReady;

/// A message of the SequoiaDB design.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SeqMessage {
    // --- catalog (node or client <-> controller)
    /// Asks the catalog; a primary reports itself (`primary_of`: its group and version).
    CatalogQuery { req: u64, primary_of: Option<(GroupId, u32)> },
    /// The catalog, from the controller leader.
    CatalogReply { req: u64, info: Box<CatalogInfo> },
    /// The controller asked does not lead.
    CatalogNotLeader { req: u64, hint: Option<NodeId> },
    /// The answer to a request that proposed a catalog command (nodes make none: kept for the
    /// seam's `answer`).
    CatalogApplied { req: u64, done: bool },

    // --- heartbeat and election (clsVoteMachine)
    /// The sharing beat.
    Beat(Beat),
    /// A candidate's ballot: round 1 (promise) or 2 (accept), with its LSN and weight; round 2
    /// carries the version it will take.
    Ballot { round: u8, id: u64, end: Lsn, weight: u8, version: u32 },
    /// A voter's answer, with the highest version it knows (a candidate that proposed a version
    /// the voter already promised learns to propose above it).
    BallotReply { round: u8, id: u64, accept: bool, version: u32 },

    // --- incremental sync (clsReplSession / clsSyncManager)
    /// A secondary asks its source for records after `next` (its log end), acking everything up to it.
    SyncReq { request: u64, next: Lsn, need_data: bool },
    /// The source's answer: records after `next`, or a failure.
    SyncRes { request: u64, result: Result<Vec<LogRecord>, SyncFailed> },
    /// The primary pokes a waiting secondary: there is more.
    SyncNotify,
    /// A non-primary source forwards a secondary's ack to the primary (MSG_CLS_SYNC_VIR_REQ).
    SyncVirReq { from: NodeId, next: Lsn },

    // --- consult
    /// A secondary asks where its log and the source's agree: its consult point and the digest of
    /// its record there.
    ConsultReq { request: u64, current: Lsn, digest: u64 },
    /// The return point and the digest of the source's record there (`Err`: CONSULT_FAILED).
    ConsultRes { request: u64, result: Result<(Lsn, u64), ConsultFailed> },

    // --- full sync
    /// A target asks a source to begin a full sync.
    FsBegin { session: u64 },
    /// The source's answer: its log end now, or not ready.
    FsBeginRes { session: u64, result: Result<Lsn, NotReady> },
    /// The target pulls batch `seq`.
    FsPull { session: u64, seq: u64 },
    /// Batch `seq`.
    FsBatch { session: u64, seq: u64, batch: Box<FsBatch> },

    // --- client <-> data node
    /// A client's write.
    WriteReq { write: WriteId, collection: CollectionId, id: DocId, op: WriteOp, repl_size: ReplSize },
    /// Its answer from `node`: the LSN and who confirmed, or an error (`NotPrimary` with the
    /// primary `node` knows of).
    WriteRes { write: WriteId, node: NodeId, result: Result<(Lsn, Vec<NodeId>), SeqError>, primary: Option<NodeId> },
    /// A client's read.
    ReadReq { read: ReadId, collection: CollectionId, id: DocId },
    /// Its answer from `node`.
    ReadRes { read: ReadId, node: NodeId, result: Result<Option<DocValue>, SeqError> },
}

impl MessageKind for SeqMessage {
    fn kind(&self) -> &'static str {
        match self {
            SeqMessage::CatalogQuery { .. } => "catalog_query",
            SeqMessage::CatalogReply { .. } => "catalog_reply",
            SeqMessage::CatalogNotLeader { .. } => "catalog_not_leader",
            SeqMessage::CatalogApplied { .. } => "catalog_applied",
            SeqMessage::Beat(_) => "beat",
            SeqMessage::Ballot { .. } => "ballot",
            SeqMessage::BallotReply { .. } => "ballot_reply",
            SeqMessage::SyncReq { .. } => "sync_req",
            SeqMessage::SyncRes { .. } => "sync_res",
            SeqMessage::SyncNotify => "sync_notify",
            SeqMessage::SyncVirReq { .. } => "sync_vir_req",
            SeqMessage::ConsultReq { .. } => "consult_req",
            SeqMessage::ConsultRes { .. } => "consult_res",
            SeqMessage::FsBegin { .. } => "fs_begin",
            SeqMessage::FsBeginRes { .. } => "fs_begin_res",
            SeqMessage::FsPull { .. } => "fs_pull",
            SeqMessage::FsBatch { .. } => "fs_batch",
            SeqMessage::WriteReq { .. } => "write_req",
            SeqMessage::WriteRes { .. } => "write_res",
            SeqMessage::ReadReq { .. } => "read_req",
            SeqMessage::ReadRes { .. } => "read_res",
        }
    }
}

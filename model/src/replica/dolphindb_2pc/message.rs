//! Messages of the DFS: clients to data nodes, data nodes to the controllers, coordinators to
//! participants, and between data nodes for online recovery.

use std::sync::Arc;

use crate::core::io::NodeId;
use crate::dfs::{Catalog, ChunkData, ChunkDelta, Condition, OpError, Row, SharedOperation, SharedQuery};
use crate::replica::{Guest, MessageKind, PipelineWriteId};

use super::state::{ChunkId, Cid, Decision, DfsOutput, Tid};

/// A request from a data node to the controller leader. `P` is the pipeline whose requests the
/// channel carries too (opaquely: the protocol never looks inside).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DfsRequest<P: Guest> {
    /// BEGIN (`seq` numbers it in the node's session; all below `below` were answered); `op_ref`
    /// names the client operation it runs, for the checkers.
    Begin { session: u64, seq: u64, below: u64, op: SharedOperation, op_ref: (NodeId, u64), applies: Option<PipelineWriteId> },
    /// Decide commit.
    Commit { tid: Tid },
    /// Decide rollback.
    Rollback { tid: Tid },
    /// End a committed transaction.
    Complete { tid: Tid, committed: Vec<(ChunkId, NodeId)> },
    /// An in-doubt participant asks for the outcome (the leader rolls back if still undecided).
    Resolve { tid: Tid },
    /// Lock a chunk for the sync phase of recovery.
    RecoveryLock { chunk: ChunkId },
    /// Recovery done at this version.
    Recovered { chunk: ChunkId, version: Cid },
    /// Give up a recovery lock.
    RecoveryUnlock { chunk: ChunkId },
    /// A request of the pipeline's part of the data node, for the pipeline's leader duties.
    Pipeline(P::NodeRequest),
    /// Plan a query for a session that has seen cid `floor` (answered from the applied state).
    ReadPlan { query: SharedQuery, floor: Cid },
}

/// One message of the DFS (`P`: the pipeline whose payloads it carries).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DfsMessage<P: Guest> {
    /// Client -> data node: run an operation.
    Run { op_id: u64, op: SharedOperation },
    /// Data node -> client: its outcome (`Ok((tid, cid))`).
    Outcome { op_id: u64, result: Result<(Tid, Cid), OpError> },
    /// Client -> data node: run a query; its session has seen cid `floor` (acknowledged or read).
    Query { op_id: u64, query: SharedQuery, floor: Cid },
    /// Data node -> client: the query's rows at snapshot `Ok((cid, rows))`, or why not.
    QueryAnswer { op_id: u64, result: Result<(Cid, Vec<Row>), OpError> },
    /// Reading node -> replica: the rows of `chunk` at `version` that `condition` selects.
    ReadChunk { read: u64, chunk: ChunkId, version: Cid, condition: Option<Condition> },
    /// Replica -> reading node: those rows, or `None` if it holds no such version.
    ChunkRows { read: u64, chunk: ChunkId, rows: Option<Vec<Row>> },
    /// Data node -> controller.
    Request { req: u64, request: DfsRequest<P> },
    /// Controller -> data node: the answer, or the leader to ask instead.
    Response { req: u64, result: Result<DfsOutput<P>, Option<NodeId>> },
    /// Data node -> every controller: the versions of the replicas it holds (durable: a heartbeat
    /// leaves only once what it reports is synced), its open prepares as `(chunk, tid)`, the
    /// replicas it found corrupt at boot (lost until recovered), and what the pipeline's part of
    /// the node tells the pipeline's leader duties.
    Heartbeat { replicas: Vec<(ChunkId, Cid)>, prepared: Vec<(ChunkId, Tid)>, lost: Vec<ChunkId>, pipeline: P::Beat },
    /// Controller leader -> data node: recover this stale replica from `source`.
    Recover { chunk: ChunkId, source: NodeId },
    /// Controller leader -> data node: these chunks no longer exist; delete them.
    Forget { chunks: Vec<ChunkId> },
    /// Coordinator -> participant: phase one.
    Prepare { tid: Tid, chunk: ChunkId, expected_version: Cid, delta: Arc<ChunkDelta> },
    /// Participant -> coordinator: prepared durably (`ok`), or refused with a reason.
    Prepared { tid: Tid, chunk: ChunkId, ok: bool, reason: String },
    /// Coordinator -> participant: phase two.
    Decide { tid: Tid, chunk: ChunkId, decision: Decision },
    /// Participant -> coordinator: the decision is applied and durable.
    Decided { tid: Tid, chunk: ChunkId },
    /// Recovering node -> source: send your committed image of the chunk.
    Fetch { chunk: ChunkId },
    /// Source -> recovering node: the image (`None` if it has no complete copy).
    Image { chunk: ChunkId, image: Option<(Cid, ChunkData)> },
    /// Client -> controller: what does the catalog hold?
    CatalogQuery { req: u64 },
    /// Controller -> client: the leader's applied catalog, or the leader to ask.
    CatalogReply { req: u64, catalog: Result<Box<Catalog>, Option<NodeId>> },
}

impl<P: Guest> MessageKind for DfsMessage<P> {
    fn kind(&self) -> &'static str {
        match self {
            DfsMessage::Run { .. } => "Run",
            DfsMessage::Outcome { .. } => "Outcome",
            DfsMessage::Query { .. } => "Query",
            DfsMessage::QueryAnswer { .. } => "QueryAnswer",
            DfsMessage::ReadChunk { .. } => "ReadChunk",
            DfsMessage::ChunkRows { .. } => "ChunkRows",
            DfsMessage::Request { .. } => "Request",
            DfsMessage::Response { .. } => "Response",
            DfsMessage::Heartbeat { .. } => "Heartbeat",
            DfsMessage::Recover { .. } => "Recover",
            DfsMessage::Forget { .. } => "Forget",
            DfsMessage::Prepare { .. } => "Prepare",
            DfsMessage::Prepared { .. } => "Prepared",
            DfsMessage::Decide { .. } => "Decide",
            DfsMessage::Decided { .. } => "Decided",
            DfsMessage::Fetch { .. } => "Fetch",
            DfsMessage::Image { .. } => "Image",
            DfsMessage::CatalogQuery { .. } => "CatalogQuery",
            DfsMessage::CatalogReply { .. } => "CatalogReply",
        }
    }
}

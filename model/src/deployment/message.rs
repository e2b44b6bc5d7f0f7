//! Every message that crosses the simulated network, and the supervisor's control inputs.

use crate::core::io::NodeId;
use crate::deployment::state::MetadataCommand;
use crate::pipeline::dolphindb_async::{DolphinAsync, ReplMessage};
use crate::raft::RaftMessage;
use crate::replica::MessageKind;
use crate::replica::dolphindb_2pc::DfsMessage;

/// A client's operation on the controllers' metadata.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientOp {
    /// Sets a key.
    Put { key: String, value: String },
}

/// The controller's answer to a client request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientReply {
    /// Applied (or recognised as already applied) at this log index.
    Ok { index: u64 },
    /// Not the leader; try `leader` if known.
    NotLeader { leader: Option<NodeId> },
}

/// A command from the simulation's supervisor to a role (not sent over the network).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Control {
    /// The safety phase is over: issue no new operations, finish the ones in flight.
    StopWorkload,
}

/// A message of the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// Between members of a controller group.
    Raft(RaftMessage<MetadataCommand>),
    /// From a client to a controller.
    ClientRequest { lane: u32, seq: u64, op: ClientOp },
    /// From a controller to a client.
    ClientResponse { lane: u32, seq: u64, reply: ClientReply },
    /// From the supervisor.
    Control(Control),
    /// The DFS: clients, data nodes and controllers.
    Dfs(DfsMessage<DolphinAsync>),
    /// Replication between clusters.
    Repl(ReplMessage),
}

impl Message {
    /// A short name for traces and statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Raft(m) => m.kind(),
            Message::ClientRequest { .. } => "ClientRequest",
            Message::ClientResponse { .. } => "ClientResponse",
            Message::Control(_) => "Control",
            Message::Dfs(m) => m.kind(),
            Message::Repl(m) => m.kind(),
        }
    }
}

impl From<DfsMessage<DolphinAsync>> for Message {
    fn from(m: DfsMessage<DolphinAsync>) -> Self {
        Message::Dfs(m)
    }
}

impl From<ReplMessage> for Message {
    fn from(m: ReplMessage) -> Self {
        Message::Repl(m)
    }
}

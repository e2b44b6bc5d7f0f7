//! Every message that crosses the simulated network, and the supervisor's control inputs.

use crate::core::io::{Carries, NodeId, part};
use crate::deployment::state::Command;
use crate::pipeline::Pipeline;
use crate::raft::RaftMessage;
use crate::replica::{MessageKind, ReplicaProtocol};

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

/// A message of a deployment of replica protocol `R` and pipeline `P`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    /// Between members of a controller group.
    Raft(RaftMessage<Command<R, P>>),
    /// From a client to a controller.
    ClientRequest { lane: u32, seq: u64, op: ClientOp },
    /// From a controller to a client.
    ClientResponse { lane: u32, seq: u64, reply: ClientReply },
    /// From the supervisor.
    Control(Control),
    /// The replica protocol's: clients, data nodes and controllers of one cluster.
    Replica(R::Message),
    /// The pipeline's: between clusters, and inside them on the pipeline's behalf.
    Pipeline(P::Message),
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Message<R, P> {
    /// A short name for traces and statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Raft(m) => m.kind(),
            Message::ClientRequest { .. } => "ClientRequest",
            Message::ClientResponse { .. } => "ClientResponse",
            Message::Control(_) => "Control",
            Message::Replica(m) => m.kind(),
            Message::Pipeline(m) => m.kind(),
        }
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Carries<R::Message, part::Replica> for Message<R, P> {
    fn carry(m: R::Message) -> Self {
        Message::Replica(m)
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Carries<P::Message, part::Pipeline> for Message<R, P> {
    fn carry(m: P::Message) -> Self {
        Message::Pipeline(m)
    }
}

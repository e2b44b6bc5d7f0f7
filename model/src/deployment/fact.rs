//! Facts: what roles tell the checkers about what they did.

use crate::core::io::{Carries, Millis, NodeId, part};
use crate::deployment::call::{Call, CallResult};
use crate::pipeline::Pipeline;
use crate::raft::RaftFact;
use crate::replica::{CallAnswered, ReplicaProtocol};

/// What a client saw, for the client oracle (Jepsen-style history).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientFact {
    /// An operation was issued.
    Invoked { lane: u32, seq: u64, key: String, value: String, at: Millis },
    /// An operation was acknowledged as applied at `index`.
    Acknowledged { lane: u32, seq: u64, key: String, value: String, index: u64, at: Millis },
    /// A request was sent again (timeout or redirect) to `to`.
    Retried { lane: u32, seq: u64, to: NodeId },
}

/// One fact of a deployment of replica protocol `R` and pipeline `P`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Fact<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    /// From a Raft member.
    Raft(RaftFact),
    /// From a client of the metadata map.
    Client(ClientFact),
    /// From the replica protocol's roles (controllers, data nodes, its clients).
    Replica(R::Fact),
    /// From the pipeline.
    Pipeline(P::Fact),
    /// A management call (of the replica protocol or of the pipeline) was answered.
    Admin { call_id: u64, call: Call<R, P>, result: CallResult<R, P> },
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> From<RaftFact> for Fact<R, P> {
    fn from(f: RaftFact) -> Self {
        Fact::Raft(f)
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> From<ClientFact> for Fact<R, P> {
    fn from(f: ClientFact) -> Self {
        Fact::Client(f)
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Carries<R::Fact, part::Replica> for Fact<R, P> {
    fn carry(f: R::Fact) -> Self {
        Fact::Replica(f)
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Carries<P::Fact, part::Pipeline> for Fact<R, P> {
    fn carry(f: P::Fact) -> Self {
        Fact::Pipeline(f)
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Carries<CallAnswered<P::Call, P::CallResult>, part::Answer> for Fact<R, P> {
    fn carry(a: CallAnswered<P::Call, P::CallResult>) -> Self {
        Fact::Admin { call_id: a.call_id, call: Call::Pipeline(a.call), result: CallResult::Pipeline(a.result) }
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Carries<CallAnswered<R::Call, R::CallResult>, part::ReplicaAnswer> for Fact<R, P> {
    fn carry(a: CallAnswered<R::Call, R::CallResult>) -> Self {
        Fact::Admin { call_id: a.call_id, call: Call::Replica(a.call), result: CallResult::Replica(a.result) }
    }
}

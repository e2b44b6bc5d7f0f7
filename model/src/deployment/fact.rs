//! Facts: what roles tell the checkers about what they did.

use crate::core::io::{Millis, NodeId};
use crate::pipeline::dolphindb_async::{AdminCall, AdminResult, ReplFact};
use crate::raft::RaftFact;
use crate::replica::CallAnswered;
use crate::replica::dolphindb_2pc::DfsFact;

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

/// One fact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Fact {
    /// From a Raft member.
    Raft(RaftFact),
    /// From a client.
    Client(ClientFact),
    /// From the DFS roles (controllers, data nodes, DFS clients).
    Dfs(DfsFact),
    /// From the replication pipeline.
    Repl(ReplFact),
    /// A management call was answered.
    Admin { call_id: u64, call: AdminCall, result: AdminResult },
}

impl From<ReplFact> for Fact {
    fn from(f: ReplFact) -> Self {
        Fact::Repl(f)
    }
}

impl From<RaftFact> for Fact {
    fn from(f: RaftFact) -> Self {
        Fact::Raft(f)
    }
}

impl From<DfsFact> for Fact {
    fn from(f: DfsFact) -> Self {
        Fact::Dfs(f)
    }
}

impl From<ClientFact> for Fact {
    fn from(f: ClientFact) -> Self {
        Fact::Client(f)
    }
}

impl From<CallAnswered<AdminCall, AdminResult>> for Fact {
    fn from(a: CallAnswered<AdminCall, AdminResult>) -> Self {
        Fact::Admin { call_id: a.call_id, call: a.call, result: a.result }
    }
}

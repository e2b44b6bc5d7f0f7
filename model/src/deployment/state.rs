//! The controllers' replicated state machine: the metadata map that clients write through Raft,
//! the replica protocol's state and the pipeline's state of the cluster.
//!
//! Every metadata command carries its client session `(client, lane, seq)`. A lane is a sequential
//! session (at most one command in flight), so a retried command is recognised by
//! `seq <= last applied seq` and applied once only, however often the client resends it.
//!
//! The pipeline has its say in the replica protocol's commands through `replica::WriteHooks`: the
//! protocol calls its state at the protocol's own decision points (see each design).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::io::NodeId;
use crate::pipeline::{Pipeline, PipelineOrigin};
use crate::raft::StateMachine;
use crate::replica::ReplicaProtocol;

/// A client session: one sequential lane of one client.
pub type Session = (NodeId, u32);

/// A command for the controllers' state machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum Command<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    /// Sets `key` to `value` in the metadata map.
    Put { session: Session, seq: u64, key: String, value: String },
    /// Changes the replica protocol's state; `origin` is the data node and request to answer.
    Replica { origin: Option<(NodeId, u64)>, cmd: R::Command },
    /// Changes the pipeline's state; `origin` is who waits for the answer.
    Pipeline { origin: Option<PipelineOrigin>, cmd: P::Command },
    /// Changes the replica protocol's state for management call `call_id` of the replica protocol,
    /// made on the leader that proposed it. (Last, so that the encoding of the others stays as it
    /// was before replica calls existed.)
    ReplicaCall { call_id: u64, cmd: R::Command },
}

/// Who waits for a replica protocol's command to be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplicaOrigin {
    /// A data node's request `req`.
    Node(NodeId, u64),
    /// A management call of the replica protocol.
    Call(u64),
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Applied<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    /// A `Put`: `fresh` is false when it was a retry of one already applied (no effect now).
    Put { session: Session, seq: u64, fresh: bool },
    /// A replica protocol's command: its output for `origin`, the facts it made true, and those
    /// the pipeline's hooks made true.
    Replica { origin: Option<ReplicaOrigin>, output: R::Output, facts: Vec<R::Fact>, pipeline_facts: Vec<P::Fact> },
    /// A pipeline's command: its answer for `origin`, and the facts it made true.
    Pipeline { origin: Option<PipelineOrigin>, answer: P::CallResult, facts: Vec<P::Fact> },
}

/// The metadata map, the client sessions, the replica protocol's and the pipeline's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ClusterState<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    entries: BTreeMap<String, String>,
    sessions: BTreeMap<Session, u64>,
    /// The replica protocol's (for 2PC: catalog, chunks, transactions, locks).
    pub replica: R::State,
    /// The pipeline's (for DolphinDB's replication: the send queue or the task table).
    pub pipeline: P::State,
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> ClusterState<R, P> {
    /// An empty state for a cluster with this replica and pipeline configuration.
    pub fn new(replica: R::Config, pipeline: P::Config) -> Self {
        Self { entries: BTreeMap::new(), sessions: BTreeMap::new(), replica: R::new_state(replica), pipeline: P::new_state(pipeline) }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> ClusterState<R, P> {
    fn apply_replica(&mut self, origin: Option<ReplicaOrigin>, cmd: &R::Command) -> Applied<R, P> {
        let mut pipeline_facts = Vec::new();
        let (output, facts) = R::apply(&mut self.replica, cmd, &mut self.pipeline, &mut pipeline_facts);
        Applied::Replica { origin, output, facts, pipeline_facts }
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> StateMachine for ClusterState<R, P> {
    type Command = Command<R, P>;
    type Output = Applied<R, P>;

    fn apply(&mut self, _index: u64, command: &Command<R, P>) -> Applied<R, P> {
        match command {
            Command::Put { session, seq, key, value } => {
                let last = self.sessions.entry(*session).or_insert(0);
                let fresh = *seq > *last;
                if fresh {
                    *last = *seq;
                    self.entries.insert(key.clone(), value.clone());
                }
                Applied::Put { session: *session, seq: *seq, fresh }
            }
            Command::Replica { origin, cmd } => self.apply_replica(origin.map(|(node, req)| ReplicaOrigin::Node(node, req)), cmd),
            Command::ReplicaCall { call_id, cmd } => self.apply_replica(Some(ReplicaOrigin::Call(*call_id)), cmd),
            Command::Pipeline { origin, cmd } => {
                let (answer, facts) = P::apply(&mut self.pipeline, cmd, &self.replica);
                Applied::Pipeline { origin: *origin, answer, facts }
            }
        }
    }

    fn encode(&self) -> Vec<u8> {
        // A snapshot is the whole state: start with room for a small one rather than growing
        // (and copying) from nothing.
        let mut out = Vec::with_capacity(64 * 1024);
        crate::core::record::serialize_into(self, &mut out);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        postcard::from_bytes(bytes).map_err(|e| e.to_string())
    }
}

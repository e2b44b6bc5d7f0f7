//! The controllers' replicated state machine: the metadata map that clients write through Raft,
//! the DFS state, and the cluster's part in replication.
//!
//! Every command carries its client session `(client, lane, seq)`. A lane is a sequential session (at
//! most one command in flight), so a retried command is recognised by `seq <= last applied seq` and
//! applied once only, however often the client resends it.
//!
//! Replication hooks into the DFS commands here: on the master, a COMPLETE of a replicated
//! database's transaction enqueues a task; on a slave, a task's transaction is checked against the
//! EditLog at BEGIN and at the commit decision (a duplicate is rolled back), writes the task id to
//! the EditLog when decided commit, and marks the task FINISHED at COMPLETE; ordinary writes to a
//! replicated database are refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::io::NodeId;
use crate::dfs::{OpError, Operation};
use crate::pipeline::dolphindb_async::{AdminError, ClusterRepl, DolphinAsync, ReplCommand, ReplConfig, ReplFact, TaskId};
use crate::raft::StateMachine;
use crate::replica::dolphindb_2pc::{DfsCommand, DfsConfig, DfsFact, DfsOutput, DfsState};

/// A client session: one sequential lane of one client.
pub type Session = (NodeId, u32);

/// Who waits for a replication command's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplOrigin {
    /// A data node's request (a management call it forwarded), to answer.
    Node(NodeId, u64),
    /// A management call made on the controller that proposed it.
    Call(u64),
}

/// A command for the controllers' state machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetadataCommand {
    /// Sets `key` to `value` in the metadata map.
    Put { session: Session, seq: u64, key: String, value: String },
    /// Changes the DFS state; `origin` is the data node and request to answer.
    Dfs { origin: Option<(NodeId, u64)>, cmd: DfsCommand },
    /// Changes the replication state.
    Repl { origin: Option<ReplOrigin>, cmd: ReplCommand },
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetadataOutput {
    /// A `Put`: `fresh` is false when it was a retry of one already applied (no effect now).
    Put { session: Session, seq: u64, fresh: bool },
    /// A DFS command: its output for `origin`, and the facts it made true.
    Dfs { origin: Option<(NodeId, u64)>, output: DfsOutput<DolphinAsync>, facts: Vec<DfsFact>, repl_facts: Vec<ReplFact> },
    /// A replication command: its result for `origin`, and the facts it made true.
    Repl { origin: Option<ReplOrigin>, result: Result<(), AdminError>, facts: Vec<ReplFact> },
}

/// The metadata map, the client sessions, the DFS state and the replication state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetadataState {
    entries: BTreeMap<String, String>,
    sessions: BTreeMap<Session, u64>,
    /// Catalog, chunks, transactions, locks.
    pub dfs: DfsState,
    /// The send queue (master) or the task table (slave).
    pub repl: ClusterRepl,
}

impl Default for MetadataState {
    /// A controller group without data nodes.
    fn default() -> Self {
        let config = DfsConfig {
            data_nodes: BTreeMap::new(),
            replication_factor: 1,
            reliability: crate::replica::dolphindb_2pc::ReliabilityLevel::Nodes,
            bugs: Default::default(),
        };
        Self::new(config, ReplConfig::None)
    }
}

impl MetadataState {
    /// An empty state for a cluster with this DFS and replication configuration.
    pub fn new(dfs: DfsConfig, repl: ReplConfig) -> Self {
        Self { entries: BTreeMap::new(), sessions: BTreeMap::new(), dfs: DfsState::new(dfs), repl: ClusterRepl::new(repl) }
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

    /// The refusal a new BEGIN would get from this state, if any (see `DfsState::refusal`): the
    /// pipeline's first (on a slave, an ordinary write to a replicated database, or a task
    /// committed already).
    pub fn begin_refusal(
        &self,
        session: (NodeId, u64),
        seq: u64,
        op: &Operation,
        task: Option<TaskId>,
        online: &[NodeId],
    ) -> Option<OpError> {
        self.dfs.refusal(session, seq, op, task, online, &self.repl)
    }

    fn apply_dfs(&mut self, cmd: &DfsCommand) -> (DfsOutput<DolphinAsync>, Vec<DfsFact>, Vec<ReplFact>) {
        let mut repl_facts = Vec::new();
        let (output, facts) = self.dfs.apply(cmd, &mut self.repl, &mut repl_facts);
        (output, facts, repl_facts)
    }

    fn apply_repl(&mut self, cmd: &ReplCommand) -> (Result<(), AdminError>, Vec<ReplFact>) {
        match (&mut self.repl, cmd) {
            (ClusterRepl::Master(m), ReplCommand::Master(c)) => m.apply(c, &self.dfs),
            (ClusterRepl::Slave(s), ReplCommand::Slave(c)) => s.apply(c),
            _ => (Err(AdminError::new(AdminError::WRONG_ROLE, "this cluster does not play that part in replication")), Vec::new()),
        }
    }
}

impl StateMachine for MetadataState {
    type Command = MetadataCommand;
    type Output = MetadataOutput;

    fn apply(&mut self, _index: u64, command: &MetadataCommand) -> MetadataOutput {
        match command {
            MetadataCommand::Put { session, seq, key, value } => {
                let last = self.sessions.entry(*session).or_insert(0);
                let fresh = *seq > *last;
                if fresh {
                    *last = *seq;
                    self.entries.insert(key.clone(), value.clone());
                }
                MetadataOutput::Put { session: *session, seq: *seq, fresh }
            }
            MetadataCommand::Dfs { origin, cmd } => {
                let (output, facts, repl_facts) = self.apply_dfs(cmd);
                MetadataOutput::Dfs { origin: *origin, output, facts, repl_facts }
            }
            MetadataCommand::Repl { origin, cmd } => {
                let (result, facts) = self.apply_repl(cmd);
                MetadataOutput::Repl { origin: *origin, result, facts }
            }
        }
    }

    fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("metadata serialises")
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        postcard::from_bytes(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(seq: u64, key: &str) -> MetadataCommand {
        MetadataCommand::Put { session: (7, 0), seq, key: key.into(), value: format!("v{seq}") }
    }

    fn fresh(o: MetadataOutput) -> bool {
        matches!(o, MetadataOutput::Put { fresh: true, .. })
    }

    #[test]
    fn a_retried_command_applies_once_and_snapshots_round_trip() {
        let mut sm = MetadataState::default();
        assert!(fresh(sm.apply(1, &put(1, "a"))));
        assert!(!fresh(sm.apply(2, &put(1, "a"))), "the retry of seq 1 is recognised");
        assert!(fresh(sm.apply(3, &put(2, "b"))));
        assert_eq!(sm.get("b"), Some("v2"));
        let back = MetadataState::decode(&sm.encode()).unwrap();
        assert_eq!(back, sm);
    }
}

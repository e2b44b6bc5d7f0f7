//! The controllers' replicated state machine: the metadata map that clients write through Raft.
//!
//! Every command carries its client session `(client, lane, seq)`. A lane is a sequential session (at
//! most one command in flight), so a retried command is recognised by `seq <= last applied seq` and
//! applied once only, however often the client resends it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::io::NodeId;
use crate::raft::StateMachine;
use crate::txn::{DfsCommand, DfsConfig, DfsFact, DfsOutput, DfsState};

/// A client session: one sequential lane of one client.
pub type Session = (NodeId, u32);

/// A command for the controllers' state machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetadataCommand {
    /// Sets `key` to `value` in the metadata map.
    Put { session: Session, seq: u64, key: String, value: String },
    /// Changes the DFS state; `origin` is the data node and request to answer.
    Dfs { origin: Option<(NodeId, u64)>, cmd: DfsCommand },
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetadataOutput {
    /// A `Put`: `fresh` is false when it was a retry of one already applied (no effect now).
    Put { session: Session, seq: u64, fresh: bool },
    /// A DFS command: its output for `origin`, and the facts it made true.
    Dfs { origin: Option<(NodeId, u64)>, output: DfsOutput, facts: Vec<DfsFact> },
}

/// The metadata map, the client sessions and the DFS state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetadataState {
    entries: BTreeMap<String, String>,
    sessions: BTreeMap<Session, u64>,
    /// Catalog, chunks, transactions, locks.
    pub dfs: DfsState,
}

impl Default for MetadataState {
    /// A controller group without data nodes.
    fn default() -> Self {
        let config = DfsConfig {
            data_nodes: BTreeMap::new(),
            replication_factor: 1,
            reliability: crate::txn::ReliabilityLevel::Nodes,
            bugs: Default::default(),
        };
        Self::new(config)
    }
}

impl MetadataState {
    /// An empty state for a cluster with this DFS configuration.
    pub fn new(dfs: DfsConfig) -> Self {
        Self { entries: BTreeMap::new(), sessions: BTreeMap::new(), dfs: DfsState::new(dfs) }
    }
}

impl MetadataState {
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
                let (output, facts) = self.dfs.apply(cmd);
                MetadataOutput::Dfs { origin: *origin, output, facts }
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

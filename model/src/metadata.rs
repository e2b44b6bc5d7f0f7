//! The controllers' replicated state machine: the metadata map that clients write through Raft.
//!
//! Every command carries its client session `(client, lane, seq)`. A lane is a sequential session (at
//! most one command in flight), so a retried command is recognised by `seq <= last applied seq` and
//! applied once only, however often the client resends it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::io::NodeId;
use crate::raft::StateMachine;

/// A client session: one sequential lane of one client.
pub type Session = (NodeId, u32);

/// A command for the metadata map.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetadataCommand {
    /// Sets `key` to `value`.
    Put { session: Session, seq: u64, key: String, value: String },
}

impl MetadataCommand {
    /// The session and sequence number of the command.
    pub fn request(&self) -> (Session, u64) {
        match self {
            MetadataCommand::Put { session, seq, .. } => (*session, *seq),
        }
    }
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetadataOutput {
    /// Session of the command.
    pub session: Session,
    /// Sequence number of the command.
    pub seq: u64,
    /// False when the command was a retry of one already applied (and so had no effect now).
    pub fresh: bool,
}

/// The metadata map and the client sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetadataState {
    entries: BTreeMap<String, String>,
    sessions: BTreeMap<Session, u64>,
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
                MetadataOutput { session: *session, seq: *seq, fresh }
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

    #[test]
    fn a_retried_command_applies_once_and_snapshots_round_trip() {
        let mut sm = MetadataState::default();
        assert!(sm.apply(1, &put(1, "a")).fresh);
        assert!(!sm.apply(2, &put(1, "a")).fresh, "the retry of seq 1 is recognised");
        assert!(sm.apply(3, &put(2, "b")).fresh);
        assert_eq!(sm.get("b"), Some("v2"));
        let back = MetadataState::decode(&sm.encode()).unwrap();
        assert_eq!(back, sm);
    }
}

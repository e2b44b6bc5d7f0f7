//! Raft RPCs (Raft paper, Figure 2 and §7), sent between the members of one group.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::log::Entry;

/// The metadata of a state-machine snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// Last log index the snapshot covers.
    pub index: u64,
    /// Term of that entry.
    pub term: u64,
    /// Chain digest of every entry applied up to `index` (see `digest::chain`).
    pub digest: u64,
}

/// A snapshot as it travels: metadata and the encoded state machine (shared, never copied).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Snapshot {
    /// What it covers.
    pub meta: SnapshotMeta,
    /// `StateMachine::encode` output.
    pub state: Arc<[u8]>,
}

/// A message between two members of a Raft group. The sender is known from the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RaftMessage<C> {
    /// A candidate asks for a vote (§5.2).
    RequestVote { term: u64, last_log_index: u64, last_log_term: u64 },
    /// The answer; only sent once the voter's term and vote are durable.
    RequestVoteResponse { term: u64, granted: bool },
    /// Replication and heartbeat (§5.3).
    AppendEntries { term: u64, prev_log_index: u64, prev_log_term: u64, entries: Vec<Entry<C>>, leader_commit: u64 },
    /// The answer. On success `match_index` is the last index known to match the leader's log (sent
    /// only once those entries are durable); on failure `conflict_index` is where the leader should
    /// retry from.
    AppendEntriesResponse { term: u64, success: bool, match_index: u64, conflict_index: u64 },
    /// The leader sends its snapshot to a follower whose next entry it compacted away (§7).
    InstallSnapshot { term: u64, snapshot: Snapshot },
    /// The answer, once the snapshot is durable: the follower's log now ends at `last_index` or later.
    InstallSnapshotResponse { term: u64, last_index: u64 },
}

impl<C> RaftMessage<C> {
    /// The sender's term.
    pub fn term(&self) -> u64 {
        match self {
            RaftMessage::RequestVote { term, .. }
            | RaftMessage::RequestVoteResponse { term, .. }
            | RaftMessage::AppendEntries { term, .. }
            | RaftMessage::AppendEntriesResponse { term, .. }
            | RaftMessage::InstallSnapshot { term, .. }
            | RaftMessage::InstallSnapshotResponse { term, .. } => *term,
        }
    }

    /// A short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            RaftMessage::RequestVote { .. } => "RequestVote",
            RaftMessage::RequestVoteResponse { .. } => "RequestVoteResponse",
            RaftMessage::AppendEntries { .. } => "AppendEntries",
            RaftMessage::AppendEntriesResponse { .. } => "AppendEntriesResponse",
            RaftMessage::InstallSnapshot { .. } => "InstallSnapshot",
            RaftMessage::InstallSnapshotResponse { .. } => "InstallSnapshotResponse",
        }
    }
}

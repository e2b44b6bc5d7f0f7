//! What a Raft member tells the checkers. Emitted at the lowest level (next to each log mutation and
//! role change), so a planted bug in the policy above still reports truthfully what it did.

use crate::core::io::NodeId;

/// `(index, term, payload hash)` of one log entry as the checkers see it.
pub type EntryId = (u64, u64, u64);

/// One observable step of a Raft member.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RaftFact {
    /// Term or vote changed in memory (durable with the next fsync).
    HardState { term: u64, voted_for: Option<NodeId> },
    /// A vote grant leaves the node (its term and vote are durable by now, unless a bug says otherwise).
    VoteGranted { term: u64, candidate: NodeId },
    /// The node won an election.
    BecameLeader { term: u64 },
    /// The node stopped being leader.
    SteppedDown { term: u64 },
    /// An entry was appended at the end of the log.
    Appended { entry: EntryId },
    /// Every entry at `from_index` and after was removed.
    Truncated { from_index: u64 },
    /// The commit index advanced to `index`, whose entry has term `term`. `by_leader` tells a commit
    /// decided by counting replicas from one learned from a leader.
    Committed { index: u64, term: u64, by_leader: bool },
    /// The entry at `index` was applied to the state machine; `digest` is the chain after it.
    Applied { index: u64, term: u64, payload_hash: u64, digest: u64 },
    /// The log and state machine were replaced by a snapshot from the leader.
    SnapshotInstalled { index: u64, term: u64, digest: u64 },
    /// The node's own snapshot now covers the prefix up to `index`, which left the log.
    Compacted { index: u64 },
    /// The node came back from its disk with this durable state.
    Recovered { term: u64, voted_for: Option<NodeId>, snapshot_index: u64, snapshot_term: u64, snapshot_digest: u64, entries: Vec<EntryId> },
}

//! The identifiers and outcomes every part of the 2PC protocol shares.

use serde::{Deserialize, Serialize};

/// Transaction id, dense from 1 in BEGIN order.
pub type Tid = u64;
/// Commit id, dense from 1 in commit order; a chunk's version is the cid of its last write.
pub type Cid = u64;
/// Chunk id.
pub type ChunkId = u64;

/// The outcome of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Decision {
    /// Committed with this cid.
    Commit(Cid),
    /// Rolled back.
    Rollback,
}

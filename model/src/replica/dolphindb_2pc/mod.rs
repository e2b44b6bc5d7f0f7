//! The replica protocol inside a cluster, DolphinDB style: two-phase commit over chunk replicas,
//! decided by the controller's Raft group.
//!
//! This is one of the two seams where another design can be plugged in later (a SequoiaDB-style
//! primary/secondary sync log, say): the controller state, the messages, the data node and the
//! storage format live here and nowhere else.

pub mod client;
pub mod datanode;
pub mod fact;
pub mod guest;
pub mod message;
pub mod state;
pub mod storage;

pub use fact::{DfsFact, OpOutcome};
pub use message::{DfsMessage, DfsRequest};
pub use state::{ChunkId, Cid, Decision, DfsCommand, DfsConfig, DfsOutput, DfsState, ReliabilityLevel, Tid};

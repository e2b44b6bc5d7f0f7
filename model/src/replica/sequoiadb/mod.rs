//! SequoiaDB's replica groups (seed 002): a primary per group writes a sync log, secondaries copy
//! and replay it, a vote machine elects the primary, CONSULT rolls back a divergent tail, full sync
//! rebuilds a node that cannot catch up, and ReplSize says how many nodes confirm a write. The
//! protocol as read from SequoiaDB's source: ../shared/reference/sequoiadb-replica-group.md.
//!
//! - `lsn.rs`, `types.rs`: the identifiers and values every part shares;
//! - `fact.rs`: what the checkers hear.

pub mod fact;
pub mod lsn;
pub mod types;

pub use fact::SeqFact;
pub use lsn::Lsn;

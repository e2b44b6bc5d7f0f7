//! Checkers of pipelines: what any pipeline promises (no gaps, exactly once, garbage-collection
//! safety, eventual consistency, liveness), then one folder per design for the rest.

pub mod dolphindb_async;
pub mod eventual_consistency;
pub mod exactly_once;
pub mod gc_safety;
pub mod ledger;
pub mod no_gaps;

//! Checkers of pipelines: what any asynchronous pipeline promises, judged on neutral events
//! ([`event::PipelineEvent`]) and a neutral ledger (no gaps, exactly once, garbage-collection
//! safety, eventual consistency, liveness), then one folder per design for the rest.

pub mod dolphindb_async;
pub mod event;
pub mod eventual_consistency;
pub mod exactly_once;
pub mod gc_safety;
pub mod ledger;
pub mod liveness;
pub mod no_gaps;
#[cfg(test)]
mod test_support;

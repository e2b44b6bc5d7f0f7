//! DolphinDB's asynchronous replication: what the master captures and enqueues, conflict
//! grouping, the slave's order, the status functions, task-data durability and idle added nodes;
//! its ledger, the adapter to the pipeline-neutral checkers' events, its progress for their
//! liveness, and its rules written from the docs.

pub mod calls_take_effect;
pub mod capture_completeness;
pub mod grouping;
pub mod ledger;
pub mod new_nodes_idle;
pub mod progress;
pub mod replication_states;
pub mod rules;
pub mod slave_order;
pub mod status_truthful;
pub mod stop_threshold;
pub mod task_data_durability;
#[cfg(test)]
mod test_support;
pub mod write_fate;

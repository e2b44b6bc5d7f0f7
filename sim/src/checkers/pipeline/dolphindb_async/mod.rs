//! DolphinDB's asynchronous replication: conflict grouping, the slave's order, the status functions,
//! task-data durability and idle added nodes.

pub mod grouping;
pub mod liveness;
pub mod new_nodes_idle;
pub mod slave_order;
pub mod status_truthful;
pub mod task_data_durability;

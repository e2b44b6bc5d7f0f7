//! DolphinDB's replication rules as its documentation and ours state them, written here from the
//! text and not taken from the model: an oracle that called the model's own grouping or queue
//! hashing would share any bug in it and could not see it. (The conflict rule of lock footprints
//! is the data model's: `checkers::oracle::footprints_overlap`.)

use ccrsim_model::core::digest::stable_hash;
use ccrsim_model::core::io::NodeId;

/// The failure reason of a task whose data is not on the master node that should hold it
/// (DolphinDB S01040).
pub const MISSING_TASK_DATA: &str = "Missing TaskData";
/// The failure reason of a task whose data fails its checksum (DolphinDB S01041/S01042, a
/// deserialisation failure).
pub const CORRUPT_TASK_DATA: &str = "Corrupt TaskData";

/// Finished tasks a slave's getSlaveReplicationStatus keeps showing below its finished watermark
/// (the newest ones; older rows age out).
pub const FINISHED_ROWS_SHOWN: u64 = 1000;

/// The text getSlaveReplicationStatus shows in `details` for a task skipped by hand.
pub const SKIPPED_DETAILS: &str = "skipped";

/// The execution queue of a database's tasks within their execution set: the stable hash of the
/// database's name modulo the slave's queue count (docs/replication.md, step 8).
pub fn queue_of(db: &str, queues: u32) -> u32 {
    assert!(queues > 0, "a slave has at least one execution queue");
    (stable_hash(db) % u64::from(queues)) as u32
}

/// The data node that runs an execution queue: the queue's number modulo the count of the data
/// nodes the slave started with, into those nodes in the order the cluster lists them (DolphinDB's
/// manual: queues map to data nodes by the original node count, so added nodes never get tasks;
/// docs/replication.md, step 8).
pub fn node_of_queue(queue: u32, original_nodes: &[NodeId]) -> NodeId {
    assert!(!original_nodes.is_empty(), "a slave starts with data nodes");
    original_nodes[queue as usize % original_nodes.len()]
}

/// Whether a failure reason says the task can never run until an operator skips it: its data is
/// lost or damaged. (Not yet persisted heals by itself: S01044, retried.)
pub fn never_runs(reason: &str) -> bool {
    reason.contains(MISSING_TASK_DATA) || reason.contains(CORRUPT_TASK_DATA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_spread_databases_and_stay_in_range() {
        let dbs: Vec<String> = (0..64).map(|i| format!("dfs://db{i}")).collect();
        let used: std::collections::BTreeSet<u32> = dbs.iter().map(|d| queue_of(d, 4)).collect();
        assert_eq!(used, (0..4).collect(), "64 databases use every one of 4 queues");
        assert!(dbs.iter().all(|d| queue_of(d, 1) == 0));
        assert_eq!(queue_of("dfs://x", 7), queue_of("dfs://x", 7), "stable");
        // Differential: the model hashes the same way.
        use ccrsim_model::pipeline::dolphindb_async::slave::queue_of_database;
        for queues in 1..9 {
            assert!(dbs.iter().all(|d| queue_of(d, queues) == queue_of_database(d, queues)));
        }
    }

    #[test]
    fn queues_map_onto_the_original_nodes_in_order() {
        assert_eq!((0..5).map(|q| node_of_queue(q, &[10, 11])).collect::<Vec<_>>(), [10, 11, 10, 11, 10]);
        assert_eq!(node_of_queue(7, &[3]), 3);
    }

    #[test]
    fn only_lost_or_damaged_data_never_runs() {
        assert!(never_runs("Missing TaskData: node 3 has no data for tid 9"));
        assert!(never_runs("Corrupt TaskData"));
        assert!(!never_runs("TaskData not yet persisted"));
        assert!(!never_runs("S01023 write rejected"));
        // Differential: the reasons the model records.
        use ccrsim_model::pipeline::dolphindb_async::TaskDataError;
        for e in [TaskDataError::Missing, TaskDataError::Corrupt, TaskDataError::NotPersisted] {
            assert_eq!(never_runs(e.reason()), e != TaskDataError::NotPersisted, "{e:?}");
        }
    }
}

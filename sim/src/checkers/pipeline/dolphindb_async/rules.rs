//! DolphinDB's replication rules as its documentation and ours state them, written here from the
//! text and not taken from the model: an oracle that called the model's own grouping or queue
//! hashing would share any bug in it and could not see it.

use ccrsim_model::core::digest::stable_hash;
use ccrsim_model::dfs::{LockKey, Value};

/// The failure reason of a task whose data is not on the master node that should hold it
/// (DolphinDB S01040).
pub const MISSING_TASK_DATA: &str = "Missing TaskData";
/// The failure reason of a task whose data fails its checksum (DolphinDB S01041/S01042, a
/// deserialisation failure).
pub const CORRUPT_TASK_DATA: &str = "Corrupt TaskData";

/// What a lock covers, as a path: a database; a table of it; a partition of that table (one chunk).
fn covered(key: &LockKey) -> (&str, Option<&str>, Option<&Value>) {
    match key {
        LockKey::Db(db) => (db, None, None),
        LockKey::Table(db, table) => (db, Some(table), None),
        LockKey::Partition(db, table, partition) => (db, Some(table), Some(partition)),
    }
}

/// Whether two footprints touch a common chunk. DolphinDB: two tasks conflict iff their written
/// chunk sets intersect, and DDL or database-level operations touch every chunk of the database
/// (reference/replication-facts.md section 3). A database covers all its tables' chunks, a table
/// all its partitions': two covered sets intersect exactly when one path is a prefix of the other.
pub fn footprints_overlap(a: &[LockKey], b: &[LockKey]) -> bool {
    a.iter().any(|x| {
        b.iter().any(|y| {
            let ((d1, t1, p1), (d2, t2, p2)) = (covered(x), covered(y));
            d1 == d2 && (t1.is_none() || t2.is_none() || (t1 == t2 && (p1.is_none() || p2.is_none() || p1 == p2)))
        })
    })
}

/// The execution queue of a database's tasks within their execution set: the stable hash of the
/// database's name modulo the slave's queue count (docs/replication.md, step 8).
pub fn queue_of(db: &str, queues: u32) -> u32 {
    assert!(queues > 0, "a slave has at least one execution queue");
    (stable_hash(db) % u64::from(queues)) as u32
}

/// Whether a failure reason says the task can never run until an operator skips it: its data is
/// lost or damaged. (Not yet persisted heals by itself: S01044, retried.)
pub fn never_runs(reason: &str) -> bool {
    reason.contains(MISSING_TASK_DATA) || reason.contains(CORRUPT_TASK_DATA)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(db: &str, t: &str, p: i64) -> LockKey {
        LockKey::Partition(db.into(), t.into(), Value::Long(p))
    }

    #[test]
    fn footprints_overlap_when_one_scope_contains_the_other() {
        let db = |d: &str| LockKey::Db(d.into());
        let table = |d: &str, t: &str| LockKey::Table(d.into(), t.into());
        assert!(footprints_overlap(&[part("a", "t", 1)], &[part("a", "t", 1)]));
        assert!(!footprints_overlap(&[part("a", "t", 1)], &[part("a", "t", 2)]));
        assert!(!footprints_overlap(&[part("a", "t", 1)], &[part("a", "u", 1)]));
        assert!(!footprints_overlap(&[part("a", "t", 1)], &[part("b", "t", 1)]));
        assert!(footprints_overlap(&[table("a", "t")], &[part("a", "t", 7)]));
        assert!(!footprints_overlap(&[table("a", "t")], &[part("a", "u", 7)]));
        assert!(footprints_overlap(&[part("a", "u", 7)], &[db("a")]));
        assert!(!footprints_overlap(&[db("a")], &[db("b"), table("c", "t")]));
        assert!(footprints_overlap(&[part("x", "t", 1), part("a", "t", 3)], &[part("a", "t", 3)]), "any pair");
        assert!(!footprints_overlap(&[], &[db("a")]));
    }

    #[test]
    fn footprints_overlap_agrees_with_the_models_grouping_rule() {
        // Differential: the model's rule must agree on every pair of a small universe of keys.
        use ccrsim_model::pipeline::dolphindb_async::footprints_conflict;
        let keys: Vec<LockKey> = ["a", "b"]
            .iter()
            .flat_map(|d| {
                let mut k = vec![LockKey::Db(d.to_string())];
                for t in ["t", "u"] {
                    k.push(LockKey::Table(d.to_string(), t.into()));
                    k.extend((1..3).map(|p| part(d, t, p)));
                }
                k
            })
            .collect();
        for x in &keys {
            for y in &keys {
                let (a, b) = (std::slice::from_ref(x), std::slice::from_ref(y));
                assert_eq!(footprints_overlap(a, b), footprints_conflict(a, b), "{x:?} / {y:?}");
            }
        }
    }

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

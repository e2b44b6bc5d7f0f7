//! Which locks exclude each other, as DolphinDB documents it and with the checkers' own code: a
//! write locks a partition (one chunk of a table), DDL a whole table, database-level operations a
//! whole database; two transactions conflict iff the chunk sets their locks cover intersect
//! (DolphinDB: one writing transaction per partition; cluster replication groups tasks by the same
//! rule, "DDL and database-level operations touch every chunk of the database"). The model's
//! `LockKey::conflicts` is what the controller grants locks by; the checkers must not share it.

use ccrsim_model::dfs::{LockKey, Value};

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
/// (DolphinDB's cluster replication manual, how it works). A database covers all its tables'
/// chunks, a table all its partitions': two covered sets intersect exactly when one path is a prefix of the other.
pub fn footprints_overlap(a: &[LockKey], b: &[LockKey]) -> bool {
    a.iter().any(|x| b.iter().any(|y| locks_overlap(x, y)))
}

/// Whether two locks cover a common chunk.
pub fn locks_overlap(x: &LockKey, y: &LockKey) -> bool {
    let ((d1, t1, p1), (d2, t2, p2)) = (covered(x), covered(y));
    d1 == d2 && (t1.is_none() || t2.is_none() || (t1 == t2 && (p1.is_none() || p2.is_none() || p1 == p2)))
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
    fn locks_overlap_agrees_with_the_models_lock_rule() {
        // Differential: the model's rule must agree on every pair of a small universe of keys.
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
                assert_eq!(locks_overlap(x, y), x.conflicts(y), "{x:?} / {y:?}");
            }
        }
    }
}

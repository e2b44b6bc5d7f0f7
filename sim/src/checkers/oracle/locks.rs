//! Which locks exclude each other, as DolphinDB documents it and with the checkers' own code: a
//! write locks a partition (one chunk of a table), DDL a whole table, database-level operations a
//! whole database; two transactions conflict iff the chunk sets their locks cover intersect
//! (DolphinDB: one writing transaction per partition; cluster replication groups tasks by the same
//! rule, "DDL and database-level operations touch every chunk of the database"). The model's
//! `LockKey::conflicts` is what the controller grants locks by; the checkers must not share it.

use ccrsim_model::dfs::{Cmp, LockKey, Operation, Value};

use super::SequentialDb;

/// What an operation must hold a lock over for its whole transaction (DolphinDB: a write locks the
/// partitions it writes, table DDL and an unpruned SQL_DELETE or SQL_UPDATE its table, a
/// database-level operation its database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockScope {
    /// The whole database.
    Database(String),
    /// The whole table.
    Table(String, String),
    /// This partition of the table.
    Partition(String, String, Value),
    /// Some partition of the table: a write whose partitions the oracle cannot route (the
    /// operation is invalid on the state its BEGIN saw, which `reference-model` judges).
    PartitionsOf(String, String),
}

/// The scopes `op` must lock, judged on `db`, the committed state its BEGIN saw. An APPEND or
/// UPSERT writes the partitions its rows fall in. A SQL_DELETE or SQL_UPDATE is pruned when its
/// filter is an equality on the table's partitioning column whose value falls in a partition: it
/// writes that partition; any other filter, or none, may write every partition, and chunks can
/// appear in partitions it did not see, so it locks the table.
pub fn lock_scopes(op: &Operation, db: &SequentialDb) -> Vec<LockScope> {
    let table = |d: &String, t: &String| LockScope::Table(d.clone(), t.clone());
    let partitions = |d: &String, t: &String, keys: Vec<Value>| -> Vec<LockScope> {
        keys.into_iter().map(|k| LockScope::Partition(d.clone(), t.clone(), k)).collect()
    };
    match op {
        Operation::Append { db: d, table: t, rows }
        | Operation::AppendChunkGranularity { db: d, table: t, rows }
        | Operation::Upsert { db: d, table: t, rows, .. } => {
            let at = db.partition_index(d, t);
            let values = rows.iter().map(|row| at.and_then(|i| row.get(i)));
            match db.partitions_holding(d, t, values) {
                Some(keys) => partitions(d, t, keys),
                None => vec![LockScope::PartitionsOf(d.clone(), t.clone())],
            }
        }
        Operation::SqlDelete { db: d, table: t, filter } | Operation::SqlUpdate { db: d, table: t, filter, .. } => {
            let partitioning = db.table(d, t).and_then(|view| view.partition_column.as_deref());
            let pruned = filter
                .as_ref()
                .filter(|f| f.cmp == Cmp::Eq && partitioning == Some(f.column.as_str()))
                .and_then(|f| db.partitions_holding(d, t, [Some(&f.value)]));
            match pruned {
                Some(keys) => partitions(d, t, keys),
                None => vec![table(d, t)],
            }
        }
        Operation::DropPartition { db: d, table: t, partition } => vec![LockScope::Partition(d.clone(), t.clone(), partition.clone())],
        _ => match whole_scope(op) {
            WholeScope::Database(d) => vec![LockScope::Database(d.to_string())],
            WholeScope::Tables(d, tables) => tables.into_iter().map(|t| LockScope::Table(d.to_string(), t.to_string())).collect(),
            WholeScope::Data => unreachable!("every data operation is matched above"),
        },
    }
}

/// What an operation locks whole, by its type alone: shared by [`lock_scopes`] and the footprint,
/// which differ only in how they place the partitions of a data operation.
pub enum WholeScope<'a> {
    /// A database-level operation: the database.
    Database(&'a str),
    /// Table DDL: these tables of the database (a rename locks the old name and the new).
    Tables(&'a str, Vec<&'a str>),
    /// A data operation (APPEND, UPSERT, SQL_DELETE, SQL_UPDATE, dropPartition): its partitions
    /// or its table, decided by the state it runs on.
    Data,
}

/// The [`WholeScope`] of `op`.
pub fn whole_scope(op: &Operation) -> WholeScope<'_> {
    match op {
        Operation::Append { .. }
        | Operation::AppendChunkGranularity { .. }
        | Operation::Upsert { .. }
        | Operation::SqlDelete { .. }
        | Operation::SqlUpdate { .. }
        | Operation::DropPartition { .. } => WholeScope::Data,
        Operation::DropDb { db: d }
        | Operation::AddRangePartition { db: d, .. }
        | Operation::AddValuePartition { db: d, .. }
        | Operation::CreateDomain { db: d, .. } => WholeScope::Database(d),
        Operation::RenameTable { db: d, table: t, new_name } => WholeScope::Tables(d, vec![t, new_name]),
        Operation::DropTable { db: d, table: t }
        | Operation::TruncateTable { db: d, table: t }
        | Operation::CreateTable { db: d, table: t, .. }
        | Operation::CreatePartitionedTable { db: d, table: t, .. }
        | Operation::AddColumn { db: d, table: t, .. }
        | Operation::DropColumn { db: d, table: t, .. }
        | Operation::ReplaceColumn { db: d, table: t, .. }
        | Operation::SetColumnComment { db: d, table: t, .. }
        | Operation::RenameColumn { db: d, table: t, .. } => WholeScope::Tables(d, vec![t]),
    }
}

/// Whether one of the `held` locks covers `scope`: its path (database, table, partition) is a
/// prefix of the scope's.
pub fn scope_covered(held: &[LockKey], scope: &LockScope) -> bool {
    let wanted: (&str, Option<&str>, Option<&Value>) = match scope {
        LockScope::Database(d) => (d, None, None),
        LockScope::Table(d, t) => (d, Some(t), None),
        LockScope::Partition(d, t, p) => (d, Some(t), Some(p)),
        LockScope::PartitionsOf(d, t) => {
            return held.iter().any(|k| {
                let (hd, ht, _) = covered(k);
                hd == d && ht.is_none_or(|ht| ht == t)
            });
        }
    };
    held.iter().any(|k| {
        let (hd, ht, hp) = covered(k);
        hd == wanted.0 && (ht.is_none() || (ht == wanted.1 && (hp.is_none() || hp == wanted.2)))
    })
}

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
    fn a_scope_is_covered_by_a_lock_on_it_or_on_what_contains_it() {
        let (db, table) = (LockKey::Db("a".into()), LockKey::Table("a".into(), "t".into()));
        let whole_table = LockScope::Table("a".into(), "t".into());
        assert!(scope_covered(std::slice::from_ref(&table), &whole_table));
        assert!(scope_covered(&[part("a", "u", 1), db.clone()], &whole_table));
        assert!(!scope_covered(&[part("a", "t", 1)], &whole_table), "a partition does not cover its table");
        assert!(!scope_covered(&[LockKey::Table("a".into(), "u".into())], &whole_table));
        let one = LockScope::Partition("a".into(), "t".into(), Value::Long(1));
        assert!(scope_covered(&[part("a", "t", 1)], &one) && scope_covered(std::slice::from_ref(&table), &one));
        assert!(!scope_covered(&[part("a", "t", 2)], &one));
        let some = LockScope::PartitionsOf("a".into(), "t".into());
        assert!(scope_covered(&[part("a", "t", 2)], &some) && scope_covered(std::slice::from_ref(&db), &some));
        assert!(!scope_covered(&[part("a", "u", 2)], &some) && !scope_covered(&[], &some));
        assert!(scope_covered(&[db], &LockScope::Database("a".into())));
        assert!(!scope_covered(&[table], &LockScope::Database("a".into())), "a table does not cover its database");
    }

    #[test]
    fn writes_lock_the_partitions_they_route_to_and_unpruned_deletes_and_updates_their_table() {
        use ccrsim_model::dfs::{Column, ColumnType, Filter, PartitionScheme};
        let mut db = SequentialDb::new();
        let scheme = PartitionScheme::Value { column_type: ColumnType::Long, values: [Value::Long(1), Value::Long(2)].into() };
        db.apply(&Operation::CreateDomain { db: "a".into(), scheme }).expect("a database");
        let columns = ["p", "v"].map(|name| Column { name: name.into(), ty: ColumnType::Long, comment: String::new() }).to_vec();
        db.apply(&Operation::CreatePartitionedTable { db: "a".into(), table: "t".into(), columns, partition_column: "p".into() })
            .expect("a table");
        let update = |column: &str, cmp: Cmp| Operation::SqlUpdate {
            db: "a".into(),
            table: "t".into(),
            column: "v".into(),
            value: Value::Long(0),
            filter: Some(Filter { column: column.into(), cmp, value: Value::Long(1) }),
        };
        let table = vec![LockScope::Table("a".into(), "t".into())];
        assert_eq!(lock_scopes(&update("p", Cmp::Eq), &db), vec![LockScope::Partition("a".into(), "t".into(), Value::Long(1))]);
        assert_eq!(lock_scopes(&update("p", Cmp::Lt), &db), table, "a range filter does not prune");
        assert_eq!(lock_scopes(&update("v", Cmp::Eq), &db), table, "a filter on another column does not prune");
        assert_eq!(lock_scopes(&Operation::SqlDelete { db: "a".into(), table: "t".into(), filter: None }, &db), table);
        let append = |ps: &[i64]| Operation::Append {
            db: "a".into(),
            table: "t".into(),
            rows: ps.iter().map(|&p| vec![Value::Long(p), Value::Long(0)]).collect(),
        };
        let part = |p: i64| LockScope::Partition("a".into(), "t".into(), Value::Long(p));
        assert_eq!(lock_scopes(&append(&[2, 1, 2]), &db), vec![part(2), part(1)], "each partition its rows fall in, once");
        assert_eq!(lock_scopes(&append(&[3]), &db), vec![LockScope::PartitionsOf("a".into(), "t".into())], "a row in no partition");
        let rename = Operation::RenameTable { db: "a".into(), table: "t".into(), new_name: "u".into() };
        assert_eq!(lock_scopes(&rename, &db), vec![LockScope::Table("a".into(), "t".into()), LockScope::Table("a".into(), "u".into())]);
        assert_eq!(lock_scopes(&Operation::DropDb { db: "a".into() }, &db), vec![LockScope::Database("a".into())]);
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

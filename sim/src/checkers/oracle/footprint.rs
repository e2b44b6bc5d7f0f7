//! What an operation may change, with the checkers' own code and at the grain of the lock rules
//! (T19: a write locks the partitions it writes, table DDL and an unpruned SQL_DELETE or SQL_UPDATE
//! its table, a database-level operation its database), and which part of a database a footprint
//! covers. The end-state check holds back exactly this much of a database where an entry that did
//! not run (FAILED, skipped, never logged) explains a difference.
//!
//! Partitions are named as the data model names them (a VALUE partition by its value, a RANGE one
//! by its lower boundary, a dimension table's one partition by NULL) and found in a database's
//! scheme as a user sees it ([`SchemeView`]), the one of the state the comparison reads; a value
//! the scheme does not place makes the footprint its whole table, never less.

use ccrsim_model::dfs::{Cmp, LockKey, Operation, Row, Value};

use super::locks::{WholeScope, whole_scope};
use super::values::sql_order;
use super::{DbView, SchemeView, TableView};

/// The partition of `scheme` that `value` falls in, if any.
pub fn partition_key(scheme: &SchemeView, value: &Value) -> Option<Value> {
    match scheme {
        SchemeView::Value { values, .. } => values.iter().find(|v| sql_order(v, value).is_some_and(|o| o.is_eq())).cloned(),
        SchemeView::Range { boundaries, .. } => boundaries.windows(2).find_map(|w| {
            let inside = sql_order(&w[0], value).is_some_and(|o| o.is_le()) && sql_order(value, &w[1]).is_some_and(|o| o.is_lt());
            inside.then(|| w[0].clone())
        }),
    }
}

/// The partition a row of `table` (in database `db`) lies in: NULL for a dimension table; `None`
/// when the scheme places it nowhere.
pub fn row_partition(db: &DbView, table: &TableView, row: &Row) -> Option<Value> {
    let Some(column) = &table.partition_column else { return Some(Value::Null) };
    let index = table.columns.iter().position(|c| &c.name == column)?;
    partition_key(&db.scheme, row.get(index)?)
}

/// The locks `op` would need: its written partitions (placed with `db`, the state of its database
/// the comparison reads, if it exists), else its table(s), else its database.
pub fn footprint(op: &Operation, db: Option<&DbView>) -> Vec<LockKey> {
    let table_key = |d: &str, t: &str| LockKey::Table(d.to_string(), t.to_string());
    let partitions = |d: &str, t: &str, keys: Option<Vec<Value>>| match keys {
        Some(keys) => keys.into_iter().map(|k| LockKey::Partition(d.to_string(), t.to_string(), k)).collect(),
        None => vec![table_key(d, t)],
    };
    match op {
        Operation::Append { db: d, table: t, rows } | Operation::AppendChunkGranularity { db: d, table: t, rows } => {
            partitions(d, t, rows_partitions(db, t, rows))
        }
        Operation::Upsert { db: d, table: t, rows, .. } => partitions(d, t, rows_partitions(db, t, rows)),
        Operation::SqlDelete { db: d, table: t, filter } | Operation::SqlUpdate { db: d, table: t, filter, .. } => {
            let pruned = filter.as_ref().and_then(|f| {
                let (dv, tv) = (db?, db?.tables.get(t)?);
                let on_partition_column = f.cmp == Cmp::Eq && tv.partition_column.as_deref() == Some(f.column.as_str());
                on_partition_column.then(|| partition_key(&dv.scheme, &f.value))?
            });
            partitions(d, t, pruned.map(|k| vec![k]))
        }
        Operation::DropPartition { db: d, table: t, partition } => partitions(d, t, Some(vec![partition.clone()])),
        _ => match whole_scope(op) {
            WholeScope::Database(d) => vec![LockKey::Db(d.to_string())],
            WholeScope::Tables(d, tables) => tables.into_iter().map(|t| table_key(d, t)).collect(),
            WholeScope::Data => unreachable!("every data operation is matched above"),
        },
    }
}

/// Whether `op` changes each partition it writes from that partition's own state alone (the row
/// operations: a row's fate depends on the row, and UPSERT's keys include the partitioning column),
/// so that where it meets a partition that differs it leaves a difference only there.
pub fn partition_local(op: &Operation) -> bool {
    matches!(
        op,
        Operation::Append { .. }
            | Operation::AppendChunkGranularity { .. }
            | Operation::Upsert { .. }
            | Operation::SqlDelete { .. }
            | Operation::SqlUpdate { .. }
            | Operation::DropPartition { .. }
    )
}

/// The partitions `rows` of table `t` lie in, by the table as `db` holds it; `None` when a row is
/// placed nowhere or does not fit the table's columns (the table changed since): the whole table.
fn rows_partitions(db: Option<&DbView>, t: &str, rows: &[Row]) -> Option<Vec<Value>> {
    let (db, table) = (db?, db?.tables.get(t)?);
    let mut keys = Vec::new();
    for row in rows {
        if row.len() != table.columns.len() {
            return None;
        }
        let key = row_partition(db, table, row)?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    Some(keys)
}

#[cfg(test)]
mod tests {
    use ccrsim_model::dfs::{ColumnType, Filter};

    use super::*;
    use crate::checkers::oracle::ColumnView;

    fn db(scheme: SchemeView) -> DbView {
        let columns = vec![
            ColumnView { name: "p".into(), ty: ColumnType::Int, comment: String::new() },
            ColumnView { name: "v".into(), ty: ColumnType::Int, comment: String::new() },
        ];
        let t = TableView { columns, partition_column: Some("p".into()), rows: vec![] };
        DbView { scheme, tables: [("t".to_string(), t)].into() }
    }

    fn range() -> DbView {
        db(SchemeView::Range { column_type: ColumnType::Int, boundaries: vec![Value::Int(0), Value::Int(10), Value::Int(20)] })
    }

    fn part(p: i32) -> LockKey {
        LockKey::Partition("d".into(), "t".into(), Value::Int(p))
    }

    #[test]
    fn rows_lie_in_the_partition_of_their_value_or_range() {
        let r = range();
        assert_eq!(partition_key(&r.scheme, &Value::Int(15)), Some(Value::Int(10)));
        assert_eq!(partition_key(&r.scheme, &Value::Int(20)), None, "upper boundary excluded");
        let v = db(SchemeView::Value { column_type: ColumnType::Int, values: vec![Value::Int(1), Value::Int(2)] });
        assert_eq!(partition_key(&v.scheme, &Value::Int(2)), Some(Value::Int(2)));
        assert_eq!(partition_key(&v.scheme, &Value::Int(3)), None);
        assert_eq!(row_partition(&r, &r.tables["t"], &vec![Value::Int(3), Value::Int(9)]), Some(Value::Int(0)));
    }

    #[test]
    fn writes_hold_their_partitions_and_ddl_its_table_or_database() {
        let r = range();
        let rows = vec![vec![Value::Int(1), Value::Int(0)], vec![Value::Int(12), Value::Int(0)], vec![Value::Int(2), Value::Int(0)]];
        let append = Operation::Append { db: "d".into(), table: "t".into(), rows: rows.clone() };
        assert_eq!(footprint(&append, Some(&r)), vec![part(0), part(10)]);
        let table = LockKey::Table("d".into(), "t".into());
        assert_eq!(footprint(&append, None), vec![table.clone()], "a database not there: the whole table");
        let outside = Operation::Append { db: "d".into(), table: "t".into(), rows: vec![vec![Value::Int(25), Value::Int(0)]] };
        assert_eq!(footprint(&outside, Some(&r)), vec![table.clone()], "a value placed nowhere: the whole table");
        let pruned = Filter { column: "p".into(), cmp: Cmp::Eq, value: Value::Int(13) };
        let delete = Operation::SqlDelete { db: "d".into(), table: "t".into(), filter: Some(pruned) };
        assert_eq!(footprint(&delete, Some(&r)), vec![part(10)]);
        let unpruned = Filter { column: "v".into(), cmp: Cmp::Eq, value: Value::Int(13) };
        let update =
            Operation::SqlUpdate { db: "d".into(), table: "t".into(), column: "v".into(), value: Value::Int(1), filter: Some(unpruned) };
        assert_eq!(footprint(&update, Some(&r)), vec![table.clone()]);
        let rename = Operation::RenameTable { db: "d".into(), table: "t".into(), new_name: "u".into() };
        assert_eq!(footprint(&rename, Some(&r)), vec![table, LockKey::Table("d".into(), "u".into())]);
        assert_eq!(footprint(&Operation::DropDb { db: "d".into() }, Some(&r)), vec![LockKey::Db("d".into())]);
    }
}

//! What an operation does, decided from the catalog before it runs: which locks it takes, which
//! chunks it writes and how, and how it changes the catalog when it commits.
//!
//! The same planner serves the controller (at BEGIN, against its catalog and chunk map) and the
//! sequential reference model, so both give every operation the same meaning. Invalid use comes
//! back as an error, never as a panic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalog::{Catalog, Column, Database, PartitionKey, Table, TableId};
use super::chunk::{ChunkDelta, Condition};
use super::operation::{Cmp, Filter, OpError, Operation, OperationKind, Query, Row};
use super::value::Value;

/// A lock a transaction holds until it ends. Locks nest: a database lock conflicts with every lock
/// inside it, a table lock with every partition lock of the table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LockKey {
    /// A whole database.
    Db(String),
    /// A whole table.
    Table(String, String),
    /// One partition of one table: one writing transaction per partition.
    Partition(String, String, PartitionKey),
}

impl LockKey {
    /// Whether two locks exclude each other.
    pub fn conflicts(&self, other: &LockKey) -> bool {
        use LockKey::*;
        match (self, other) {
            (Db(a), Db(b)) => a == b,
            (Db(a), Table(b, _)) | (Table(b, _), Db(a)) => a == b,
            (Db(a), Partition(b, _, _)) | (Partition(b, _, _), Db(a)) => a == b,
            (Table(a, t), Table(b, u)) => a == b && t == u,
            (Table(a, t), Partition(b, u, _)) | (Partition(b, u, _), Table(a, t)) => a == b && t == u,
            (Partition(a, t, p), Partition(b, u, q)) => a == b && t == u && p == q,
        }
    }
}

/// One chunk write of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkWrite {
    /// The table.
    pub table: TableId,
    /// The partition (the chunk is created if it does not exist yet).
    pub partition: PartitionKey,
    /// What to do to it.
    pub delta: ChunkDelta,
}

/// What an operation will do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Plan {
    /// Its type.
    pub kind: OperationKind,
    /// Locks to hold from BEGIN to the end.
    pub locks: Vec<LockKey>,
    /// Chunk writes, in a stable order.
    pub writes: Vec<ChunkWrite>,
}

/// Plans `op` against `catalog`; `existing(table)` lists the partitions of a table that hold a chunk.
pub fn plan(catalog: &Catalog, existing: &dyn Fn(TableId) -> Vec<PartitionKey>, op: &Operation) -> Result<Plan, OpError> {
    let kind = op.kind();
    let db_name = op.database();
    let mut locks = Vec::new();
    let mut writes = Vec::new();
    let table_lock = |t: &str| LockKey::Table(db_name.to_string(), t.to_string());
    let db = || catalog.database(db_name).ok_or_else(|| OpError::invalid(format!("database {db_name} does not exist")));
    let table = |name: &str| -> Result<(&Database, &Table), OpError> {
        let d = db()?;
        let t = d.tables.get(name).ok_or_else(|| OpError::invalid(format!("table {name} does not exist in {db_name}")))?;
        Ok((d, t))
    };
    let every_chunk = |t: &Table, delta: ChunkDelta| -> Vec<ChunkWrite> {
        existing(t.id).into_iter().map(|partition| ChunkWrite { table: t.id, partition, delta: delta.clone() }).collect()
    };
    match op {
        Operation::Append { table: name, rows, .. } | Operation::AppendChunkGranularity { table: name, rows, .. } => {
            let (d, t) = table(name)?;
            for (partition, rows) in route(d, t, rows)? {
                locks.push(LockKey::Partition(db_name.into(), name.clone(), partition.clone()));
                writes.push(ChunkWrite { table: t.id, partition, delta: ChunkDelta::Append(rows) });
            }
        }
        Operation::Upsert { table: name, keys, rows, .. } => {
            let (d, t) = table(name)?;
            let keys = keys
                .iter()
                .map(|k| t.column_index(k).ok_or_else(|| OpError::invalid(format!("key column {k} does not exist"))))
                .collect::<Result<Vec<usize>, OpError>>()?;
            if keys.is_empty() {
                return Err(OpError::invalid("upsert needs key columns"));
            }
            if let Some(p) = t.partition_index()
                && !keys.contains(&p)
            {
                return Err(OpError::invalid("the partitioning column must be a key column of an upsert"));
            }
            for (partition, rows) in route(d, t, rows)? {
                locks.push(LockKey::Partition(db_name.into(), name.clone(), partition.clone()));
                writes.push(ChunkWrite { table: t.id, partition, delta: ChunkDelta::Upsert { keys: keys.clone(), rows } });
            }
        }
        Operation::SqlDelete { table: name, filter, .. } => {
            let (d, t) = table(name)?;
            let condition = filter.as_ref().map(|f| condition(t, f)).transpose()?;
            let pruned = prune(d, t, filter.as_ref());
            lock_and_write(&mut locks, &mut writes, db_name, t, pruned, existing, ChunkDelta::Delete(condition));
        }
        Operation::SqlUpdate { table: name, column, value, filter, .. } => {
            let (d, t) = table(name)?;
            let i = t.column_index(column).ok_or_else(|| OpError::invalid(format!("column {column} does not exist")))?;
            if !value.fits(t.columns[i].ty) {
                return Err(OpError::invalid(format!("{value} does not fit column {column} of type {:?}", t.columns[i].ty)));
            }
            if t.partition_index() == Some(i) {
                return Err(OpError::invalid("the partitioning column cannot be updated"));
            }
            let condition = filter.as_ref().map(|f| condition(t, f)).transpose()?;
            let pruned = prune(d, t, filter.as_ref());
            let delta = ChunkDelta::Update { column: i, value: value.clone(), condition };
            lock_and_write(&mut locks, &mut writes, db_name, t, pruned, existing, delta);
        }
        Operation::DropTable { table: name, .. } | Operation::TruncateTable { table: name, .. } => {
            let (_, t) = table(name)?;
            locks.push(table_lock(name));
            let delta = if kind == OperationKind::DROP_TABLE { ChunkDelta::Drop } else { ChunkDelta::Truncate };
            writes = every_chunk(t, delta);
        }
        Operation::DropPartition { table: name, partition, .. } => {
            let (d, t) = table(name)?;
            if t.partition_column.is_none() {
                return Err(OpError::invalid(format!("{name} is not partitioned")));
            }
            if !d.scheme.keys().contains(partition) {
                return Err(OpError::invalid(format!("partition {partition} does not exist in {db_name}")));
            }
            locks.push(LockKey::Partition(db_name.into(), name.clone(), partition.clone()));
            if existing(t.id).contains(partition) {
                writes.push(ChunkWrite { table: t.id, partition: partition.clone(), delta: ChunkDelta::Drop });
            }
        }
        Operation::DropDb { .. } => {
            let d = db()?;
            locks.push(LockKey::Db(db_name.into()));
            for t in d.tables.values() {
                writes.extend(every_chunk(t, ChunkDelta::Drop));
            }
        }
        Operation::AddRangePartition { boundary, .. } => {
            let d = db()?;
            let super::catalog::PartitionScheme::Range { boundaries, column_type } = &d.scheme else {
                return Err(OpError::invalid(format!("{db_name} is not RANGE partitioned")));
            };
            if !boundary.fits(*column_type) || *boundary == Value::Null {
                return Err(OpError::invalid(format!("{boundary} does not fit the {column_type:?} domain")));
            }
            let last = boundaries.last().expect("a range has boundaries");
            if boundary.compare(last).is_none_or(|o| !o.is_gt()) {
                return Err(OpError::invalid(format!("new boundary {boundary} must be above the last one, {last}")));
            }
            locks.push(LockKey::Db(db_name.into()));
        }
        Operation::AddValuePartition { value, .. } => {
            let d = db()?;
            let super::catalog::PartitionScheme::Value { values, column_type } = &d.scheme else {
                return Err(OpError::invalid(format!("{db_name} is not VALUE partitioned")));
            };
            if !value.fits(*column_type) || *value == Value::Null {
                return Err(OpError::invalid(format!("{value} does not fit the {column_type:?} domain")));
            }
            if values.contains(value) {
                return Err(OpError::invalid(format!("partition {value} exists already")));
            }
            locks.push(LockKey::Db(db_name.into()));
        }
        Operation::CreateDomain { scheme, .. } => {
            if catalog.database(db_name).is_some() {
                return Err(OpError::invalid(format!("database {db_name} exists already")));
            }
            scheme.check().map_err(OpError::invalid)?;
            locks.push(LockKey::Db(db_name.into()));
        }
        Operation::CreateTable { table: name, columns, .. } | Operation::CreatePartitionedTable { table: name, columns, .. } => {
            let d = db()?;
            check_name(name)?;
            if d.tables.contains_key(name) {
                return Err(OpError::invalid(format!("table {name} exists already in {db_name}")));
            }
            check_columns(columns)?;
            if let Operation::CreatePartitionedTable { partition_column, .. } = op {
                let c = columns
                    .iter()
                    .find(|c| &c.name == partition_column)
                    .ok_or_else(|| OpError::invalid(format!("partitioning column {partition_column} is not a column")))?;
                if c.ty != d.scheme.column_type() {
                    return Err(OpError::invalid(format!(
                        "partitioning column {partition_column} is {:?}, the domain is {:?}",
                        c.ty,
                        d.scheme.column_type()
                    )));
                }
            }
            locks.push(table_lock(name));
        }
        Operation::AddColumn { table: name, column, .. } => {
            let (_, t) = table(name)?;
            if t.column_index(&column.name).is_some() {
                return Err(OpError::invalid(format!("column {} exists already", column.name)));
            }
            check_name(&column.name)?;
            locks.push(table_lock(name));
            writes = every_chunk(t, ChunkDelta::AddColumn);
        }
        Operation::DropColumn { table: name, column, .. } => {
            let (_, t) = table(name)?;
            let i = t.column_index(column).ok_or_else(|| OpError::invalid(format!("column {column} does not exist")))?;
            if t.partition_index() == Some(i) {
                return Err(OpError::invalid("the partitioning column cannot be dropped"));
            }
            if t.columns.len() == 1 {
                return Err(OpError::invalid("a table keeps at least one column"));
            }
            locks.push(table_lock(name));
            writes = every_chunk(t, ChunkDelta::DropColumn(i));
        }
        Operation::RenameTable { table: name, new_name, .. } => {
            let (d, _) = table(name)?;
            check_name(new_name)?;
            if d.tables.contains_key(new_name) {
                return Err(OpError::invalid(format!("table {new_name} exists already")));
            }
            locks.push(table_lock(name));
            locks.push(table_lock(new_name));
        }
        Operation::ReplaceColumn { table: name, column, ty, .. } => {
            let (_, t) = table(name)?;
            let i = t.column_index(column).ok_or_else(|| OpError::invalid(format!("column {column} does not exist")))?;
            if t.partition_index() == Some(i) {
                return Err(OpError::invalid("the partitioning column cannot change type"));
            }
            if !t.columns[i].ty.converts_to(*ty) {
                return Err(OpError::invalid(format!("a {:?} column cannot become {ty:?}", t.columns[i].ty)));
            }
            locks.push(table_lock(name));
            writes = every_chunk(t, ChunkDelta::ReplaceColumn(i, *ty));
        }
        Operation::SetColumnComment { table: name, column, .. } => {
            let (_, t) = table(name)?;
            t.column_index(column).ok_or_else(|| OpError::invalid(format!("column {column} does not exist")))?;
            locks.push(table_lock(name));
        }
        Operation::RenameColumn { table: name, column, new_name, .. } => {
            let (_, t) = table(name)?;
            t.column_index(column).ok_or_else(|| OpError::invalid(format!("column {column} does not exist")))?;
            check_name(new_name)?;
            if t.column_index(new_name).is_some() {
                return Err(OpError::invalid(format!("column {new_name} exists already")));
            }
            locks.push(table_lock(name));
        }
    }
    Ok(Plan { kind, locks, writes })
}

/// Applies a committed operation's change to the catalog. The operation was planned against this
/// catalog under its locks, so it is valid here; anything else is a bug.
pub fn apply_catalog(catalog: &mut Catalog, op: &Operation) {
    let db_name = op.database().to_string();
    let next_table_id = &mut catalog.next_table_id;
    let broken = || -> ! { panic!("a committed {} no longer fits the catalog", op.kind()) };
    match op {
        Operation::CreateDomain { scheme, .. } => {
            let id = catalog.next_db_id;
            catalog.next_db_id += 1;
            catalog.databases.insert(db_name.clone(), Database { id, name: db_name, scheme: scheme.clone(), tables: BTreeMap::new() });
            return;
        }
        Operation::DropDb { .. } => {
            catalog.databases.remove(&db_name).unwrap_or_else(|| broken());
            return;
        }
        _ => {}
    }
    let d = catalog.databases.get_mut(&db_name).unwrap_or_else(|| broken());
    match op {
        Operation::Append { .. }
        | Operation::AppendChunkGranularity { .. }
        | Operation::SqlDelete { .. }
        | Operation::SqlUpdate { .. }
        | Operation::Upsert { .. }
        | Operation::TruncateTable { .. }
        | Operation::DropPartition { .. } => {}
        Operation::CreateDomain { .. } | Operation::DropDb { .. } => unreachable!("handled above"),
        Operation::DropTable { table, .. } => {
            d.tables.remove(table).unwrap_or_else(|| broken());
        }
        Operation::AddRangePartition { boundary, .. } => match &mut d.scheme {
            super::catalog::PartitionScheme::Range { boundaries, .. } => boundaries.push(boundary.clone()),
            _ => broken(),
        },
        Operation::AddValuePartition { value, .. } => match &mut d.scheme {
            super::catalog::PartitionScheme::Value { values, .. } => {
                values.insert(value.clone());
            }
            _ => broken(),
        },
        Operation::CreateTable { table, columns, .. } | Operation::CreatePartitionedTable { table, columns, .. } => {
            let id = *next_table_id;
            *next_table_id += 1;
            let partition_column = match op {
                Operation::CreatePartitionedTable { partition_column, .. } => Some(partition_column.clone()),
                _ => None,
            };
            d.tables.insert(table.clone(), Table { id, name: table.clone(), columns: columns.clone(), partition_column });
        }
        Operation::AddColumn { table, column, .. } => d.tables.get_mut(table).unwrap_or_else(|| broken()).columns.push(column.clone()),
        Operation::DropColumn { table, column, .. } => {
            let t = d.tables.get_mut(table).unwrap_or_else(|| broken());
            let i = t.column_index(column).unwrap_or_else(|| broken());
            t.columns.remove(i);
        }
        Operation::RenameTable { table, new_name, .. } => {
            let mut t = d.tables.remove(table).unwrap_or_else(|| broken());
            t.name = new_name.clone();
            d.tables.insert(new_name.clone(), t);
        }
        Operation::ReplaceColumn { table, column, ty, .. } => {
            let t = d.tables.get_mut(table).unwrap_or_else(|| broken());
            let i = t.column_index(column).unwrap_or_else(|| broken());
            t.columns[i].ty = *ty;
        }
        Operation::SetColumnComment { table, column, comment, .. } => {
            let t = d.tables.get_mut(table).unwrap_or_else(|| broken());
            let i = t.column_index(column).unwrap_or_else(|| broken());
            t.columns[i].comment = comment.clone();
        }
        Operation::RenameColumn { table, column, new_name, .. } => {
            let t = d.tables.get_mut(table).unwrap_or_else(|| broken());
            let i = t.column_index(column).unwrap_or_else(|| broken());
            if t.partition_column.as_deref() == Some(column.as_str()) {
                t.partition_column = Some(new_name.clone());
            }
            t.columns[i].name = new_name.clone();
        }
    }
}

/// What a query reads, decided from the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueryPlan {
    /// The table.
    pub table: TableId,
    /// The one partition an equality filter prunes the read to; `None`: every partition.
    pub pruned: Option<PartitionKey>,
    /// The filter, with its column resolved (replicas never consult the catalog).
    pub condition: Option<Condition>,
}

/// Plans a query against `catalog`: the table exists, and a filter compares its partitioning
/// column with a non-NULL value of the column's type.
pub fn plan_query(catalog: &Catalog, q: &Query) -> Result<QueryPlan, OpError> {
    let d = catalog.database(&q.db).ok_or_else(|| OpError::invalid(format!("database {} does not exist", q.db)))?;
    let t = d.tables.get(&q.table).ok_or_else(|| OpError::invalid(format!("table {} does not exist in {}", q.table, q.db)))?;
    if let Some(f) = &q.filter
        && t.partition_column.as_deref() != Some(f.column.as_str())
    {
        return Err(OpError::invalid(format!("a query filters on the partitioning column of {}, not on {}", t.name, f.column)));
    }
    let condition = q.filter.as_ref().map(|f| condition(t, f)).transpose()?;
    let plan = QueryPlan { table: t.id, pruned: prune(d, t, q.filter.as_ref()), condition };
    assert!(plan.pruned.is_none() || plan.condition.is_some(), "pruned without a filter");
    Ok(plan)
}

/// Splits rows by partition after checking them against the table's columns.
fn route(d: &Database, t: &Table, rows: &[Row]) -> Result<BTreeMap<PartitionKey, Vec<Row>>, OpError> {
    if rows.is_empty() {
        return Err(OpError::invalid("no rows"));
    }
    let mut by_partition: BTreeMap<PartitionKey, Vec<Row>> = BTreeMap::new();
    for row in rows {
        if row.len() != t.columns.len() {
            return Err(OpError::invalid(format!("a row has {} values, table {} has {} columns", row.len(), t.name, t.columns.len())));
        }
        if let Some((c, v)) = t.columns.iter().zip(row).find(|(c, v)| !v.fits(c.ty)) {
            return Err(OpError::invalid(format!("type mismatch: {v} in column {} of type {:?}", c.name, c.ty)));
        }
        let key = match t.partition_index() {
            None => Value::Null,
            Some(i) => {
                d.scheme.partition_of(&row[i]).ok_or_else(|| OpError::invalid(format!("{} is in no partition of {}", row[i], d.name)))?
            }
        };
        by_partition.entry(key).or_default().push(row.clone());
    }
    Ok(by_partition)
}

fn condition(t: &Table, f: &Filter) -> Result<Condition, OpError> {
    let column = t.column_index(&f.column).ok_or_else(|| OpError::invalid(format!("column {} does not exist", f.column)))?;
    if f.value == Value::Null || !f.value.fits(t.columns[column].ty) {
        return Err(OpError::invalid(format!("cannot compare column {} of type {:?} with {}", f.column, t.columns[column].ty, f.value)));
    }
    Ok(Condition { column, cmp: f.cmp, value: f.value.clone() })
}

/// The single partition an equality filter on the partitioning column selects (partition pruning).
fn prune(d: &Database, t: &Table, filter: Option<&Filter>) -> Option<PartitionKey> {
    let f = filter?;
    (f.cmp == Cmp::Eq && t.partition_column.as_deref() == Some(f.column.as_str())).then(|| d.scheme.partition_of(&f.value))?
}

/// DML on one pruned partition locks it; on the whole table it locks the table (so that no chunk
/// appears in a partition it did not see).
fn lock_and_write(
    locks: &mut Vec<LockKey>,
    writes: &mut Vec<ChunkWrite>,
    db: &str,
    t: &Table,
    pruned: Option<PartitionKey>,
    existing: &dyn Fn(TableId) -> Vec<PartitionKey>,
    delta: ChunkDelta,
) {
    match pruned {
        Some(p) => {
            locks.push(LockKey::Partition(db.into(), t.name.clone(), p.clone()));
            if existing(t.id).contains(&p) {
                writes.push(ChunkWrite { table: t.id, partition: p, delta });
            }
        }
        None => {
            locks.push(LockKey::Table(db.into(), t.name.clone()));
            writes.extend(existing(t.id).into_iter().map(|partition| ChunkWrite { table: t.id, partition, delta: delta.clone() }));
        }
    }
}

fn check_name(name: &str) -> Result<(), OpError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(OpError::invalid(format!("{name:?} is not a valid name")));
    }
    Ok(())
}

fn check_columns(columns: &[Column]) -> Result<(), OpError> {
    if columns.is_empty() {
        return Err(OpError::invalid("a table needs at least one column"));
    }
    for (i, c) in columns.iter().enumerate() {
        check_name(&c.name)?;
        if columns[..i].iter().any(|d| d.name == c.name) {
            return Err(OpError::invalid(format!("column {} appears twice", c.name)));
        }
    }
    Ok(())
}

//! The catalog: databases partitioned by VALUE or RANGE, their tables and typed columns.
//!
//! Databases and tables carry ids that never change (a renamed table keeps its id, a re-created
//! one gets a new id), so chunks and locks survive renames. Ids are handed out as catalog changes
//! are applied, which happens in commit order, so every copy of the catalog agrees on them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::value::{ColumnType, Value};

/// Id of a database.
pub type DbId = u64;
/// Id of a table.
pub type TableId = u64;

/// A column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Column {
    /// Name, unique in its table.
    pub name: String,
    /// Type.
    pub ty: ColumnType,
    /// Free text (SET_COLUMN_COMMENT).
    pub comment: String,
}

impl Column {
    /// A column without comment.
    pub fn new(name: &str, ty: ColumnType) -> Column {
        Column { name: name.into(), ty, comment: String::new() }
    }
}

/// How a database splits its rows into partitions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PartitionScheme {
    /// One partition per listed value.
    Value { column_type: ColumnType, values: BTreeSet<Value> },
    /// Partition `i` holds `boundaries[i] <= v < boundaries[i + 1]`.
    Range { column_type: ColumnType, boundaries: Vec<Value> },
}

/// Identifies a partition in its database: the VALUE itself, or a range's lower boundary.
/// Unpartitioned (dimension) tables have one partition, [`Value::Null`].
pub type PartitionKey = Value;

impl PartitionScheme {
    /// The type of the partitioning column.
    pub fn column_type(&self) -> ColumnType {
        match self {
            PartitionScheme::Value { column_type, .. } | PartitionScheme::Range { column_type, .. } => *column_type,
        }
    }

    /// The partition a value falls in.
    pub fn partition_of(&self, v: &Value) -> Option<PartitionKey> {
        match self {
            PartitionScheme::Value { values, .. } => values.contains(v).then(|| v.clone()),
            PartitionScheme::Range { boundaries, .. } => boundaries.windows(2).find_map(|w| {
                let inside = w[0].compare(v).is_some_and(|o| o.is_le()) && v.compare(&w[1]).is_some_and(|o| o.is_lt());
                inside.then(|| w[0].clone())
            }),
        }
    }

    /// Every partition key of the scheme.
    pub fn keys(&self) -> Vec<PartitionKey> {
        match self {
            PartitionScheme::Value { values, .. } => values.iter().cloned().collect(),
            PartitionScheme::Range { boundaries, .. } => boundaries[..boundaries.len().saturating_sub(1)].to_vec(),
        }
    }

    /// Whether the scheme is well formed.
    pub fn check(&self) -> Result<(), String> {
        let ty = self.column_type();
        if !ty.can_partition() {
            return Err(format!("a {ty:?} column cannot partition a database"));
        }
        match self {
            PartitionScheme::Value { values, .. } => {
                if values.is_empty() {
                    return Err("a VALUE domain needs at least one value".into());
                }
                if let Some(v) = values.iter().find(|v| !v.fits(ty) || **v == Value::Null) {
                    return Err(format!("value {v} does not fit a {ty:?} domain"));
                }
            }
            PartitionScheme::Range { boundaries, .. } => {
                if boundaries.len() < 2 {
                    return Err("a RANGE domain needs at least two boundaries".into());
                }
                if let Some(v) = boundaries.iter().find(|v| !v.fits(ty) || **v == Value::Null) {
                    return Err(format!("boundary {v} does not fit a {ty:?} domain"));
                }
                if !boundaries.windows(2).all(|w| w[0].compare(&w[1]).is_some_and(|o| o.is_lt())) {
                    return Err("RANGE boundaries must increase strictly".into());
                }
            }
        }
        Ok(())
    }
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Table {
    /// Stable id.
    pub id: TableId,
    /// Name, unique in its database.
    pub name: String,
    /// Columns, in row order.
    pub columns: Vec<Column>,
    /// The partitioning column; `None` for a dimension table (CREATE_TABLE: one chunk).
    pub partition_column: Option<String>,
}

impl Table {
    /// Index of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Index of the partitioning column.
    pub fn partition_index(&self) -> Option<usize> {
        self.partition_column.as_deref().and_then(|c| self.column_index(c))
    }
}

/// A database.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Database {
    /// Stable id.
    pub id: DbId,
    /// Name such as `dfs://db0`.
    pub name: String,
    /// How rows are split.
    pub scheme: PartitionScheme,
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
}

/// Every database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Catalog {
    /// Databases by name.
    pub databases: BTreeMap<String, Database>,
    /// Next database id to hand out.
    pub next_db_id: DbId,
    /// Next table id to hand out.
    pub next_table_id: TableId,
}

impl Catalog {
    /// A database by name.
    pub fn database(&self, name: &str) -> Option<&Database> {
        self.databases.get(name)
    }

    /// A table by database and table name.
    pub fn table(&self, db: &str, table: &str) -> Option<&Table> {
        self.databases.get(db)?.tables.get(table)
    }

    /// Every table, as `(database, table)`.
    pub fn tables(&self) -> impl Iterator<Item = (&Database, &Table)> {
        self.databases.values().flat_map(|d| d.tables.values().map(move |t| (d, t)))
    }

    /// The table with this id.
    pub fn table_by_id(&self, id: TableId) -> Option<(&Database, &Table)> {
        self.tables().find(|(_, t)| t.id == id)
    }
}

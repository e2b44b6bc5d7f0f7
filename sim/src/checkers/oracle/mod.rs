//! An independent oracle for the DFS checkers: a plain sequential database ([`SequentialDb`]) that
//! gives the 20 operation types their meaning with its own code, and a user-level view of a
//! database ([`DbView`]) that both the oracle and a real cluster's state can be turned into.
//!
//! Why a second implementation: the model's `ReferenceDb` runs the model's own planner
//! (`plan`, `apply_catalog`, `ChunkData::apply`), the very code the cluster runs, so a planner bug
//! would sit in both the system and the expectation and no checker could see it. This oracle shares
//! only the plain data types with the model (`Operation`, `Value`, `ColumnType`, `Filter`, `Cmp`,
//! and, read field by field, `Catalog`); it keeps one vector of rows per table name, no chunks and
//! no ids, and has its own value rules (`values.rs`). A differential test holds it to the model on
//! random histories, so a difference is either a finding or a documented exception.

mod difference;
mod footprint;
mod locks;
mod selection;
mod sequential_db;
mod values;

#[cfg(test)]
mod differential_tests;

use std::collections::BTreeMap;

use ccrsim_model::dfs::{Catalog, ColumnType, PartitionScheme, Row, TableId, Value};

pub use difference::first_difference;
pub use footprint::{footprint, partition_local, row_partition};
pub use locks::{LockScope, footprints_overlap, lock_scopes, locks_overlap, scope_covered};
pub use selection::{RowsDigest, TableDigest};
pub use sequential_db::SequentialDb;

/// A database's partition scheme as a user sees it (`schema(db).partitionSchema`), in a canonical
/// form so that two clusters that hold the same domain show equal schemes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SchemeView {
    /// VALUE partitioning: one partition per value, the values in canonical order, each once.
    Value {
        /// Type of the partitioning column.
        column_type: ColumnType,
        /// The partitions' values.
        values: Vec<Value>,
    },
    /// RANGE partitioning: partition `i` holds `boundaries[i] <= v < boundaries[i + 1]`.
    Range {
        /// Type of the partitioning column.
        column_type: ColumnType,
        /// Strictly increasing boundaries, as created and extended.
        boundaries: Vec<Value>,
    },
}

/// A column as `schema(t).colDefs` shows it: everything an operation can change about a column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnView {
    /// Name, unique in its table.
    pub name: String,
    /// Type.
    pub ty: ColumnType,
    /// Free text (SET_COLUMN_COMMENT; ADD_COLUMN and table creation bring their own).
    pub comment: String,
}

/// A table as a user sees it: schema and rows, without the ids or chunks a cluster uses inside.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableView {
    /// Columns in row order.
    pub columns: Vec<ColumnView>,
    /// The partitioning column; `None` for a dimension table.
    pub partition_column: Option<String>,
    /// Every row. Sorted into a canonical order in a view (row order means nothing to a user);
    /// in insertion order inside [`SequentialDb`] (UPSERT replaces the first matching row).
    pub rows: Vec<Row>,
}

/// A database as a user sees it: what the checkers compare between the oracle and a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DbView {
    /// How rows are split into partitions.
    pub scheme: SchemeView,
    /// Tables by name.
    pub tables: BTreeMap<String, TableView>,
}

impl DbView {
    /// The same database with every table's rows in canonical order, so that views compare equal
    /// exactly when they hold the same schema and the same multiset of rows.
    fn into_canonical(mut self) -> DbView {
        for table in self.tables.values_mut() {
            values::sort_rows(&mut table.rows);
        }
        self
    }
}

/// The views of the databases `keep` selects, built from a cluster's catalog (read field by field,
/// no model function involved) and the rows of each of its tables (`rows_of`, e.g. read from a
/// complete replica of every chunk), for comparison with [`SequentialDb::views`].
pub fn views_of_catalog(catalog: &Catalog, rows_of: impl Fn(TableId) -> Vec<Row>, keep: impl Fn(&str) -> bool) -> BTreeMap<String, DbView> {
    catalog
        .databases
        .iter()
        .filter(|(name, _)| keep(name))
        .map(|(name, database)| {
            let tables = database
                .tables
                .iter()
                .map(|(table_name, table)| {
                    let columns =
                        table.columns.iter().map(|c| ColumnView { name: c.name.clone(), ty: c.ty, comment: c.comment.clone() }).collect();
                    let view = TableView { columns, partition_column: table.partition_column.clone(), rows: rows_of(table.id) };
                    (table_name.clone(), view)
                })
                .collect();
            (name.clone(), DbView { scheme: scheme_view(&database.scheme), tables }.into_canonical())
        })
        .collect()
}

/// A scheme as data, in the canonical form of [`SchemeView`] (VALUE values sorted, each once).
fn scheme_view(scheme: &PartitionScheme) -> SchemeView {
    match scheme {
        PartitionScheme::Value { column_type, values } => {
            let mut values: Vec<Value> = values.iter().cloned().collect();
            values.sort_by(values::canonical_order);
            values.dedup();
            SchemeView::Value { column_type: *column_type, values }
        }
        PartitionScheme::Range { column_type, boundaries } => {
            SchemeView::Range { column_type: *column_type, boundaries: boundaries.clone() }
        }
    }
}

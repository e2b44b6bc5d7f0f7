//! The model's reference: a sequential, in-memory database that applies operations one after the
//! other through the model's own planner. The unit tests of every operation type run against it
//! (model/tests/operations.rs), and reports fold its final state into a digest. The checkers do
//! not judge with it: sharing the planner with the system under test, it could not see a planner
//! bug; they use their own sequential database (sim/src/checkers/oracle/), held to this one by a
//! differential test.

use std::collections::BTreeMap;

use super::catalog::{Catalog, PartitionKey, TableId};
use super::chunk::{ChunkData, ChunkDelta};
use super::operation::{OpError, Operation};
use super::plan::{apply_catalog, plan};

/// Catalog plus the rows of every chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceDb {
    /// Databases, tables, columns.
    pub catalog: Catalog,
    /// Rows by `(table, partition)`.
    pub chunks: BTreeMap<(TableId, PartitionKey), ChunkData>,
}

impl ReferenceDb {
    /// Applies one operation, or leaves everything as it was and returns why not.
    pub fn apply(&mut self, op: &Operation) -> Result<(), OpError> {
        let existing = |t: TableId| self.chunks.keys().filter(|(id, _)| *id == t).map(|(_, p)| p.clone()).collect();
        let plan = plan(&self.catalog, &existing, op)?;
        for w in &plan.writes {
            let key = (w.table, w.partition.clone());
            if w.delta == ChunkDelta::Drop {
                self.chunks.remove(&key);
            } else {
                self.chunks.entry(key).or_default().apply(&w.delta);
            }
        }
        apply_catalog(&mut self.catalog, op);
        Ok(())
    }

    /// The rows of a table, across partitions, sorted (for comparisons).
    pub fn rows_of(&self, table: TableId) -> Vec<super::operation::Row> {
        let mut rows: Vec<_> = self.chunks.iter().filter(|((t, _), _)| *t == table).flat_map(|(_, c)| c.rows.iter().cloned()).collect();
        rows.sort();
        rows
    }
}

/// A table as a user sees it: its schema and rows (sorted), without the ids a cluster hands out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableView {
    /// Columns, in row order.
    pub columns: Vec<super::catalog::Column>,
    /// The partitioning column.
    pub partition_column: Option<String>,
    /// Every row, sorted.
    pub rows: Vec<super::operation::Row>,
}

/// A database as a user sees it. Two clusters that ran the same operations in a different order
/// of non-conflicting ones hold different ids (ids follow each cluster's commit order) but must
/// show the same views: replication compares these.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatabaseView {
    /// How rows are split.
    pub scheme: super::catalog::PartitionScheme,
    /// Tables by name.
    pub tables: BTreeMap<String, TableView>,
}

/// The views of the databases `keep` selects, with each table's rows from `rows_of`.
pub fn database_views(
    catalog: &Catalog,
    rows_of: impl Fn(TableId) -> Vec<super::operation::Row>,
    keep: impl Fn(&str) -> bool,
) -> BTreeMap<String, DatabaseView> {
    catalog
        .databases
        .iter()
        .filter(|(name, _)| keep(name))
        .map(|(name, d)| {
            let tables = d
                .tables
                .iter()
                .map(|(t, table)| {
                    let mut rows = rows_of(table.id);
                    rows.sort();
                    (t.clone(), TableView { columns: table.columns.clone(), partition_column: table.partition_column.clone(), rows })
                })
                .collect();
            (name.clone(), DatabaseView { scheme: d.scheme.clone(), tables })
        })
        .collect()
}

impl ReferenceDb {
    /// The views of the databases `keep` selects.
    pub fn views(&self, keep: impl Fn(&str) -> bool) -> BTreeMap<String, DatabaseView> {
        database_views(&self.catalog, |t| self.rows_of(t), keep)
    }
}

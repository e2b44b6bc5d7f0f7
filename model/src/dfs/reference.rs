//! The reference model: a plain, sequential, in-memory database that applies operations one after
//! the other. The simulation's master cluster must end in the state this reaches by applying the
//! committed operations in commit order (sim/src/checkers/reference_model.rs), and the unit tests
//! of every operation type run against it.

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

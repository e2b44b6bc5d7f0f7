//! A chunk's rows and the changes a transaction makes to them.
//!
//! Replicas never see the catalog: a delta carries resolved column positions, so every replica of a
//! chunk that starts from the same rows ends with the same rows.

use serde::{Deserialize, Serialize};

use super::operation::{Cmp, Row};
use super::value::{ColumnType, Value};
use crate::core::digest::StableHasher;

/// `row[column] <cmp> value`, with the column resolved to its position.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Condition {
    /// Column position.
    pub column: usize,
    /// Comparison.
    pub cmp: Cmp,
    /// Right-hand side.
    pub value: Value,
}

impl Condition {
    /// Whether `row` satisfies it (a NULL or an incomparable value never does).
    pub fn matches(&self, row: &Row) -> bool {
        let Some(ordering) = row.get(self.column).and_then(|v| v.compare(&self.value)) else { return false };
        match self.cmp {
            Cmp::Eq => ordering.is_eq(),
            Cmp::Lt => ordering.is_lt(),
            Cmp::Ge => ordering.is_ge(),
        }
    }
}

/// What a transaction does to one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChunkDelta {
    /// Adds rows at the end.
    Append(Vec<Row>),
    /// Removes the rows that match (all without a condition).
    Delete(Option<Condition>),
    /// Sets one column of the matching rows.
    Update { column: usize, value: Value, condition: Option<Condition> },
    /// Replaces rows with equal key columns, appends the others.
    Upsert { keys: Vec<usize>, rows: Vec<Row> },
    /// Removes every row.
    Truncate,
    /// Removes the chunk itself.
    Drop,
    /// Adds a NULL last column.
    AddColumn,
    /// Removes a column.
    DropColumn(usize),
    /// Converts a column to a new type.
    ReplaceColumn(usize, ColumnType),
}

/// The rows of a chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkData {
    /// In insertion order.
    pub rows: Vec<Row>,
}

impl ChunkData {
    /// Applies a delta (`Drop` empties the chunk; the holder removes it).
    pub fn apply(&mut self, delta: &ChunkDelta) {
        match delta {
            ChunkDelta::Append(rows) => self.rows.extend(rows.iter().cloned()),
            ChunkDelta::Delete(None) | ChunkDelta::Truncate | ChunkDelta::Drop => self.rows.clear(),
            ChunkDelta::Delete(Some(c)) => self.rows.retain(|r| !c.matches(r)),
            ChunkDelta::Update { column, value, condition } => {
                for row in &mut self.rows {
                    if condition.as_ref().is_none_or(|c| c.matches(row))
                        && let Some(cell) = row.get_mut(*column)
                    {
                        *cell = value.clone();
                    }
                }
            }
            ChunkDelta::Upsert { keys, rows } => {
                for new in rows {
                    let same_key = |old: &Row| keys.iter().all(|&k| old.get(k) == new.get(k));
                    match self.rows.iter_mut().find(|old| same_key(old)) {
                        Some(old) => *old = new.clone(),
                        None => self.rows.push(new.clone()),
                    }
                }
            }
            ChunkDelta::AddColumn => self.rows.iter_mut().for_each(|r| r.push(Value::Null)),
            ChunkDelta::DropColumn(i) => {
                for r in &mut self.rows {
                    if *i < r.len() {
                        r.remove(*i);
                    }
                }
            }
            ChunkDelta::ReplaceColumn(i, ty) => {
                for r in &mut self.rows {
                    if let Some(cell) = r.get_mut(*i) {
                        *cell = cell.convert(*ty);
                    }
                }
            }
        }
    }

    /// A digest of the rows as a multiset (independent of their order).
    pub fn digest(&self) -> u64 {
        let mut sum = 0u64;
        let mut xor = 0u64;
        for row in &self.rows {
            let h = crate::core::digest::stable_hash(row);
            sum = sum.wrapping_add(h);
            xor ^= h.rotate_left(17);
        }
        let mut h = StableHasher::default();
        h.add_word(sum);
        h.add_word(xor);
        h.add_word(self.rows.len() as u64);
        std::hash::Hasher::finish(&h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(k: i32, s: &str) -> Row {
        vec![Value::Int(k), Value::Symbol(s.into())]
    }

    #[test]
    fn deltas_change_rows_as_their_names_say() {
        let mut c = ChunkData::default();
        c.apply(&ChunkDelta::Append(vec![row(1, "a"), row(2, "b"), row(3, "c")]));
        c.apply(&ChunkDelta::Delete(Some(Condition { column: 0, cmp: Cmp::Lt, value: Value::Int(2) })));
        assert_eq!(c.rows, vec![row(2, "b"), row(3, "c")]);
        c.apply(&ChunkDelta::Update {
            column: 1,
            value: Value::Symbol("z".into()),
            condition: Some(Condition { column: 0, cmp: Cmp::Ge, value: Value::Int(3) }),
        });
        assert_eq!(c.rows, vec![row(2, "b"), row(3, "z")]);
        c.apply(&ChunkDelta::Upsert { keys: vec![0], rows: vec![row(2, "B"), row(4, "d")] });
        assert_eq!(c.rows, vec![row(2, "B"), row(3, "z"), row(4, "d")]);
        c.apply(&ChunkDelta::AddColumn);
        assert_eq!(c.rows[0].len(), 3);
        c.apply(&ChunkDelta::DropColumn(1));
        assert_eq!(c.rows[0], vec![Value::Int(2), Value::Null]);
        c.apply(&ChunkDelta::ReplaceColumn(0, ColumnType::Symbol));
        assert_eq!(c.rows[2][0], Value::Symbol("4".into()));
        c.apply(&ChunkDelta::Truncate);
        assert!(c.rows.is_empty());
    }

    #[test]
    fn the_digest_ignores_row_order_but_not_content() {
        let a = ChunkData { rows: vec![row(1, "a"), row(2, "b")] };
        let b = ChunkData { rows: vec![row(2, "b"), row(1, "a")] };
        let c = ChunkData { rows: vec![row(2, "b"), row(1, "x")] };
        let d = ChunkData { rows: vec![row(1, "a"), row(1, "a"), row(2, "b")] };
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
        assert_ne!(a.digest(), d.digest());
    }
}

//! What a query must return, judged without keeping every past state of every table: a table's
//! rows summarised by the value of its partitioning column, each group as a multiset digest (the
//! count and the wrapping sum of a hash per row, so that row order means nothing). The oracle keeps
//! one summary per table per commit that changed it; a query's answer is digested the same way
//! and compared with the groups its filter selects.

use std::hash::{Hash, Hasher};

use ccrsim_model::dfs::{Filter, Row, Value};

use super::SequentialDb;
use super::values::{admits, holds};

/// A multiset of rows as a digest: equal multisets give equal digests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RowsDigest {
    /// Rows.
    pub count: u64,
    /// Wrapping sum of each row's hash.
    pub sum: u64,
}

impl RowsDigest {
    /// The digest of `rows`.
    pub fn of(rows: &[Row]) -> RowsDigest {
        let mut d = RowsDigest::default();
        rows.iter().for_each(|r| d.add(r));
        d
    }

    fn add(&mut self, row: &Row) {
        let mut h = Fnv1a::default();
        row.hash(&mut h);
        self.count += 1;
        self.sum = self.sum.wrapping_add(finalize(h.0));
    }

    fn merge(&mut self, other: &RowsDigest) {
        self.count += other.count;
        self.sum = self.sum.wrapping_add(other.sum);
    }
}

/// FNV-1a, 64 bits: a fixed, seedless hash (std's is seeded per process).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Spreads a hash over all 64 bits (SplitMix64's finalizer), so that sums of hashes of similar
/// rows do not cancel out.
fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A table's rows at one state, grouped by the value of its partitioning column (one group,
/// keyed NULL, for a dimension table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDigest {
    /// The partitioning column, with its type.
    partition: Option<(String, ccrsim_model::dfs::ColumnType)>,
    /// Each partitioning value present, with its rows' digest.
    groups: Vec<(Value, RowsDigest)>,
}

impl TableDigest {
    /// The digest of what `select * from t [where filter]` returns, or why the query is invalid:
    /// a filter must compare the partitioning column with a non-NULL value of its type.
    pub fn selected(&self, filter: Option<&Filter>) -> Result<RowsDigest, String> {
        let mut total = RowsDigest::default();
        if let Some(f) = filter {
            let Some((column, ty)) = self.partition.as_ref().filter(|(c, _)| *c == f.column) else {
                return Err(format!("a query may filter only on the partitioning column, not on {}", f.column));
            };
            if f.value == Value::Null || !admits(*ty, &f.value) {
                return Err(format!("cannot compare column {column} of type {ty:?} with {:?}", f.value));
            }
        }
        for (key, digest) in &self.groups {
            if filter.is_none_or(|f| holds(key, f.cmp, &f.value)) {
                total.merge(digest);
            }
        }
        Ok(total)
    }
}

impl SequentialDb {
    /// The digest of table `table` of `db` as it stands, if it exists.
    pub fn table_digest(&self, db: &str, table: &str) -> Option<TableDigest> {
        let t = self.table(db, table)?;
        let p = t.partition_column.as_ref().and_then(|p| t.columns.iter().position(|c| c.name == *p));
        let mut groups: Vec<(Value, RowsDigest)> = Vec::new();
        for row in &t.rows {
            let key = p.map_or(Value::Null, |i| row[i].clone());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, d)) => d.add(row),
                None => {
                    let mut d = RowsDigest::default();
                    d.add(row);
                    groups.push((key, d));
                }
            }
        }
        let partition = p.map(|i| (t.columns[i].name.clone(), t.columns[i].ty));
        Some(TableDigest { partition, groups })
    }
}

#[cfg(test)]
mod tests {
    use ccrsim_model::dfs::Cmp;

    use super::*;

    #[test]
    fn row_order_does_not_matter_and_contents_do() {
        let a = vec![Value::Int(1), Value::Symbol("x".into())];
        let b = vec![Value::Int(2), Value::Symbol("y".into())];
        assert_eq!(RowsDigest::of(&[a.clone(), b.clone()]), RowsDigest::of(&[b.clone(), a.clone()]));
        assert_ne!(RowsDigest::of(&[a.clone(), a.clone()]), RowsDigest::of(&[a.clone(), b.clone()]));
        assert_ne!(RowsDigest::of(std::slice::from_ref(&a)), RowsDigest::of(&[vec![Value::Long(1), Value::Symbol("x".into())]]));
    }

    #[test]
    fn a_filter_selects_groups_of_the_partitioning_column_only() {
        let digest = TableDigest {
            partition: Some(("k".into(), ccrsim_model::dfs::ColumnType::Int)),
            groups: vec![(Value::Int(1), RowsDigest { count: 2, sum: 5 }), (Value::Int(3), RowsDigest { count: 1, sum: 7 })],
        };
        let f = |column: &str, cmp, value| Filter { column: column.into(), cmp, value };
        assert_eq!(digest.selected(None), Ok(RowsDigest { count: 3, sum: 12 }));
        assert_eq!(digest.selected(Some(&f("k", Cmp::Eq, Value::Int(3)))), Ok(RowsDigest { count: 1, sum: 7 }));
        assert_eq!(digest.selected(Some(&f("k", Cmp::Lt, Value::Int(3)))), Ok(RowsDigest { count: 2, sum: 5 }));
        assert!(digest.selected(Some(&f("other", Cmp::Eq, Value::Int(3)))).is_err());
        assert!(digest.selected(Some(&f("k", Cmp::Eq, Value::Long(3)))).is_err());
    }
}

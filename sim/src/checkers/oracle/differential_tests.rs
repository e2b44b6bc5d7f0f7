//! The oracle against the model's `ReferenceDb` on random histories: after every operation both
//! must agree on whether it was valid and on every database's view (the model's catalog and rows
//! turned into views by `views_of_catalog`). The histories come from a fixed-seed ChaCha8 stream,
//! so a failure replays exactly; a disagreement is shrunk to a short history before it is reported.

use std::collections::BTreeMap;

use ccrsim_model::dfs::{Catalog, Cmp, Column, ColumnType, Filter, Operation, OperationKind, PartitionScheme, ReferenceDb, Row, Value};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{SequentialDb, views_of_catalog};

use ColumnType::{Double, Int, Long, Symbol, Timestamp};

const DBS: [&str; 3] = ["dfs://v", "dfs://r", "dfs://x"];
const TABLES: [&str; 3] = ["t0", "t1", "t2"];
const COLUMNS: [&str; 4] = ["k", "a", "b", "c"];
/// Names that are taken, free, invalid, or odd but valid.
const NEW_NAMES: [&str; 9] = ["a", "b", "c", "d", "k", "k2", "bad name", "", "_1"];

/// Random choices for one history.
struct Gen {
    rng: ChaCha8Rng,
}

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    fn pick<T: Clone>(&mut self, options: &[T]) -> T {
        options[self.below(options.len())].clone()
    }

    /// Mostly from a narrow band (so keys collide and ranges are hit), sometimes wider.
    fn small(&mut self) -> i64 {
        if self.chance(70) { self.rng.random_range(-2..12) } else { self.rng.random_range(-5..35) }
    }

    fn double(&mut self) -> Value {
        let v = match self.below(12) {
            0 => -0.0,
            1 => f64::INFINITY,
            2 => -1e20,
            3 => 1e-7,
            4 => 2.5e9,
            5 if self.chance(20) => f64::NAN,
            _ => self.small() as f64 / 2.0,
        };
        Value::Double(v.to_bits())
    }

    fn typed(&mut self, ty: ColumnType) -> Value {
        if self.chance(6) {
            return Value::Null;
        }
        match ty {
            Int if self.chance(5) => Value::Int(self.pick(&[i32::MIN, i32::MAX])),
            Int => Value::Int(self.small() as i32),
            Long if self.chance(5) => Value::Long(self.pick(&[1 << 40, -(1 << 40), i64::MAX])),
            Long => Value::Long(self.small()),
            Double => self.double(),
            Symbol => Value::Symbol(self.pick(&["a", "b", "c", "d", "", "a b"]).into()),
            Timestamp => Value::Timestamp(self.small()),
        }
    }

    fn any_value(&mut self) -> Value {
        match self.pick(&[None, Some(Int), Some(Long), Some(Double), Some(Symbol), Some(Timestamp)]) {
            None => Value::Null,
            Some(ty) => self.typed(ty),
        }
    }

    /// Mostly a value of the type (when there is one), now and then anything.
    fn value_of(&mut self, ty: Option<ColumnType>) -> Value {
        match ty {
            Some(ty) if !self.chance(8) => self.typed(ty),
            _ => self.any_value(),
        }
    }

    fn scheme(&mut self) -> PartitionScheme {
        let values = |column_type, vs: Vec<Value>| PartitionScheme::Value { column_type, values: vs.into_iter().collect() };
        let range = |column_type, boundaries| PartitionScheme::Range { column_type, boundaries };
        let (i, l, s, t) = (Value::Int, Value::Long, |v: &str| Value::Symbol(v.into()), Value::Timestamp);
        match self.below(16) {
            0 | 1 => values(Int, vec![i(1), i(2), i(3)]),
            2 => values(Symbol, vec![s("a"), s("b")]),
            3 | 4 => range(Int, vec![i(0), i(10), i(20)]),
            5 => range(Timestamp, vec![t(0), t(5), t(100)]),
            6 => range(Symbol, vec![s("a"), s("c")]),
            7 => values(Long, vec![l(-1), l(4)]),
            8 => range(Long, vec![l(-3), l(0), l(8)]),
            9 => values(Double, vec![Value::Double(1f64.to_bits())]),
            10 => range(Int, vec![i(10), i(0)]),
            11 => values(Int, vec![]),
            12 => range(Long, vec![l(0), i(10)]),
            13 => range(Int, vec![i(0)]),
            14 => values(Symbol, vec![s("a"), Value::Null]),
            _ => range(Int, vec![i(0), i(10), i(10)]),
        }
    }

    fn columns(&mut self, domain: Option<ColumnType>) -> Vec<Column> {
        let first = match domain {
            Some(ty) if !self.chance(20) => ty,
            _ => self.pick(&ColumnType::ALL),
        };
        let mut columns = vec![Column::new("k", first)];
        for name in &COLUMNS[1..=self.below(4)] {
            let name = if self.chance(6) { self.pick(&["k", "bad name", "", "_1"]) } else { name };
            let mut column = Column::new(name, self.pick(&ColumnType::ALL));
            if self.chance(10) {
                column.comment = "given".into();
            }
            columns.push(column);
        }
        if self.chance(3) {
            columns.clear();
        }
        columns
    }

    fn row(&mut self, catalog: &Catalog, db: &str, table: &str) -> Row {
        let Some(d) = catalog.databases.get(db) else { return (0..1 + self.below(3)).map(|_| self.any_value()).collect() };
        let Some(t) = d.tables.get(table) else { return (0..1 + self.below(3)).map(|_| self.any_value()).collect() };
        let mut row: Row = t
            .columns
            .iter()
            .map(|c| match &t.partition_column {
                Some(p) if *p == c.name && self.chance(60) => self.pick(&d.scheme.keys()),
                _ if self.chance(2) => self.any_value(),
                _ => self.typed(c.ty),
            })
            .collect();
        if self.chance(1) {
            if self.chance(50) {
                row.pop();
            } else {
                row.push(self.any_value());
            }
        }
        row
    }

    fn rows(&mut self, catalog: &Catalog, db: &str, table: &str) -> Vec<Row> {
        let n = if self.chance(3) { 0 } else { 1 + self.below(6) };
        (0..n).map(|_| self.row(catalog, db, table)).collect()
    }

    /// A random operation of `kind` against `catalog`: mostly naming what exists, sometimes not.
    fn operation(&mut self, catalog: &Catalog, kind: OperationKind) -> Operation {
        let known: Vec<String> = catalog.databases.keys().cloned().collect();
        let db = if known.is_empty() || kind == OperationKind::CREATE_DOMAIN || self.chance(12) {
            self.pick(&DBS).to_string()
        } else {
            self.pick(&known)
        };
        let database = catalog.databases.get(&db);
        let table = match database {
            Some(d) if !d.tables.is_empty() && !self.chance(12) => self.pick(&d.tables.keys().cloned().collect::<Vec<_>>()),
            _ => self.pick(&TABLES).to_string(),
        };
        let t = database.and_then(|d| d.tables.get(&table));
        let column = |g: &mut Gen| -> (String, Option<ColumnType>) {
            match t {
                Some(t) if !g.chance(12) => {
                    let c = g.pick(&t.columns);
                    (c.name, Some(c.ty))
                }
                _ => {
                    let name = g.pick(&COLUMNS);
                    (name.to_string(), t.and_then(|t| t.columns.iter().find(|c| c.name == name)).map(|c| c.ty))
                }
            }
        };
        let filter = |g: &mut Gen, (column, ty): (String, Option<ColumnType>)| -> Option<Filter> {
            if g.chance(25) {
                return None;
            }
            let cmp = g.pick(&[Cmp::Eq, Cmp::Lt, Cmp::Ge]);
            Some(Filter { column, cmp, value: g.value_of(ty) })
        };
        let domain = database.map(|d| d.scheme.column_type());
        match kind {
            OperationKind::APPEND => Operation::Append { rows: self.rows(catalog, &db, &table), db, table },
            OperationKind::APPEND_CHUNK_GRANULARITY => {
                Operation::AppendChunkGranularity { rows: self.rows(catalog, &db, &table), db, table }
            }
            OperationKind::SQL_DELETE => {
                let on = column(self);
                Operation::SqlDelete { db, table, filter: filter(self, on) }
            }
            OperationKind::SQL_UPDATE => {
                let (name, ty) = column(self);
                let value = self.value_of(ty);
                let on = column(self);
                Operation::SqlUpdate { db, table, column: name, value, filter: filter(self, on) }
            }
            OperationKind::UPSERT => {
                let mut keys: Vec<String> = t.and_then(|t| t.partition_column.clone()).filter(|_| !self.chance(10)).into_iter().collect();
                if keys.is_empty() || self.chance(50) {
                    keys.push(column(self).0);
                }
                if self.chance(5) {
                    keys = if self.chance(50) { vec![] } else { vec![keys[0].clone(), keys[0].clone()] };
                }
                Operation::Upsert { rows: self.rows(catalog, &db, &table), db, table, keys }
            }
            OperationKind::DROP_TABLE => Operation::DropTable { db, table },
            OperationKind::DROP_PARTITION => {
                let partition = match database {
                    Some(d) if self.chance(70) => self.pick(&d.scheme.keys()),
                    Some(d) => match &d.scheme {
                        PartitionScheme::Range { boundaries, .. } if self.chance(30) => boundaries.last().cloned().unwrap_or(Value::Null),
                        _ => self.value_of(domain),
                    },
                    None => self.any_value(),
                };
                Operation::DropPartition { db, table, partition }
            }
            OperationKind::DROP_DB => Operation::DropDb { db },
            OperationKind::ADD_RANGE_PARTITION => {
                let above = match database.map(|d| &d.scheme) {
                    Some(PartitionScheme::Range { boundaries, .. }) if self.chance(70) => match boundaries.last() {
                        Some(Value::Int(v)) => Some(Value::Int(v.saturating_add(1 + self.below(10) as i32))),
                        Some(Value::Long(v)) => Some(Value::Long(v + 1 + self.below(10) as i64)),
                        Some(Value::Timestamp(v)) => Some(Value::Timestamp(v + 1 + self.below(10) as i64)),
                        Some(Value::Symbol(v)) => Some(Value::Symbol(format!("{v}z"))),
                        _ => None,
                    },
                    _ => None,
                };
                let boundary = above.unwrap_or_else(|| self.value_of(domain));
                Operation::AddRangePartition { db, boundary }
            }
            OperationKind::ADD_VALUE_PARTITION => Operation::AddValuePartition { value: self.value_of(domain), db },
            OperationKind::CREATE_DOMAIN => Operation::CreateDomain { scheme: self.scheme(), db },
            OperationKind::CREATE_TABLE => Operation::CreateTable { table: self.pick(&TABLES).into(), columns: self.columns(domain), db },
            OperationKind::CREATE_PARTITIONED_TABLE => {
                let table = self.pick(&TABLES).to_string();
                let columns = self.columns(domain);
                let partition_column = if self.chance(15) { self.pick(&COLUMNS).to_string() } else { "k".into() };
                Operation::CreatePartitionedTable { db, table, columns, partition_column }
            }
            OperationKind::ADD_COLUMN => {
                let mut added = Column::new(self.pick(&["a", "b", "c", "d", "e", "k", "bad name", "_1"]), self.pick(&ColumnType::ALL));
                added.comment = self.pick(&["", "new"]).into();
                Operation::AddColumn { db, table, column: added }
            }
            OperationKind::DROP_COLUMN => Operation::DropColumn { column: column(self).0, db, table },
            OperationKind::RENAME_TABLE => {
                let new_name = if self.chance(10) { table.clone() } else { self.pick(&["t0", "t1", "t2", "t3", "bad name", ""]).into() };
                Operation::RenameTable { db, table, new_name }
            }
            OperationKind::TRUNCATE_TABLE => Operation::TruncateTable { db, table },
            OperationKind::REPLACE_COLUMN => {
                Operation::ReplaceColumn { column: column(self).0, ty: self.pick(&ColumnType::ALL), db, table }
            }
            OperationKind::SET_COLUMN_COMMENT => {
                Operation::SetColumnComment { column: column(self).0, comment: self.pick(&["", "note", "a note"]).into(), db, table }
            }
            OperationKind::RENAME_COLUMN => {
                let old = column(self).0;
                let new_name = if self.chance(10) { old.clone() } else { self.pick(&NEW_NAMES).into() };
                Operation::RenameColumn { db, table, column: old, new_name }
            }
        }
    }
}

/// Kinds by weight: every kind once, plus extra weight on what builds state.
fn kind(g: &mut Gen, step: usize) -> OperationKind {
    const PRELUDE: [OperationKind; 8] = [
        OperationKind::CREATE_DOMAIN,
        OperationKind::CREATE_DOMAIN,
        OperationKind::CREATE_PARTITIONED_TABLE,
        OperationKind::CREATE_PARTITIONED_TABLE,
        OperationKind::CREATE_TABLE,
        OperationKind::APPEND,
        OperationKind::APPEND,
        OperationKind::APPEND,
    ];
    if let Some(k) = PRELUDE.get(step) {
        return *k;
    }
    match g.below(34) {
        // Half of the drops become appends: data should pile up between them.
        n @ (5 | 7 | 16) if g.chance(50) => OperationKind::ALL[n],
        5 | 7 | 16 => OperationKind::APPEND,
        n @ 0..20 => OperationKind::ALL[n],
        20 | 21 => OperationKind::CREATE_DOMAIN,
        22..=24 => OperationKind::CREATE_PARTITIONED_TABLE,
        25 => OperationKind::CREATE_TABLE,
        26..=28 => OperationKind::UPSERT,
        _ => OperationKind::APPEND,
    }
}

/// A random history of `len` operations, each made against the state the previous ones left.
fn history(seed: u64, len: usize) -> Vec<Operation> {
    let mut g = Gen { rng: ChaCha8Rng::seed_from_u64(seed) };
    let mut model = ReferenceDb::default();
    (0..len)
        .map(|step| {
            let k = kind(&mut g, step);
            let op = g.operation(&model.catalog, k);
            let _ = model.apply(&op);
            op
        })
        .collect()
}

/// Kinds to how many of their operations the oracle applied and refused.
type Tally = BTreeMap<OperationKind, (u32, u32)>;

/// Runs a history on both; the first step where they disagree, and how.
fn first_disagreement(ops: &[Operation], tally: &mut Tally) -> Option<(usize, String)> {
    let mut model = ReferenceDb::default();
    let mut oracle = SequentialDb::new();
    for (step, op) in ops.iter().enumerate() {
        let before = oracle.clone();
        let (by_model, by_oracle) = (model.apply(op), oracle.apply(op));
        let counts = tally.entry(op.kind()).or_default();
        if by_oracle.is_ok() {
            counts.0 += 1
        } else {
            counts.1 += 1
        }
        if by_model.is_ok() != by_oracle.is_ok() {
            return Some((step, format!("validity: model {by_model:?}, oracle {by_oracle:?}")));
        }
        if by_oracle.is_err() && oracle != before {
            return Some((step, "the oracle refused the operation but changed its state".into()));
        }
        let want = views_of_catalog(&model.catalog, |t| model.rows_of(t), |_| true);
        let got = oracle.views(|_| true);
        if want != got {
            return Some((step, format!("views:\n  model  {want:?}\n  oracle {got:?}")));
        }
    }
    None
}

/// The history without every operation whose removal keeps some disagreement (greedy, one at a time).
fn shrink(mut ops: Vec<Operation>) -> Vec<Operation> {
    let mut i = 0;
    while i < ops.len() {
        let mut shorter = ops.clone();
        shorter.remove(i);
        if first_disagreement(&shorter, &mut Tally::new()).is_some() {
            ops = shorter;
        } else {
            i += 1;
        }
    }
    ops
}

const HISTORIES: u64 = 400;
const HISTORY_LEN: usize = 150;

#[test]
fn the_oracle_agrees_with_the_reference_model_on_random_histories() {
    let mut tally = Tally::new();
    let mut operations = 0;
    for seed in 0..HISTORIES {
        let ops = history(seed, HISTORY_LEN);
        if let Some((step, _)) = first_disagreement(&ops, &mut tally) {
            let minimal = shrink(ops[..=step].to_vec());
            let (at, how) = first_disagreement(&minimal, &mut Tally::new()).unwrap_or_default();
            let history: Vec<String> = minimal[..=at].iter().map(|op| format!("{op:?}")).collect();
            panic!("seed {seed}: the oracle and the model disagree after\n{}\n{how}", history.join("\n"));
        }
        operations += ops.len();
    }
    assert!(operations >= 20_000, "{operations} operations");
    for k in OperationKind::ALL {
        let (applied, refused) = tally.get(&k).copied().unwrap_or_default();
        assert!(applied > 100 && refused > 50, "{k}: {applied} applied, {refused} refused: the generator misses a side");
    }
    println!("{operations} operations agreed; per kind (applied, refused): {tally:?}");
}

//! Random operation sequences for the model's property tests: a sequence is a list of
//! `(kind number, bytes)`, and each operation is made concrete against the state it meets
//! (`realize`), so that most operations name things that exist while the rest exercise refusals.

#![allow(dead_code)] // each test file uses its own part

use ccrsim_model::dfs::{
    Cmp, Column, ColumnType, Database, Filter, Operation, OperationKind, PartitionScheme, ReferenceDb, Row, Table, Value,
};
use proptest::prelude::*;

use ColumnType::{Double, Int, Long, Symbol, Timestamp};

/// A SYMBOL value.
pub fn s(v: &str) -> Value {
    Value::Symbol(v.into())
}

/// An INT value.
pub fn i(v: i32) -> Value {
    Value::Int(v)
}

/// A LONG value.
pub fn l(v: i64) -> Value {
    Value::Long(v)
}

/// A DOUBLE value.
pub fn d(v: f64) -> Value {
    Value::double(v)
}

/// Reads choices off a byte string: every operation of a random sequence is a kind plus bytes, and
/// is made concrete against the current state, so that most operations name things that exist
/// (and many are valid) while the rest exercise the refusals. Shrinking the bytes towards zero
/// shrinks the choices towards the first option.
struct Picker<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Picker<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn pick<T: Clone>(&mut self, options: &[T]) -> T {
        options[usize::from(self.byte()) % options.len()].clone()
    }

    /// True with probability `n / 256` (never once the bytes are used up).
    fn chance(&mut self, n: u8) -> bool {
        self.at < self.bytes.len() && self.byte() < n
    }

    fn small(&mut self) -> i64 {
        i64::from(self.byte() % 40) - 5
    }

    fn any_value(&mut self) -> Value {
        match self.byte() % 6 {
            0 => Value::Null,
            1 => Value::Int(self.small() as i32),
            2 => Value::Long(self.small()),
            3 => Value::double(self.small() as f64 / 2.0),
            4 => Value::Symbol(self.pick(&["a", "b", "c", "d"]).into()),
            _ => Value::Timestamp(self.small()),
        }
    }

    fn typed(&mut self, ty: ColumnType) -> Value {
        if self.chance(16) {
            return Value::Null;
        }
        match ty {
            Int => Value::Int(self.small() as i32),
            Long => Value::Long(self.small()),
            Double => Value::double(self.small() as f64 / 2.0),
            Symbol => Value::Symbol(self.pick(&["a", "b", "c", "d"]).into()),
            Timestamp => Value::Timestamp(self.small()),
        }
    }

    /// A value of the type, or now and then of any type.
    fn value_of(&mut self, ty: Option<ColumnType>) -> Value {
        match ty {
            Some(ty) if !self.chance(12) => self.typed(ty),
            _ => self.any_value(),
        }
    }
}

const DBS: [&str; 3] = ["dfs://v", "dfs://r", "dfs://x"];
const TABLES: [&str; 3] = ["t0", "t1", "t2"];
const COLS: [&str; 4] = ["k", "a", "b", "c"];

fn random_scheme(p: &mut Picker) -> PartitionScheme {
    let values = |ty, vs: Vec<Value>| PartitionScheme::Value { column_type: ty, values: vs.into_iter().collect() };
    let range = |ty, boundaries| PartitionScheme::Range { column_type: ty, boundaries };
    match p.byte() % 12 {
        0 | 1 => values(Int, vec![i(1), i(2), i(3)]),
        2 => values(Symbol, vec![s("a"), s("b")]),
        3 | 4 => range(Int, vec![i(0), i(10), i(20)]),
        5 => range(Timestamp, vec![Value::Timestamp(0), Value::Timestamp(100)]),
        6 => range(Symbol, vec![s("a"), s("c")]),
        7 => values(Long, vec![l(-1), l(4)]),
        8 => values(Double, vec![d(1.0)]),
        9 => range(Int, vec![i(10), i(0)]),
        10 => values(Int, vec![]),
        _ => range(Long, vec![l(0), i(10)]),
    }
}

fn random_columns(p: &mut Picker, database: Option<&Database>) -> Vec<Column> {
    let first = match database {
        Some(d) if !p.chance(40) => d.scheme.column_type(),
        _ => p.pick(&ColumnType::ALL),
    };
    let mut columns = vec![Column::new("k", first)];
    for name in &COLS[1..=usize::from(p.byte() % 4).min(3)] {
        let name = if p.chance(10) { p.pick(&["k", "bad name", ""]) } else { name };
        columns.push(Column::new(name, p.pick(&ColumnType::ALL)));
    }
    if p.chance(6) {
        columns.clear();
    }
    columns
}

fn random_row(p: &mut Picker, database: Option<&Database>, table: Option<&Table>) -> Row {
    let Some(t) = table else {
        let n = 1 + p.byte() % 3;
        return (0..n).map(|_| p.any_value()).collect();
    };
    let mut row: Row = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| match database {
            Some(d) if t.partition_index() == Some(i) && !p.chance(24) => p.pick(&d.scheme.keys()),
            _ => p.value_of(Some(c.ty)),
        })
        .collect();
    if p.chance(8) {
        if p.chance(128) {
            row.pop();
        } else {
            row.push(p.any_value());
        }
    }
    row
}

/// A concrete operation of `kind` from the bytes, against the current state.
pub fn realize(state: &ReferenceDb, kind: OperationKind, bytes: &[u8]) -> Operation {
    let p = &mut Picker { bytes, at: 0 };
    let known: Vec<String> = state.catalog.databases.keys().cloned().collect();
    let db = match kind {
        _ if known.is_empty() || kind == OperationKind::CREATE_DOMAIN || p.chance(40) => p.pick(&DBS).to_string(),
        _ => p.pick(&known),
    };
    let database = state.catalog.database(&db);
    let table_name = match database {
        Some(d) if !d.tables.is_empty() && !p.chance(40) => p.pick(&d.tables.keys().cloned().collect::<Vec<_>>()),
        _ => p.pick(&TABLES).to_string(),
    };
    let table = database.and_then(|d| d.tables.get(&table_name));
    let pick_column = |p: &mut Picker| -> (String, Option<ColumnType>) {
        match table {
            Some(t) if !p.chance(32) => {
                let c = p.pick(&t.columns);
                (c.name, Some(c.ty))
            }
            _ => {
                let name = p.pick(&COLS);
                let ty = table.and_then(|t| t.column_index(name)).and_then(|i| table.map(|t| t.columns[i].ty));
                (name.to_string(), ty)
            }
        }
    };
    let (column, column_ty) = pick_column(p);
    let rows = |p: &mut Picker| -> Vec<Row> {
        let n = p.byte() % 8;
        let n = if n == 7 { 0 } else { 1 + n % 3 };
        (0..n).map(|_| random_row(p, database, table)).collect()
    };
    let random_filter = |p: &mut Picker, (column, ty): (String, Option<ColumnType>)| -> Option<Filter> {
        if p.chance(64) {
            return None;
        }
        let cmp = p.pick(&[Cmp::Eq, Cmp::Lt, Cmp::Ge]);
        Some(Filter { column, cmp, value: p.value_of(ty) })
    };
    let scheme_type = database.map(|d| d.scheme.column_type());
    let t = table_name.clone();
    match kind {
        OperationKind::APPEND => Operation::Append { db, table: t, rows: rows(p) },
        OperationKind::APPEND_CHUNK_GRANULARITY => Operation::AppendChunkGranularity { db, table: t, rows: rows(p) },
        OperationKind::SQL_DELETE => {
            let f = pick_column(p);
            Operation::SqlDelete { db, table: t, filter: random_filter(p, f) }
        }
        OperationKind::SQL_UPDATE => {
            let value = p.value_of(column_ty);
            let f = pick_column(p);
            Operation::SqlUpdate { db, table: t, column, value, filter: random_filter(p, f) }
        }
        OperationKind::UPSERT => {
            let mut keys = match table.and_then(|t| t.partition_column.clone()) {
                Some(pc) if !p.chance(40) => vec![pc],
                _ => vec![],
            };
            if p.chance(128) {
                keys.push(column);
            }
            if p.chance(8) {
                keys = vec![p.pick(&COLS).to_string()];
            }
            Operation::Upsert { db, table: t, keys, rows: rows(p) }
        }
        OperationKind::DROP_TABLE => Operation::DropTable { db, table: t },
        OperationKind::DROP_PARTITION => {
            let partition = match database {
                Some(d) if !p.chance(40) => p.pick(&d.scheme.keys()),
                _ => p.any_value(),
            };
            Operation::DropPartition { db, table: t, partition }
        }
        OperationKind::DROP_DB => Operation::DropDb { db },
        OperationKind::ADD_RANGE_PARTITION => {
            let above = match database.map(|d| &d.scheme) {
                Some(PartitionScheme::Range { boundaries, .. }) if !p.chance(40) => match boundaries.last() {
                    Some(Value::Int(v)) => Some(Value::Int(v + 1 + i32::from(p.byte() % 10))),
                    Some(Value::Long(v)) => Some(Value::Long(v + 1 + i64::from(p.byte() % 10))),
                    Some(Value::Timestamp(v)) => Some(Value::Timestamp(v + 1 + i64::from(p.byte() % 10))),
                    Some(Value::Symbol(v)) => Some(Value::Symbol(format!("{v}z"))),
                    _ => None,
                },
                _ => None,
            };
            let boundary = above.unwrap_or_else(|| p.value_of(scheme_type));
            Operation::AddRangePartition { db, boundary }
        }
        OperationKind::ADD_VALUE_PARTITION => Operation::AddValuePartition { db, value: p.value_of(scheme_type) },
        OperationKind::CREATE_DOMAIN => Operation::CreateDomain { db, scheme: random_scheme(p) },
        OperationKind::CREATE_TABLE => Operation::CreateTable { db, table: p.pick(&TABLES).into(), columns: random_columns(p, database) },
        OperationKind::CREATE_PARTITIONED_TABLE => {
            let table = p.pick(&TABLES).to_string();
            let columns = random_columns(p, database);
            let partition_column = if p.chance(20) { p.pick(&COLS).to_string() } else { "k".into() };
            Operation::CreatePartitionedTable { db, table, columns, partition_column }
        }
        OperationKind::ADD_COLUMN => {
            let name = p.pick(&["a", "b", "c", "d", "e", "k", "bad name"]);
            Operation::AddColumn { db, table: t, column: Column::new(name, p.pick(&ColumnType::ALL)) }
        }
        OperationKind::DROP_COLUMN => Operation::DropColumn { db, table: t, column },
        OperationKind::RENAME_TABLE => {
            Operation::RenameTable { db, table: t, new_name: p.pick(&["t0", "t1", "t2", "t3", "bad name"]).into() }
        }
        OperationKind::TRUNCATE_TABLE => Operation::TruncateTable { db, table: t },
        OperationKind::REPLACE_COLUMN => Operation::ReplaceColumn { db, table: t, column, ty: p.pick(&ColumnType::ALL) },
        OperationKind::SET_COLUMN_COMMENT => Operation::SetColumnComment { db, table: t, column, comment: p.pick(&["", "note"]).into() },
        OperationKind::RENAME_COLUMN => {
            Operation::RenameColumn { db, table: t, column, new_name: p.pick(&["a", "b", "c", "d", "k", "k2", "bad name", ""]).into() }
        }
    }
}

pub fn random_steps() -> impl Strategy<Value = Vec<(usize, Vec<u8>)>> {
    // Kinds 20.. are extra weight on what builds state: domains, tables, appends.
    prop::collection::vec((0..28usize, prop::collection::vec(any::<u8>(), 0..16)), 1..60)
}

/// The first steps of every sequence build some state for the others to work on.
pub const PRELUDE: [OperationKind; 8] = [
    OperationKind::CREATE_DOMAIN,
    OperationKind::CREATE_DOMAIN,
    OperationKind::CREATE_PARTITIONED_TABLE,
    OperationKind::CREATE_PARTITIONED_TABLE,
    OperationKind::CREATE_TABLE,
    OperationKind::APPEND,
    OperationKind::APPEND,
    OperationKind::APPEND,
];

pub fn kind_of(n: usize) -> OperationKind {
    match n {
        0..20 => OperationKind::ALL[n],
        20 | 21 => OperationKind::CREATE_DOMAIN,
        22..=24 => OperationKind::CREATE_PARTITIONED_TABLE,
        25 => OperationKind::CREATE_TABLE,
        _ => OperationKind::APPEND,
    }
}

//! The oracle's sequential database: databases by name, tables by name, each table a schema and one
//! vector of rows. Every operation type's rule is written once, as a comment on its arm of
//! [`SequentialDb::apply`]; the rules come from the operation types' documentation
//! (model/src/dfs/operation.rs) and their unit tests (model/tests/operations.rs), read as a user
//! of DolphinDB would read them, not from the model's planner.

use std::collections::BTreeMap;

use ccrsim_model::dfs::{Column, ColumnType, Filter, Operation, PartitionScheme, Row, Value};

use super::values::{admits, canonical_order, convert, converts, holds, sql_order, valid_name};
use super::{ColumnView, DbView, SchemeView, TableView, scheme_view};

/// A plain database that applies operations one after the other: what a cluster must hold after
/// running the same operations in the same order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequentialDb {
    /// Databases by name; inside, each table's rows in insertion order.
    databases: BTreeMap<String, DbView>,
}

impl SequentialDb {
    /// An empty database (no database, no table), where every history starts.
    pub fn new() -> SequentialDb {
        SequentialDb::default()
    }

    /// Applies one operation in full, or leaves everything as it was and says why it is invalid.
    /// Every arm checks everything before it changes anything.
    pub fn apply(&mut self, op: &Operation) -> Result<(), String> {
        match op {
            // CREATE_DOMAIN: the name is free; the scheme is well formed (its type may partition,
            // so not DOUBLE; VALUE: at least one value; RANGE: at least two boundaries, strictly
            // increasing; every value or boundary non-NULL and of the type). No tables yet.
            Operation::CreateDomain { db, scheme } => {
                if self.databases.contains_key(db) {
                    return Err(format!("database {db} exists already"));
                }
                let scheme = checked_scheme(scheme)?;
                self.databases.insert(db.clone(), DbView { scheme, tables: BTreeMap::new() });
            }
            // DROP_DB: the database exists; it goes with its tables and their rows.
            Operation::DropDb { db } => {
                self.databases.remove(db).ok_or_else(|| no_database(db))?;
            }
            // ADD_RANGE_PARTITION: a RANGE database; a non-NULL boundary of the domain's type above
            // the last one becomes the new last boundary. No row moves (none lies that high).
            Operation::AddRangePartition { db, boundary } => {
                let database = self.databases.get_mut(db).ok_or_else(|| no_database(db))?;
                let SchemeView::Range { column_type, boundaries } = &mut database.scheme else {
                    return Err(format!("{db} is not RANGE partitioned"));
                };
                let above_last = boundaries.last().and_then(|last| sql_order(boundary, last)).is_some_and(|o| o.is_gt());
                if !is_partition_value(*column_type, boundary) || !above_last {
                    return Err(format!("{boundary:?} is not a {column_type:?} above the last boundary of {db}"));
                }
                boundaries.push(boundary.clone());
            }
            // ADD_VALUE_PARTITION: a VALUE database; a non-NULL value of the domain's type that is
            // not in the domain yet joins it.
            Operation::AddValuePartition { db, value } => {
                let database = self.databases.get_mut(db).ok_or_else(|| no_database(db))?;
                let SchemeView::Value { column_type, values } = &mut database.scheme else {
                    return Err(format!("{db} is not VALUE partitioned"));
                };
                if !is_partition_value(*column_type, value) || values.contains(value) {
                    return Err(format!("{value:?} is not a new {column_type:?} partition of {db}"));
                }
                values.push(value.clone());
                values.sort_by(canonical_order);
            }
            // CREATE_TABLE: a dimension table (not partitioned; its rows go anywhere), see
            // `create_table` for the checks.
            Operation::CreateTable { db, table, columns } => self.create_table(db, table, columns, None)?,
            // CREATE_PARTITIONED_TABLE: the same, plus a partitioning column that is one of the
            // columns and has the domain's type.
            Operation::CreatePartitionedTable { db, table, columns, partition_column } => {
                self.create_table(db, table, columns, Some(partition_column))?
            }
            // DROP_TABLE: the table exists; it goes with its rows (a later table of that name starts
            // empty).
            Operation::DropTable { db, table } => {
                let database = self.databases.get_mut(db).ok_or_else(|| no_database(db))?;
                database.tables.remove(table).ok_or_else(|| no_table(db, table))?;
            }
            // RENAME_TABLE: the table exists; the new name is valid and names no table of the
            // database (its own included); schema and rows move to it.
            Operation::RenameTable { db, table, new_name } => {
                let database = self.databases.get_mut(db).ok_or_else(|| no_database(db))?;
                if !database.tables.contains_key(table) {
                    return Err(no_table(db, table));
                }
                if !valid_name(new_name) || database.tables.contains_key(new_name) {
                    return Err(format!("{new_name:?} is not a free table name in {db}"));
                }
                if let Some(moved) = database.tables.remove(table) {
                    database.tables.insert(new_name.clone(), moved);
                }
            }
            // APPEND (atomic=TRANS) and APPEND_CHUNK_GRANULARITY (atomic=CHUNK, which only retries
            // lock conflicts): at least one row, every row valid (see `check_rows`); all are added.
            Operation::Append { db, table, rows } | Operation::AppendChunkGranularity { db, table, rows } => {
                let (scheme, t) = self.table_mut(db, table)?;
                check_rows(scheme, t, rows)?;
                t.rows.extend(rows.iter().cloned());
            }
            // UPSERT: at least one key column, each a column of the table; the partitioning column
            // is one of them (so rows with equal keys share a partition); rows valid as for APPEND.
            // Row by row, in order: a new row replaces the first row (in insertion order) whose key
            // values are equal to its own (as data: NULL equals NULL), otherwise it is appended. So a
            // later new row replaces an earlier one of the same batch with the same key.
            Operation::Upsert { db, table, keys, rows } => {
                let (scheme, t) = self.table_mut(db, table)?;
                if keys.is_empty() {
                    return Err("an upsert needs key columns".into());
                }
                let key_positions = keys.iter().map(|k| column_index(t, k)).collect::<Result<Vec<usize>, String>>()?;
                if let Some(p) = &t.partition_column
                    && !keys.contains(p)
                {
                    return Err(format!("the partitioning column {p} must be a key column of an upsert"));
                }
                check_rows(scheme, t, rows)?;
                for new in rows {
                    let same_key = |old: &Row| key_positions.iter().all(|&k| old[k] == new[k]);
                    match t.rows.iter().position(same_key) {
                        Some(i) => t.rows[i] = new.clone(),
                        None => t.rows.push(new.clone()),
                    }
                }
            }
            // SQL_DELETE: the filter, if any, is valid (see `resolve`); the rows it selects go
            // (without a filter, every row).
            Operation::SqlDelete { db, table, filter } => {
                let (_, t) = self.table_mut(db, table)?;
                let selected = resolve(t, filter.as_ref())?;
                t.rows.retain(|row| !selected(row));
            }
            // SQL_UPDATE: the column exists, is not the partitioning column (a row never changes
            // partition), and admits the value (NULL included); the filter is valid; the selected
            // rows get the value in that column.
            Operation::SqlUpdate { db, table, column, value, filter } => {
                let (_, t) = self.table_mut(db, table)?;
                let i = column_index(t, column)?;
                if !admits(t.columns[i].ty, value) {
                    return Err(format!("{value:?} does not fit column {column} of type {:?}", t.columns[i].ty));
                }
                if t.partition_column.as_ref() == Some(column) {
                    return Err(format!("the partitioning column {column} cannot be updated"));
                }
                let selected = resolve(t, filter.as_ref())?;
                for row in t.rows.iter_mut().filter(|row| selected(row)) {
                    row[i] = value.clone();
                }
            }
            // DROP_PARTITION: a partitioned table; the key names a partition of the domain (a VALUE,
            // or a RANGE's lower boundary, so not the last boundary), equal as data (INT 1 is not
            // LONG 1); the table's rows in that partition go. The domain keeps the partition, and
            // other tables keep their rows in it.
            Operation::DropPartition { db, table, partition } => {
                let (scheme, t) = self.table_mut(db, table)?;
                let Some(p) = partition_index(t) else { return Err(format!("{table} is not partitioned")) };
                if !partitions(scheme).contains(partition) {
                    return Err(format!("partition {partition:?} does not exist in {db}"));
                }
                t.rows.retain(|row| partition_holding(scheme, &row[p]) != Some(partition));
            }
            // TRUNCATE_TABLE: the table exists; every row goes, the schema stays.
            Operation::TruncateTable { db, table } => self.table_mut(db, table)?.1.rows.clear(),
            // ADD_COLUMN: a valid name no column has; the column (with its type and comment) comes
            // last, NULL in every existing row.
            Operation::AddColumn { db, table, column } => {
                let (_, t) = self.table_mut(db, table)?;
                if !valid_name(&column.name) || column_index(t, &column.name).is_ok() {
                    return Err(format!("{:?} is not a free column name in {table}", column.name));
                }
                t.columns.push(column_view(column));
                t.rows.iter_mut().for_each(|row| row.push(Value::Null));
            }
            // DROP_COLUMN: the column exists, is not the partitioning column, and is not the last
            // column left; it goes from the schema and from every row.
            Operation::DropColumn { db, table, column } => {
                let (_, t) = self.table_mut(db, table)?;
                let i = column_index(t, column)?;
                if t.partition_column.as_ref() == Some(column) || t.columns.len() == 1 {
                    return Err(format!("column {column} cannot be dropped (partitioning or last column)"));
                }
                t.columns.remove(i);
                for row in &mut t.rows {
                    row.remove(i);
                }
            }
            // REPLACE_COLUMN: the column exists, is not the partitioning column, and its type
            // converts to the new one (numbers among numbers, anything to SYMBOL; the same type is
            // fine and changes nothing); every value is converted (see `values::convert`).
            Operation::ReplaceColumn { db, table, column, ty } => {
                let (_, t) = self.table_mut(db, table)?;
                let i = column_index(t, column)?;
                if t.partition_column.as_ref() == Some(column) || !converts(t.columns[i].ty, *ty) {
                    return Err(format!("column {column} of type {:?} cannot become {ty:?}", t.columns[i].ty));
                }
                t.columns[i].ty = *ty;
                t.rows.iter_mut().for_each(|row| row[i] = convert(&row[i], *ty));
            }
            // SET_COLUMN_COMMENT: the column exists; its comment becomes the text (any text, empty
            // included). Rows untouched.
            Operation::SetColumnComment { db, table, column, comment } => {
                let (_, t) = self.table_mut(db, table)?;
                let i = column_index(t, column)?;
                t.columns[i].comment = comment.clone();
            }
            // RENAME_COLUMN: the column exists; the new name is valid and no column has it (its own
            // included); renaming the partitioning column renames the table's partitioning column.
            Operation::RenameColumn { db, table, column, new_name } => {
                let (_, t) = self.table_mut(db, table)?;
                let i = column_index(t, column)?;
                if !valid_name(new_name) || column_index(t, new_name).is_ok() {
                    return Err(format!("{new_name:?} is not a free column name in {table}"));
                }
                t.columns[i].name = new_name.clone();
                if t.partition_column.as_ref() == Some(column) {
                    t.partition_column = Some(new_name.clone());
                }
            }
        }
        Ok(())
    }

    /// The databases `keep` selects as a user sees them (rows in canonical order), for comparison
    /// with [`super::views_of_catalog`] of a cluster.
    pub fn views(&self, keep: impl Fn(&str) -> bool) -> BTreeMap<String, DbView> {
        self.databases.iter().filter(|(name, _)| keep(name)).map(|(name, d)| (name.clone(), d.clone().into_canonical())).collect()
    }

    /// A table as it stands (rows in insertion order), if it exists.
    pub fn table(&self, db: &str, table: &str) -> Option<&TableView> {
        self.databases.get(db)?.tables.get(table)
    }

    /// The partitions of `db`'s `table` that `values` (partitioning values) fall in, each once, in
    /// order: what a write of rows with these partitioning values, or a filter equal to one,
    /// writes. A table without a partitioning column has one partition, NULL. `None` if the table
    /// does not exist or a value falls in no partition (the write is invalid here).
    pub fn partitions_holding<'a>(&self, db: &str, table: &str, values: impl IntoIterator<Item = Option<&'a Value>>) -> Option<Vec<Value>> {
        let database = self.databases.get(db)?;
        let t = database.tables.get(table)?;
        if t.partition_column.is_none() {
            return Some(vec![Value::Null]);
        }
        let mut keys: Vec<Value> = Vec::new();
        for v in values {
            let key = partition_holding(&database.scheme, v?)?;
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        Some(keys)
    }

    /// The position of `db`'s `table`'s partitioning column, if it has one.
    pub fn partition_index(&self, db: &str, table: &str) -> Option<usize> {
        partition_index(self.table(db, table)?)
    }

    /// The names of the tables of `db` (none if it does not exist).
    pub fn table_names(&self, db: &str) -> Vec<String> {
        self.databases.get(db).map(|d| d.tables.keys().cloned().collect()).unwrap_or_default()
    }

    /// CREATE_TABLE and CREATE_PARTITIONED_TABLE: the database exists; the table name is valid and
    /// free; at least one column, each with a valid name that no other column has; a partitioning
    /// column, if any, is one of the columns and has the domain's type. The table starts empty.
    fn create_table(&mut self, db: &str, table: &str, columns: &[Column], partition_column: Option<&String>) -> Result<(), String> {
        let database = self.databases.get_mut(db).ok_or_else(|| no_database(db))?;
        if !valid_name(table) || database.tables.contains_key(table) {
            return Err(format!("{table:?} is not a free table name in {db}"));
        }
        if columns.is_empty() {
            return Err("a table needs at least one column".into());
        }
        for (i, c) in columns.iter().enumerate() {
            if !valid_name(&c.name) || columns[..i].iter().any(|earlier| earlier.name == c.name) {
                return Err(format!("column name {:?} is invalid or appears twice", c.name));
            }
        }
        if let Some(p) = partition_column {
            let domain_type = match &database.scheme {
                SchemeView::Value { column_type, .. } | SchemeView::Range { column_type, .. } => *column_type,
            };
            if !columns.iter().any(|c| &c.name == p && c.ty == domain_type) {
                return Err(format!("the partitioning column {p} is not a column of the domain's type {domain_type:?}"));
            }
        }
        let view =
            TableView { columns: columns.iter().map(column_view).collect(), partition_column: partition_column.cloned(), rows: vec![] };
        database.tables.insert(table.to_string(), view);
        Ok(())
    }

    /// A table of a database, with its database's scheme (for routing rows).
    fn table_mut(&mut self, db: &str, table: &str) -> Result<(&SchemeView, &mut TableView), String> {
        let database = self.databases.get_mut(db).ok_or_else(|| no_database(db))?;
        let t = database.tables.get_mut(table).ok_or_else(|| no_table(db, table))?;
        Ok((&database.scheme, t))
    }
}

fn no_database(db: &str) -> String {
    format!("database {db} does not exist")
}

fn no_table(db: &str, table: &str) -> String {
    format!("table {table} does not exist in {db}")
}

fn column_view(c: &Column) -> ColumnView {
    ColumnView { name: c.name.clone(), ty: c.ty, comment: c.comment.clone() }
}

fn column_index(t: &TableView, name: &str) -> Result<usize, String> {
    t.columns.iter().position(|c| c.name == name).ok_or_else(|| format!("column {name} does not exist"))
}

fn partition_index(t: &TableView) -> Option<usize> {
    t.partition_column.as_ref().and_then(|p| column_index(t, p).ok())
}

/// Whether `v` may name a partition of a `ty` domain: non-NULL and of the type.
fn is_partition_value(ty: ColumnType, v: &Value) -> bool {
    *v != Value::Null && admits(ty, v)
}

/// A CREATE_DOMAIN scheme, checked as the CREATE_DOMAIN rule says.
fn checked_scheme(scheme: &PartitionScheme) -> Result<SchemeView, String> {
    let view = scheme_view(scheme);
    let (ty, keys, at_least) = match &view {
        SchemeView::Value { column_type, values } => (*column_type, values, 1),
        SchemeView::Range { column_type, boundaries } => (*column_type, boundaries, 2),
    };
    if ty == ColumnType::Double {
        return Err("a DOUBLE column cannot partition a database".into());
    }
    if keys.len() < at_least || !keys.iter().all(|k| is_partition_value(ty, k)) {
        return Err(format!("a domain needs at least {at_least} non-NULL values of its type {ty:?}"));
    }
    if matches!(view, SchemeView::Range { .. }) && !keys.windows(2).all(|w| sql_order(&w[0], &w[1]).is_some_and(|o| o.is_lt())) {
        return Err("RANGE boundaries must increase strictly".into());
    }
    Ok(view)
}

/// The keys that name the partitions of a domain: its values, or every boundary but the last.
fn partitions(scheme: &SchemeView) -> &[Value] {
    match scheme {
        SchemeView::Value { values, .. } => values,
        SchemeView::Range { boundaries, .. } => &boundaries[..boundaries.len().saturating_sub(1)],
    }
}

/// The partition a partitioning value falls in: the equal VALUE, or the range `lower <= v < upper`
/// named by its lower boundary. NULL falls in none.
fn partition_holding<'a>(scheme: &'a SchemeView, v: &Value) -> Option<&'a Value> {
    match scheme {
        SchemeView::Value { values, .. } => values.iter().find(|x| *x == v),
        SchemeView::Range { boundaries, .. } => boundaries
            .windows(2)
            .find(|w| sql_order(&w[0], v).is_some_and(|o| o.is_le()) && sql_order(v, &w[1]).is_some_and(|o| o.is_lt()))
            .map(|w| &w[0]),
    }
}

/// Rows for APPEND and UPSERT: at least one; each with one value per column, each value admitted
/// by its column; in a partitioned table, each partitioning value in a partition of the domain.
fn check_rows(scheme: &SchemeView, t: &TableView, rows: &[Row]) -> Result<(), String> {
    if rows.is_empty() {
        return Err("no rows".into());
    }
    for row in rows {
        if row.len() != t.columns.len() || !t.columns.iter().zip(row).all(|(c, v)| admits(c.ty, v)) {
            return Err(format!("row {row:?} does not fit the columns of the table"));
        }
        if let Some(p) = partition_index(t)
            && partition_holding(scheme, &row[p]).is_none()
        {
            return Err(format!("{:?} is in no partition", row[p]));
        }
    }
    Ok(())
}

/// A filter made into a row predicate: the column exists and the operand is a non-NULL value the
/// column admits; a row is selected when `row[column] <cmp> operand` holds (never for a NULL cell).
/// No filter selects every row.
fn resolve<'a>(t: &TableView, filter: Option<&'a Filter>) -> Result<impl Fn(&Row) -> bool + use<'a>, String> {
    let condition = match filter {
        None => None,
        Some(f) => {
            let i = column_index(t, &f.column)?;
            if f.value == Value::Null || !admits(t.columns[i].ty, &f.value) {
                return Err(format!("cannot compare column {} of type {:?} with {:?}", f.column, t.columns[i].ty, f.value));
            }
            Some((i, f))
        }
    };
    Ok(move |row: &Row| condition.is_none_or(|(i, f)| holds(&row[i], f.cmp, &f.value)))
}

#[cfg(test)]
mod tests {
    use ccrsim_model::dfs::Cmp;

    use super::*;
    use ColumnType::{Double, Int, Long, Symbol};

    const VDB: &str = "dfs://vdb";
    const RDB: &str = "dfs://rdb";

    fn s(v: &str) -> Value {
        Value::Symbol(v.into())
    }

    fn d(v: f64) -> Value {
        Value::Double(v.to_bits())
    }

    fn column(name: &str, ty: ColumnType) -> Column {
        Column::new(name, ty)
    }

    fn ok(db: &mut SequentialDb, op: Operation) {
        if let Err(e) = db.apply(&op) {
            panic!("{op:?} failed: {e}");
        }
    }

    fn refused(db: &mut SequentialDb, op: Operation) {
        let before = db.clone();
        assert!(db.apply(&op).is_err(), "{op:?} was applied");
        assert_eq!(*db, before, "the refused {op:?} changed the state");
    }

    /// `dfs://vdb` VALUE {A, B, C} with `trades(sym SYMBOL, qty INT, px DOUBLE)` by `sym`, and
    /// `dfs://rdb` RANGE [0, 10, 20, 30) with no table.
    fn fixture() -> SequentialDb {
        let mut db = SequentialDb::new();
        let values = ["A", "B", "C"].map(s).into_iter().collect();
        ok(&mut db, Operation::CreateDomain { db: VDB.into(), scheme: PartitionScheme::Value { column_type: Symbol, values } });
        let boundaries = vec![Value::Int(0), Value::Int(10), Value::Int(20), Value::Int(30)];
        ok(&mut db, Operation::CreateDomain { db: RDB.into(), scheme: PartitionScheme::Range { column_type: Int, boundaries } });
        let columns = vec![column("sym", Symbol), column("qty", Int), column("px", Double)];
        ok(&mut db, Operation::CreatePartitionedTable { db: VDB.into(), table: "trades".into(), columns, partition_column: "sym".into() });
        db
    }

    fn trades(db: &SequentialDb) -> TableView {
        db.views(|n| n == VDB)[VDB].tables["trades"].clone()
    }

    #[test]
    fn every_kind_has_its_documented_effect() {
        let mut db = fixture();
        let trade = |sym: &str, qty: i32, px: f64| vec![s(sym), Value::Int(qty), d(px)];
        let on = |table: &str| (VDB.to_string(), table.to_string());
        let (v, t) = on("trades");
        ok(
            &mut db,
            Operation::CreateDomain {
                db: "dfs://tmp".into(),
                scheme: PartitionScheme::Value { column_type: Int, values: [Value::Int(1)].into() },
            },
        );
        ok(&mut db, Operation::CreateTable { db: v.clone(), table: "dim".into(), columns: vec![column("name", Symbol)] });
        ok(
            &mut db,
            Operation::Append { db: v.clone(), table: t.clone(), rows: vec![trade("A", 1, 1.0), trade("B", 2, 2.0), trade("A", 1, 5.0)] },
        );
        ok(&mut db, Operation::AppendChunkGranularity { db: v.clone(), table: t.clone(), rows: vec![trade("C", 3, 3.0)] });
        // The first of the two (A, 1) rows is replaced; a second new row with the key replaces the first new one.
        let rows = vec![trade("A", 1, 1.25), trade("C", 4, 4.0), trade("C", 4, 4.5)];
        ok(&mut db, Operation::Upsert { db: v.clone(), table: t.clone(), keys: vec!["sym".into(), "qty".into()], rows });
        let filter = |column: &str, cmp, value| Some(Filter { column: column.into(), cmp, value });
        ok(
            &mut db,
            Operation::SqlUpdate {
                db: v.clone(),
                table: t.clone(),
                column: "px".into(),
                value: d(9.0),
                filter: filter("qty", Cmp::Ge, Value::Int(3)),
            },
        );
        ok(&mut db, Operation::SqlDelete { db: v.clone(), table: t.clone(), filter: filter("sym", Cmp::Eq, s("B")) });
        ok(&mut db, Operation::DropPartition { db: v.clone(), table: t.clone(), partition: s("C") });
        ok(&mut db, Operation::AddValuePartition { db: v.clone(), value: s("D") });
        ok(&mut db, Operation::AddRangePartition { db: RDB.into(), boundary: Value::Int(40) });
        ok(&mut db, Operation::AddColumn { db: v.clone(), table: t.clone(), column: column("note", Symbol) });
        ok(&mut db, Operation::SetColumnComment { db: v.clone(), table: t.clone(), column: "note".into(), comment: "free text".into() });
        ok(&mut db, Operation::RenameColumn { db: v.clone(), table: t.clone(), column: "note".into(), new_name: "remark".into() });
        ok(&mut db, Operation::ReplaceColumn { db: v.clone(), table: t.clone(), column: "qty".into(), ty: Long });
        ok(&mut db, Operation::ReplaceColumn { db: v.clone(), table: t.clone(), column: "px".into(), ty: Symbol });
        assert_eq!(trades(&db).columns[3], ColumnView { name: "remark".into(), ty: Symbol, comment: "free text".into() });
        ok(&mut db, Operation::DropColumn { db: v.clone(), table: t.clone(), column: "remark".into() });
        ok(&mut db, Operation::RenameTable { db: v.clone(), table: "dim".into(), new_name: "names".into() });
        ok(&mut db, Operation::TruncateTable { db: v.clone(), table: "names".into() });
        ok(&mut db, Operation::DropTable { db: v.clone(), table: "names".into() });
        ok(&mut db, Operation::DropDb { db: "dfs://tmp".into() });

        let views = db.views(|_| true);
        assert_eq!(views.keys().collect::<Vec<_>>(), vec![RDB, VDB]);
        assert_eq!(views[VDB].scheme, SchemeView::Value { column_type: Symbol, values: ["A", "B", "C", "D"].map(s).to_vec() });
        let boundaries = [0, 10, 20, 30, 40].map(Value::Int).to_vec();
        assert_eq!(views[RDB].scheme, SchemeView::Range { column_type: Int, boundaries });
        let table = &views[VDB].tables["trades"];
        assert_eq!(
            table.columns.iter().map(|c| (c.name.as_str(), c.ty)).collect::<Vec<_>>(),
            vec![("sym", Symbol), ("qty", Long), ("px", Symbol)]
        );
        assert_eq!(table.partition_column.as_deref(), Some("sym"));
        assert_eq!(table.rows, vec![vec![s("A"), Value::Long(1), s("1.25")], vec![s("A"), Value::Long(1), s("5")]]);
    }

    #[test]
    fn invalid_operations_change_nothing() {
        let mut db = fixture();
        let (v, t) = (VDB.to_string(), "trades".to_string());
        let rows = vec![vec![s("A"), Value::Int(1), d(1.0)], vec![s("Z"), Value::Int(2), d(2.0)]];
        refused(&mut db, Operation::Append { db: v.clone(), table: t.clone(), rows });
        refused(&mut db, Operation::Append { db: v.clone(), table: t.clone(), rows: vec![vec![Value::Null, Value::Int(1), d(1.0)]] });
        refused(&mut db, Operation::Append { db: v.clone(), table: t.clone(), rows: vec![vec![s("A"), Value::Long(1), d(1.0)]] });
        refused(&mut db, Operation::Append { db: v.clone(), table: t.clone(), rows: vec![vec![s("A"), Value::Int(1), d(f64::NAN)]] });
        refused(
            &mut db,
            Operation::Upsert {
                db: v.clone(),
                table: t.clone(),
                keys: vec!["qty".into()],
                rows: vec![vec![s("A"), Value::Int(1), d(1.0)]],
            },
        );
        refused(&mut db, Operation::SqlUpdate { db: v.clone(), table: t.clone(), column: "sym".into(), value: s("B"), filter: None });
        let filter = Some(Filter { column: "qty".into(), cmp: Cmp::Lt, value: Value::Null });
        refused(&mut db, Operation::SqlDelete { db: v.clone(), table: t.clone(), filter });
        refused(&mut db, Operation::DropPartition { db: RDB.into(), table: t.clone(), partition: Value::Int(0) });
        refused(&mut db, Operation::AddRangePartition { db: RDB.into(), boundary: Value::Int(30) });
        refused(&mut db, Operation::AddValuePartition { db: v.clone(), value: s("A") });
        refused(&mut db, Operation::RenameTable { db: v.clone(), table: t.clone(), new_name: t.clone() });
        refused(&mut db, Operation::RenameColumn { db: v.clone(), table: t.clone(), column: "qty".into(), new_name: "bad name".into() });
        refused(&mut db, Operation::ReplaceColumn { db: v.clone(), table: t.clone(), column: "sym".into(), ty: Symbol });
        refused(&mut db, Operation::DropColumn { db: v.clone(), table: t.clone(), column: "sym".into() });
        refused(
            &mut db,
            Operation::CreatePartitionedTable {
                db: RDB.into(),
                table: "e".into(),
                columns: vec![column("k", Long)],
                partition_column: "k".into(),
            },
        );
        let scheme = PartitionScheme::Range { column_type: Int, boundaries: vec![Value::Int(0), Value::Int(0)] };
        refused(&mut db, Operation::CreateDomain { db: "dfs://new".into(), scheme });
        assert!(trades(&db).rows.is_empty());
    }
}

//! Unit tests of the 20 operation types against the sequential reference model
//! (`ccrsim_model::dfs::ReferenceDb`), and of the planner's locks.
//!
//! Every operation type has a test of its effect on the catalog and on the rows, and tests of
//! invalid use: an invalid operation returns `ErrorCode::Invalid` and leaves the whole database as
//! it was. The last test applies random sequences of valid and invalid operations and checks the
//! invariants of the reference model after every step.
//!
//! The fixtures:
//! - `dfs://vdb`, VALUE partitioned on SYMBOL {A, B, C}, with `trades(sym SYMBOL, qty INT,
//!   px DOUBLE)` and `quotes(sym SYMBOL, bid DOUBLE)`, both partitioned by `sym`;
//! - `dfs://rdb`, RANGE partitioned on INT [0, 10, 20, 30), with `events(k INT, v LONG)`
//!   partitioned by `k`.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;

use ccrsim_model::dfs::{
    ChunkDelta, Cmp, Column, ColumnType, ErrorCode, Filter, LockKey, OpError, Operation, OperationKind, PartitionKey, PartitionScheme,
    Plan, ReferenceDb, Row, Table, TableId, Value, plan,
};
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestRunner};

use common::{PRELUDE, d, i, kind_of, l, random_steps, realize, s};

use ColumnType::{Double, Int, Long, Symbol, Timestamp};

// ----- Values, rows, schemes -------------------------------------------------------------------------

const VDB: &str = "dfs://vdb";
const RDB: &str = "dfs://rdb";

fn col(name: &str, ty: ColumnType) -> Column {
    Column::new(name, ty)
}

fn trade(sym: &str, qty: i32, px: f64) -> Row {
    vec![s(sym), i(qty), d(px)]
}

fn quote(sym: &str, bid: f64) -> Row {
    vec![s(sym), d(bid)]
}

fn event(k: i32, v: i64) -> Row {
    vec![i(k), l(v)]
}

fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}

fn value_scheme() -> PartitionScheme {
    PartitionScheme::Value { column_type: Symbol, values: ["A", "B", "C"].map(s).into_iter().collect() }
}

fn range_scheme() -> PartitionScheme {
    PartitionScheme::Range { column_type: Int, boundaries: vec![i(0), i(10), i(20), i(30)] }
}

fn trades_columns() -> Vec<Column> {
    vec![col("sym", Symbol), col("qty", Int), col("px", Double)]
}

fn filter(column: &str, cmp: Cmp, value: Value) -> Option<Filter> {
    Some(Filter { column: column.into(), cmp, value })
}

// ----- Operations ------------------------------------------------------------------------------------

fn append(db: &str, table: &str, rows: Vec<Row>) -> Operation {
    Operation::Append { db: db.into(), table: table.into(), rows }
}

fn append_chunk(db: &str, table: &str, rows: Vec<Row>) -> Operation {
    Operation::AppendChunkGranularity { db: db.into(), table: table.into(), rows }
}

fn delete(db: &str, table: &str, filter: Option<Filter>) -> Operation {
    Operation::SqlDelete { db: db.into(), table: table.into(), filter }
}

fn update(db: &str, table: &str, column: &str, value: Value, filter: Option<Filter>) -> Operation {
    Operation::SqlUpdate { db: db.into(), table: table.into(), column: column.into(), value, filter }
}

fn upsert(db: &str, table: &str, keys: &[&str], rows: Vec<Row>) -> Operation {
    Operation::Upsert { db: db.into(), table: table.into(), keys: keys.iter().map(|k| k.to_string()).collect(), rows }
}

fn drop_table(db: &str, table: &str) -> Operation {
    Operation::DropTable { db: db.into(), table: table.into() }
}

fn drop_partition(db: &str, table: &str, partition: Value) -> Operation {
    Operation::DropPartition { db: db.into(), table: table.into(), partition }
}

fn drop_db(db: &str) -> Operation {
    Operation::DropDb { db: db.into() }
}

fn add_range(db: &str, boundary: Value) -> Operation {
    Operation::AddRangePartition { db: db.into(), boundary }
}

fn add_value(db: &str, value: Value) -> Operation {
    Operation::AddValuePartition { db: db.into(), value }
}

fn create_domain(db: &str, scheme: PartitionScheme) -> Operation {
    Operation::CreateDomain { db: db.into(), scheme }
}

fn create_table(db: &str, table: &str, columns: Vec<Column>) -> Operation {
    Operation::CreateTable { db: db.into(), table: table.into(), columns }
}

fn create_partitioned(db: &str, table: &str, columns: Vec<Column>, partition_column: &str) -> Operation {
    Operation::CreatePartitionedTable { db: db.into(), table: table.into(), columns, partition_column: partition_column.into() }
}

fn add_column(db: &str, table: &str, column: Column) -> Operation {
    Operation::AddColumn { db: db.into(), table: table.into(), column }
}

fn drop_column(db: &str, table: &str, column: &str) -> Operation {
    Operation::DropColumn { db: db.into(), table: table.into(), column: column.into() }
}

fn rename_table(db: &str, table: &str, new_name: &str) -> Operation {
    Operation::RenameTable { db: db.into(), table: table.into(), new_name: new_name.into() }
}

fn truncate(db: &str, table: &str) -> Operation {
    Operation::TruncateTable { db: db.into(), table: table.into() }
}

fn replace_column(db: &str, table: &str, column: &str, ty: ColumnType) -> Operation {
    Operation::ReplaceColumn { db: db.into(), table: table.into(), column: column.into(), ty }
}

fn set_comment(db: &str, table: &str, column: &str, comment: &str) -> Operation {
    Operation::SetColumnComment { db: db.into(), table: table.into(), column: column.into(), comment: comment.into() }
}

fn rename_column(db: &str, table: &str, column: &str, new_name: &str) -> Operation {
    Operation::RenameColumn { db: db.into(), table: table.into(), column: column.into(), new_name: new_name.into() }
}

/// One otherwise valid operation of each of the 16 kinds that name a table, on `db.table` of the
/// fixture's `trades` shape.
fn table_operations(db: &str, table: &str) -> Vec<Operation> {
    vec![
        append(db, table, vec![trade("A", 1, 1.0)]),
        append_chunk(db, table, vec![trade("A", 1, 1.0)]),
        delete(db, table, None),
        update(db, table, "qty", i(0), None),
        upsert(db, table, &["sym"], vec![trade("A", 1, 1.0)]),
        drop_table(db, table),
        drop_partition(db, table, s("A")),
        create_table(db, table, vec![col("x", Int)]),
        create_partitioned(db, table, trades_columns(), "sym"),
        add_column(db, table, col("note", Symbol)),
        drop_column(db, table, "qty"),
        rename_table(db, table, "renamed"),
        truncate(db, table),
        replace_column(db, table, "qty", Long),
        set_comment(db, table, "qty", "quantity"),
        rename_column(db, table, "qty", "quantity"),
    ]
}

// ----- Harness ---------------------------------------------------------------------------------------

/// Applies an operation that must succeed.
#[track_caller]
fn ok(db: &mut ReferenceDb, op: Operation) {
    if let Err(e) = db.apply(&op) {
        panic!("{op:?} failed: {e}");
    }
}

/// Applies an operation that must be refused as invalid, with a message containing `why`, without
/// any change to the database.
#[track_caller]
fn invalid(db: &mut ReferenceDb, op: Operation, why: &str) {
    let before = db.clone();
    match db.apply(&op) {
        Ok(()) => panic!("{op:?} succeeded, expected an Invalid error about {why:?}"),
        Err(e) => {
            assert_eq!(e.code, ErrorCode::Invalid, "{op:?}: {e}");
            assert!(e.message.contains(why), "{op:?}: message {:?} does not mention {why:?}", e.message);
        }
    }
    assert_eq!(*db, before, "the refused {op:?} changed the database");
}

fn tid(db: &ReferenceDb, database: &str, table: &str) -> TableId {
    db.catalog.table(database, table).unwrap_or_else(|| panic!("no table {database}.{table}")).id
}

fn table<'a>(db: &'a ReferenceDb, database: &str, table: &str) -> &'a Table {
    db.catalog.table(database, table).unwrap_or_else(|| panic!("no table {database}.{table}"))
}

/// Every row of a table, sorted.
fn rows(db: &ReferenceDb, database: &str, t: &str) -> Vec<Row> {
    db.rows_of(tid(db, database, t))
}

/// The rows of one chunk, in insertion order.
fn chunk(db: &ReferenceDb, database: &str, t: &str, partition: Value) -> Option<Vec<Row>> {
    db.chunks.get(&(tid(db, database, t), partition)).map(|c| c.rows.clone())
}

/// The partitions of a table that hold a chunk.
fn partitions(db: &ReferenceDb, database: &str, t: &str) -> Vec<PartitionKey> {
    let id = tid(db, database, t);
    db.chunks.keys().filter(|(t, _)| *t == id).map(|(_, p)| p.clone()).collect()
}

fn column_names(db: &ReferenceDb, database: &str, t: &str) -> Vec<String> {
    table(db, database, t).columns.iter().map(|c| c.name.clone()).collect()
}

fn plan_of(db: &ReferenceDb, op: &Operation) -> Plan {
    let existing = |t: TableId| db.chunks.keys().filter(|(id, _)| *id == t).map(|(_, p)| p.clone()).collect();
    plan(&db.catalog, &existing, op).unwrap_or_else(|e| panic!("planning {op:?} failed: {e}"))
}

fn locks(db: &ReferenceDb, op: &Operation) -> Vec<LockKey> {
    plan_of(db, op).locks
}

fn db_lock(db: &str) -> LockKey {
    LockKey::Db(db.into())
}

fn table_lock(db: &str, table: &str) -> LockKey {
    LockKey::Table(db.into(), table.into())
}

fn partition_lock(db: &str, table: &str, p: Value) -> LockKey {
    LockKey::Partition(db.into(), table.into(), p)
}

/// Both databases with their (empty) tables. Ids: vdb 0, rdb 1; trades 0, quotes 1, events 2.
fn fixture() -> ReferenceDb {
    let mut db = ReferenceDb::default();
    ok(&mut db, create_domain(VDB, value_scheme()));
    ok(&mut db, create_partitioned(VDB, "trades", trades_columns(), "sym"));
    ok(&mut db, create_partitioned(VDB, "quotes", vec![col("sym", Symbol), col("bid", Double)], "sym"));
    ok(&mut db, create_domain(RDB, range_scheme()));
    ok(&mut db, create_partitioned(RDB, "events", vec![col("k", Int), col("v", Long)], "k"));
    db
}

/// The fixture with rows: trades in A and B, quotes in A and C, events in every range.
fn filled() -> ReferenceDb {
    let mut db = fixture();
    ok(&mut db, append(VDB, "trades", vec![trade("A", 1, 1.5), trade("B", 2, 2.5), trade("A", 3, 3.5)]));
    ok(&mut db, append(VDB, "quotes", vec![quote("A", 1.0), quote("C", 3.0)]));
    ok(&mut db, append(RDB, "events", vec![event(1, 10), event(12, 20), event(25, 30)]));
    db
}

fn all_trades() -> Vec<Row> {
    sorted(vec![trade("A", 1, 1.5), trade("B", 2, 2.5), trade("A", 3, 3.5)])
}

// ----- Catalog-wide checks ---------------------------------------------------------------------------

#[test]
fn every_operation_kind_has_a_name_and_a_valid_example() {
    for k in OperationKind::ALL {
        assert_eq!(OperationKind::from_name(k.name()), Some(k));
        assert_eq!(k.to_string(), k.name());
    }
    assert_eq!(OperationKind::from_name("append"), None);
    assert_eq!(OperationKind::ALL.iter().collect::<BTreeSet<_>>().len(), 20);

    let script = vec![
        create_domain(VDB, value_scheme()),
        create_domain(RDB, range_scheme()),
        create_domain("dfs://tmp", range_scheme()),
        create_partitioned(VDB, "trades", trades_columns(), "sym"),
        create_table(VDB, "dim", vec![col("name", Symbol)]),
        append(VDB, "trades", vec![trade("A", 1, 1.0), trade("B", 2, 2.0)]),
        append_chunk(VDB, "trades", vec![trade("C", 3, 3.0)]),
        upsert(VDB, "trades", &["sym", "qty"], vec![trade("A", 1, 1.25)]),
        update(VDB, "trades", "px", d(9.0), filter("qty", Cmp::Ge, i(3))),
        delete(VDB, "trades", filter("sym", Cmp::Eq, s("B"))),
        drop_partition(VDB, "trades", s("B")),
        add_value(VDB, s("D")),
        add_range(RDB, i(40)),
        add_column(VDB, "trades", col("note", Symbol)),
        set_comment(VDB, "trades", "note", "free text"),
        rename_column(VDB, "trades", "note", "remark"),
        replace_column(VDB, "trades", "qty", Long),
        drop_column(VDB, "trades", "remark"),
        rename_table(VDB, "dim", "names"),
        truncate(VDB, "names"),
        drop_table(VDB, "names"),
        drop_db("dfs://tmp"),
    ];
    let mut db = ReferenceDb::default();
    let mut seen = BTreeSet::new();
    for op in script {
        seen.insert(op.kind());
        ok(&mut db, op);
    }
    assert_eq!(seen, OperationKind::ALL.into_iter().collect::<BTreeSet<_>>());
    assert_eq!(db.catalog.databases.keys().collect::<Vec<_>>(), vec![RDB, VDB]);
    assert_eq!(column_names(&db, VDB, "trades"), vec!["sym", "qty", "px"]);
    assert_eq!(table(&db, VDB, "trades").columns[1].ty, Long);
    assert_eq!(rows(&db, VDB, "trades"), vec![vec![s("A"), l(1), d(1.25)], vec![s("C"), l(3), d(9.0)]]);
}

#[test]
fn table_operations_on_an_unknown_database_or_table_are_invalid() {
    let mut db = filled();
    for op in table_operations("dfs://nowhere", "trades") {
        invalid(&mut db, op, "database dfs://nowhere does not exist");
    }
    for op in table_operations(VDB, "nosuch") {
        if matches!(op.kind(), OperationKind::CREATE_TABLE | OperationKind::CREATE_PARTITIONED_TABLE) {
            continue; // creating an unknown table is the point of these
        }
        invalid(&mut db, op, "table nosuch does not exist");
    }
    for op in [drop_db("dfs://nowhere"), add_range("dfs://nowhere", i(40)), add_value("dfs://nowhere", s("D"))] {
        invalid(&mut db, op, "does not exist");
    }
    // A table of another database is unknown here.
    invalid(&mut db, append(RDB, "trades", vec![trade("A", 1, 1.0)]), "table trades does not exist in dfs://rdb");
}

// ----- CREATE_DOMAIN ---------------------------------------------------------------------------------

#[test]
fn create_domain_adds_a_database_with_its_scheme_and_a_fresh_id() {
    let mut db = ReferenceDb::default();
    ok(&mut db, create_domain(VDB, value_scheme()));
    let v = db.catalog.database(VDB).expect("vdb exists");
    assert_eq!((v.id, v.name.as_str(), &v.scheme), (0, VDB, &value_scheme()));
    assert!(v.tables.is_empty());
    ok(&mut db, create_domain(RDB, range_scheme()));
    assert_eq!(db.catalog.database(RDB).map(|r| (r.id, r.scheme.clone())), Some((1, range_scheme())));
    assert_eq!(db.catalog.next_db_id, 2);
    assert_eq!(db.catalog.next_table_id, 0);
    assert!(db.chunks.is_empty());
}

#[test]
fn create_domain_refuses_an_existing_name_and_malformed_schemes() {
    let mut db = fixture();
    invalid(&mut db, create_domain(VDB, range_scheme()), "exists already");
    let bad = |scheme| create_domain("dfs://new", scheme);
    let values = |ty, vs: Vec<Value>| PartitionScheme::Value { column_type: ty, values: vs.into_iter().collect() };
    let range = |ty, boundaries| PartitionScheme::Range { column_type: ty, boundaries };
    invalid(&mut db, bad(values(Double, vec![d(1.0)])), "cannot partition");
    invalid(&mut db, bad(range(Double, vec![d(0.0), d(1.0)])), "cannot partition");
    invalid(&mut db, bad(values(Int, vec![])), "at least one value");
    invalid(&mut db, bad(values(Int, vec![i(1), l(2)])), "does not fit");
    invalid(&mut db, bad(values(Symbol, vec![s("A"), Value::Null])), "does not fit");
    invalid(&mut db, bad(range(Int, vec![i(0)])), "at least two boundaries");
    invalid(&mut db, bad(range(Int, vec![i(0), i(10), i(10)])), "increase strictly");
    invalid(&mut db, bad(range(Int, vec![i(10), i(0)])), "increase strictly");
    invalid(&mut db, bad(range(Timestamp, vec![Value::Timestamp(0), i(10)])), "does not fit");
    invalid(&mut db, bad(range(Int, vec![Value::Null, i(10)])), "does not fit");
    // The same schemes are fine under another type.
    ok(&mut db, bad(range(Timestamp, vec![Value::Timestamp(0), Value::Timestamp(10)])));
    assert_eq!(db.catalog.database("dfs://new").map(|n| n.id), Some(2));
}

// ----- CREATE_PARTITIONED_TABLE ----------------------------------------------------------------------

#[test]
fn create_partitioned_table_adds_a_table_with_its_partitioning_column() {
    let db = fixture();
    let trades = table(&db, VDB, "trades");
    assert_eq!(
        (trades.id, trades.name.as_str(), trades.columns.clone(), trades.partition_column.as_deref()),
        (0, "trades", trades_columns(), Some("sym"))
    );
    assert_eq!(trades.partition_index(), Some(0));
    assert_eq!(tid(&db, VDB, "quotes"), 1);
    let events = table(&db, RDB, "events");
    assert_eq!((events.id, events.partition_column.as_deref()), (2, Some("k")));
    assert_eq!(db.catalog.next_table_id, 3);
    assert_eq!(
        db.catalog.database(VDB).map(|v| v.tables.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["quotes".into(), "trades".into()])
    );
    assert!(db.chunks.is_empty(), "creating a table writes no chunk");

    // The partitioning column need not be the first one.
    let mut db = db;
    ok(&mut db, create_partitioned(RDB, "late", vec![col("v", Double), col("k", Int)], "k"));
    assert_eq!(table(&db, RDB, "late").partition_index(), Some(1));
    ok(&mut db, append(RDB, "late", vec![vec![d(0.5), i(15)]]));
    assert_eq!(chunk(&db, RDB, "late", i(10)), Some(vec![vec![d(0.5), i(15)]]));
}

#[test]
fn create_partitioned_table_refuses_bad_definitions() {
    let mut db = fixture();
    invalid(&mut db, create_partitioned(VDB, "trades", trades_columns(), "sym"), "exists already");
    invalid(&mut db, create_partitioned(VDB, "t", trades_columns(), "ticker"), "is not a column");
    // Wrong type for the domain: INT on a SYMBOL domain, LONG on an INT range.
    invalid(&mut db, create_partitioned(VDB, "t", trades_columns(), "qty"), "the domain is Symbol");
    invalid(&mut db, create_partitioned(RDB, "t", vec![col("k", Long)], "k"), "partitioning column k is Long");
    invalid(&mut db, create_partitioned(VDB, "t", vec![], "sym"), "at least one column");
    invalid(&mut db, create_partitioned(VDB, "t", vec![col("sym", Symbol), col("sym", Int)], "sym"), "appears twice");
    invalid(&mut db, create_partitioned(VDB, "t", vec![col("sym", Symbol), col("bad name", Int)], "sym"), "not a valid name");
    invalid(&mut db, create_partitioned(VDB, "t", vec![col("sym", Symbol), col("", Int)], "sym"), "not a valid name");
}

// ----- CREATE_TABLE (dimension tables) ---------------------------------------------------------------

#[test]
fn create_table_makes_a_dimension_table_with_one_chunk_under_the_null_key() {
    let mut db = fixture();
    ok(&mut db, create_table(RDB, "dim", vec![col("name", Symbol), col("n", Int)]));
    let dim = table(&db, RDB, "dim");
    assert_eq!((dim.id, dim.partition_column.clone(), dim.partition_index()), (3, None, None));
    assert_eq!(db.catalog.next_table_id, 4);
    // Any value goes, in any "partition" of the domain or none: the rows are not routed.
    let added = vec![vec![s("x"), i(-5)], vec![s("y"), i(500)], vec![Value::Null, Value::Null]];
    ok(&mut db, append(RDB, "dim", added.clone()));
    assert_eq!(partitions(&db, RDB, "dim"), vec![Value::Null]);
    assert_eq!(chunk(&db, RDB, "dim", Value::Null), Some(added));
    // A dimension table in a VALUE database behaves the same.
    ok(&mut db, create_table(VDB, "dim", vec![col("n", Long)]));
    ok(&mut db, append(VDB, "dim", vec![vec![l(7)]]));
    assert_eq!(partitions(&db, VDB, "dim"), vec![Value::Null]);
    assert_eq!(rows(&db, VDB, "dim"), vec![vec![l(7)]]);
    // Pruning does not apply: a DELETE locks the table.
    assert_eq!(locks(&db, &delete(RDB, "dim", filter("name", Cmp::Eq, s("x")))), vec![table_lock(RDB, "dim")]);
    ok(&mut db, delete(RDB, "dim", filter("name", Cmp::Eq, s("x"))));
    assert_eq!(rows(&db, RDB, "dim"), sorted(vec![vec![s("y"), i(500)], vec![Value::Null, Value::Null]]));
    // An upsert needs no partitioning key.
    ok(&mut db, upsert(RDB, "dim", &["name"], vec![vec![s("y"), i(1)], vec![s("z"), i(2)]]));
    assert_eq!(chunk(&db, RDB, "dim", Value::Null), Some(vec![vec![s("y"), i(1)], vec![Value::Null, Value::Null], vec![s("z"), i(2)]]));
}

#[test]
fn create_table_refuses_bad_definitions() {
    let mut db = fixture();
    invalid(&mut db, create_table(VDB, "trades", vec![col("x", Int)]), "exists already");
    invalid(&mut db, create_table(VDB, "dim", vec![]), "at least one column");
    invalid(&mut db, create_table(VDB, "dim", vec![col("x", Int), col("x", Long)]), "appears twice");
    invalid(&mut db, create_table(VDB, "dim", vec![col("x-y", Int)]), "not a valid name");
    ok(&mut db, create_table(VDB, "dim", vec![col("x", Int)]));
    invalid(&mut db, create_table(VDB, "dim", vec![col("x", Int)]), "exists already");
    invalid(&mut db, create_partitioned(VDB, "dim", trades_columns(), "sym"), "exists already");
    // A dimension table has no partitions to drop.
    invalid(&mut db, drop_partition(VDB, "dim", s("A")), "not partitioned");
}

#[test]
fn creating_a_table_checks_its_name() {
    let mut db = fixture();
    invalid(&mut db, rename_table(VDB, "trades", "bad name"), "not a valid name");
    invalid(&mut db, create_table(VDB, "bad name", vec![col("x", Int)]), "not a valid name");
    invalid(&mut db, create_partitioned(VDB, "", trades_columns(), "sym"), "not a valid name");
}

// ----- APPEND ----------------------------------------------------------------------------------------

#[test]
fn append_routes_rows_to_value_partitions() {
    let mut db = fixture();
    let catalog = db.catalog.clone();
    ok(&mut db, append(VDB, "trades", vec![trade("A", 1, 1.5), trade("B", 2, 2.5), trade("A", 3, 3.5)]));
    assert_eq!(db.catalog, catalog, "APPEND leaves the catalog alone");
    assert_eq!(partitions(&db, VDB, "trades"), vec![s("A"), s("B")]);
    assert_eq!(chunk(&db, VDB, "trades", s("A")), Some(vec![trade("A", 1, 1.5), trade("A", 3, 3.5)]), "insertion order");
    assert_eq!(chunk(&db, VDB, "trades", s("B")), Some(vec![trade("B", 2, 2.5)]));
    assert_eq!(chunk(&db, VDB, "trades", s("C")), None);
    assert!(partitions(&db, VDB, "quotes").is_empty());
    // A second append extends the chunk; duplicates are kept; NULLs are fine outside the key.
    ok(&mut db, append(VDB, "trades", vec![trade("A", 1, 1.5), vec![s("A"), Value::Null, Value::Null]]));
    assert_eq!(
        chunk(&db, VDB, "trades", s("A")),
        Some(vec![trade("A", 1, 1.5), trade("A", 3, 3.5), trade("A", 1, 1.5), vec![s("A"), Value::Null, Value::Null]])
    );
    assert_eq!(rows(&db, VDB, "trades").len(), 5);
}

#[test]
fn append_routes_rows_to_range_partitions_by_lower_boundary() {
    let mut db = fixture();
    ok(&mut db, append(RDB, "events", vec![event(0, 1), event(9, 2), event(10, 3), event(19, 4), event(29, 5), event(20, 6)]));
    assert_eq!(partitions(&db, RDB, "events"), vec![i(0), i(10), i(20)]);
    assert_eq!(chunk(&db, RDB, "events", i(0)), Some(vec![event(0, 1), event(9, 2)]));
    assert_eq!(chunk(&db, RDB, "events", i(10)), Some(vec![event(10, 3), event(19, 4)]));
    assert_eq!(chunk(&db, RDB, "events", i(20)), Some(vec![event(29, 5), event(20, 6)]));
    // The upper boundary is excluded, and nothing lies below the first one.
    invalid(&mut db, append(RDB, "events", vec![event(30, 7)]), "30 is in no partition of dfs://rdb");
    invalid(&mut db, append(RDB, "events", vec![event(-1, 7)]), "is in no partition");
}

#[test]
fn append_is_all_or_nothing_and_checks_every_row() {
    let mut db = filled();
    let good = trade("C", 9, 9.0);
    invalid(&mut db, append(VDB, "trades", vec![good.clone(), trade("Z", 1, 1.0)]), "Z is in no partition of dfs://vdb");
    invalid(&mut db, append(VDB, "trades", vec![good.clone(), vec![s("A"), i(1)]]), "a row has 2 values, table trades has 3 columns");
    invalid(&mut db, append(VDB, "trades", vec![good.clone(), vec![s("A"), i(1), d(1.0), d(2.0)]]), "has 4 values");
    invalid(&mut db, append(VDB, "trades", vec![good.clone(), vec![s("A"), l(1), d(1.0)]]), "type mismatch: 1 in column qty of type Int");
    invalid(&mut db, append(VDB, "trades", vec![good.clone(), vec![i(1), i(1), d(1.0)]]), "type mismatch");
    invalid(&mut db, append(VDB, "trades", vec![good.clone(), vec![s("A"), i(1), s("1.0")]]), "type mismatch");
    invalid(&mut db, append(VDB, "trades", vec![vec![Value::Null, i(1), d(1.0)]]), "NULL is in no partition");
    invalid(&mut db, append(RDB, "events", vec![event(5, 1), vec![Value::Null, l(1)]]), "is in no partition");
    invalid(&mut db, append(VDB, "trades", vec![]), "no rows");
    assert_eq!(rows(&db, VDB, "trades"), all_trades());
    assert_eq!(chunk(&db, VDB, "trades", s("C")), None);
}

// ----- APPEND_CHUNK_GRANULARITY ----------------------------------------------------------------------

#[test]
fn append_chunk_granularity_has_the_effect_of_append() {
    let batch = vec![trade("A", 1, 1.0), trade("C", 2, 2.0), trade("A", 4, 4.0)];
    let mut by_append = fixture();
    let mut by_chunk = fixture();
    ok(&mut by_append, append(VDB, "trades", batch.clone()));
    ok(&mut by_chunk, append_chunk(VDB, "trades", batch.clone()));
    assert_eq!(by_chunk, by_append);
    assert_eq!(chunk(&by_chunk, VDB, "trades", s("A")), Some(vec![trade("A", 1, 1.0), trade("A", 4, 4.0)]));
    assert_eq!(rows(&by_chunk, VDB, "trades"), sorted(batch.clone()));
    ok(&mut by_chunk, append_chunk(RDB, "events", vec![event(15, 1)]));
    assert_eq!(chunk(&by_chunk, RDB, "events", i(10)), Some(vec![event(15, 1)]));

    let chunk_plan = plan_of(&by_chunk, &append_chunk(VDB, "trades", batch.clone()));
    let append_plan = plan_of(&by_chunk, &append(VDB, "trades", batch));
    assert_eq!(chunk_plan.kind, OperationKind::APPEND_CHUNK_GRANULARITY);
    assert_eq!((chunk_plan.locks, chunk_plan.writes), (append_plan.locks, append_plan.writes));

    invalid(&mut by_chunk, append_chunk(VDB, "trades", vec![trade("A", 1, 1.0), trade("Q", 1, 1.0)]), "in no partition");
    invalid(&mut by_chunk, append_chunk(VDB, "trades", vec![quote("A", 1.0)]), "has 2 values");
    invalid(&mut by_chunk, append_chunk(RDB, "events", vec![vec![i(1), i(1)]]), "type mismatch");
    invalid(&mut by_chunk, append_chunk(RDB, "events", vec![]), "no rows");
}

// ----- SQL_DELETE ------------------------------------------------------------------------------------

#[test]
fn sql_delete_removes_the_matching_rows() {
    let mut db = filled();
    ok(&mut db, delete(VDB, "trades", filter("qty", Cmp::Lt, i(3))));
    assert_eq!(rows(&db, VDB, "trades"), vec![trade("A", 3, 3.5)]);
    assert_eq!(chunk(&db, VDB, "trades", s("B")), Some(vec![]), "an emptied chunk stays");
    assert_eq!(rows(&db, VDB, "quotes"), sorted(vec![quote("A", 1.0), quote("C", 3.0)]), "other tables untouched");

    ok(&mut db, delete(RDB, "events", filter("k", Cmp::Ge, i(12))));
    assert_eq!(rows(&db, RDB, "events"), vec![event(1, 10)]);
    // A filter that matches nothing changes nothing.
    let before = db.clone();
    ok(&mut db, delete(RDB, "events", filter("v", Cmp::Eq, l(99))));
    assert_eq!(db, before);
    // Without a filter, every row goes; the chunks stay, empty.
    ok(&mut db, delete(VDB, "quotes", None));
    assert!(rows(&db, VDB, "quotes").is_empty());
    assert_eq!(partitions(&db, VDB, "quotes"), vec![s("A"), s("C")]);
}

#[test]
fn sql_delete_with_an_equality_on_the_partitioning_column_touches_one_partition() {
    let mut db = filled();
    ok(&mut db, append(VDB, "trades", vec![trade("B", 7, 7.0)]));
    ok(&mut db, delete(VDB, "trades", filter("sym", Cmp::Eq, s("B"))));
    assert_eq!(chunk(&db, VDB, "trades", s("B")), Some(vec![]));
    assert_eq!(chunk(&db, VDB, "trades", s("A")), Some(vec![trade("A", 1, 1.5), trade("A", 3, 3.5)]));
    // On a range: only the equal rows of the pruned partition.
    ok(&mut db, append(RDB, "events", vec![event(12, 21), event(13, 22)]));
    ok(&mut db, delete(RDB, "events", filter("k", Cmp::Eq, i(12))));
    assert_eq!(chunk(&db, RDB, "events", i(10)), Some(vec![event(13, 22)]));
    assert_eq!(rows(&db, RDB, "events"), sorted(vec![event(1, 10), event(13, 22), event(25, 30)]));
}

#[test]
fn sql_delete_refuses_bad_filters() {
    let mut db = filled();
    invalid(&mut db, delete(VDB, "trades", filter("price", Cmp::Eq, d(1.0))), "column price does not exist");
    invalid(&mut db, delete(VDB, "trades", filter("qty", Cmp::Lt, l(3))), "cannot compare column qty of type Int with 3");
    invalid(&mut db, delete(VDB, "trades", filter("sym", Cmp::Eq, i(1))), "cannot compare");
    invalid(&mut db, delete(VDB, "trades", filter("px", Cmp::Eq, Value::Null)), "cannot compare");
    invalid(&mut db, delete(RDB, "events", filter("k", Cmp::Ge, d(1.0))), "cannot compare");
}

// ----- SQL_UPDATE ------------------------------------------------------------------------------------

#[test]
fn sql_update_sets_a_column_of_the_matching_rows() {
    let mut db = filled();
    ok(&mut db, update(VDB, "trades", "px", d(9.0), filter("sym", Cmp::Eq, s("B"))));
    assert_eq!(rows(&db, VDB, "trades"), sorted(vec![trade("A", 1, 1.5), trade("B", 2, 9.0), trade("A", 3, 3.5)]));
    ok(&mut db, update(VDB, "trades", "qty", i(0), filter("px", Cmp::Ge, d(3.0))));
    assert_eq!(chunk(&db, VDB, "trades", s("A")), Some(vec![trade("A", 1, 1.5), trade("A", 0, 3.5)]));
    assert_eq!(chunk(&db, VDB, "trades", s("B")), Some(vec![trade("B", 0, 9.0)]));
    // Without a filter, every row; NULL fits any column.
    ok(&mut db, update(VDB, "trades", "qty", Value::Null, None));
    assert!(rows(&db, VDB, "trades").iter().all(|r| r[1] == Value::Null && r.len() == 3));
    ok(&mut db, update(RDB, "events", "v", l(-1), filter("k", Cmp::Lt, i(12))));
    assert_eq!(rows(&db, RDB, "events"), sorted(vec![event(1, -1), event(12, 20), event(25, 30)]));
    assert_eq!(db.catalog, filled().catalog, "SQL_UPDATE leaves the catalog alone");
}

#[test]
fn sql_update_refuses_unknown_columns_mismatched_values_and_the_partitioning_column() {
    let mut db = filled();
    invalid(&mut db, update(VDB, "trades", "price", d(1.0), None), "column price does not exist");
    invalid(&mut db, update(VDB, "trades", "px", i(1), None), "1 does not fit column px of type Double");
    invalid(&mut db, update(VDB, "trades", "qty", s("1"), None), "does not fit");
    invalid(&mut db, update(RDB, "events", "v", i(1), None), "does not fit");
    invalid(&mut db, update(VDB, "trades", "sym", s("B"), None), "the partitioning column cannot be updated");
    invalid(&mut db, update(RDB, "events", "k", i(5), filter("v", Cmp::Eq, l(10))), "the partitioning column cannot be updated");
    invalid(&mut db, update(VDB, "trades", "px", d(1.0), filter("nope", Cmp::Eq, i(1))), "column nope does not exist");
    invalid(&mut db, update(VDB, "trades", "px", d(1.0), filter("qty", Cmp::Eq, d(1.0))), "cannot compare");
}

// ----- UPSERT ----------------------------------------------------------------------------------------

#[test]
fn upsert_replaces_rows_with_equal_keys_and_appends_the_others() {
    let mut db = filled();
    ok(&mut db, upsert(VDB, "trades", &["sym", "qty"], vec![trade("A", 1, 9.9), trade("B", 5, 5.5), trade("C", 6, 6.5)]));
    assert_eq!(chunk(&db, VDB, "trades", s("A")), Some(vec![trade("A", 1, 9.9), trade("A", 3, 3.5)]), "replaced in place");
    assert_eq!(chunk(&db, VDB, "trades", s("B")), Some(vec![trade("B", 2, 2.5), trade("B", 5, 5.5)]));
    assert_eq!(chunk(&db, VDB, "trades", s("C")), Some(vec![trade("C", 6, 6.5)]), "a new chunk");
    // Keyed on the partitioning column alone: one row per partition.
    ok(&mut db, upsert(VDB, "quotes", &["sym"], vec![quote("A", 2.0), quote("B", 2.5)]));
    assert_eq!(rows(&db, VDB, "quotes"), sorted(vec![quote("A", 2.0), quote("B", 2.5), quote("C", 3.0)]));
    // On a range.
    ok(&mut db, upsert(RDB, "events", &["k"], vec![event(12, 99), event(13, 1)]));
    assert_eq!(chunk(&db, RDB, "events", i(10)), Some(vec![event(12, 99), event(13, 1)]));
    assert_eq!(rows(&db, RDB, "events").len(), 4);
}

#[test]
fn upsert_refuses_keys_without_the_partitioning_column_and_bad_rows() {
    let mut db = filled();
    let rows = || vec![trade("A", 1, 9.9)];
    invalid(&mut db, upsert(VDB, "trades", &["qty"], rows()), "the partitioning column must be a key column");
    invalid(&mut db, upsert(RDB, "events", &["v"], vec![event(1, 10)]), "the partitioning column must be a key column");
    invalid(&mut db, upsert(VDB, "trades", &[], rows()), "upsert needs key columns");
    invalid(&mut db, upsert(VDB, "trades", &["sym", "price"], rows()), "key column price does not exist");
    invalid(&mut db, upsert(VDB, "trades", &["sym"], vec![vec![s("A"), d(1.0), d(1.0)]]), "type mismatch");
    invalid(&mut db, upsert(VDB, "trades", &["sym"], vec![trade("Z", 1, 1.0)]), "in no partition");
    invalid(&mut db, upsert(VDB, "trades", &["sym"], vec![]), "no rows");
    invalid(&mut db, upsert(RDB, "events", &["k"], vec![event(30, 1)]), "in no partition");
}

// ----- DROP_TABLE ------------------------------------------------------------------------------------

#[test]
fn drop_table_removes_the_table_and_its_chunks_only() {
    let mut db = filled();
    let (trades, quotes, events) = (tid(&db, VDB, "trades"), tid(&db, VDB, "quotes"), tid(&db, RDB, "events"));
    ok(&mut db, drop_table(VDB, "trades"));
    assert!(db.catalog.table(VDB, "trades").is_none());
    assert!(db.catalog.table_by_id(trades).is_none());
    assert!(db.chunks.keys().all(|(t, _)| *t != trades));
    assert_eq!(db.rows_of(quotes), sorted(vec![quote("A", 1.0), quote("C", 3.0)]));
    assert_eq!(db.rows_of(events).len(), 3);
    assert_eq!(db.chunks.len(), 5);
    // Gone: using it fails, and a new table of that name starts empty with a new id.
    invalid(&mut db, drop_table(VDB, "trades"), "table trades does not exist");
    invalid(&mut db, append(VDB, "trades", vec![trade("A", 1, 1.0)]), "table trades does not exist");
    ok(&mut db, create_partitioned(VDB, "trades", trades_columns(), "sym"));
    assert_eq!(tid(&db, VDB, "trades"), 3);
    assert!(rows(&db, VDB, "trades").is_empty());
    // A dimension table.
    ok(&mut db, create_table(RDB, "dim", vec![col("n", Int)]));
    ok(&mut db, append(RDB, "dim", vec![vec![i(1)]]));
    let dim = tid(&db, RDB, "dim");
    ok(&mut db, drop_table(RDB, "dim"));
    assert!(!db.chunks.contains_key(&(dim, Value::Null)));
}

// ----- DROP_PARTITION --------------------------------------------------------------------------------

#[test]
fn drop_partition_removes_that_tables_chunk_of_that_partition_only() {
    let mut db = filled();
    let scheme = db.catalog.database(VDB).map(|v| v.scheme.clone());
    ok(&mut db, drop_partition(VDB, "trades", s("A")));
    assert_eq!(chunk(&db, VDB, "trades", s("A")), None);
    assert_eq!(chunk(&db, VDB, "trades", s("B")), Some(vec![trade("B", 2, 2.5)]));
    assert_eq!(chunk(&db, VDB, "quotes", s("A")), Some(vec![quote("A", 1.0)]), "another table's chunk of that partition stays");
    assert_eq!(db.catalog.database(VDB).map(|v| v.scheme.clone()), scheme, "the domain keeps the partition");
    ok(&mut db, append(VDB, "trades", vec![trade("A", 8, 8.0)]));
    assert_eq!(chunk(&db, VDB, "trades", s("A")), Some(vec![trade("A", 8, 8.0)]));
    // A partition without a chunk: nothing to do, but valid.
    let before = db.clone();
    ok(&mut db, drop_partition(VDB, "trades", s("C")));
    assert_eq!(db, before);
    // A range partition, named by its lower boundary.
    ok(&mut db, drop_partition(RDB, "events", i(10)));
    assert_eq!(partitions(&db, RDB, "events"), vec![i(0), i(20)]);
    assert_eq!(rows(&db, RDB, "events"), vec![event(1, 10), event(25, 30)]);
}

#[test]
fn drop_partition_refuses_partitions_outside_the_domain() {
    let mut db = filled();
    invalid(&mut db, drop_partition(VDB, "trades", s("Z")), "partition Z does not exist in dfs://vdb");
    invalid(&mut db, drop_partition(VDB, "trades", i(0)), "does not exist");
    invalid(&mut db, drop_partition(VDB, "trades", Value::Null), "does not exist");
    invalid(&mut db, drop_partition(RDB, "events", i(30)), "partition 30 does not exist"); // the upper boundary
    invalid(&mut db, drop_partition(RDB, "events", i(15)), "does not exist"); // inside, not a key
    invalid(&mut db, drop_partition(RDB, "events", l(10)), "does not exist");
    invalid(&mut db, drop_partition(RDB, "nosuch", i(10)), "table nosuch does not exist");
}

// ----- DROP_DB ---------------------------------------------------------------------------------------

#[test]
fn drop_db_removes_the_database_and_every_chunk_of_its_tables() {
    let mut db = filled();
    ok(&mut db, create_table(VDB, "dim", vec![col("n", Int)]));
    ok(&mut db, append(VDB, "dim", vec![vec![i(1)]]));
    let events = tid(&db, RDB, "events");
    assert_eq!(db.chunks.len(), 8);
    ok(&mut db, drop_db(VDB));
    assert!(db.catalog.database(VDB).is_none());
    assert_eq!(db.catalog.databases.keys().collect::<Vec<_>>(), vec![RDB]);
    assert!(db.chunks.keys().all(|(t, _)| *t == events), "only the other database's chunks remain: {:?}", db.chunks.keys());
    assert_eq!(db.chunks.len(), 3);
    invalid(&mut db, drop_db(VDB), "database dfs://vdb does not exist");
    invalid(&mut db, append(VDB, "trades", vec![trade("A", 1, 1.0)]), "database dfs://vdb does not exist");
    // Re-created: new ids, no rows.
    ok(&mut db, create_domain(VDB, value_scheme()));
    ok(&mut db, create_partitioned(VDB, "trades", trades_columns(), "sym"));
    assert_eq!(db.catalog.database(VDB).map(|v| v.id), Some(2));
    assert_eq!(tid(&db, VDB, "trades"), 4);
    assert!(rows(&db, VDB, "trades").is_empty());
}

// ----- ADD_RANGE_PARTITION ---------------------------------------------------------------------------

#[test]
fn add_range_partition_appends_an_upper_boundary() {
    let mut db = filled();
    invalid(&mut db, append(RDB, "events", vec![event(35, 1)]), "in no partition");
    ok(&mut db, add_range(RDB, i(40)));
    assert_eq!(
        db.catalog.database(RDB).map(|r| r.scheme.clone()),
        Some(PartitionScheme::Range { column_type: Int, boundaries: vec![i(0), i(10), i(20), i(30), i(40)] })
    );
    assert_eq!(db.catalog.database(RDB).map(|r| r.scheme.keys()), Some(vec![i(0), i(10), i(20), i(30)]));
    ok(&mut db, append(RDB, "events", vec![event(35, 1), event(30, 2)]));
    assert_eq!(chunk(&db, RDB, "events", i(30)), Some(vec![event(35, 1), event(30, 2)]));
    assert_eq!(rows(&db, RDB, "events").len(), 5, "existing rows are not moved");
    invalid(&mut db, append(RDB, "events", vec![event(40, 1)]), "in no partition");
}

#[test]
fn add_range_partition_refuses_boundaries_not_above_the_last_one() {
    let mut db = filled();
    invalid(&mut db, add_range(RDB, i(25)), "new boundary 25 must be above the last one, 30");
    invalid(&mut db, add_range(RDB, i(30)), "must be above the last one");
    invalid(&mut db, add_range(RDB, i(-10)), "must be above the last one");
    invalid(&mut db, add_range(RDB, l(40)), "does not fit the Int domain");
    invalid(&mut db, add_range(RDB, Value::Null), "does not fit");
    invalid(&mut db, add_range(VDB, s("D")), "dfs://vdb is not RANGE partitioned");
}

// ----- ADD_VALUE_PARTITION ---------------------------------------------------------------------------

#[test]
fn add_value_partition_adds_a_value_to_the_domain() {
    let mut db = filled();
    invalid(&mut db, append(VDB, "trades", vec![trade("D", 1, 1.0)]), "in no partition");
    ok(&mut db, add_value(VDB, s("D")));
    assert_eq!(db.catalog.database(VDB).map(|v| v.scheme.keys()), Some(vec![s("A"), s("B"), s("C"), s("D")]));
    assert_eq!(db.chunks, filled().chunks, "no chunk is written");
    ok(&mut db, append(VDB, "trades", vec![trade("D", 1, 1.0)]));
    ok(&mut db, append(VDB, "quotes", vec![quote("D", 2.0)]));
    assert_eq!(chunk(&db, VDB, "trades", s("D")), Some(vec![trade("D", 1, 1.0)]));
    assert_eq!(chunk(&db, VDB, "quotes", s("D")), Some(vec![quote("D", 2.0)]));
}

#[test]
fn add_value_partition_refuses_existing_and_mistyped_values() {
    let mut db = filled();
    invalid(&mut db, add_value(VDB, s("A")), "partition A exists already");
    invalid(&mut db, add_value(VDB, i(1)), "1 does not fit the Symbol domain");
    invalid(&mut db, add_value(VDB, Value::Null), "does not fit");
    invalid(&mut db, add_value(RDB, i(40)), "dfs://rdb is not VALUE partitioned");
}

// ----- ADD_COLUMN ------------------------------------------------------------------------------------

#[test]
fn add_column_adds_a_null_last_column_to_every_row() {
    let mut db = filled();
    ok(&mut db, add_column(VDB, "trades", Column { name: "note".into(), ty: Symbol, comment: "free".into() }));
    let trades = table(&db, VDB, "trades");
    assert_eq!(column_names(&db, VDB, "trades"), vec!["sym", "qty", "px", "note"]);
    assert_eq!((trades.columns[3].ty, trades.columns[3].comment.as_str()), (Symbol, "free"));
    assert_eq!(trades.partition_column.as_deref(), Some("sym"));
    let with_null = |mut r: Row| {
        r.push(Value::Null);
        r
    };
    assert_eq!(rows(&db, VDB, "trades"), all_trades().into_iter().map(with_null).collect::<Vec<_>>());
    assert_eq!(rows(&db, VDB, "quotes"), sorted(vec![quote("A", 1.0), quote("C", 3.0)]), "other tables untouched");
    // New rows have four values.
    invalid(&mut db, append(VDB, "trades", vec![trade("C", 1, 1.0)]), "has 3 values");
    ok(&mut db, append(VDB, "trades", vec![vec![s("C"), i(1), d(1.0), s("x")]]));
    assert_eq!(chunk(&db, VDB, "trades", s("C")), Some(vec![vec![s("C"), i(1), d(1.0), s("x")]]));
    // A table without chunks.
    ok(&mut db, add_column(RDB, "events", col("w", Timestamp)));
    ok(&mut db, create_table(RDB, "empty", vec![col("a", Int)]));
    ok(&mut db, add_column(RDB, "empty", col("b", Int)));
    assert_eq!(column_names(&db, RDB, "empty"), vec!["a", "b"]);
    assert!(partitions(&db, RDB, "empty").is_empty());
}

#[test]
fn add_column_refuses_existing_or_invalid_names() {
    let mut db = filled();
    invalid(&mut db, add_column(VDB, "trades", col("qty", Long)), "column qty exists already");
    invalid(&mut db, add_column(VDB, "trades", col("sym", Symbol)), "exists already");
    invalid(&mut db, add_column(VDB, "trades", col("bad name", Int)), "not a valid name");
    invalid(&mut db, add_column(VDB, "trades", col("", Int)), "not a valid name");
}

// ----- DROP_COLUMN -----------------------------------------------------------------------------------

#[test]
fn drop_column_removes_the_column_from_the_table_and_its_rows() {
    let mut db = filled();
    ok(&mut db, drop_column(VDB, "trades", "qty"));
    assert_eq!(column_names(&db, VDB, "trades"), vec!["sym", "px"]);
    assert_eq!(table(&db, VDB, "trades").partition_index(), Some(0));
    assert_eq!(rows(&db, VDB, "trades"), sorted(vec![vec![s("A"), d(1.5)], vec![s("A"), d(3.5)], vec![s("B"), d(2.5)]]));
    assert_eq!(chunk(&db, VDB, "trades", s("A")), Some(vec![vec![s("A"), d(1.5)], vec![s("A"), d(3.5)]]));
    // The partitioning column can come after a dropped one.
    ok(&mut db, create_partitioned(RDB, "late", vec![col("x", Long), col("k", Int)], "k"));
    ok(&mut db, append(RDB, "late", vec![vec![l(1), i(5)]]));
    ok(&mut db, drop_column(RDB, "late", "x"));
    assert_eq!(table(&db, RDB, "late").partition_index(), Some(0));
    assert_eq!(chunk(&db, RDB, "late", i(0)), Some(vec![vec![i(5)]]));
    ok(&mut db, append(RDB, "late", vec![vec![i(15)]]));
    assert_eq!(rows(&db, RDB, "late"), vec![vec![i(5)], vec![i(15)]]);
}

#[test]
fn drop_column_refuses_missing_partitioning_and_last_columns() {
    let mut db = filled();
    invalid(&mut db, drop_column(VDB, "trades", "price"), "column price does not exist");
    invalid(&mut db, drop_column(VDB, "trades", "sym"), "the partitioning column cannot be dropped");
    invalid(&mut db, drop_column(RDB, "events", "k"), "the partitioning column cannot be dropped");
    ok(&mut db, create_table(VDB, "dim", vec![col("a", Int), col("b", Int)]));
    ok(&mut db, drop_column(VDB, "dim", "a"));
    invalid(&mut db, drop_column(VDB, "dim", "b"), "a table keeps at least one column");
    invalid(&mut db, drop_column(VDB, "dim", "a"), "column a does not exist");
}

// ----- RENAME_TABLE ----------------------------------------------------------------------------------

#[test]
fn rename_table_keeps_the_id_and_the_rows() {
    let mut db = filled();
    let id = tid(&db, VDB, "trades");
    let next = db.catalog.next_table_id;
    let chunks = db.chunks.clone();
    ok(&mut db, rename_table(VDB, "trades", "deals"));
    assert!(db.catalog.table(VDB, "trades").is_none());
    let deals = table(&db, VDB, "deals");
    assert_eq!(
        (deals.id, deals.name.as_str(), deals.columns.clone(), deals.partition_column.as_deref()),
        (id, "deals", trades_columns(), Some("sym"))
    );
    assert_eq!(db.catalog.next_table_id, next);
    assert_eq!(db.chunks, chunks, "the chunks are the table's by id");
    assert_eq!(rows(&db, VDB, "deals"), all_trades());
    ok(&mut db, append(VDB, "deals", vec![trade("C", 4, 4.5)]));
    assert_eq!(chunk(&db, VDB, "deals", s("C")), Some(vec![trade("C", 4, 4.5)]));
    invalid(&mut db, append(VDB, "trades", vec![trade("C", 4, 4.5)]), "table trades does not exist");
    // The old name is free again.
    ok(&mut db, create_partitioned(VDB, "trades", trades_columns(), "sym"));
    assert_ne!(tid(&db, VDB, "trades"), id);
    assert!(rows(&db, VDB, "trades").is_empty());
}

#[test]
fn rename_table_refuses_existing_and_invalid_names() {
    let mut db = filled();
    invalid(&mut db, rename_table(VDB, "trades", "quotes"), "table quotes exists already");
    invalid(&mut db, rename_table(VDB, "trades", "trades"), "exists already");
    invalid(&mut db, rename_table(VDB, "trades", "bad name"), "not a valid name");
    invalid(&mut db, rename_table(VDB, "trades", ""), "not a valid name");
    invalid(&mut db, rename_table(VDB, "nosuch", "x"), "table nosuch does not exist");
}

// ----- TRUNCATE_TABLE --------------------------------------------------------------------------------

#[test]
fn truncate_table_removes_every_row_and_keeps_the_table() {
    let mut db = filled();
    let catalog = db.catalog.clone();
    ok(&mut db, truncate(VDB, "trades"));
    assert_eq!(db.catalog, catalog);
    assert!(rows(&db, VDB, "trades").is_empty());
    assert_eq!(partitions(&db, VDB, "trades"), vec![s("A"), s("B")], "the chunks stay, empty");
    assert_eq!(chunk(&db, VDB, "trades", s("A")), Some(vec![]));
    assert_eq!(rows(&db, VDB, "quotes").len(), 2);
    assert_eq!(rows(&db, RDB, "events").len(), 3);
    ok(&mut db, append(VDB, "trades", vec![trade("A", 1, 1.0)]));
    assert_eq!(rows(&db, VDB, "trades"), vec![trade("A", 1, 1.0)]);
    invalid(&mut db, truncate(VDB, "nosuch"), "table nosuch does not exist");
}

// ----- REPLACE_COLUMN --------------------------------------------------------------------------------

#[test]
fn replace_column_changes_the_type_and_converts_the_values() {
    let mut db = filled();
    ok(&mut db, append(VDB, "trades", vec![vec![s("C"), Value::Null, Value::Null]]));
    ok(&mut db, replace_column(VDB, "trades", "qty", Double));
    assert_eq!(table(&db, VDB, "trades").columns[1].ty, Double);
    assert_eq!(chunk(&db, VDB, "trades", s("A")), Some(vec![vec![s("A"), d(1.0), d(1.5)], vec![s("A"), d(3.0), d(3.5)]]));
    assert_eq!(chunk(&db, VDB, "trades", s("C")), Some(vec![vec![s("C"), Value::Null, Value::Null]]), "NULL stays NULL");
    // DOUBLE to LONG truncates.
    ok(&mut db, replace_column(VDB, "trades", "px", Long));
    assert_eq!(chunk(&db, VDB, "trades", s("A")), Some(vec![vec![s("A"), d(1.0), l(1)], vec![s("A"), d(3.0), l(3)]]));
    assert_eq!(chunk(&db, VDB, "trades", s("B")), Some(vec![vec![s("B"), d(2.0), l(2)]]));
    // Anything to SYMBOL, by its text.
    ok(&mut db, replace_column(VDB, "trades", "px", Symbol));
    assert_eq!(chunk(&db, VDB, "trades", s("B")), Some(vec![vec![s("B"), d(2.0), s("2")]]));
    // New rows must have the new type.
    invalid(&mut db, append(VDB, "trades", vec![trade("A", 1, 1.0)]), "type mismatch");
    ok(&mut db, append(VDB, "trades", vec![vec![s("A"), d(1.0), s("x")]]));
    // On a range table: LONG to INT saturates.
    ok(&mut db, append(RDB, "events", vec![event(2, 1 << 40)]));
    ok(&mut db, replace_column(RDB, "events", "v", Int));
    assert_eq!(chunk(&db, RDB, "events", i(0)), Some(vec![vec![i(1), i(10)], vec![i(2), i(i32::MAX)]]));
    // Same type: allowed, nothing changes but the catalog is the same too.
    let before = db.clone();
    ok(&mut db, replace_column(RDB, "events", "v", Int));
    assert_eq!(db, before);
}

#[test]
fn replace_column_refuses_symbol_to_number_and_the_partitioning_column() {
    let mut db = filled();
    ok(&mut db, add_column(VDB, "trades", col("note", Symbol)));
    for ty in [Int, Long, Double, Timestamp] {
        invalid(&mut db, replace_column(VDB, "trades", "note", ty), "a Symbol column cannot become");
    }
    invalid(&mut db, replace_column(VDB, "trades", "sym", Symbol), "the partitioning column cannot change type");
    invalid(&mut db, replace_column(RDB, "events", "k", Long), "the partitioning column cannot change type");
    invalid(&mut db, replace_column(VDB, "trades", "price", Long), "column price does not exist");
    ok(&mut db, replace_column(VDB, "trades", "note", Symbol));
}

#[test]
fn a_nan_double_is_refused_rather_than_stored() {
    let nan = Value::Double(f64::NAN.to_bits());
    let mut db = filled();
    let appended = db.apply(&append(VDB, "trades", vec![vec![s("A"), i(1), nan.clone()]]));
    let replaced = std::panic::catch_unwind(AssertUnwindSafe(|| db.clone().apply(&replace_column(VDB, "trades", "px", Double))));
    assert!(replaced.is_ok(), "REPLACE_COLUMN panicked on a stored NaN");
    assert!(matches!(appended, Err(OpError { code: ErrorCode::Invalid, .. })), "APPEND stored a NaN: {appended:?}");
    let mut db = filled();
    invalid(&mut db, update(VDB, "trades", "px", nan, None), "");
}

// ----- SET_COLUMN_COMMENT ----------------------------------------------------------------------------

#[test]
fn set_column_comment_sets_the_comment_only() {
    let mut db = filled();
    let chunks = db.chunks.clone();
    ok(&mut db, set_comment(VDB, "trades", "px", "price in USD"));
    let trades = table(&db, VDB, "trades");
    assert_eq!(trades.columns.iter().map(|c| c.comment.as_str()).collect::<Vec<_>>(), vec!["", "", "price in USD"]);
    assert_eq!(trades.columns.iter().map(|c| c.ty).collect::<Vec<_>>(), vec![Symbol, Int, Double]);
    assert_eq!(db.chunks, chunks);
    ok(&mut db, set_comment(VDB, "trades", "px", ""));
    assert_eq!(db, filled(), "clearing the comment restores the state");
    invalid(&mut db, set_comment(VDB, "trades", "price", "x"), "column price does not exist");
    invalid(&mut db, set_comment(VDB, "nosuch", "px", "x"), "table nosuch does not exist");
}

// ----- RENAME_COLUMN ---------------------------------------------------------------------------------

#[test]
fn rename_column_renames_and_keeps_the_rows() {
    let mut db = filled();
    let chunks = db.chunks.clone();
    ok(&mut db, rename_column(VDB, "trades", "qty", "quantity"));
    assert_eq!(column_names(&db, VDB, "trades"), vec!["sym", "quantity", "px"]);
    assert_eq!(table(&db, VDB, "trades").partition_column.as_deref(), Some("sym"));
    assert_eq!(table(&db, VDB, "trades").columns[1].ty, Int);
    assert_eq!(db.chunks, chunks);
    ok(&mut db, update(VDB, "trades", "quantity", i(0), None));
    invalid(&mut db, update(VDB, "trades", "qty", i(0), None), "column qty does not exist");
}

#[test]
fn rename_column_of_the_partitioning_column_updates_the_partition_column() {
    let mut db = filled();
    ok(&mut db, rename_column(VDB, "trades", "sym", "ticker"));
    let trades = table(&db, VDB, "trades");
    assert_eq!((trades.partition_column.as_deref(), trades.partition_index()), (Some("ticker"), Some(0)));
    assert_eq!(table(&db, VDB, "quotes").partition_column.as_deref(), Some("sym"), "only that table");
    ok(&mut db, append(VDB, "trades", vec![trade("C", 5, 5.0)]));
    assert_eq!(chunk(&db, VDB, "trades", s("C")), Some(vec![trade("C", 5, 5.0)]));
    // Pruning and the partitioning rules follow the new name.
    assert_eq!(locks(&db, &delete(VDB, "trades", filter("ticker", Cmp::Eq, s("A")))), vec![partition_lock(VDB, "trades", s("A"))]);
    invalid(&mut db, upsert(VDB, "trades", &["qty"], vec![trade("A", 1, 1.0)]), "the partitioning column must be a key column");
    invalid(&mut db, upsert(VDB, "trades", &["sym"], vec![trade("A", 1, 1.0)]), "key column sym does not exist");
    ok(&mut db, upsert(VDB, "trades", &["ticker", "qty"], vec![trade("A", 1, 1.0)]));
    invalid(&mut db, drop_column(VDB, "trades", "ticker"), "the partitioning column cannot be dropped");
    invalid(&mut db, update(VDB, "trades", "ticker", s("B"), None), "the partitioning column cannot be updated");
    ok(&mut db, delete(VDB, "trades", filter("ticker", Cmp::Eq, s("A"))));
    assert_eq!(rows(&db, VDB, "trades"), sorted(vec![trade("B", 2, 2.5), trade("C", 5, 5.0)]));
    // On a range table.
    ok(&mut db, rename_column(RDB, "events", "k", "key"));
    assert_eq!(table(&db, RDB, "events").partition_column.as_deref(), Some("key"));
    ok(&mut db, append(RDB, "events", vec![event(11, 0)]));
    assert_eq!(chunk(&db, RDB, "events", i(10)), Some(vec![event(12, 20), event(11, 0)]));
}

#[test]
fn rename_column_refuses_existing_unknown_and_invalid_names() {
    let mut db = filled();
    invalid(&mut db, rename_column(VDB, "trades", "qty", "px"), "column px exists already");
    invalid(&mut db, rename_column(VDB, "trades", "qty", "qty"), "exists already");
    invalid(&mut db, rename_column(VDB, "trades", "price", "cost"), "column price does not exist");
    invalid(&mut db, rename_column(VDB, "trades", "qty", "bad name"), "not a valid name");
    invalid(&mut db, rename_column(VDB, "trades", "sym", ""), "not a valid name");
}

// ----- Locks -----------------------------------------------------------------------------------------

#[test]
fn appends_and_upserts_lock_the_partitions_they_write() {
    let db = filled();
    let batch = vec![trade("B", 1, 1.0), trade("A", 2, 2.0), trade("B", 3, 3.0)];
    for op in [
        append(VDB, "trades", batch.clone()),
        append_chunk(VDB, "trades", batch.clone()),
        upsert(VDB, "trades", &["sym", "qty"], batch.clone()),
    ] {
        let p = plan_of(&db, &op);
        assert_eq!(p.kind, op.kind());
        assert_eq!(p.locks, vec![partition_lock(VDB, "trades", s("A")), partition_lock(VDB, "trades", s("B"))], "{op:?}");
        assert_eq!(p.writes.iter().map(|w| (w.table, w.partition.clone())).collect::<Vec<_>>(), vec![(0, s("A")), (0, s("B"))]);
    }
    let p = plan_of(&db, &append(VDB, "trades", batch));
    assert_eq!(p.writes[1].delta, ChunkDelta::Append(vec![trade("B", 1, 1.0), trade("B", 3, 3.0)]));
    // A partition without a chunk yet is locked and written as well.
    assert_eq!(locks(&db, &append(VDB, "trades", vec![trade("C", 1, 1.0)])), vec![partition_lock(VDB, "trades", s("C"))]);
    assert_eq!(
        locks(&db, &upsert(RDB, "events", &["k"], vec![event(29, 1), event(3, 1)])),
        vec![partition_lock(RDB, "events", i(0)), partition_lock(RDB, "events", i(20))]
    );
    // A dimension table has one partition, NULL.
    let mut db = db;
    ok(&mut db, create_table(RDB, "dim", vec![col("n", Int)]));
    assert_eq!(locks(&db, &append(RDB, "dim", vec![vec![i(1)], vec![i(2)]])), vec![partition_lock(RDB, "dim", Value::Null)]);
}

#[test]
fn a_delete_pruned_to_one_partition_locks_that_partition_only() {
    let db = filled();
    let p = plan_of(&db, &delete(VDB, "trades", filter("sym", Cmp::Eq, s("A"))));
    assert_eq!(p.locks, vec![partition_lock(VDB, "trades", s("A"))]);
    assert_eq!(p.writes.len(), 1);
    assert_eq!((p.writes[0].table, &p.writes[0].partition), (0, &s("A")));
    // Range: the partition holding the value; no chunk there yet means no write, but the lock.
    assert_eq!(locks(&db, &delete(RDB, "events", filter("k", Cmp::Eq, i(15)))), vec![partition_lock(RDB, "events", i(10))]);
    let p = plan_of(&db, &delete(VDB, "trades", filter("sym", Cmp::Eq, s("C"))));
    assert_eq!((p.locks, p.writes), (vec![partition_lock(VDB, "trades", s("C"))], vec![]));
    // An update pruned the same way.
    assert_eq!(
        locks(&db, &update(VDB, "trades", "px", d(0.0), filter("sym", Cmp::Eq, s("B")))),
        vec![partition_lock(VDB, "trades", s("B"))]
    );
}

#[test]
fn an_unpruned_delete_or_update_locks_the_table() {
    let db = filled();
    let whole = vec![table_lock(VDB, "trades")];
    let unpruned = [
        None,
        filter("sym", Cmp::Lt, s("B")), // not an equality
        filter("sym", Cmp::Ge, s("B")), // not an equality
        filter("qty", Cmp::Eq, i(1)),   // not the partitioning column
        filter("sym", Cmp::Eq, s("Z")), // in no partition
    ];
    for f in unpruned {
        let p = plan_of(&db, &delete(VDB, "trades", f.clone()));
        assert_eq!(p.locks, whole, "delete {f:?}");
        assert_eq!(p.writes.iter().map(|w| w.partition.clone()).collect::<Vec<_>>(), vec![s("A"), s("B")], "every chunk: {f:?}");
        let p = plan_of(&db, &update(VDB, "trades", "px", d(0.0), f.clone()));
        assert_eq!(p.locks, whole, "update {f:?}");
        assert_eq!(p.writes.len(), 2);
    }
    assert_eq!(locks(&db, &delete(RDB, "events", filter("k", Cmp::Eq, i(30)))), vec![table_lock(RDB, "events")]);
    assert_eq!(locks(&db, &update(RDB, "events", "v", l(0), filter("k", Cmp::Lt, i(5)))), vec![table_lock(RDB, "events")]);
}

#[test]
fn table_ddl_locks_the_table() {
    let db = filled();
    let cases = [
        (drop_table(VDB, "trades"), vec![table_lock(VDB, "trades")]),
        (truncate(VDB, "trades"), vec![table_lock(VDB, "trades")]),
        (add_column(VDB, "trades", col("note", Symbol)), vec![table_lock(VDB, "trades")]),
        (drop_column(VDB, "trades", "qty"), vec![table_lock(VDB, "trades")]),
        (replace_column(VDB, "trades", "qty", Long), vec![table_lock(VDB, "trades")]),
        (set_comment(VDB, "trades", "qty", "n"), vec![table_lock(VDB, "trades")]),
        (rename_column(VDB, "trades", "qty", "n"), vec![table_lock(VDB, "trades")]),
        (rename_table(VDB, "trades", "deals"), vec![table_lock(VDB, "trades"), table_lock(VDB, "deals")]),
        (create_table(VDB, "dim", vec![col("n", Int)]), vec![table_lock(VDB, "dim")]),
        (create_partitioned(RDB, "more", vec![col("k", Int)], "k"), vec![table_lock(RDB, "more")]),
        (drop_partition(VDB, "trades", s("A")), vec![partition_lock(VDB, "trades", s("A"))]),
    ];
    for (op, expected) in cases {
        assert_eq!(locks(&db, &op), expected, "{op:?}");
    }
    // The chunk writes of table DDL cover every chunk of the table.
    let every = |op: &Operation| plan_of(&db, op).writes.into_iter().map(|w| (w.partition, w.delta)).collect::<Vec<_>>();
    assert_eq!(every(&drop_table(VDB, "trades")), vec![(s("A"), ChunkDelta::Drop), (s("B"), ChunkDelta::Drop)]);
    assert_eq!(every(&truncate(VDB, "quotes")), vec![(s("A"), ChunkDelta::Truncate), (s("C"), ChunkDelta::Truncate)]);
    assert_eq!(every(&add_column(RDB, "events", col("w", Int))).len(), 3);
    assert_eq!(every(&drop_column(VDB, "trades", "px")), vec![(s("A"), ChunkDelta::DropColumn(2)), (s("B"), ChunkDelta::DropColumn(2))]);
    assert_eq!(every(&replace_column(VDB, "trades", "qty", Long))[0].1, ChunkDelta::ReplaceColumn(1, Long));
    assert!(every(&rename_table(VDB, "trades", "deals")).is_empty());
    assert!(every(&set_comment(VDB, "trades", "px", "x")).is_empty());
}

#[test]
fn database_operations_lock_the_database() {
    let db = filled();
    assert_eq!(locks(&db, &drop_db(VDB)), vec![db_lock(VDB)]);
    assert_eq!(locks(&db, &add_range(RDB, i(40))), vec![db_lock(RDB)]);
    assert_eq!(locks(&db, &add_value(VDB, s("D"))), vec![db_lock(VDB)]);
    assert_eq!(locks(&db, &create_domain("dfs://new", range_scheme())), vec![db_lock("dfs://new")]);
    let p = plan_of(&db, &drop_db(VDB));
    assert_eq!(
        p.writes.iter().map(|w| (w.table, w.partition.clone(), w.delta.clone())).collect::<Vec<_>>(),
        vec![(1, s("A"), ChunkDelta::Drop), (1, s("C"), ChunkDelta::Drop), (0, s("A"), ChunkDelta::Drop), (0, s("B"), ChunkDelta::Drop)],
        "every chunk of every table (tables in name order: quotes, trades)"
    );
    assert!(plan_of(&db, &add_range(RDB, i(40))).writes.is_empty());
    assert!(plan_of(&db, &create_domain("dfs://new", range_scheme())).writes.is_empty());
}

#[test]
fn locks_nest_database_table_partition() {
    let db_a = db_lock("a");
    let db_b = db_lock("b");
    let t = table_lock("a", "t");
    let u = table_lock("a", "u");
    let t_in_b = table_lock("b", "t");
    let p = partition_lock("a", "t", s("A"));
    let q = partition_lock("a", "t", s("B"));
    let p_of_u = partition_lock("a", "u", s("A"));
    let p_in_b = partition_lock("b", "t", s("A"));
    let conflicting = [
        (&db_a, &db_a),
        (&db_a, &t),
        (&db_a, &u),
        (&db_a, &p),
        (&db_a, &p_of_u),
        (&t, &t),
        (&t, &p),
        (&t, &q),
        (&p, &p),
        (&db_b, &t_in_b),
        (&db_b, &p_in_b),
        (&t_in_b, &p_in_b),
    ];
    let independent = [
        (&db_a, &db_b),
        (&db_a, &t_in_b),
        (&db_a, &p_in_b),
        (&db_b, &t),
        (&db_b, &p),
        (&t, &u),
        (&t, &t_in_b),
        (&t, &p_of_u),
        (&t, &p_in_b),
        (&p, &q),
        (&p, &p_of_u),
        (&p, &p_in_b),
        (&u, &p),
    ];
    for (x, y) in conflicting {
        assert!(x.conflicts(y) && y.conflicts(x), "{x:?} and {y:?} must conflict");
    }
    for (x, y) in independent {
        assert!(!x.conflicts(y) && !y.conflicts(x), "{x:?} and {y:?} must not conflict");
    }
    // Partition keys compare as values: an INT 1 and a LONG 1 are different partitions.
    assert!(!partition_lock("a", "t", i(1)).conflicts(&partition_lock("a", "t", l(1))));
}

#[test]
fn concurrent_plans_conflict_as_expected() {
    let db = filled();
    let held = |op: &Operation| locks(&db, op);
    let conflict = |a: &Operation, b: &Operation| held(a).iter().any(|x| held(b).iter().any(|y| x.conflicts(y)));
    let append_a = append(VDB, "trades", vec![trade("A", 1, 1.0)]);
    let append_b = append(VDB, "trades", vec![trade("B", 1, 1.0)]);
    let quotes_a = append(VDB, "quotes", vec![quote("A", 1.0)]);
    assert!(!conflict(&append_a, &append_b), "different partitions");
    assert!(!conflict(&append_a, &quotes_a), "same partition, another table");
    assert!(conflict(&append_a, &append(VDB, "trades", vec![trade("A", 2, 2.0)])));
    assert!(conflict(&append_a, &delete(VDB, "trades", None)));
    assert!(!conflict(&append_b, &delete(VDB, "trades", filter("sym", Cmp::Eq, s("A")))));
    assert!(conflict(&append_a, &add_column(VDB, "trades", col("x", Int))));
    assert!(conflict(&quotes_a, &drop_db(VDB)));
    assert!(conflict(&quotes_a, &add_value(VDB, s("D"))));
    assert!(!conflict(&quotes_a, &add_range(RDB, i(40))));
    assert!(conflict(&rename_table(VDB, "trades", "quotes2"), &create_table(VDB, "quotes2", vec![col("x", Int)])));
}

// ----- Random sequences ------------------------------------------------------------------------------

/// The reference model's invariants: names and ids agree, partitioning columns exist and have the
/// domain's type, every chunk belongs to a table and a partition of its domain, and every row has
/// one value per column, of the column's type, in the chunk its partitioning value routes to.
fn check_invariants(db: &ReferenceDb) -> Result<(), String> {
    let catalog = &db.catalog;
    let mut db_ids = BTreeSet::new();
    let mut table_ids = BTreeSet::new();
    for (name, d) in &catalog.databases {
        if &d.name != name || d.id >= catalog.next_db_id || !db_ids.insert(d.id) {
            return Err(format!("database {name}: bad name or id {}", d.id));
        }
        d.scheme.check().map_err(|e| format!("database {name}: {e}"))?;
        for (tname, t) in &d.tables {
            if &t.name != tname || t.id >= catalog.next_table_id || !table_ids.insert(t.id) {
                return Err(format!("table {name}.{tname}: bad name or id {}", t.id));
            }
            let names: BTreeSet<_> = t.columns.iter().map(|c| &c.name).collect();
            if t.columns.is_empty() || names.len() != t.columns.len() {
                return Err(format!("table {name}.{tname}: bad columns {:?}", t.columns));
            }
            if let Some(pc) = &t.partition_column {
                match t.partition_index() {
                    Some(i) if t.columns[i].ty == d.scheme.column_type() => {}
                    _ => return Err(format!("table {name}.{tname}: partitioning column {pc} is missing or mistyped")),
                }
            }
        }
    }
    for ((id, key), chunk) in &db.chunks {
        let Some((d, t)) = catalog.table_by_id(*id) else { return Err(format!("chunk {key} of a table {id} that does not exist")) };
        match t.partition_index() {
            None if *key != Value::Null => return Err(format!("dimension table {} has a chunk {key}", t.name)),
            Some(_) if !d.scheme.keys().contains(key) => return Err(format!("table {} has a chunk {key} outside its domain", t.name)),
            _ => {}
        }
        for row in &chunk.rows {
            if row.len() != t.columns.len() || t.columns.iter().zip(row).any(|(c, v)| !v.fits(c.ty)) {
                return Err(format!("table {}: row {row:?} does not fit columns {:?}", t.name, t.columns));
            }
            if let Some(pi) = t.partition_index()
                && d.scheme.partition_of(&row[pi]).as_ref() != Some(key)
            {
                return Err(format!("table {}: row {row:?} is in chunk {key}", t.name));
            }
        }
    }
    Ok(())
}

#[test]
fn random_operation_sequences_never_panic_refuse_cleanly_and_keep_rows_well_typed() {
    let config =
        ProptestConfig { cases: 256, rng_seed: RngSeed::Fixed(0x0cc5_0d0b), failure_persistence: None, ..ProptestConfig::default() };
    // Per kind: (applied, refused), to show that the generator reaches both sides of every kind.
    let outcomes: RefCell<BTreeMap<OperationKind, (u32, u32)>> = RefCell::new(BTreeMap::new());
    let mut runner = TestRunner::new(config);
    let result = runner.run(&random_steps(), |steps| {
        let mut db = ReferenceDb::default();
        for (step, (n, bytes)) in steps.into_iter().enumerate() {
            let kind = PRELUDE.get(step).copied().unwrap_or_else(|| kind_of(n));
            let op = realize(&db, kind, &bytes);
            prop_assert_eq!(op.kind(), kind);
            let before = db.clone();
            let result = db.apply(&op);
            let mut outcomes = outcomes.borrow_mut();
            let entry = outcomes.entry(kind).or_default();
            match result {
                Ok(()) => entry.0 += 1,
                Err(e) => {
                    entry.1 += 1;
                    prop_assert_eq!(e.code, ErrorCode::Invalid, "{:?}: {}", op, e);
                    prop_assert!(db == before, "the refused {:?} ({}) changed the database", op, e);
                }
            }
            if let Err(e) = check_invariants(&db) {
                return Err(TestCaseError::fail(format!("after {op:?}: {e}")));
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let outcomes = outcomes.into_inner();
    for kind in OperationKind::ALL {
        let (applied, refused) = outcomes.get(&kind).copied().unwrap_or_default();
        assert!(applied > 0 && refused > 0, "{kind}: {applied} applied, {refused} refused: the generator misses a side");
    }
}

//! The 20 operation types that clients run on the DFS, and the errors an operation can end with.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::catalog::{Column, PartitionKey, PartitionScheme};
use super::value::{ColumnType, Value};
use crate::core::digest::WordRecorder;

/// A row: one value per column, in column order.
pub type Row = Vec<Value>;

/// An operation as it travels through the protocol (client, coordinator, controllers, facts):
/// shared, since it may carry many rows and is handed on at every hop.
///
/// It hashes as its operation does, bit for bit, but walks the operation once, when it is shared:
/// every message and fact that carries it goes into the trace hash, and walking its rows at each
/// hop was 2% of a run. The words that walk feeds a hasher are kept and fed again ([`WordRecorder`]).
#[derive(Clone)]
pub struct SharedOperation(Arc<Recorded>);

struct Recorded {
    op: Operation,
    /// Invariant: the words `op`'s `Hash` feeds a hasher (`op` is never changed once shared).
    words: Box<[u64]>,
}

impl SharedOperation {
    /// Shares `op`.
    pub fn new(op: Operation) -> Self {
        Self(Arc::new(Recorded { words: WordRecorder::words_of(&op), op }))
    }
}

impl From<Operation> for SharedOperation {
    fn from(op: Operation) -> Self {
        Self::new(op)
    }
}

impl std::ops::Deref for SharedOperation {
    type Target = Operation;

    fn deref(&self) -> &Operation {
        &self.0.op
    }
}

impl AsRef<Operation> for SharedOperation {
    fn as_ref(&self) -> &Operation {
        &self.0.op
    }
}

impl PartialEq for SharedOperation {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.op == other.0.op
    }
}

impl Eq for SharedOperation {}

impl Hash for SharedOperation {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for &word in self.0.words.iter() {
            state.write_u64(word);
        }
    }
}

impl fmt::Debug for SharedOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0.op, f)
    }
}

impl Serialize for SharedOperation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.op.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SharedOperation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Operation::deserialize(deserializer).map(Self::new)
    }
}

/// How a predicate compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cmp {
    /// Equal.
    Eq,
    /// Less than.
    Lt,
    /// Greater or equal.
    Ge,
}

/// `WHERE column <cmp> value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Filter {
    /// Column name.
    pub column: String,
    /// Comparison.
    pub cmp: Cmp,
    /// Right-hand side.
    pub value: Value,
}

/// One operation. Names follow DolphinDB's `operationType` values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operation {
    /// `append!` / `tableInsert`: all rows or none (atomic=TRANS: a lock conflict fails it).
    Append { db: String, table: String, rows: Vec<Row> },
    /// The same with atomic=CHUNK: a lock conflict is retried instead of failing.
    AppendChunkGranularity { db: String, table: String, rows: Vec<Row> },
    /// `delete from t where ...` (no filter: every row).
    SqlDelete { db: String, table: String, filter: Option<Filter> },
    /// `update t set column = value where ...`.
    SqlUpdate { db: String, table: String, column: String, value: Value, filter: Option<Filter> },
    /// `upsert!`: rows whose key columns match an existing row replace it, the others are appended.
    Upsert { db: String, table: String, keys: Vec<String>, rows: Vec<Row> },
    /// `dropTable`.
    DropTable { db: String, table: String },
    /// `dropPartition`: the table's data in one partition (the domain keeps the partition).
    DropPartition { db: String, table: String, partition: PartitionKey },
    /// `dropDatabase`.
    DropDb { db: String },
    /// `addRangePartitions`: a new upper boundary.
    AddRangePartition { db: String, boundary: Value },
    /// `addValuePartitions`.
    AddValuePartition { db: String, value: Value },
    /// `database(...)`: creates a database with its partition scheme.
    CreateDomain { db: String, scheme: PartitionScheme },
    /// `createTable`: a dimension table (not partitioned, one chunk).
    CreateTable { db: String, table: String, columns: Vec<Column> },
    /// `createPartitionedTable`.
    CreatePartitionedTable { db: String, table: String, columns: Vec<Column>, partition_column: String },
    /// `addColumn`: a new last column, NULL in existing rows.
    AddColumn { db: String, table: String, column: Column },
    /// `dropColumns!`.
    DropColumn { db: String, table: String, column: String },
    /// `renameTable`.
    RenameTable { db: String, table: String, new_name: String },
    /// `truncate`.
    TruncateTable { db: String, table: String },
    /// `replaceColumn!`: a new type for a column, values converted.
    ReplaceColumn { db: String, table: String, column: String, ty: ColumnType },
    /// `setColumnComment`.
    SetColumnComment { db: String, table: String, column: String, comment: String },
    /// `rename!` of a column.
    RenameColumn { db: String, table: String, column: String, new_name: String },
}

/// `select * from table [where filter]`: a read. It takes no lock and writes nothing, so no
/// transaction runs it and it is not one of the 20 operation types: a data node asks the controller
/// for a readable snapshot (a cid) and the chunks to read, and reads each chunk's version at that
/// snapshot from a replica. A filter compares the partitioning column (an equality prunes the read
/// to one partition, as it prunes UPDATE and DELETE); rows are returned in no particular order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Query {
    /// Database name.
    pub db: String,
    /// Table name.
    pub table: String,
    /// `WHERE partition_column <cmp> value`, if any.
    pub filter: Option<Filter>,
}

/// A query as it travels (client, data node, controller, facts).
pub type SharedQuery = std::sync::Arc<Query>;

/// The type of an operation, as DolphinDB's `operationType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types, missing_docs)]
pub enum OperationKind {
    APPEND,
    APPEND_CHUNK_GRANULARITY,
    SQL_DELETE,
    SQL_UPDATE,
    UPSERT,
    DROP_TABLE,
    DROP_PARTITION,
    DROP_DB,
    ADD_RANGE_PARTITION,
    ADD_VALUE_PARTITION,
    CREATE_DOMAIN,
    CREATE_TABLE,
    CREATE_PARTITIONED_TABLE,
    ADD_COLUMN,
    DROP_COLUMN,
    RENAME_TABLE,
    TRUNCATE_TABLE,
    REPLACE_COLUMN,
    SET_COLUMN_COMMENT,
    RENAME_COLUMN,
}

impl OperationKind {
    /// Every kind, in DolphinDB's documentation order.
    pub const ALL: [OperationKind; 20] = [
        OperationKind::APPEND,
        OperationKind::APPEND_CHUNK_GRANULARITY,
        OperationKind::SQL_DELETE,
        OperationKind::SQL_UPDATE,
        OperationKind::UPSERT,
        OperationKind::DROP_TABLE,
        OperationKind::DROP_PARTITION,
        OperationKind::DROP_DB,
        OperationKind::ADD_RANGE_PARTITION,
        OperationKind::ADD_VALUE_PARTITION,
        OperationKind::CREATE_DOMAIN,
        OperationKind::CREATE_TABLE,
        OperationKind::CREATE_PARTITIONED_TABLE,
        OperationKind::ADD_COLUMN,
        OperationKind::DROP_COLUMN,
        OperationKind::RENAME_TABLE,
        OperationKind::TRUNCATE_TABLE,
        OperationKind::REPLACE_COLUMN,
        OperationKind::SET_COLUMN_COMMENT,
        OperationKind::RENAME_COLUMN,
    ];

    /// The name as written in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            OperationKind::APPEND => "APPEND",
            OperationKind::APPEND_CHUNK_GRANULARITY => "APPEND_CHUNK_GRANULARITY",
            OperationKind::SQL_DELETE => "SQL_DELETE",
            OperationKind::SQL_UPDATE => "SQL_UPDATE",
            OperationKind::UPSERT => "UPSERT",
            OperationKind::DROP_TABLE => "DROP_TABLE",
            OperationKind::DROP_PARTITION => "DROP_PARTITION",
            OperationKind::DROP_DB => "DROP_DB",
            OperationKind::ADD_RANGE_PARTITION => "ADD_RANGE_PARTITION",
            OperationKind::ADD_VALUE_PARTITION => "ADD_VALUE_PARTITION",
            OperationKind::CREATE_DOMAIN => "CREATE_DOMAIN",
            OperationKind::CREATE_TABLE => "CREATE_TABLE",
            OperationKind::CREATE_PARTITIONED_TABLE => "CREATE_PARTITIONED_TABLE",
            OperationKind::ADD_COLUMN => "ADD_COLUMN",
            OperationKind::DROP_COLUMN => "DROP_COLUMN",
            OperationKind::RENAME_TABLE => "RENAME_TABLE",
            OperationKind::TRUNCATE_TABLE => "TRUNCATE_TABLE",
            OperationKind::REPLACE_COLUMN => "REPLACE_COLUMN",
            OperationKind::SET_COLUMN_COMMENT => "SET_COLUMN_COMMENT",
            OperationKind::RENAME_COLUMN => "RENAME_COLUMN",
        }
    }

    /// The kind of that name.
    pub fn from_name(name: &str) -> Option<OperationKind> {
        OperationKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Operation {
    /// Its type.
    pub fn kind(&self) -> OperationKind {
        match self {
            Operation::Append { .. } => OperationKind::APPEND,
            Operation::AppendChunkGranularity { .. } => OperationKind::APPEND_CHUNK_GRANULARITY,
            Operation::SqlDelete { .. } => OperationKind::SQL_DELETE,
            Operation::SqlUpdate { .. } => OperationKind::SQL_UPDATE,
            Operation::Upsert { .. } => OperationKind::UPSERT,
            Operation::DropTable { .. } => OperationKind::DROP_TABLE,
            Operation::DropPartition { .. } => OperationKind::DROP_PARTITION,
            Operation::DropDb { .. } => OperationKind::DROP_DB,
            Operation::AddRangePartition { .. } => OperationKind::ADD_RANGE_PARTITION,
            Operation::AddValuePartition { .. } => OperationKind::ADD_VALUE_PARTITION,
            Operation::CreateDomain { .. } => OperationKind::CREATE_DOMAIN,
            Operation::CreateTable { .. } => OperationKind::CREATE_TABLE,
            Operation::CreatePartitionedTable { .. } => OperationKind::CREATE_PARTITIONED_TABLE,
            Operation::AddColumn { .. } => OperationKind::ADD_COLUMN,
            Operation::DropColumn { .. } => OperationKind::DROP_COLUMN,
            Operation::RenameTable { .. } => OperationKind::RENAME_TABLE,
            Operation::TruncateTable { .. } => OperationKind::TRUNCATE_TABLE,
            Operation::ReplaceColumn { .. } => OperationKind::REPLACE_COLUMN,
            Operation::SetColumnComment { .. } => OperationKind::SET_COLUMN_COMMENT,
            Operation::RenameColumn { .. } => OperationKind::RENAME_COLUMN,
        }
    }

    /// The database it acts on.
    pub fn database(&self) -> &str {
        match self {
            Operation::Append { db, .. }
            | Operation::AppendChunkGranularity { db, .. }
            | Operation::SqlDelete { db, .. }
            | Operation::SqlUpdate { db, .. }
            | Operation::Upsert { db, .. }
            | Operation::DropTable { db, .. }
            | Operation::DropPartition { db, .. }
            | Operation::DropDb { db }
            | Operation::AddRangePartition { db, .. }
            | Operation::AddValuePartition { db, .. }
            | Operation::CreateDomain { db, .. }
            | Operation::CreateTable { db, .. }
            | Operation::CreatePartitionedTable { db, .. }
            | Operation::AddColumn { db, .. }
            | Operation::DropColumn { db, .. }
            | Operation::RenameTable { db, .. }
            | Operation::TruncateTable { db, .. }
            | Operation::ReplaceColumn { db, .. }
            | Operation::SetColumnComment { db, .. }
            | Operation::RenameColumn { db, .. } => db,
        }
    }

    /// The table it acts on, if one.
    pub fn table(&self) -> Option<&str> {
        match self {
            Operation::Append { table, .. }
            | Operation::AppendChunkGranularity { table, .. }
            | Operation::SqlDelete { table, .. }
            | Operation::SqlUpdate { table, .. }
            | Operation::Upsert { table, .. }
            | Operation::DropTable { table, .. }
            | Operation::DropPartition { table, .. }
            | Operation::CreateTable { table, .. }
            | Operation::CreatePartitionedTable { table, .. }
            | Operation::AddColumn { table, .. }
            | Operation::DropColumn { table, .. }
            | Operation::RenameTable { table, .. }
            | Operation::TruncateTable { table, .. }
            | Operation::ReplaceColumn { table, .. }
            | Operation::SetColumnComment { table, .. }
            | Operation::RenameColumn { table, .. } => Some(table),
            Operation::DropDb { .. }
            | Operation::AddRangePartition { .. }
            | Operation::AddValuePartition { .. }
            | Operation::CreateDomain { .. } => None,
        }
    }
}

/// Why an operation did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// Invalid for the catalog (unknown name, type mismatch, existing name, ...).
    Invalid,
    /// Another transaction holds a lock it needs (atomic=TRANS).
    Conflict,
    /// Fewer data nodes online than the replication factor, or no replica of a chunk available.
    Unavailable,
    /// The transaction aborted (a participant failed or timed out).
    Aborted,
    /// The cluster refuses the write (a database replicated from a master, on a slave: S01023).
    Rejected,
    /// A replication task that already committed on this slave (S01025): not run again.
    Duplicate,
}

/// An operation's error result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpError {
    /// The class of failure.
    pub code: ErrorCode,
    /// What went wrong.
    pub message: String,
}

impl OpError {
    /// An invalid-operation error.
    pub fn invalid(message: impl Into<String>) -> OpError {
        OpError { code: ErrorCode::Invalid, message: message.into() }
    }

    /// An error of `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> OpError {
        OpError { code, message: message.into() }
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::digest::stable_hash;

    fn operations() -> Vec<Operation> {
        let rows = vec![vec![Value::Long(1), Value::Symbol("a symbol longer than eight".into())], vec![Value::Null, Value::Double(7)]];
        vec![
            Operation::Append { db: "dfs://db0".into(), table: "t".into(), rows: rows.clone() },
            Operation::Upsert { db: "dfs://db0".into(), table: "t".into(), keys: vec!["k".into()], rows },
            Operation::SqlUpdate {
                db: "dfs://db1".into(),
                table: "t2".into(),
                column: "v".into(),
                value: Value::Int(-3),
                filter: Some(Filter { column: "k".into(), cmp: Cmp::Lt, value: Value::Long(9) }),
            },
            Operation::DropDb { db: String::new() },
        ]
    }

    #[test]
    fn a_shared_operation_hashes_and_serialises_as_its_operation() {
        for op in operations() {
            let shared = SharedOperation::new(op.clone());
            assert_eq!(stable_hash(&shared), stable_hash(&op));
            assert_eq!(stable_hash(&(1u8, shared.clone(), 2u8)), stable_hash(&(1u8, &op, 2u8)));
            assert_eq!(postcard::to_stdvec(&shared).unwrap(), postcard::to_stdvec(&op).unwrap());
            let back: SharedOperation = postcard::from_bytes(&postcard::to_stdvec(&shared).unwrap()).unwrap();
            assert_eq!(back, shared);
            assert_eq!(format!("{shared:?}"), format!("{op:?}"));
        }
        let [a, b, ..] = &operations()[..] else { unreachable!() };
        assert_ne!(stable_hash(&SharedOperation::new(a.clone())), stable_hash(&SharedOperation::new(b.clone())));
    }
}

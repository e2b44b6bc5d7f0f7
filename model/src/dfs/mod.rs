//! The distributed file system's data model: typed values, the catalog of partitioned databases,
//! the 20 operation types, chunk data and deltas, the planner that gives every operation its meaning,
//! and the sequential reference model.

pub mod catalog;
pub mod chunk;
pub mod operation;
pub mod plan;
pub mod reference;
pub mod value;

pub use catalog::{Catalog, Column, Database, DbId, PartitionKey, PartitionScheme, Table, TableId};
pub use chunk::{ChunkData, ChunkDelta, Condition};
pub use operation::{Cmp, ErrorCode, Filter, OpError, Operation, OperationKind, Query, Row, SharedOperation, SharedQuery};
pub use plan::{ChunkWrite, LockKey, Plan, QueryPlan, apply_catalog, plan, plan_query};
pub use reference::{DatabaseView, ReferenceDb, TableView, database_views};
pub use value::{ColumnType, Value};

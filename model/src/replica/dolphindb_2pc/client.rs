//! A DFS client: sends the scenario's mix of operations to data nodes, against the catalog it has
//! seen, and records a history (operation, outcome ok / failed / unknown, times) for the checkers.
//!
//! Queries (`query_weight`) share the lanes: a select over a table's partitions, pruned by an
//! equality on the partitioning column most of the time. The client sends with each query its
//! session's floor, the highest cid it was told committed or read, so that it never reads older
//! than what it saw.
//!
//! Each lane has one operation in flight. An operation that gets no answer in time ends "unknown"
//! (it may or may not have happened) and is never resent; the lane moves to another data node,
//! like DolphinDB's API failing over when its node dies.

use std::collections::BTreeMap;

use super::fact::{DfsFact, OpOutcome, QueryOutcome};
use super::message::DfsMessage;
use super::types::Cid;
use crate::core::io::{Carries, Millis, NodeId, Output, TimerKey, part};
use crate::core::rng::SplitMix64;
use crate::dfs::{
    Catalog, Cmp, Column, ColumnType, ErrorCode, Filter, Operation, OperationKind, PartitionScheme, Query, Row, SharedOperation, Value,
    apply_catalog, plan,
};
use crate::replica::Guest;

const TIMER_ISSUE: TimerKey = 400;
const TIMER_TICK: TimerKey = 401;
const TICK_MS: Millis = 100;

/// Settings of a DFS client.
#[derive(Debug, Clone, PartialEq)]
pub struct DfsClientConfig {
    /// Data nodes it may send operations to.
    pub data_nodes: Vec<NodeId>,
    /// Controllers it reads the catalog from.
    pub controllers: Vec<NodeId>,
    /// Mean time between two new operations.
    pub issue_interval_ms: Millis,
    /// Operations in flight at most.
    pub lanes: u32,
    /// An operation without answer after this long ends unknown.
    pub op_timeout_ms: Millis,
    /// Weight of each operation type.
    pub mix: Vec<(OperationKind, u32)>,
    /// Weight of queries, on the scale of the mix's weights.
    pub query_weight: u32,
    /// Names of the databases it works with.
    pub databases: Vec<String>,
    /// Table names it uses per database.
    pub tables_per_db: u32,
    /// Rows per APPEND / UPSERT, uniform in `[min, max]`.
    pub rows: (u32, u32),
    /// Chance that an operation is made invalid on purpose (unknown name, wrong type).
    pub invalid_share: f64,
    /// Re-read the catalog this often.
    pub catalog_refresh_ms: Millis,
}

/// What a lane waits for.
#[derive(Debug, Clone)]
enum Work {
    Write(SharedOperation),
    Read,
}

#[derive(Debug, Clone)]
struct InFlight {
    op_id: u64,
    work: Work,
    target: NodeId,
    deadline: Millis,
}

/// A DFS client.
#[derive(Debug)]
pub struct DfsClient {
    config: DfsClientConfig,
    lanes: Vec<Option<InFlight>>,
    catalog: Catalog,
    next_op: u64,
    target: usize,
    next_catalog_read: Millis,
    catalog_req: u64,
    controller: usize,
    stopped: bool,
    rng: SplitMix64,
    names: u64,
    /// The highest cid this client was told committed, or read at.
    floor: Cid,
}

impl DfsClient {
    /// A client with nothing issued yet; `id` keeps its operation ids apart from other clients'.
    pub fn new(id: NodeId, config: DfsClientConfig, entropy: u64) -> Self {
        assert!(!config.data_nodes.is_empty() && !config.controllers.is_empty() && config.lanes > 0);
        assert!(config.mix.iter().any(|(_, w)| *w > 0), "an operation mix needs a positive weight");
        let lanes = vec![None; config.lanes as usize];
        let target = id as usize % config.data_nodes.len();
        Self {
            config,
            lanes,
            catalog: Catalog::default(),
            next_op: u64::from(id) << 40,
            target,
            next_catalog_read: 0,
            catalog_req: 0,
            controller: 0,
            stopped: false,
            rng: SplitMix64::new(entropy),
            names: 0,
            floor: 0,
        }
    }

    /// Operations waiting for an answer.
    pub fn in_flight(&self) -> usize {
        self.lanes.iter().filter(|l| l.is_some()).count()
    }

    /// Starts issuing.
    pub fn start<M, F>(&mut self, out: &mut Output<M, F>) {
        out.set_timer(TIMER_ISSUE, self.rng.range(0, self.config.issue_interval_ms));
        out.set_timer(TIMER_TICK, TICK_MS);
    }

    /// Handles a message.
    pub fn on_message<P: Guest, M, F: Carries<DfsFact, part::Replica>>(&mut self, now: Millis, msg: DfsMessage<P>, out: &mut Output<M, F>) {
        match msg {
            DfsMessage::Outcome { op_id, result } => {
                let Some(i) = self.lanes.iter().position(|l| l.as_ref().is_some_and(|f| f.op_id == op_id)) else { return };
                let Some(flight) = self.lanes[i].take_if(|f| matches!(f.work, Work::Write(_))) else { return };
                let Work::Write(op) = &flight.work else { unreachable!("taken as a write") };
                let outcome = match result {
                    Ok((tid, cid)) => {
                        // Keep our view of the catalog current with our own DDL.
                        let existing = |_| Vec::new();
                        if plan(&self.catalog, &existing, op).is_ok() {
                            apply_catalog(&mut self.catalog, op);
                        }
                        self.floor = self.floor.max(cid);
                        OpOutcome::Ok { tid, cid }
                    }
                    Err(e) => {
                        if e.code == ErrorCode::Invalid {
                            self.next_catalog_read = self.next_catalog_read.min(now + 200);
                        }
                        OpOutcome::Failed(e)
                    }
                };
                out.fact_replica(DfsFact::OpEnded { op_id, outcome, at: now });
            }
            DfsMessage::QueryAnswer { op_id, result } => {
                let Some(i) = self.lanes.iter().position(|l| l.as_ref().is_some_and(|f| f.op_id == op_id && matches!(f.work, Work::Read)))
                else {
                    return;
                };
                self.lanes[i] = None;
                let outcome = match result {
                    Ok((snapshot, rows)) => {
                        self.floor = self.floor.max(snapshot);
                        QueryOutcome::Rows { snapshot, rows }
                    }
                    Err(e) => QueryOutcome::Failed(e),
                };
                out.fact_replica(DfsFact::QueryEnded { op_id, outcome, at: now });
            }
            DfsMessage::CatalogReply { req, catalog } if req == self.catalog_req => match catalog {
                Ok(c) => self.catalog = *c,
                Err(hint) => {
                    self.controller =
                        hint.and_then(|h| self.config.controllers.iter().position(|c| *c == h)).unwrap_or(self.controller + 1);
                    self.next_catalog_read = now;
                }
            },
            _ => {}
        }
    }

    /// The safety phase is over: issue nothing new (operations in flight still end).
    pub fn stop<M, F>(&mut self, out: &mut Output<M, F>) {
        self.stopped = true;
        out.cancel_timer(TIMER_ISSUE);
    }

    /// Handles a timer.
    pub fn on_timer<P: Guest, M: Carries<DfsMessage<P>, part::Replica>, F: Carries<DfsFact, part::Replica>>(
        &mut self,
        now: Millis,
        key: TimerKey,
        out: &mut Output<M, F>,
    ) {
        match key {
            TIMER_ISSUE if !self.stopped => {
                self.issue::<P, M, F>(now, out);
                let mean = self.config.issue_interval_ms;
                out.set_timer(TIMER_ISSUE, self.rng.range(mean / 2, mean + mean / 2 + 1));
            }
            TIMER_TICK => {
                out.set_timer(TIMER_TICK, TICK_MS);
                for lane in &mut self.lanes {
                    if lane.as_ref().is_some_and(|f| now >= f.deadline) {
                        let flight = lane.take().expect("checked");
                        let op_id = flight.op_id;
                        out.fact_replica(match flight.work {
                            Work::Write(_) => DfsFact::OpEnded { op_id, outcome: OpOutcome::Unknown, at: now },
                            Work::Read => DfsFact::QueryEnded { op_id, outcome: QueryOutcome::Unknown, at: now },
                        });
                        // Fail over: that node may be dead.
                        if self.config.data_nodes[self.target % self.config.data_nodes.len()] == flight.target {
                            self.target += 1;
                        }
                    }
                }
                if now >= self.next_catalog_read {
                    self.next_catalog_read = now + self.config.catalog_refresh_ms;
                    self.catalog_req += 1;
                    let to = self.config.controllers[self.controller % self.config.controllers.len()];
                    out.send_replica(to, DfsMessage::<P>::CatalogQuery { req: self.catalog_req });
                }
            }
            _ => {}
        }
    }

    fn issue<P: Guest, M: Carries<DfsMessage<P>, part::Replica>, F: Carries<DfsFact, part::Replica>>(
        &mut self,
        now: Millis,
        out: &mut Output<M, F>,
    ) {
        let Some(lane) = self.lanes.iter().position(|l| l.is_none()) else { return };
        let op_id = self.next_op;
        self.next_op += 1;
        let target = self.config.data_nodes[self.target % self.config.data_nodes.len()];
        let work = match self.generate() {
            Generated::Write(op) => {
                let op: SharedOperation = op.into();
                out.fact_replica(DfsFact::OpInvoked { op_id, op: op.clone(), at: now });
                out.send_replica(target, DfsMessage::<P>::Run { op_id, op: op.clone() });
                Work::Write(op)
            }
            Generated::Read(query) => {
                let query: crate::dfs::SharedQuery = query.into();
                out.fact_replica(DfsFact::QueryInvoked { op_id, query: query.clone(), at: now });
                out.send_replica(target, DfsMessage::<P>::Query { op_id, query, floor: self.floor });
                Work::Read
            }
        };
        self.lanes[lane] = Some(InFlight { op_id, work, target, deadline: now + self.config.op_timeout_ms });
    }

    // ----- Generating operations ------------------------------------------------------------------

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.rng.range(0, items.len() as u64) as usize])
    }

    fn fresh_name(&mut self, prefix: &str) -> String {
        self.names += 1;
        format!("{prefix}{}", self.names)
    }

    fn generate(&mut self) -> Generated {
        // Generating reads the catalog while drawing from the rng: move it out for the duration
        // rather than clone it.
        let catalog = std::mem::take(&mut self.catalog);
        let op = self.generate_from(&catalog);
        self.catalog = catalog;
        op
    }

    fn generate_from(&mut self, catalog: &Catalog) -> Generated {
        let existing_dbs: Vec<String> = self.config.databases.iter().filter(|d| catalog.database(d).is_some()).cloned().collect();
        let tables: Vec<(String, String)> = catalog
            .tables()
            .filter(|(d, _)| self.config.databases.contains(&d.name))
            .map(|(d, t)| (d.name.clone(), t.name.clone()))
            .collect();
        // Build up first: without databases and tables most of the mix has nothing to act on.
        let kind = if existing_dbs.is_empty() {
            OperationKind::CREATE_DOMAIN
        } else if tables.len() < existing_dbs.len() {
            if self.rng.chance(0.7) { OperationKind::CREATE_PARTITIONED_TABLE } else { OperationKind::CREATE_TABLE }
        } else {
            let writes: u64 = self.config.mix.iter().map(|(_, w)| u64::from(*w)).sum();
            let mut x = self.rng.range(0, writes + u64::from(self.config.query_weight));
            if x >= writes {
                return Generated::Read(self.query(catalog, &tables));
            }
            let mut chosen = self.config.mix[0].0;
            for &(k, w) in &self.config.mix {
                if x < u64::from(w) {
                    chosen = k;
                    break;
                }
                x -= u64::from(w);
            }
            chosen
        };
        let mut op = self.build(catalog, kind, &existing_dbs, &tables);
        if self.rng.chance(self.config.invalid_share) {
            self.spoil(&mut op);
        }
        Generated::Write(op)
    }

    /// A select over one of `tables`: pruned to one partition by an equality on the partitioning
    /// column seven times in ten, the whole table otherwise (and always for a dimension table).
    fn query(&mut self, catalog: &Catalog, tables: &[(String, String)]) -> Query {
        let (db, table) = self.pick(tables).cloned().expect("queries are generated once tables exist");
        let t = catalog.table(&db, &table);
        let keys = catalog.database(&db).map(|d| d.scheme.keys()).unwrap_or_default();
        let filter = match t.and_then(|t| t.partition_column.clone()) {
            Some(column) if self.rng.chance(0.7) => self.pick(&keys).cloned().map(|value| Filter { column, cmp: Cmp::Eq, value }),
            _ => None,
        };
        Query { db, table, filter }
    }

    fn build(&mut self, catalog: &Catalog, kind: OperationKind, dbs: &[String], tables: &[(String, String)]) -> Operation {
        let db = self.pick(dbs).cloned().unwrap_or_else(|| self.config.databases[0].clone());
        let (tdb, table) = self.pick(tables).cloned().unwrap_or((db.clone(), "t0".into()));
        let t = catalog.table(&tdb, &table);
        let d = catalog.database(&tdb);
        let non_partition: Vec<String> = t
            .as_ref()
            .map(|t| t.columns.iter().filter(|c| Some(&c.name) != t.partition_column.as_ref()).map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        match kind {
            OperationKind::APPEND | OperationKind::APPEND_CHUNK_GRANULARITY | OperationKind::UPSERT => {
                let n = self.rng.range(u64::from(self.config.rows.0), u64::from(self.config.rows.1) + 1) as usize;
                let keys = d.map(|d| d.scheme.keys()).unwrap_or_default();
                let rows: Vec<Row> = (0..n.max(1)).map(|_| self.row(&keys, t)).collect();
                match kind {
                    OperationKind::APPEND => Operation::Append { db: tdb, table, rows },
                    OperationKind::APPEND_CHUNK_GRANULARITY => Operation::AppendChunkGranularity { db: tdb, table, rows },
                    _ => {
                        let mut keys: Vec<String> = t.and_then(|t| t.partition_column.clone()).into_iter().collect();
                        keys.extend(self.pick(&non_partition).cloned());
                        Operation::Upsert { db: tdb, table, keys, rows }
                    }
                }
            }
            OperationKind::SQL_DELETE => Operation::SqlDelete { db: tdb, table, filter: self.filter(d, t) },
            OperationKind::SQL_UPDATE => {
                let column = self.pick(&non_partition).cloned().unwrap_or_else(|| "x".into());
                let ty = t.and_then(|t| t.column_index(&column).map(|i| t.columns[i].ty)).unwrap_or(ColumnType::Int);
                let value = self.value(ty);
                Operation::SqlUpdate { db: tdb, table, column, value, filter: self.filter(d, t) }
            }
            OperationKind::DROP_TABLE => Operation::DropTable { db: tdb, table },
            OperationKind::TRUNCATE_TABLE => Operation::TruncateTable { db: tdb, table },
            OperationKind::DROP_PARTITION => {
                let keys = d.map(|d| d.scheme.keys()).unwrap_or_default();
                let partition = self.pick(&keys).cloned().unwrap_or(Value::Int(0));
                Operation::DropPartition { db: tdb, table, partition }
            }
            OperationKind::DROP_DB => Operation::DropDb { db },
            OperationKind::ADD_RANGE_PARTITION | OperationKind::ADD_VALUE_PARTITION => {
                let Some(d) = catalog.database(&db) else { return Operation::AddValuePartition { db, value: Value::Int(0) } };
                match &d.scheme {
                    PartitionScheme::Range { boundaries, .. } => {
                        let last = boundaries.last().cloned().unwrap_or(Value::Int(0));
                        let boundary = match last {
                            Value::Int(v) => Value::Int(v.saturating_add(100)),
                            Value::Long(v) => Value::Long(v + 100),
                            Value::Timestamp(v) => Value::Timestamp(v + 100),
                            other => other,
                        };
                        Operation::AddRangePartition { db, boundary }
                    }
                    PartitionScheme::Value { column_type, .. } => {
                        let value = match column_type {
                            ColumnType::Symbol => Value::Symbol(self.fresh_name("v")),
                            _ => Value::Int(1000 + self.rng.range(0, 1000) as i32),
                        };
                        Operation::AddValuePartition { db, value }
                    }
                }
            }
            OperationKind::CREATE_DOMAIN => {
                let missing: Vec<String> = self.config.databases.iter().filter(|d| catalog.database(d).is_none()).cloned().collect();
                let db = self.pick(&missing).cloned().unwrap_or(db);
                let index = self.config.databases.iter().position(|d| *d == db).unwrap_or(0);
                let scheme = if index % 2 == 0 {
                    PartitionScheme::Value {
                        column_type: ColumnType::Symbol,
                        values: ["a", "b", "c", "d"].iter().map(|s| Value::Symbol(s.to_string())).collect(),
                    }
                } else {
                    PartitionScheme::Range {
                        column_type: ColumnType::Int,
                        boundaries: vec![Value::Int(0), Value::Int(100), Value::Int(200), Value::Int(300)],
                    }
                };
                Operation::CreateDomain { db, scheme }
            }
            OperationKind::CREATE_TABLE | OperationKind::CREATE_PARTITIONED_TABLE => {
                let names: Vec<String> = (0..self.config.tables_per_db).map(|i| format!("t{i}")).collect();
                let absent: Vec<String> = names.iter().filter(|n| catalog.table(&db, n).is_none()).cloned().collect();
                let table = self.pick(&absent).cloned().unwrap_or_else(|| "t0".into());
                let key_type = catalog.database(&db).map_or(ColumnType::Int, |d| d.scheme.column_type());
                let columns = vec![
                    Column::new("k", key_type),
                    Column::new("qty", ColumnType::Long),
                    Column::new("price", ColumnType::Double),
                    Column::new("note", ColumnType::Symbol),
                    Column::new("ts", ColumnType::Timestamp),
                ];
                if kind == OperationKind::CREATE_TABLE {
                    Operation::CreateTable { db, table, columns }
                } else {
                    Operation::CreatePartitionedTable { db, table, columns, partition_column: "k".into() }
                }
            }
            OperationKind::ADD_COLUMN => {
                let ty = ColumnType::ALL[self.rng.range(0, 5) as usize];
                Operation::AddColumn { db: tdb, table, column: Column::new(&self.fresh_name("c"), ty) }
            }
            OperationKind::DROP_COLUMN => {
                Operation::DropColumn { db: tdb, table, column: self.pick(&non_partition).cloned().unwrap_or_default() }
            }
            OperationKind::RENAME_TABLE => {
                // Mostly a free name of the universe (so that the table stays in use), sometimes a
                // taken one (an invalid rename).
                let names: Vec<String> = (0..self.config.tables_per_db).map(|i| format!("t{i}")).filter(|n| *n != table).collect();
                let free: Vec<String> = names.iter().filter(|n| catalog.table(&tdb, n).is_none()).cloned().collect();
                let pool = if !free.is_empty() && self.rng.chance(0.8) { &free } else { &names };
                let new_name = self.pick(pool).cloned().unwrap_or_else(|| "t9".into());
                Operation::RenameTable { db: tdb, table, new_name }
            }
            OperationKind::REPLACE_COLUMN => {
                let column = self.pick(&non_partition).cloned().unwrap_or_default();
                let ty = [ColumnType::Long, ColumnType::Double, ColumnType::Symbol][self.rng.range(0, 3) as usize];
                Operation::ReplaceColumn { db: tdb, table, column, ty }
            }
            OperationKind::SET_COLUMN_COMMENT => {
                let column = self.pick(&non_partition).cloned().unwrap_or_default();
                Operation::SetColumnComment { db: tdb, table, column, comment: self.fresh_name("comment ") }
            }
            OperationKind::RENAME_COLUMN => {
                let column = self.pick(&non_partition).cloned().unwrap_or_default();
                Operation::RenameColumn { db: tdb, table, column, new_name: self.fresh_name("r") }
            }
        }
    }

    fn value(&mut self, ty: ColumnType) -> Value {
        match ty {
            ColumnType::Int => Value::Int(self.rng.range(0, 300) as i32),
            ColumnType::Long => Value::Long(self.rng.range(0, 1_000_000) as i64),
            ColumnType::Double => Value::double(self.rng.range(0, 100_000) as f64 / 100.0),
            ColumnType::Symbol => Value::Symbol(["a", "b", "c", "d", "x"][self.rng.range(0, 5) as usize].into()),
            ColumnType::Timestamp => Value::Timestamp(1_700_000_000_000 + self.rng.range(0, 1_000_000) as i64),
        }
    }

    /// A row for table `t`; `keys` are its database's partition keys.
    fn row(&mut self, keys: &[Value], t: Option<&crate::dfs::Table>) -> Row {
        let Some(t) = t else { return vec![Value::Int(1)] };
        let mut row: Row = t.columns.iter().map(|c| self.value(c.ty)).collect();
        if let (Some(i), false) = (t.partition_index(), keys.is_empty()) {
            // A value inside a partition (a range's lower boundary is one).
            row[i] = self.pick(keys).cloned().expect("non-empty");
        }
        row
    }

    fn filter(&mut self, d: Option<&crate::dfs::Database>, t: Option<&crate::dfs::Table>) -> Option<Filter> {
        let t = t?;
        if self.rng.chance(0.1) {
            return None;
        }
        if let (Some(p), Some(d)) = (&t.partition_column, d)
            && self.rng.chance(0.7)
        {
            let keys = d.scheme.keys();
            let value = self.pick(&keys).cloned()?;
            return Some(Filter { column: p.clone(), cmp: Cmp::Eq, value });
        }
        let c = self.pick(&t.columns)?.clone();
        let cmp = [Cmp::Eq, Cmp::Lt, Cmp::Ge][self.rng.range(0, 3) as usize];
        Some(Filter { column: c.name.clone(), cmp, value: self.value(c.ty) })
    }

    /// Makes an operation invalid: an unknown table, or a row of the wrong shape.
    fn spoil(&mut self, op: &mut Operation) {
        match op {
            Operation::Append { rows, .. } | Operation::AppendChunkGranularity { rows, .. } if self.rng.chance(0.5) => {
                if let Some(r) = rows.first_mut() {
                    r.push(Value::Symbol("extra".into()));
                }
            }
            Operation::Append { table, .. }
            | Operation::SqlDelete { table, .. }
            | Operation::DropTable { table, .. }
            | Operation::AddColumn { table, .. }
            | Operation::TruncateTable { table, .. } => *table = "missing".into(),
            Operation::DropColumn { column, .. } | Operation::RenameColumn { column, .. } => *column = "nope".into(),
            _ => {}
        }
    }
}

/// What the client sends next.
enum Generated {
    Write(Operation),
    Read(Query),
}

/// The operation mix a scenario gives, as `(kind, weight)`.
pub type Mix = BTreeMap<OperationKind, u32>;

//! What the pipeline checkers' tests share (the neutral ones and DolphinDB's): a master (one
//! controller, two data nodes) and two slaves (two controllers, two data nodes each), every slave getting a third data node later;
//! a runner that judges each event against the ledger as it was before it and then has the ledger
//! follow it (as the design's checkers do); and the operations of a small database.

#![cfg(test)]

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::{Column, ColumnType, Operation, PartitionScheme, SharedOperation, Value};

use super::event::PipelineEvent;
use super::ledger::PipelineLedger;
use crate::checkers::Checker;
use crate::scenario::Scenario;
use crate::topology::Topology;

/// Execution queues per execution set on every slave.
pub const QUEUES: u32 = 4;

/// The deployment: `dfs://a` replicated in execution set 0, `dfs://b` in set 1.
pub fn scenario() -> Scenario {
    let toml = format!(
        "name = \"pipeline-checkers\"\n\
         [run]\nsafety_s = 10.0\nliveness_bound_s = 10.0\nseeds_ci = 1\n\
         [cluster.master]\ncontrollers = 1\ndata_nodes = 2\nreplication_factor = 1\n\
         [cluster.slave]\ncount = 2\ncontrollers = 2\ndata_nodes = 2\nreplication_factor = 1\nadded_data_nodes = 1\nadded_at_s = 5.0\n\
         [replication]\ndatabases = {{ \"dfs://a\" = 0, \"dfs://b\" = 1 }}\nqueues = {QUEUES}\n\
         [dfs_workload]\nclients = 1\nops_per_s = 1.0\n"
    );
    Scenario::parse("pipeline-checkers.toml", &toml).expect("a valid scenario")
}

/// Who is who.
pub fn topology() -> Topology {
    Topology::from_scenario(&scenario())
}

/// The node of that name.
pub fn node(name: &str) -> NodeId {
    topology().by_name(name).unwrap_or_else(|| panic!("no node {name}"))
}

/// The master's controller.
pub fn master() -> NodeId {
    node("master.controller.0")
}

/// Slave `k`'s first controller.
pub fn slave(k: u8) -> NodeId {
    slave_controller(k, 0)
}

/// Slave `k`'s controller `i` (each slave has two).
pub fn slave_controller(k: u8, i: u8) -> NodeId {
    node(&format!("slave{k}.controller.{i}"))
}

/// An empty ledger: the master is the source, the slaves the targets.
pub fn ledger() -> PipelineLedger {
    PipelineLedger::new(&topology(), "ENABLED")
}

/// Judges `events` in order with `checker`, each against the ledger before it, which then follows
/// it; the first refusal.
pub fn run<'e, C: Checker<PipelineLedger, PipelineEvent<'e>, ()>>(
    checker: &mut C,
    ledger: &mut PipelineLedger,
    events: &[(NodeId, PipelineEvent<'e>)],
) -> Result<(), String> {
    for (node, event) in events {
        checker.on_fact(ledger, *node, event)?;
        ledger.apply(*node, event);
    }
    Ok(())
}

/// Has the ledger follow `events`, judging none (for checkers that judge only the end).
pub fn follow(ledger: &mut PipelineLedger, events: &[(NodeId, PipelineEvent<'_>)]) {
    for (node, event) in events {
        ledger.apply(*node, event);
    }
}

/// The hash of entry `id` as logged.
pub fn hash(id: u64) -> u64 {
    1000 + id
}

/// The source transaction of entry `id`.
pub fn tx(id: u64) -> u64 {
    100 + id
}

/// The source logs `ops` as entries 1, 2, ... (entry `id` is transaction [`tx`]`(id)`, hashed
/// [`hash`]`(id)`).
pub fn logged(ops: &[SharedOperation]) -> Vec<(NodeId, PipelineEvent<'_>)> {
    (1..).zip(ops).map(|(id, op)| (master(), PipelineEvent::Enqueued { id, tx: tx(id), unit: op.database(), hash: hash(id), op })).collect()
}

/// The entries `ids` as logged, for a batch.
pub fn batch(ids: RangeInclusive<u64>) -> Vec<(u64, u64)> {
    ids.map(|id| (id, hash(id))).collect()
}

/// Target `node` runs entry `id`, commits it as its transaction `500 + id` and finishes it.
pub fn done(node: NodeId, id: u64) -> [(NodeId, PipelineEvent<'static>); 3] {
    [
        (node, PipelineEvent::Started { id }),
        (node, PipelineEvent::Applied { id, tx: 500 + id }),
        (node, PipelineEvent::Finished { id, skipped: false }),
    ]
}

/// `database(db)`, VALUE-partitioned on a LONG in {1, 2}.
pub fn create_db(db: &str) -> SharedOperation {
    let scheme = PartitionScheme::Value { column_type: ColumnType::Long, values: BTreeSet::from([Value::Long(1), Value::Long(2)]) };
    SharedOperation::new(Operation::CreateDomain { db: db.into(), scheme })
}

/// A dimension table of one LONG column `k`.
pub fn create_table(db: &str, table: &str) -> SharedOperation {
    SharedOperation::new(Operation::CreateTable { db: db.into(), table: table.into(), columns: vec![Column::new("k", ColumnType::Long)] })
}

/// One row `k` appended.
pub fn insert(db: &str, table: &str, k: i64) -> SharedOperation {
    SharedOperation::new(Operation::Append { db: db.into(), table: table.into(), rows: vec![vec![Value::Long(k)]] })
}

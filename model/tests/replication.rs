//! Property tests of the replication pipeline's two pure algorithms, with shrinking and fixed seeds:
//!
//! - the master's conflict grouping against a brute-force reference that computes conflicts from
//!   explicit cell sets (a partition lock is one cell, a table lock every cell of the table, a
//!   database lock every cell of the database), not from `LockKey::conflicts`;
//! - the slave's scheduling (execution sets, queues, group barriers) against sequential replay:
//!   a random master history is grouped, pulled in random batches, and executed on the slave in a
//!   random order among everything the scheduler allows (with failures and retries); the slave
//!   must end in exactly the state of applying the tasks one by one in task id order.
//!
//! Each property is also run against a planted bug (grouping that ignores table scope, a queue
//! without group barrier) to show that it can fail.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::dfs::{LockKey, Operation, PartitionKey, ReferenceDb, SharedOperation, TableId, Value, plan};
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::task::TaskPayload;
use ccrsim_model::pipeline::dolphindb_async::{Grouper, SlaveCommand, SlaveConfig, SlaveRepl, SlaveReplBugs, Task, TaskId};
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError, TestRunner};

use common::{PRELUDE, kind_of, random_steps, realize};

fn config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..ProptestConfig::default() }
}

// ----- Grouping against brute force ------------------------------------------------------------------

const G_DBS: [&str; 2] = ["a", "b"];
const G_TABLES: [&str; 2] = ["t", "u"];
const G_PARTS: i32 = 3;

/// One cell of the universe: `(db, table, partition)`; partition -1 stands for the table itself
/// and table "*" for the database itself, so that locks on empty tables and databases still meet.
type Cell = (String, String, i32);

fn cells(key: &LockKey) -> BTreeSet<Cell> {
    let part = |p: &PartitionKey| match p {
        Value::Int(v) => *v,
        other => panic!("the grouping universe has INT partitions, got {other:?}"),
    };
    let table_cells = |db: &str, t: &str| (-1..G_PARTS).map(|p| (db.to_string(), t.to_string(), p)).collect::<BTreeSet<Cell>>();
    match key {
        LockKey::Partition(db, t, p) => BTreeSet::from([(db.clone(), t.clone(), part(p))]),
        LockKey::Table(db, t) => table_cells(db, t),
        LockKey::Db(db) => {
            let mut all: BTreeSet<Cell> = G_TABLES.iter().flat_map(|t| table_cells(db, t)).collect();
            all.insert((db.clone(), "*".into(), -1));
            all
        }
    }
}

fn footprint_cells(footprint: &[LockKey]) -> BTreeSet<Cell> {
    footprint.iter().flat_map(cells).collect()
}

/// Groups by the rule, with conflicts from cell sets: a task joins the current group unless its
/// cells meet the cells of one of the group's members.
fn brute_force_groups(footprints: &[Vec<LockKey>]) -> Vec<u64> {
    let mut groups: Vec<u64> = Vec::new();
    for (i, f) in footprints.iter().enumerate() {
        let mine = footprint_cells(f);
        let group = match groups.last() {
            None => 1,
            Some(&current) => {
                let clash = (0..i).filter(|&j| groups[j] == current).any(|j| !footprint_cells(&footprints[j]).is_disjoint(&mine));
                if clash { current + 1 } else { current }
            }
        };
        groups.push(group);
    }
    groups
}

fn lock_key() -> impl Strategy<Value = LockKey> {
    (0..10u8, 0..G_DBS.len(), 0..G_TABLES.len(), 0..G_PARTS).prop_map(|(kind, d, t, p)| {
        let (db, table) = (G_DBS[d].to_string(), G_TABLES[t].to_string());
        match kind {
            0 => LockKey::Db(db),
            1 | 2 => LockKey::Table(db, table),
            _ => LockKey::Partition(db, table, Value::Int(p)),
        }
    })
}

fn footprints() -> impl Strategy<Value = Vec<Vec<LockKey>>> {
    prop::collection::vec(prop::collection::vec(lock_key(), 1..4), 1..40)
}

fn check_grouping(footprints: &[Vec<LockKey>], ignore_table_scope: bool) -> Result<(), TestCaseError> {
    let mut grouper = Grouper::new(ignore_table_scope);
    let groups: Vec<u64> = footprints.iter().map(|f| grouper.assign(f)).collect();
    let reference = brute_force_groups(footprints);
    prop_assert_eq!(&groups, &reference);
    // The properties the rule guarantees, checked on the reference itself.
    for i in 0..groups.len() {
        for j in 0..i {
            let conflict = !footprint_cells(&footprints[i]).is_disjoint(&footprint_cells(&footprints[j]));
            prop_assert!(groups[j] <= groups[i], "group ids never decrease");
            if conflict {
                prop_assert!(groups[j] < groups[i], "task {} conflicts with earlier task {} in the same group", i, j);
            }
        }
    }
    Ok(())
}

#[test]
fn grouping_matches_a_brute_force_reference() {
    let mut runner = TestRunner::new(config(2000, 0x6704_95ed));
    runner.run(&footprints(), |f| check_grouping(&f, false)).unwrap();
}

#[test]
fn the_grouping_property_catches_grouping_that_ignores_table_scope() {
    let mut runner = TestRunner::new(config(2000, 0x6704_95ed));
    let err = runner.run(&footprints(), |f| check_grouping(&f, true)).expect_err("the planted bug must be caught");
    let shrunk = format!("{err}");
    assert!(shrunk.contains("Table") || shrunk.contains("Db"), "the minimal counterexample involves DDL: {shrunk}");
}

// ----- Slave scheduling against sequential replay ------------------------------------------------------

/// A master history: the operations that were valid when applied one by one, each with the locks
/// its plan took (its footprint), in commit order; and the state they lead to.
fn master_history(steps: &[(usize, Vec<u8>)]) -> (Vec<(SharedOperation, Vec<LockKey>)>, ReferenceDb) {
    let mut db = ReferenceDb::default();
    let mut history = Vec::new();
    for (step, (n, bytes)) in steps.iter().enumerate() {
        let kind = PRELUDE.get(step).copied().unwrap_or_else(|| kind_of(*n));
        let op = realize(&db, kind, bytes);
        let existing = |t: TableId| db.chunks.keys().filter(|(id, _)| *id == t).map(|(_, p)| p.clone()).collect();
        let Ok(p) = plan(&db.catalog, &existing, &op) else { continue };
        db.apply(&op).expect("a planned operation applies");
        history.push((op.into(), p.locks));
    }
    (history, db)
}

/// The tasks of a history: grouped, each in the execution set of its database (which flips at
/// `flip` for databases in `flipping`, to exercise a set change).
fn tasks_of(history: &[(SharedOperation, Vec<LockKey>)], sets: &BTreeMap<String, u8>, flip: usize) -> Vec<Task> {
    let mut grouper = Grouper::new(false);
    history
        .iter()
        .enumerate()
        .map(|(i, (op, locks))| {
            let db = op.database().to_string();
            let base = sets.get(&db).copied().unwrap_or(0);
            let exec_set = if i >= flip { base ^ 1 } else { base };
            let id = i as TaskId + 1;
            Task {
                id,
                tid: id,
                cid: id,
                group: grouper.assign(locks),
                kind: op.kind(),
                db,
                table: op.table().map(str::to_string),
                footprint: locks.clone(),
                chunks: Vec::new(),
                source: 0,
                submit_ms: 0,
                exec_set,
                payload: TaskPayload::Inline(op.clone()),
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Schedule {
    steps: Vec<(usize, Vec<u8>)>,
    queues: u32,
    nodes: usize,
    set_bits: u8,
    flip: usize,
    choices: Vec<u16>,
}

fn schedules() -> impl Strategy<Value = Schedule> {
    (random_steps(), 1..5u32, 1..4usize, any::<u8>(), 0..80usize, prop::collection::vec(any::<u16>(), 0..400))
        .prop_map(|(steps, queues, nodes, set_bits, flip, choices)| Schedule { steps, queues, nodes, set_bits, flip, choices })
}

/// Runs a schedule through the slave's scheduler; returns the slave's final state and the master's.
fn replay(s: &Schedule, bugs: SlaveReplBugs) -> Result<(ReferenceDb, ReferenceDb), TestCaseError> {
    let (history, master) = master_history(&s.steps);
    let dbs: BTreeSet<String> = history.iter().map(|(op, _)| op.database().to_string()).collect();
    let sets: BTreeMap<String, u8> = dbs.iter().enumerate().map(|(i, d)| (d.clone(), (s.set_bits >> (i % 8)) & 1)).collect();
    let tasks = tasks_of(&history, &sets, s.flip);
    let nodes: Vec<u32> = (1..=s.nodes as u32).collect();
    let config = SlaveConfig {
        slave: 0,
        queues: s.queues,
        original_nodes: nodes.clone(),
        all_nodes: nodes,
        max_failures: u32::MAX,
        db_scope: BTreeSet::new(),
        bugs,
    };
    let mut slave = SlaveRepl::new(config);
    let mut db = ReferenceDb::default();
    let mut choices = s.choices.iter().copied().chain((0u16..).map(|i| i.wrapping_mul(7919)));
    let mut pulled = 0usize;
    let mut now = 0u64;
    let mut applied: BTreeMap<TaskId, u32> = BTreeMap::new();
    let mut next = || choices.next().expect("endless");
    for _round in 0..100_000 {
        let all_finished = slave.tasks().values().all(|t| t.state == SlaveTaskState::Finished);
        if pulled == tasks.len() && all_finished {
            break;
        }
        now += 1000;
        let c = next();
        let executing: Vec<TaskId> = slave.tasks().values().filter(|t| t.state == SlaveTaskState::Executing).map(|t| t.task.id).collect();
        let due = slave.due(now, u64::MAX / 4);
        match c % 4 {
            0 if pulled < tasks.len() => {
                let n = 1 + (next() as usize % 8).min(tasks.len() - pulled - 1);
                let batch = tasks[pulled..pulled + n].to_vec();
                let from = pulled as u64 + 1;
                slave.apply(&SlaveCommand::Pulled { from, requested: n as u32, tasks: batch, now_ms: now }).0.unwrap();
                pulled += n;
            }
            1 if !due.is_empty() => {
                // Dispatch some of what is due (a leader may dispatch in several rounds).
                let pick: Vec<TaskId> = due.iter().copied().filter(|_| next() % 3 != 0).collect();
                let pick = if pick.is_empty() { vec![due[0]] } else { pick };
                slave.apply(&SlaveCommand::Dispatch { tasks: pick, now_ms: now }).0.unwrap();
            }
            _ if !executing.is_empty() => {
                let id = executing[next() as usize % executing.len()];
                if next() % 5 == 0 {
                    slave.apply(&SlaveCommand::Failed { task: id, reason: "transient".into(), now_ms: now }).0.unwrap();
                    continue;
                }
                let task = slave.task(id).expect("held").task.clone();
                let TaskPayload::Inline(op) = &task.payload else { unreachable!("the test inlines every operation") };
                let result = db.apply(op);
                prop_assert!(result.is_ok(), "task {} ({}) fails on the slave: {:?}", id, op.kind(), result);
                *applied.entry(id).or_default() += 1;
                let mut facts = Vec::new();
                prop_assert!(slave.on_commit(id, id, &mut facts));
                slave.on_complete(id, now, &mut facts);
            }
            _ if !due.is_empty() => {
                slave.apply(&SlaveCommand::Dispatch { tasks: due, now_ms: now }).0.unwrap();
            }
            _ if pulled < tasks.len() => {
                let from = pulled as u64 + 1;
                slave.apply(&SlaveCommand::Pulled { from, requested: 1, tasks: vec![tasks[pulled].clone()], now_ms: now }).0.unwrap();
                pulled += 1;
            }
            _ => {
                // Only failed tasks waiting for their retry time: let time pass.
                now += 10_000;
            }
        }
    }
    prop_assert_eq!(slave.finished_below(), tasks.len() as u64 + 1, "every task finished");
    prop_assert!(applied.values().all(|&n| n == 1) && applied.len() == tasks.len(), "every task applied exactly once");
    Ok((db, master))
}

fn check_schedule(s: &Schedule, bugs: SlaveReplBugs) -> Result<(), TestCaseError> {
    let (slave, master) = replay(s, bugs)?;
    prop_assert_eq!(slave.views(|_| true), master.views(|_| true), "the slave differs from applying the tasks in task id order");
    Ok(())
}

#[test]
fn every_schedule_the_slave_allows_ends_in_the_sequential_state() {
    let mut runner = TestRunner::new(config(300, 0x51a7_e5ca));
    runner.run(&schedules(), |s| check_schedule(&s, SlaveReplBugs::default())).unwrap();
}

#[test]
fn the_scheduling_property_catches_a_queue_without_group_barrier() {
    let mut runner = TestRunner::new(config(300, 0x51a7_e5ca));
    let bugs = SlaveReplBugs { skip_group_barrier: true, ..SlaveReplBugs::default() };
    runner.run(&schedules(), |s| check_schedule(&s, bugs)).expect_err("the planted bug must be caught");
}

#[test]
fn histories_reach_every_operation_type() {
    // The scheduling property means something only if its histories hold conflicting DDL and
    // writes: count the operation types that become tasks over the property's cases.
    let mut runner = TestRunner::new(config(300, 0x51a7_e5ca));
    let seen = std::cell::RefCell::new(BTreeSet::new());
    runner
        .run(&schedules(), |s| {
            let (history, _) = master_history(&s.steps);
            seen.borrow_mut().extend(history.iter().map(|(op, _)| op.kind()));
            Ok(())
        })
        .unwrap();
    let seen = seen.into_inner();
    assert_eq!(
        seen.len(),
        20,
        "operation types never valid in a history: {:?}",
        ccrsim_model::dfs::OperationKind::ALL.iter().filter(|k| !seen.contains(k)).collect::<Vec<_>>()
    );
    let _ = Operation::DropDb { db: String::new() };
}

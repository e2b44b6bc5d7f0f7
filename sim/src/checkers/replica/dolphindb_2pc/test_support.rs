//! What the 2PC checkers' tests share: a runner that judges each fact against the ledger as it was
//! before it and then has the ledger follow it (as `DfsCheckers::on_fact` does), the nodes that
//! report the facts, and short names for the facts. Transactions run one APPEND each on
//! `dfs://a/t`, under a lock on one partition.

#![cfg(test)]

use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::{LockKey, Operation, OperationKind, SharedOperation, Value};
use ccrsim_model::replica::dolphindb_2pc::{ChunkId, Cid, Decision, DfsFact, OpOutcome, Tid};

use super::ledger::DfsLedger;
use crate::checkers::Checker;

/// A controller.
pub const CONTROLLER: NodeId = 0;
/// Another controller (reporting what it applies too).
pub const OTHER_CONTROLLER: NodeId = 1;
/// Two data nodes, each holding a replica of [`CHUNK`].
pub const DATA: [NodeId; 2] = [3, 4];
/// A workload client.
pub const CLIENT: NodeId = 9;
/// The chunk every transaction writes.
pub const CHUNK: ChunkId = 7;

/// Judges `facts` in order with `checker` (which reads views of type `V`), each against the ledger
/// before it; the ledger after them all, or the first refusal.
pub fn run<V: ?Sized, C: Checker<DfsLedger, DfsFact, V>>(checker: &mut C, facts: &[(NodeId, DfsFact)]) -> Result<DfsLedger, String> {
    let mut ledger = DfsLedger::default();
    for (node, fact) in facts {
        checker.on_fact(&ledger, *node, fact)?;
        ledger.apply(*node, fact);
    }
    Ok(ledger)
}

/// The lock on partition `p` of `dfs://a/t`.
pub fn part(p: i64) -> LockKey {
    LockKey::Partition("dfs://a".into(), "t".into(), Value::Long(p))
}

/// The operation every transaction runs.
pub fn append() -> SharedOperation {
    SharedOperation::new(Operation::Append { db: "dfs://a".into(), table: "t".into(), rows: vec![vec![Value::Long(1)]] })
}

/// The controller began `tid` for the client's operation `op_id` under `locks`.
pub fn begun(tid: Tid, op_id: u64, locks: Vec<LockKey>) -> (NodeId, DfsFact) {
    let fact =
        DfsFact::TxBegun { tid, kind: OperationKind::APPEND, coordinator: DATA[0], op_ref: (CLIENT, op_id), locks, online: DATA.to_vec() };
    (CONTROLLER, fact)
}

/// A decision as a controller applied it (a commit carries its operation).
pub fn decided(tid: Tid, decision: Decision) -> DfsFact {
    let op = matches!(decision, Decision::Commit(_)).then(append);
    DfsFact::TxDecided { tid, decision, op }
}

/// The controller decided to commit `tid` as `cid`.
pub fn commit(tid: Tid, cid: Cid) -> (NodeId, DfsFact) {
    (CONTROLLER, decided(tid, Decision::Commit(cid)))
}

/// The controller decided to roll `tid` back.
pub fn rollback(tid: Tid) -> (NodeId, DfsFact) {
    (CONTROLLER, decided(tid, Decision::Rollback))
}

/// The client sent operation `op_id`.
pub fn invoked(op_id: u64) -> (NodeId, DfsFact) {
    (CLIENT, DfsFact::OpInvoked { op_id, op: append(), at: 0 })
}

/// The client saw operation `op_id` end so.
pub fn ended(op_id: u64, outcome: OpOutcome) -> (NodeId, DfsFact) {
    (CLIENT, DfsFact::OpEnded { op_id, outcome, at: 1 })
}

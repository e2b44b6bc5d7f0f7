//! Durability of acknowledged commits (DolphinDB HA; the D of ACID): an operation acknowledged as
//! committed was decided commit by the controllers with exactly that transaction and cid, and the
//! decision is still in every live controller's state after the liveness phase (its data is checked
//! by `reference-model`); and a replica that acknowledged a commit to its coordinator still holds
//! it (or later) when it comes back from its disk after a crash.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::{Decision, DfsFact, OpOutcome};

use super::{On2pc, Scope};
use crate::checkers::Checker;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "commit-durability";
/// Where the property comes from.
pub const SOURCE: &str =
    "ACID durability: an acknowledged commit survives every crash (DolphinDB 2PC: the controller's decision is durable)";

/// Judges acknowledgements and reloads as they happen, and acknowledged commits at the end.
#[derive(Debug, Default)]
pub struct CommitDurability;

impl<'a, D: On2pc> Checker<DfsLedger, DfsFact, Scope<'a, D>> for CommitDurability {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        check(ledger, node, fact)
    }

    fn at_end(&self, ledger: &DfsLedger, scope: &Scope<'a, D>) -> Result<(), String> {
        at_end(ledger, scope)
    }
}

/// Checks one fact against the ledger before it.
fn check(ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
    if let DfsFact::ReplicaLoaded { chunk, version, .. } = fact
        && let Some(acked) = ledger.acknowledged.get(&(node, *chunk))
        && version < acked
    {
        return Err(format!(
            "data node {node} acknowledged committing chunk {chunk} at cid {acked} but came back from its disk at {version}"
        ));
    }
    let DfsFact::OpEnded { op_id, outcome: OpOutcome::Ok { tid, cid }, .. } = fact else { return Ok(()) };
    match ledger.decisions.get(tid) {
        Some((Decision::Commit(c), _)) if c == cid => Ok(()),
        other => Err(format!(
            "client {node} was told operation {op_id} committed as transaction {tid} cid {cid}, but the decision is {:?}",
            other.map(|(d, _)| d)
        )),
    }
}

/// After heal: every acknowledged commit is still decided commit on every live controller.
fn at_end<D: On2pc>(ledger: &DfsLedger, scope: &Scope<'_, D>) -> Result<(), String> {
    for (op_id, op) in &ledger.ops {
        let Some(OpOutcome::Ok { tid, cid }) = op.outcome else { continue };
        for &c in scope.controllers {
            let Some(controller) = scope.view.controller(c) else { continue };
            let decision = controller.raft().state_machine().replica.decision(tid);
            if decision != Some(Decision::Commit(cid)) {
                return Err(format!(
                    "operation {op_id} was acknowledged as committed (tid {tid}, cid {cid}); controller {c} holds {decision:?}"
                ));
            }
        }
    }
    Ok(())
}

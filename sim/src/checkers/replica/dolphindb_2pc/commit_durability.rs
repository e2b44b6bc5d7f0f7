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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::dolphindb_2pc::test_support::{CHUNK, DATA, begun, commit, ended, invoked, part, rollback, run};
    use crate::checkers::test_support::Bench;
    use crate::design::dolphindb::Dolphindb;
    use crate::topology::ClusterId;

    fn judged(facts: &[(NodeId, DfsFact)]) -> Result<DfsLedger, String> {
        run::<Scope<'_, Dolphindb>, _>(&mut CommitDurability, facts)
    }

    /// Operation 1 ran as transaction 1, decided commit as cid 4.
    fn committed() -> Vec<(NodeId, DfsFact)> {
        vec![invoked(1), begun(1, 1, vec![part(1)]), commit(1, 4)]
    }

    #[test]
    fn a_commit_acknowledged_as_decided_passes() {
        let mut facts = committed();
        facts.push(ended(1, OpOutcome::Ok { tid: 1, cid: 4 }));
        assert_eq!(judged(&facts).err(), None);
    }

    #[test]
    fn a_commit_acknowledged_under_another_cid_is_refused() {
        let mut facts = committed();
        facts.push(ended(1, OpOutcome::Ok { tid: 1, cid: 5 }));
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("was told operation 1 committed as transaction 1 cid 5, but the decision is Some(Commit(4))"), "{err}");
    }

    #[test]
    fn a_commit_acknowledged_for_a_rolled_back_transaction_is_refused() {
        let facts = [invoked(1), begun(1, 1, vec![part(1)]), rollback(1), ended(1, OpOutcome::Ok { tid: 1, cid: 4 })];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("but the decision is Some(Rollback)"), "{err}");
    }

    #[test]
    fn a_replica_back_at_or_after_the_version_it_acknowledged_passes() {
        let mut facts = committed();
        facts.extend([
            (DATA[0], DfsFact::CommitAcknowledged { tid: 1, chunk: CHUNK, cid: 4 }),
            (DATA[0], DfsFact::ReplicaLoaded { chunk: CHUNK, version: 4, digest: 1, prepared: vec![] }),
            // Later commits moved it on before the next crash.
            (DATA[0], DfsFact::ReplicaLoaded { chunk: CHUNK, version: 6, digest: 2, prepared: vec![] }),
        ]);
        assert_eq!(judged(&facts).err(), None);
    }

    #[test]
    fn a_replica_back_before_the_version_it_acknowledged_is_refused() {
        // The acknowledgement ran ahead of the fsync.
        let mut facts = committed();
        facts.extend([
            (DATA[0], DfsFact::CommitAcknowledged { tid: 1, chunk: CHUNK, cid: 4 }),
            (DATA[0], DfsFact::ReplicaLoaded { chunk: CHUNK, version: 3, digest: 1, prepared: vec![] }),
        ]);
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("acknowledged committing chunk 7 at cid 4 but came back from its disk at 3"), "{err}");
    }

    /// The verdict at the end on a lone controller that leads but never heard of any transaction,
    /// after the client saw operation 1 end with `outcome`.
    fn at_end_after(outcome: OpOutcome) -> Result<(), String> {
        let mut facts = committed();
        facts.push(ended(1, outcome));
        let ledger = judged(&facts).expect("judged");
        let mut bench = Bench::master(1, 1);
        let (c, d) = (bench.node("master.controller.0"), bench.node("master.datanode.0"));
        bench.elect(c);
        let scope = Scope { view: bench.view(), cluster: ClusterId::Master, controllers: &[c], data_nodes: &[d], clients: &[] };
        CommitDurability.at_end(&ledger, &scope)
    }

    #[test]
    fn an_unknown_outcome_binds_no_controller_at_the_end() {
        assert_eq!(at_end_after(OpOutcome::Unknown), Ok(()));
    }

    #[test]
    fn an_acknowledged_commit_a_live_controller_does_not_hold_is_refused_at_the_end() {
        let err = at_end_after(OpOutcome::Ok { tid: 1, cid: 4 }).unwrap_err();
        assert!(err.contains("operation 1 was acknowledged as committed (tid 1, cid 4); controller 0 holds None"), "{err}");
    }
}

//! The client history (Jepsen's oracle): what clients were told is true. An operation reported
//! committed ran as a transaction begun for it; an operation reported failed never committed, under
//! any of the transactions begun for it (checked after heal, when every transaction is decided).
//! Unknown outcomes may go either way.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::{Decision, DfsFact, OpOutcome};

use crate::checkers::Checker;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "client-history";
/// Where the property comes from.
pub const SOURCE: &str = "Jepsen-style history: acknowledged operations happened, failed ones did not";

/// Judges each success a client saw as it happens, and every failure once all is decided.
#[derive(Debug, Default)]
pub struct ClientHistory;

impl<V: ?Sized> Checker<DfsLedger, DfsFact, V> for ClientHistory {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        let DfsFact::OpEnded { op_id, outcome: OpOutcome::Ok { tid, .. }, .. } = fact else { return Ok(()) };
        if !ledger.tids_of((node, *op_id)).contains(tid) {
            return Err(format!("client {node} was told operation {op_id} committed as transaction {tid}, which was not begun for it"));
        }
        Ok(())
    }

    fn at_end(&self, ledger: &DfsLedger, _: &V) -> Result<(), String> {
        at_end(ledger)
    }
}

/// After heal: no operation reported failed committed.
fn at_end(ledger: &DfsLedger) -> Result<(), String> {
    for (op_id, op) in &ledger.ops {
        let Some(OpOutcome::Failed(error)) = &op.outcome else { continue };
        for tid in ledger.tids_of((op.client, *op_id)) {
            if let Some((Decision::Commit(cid), _)) = ledger.decisions.get(tid) {
                return Err(format!(
                    "client {} was told operation {op_id} failed ({error}), but it committed as transaction {tid} cid {cid}",
                    op.client
                ));
            }
        }
    }
    Ok(())
}

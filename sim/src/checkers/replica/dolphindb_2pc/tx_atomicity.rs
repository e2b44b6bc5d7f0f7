//! 2PC atomicity (Gray & Lamport, "Consensus on Transaction Commit", 2006; DolphinDB's transaction
//! resolution): every participant ends with the controller's decision. A replica may commit a
//! transaction only with the cid the controllers decided, and roll it back only if they decided so;
//! the controllers never disagree on a decision. Whether every in-doubt participant gets resolved is
//! checked after heal (no open prepare remains on a live data node).

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::{Decision, DfsFact};

use crate::checkers::Checker;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "2pc-atomicity";
/// Where the property comes from.
pub const SOURCE: &str =
    "two-phase commit: all participants reach the coordinator's decision (Gray & Lamport 2006; DolphinDB transaction resolution)";

/// Judges decisions and their application, fact by fact.
#[derive(Debug, Default)]
pub struct TxAtomicity;

impl<V: ?Sized> Checker<DfsLedger, DfsFact, V> for TxAtomicity {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        match fact {
            DfsFact::TxDecided { tid, decision, .. } => match ledger.decisions.get(tid) {
                Some((first, by)) if first != decision => {
                    Err(format!("controller {node} decided {decision:?} for transaction {tid}, controller {by} decided {first:?}"))
                }
                _ => Ok(()),
            },
            DfsFact::ReplicaCommitted { tid, chunk, cid, .. } => match ledger.decisions.get(tid) {
                Some((Decision::Commit(c), _)) if c == cid => Ok(()),
                other => Err(format!(
                    "data node {node} committed transaction {tid} on chunk {chunk} with cid {cid}, but the decision is {:?}",
                    other.map(|(d, _)| d)
                )),
            },
            DfsFact::ReplicaRolledBack { tid, chunk } => match ledger.decisions.get(tid) {
                Some((Decision::Rollback, _)) => Ok(()),
                other => Err(format!(
                    "data node {node} rolled back transaction {tid} on chunk {chunk}, but the decision is {:?}",
                    other.map(|(d, _)| d)
                )),
            },
            _ => Ok(()),
        }
    }
}

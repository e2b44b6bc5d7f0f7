//! One writer per partition (DolphinDB: one writing transaction per partition at a time): the
//! controller never lets two open transactions hold conflicting locks, and no replica holds two
//! open prepares of one chunk.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::DfsFact;

use crate::checkers::Checker;
use crate::checkers::oracle::locks_overlap;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "one-writer-per-partition";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB transactions: one writing transaction per partition (strict two-phase locking)";

/// Judges locks at BEGIN and prepares on replicas.
#[derive(Debug, Default)]
pub struct OneWriter;

impl<V: ?Sized> Checker<DfsLedger, DfsFact, V> for OneWriter {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        match fact {
            // A controller replaying its log after a restart reports old transactions again: old news.
            DfsFact::TxBegun { tid, .. } if ledger.txs.contains_key(tid) => Ok(()),
            DfsFact::TxBegun { tid, locks, .. } => {
                for (other, t) in ledger.open.iter().filter(|t| *t != tid).map(|t| (t, &ledger.txs[t])) {
                    if let Some((a, b)) = locks.iter().find_map(|a| t.locks.iter().find(|b| locks_overlap(a, b)).map(|b| (a, b))) {
                        return Err(format!("transaction {tid} got {a:?} while open transaction {other} holds {b:?}"));
                    }
                }
                Ok(())
            }
            DfsFact::Prepared { tid, chunk } => match ledger.prepared.get(&(node, *chunk)) {
                Some(open) if open.iter().any(|t| t != tid) => {
                    Err(format!("data node {node} prepared transaction {tid} on chunk {chunk} while {open:?} were still open there"))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

//! Replica convergence (DolphinDB: replicas of a chunk at the same version are identical; COMPLETE
//! replicas serve the same data): every replica that reaches version v of a chunk, by commit,
//! recovery image or reload from disk, holds the same rows. After heal, every complete replica holds
//! its chunk's current version.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::DfsFact;

use crate::checkers::Checker;
use crate::checkers::replica::dolphindb_2pc::ledger::DfsLedger;

/// Name of the checker.
pub const NAME: &str = "replica-convergence";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB HA: replicas of a chunk agree at every version; COMPLETE replicas are identical";

/// Judges every replica version reported against the first report of that version.
#[derive(Debug, Default)]
pub struct ReplicaConvergence;

impl<V: ?Sized> Checker<DfsLedger, DfsFact, V> for ReplicaConvergence {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &DfsLedger, node: NodeId, fact: &DfsFact) -> Result<(), String> {
        let (chunk, version, digest, how) = match fact {
            DfsFact::ReplicaCommitted { chunk, cid, digest, .. } => (chunk, cid, digest, "committed"),
            DfsFact::ReplicaInstalled { chunk, version, digest } => (chunk, version, digest, "installed"),
            DfsFact::ReplicaLoaded { chunk, version, digest, .. } => (chunk, version, digest, "reloaded"),
            _ => return Ok(()),
        };
        match ledger.versions.get(&(*chunk, *version)) {
            Some((first, by)) if first != digest => Err(format!(
                "data node {node} {how} chunk {chunk} at version {version} with other rows than data node {by} had at that version"
            )),
            _ => Ok(()),
        }
    }
}

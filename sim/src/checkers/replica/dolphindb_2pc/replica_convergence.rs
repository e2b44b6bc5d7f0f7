//! Replica convergence (DolphinDB: replicas of a chunk at the same version are identical; COMPLETE
//! replicas serve the same data): every replica that reaches version v of a chunk, by commit,
//! recovery image or reload from disk, holds the same rows. That every complete replica holds its
//! chunk's current version after heal is `dfs-liveness`'s to judge.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::dolphindb_2pc::test_support::{CHUNK, DATA, run};

    fn judged(facts: &[(NodeId, DfsFact)]) -> Result<(), String> {
        run::<(), _>(&mut ReplicaConvergence, facts).map(|_| ())
    }

    fn committed(node: NodeId, cid: u64, digest: u64) -> (NodeId, DfsFact) {
        (node, DfsFact::ReplicaCommitted { tid: cid, chunk: CHUNK, cid, digest })
    }

    #[test]
    fn replicas_holding_the_same_rows_at_each_version_pass() {
        let facts = [
            committed(DATA[0], 1, 100),
            committed(DATA[1], 1, 100),
            committed(DATA[0], 2, 200),
            (DATA[1], DfsFact::ReplicaInstalled { chunk: CHUNK, version: 2, digest: 200 }),
            (DATA[0], DfsFact::ReplicaLoaded { chunk: CHUNK, version: 2, digest: 200, prepared: vec![] }),
        ];
        assert_eq!(judged(&facts), Ok(()));
    }

    #[test]
    fn a_commit_giving_other_rows_at_one_version_is_refused() {
        let err = judged(&[committed(DATA[0], 1, 100), committed(DATA[1], 1, 101)]).unwrap_err();
        assert!(err.contains("data node 4 committed chunk 7 at version 1 with other rows than data node 3"), "{err}");
    }

    #[test]
    fn a_recovery_image_with_other_rows_is_refused() {
        let facts = [committed(DATA[0], 1, 100), (DATA[1], DfsFact::ReplicaInstalled { chunk: CHUNK, version: 1, digest: 101 })];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("installed chunk 7 at version 1 with other rows"), "{err}");
    }

    #[test]
    fn a_reload_with_other_rows_than_written_is_refused() {
        let facts =
            [committed(DATA[0], 1, 100), (DATA[0], DfsFact::ReplicaLoaded { chunk: CHUNK, version: 1, digest: 101, prepared: vec![] })];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("reloaded chunk 7 at version 1 with other rows"), "{err}");
    }
}

//! No reads in full sync (seed 002 §全量同步: 同步期间，备节点对外不提供服务; the reference's §6: DB status
//! FULLSYNC serves nothing, cls/clsReplSession.cpp): a node serves a read only in status Normal,
//! the status its own last `DbStatusChanged` since it booted said, and never between the beginning
//! of its full sync and its completion (an abandoned full sync starts over; a crash does not end
//! it; a local rebuild, status Rebuilding, replaces it), nor after a boot whose startup was not OK
//! (a crash restart: seed 002 §全量同步 宕机重启) until a full sync or a rebuild repaired it.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::SeqFact;
use ccrsim_model::replica::sequoiadb::types::DbStatus;

use super::final_state::FinalNode;
use super::ledger::SeqLedger;
use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "no-reads-in-full-sync";
/// Where the property comes from.
pub const SOURCE: &str = "seed 002 §全量同步 (the target serves nothing during the sync); sequoiadb-replica-group.md §6 \
                          (DB status FULLSYNC, cls/clsReplSession.cpp)";

/// Judges every read a node served.
#[derive(Debug, Default)]
pub struct NoReadsInFullSync;

impl Checker<SeqLedger, SeqFact, [FinalNode]> for NoReadsInFullSync {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &SeqLedger, _node: NodeId, fact: &SeqFact) -> Result<(), String> {
        let SeqFact::ReadServed { at, read, status, .. } = fact else { return Ok(()) };
        let said = ledger.status.get(at).copied();
        let why = if *status != DbStatus::Normal {
            format!("in status {status:?}")
        } else if let Some(source) = ledger.in_full_sync.get(at) {
            format!("during its full sync from node {source}")
        } else if ledger.unrepaired.contains(at) {
            "after a boot whose startup was not OK, before a full sync or a rebuild repaired it".to_string()
        } else if said.is_some_and(|s| s != *status) {
            format!("reporting status {status:?}, while its last status change said {said:?}")
        } else {
            return Ok(());
        };
        Err(format!("node {} of group {} served read {read:?} {why}", at.node, at.group))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{C, N, l, m, r, run};

    fn served(n: NodeId, status: DbStatus) -> (NodeId, SeqFact) {
        (n, SeqFact::ReadServed { at: m(n), read: r(1), collection: C, id: 1, value: None, status })
    }

    fn began(n: NodeId) -> (NodeId, SeqFact) {
        (n, SeqFact::FullSyncBegan { at: m(n), source: N[0], source_end: l(1, 0) })
    }

    fn ended(n: NodeId, completed: bool) -> (NodeId, SeqFact) {
        (n, SeqFact::FullSyncEnded { at: m(n), source: N[0], end: l(1, 0), completed })
    }

    fn status(n: NodeId, status: DbStatus) -> (NodeId, SeqFact) {
        (n, SeqFact::DbStatusChanged { at: m(n), status })
    }

    #[test]
    fn reads_before_and_after_a_full_sync_pass() {
        let facts = [
            served(N[1], DbStatus::Normal),
            status(N[1], DbStatus::FullSync),
            began(N[1]),
            ended(N[1], true),
            status(N[1], DbStatus::Normal),
            served(N[1], DbStatus::Normal),
        ];
        assert!(run(&mut NoReadsInFullSync, &facts).is_ok());
    }

    #[test]
    fn a_read_served_in_status_full_sync_is_refused() {
        // What serve_reads_in_full_sync does.
        let err = run(&mut NoReadsInFullSync, &[status(N[1], DbStatus::FullSync), served(N[1], DbStatus::FullSync)]).unwrap_err();
        assert!(err.contains("node 11 of group 1 served read (1, 1) in status FullSync"), "{err}");
    }

    #[test]
    fn a_read_served_during_a_full_sync_is_refused_whatever_status_it_reports() {
        let err = run(&mut NoReadsInFullSync, &[began(N[1]), served(N[1], DbStatus::Normal)]).unwrap_err();
        assert!(err.contains("during its full sync from node 10"), "{err}");
        let err = run(&mut NoReadsInFullSync, &[began(N[1]), ended(N[1], false), served(N[1], DbStatus::Normal)]).unwrap_err();
        assert!(err.contains("during its full sync from node 10"), "{err}");
    }

    #[test]
    fn a_node_that_booted_unclean_serves_only_once_repaired() {
        let boot = |ok| (N[1], SeqFact::NodeBooted { at: m(N[1]), file_begin: l(1, 0), end: l(1, 0), torn_records: 0, startup_ok: ok });
        assert!(run(&mut NoReadsInFullSync, &[boot(true), served(N[1], DbStatus::Normal)]).is_ok());
        let err = run(&mut NoReadsInFullSync, &[boot(false), served(N[1], DbStatus::Normal)]).unwrap_err();
        assert!(err.contains("after a boot whose startup was not OK"), "{err}");
        let repaired = [boot(false), began(N[1]), ended(N[1], true), served(N[1], DbStatus::Normal)];
        assert!(run(&mut NoReadsInFullSync, &repaired).is_ok());
    }

    #[test]
    fn a_node_that_rebuilds_locally_instead_serves_again() {
        let facts = [began(N[1]), status(N[1], DbStatus::Rebuilding), status(N[1], DbStatus::Normal), served(N[1], DbStatus::Normal)];
        assert!(run(&mut NoReadsInFullSync, &facts).is_ok());
    }

    #[test]
    fn a_read_reporting_another_status_than_the_nodes_own_is_refused() {
        let err = run(&mut NoReadsInFullSync, &[status(N[1], DbStatus::Rebuilding), served(N[1], DbStatus::Normal)]).unwrap_err();
        assert!(err.contains("while its last status change said Some(Rebuilding)"), "{err}");
    }
}

//! Record uniqueness (seed 002 §同步日志: every record has its own LSN and names the record before
//! it, `PreLSN`; the reference's §1, include/dpsLogRecordDef.hpp): per group, two records at one LSN
//! never differ (content digest and PreLSN), across every node and all time; a node's record names
//! as its PreLSN the last record of that node's log (as its facts tell it: records written, rolled
//! back, dropped at boot, a full sync's move), and comes after it.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::SeqFact;

use super::final_state::FinalNode;
use super::ledger::SeqLedger;
use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "record-uniqueness";
/// Where the property comes from.
pub const SOURCE: &str = "seed 002 §同步日志 (one record per LSN, PreLSN chain); sequoiadb-replica-group.md §1 \
                          (include/dpsLogRecordDef.hpp, cls/clsReplSession.cpp)";

/// Judges every record written against the group's records and the node's log before it.
#[derive(Debug, Default)]
pub struct RecordUniqueness;

impl Checker<SeqLedger, SeqFact, [FinalNode]> for RecordUniqueness {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &SeqLedger, _node: NodeId, fact: &SeqFact) -> Result<(), String> {
        let SeqFact::RecordWritten { at, lsn, pre_lsn, digest, .. } = fact else { return Ok(()) };
        if !lsn.is_valid() || *pre_lsn >= *lsn {
            return Err(format!("node {} of group {} wrote a record at {lsn} after PreLSN {pre_lsn}", at.node, at.group));
        }
        if let Some(first) = ledger.records.get(&at.group).and_then(|r| r.get(lsn))
            && (first.record.digest != *digest || first.record.pre_lsn != *pre_lsn)
        {
            return Err(format!(
                "two records of group {} at {lsn}: node {} wrote digest {:#x} after {}, node {} wrote digest {digest:#x} after {pre_lsn}",
                at.group, first.first_at, first.record.digest, first.record.pre_lsn, at.node
            ));
        }
        match ledger.log(*at).last {
            Some(last) if last != *pre_lsn => Err(format!(
                "node {} of group {} wrote the record at {lsn} with PreLSN {pre_lsn}, but its log ends at {last}",
                at.node, at.group
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{N, l, m, rec, rec_digest, rolled_back, run};
    use ccrsim_model::replica::sequoiadb::Lsn;

    fn judged(facts: &[(NodeId, SeqFact)]) -> Result<(), String> {
        run(&mut RecordUniqueness, facts).map(|_| ())
    }

    fn boot(n: NodeId, end: Lsn) -> (NodeId, SeqFact) {
        (n, SeqFact::NodeBooted { at: m(n), file_begin: l(1, 0), end, torn_records: 0, startup_ok: true })
    }

    #[test]
    fn the_same_records_replayed_on_every_node_pass() {
        let mut facts = Vec::new();
        for n in N {
            facts.extend([rec(n, l(1, 0), Lsn::INVALID, None), rec(n, l(1, 10), l(1, 0), None), rec(n, l(2, 20), l(1, 10), None)]);
        }
        assert_eq!(judged(&facts), Ok(()));
    }

    #[test]
    fn two_contents_at_one_lsn_are_refused() {
        // Two primaries writing at one version (skip_version_bump): one LSN, two records.
        let facts = [rec(N[0], l(1, 0), Lsn::INVALID, None), rec_digest(N[1], l(1, 0), Lsn::INVALID, None, 77)];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("two records of group 1 at 1:0: node 10 wrote digest 0xf4240 after 0:0, node 11 wrote digest 0x4d"), "{err}");
    }

    #[test]
    fn one_lsn_after_two_prelsns_is_refused() {
        let facts = [rec(N[0], l(1, 0), Lsn::INVALID, None), rec(N[0], l(1, 10), l(1, 0), None), rec(N[1], l(1, 10), Lsn::INVALID, None)];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("two records of group 1 at 1:10"), "{err}");
    }

    #[test]
    fn a_prelsn_other_than_the_logs_last_record_is_refused() {
        let facts = [rec(N[0], l(1, 0), Lsn::INVALID, None), rec(N[0], l(1, 10), l(1, 0), None), rec(N[0], l(1, 20), l(1, 0), None)];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("node 10 of group 1 wrote the record at 1:20 with PreLSN 1:0, but its log ends at 1:10"), "{err}");
    }

    #[test]
    fn a_record_not_after_its_prelsn_is_refused() {
        let err = judged(&[rec(N[0], l(1, 0), l(1, 0), None)]).unwrap_err();
        assert!(err.contains("wrote a record at 1:0 after PreLSN 1:0"), "{err}");
    }

    #[test]
    fn a_log_continues_from_its_rollback_point_and_its_boot_end() {
        let facts = [
            rec(N[0], l(1, 0), Lsn::INVALID, None),
            rec(N[0], l(1, 10), l(1, 0), None),
            rec(N[0], l(1, 20), l(1, 10), None),
            rolled_back(N[0], l(1, 10), &[(l(1, 20), None)]),
            rec(N[0], l(2, 20), l(1, 10), None),
            // The last record was torn by a crash.
            boot(N[0], l(1, 10)),
            rec(N[0], l(2, 20), l(1, 10), None),
        ];
        assert_eq!(judged(&facts), Ok(()));
    }

    #[test]
    fn a_record_after_a_rolled_back_one_is_refused() {
        let facts = [
            rec(N[0], l(1, 0), Lsn::INVALID, None),
            rec(N[0], l(1, 10), l(1, 0), None),
            rolled_back(N[0], l(1, 0), &[(l(1, 10), None)]),
            rec(N[0], l(1, 20), l(1, 10), None),
        ];
        let err = judged(&facts).unwrap_err();
        assert!(err.contains("with PreLSN 1:10, but its log ends at 1:0"), "{err}");
    }

    #[test]
    fn a_full_sync_moves_the_log_to_its_end() {
        let facts = [
            rec(N[0], l(1, 0), Lsn::INVALID, None),
            rec(N[0], l(1, 10), l(1, 0), None),
            (N[1], SeqFact::FullSyncBegan { at: m(N[1]), source: N[0], source_end: l(1, 10) }),
            (N[1], SeqFact::FullSyncEnded { at: m(N[1]), source: N[0], end: l(1, 10), completed: true }),
            rec(N[1], l(1, 20), l(1, 10), None),
        ];
        assert_eq!(judged(&facts), Ok(()));
        let mut wrong = facts.to_vec();
        wrong[4] = rec(N[1], l(1, 20), l(1, 0), None);
        assert!(judged(&wrong).unwrap_err().contains("its log ends at 1:10"));
    }
}

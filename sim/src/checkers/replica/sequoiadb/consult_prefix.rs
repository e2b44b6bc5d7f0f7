//! Log prefix after CONSULT (the reference's §5, cls/clsReplSession.cpp handleConsultRes: the
//! requester rolls its log back to the return point only where its record there has the source's
//! version and hash, else walks back or goes to full sync; seed 002 §增量同步: a version conflict is
//! resolved by the primary's data): once a CONSULT ends matched or rolled back, the secondary's log
//! ends at the return point and is, up to it, the source's log: the same records (LSNs and
//! digests), as far as the facts tell both logs (from the later of the points each log is known
//! from, up to the return point or the source's own end if it has since rolled back below it).

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::fact::ConsultOutcome;
use ccrsim_model::replica::sequoiadb::types::Member;
use ccrsim_model::replica::sequoiadb::{Lsn, SeqFact};

use super::final_state::FinalNode;
use super::ledger::{SeqLedger, TrackedLog};
use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "consult-prefix";
/// Where the property comes from.
pub const SOURCE: &str = "seed 002 §增量同步 (version conflicts resolved by the primary's data); sequoiadb-replica-group.md §5 \
                          (cls/clsReplSession.cpp handleConsultReq/handleConsultRes)";

/// Judges the end of each CONSULT against both logs as the facts tell them.
#[derive(Debug, Default)]
pub struct ConsultPrefix;

impl Checker<SeqLedger, SeqFact, [FinalNode]> for ConsultPrefix {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &SeqLedger, _node: NodeId, fact: &SeqFact) -> Result<(), String> {
        let SeqFact::ConsultEnded { at, source, return_to, outcome: ConsultOutcome::Matched | ConsultOutcome::RolledBack } = fact else {
            return Ok(());
        };
        let mine = ledger.log(*at);
        let theirs = ledger.log(Member { group: at.group, node: *source });
        if let Some(last) = mine.last
            && last != *return_to
        {
            return Err(format!(
                "node {} ended a CONSULT with node {source} at return point {return_to}, its log ending at {last}",
                at.node
            ));
        }
        prefix(&mine, &theirs, *return_to).map_err(|why| {
            format!(
                "node {} ended a CONSULT with node {source} at return point {return_to}, its log no prefix of the source's: {why}",
                at.node
            )
        })
    }
}

/// `mine` equals `theirs` up to `to` (or `theirs`'s end, if lower), where the facts tell both.
fn prefix(mine: &TrackedLog, theirs: &TrackedLog, to: Lsn) -> Result<(), String> {
    let Some(their_last) = theirs.last else { return Ok(()) };
    let to = to.min(their_last);
    let from = mine.known_from.max(theirs.known_from);
    if to < from {
        return Ok(());
    }
    let a: Vec<(Lsn, u64)> = mine.records.range(from..=to).map(|(l, r)| (*l, r.digest)).collect();
    let b: Vec<(Lsn, u64)> = theirs.records.range(from..=to).map(|(l, r)| (*l, r.digest)).collect();
    let first_difference = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i));
    match first_difference {
        None => Ok(()),
        Some(i) => Err(format!("from {from} on, its record {} stands where the source has {}", shown(a.get(i)), shown(b.get(i)))),
    }
}

/// A record as a message shows it.
fn shown(record: Option<&(Lsn, u64)>) -> String {
    match record {
        Some((lsn, digest)) => format!("{lsn} (digest {digest:#x})"),
        None => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{N, l, m, rec, rec_digest, rolled_back, run};

    fn consulted(n: NodeId, source: NodeId, to: Lsn, outcome: ConsultOutcome) -> (NodeId, SeqFact) {
        (n, SeqFact::ConsultEnded { at: m(n), source, return_to: to, outcome })
    }

    /// N0 and N1 share 1:0 and 1:10; N0 (the old primary) wrote 1:20, N1 (the new one) 2:20.
    fn diverged() -> Vec<(NodeId, SeqFact)> {
        let mut facts = Vec::new();
        for n in [N[0], N[1]] {
            facts.extend([rec(n, l(1, 0), Lsn::INVALID, None), rec(n, l(1, 10), l(1, 0), None)]);
        }
        facts.extend([rec(N[0], l(1, 20), l(1, 10), None), rec(N[1], l(2, 20), l(1, 10), None)]);
        facts
    }

    #[test]
    fn a_rollback_to_the_common_point_passes() {
        let mut facts = diverged();
        facts.extend([rolled_back(N[0], l(1, 10), &[(l(1, 20), None)]), consulted(N[0], N[1], l(1, 10), ConsultOutcome::RolledBack)]);
        assert!(run(&mut ConsultPrefix, &facts).is_ok());
    }

    #[test]
    fn a_match_at_the_end_of_a_shorter_log_passes() {
        let mut facts = diverged();
        facts.truncate(4);
        facts.push(rec(N[1], l(1, 20), l(1, 10), None));
        facts.push(consulted(N[0], N[1], l(1, 10), ConsultOutcome::Matched));
        assert!(run(&mut ConsultPrefix, &facts).is_ok());
    }

    #[test]
    fn a_log_left_past_the_return_point_is_refused() {
        let mut facts = diverged();
        facts.push(consulted(N[0], N[1], l(1, 10), ConsultOutcome::Matched));
        let err = run(&mut ConsultPrefix, &facts).unwrap_err();
        assert!(err.contains("node 10 ended a CONSULT with node 11 at return point 1:10, its log ending at 1:20"), "{err}");
    }

    #[test]
    fn a_return_point_whose_record_differs_is_refused() {
        // What a requester that skips the hash check at the return point does
        // (consult_skips_hash_check): it keeps a record of the same LSN and other content.
        let facts = [
            rec(N[1], l(1, 0), Lsn::INVALID, None),
            rec_digest(N[0], l(1, 0), Lsn::INVALID, None, 99),
            consulted(N[0], N[1], l(1, 0), ConsultOutcome::Matched),
        ];
        let err = run(&mut ConsultPrefix, &facts).unwrap_err();
        assert!(err.contains("its record 1:0 (digest 0x63) stands where the source has 1:0 (digest 0xf4240)"), "{err}");
    }

    #[test]
    fn a_divergent_record_kept_below_the_return_point_is_refused() {
        // Rolled back too little: N0 keeps the old primary's 1:20 and goes on with 2:20 on top.
        let mut facts = diverged();
        facts.extend([rec(N[0], l(2, 20), l(1, 20), None), consulted(N[0], N[1], l(2, 20), ConsultOutcome::Matched)]);
        let err = run(&mut ConsultPrefix, &facts).unwrap_err();
        assert!(err.contains("from 0:0 on, its record 1:20 (digest 0xf4254) stands where the source has 2:20 (digest 0x1e8494)"), "{err}");
    }

    #[test]
    fn a_divergent_record_below_the_return_point_is_refused() {
        // N0 holds 1:5 the source never had, under a matching return point 1:10.
        let facts = [
            rec(N[1], l(1, 0), Lsn::INVALID, None),
            rec(N[1], l(1, 10), l(1, 0), None),
            rec(N[0], l(1, 0), Lsn::INVALID, None),
            rec(N[0], l(1, 5), l(1, 0), None),
            rolled_back(N[0], l(1, 0), &[(l(1, 5), None)]),
            rec(N[0], l(1, 10), l(1, 0), None),
            consulted(N[0], N[1], l(1, 10), ConsultOutcome::Matched),
        ];
        assert!(run(&mut ConsultPrefix, &facts).is_ok());
        let mut kept = facts.to_vec();
        kept.remove(4);
        kept[4] = rec(N[0], l(1, 10), l(1, 5), None);
        let err = run(&mut ConsultPrefix, &kept).unwrap_err();
        assert!(err.contains("its record 1:5 (digest 0xf4245) stands where the source has 1:10 (digest 0xf424a)"), "{err}");
    }

    #[test]
    fn a_consult_ending_in_full_sync_binds_nothing() {
        let mut facts = diverged();
        facts.push(consulted(N[0], N[1], Lsn::INVALID, ConsultOutcome::FullSync));
        assert!(run(&mut ConsultPrefix, &facts).is_ok());
    }
}

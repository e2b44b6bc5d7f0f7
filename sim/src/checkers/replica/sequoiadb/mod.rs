//! SequoiaDB's replica groups (seed 002; ../shared/reference/sequoiadb-replica-group.md): one primary
//! per version, the voter rule, record uniqueness, durability by write concern, log prefix after CONSULT, full sync
//! exactly once, no reads in full sync, session guarantees, indeterminate writes, ReplSize refusals
//! and convergence after heal, judged on a ledger of the protocol's facts ([`SeqLedger`]) and, at
//! the end, on the running nodes' state as plain data ([`FinalNode`]).
//!
//! [`SeqCheckers`] composes them: a design calls `on_fact` for every `SeqFact` (each checker judges
//! it against the ledger before it, in the order of [`SeqCheckers::names`], then the ledger follows
//! it), `pending` and `at_end` with the running nodes, and `summary` for reports.

pub mod consult_prefix;
pub mod convergence;
pub mod final_state;
pub mod full_sync_once;
pub mod indeterminate_writes;
pub mod ledger;
pub mod no_reads_in_full_sync;
pub mod one_primary;
pub mod record_uniqueness;
pub mod replsize_refusal;
pub mod session_guarantees;
#[cfg(test)]
pub(crate) mod test_support;
pub mod voter_rule;
pub mod write_durability;
pub mod write_fate;

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::SeqFact;
use ccrsim_model::replica::sequoiadb::fact::{ReadOutcome, WriteOutcome};
use ccrsim_model::replica::sequoiadb::types::{GroupId, SeqError, WriteOp};

pub use self::final_state::FinalNode;
pub use self::ledger::SeqLedger;

use self::consult_prefix::ConsultPrefix;
use self::convergence::Convergence;
use self::final_state::{History, final_primary};
use self::full_sync_once::FullSyncOnce;
use self::indeterminate_writes::{IndeterminateCounts, IndeterminateWrites};
use self::ledger::Counts;
use self::no_reads_in_full_sync::NoReadsInFullSync;
use self::one_primary::OnePrimary;
use self::record_uniqueness::RecordUniqueness;
use self::replsize_refusal::ReplSizeRefusal;
use self::session_guarantees::{SessionGuarantees, StaleReads};
use self::voter_rule::VoterRule;
use self::write_durability::{DurabilityReport, LossCounts, WriteDurability};
use crate::checkers::availability::Answer;
use crate::checkers::{Violation, at_end_of, judge, pending_of};
use crate::env::time::SimTime;
use crate::summary::{OpCounts, ReplicaSummary};

/// Every SequoiaDB checker of a deployment, with the ledger they share.
#[derive(Debug, Default)]
pub struct SeqCheckers {
    ledger: SeqLedger,
    /// `full-sync-exactly-once` keeps each running full sync.
    full_sync: FullSyncOnce,
    /// `session-guarantees` keeps each session's writes and reads.
    sessions: SessionGuarantees,
}

impl SeqCheckers {
    /// The names of the SequoiaDB checkers (what a negative scenario's `expect.violation` names), in
    /// the order they judge each fact; `replica-group-convergence` judges the end.
    pub fn names() -> Vec<&'static str> {
        vec![
            record_uniqueness::NAME,
            one_primary::NAME,
            voter_rule::NAME,
            replsize_refusal::NAME,
            write_durability::NAME,
            indeterminate_writes::NAME,
            consult_prefix::NAME,
            full_sync_once::NAME,
            no_reads_in_full_sync::NAME,
            session_guarantees::NAME,
            convergence::NAME,
        ]
    }

    /// Judges a fact of `node` against the ledger before it, then has the ledger follow it.
    pub fn on_fact(&mut self, at: SimTime, node: NodeId, fact: &SeqFact) -> Result<(), Violation> {
        type V = [FinalNode];
        let l = &self.ledger;
        judge::<SeqLedger, SeqFact, V, _>(&mut RecordUniqueness, l, at, node, fact)?;
        judge::<SeqLedger, SeqFact, V, _>(&mut OnePrimary, l, at, node, fact)?;
        judge::<SeqLedger, SeqFact, V, _>(&mut VoterRule, l, at, node, fact)?;
        judge::<SeqLedger, SeqFact, V, _>(&mut ReplSizeRefusal, l, at, node, fact)?;
        judge::<SeqLedger, SeqFact, V, _>(&mut WriteDurability, l, at, node, fact)?;
        judge::<SeqLedger, SeqFact, V, _>(&mut IndeterminateWrites, l, at, node, fact)?;
        judge::<SeqLedger, SeqFact, V, _>(&mut ConsultPrefix, l, at, node, fact)?;
        judge::<SeqLedger, SeqFact, V, _>(&mut self.full_sync, l, at, node, fact)?;
        judge::<SeqLedger, SeqFact, V, _>(&mut NoReadsInFullSync, l, at, node, fact)?;
        judge::<SeqLedger, SeqFact, V, _>(&mut self.sessions, l, at, node, fact)?;
        self.ledger.apply(fact);
        Ok(())
    }

    /// Why the groups have not converged yet, given the running data nodes: `(checker, source,
    /// reason)`.
    pub fn pending(&self, nodes: &[FinalNode]) -> Option<(&'static str, &'static str, String)> {
        pending_of::<SeqLedger, SeqFact, [FinalNode], _>(&Convergence, &self.ledger, nodes)
    }

    /// The verdict on the final state of the running data nodes: convergence, then durability.
    pub fn at_end(&self, at: SimTime, nodes: &[FinalNode]) -> Result<(), Violation> {
        at_end_of::<SeqLedger, SeqFact, [FinalNode], _>(&Convergence, &self.ledger, nodes, at, "")?;
        at_end_of::<SeqLedger, SeqFact, [FinalNode], _>(&WriteDurability, &self.ledger, nodes, at, "")
    }

    /// The client operation a fact reports sent (`None` answer) or answered, for `availability`:
    /// writes and reads numbered apart, as `session << 33 | sequence << 1 | is_read`.
    pub fn client_operation(fact: &SeqFact) -> Option<(u64, Option<Answer>)> {
        let op = |(session, seq): (u32, u64), read: bool| (u64::from(session) << 33) | (seq << 1) | u64::from(read);
        match fact {
            SeqFact::WriteInvoked { write, .. } => Some((op(*write, false), None)),
            SeqFact::ReadInvoked { read, .. } => Some((op(*read, true), None)),
            SeqFact::WriteEnded { write, outcome, .. } => {
                let answer = match outcome {
                    WriteOutcome::Ok { .. } => Answer::Committed,
                    WriteOutcome::Failed(SeqError::DuplicateKey | SeqError::NotFound) => Answer::Refused,
                    WriteOutcome::Failed(_) => Answer::Unavailable,
                    WriteOutcome::Indeterminate(_) => Answer::Unknown,
                };
                Some((op(*write, false), Some(answer)))
            }
            SeqFact::ReadEnded { read, outcome, .. } => {
                let answer = match outcome {
                    ReadOutcome::Value { .. } => Answer::Committed,
                    ReadOutcome::Failed(_) => Answer::Unavailable,
                    ReadOutcome::Unknown => Answer::Unknown,
                };
                Some((op(*read, true), Some(answer)))
            }
            _ => None,
        }
    }

    /// The fate of every acknowledged or indeterminate write on every node of its group
    /// (`write_fate`), given the running data nodes and each node's name.
    pub fn write_fates(&self, nodes: &[FinalNode], name: impl Fn(NodeId) -> String) -> crate::checkers::write_fate::Fates {
        write_fate::write_fates(&self.ledger, nodes, name)
    }

    /// The acknowledged writes each failover lost, judged on the history of each group's current
    /// primary as the facts tell it (the durability part of [`SeqCheckers::summary`] alone).
    pub fn failover_rpo(&self) -> Vec<FailoverRpo> {
        self.durability_on_current_primaries().failover_rpo()
    }

    /// Every acknowledged write judged on the history of its group's current primary as the facts
    /// tell it (after convergence, the final primary).
    fn durability_on_current_primaries(&self) -> DurabilityReport {
        let l = &self.ledger;
        DurabilityReport::of(l, |g| Some(History::of(l, g, l.log(l.current_primary(g)?).last?)))
    }

    /// The ledger.
    pub fn ledger(&self) -> &SeqLedger {
        &self.ledger
    }

    /// What the run did, for reports: judged on the final history of the running nodes' primaries
    /// if given, else on the history of each group's current primary as the facts tell it.
    pub fn summary(&self, nodes: Option<&[FinalNode]>) -> SeqSummary {
        let l = &self.ledger;
        let history_of = |g: GroupId| -> Option<History> {
            let end = match nodes {
                Some(nodes) => final_primary(nodes, g)?.end,
                None => l.log(l.current_primary(g)?).last?,
            };
            Some(History::of(l, g, end))
        };
        let durability = DurabilityReport::of(l, history_of);
        SeqSummary {
            by_repl_size: durability.by_repl_size(),
            rpo: durability.failover_rpo(),
            stale_reads: self.sessions.counts(history_of),
            indeterminate: IndeterminateCounts::of(l, history_of),
            counts: l.counts,
            on_final_nodes: nodes.is_some(),
        }
    }

    /// The run's operations in the terms every design reports (operations by kind: `insert`,
    /// `increment`, `delete`, `read`; failures by SequoiaDB error; losses per ReplSize, judged on
    /// each group's current primary as the facts tell it).
    pub fn replica_summary(&self) -> ReplicaSummary {
        let losses = self.durability_on_current_primaries().by_repl_size().into_iter().map(|(r, c)| (r, c.into())).collect();
        let mut summary = ReplicaSummary { losses_by_write_concern: losses, ..ReplicaSummary::default() };
        for w in self.ledger.writes.values() {
            let kind = match w.op {
                WriteOp::Insert { .. } => "insert",
                WriteOp::Increment { .. } => "increment",
                WriteOp::Delete => "delete",
            };
            count(
                &mut summary,
                kind,
                w.ended.as_ref().map(|(o, _)| match o {
                    WriteOutcome::Ok { .. } => Ok(()),
                    WriteOutcome::Failed(e) => Err(Some(*e)),
                    WriteOutcome::Indeterminate(_) => Err(None),
                }),
            );
            summary.committed_transactions += u64::from(matches!(w.ended, Some((WriteOutcome::Ok { .. }, _))));
        }
        for r in self.ledger.reads.values() {
            count(
                &mut summary,
                "read",
                r.outcome.as_ref().map(|o| match o {
                    ReadOutcome::Value { .. } => Ok(()),
                    ReadOutcome::Failed(e) => Err(Some(*e)),
                    ReadOutcome::Unknown => Err(None),
                }),
            );
        }
        summary
    }
}

/// Counts one operation of `kind`: `Ok`, failed with an error, or unknown (`Err(None)` or no end).
fn count(summary: &mut ReplicaSummary, kind: &str, ended: Option<Result<(), Option<SeqError>>>) {
    let c: &mut OpCounts = summary.operations.entry(kind.to_string()).or_default();
    match ended {
        Some(Ok(())) => c.ok += 1,
        Some(Err(Some(e))) => {
            c.failed += 1;
            *summary.failures.entry(format!("{e:?}")).or_default() += 1;
        }
        Some(Err(None)) | None => c.unknown += 1,
    }
}

/// The recovery point of one failover: acknowledged writes of the primary of `version` lost by the
/// group's final history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FailoverRpo {
    /// The group.
    pub group: GroupId,
    /// The version of the primary whose writes were lost.
    pub version: u32,
    /// Acknowledged writes lost.
    pub ops: u64,
    /// The first of their acknowledgements, on their clients' clocks (ms).
    pub first_acked_ms: u64,
    /// The last.
    pub last_acked_ms: u64,
}

impl FailoverRpo {
    /// The span of acknowledged writing lost, in seconds.
    pub fn seconds(&self) -> f64 {
        self.last_acked_ms.saturating_sub(self.first_acked_ms) as f64 / 1000.0
    }
}

/// What SequoiaDB's replica groups did in a run, for reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SeqSummary {
    /// Per ReplSize setting (`1`, `2`, `0`, `-1`): writes acknowledged, lost, lost with a majority.
    pub by_repl_size: BTreeMap<String, LossCounts>,
    /// Each failover that lost acknowledged writes.
    pub rpo: Vec<FailoverRpo>,
    /// Stale reads and session anomalies, by class.
    pub stale_reads: StaleReads,
    /// Writes whose outcome their clients do not know, and what became of them.
    pub indeterminate: IndeterminateCounts,
    /// Promotions, failovers, rollbacks, full syncs, consults, rollovers.
    pub counts: Counts,
    /// Whether the fates were judged on the running nodes' final state (else on the facts).
    pub on_final_nodes: bool,
}

impl SeqSummary {
    /// The summary as report lines.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .by_repl_size
            .iter()
            .map(|(r, c)| {
                format!(
                    "ReplSize {r}: {} writes acknowledged, {} lost ({:.1} per 1,000; {} with a majority behind them; of those a majority confirmed, {} after confirming nodes restarted abnormally and full-synced, {} confirmed by nodes that had already voted for a newer primary), {} not judged",
                    c.acknowledged,
                    c.lost,
                    c.lost_per_1000(),
                    c.lost_with_majority,
                    c.lost_to_abnormal_restarts,
                    c.lost_to_stale_confirmations,
                    c.unknown
                )
            })
            .collect();
        lines.extend(
            self.rpo.iter().map(|r| {
                format!("RPO of group {} version {}: {} acknowledged writes over {:.3} s", r.group, r.version, r.ops, r.seconds())
            }),
        );
        let s = &self.stale_reads;
        lines.push(format!(
            "reads: {} answered ({} sticky); stale: read-your-writes {}, monotonic-reads {}; monotonic-writes {}, writes-follow-reads {}",
            s.reads, s.sticky_reads, s.read_your_writes, s.monotonic_reads, s.monotonic_writes, s.writes_follow_reads
        ));
        let i = &self.indeterminate;
        lines.push(format!(
            "indeterminate writes: {} ({} applied, {} lost, {} never written, {} not judged)",
            i.total, i.applied, i.lost, i.never_written, i.unknown
        ));
        let c = &self.counts;
        lines.push(format!(
            "promotions {} (failovers {}), rollbacks {} ({} records), consults {}, full syncs {} began / {} completed / {} abandoned, rollovers {}",
            c.promotions,
            c.failovers,
            c.rollbacks,
            c.rolled_back_records,
            c.consults,
            c.full_syncs_began,
            c.full_syncs_completed,
            c.full_syncs_abandoned,
            c.rollovers
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{
        N, catalog, doc, final_node, insert_acked, l, primary, primary_by, rec, rec_digest, rolled_back, w,
    };
    use ccrsim_model::replica::sequoiadb::Lsn;
    use ccrsim_model::replica::sequoiadb::types::{NodeRole, ReplSize};

    fn fed(facts: &[(NodeId, SeqFact)]) -> Result<SeqCheckers, Violation> {
        let mut checkers = SeqCheckers::default();
        for (node, fact) in facts {
            checkers.on_fact(SimTime::ZERO, *node, fact)?;
        }
        Ok(checkers)
    }

    /// N0 primary of version 1 writes document 1 (acknowledged by itself alone) at 1:0; it fails
    /// over to N1 (version 2), which never had it; N0 rolls it back.
    fn failover() -> Vec<(NodeId, SeqFact)> {
        let mut facts = catalog(ReplSize::Nodes(1));
        facts.push(primary(N[0], 1, Lsn::INVALID));
        facts.extend(insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, &[N[0]]));
        facts.extend([primary_by(N[1], 2, Lsn::INVALID, &[N[1], N[2]]), rec(N[1], l(2, 10), Lsn::INVALID, None)]);
        facts.extend([rolled_back(N[0], Lsn::INVALID, &[(l(1, 0), Some(w(1)))]), rec(N[0], l(2, 10), Lsn::INVALID, None)]);
        facts.push(rec(N[2], l(2, 10), Lsn::INVALID, None));
        facts
    }

    fn final_nodes() -> Vec<FinalNode> {
        let role = |i| if i == 1 { NodeRole::Primary } else { NodeRole::Secondary };
        (0..3).map(|i| final_node(N[i], role(i), &[l(2, 10)], &[])).collect()
    }

    /// A run through a failover, a rollback by CONSULT and a full sync, as the facts tell it: N0
    /// (version 1) writes w1 and w2, confirmed by N1, and w3 alone (ReplSize 1); cut off, it steps
    /// down; N1 (version 2) writes w4 (session 2), N0 rolls w3 back by CONSULT with N1; N2
    /// full-syncs from N1 while N1 writes w5, forwarded; session 2 reads its write from N1.
    fn eventful_run() -> Vec<(NodeId, SeqFact)> {
        use crate::checkers::replica::sequoiadb::test_support::{acked, invoked, m, read_ended, read_invoked};
        use ccrsim_model::replica::sequoiadb::fact::{ConsultOutcome, StepDownCause};
        use ccrsim_model::replica::sequoiadb::types::DbStatus;
        let inc = WriteOp::Increment { delta: 1 };
        let d1 = 1;
        let mut f = catalog(ReplSize::Nodes(2));
        for n in N {
            f.push((n, SeqFact::NodeBooted { at: m(n), file_begin: Lsn::INVALID, end: Lsn::INVALID, torn_records: 0, startup_ok: true }));
        }
        f.push(primary(N[0], 1, Lsn::INVALID));
        f.extend([invoked(w(1), d1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(2)), rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1)))]);
        f.extend([rec(N[1], l(1, 0), Lsn::INVALID, Some(w(1))), acked(w(1), N[0], l(1, 0), &[N[0], N[1]])]);
        f.push(rec(N[2], l(1, 0), Lsn::INVALID, Some(w(1))));
        f.extend([invoked(w(2), d1, inc, ReplSize::Nodes(2)), rec(N[0], l(1, 10), l(1, 0), Some(w(2)))]);
        f.extend([rec(N[1], l(1, 10), l(1, 0), Some(w(2))), acked(w(2), N[0], l(1, 10), &[N[0], N[1]])]);
        f.extend([
            invoked(w(3), d1, inc, ReplSize::Nodes(1)),
            rec(N[0], l(1, 20), l(1, 10), Some(w(3))),
            acked(w(3), N[0], l(1, 20), &[N[0]]),
        ]);
        f.push((N[0], SeqFact::SteppedDown { at: m(N[0]), version: 1, why: StepDownCause::NoMajority }));
        f.push(primary_by(N[1], 2, l(1, 10), &[N[1], N[2]]));
        let (w4, w5) = ((2, 1), (2, 2));
        f.extend([invoked(w4, d1, inc, ReplSize::Nodes(2)), rec(N[1], l(2, 30), l(1, 10), Some(w4))]);
        f.extend([
            rec(N[2], l(1, 10), l(1, 0), Some(w(2))),
            rec(N[2], l(2, 30), l(1, 10), Some(w4)),
            acked(w4, N[1], l(2, 30), &[N[1], N[2]]),
        ]);
        f.push(rolled_back(N[0], l(1, 10), &[(l(1, 20), Some(w(3)))]));
        f.push((N[0], SeqFact::ConsultEnded { at: m(N[0]), source: N[1], return_to: l(1, 10), outcome: ConsultOutcome::RolledBack }));
        f.push(rec(N[0], l(2, 30), l(1, 10), Some(w4)));
        f.push((N[2], SeqFact::DbStatusChanged { at: m(N[2]), status: DbStatus::FullSync }));
        f.push((N[2], SeqFact::FullSyncBegan { at: m(N[2]), source: N[1], source_end: l(2, 30) }));
        let copy = SeqFact::FullSyncDocCopied { at: m(N[2]), source: N[1], collection: 5, id: d1, value: Some(doc(3, l(2, 30))) };
        f.push((N[2], copy));
        f.extend([
            invoked(w5, d1, inc, ReplSize::Nodes(1)),
            rec(N[1], l(2, 40), l(2, 30), Some(w5)),
            rec(N[0], l(2, 40), l(2, 30), Some(w5)),
        ]);
        f.push((N[2], SeqFact::FullSyncRecordForwarded { at: m(N[2]), source: N[1], lsn: l(2, 40) }));
        f.push(acked(w5, N[1], l(2, 40), &[N[1]]));
        f.push((N[2], SeqFact::FullSyncEnded { at: m(N[2]), source: N[1], end: l(2, 40), completed: true }));
        f.push((N[2], SeqFact::DbStatusChanged { at: m(N[2]), status: DbStatus::Normal }));
        f.push(read_invoked((2, 3), d1, Some(N[1])));
        let served = SeqFact::ReadServed {
            at: m(N[1]),
            read: (2, 3),
            collection: 5,
            id: d1,
            value: Some(doc(4, l(2, 40))),
            status: DbStatus::Normal,
        };
        f.extend([(N[1], served), read_ended((2, 3), N[1], Some(doc(4, l(2, 40))))]);
        f
    }

    fn eventful_end() -> Vec<FinalNode> {
        let log = [l(1, 0), l(1, 10), l(2, 30), l(2, 40)];
        let docs = [(1, doc(4, l(2, 40)))];
        let mut n2 = final_node(N[2], NodeRole::Secondary, &[], &docs);
        n2.end = l(2, 40);
        vec![final_node(N[0], NodeRole::Secondary, &log, &docs), final_node(N[1], NodeRole::Primary, &log, &docs), n2]
    }

    #[test]
    fn a_run_through_failover_consult_and_full_sync_passes_every_checker() {
        let checkers = fed(&eventful_run()).expect("no violation");
        assert_eq!(checkers.pending(&eventful_end()), None);
        assert_eq!(checkers.at_end(SimTime::ZERO, &eventful_end()), Ok(()));
        let summary = checkers.summary(Some(&eventful_end()));
        let (two, one) = (summary.by_repl_size["2"], summary.by_repl_size["1"]);
        assert_eq!((two.acknowledged, two.lost, one.acknowledged, one.lost), (3, 0, 2, 1));
        assert_eq!(summary.rpo.len(), 1);
        assert_eq!((summary.rpo[0].version, summary.rpo[0].ops), (1, 1));
        let c = summary.counts;
        assert_eq!((c.promotions, c.failovers, c.rollbacks, c.consults, c.full_syncs_completed), (2, 1, 1, 1, 1));
        assert_eq!(summary.stale_reads.reads, 1);
        let from_facts = checkers.summary(None);
        assert!(!from_facts.on_final_nodes);
        assert_eq!(summary, SeqSummary { on_final_nodes: true, ..from_facts }, "the facts tell the same history as the final nodes");
    }

    #[test]
    fn the_same_run_with_the_write_forwarded_and_copied_is_refused() {
        // forward_uncopied_writes: w4 (already copied, at 2:30) forwarded too.
        let mut facts = eventful_run();
        let at = facts.iter().position(|(_, f)| matches!(f, SeqFact::FullSyncRecordForwarded { .. })).unwrap();
        facts.insert(at, (N[2], SeqFact::FullSyncRecordForwarded { at: test_support::m(N[2]), source: N[1], lsn: l(2, 30) }));
        let v = fed(&facts).unwrap_err();
        assert_eq!(v.checker, full_sync_once::NAME);
        assert!(v.message.contains("write (2, 1) at 2:30 was delivered twice"), "{}", v.message);
    }

    #[test]
    fn names_are_distinct_and_listed_in_judging_order() {
        let names = SeqCheckers::names();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert_eq!(names[0], "record-uniqueness");
    }

    #[test]
    fn a_failover_that_loses_a_write_of_one_confirmation_passes_and_counts_its_rpo() {
        let checkers = fed(&failover()).expect("no violation");
        assert_eq!(checkers.pending(&final_nodes()), None);
        assert_eq!(checkers.at_end(SimTime::ZERO, &final_nodes()), Ok(()));
        for summary in [checkers.summary(Some(&final_nodes())), checkers.summary(None)] {
            assert_eq!(summary.by_repl_size["1"].lost, 1);
            assert_eq!(summary.rpo, vec![FailoverRpo { group: 1, version: 1, ops: 1, first_acked_ms: 15, last_acked_ms: 15 }]);
            assert_eq!((summary.counts.failovers, summary.counts.rollbacks), (1, 1));
        }
        let lines = checkers.summary(None).lines();
        assert!(
            lines[0].starts_with("ReplSize 1: 1 writes acknowledged, 1 lost (1000.0 per 1,000; 0 with a majority behind them;"),
            "{lines:?}"
        );
        assert_eq!(checkers.replica_summary().operations["insert"].ok, 1);
    }

    #[test]
    fn violations_are_typed_with_the_checkers_name_and_source() {
        let mut facts = failover();
        facts.push(rec_digest(N[2], l(2, 10), Lsn::INVALID, None, 7));
        let v = fed(&facts).unwrap_err();
        assert_eq!((v.checker, v.class, v.node), (record_uniqueness::NAME, crate::violation::Class::Safety, Some(N[2])));
        assert!(v.message.contains("two records of group 1 at 2:10"), "{}", v.message);
    }

    #[test]
    fn an_end_state_violation_names_the_convergence_checker() {
        let checkers = fed(&failover()).expect("no violation");
        let mut nodes = final_nodes();
        nodes[2].docs.insert((5, 1), doc(1, l(1, 0)));
        let v = checkers.at_end(SimTime::ZERO, &nodes).unwrap_err();
        assert_eq!((v.checker, v.class), (convergence::NAME, crate::violation::Class::EndState));
    }

    #[test]
    fn availability_numbers_writes_and_reads_apart() {
        let write =
            SeqFact::WriteInvoked { write: (1, 1), collection: 5, id: 1, op: WriteOp::Delete, repl_size: ReplSize::Nodes(1), at: 0 };
        let read = crate::checkers::replica::sequoiadb::test_support::read_invoked((1, 1), 1, None).1;
        assert_ne!(SeqCheckers::client_operation(&write), SeqCheckers::client_operation(&read));
    }
}

//! Durability by write concern (the reference's §8: ReplSize, `replSizeCheck` in
//! cls/clsReplicateSet.cpp and `_clsSyncManager::sync` in cls/clsSyncManager.cpp; seed 002
//! §强一致性): a write is acknowledged only once as many nodes as its ReplSize asks confirmed it
//! (the primary's answer: at least what it says it required, and never less than what the checker
//! computes from the ReplSize and the smallest group the primary can have known: `n` capped at the
//! group, `0` every node), the primary among them;
//! an acknowledged write was written by the acknowledging primary at the LSN it names; and at the
//! end, a write acknowledged with confirmations from a majority of its group is on the group's final
//! history (the chain of its final primary's log). An acknowledged write confirmed by fewer nodes
//! may be lost in a failover: that is no violation but its RPO, counted per ReplSize and per
//! failover in [`DurabilityReport`].
//!
//! Two losses of a majority-confirmed write are the design's own, and are counted, not refused.
//! Each takes confirmations away until fewer than a majority stand behind the write:
//! - a confirming node restarted without a clean startup afterwards. SequoiaDB full-syncs such a
//!   node (seed 002 §全量同步: 宕机重启; the reference's §6, `!pmdGetStartup().isOK()` on attach),
//!   which discards its data and log, and the source it copies from may lack the write
//!   (`lost_to_abnormal_restarts`);
//! - a confirming node got the record only after it had promised a newer primary its vote (a
//!   round-two ballot of a higher version). SequoiaDB persists no term and fences no old primary
//!   (the reference's §1 and §7: "no persisted vote/term"): a secondary that voted goes on
//!   replaying its old primary's records, which confirms them, while the new primary, elected
//!   without them, makes it roll them back by CONSULT (§5, the reference's B5)
//!   (`lost_to_stale_confirmations`).
//!
//! A voter that holds the record and votes for a candidate whose log ends before it breaks the
//! voter rule: `voter-rule` refuses that directly, so these exemptions cannot hide it.

use std::collections::BTreeMap;

use ccrsim_model::core::io::{Millis, NodeId};
use ccrsim_model::replica::sequoiadb::fact::WriteOutcome;
use ccrsim_model::replica::sequoiadb::types::{GroupId, Member, ReplSize, WriteId};
use ccrsim_model::replica::sequoiadb::{Lsn, SeqFact};

use super::final_state::{FinalNode, History, final_primary};
use super::ledger::SeqLedger;
use crate::checkers::Checker;
use crate::summary::ConcernLosses;

/// Name of the checker.
pub const NAME: &str = "write-durability";
/// Where the property comes from.
pub const SOURCE: &str = "seed 002 §强一致性 (ReplSize); sequoiadb-replica-group.md §8 (cls/clsReplicateSet.cpp replSizeCheck, \
                          cls/clsSyncManager.cpp sync); Jepsen (acknowledged writes survive)";

/// Judges answers and acknowledgements as they happen, and acknowledged writes at the end.
#[derive(Debug, Default)]
pub struct WriteDurability;

impl Checker<SeqLedger, SeqFact, [FinalNode]> for WriteDurability {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &SeqLedger, _node: NodeId, fact: &SeqFact) -> Result<(), String> {
        match fact {
            SeqFact::WriteAnswered { at, write, lsn, repl_size, required, confirmed_by, error: None } => {
                let floor = required_floor(ledger, *write, at.group, *repl_size, lsn.version);
                confirmed(*write, at.node, confirmed_by, floor.max(usize::from(*required)))
            }
            SeqFact::WriteEnded { write, outcome: WriteOutcome::Ok { group, node, lsn, confirmed_by }, .. } => {
                let Some(info) = ledger.writes.get(write) else {
                    return Err(format!("write {write:?} was acknowledged but never sent"));
                };
                confirmed(*write, *node, confirmed_by, required_floor(ledger, *write, *group, info.repl_size, lsn.version))?;
                written_at(ledger, *write, *group, *node, *lsn)
            }
            _ => Ok(()),
        }
    }

    fn at_end(&self, ledger: &SeqLedger, nodes: &[FinalNode]) -> Result<(), String> {
        let report = DurabilityReport::of(ledger, |g| final_primary(nodes, g).map(|p| History::of(ledger, g, p.end)));
        match report.lost_with_majority.first() {
            Some(lost) => Err(format!(
                "write {:?} was acknowledged at {} by {} confirmations of a group of {}, but group {}'s final history lacks it",
                lost.write, lost.lsn, lost.confirmations, lost.group_size, lost.group
            )),
            None => Ok(()),
        }
    }
}

/// The fewest confirmations the checker's own reading of ReplSize demands: `n` capped at the group,
/// `0` every node of the group, `-1` (every node alive: the checker cannot know which) the primary.
/// The group is the smallest it can have been for the primary: the catalog's while the write ran
/// (a removal counts at once), and no more than the primary of `version` counted at its promotion
/// (it learns of an added member some time after the catalog applies it).
fn required_floor(ledger: &SeqLedger, write: WriteId, group: GroupId, repl_size: ReplSize, version: u32) -> usize {
    let now = ledger.group_size(group);
    let at_invoke = ledger.writes.get(&write).map_or(now, |w| w.group_size_at_invoke);
    let counted = ledger.primary_group_sizes.get(&(group, version)).map_or(usize::MAX, |&n| n as usize);
    let size = now.min(at_invoke).min(counted).max(1);
    match repl_size {
        ReplSize::Nodes(n) => usize::from(n).clamp(1, size),
        ReplSize::All => size,
        ReplSize::AllAlive => 1,
    }
}

/// The confirmations are distinct, include the primary, and are at least `needed`.
fn confirmed(write: WriteId, primary: NodeId, by: &[NodeId], needed: usize) -> Result<(), String> {
    let mut distinct = by.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if !distinct.contains(&primary) {
        return Err(format!("write {write:?} was acknowledged by primary {primary}, confirmed by {by:?} without it"));
    }
    if distinct.len() < needed {
        return Err(format!(
            "write {write:?} was acknowledged by primary {primary} with {} confirmations ({by:?}), below the {needed} its ReplSize requires",
            distinct.len()
        ));
    }
    Ok(())
}

/// The acknowledging primary's log got the write's record at that LSN.
fn written_at(ledger: &SeqLedger, write: WriteId, group: GroupId, node: NodeId, lsn: Lsn) -> Result<(), String> {
    let at = Member { group, node };
    let on_node = ledger.written.get(&write).is_some_and(|members| members.contains_key(&at));
    match ledger.record(group, lsn) {
        Some(r) if r.write == Some(write) && on_node => Ok(()),
        other => Err(format!(
            "write {write:?} was acknowledged at {lsn} by primary {node} of group {group}, whose record there is {other:?} (written on it: {on_node})"
        )),
    }
}

/// How an acknowledged write fared on its group's final history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// On the final history.
    Kept,
    /// Not on it.
    Lost,
    /// The history does not reach back to it, or the group has no one primary.
    Unknown,
}

/// An acknowledged write, judged on its group's final history.
#[derive(Debug, Clone)]
pub struct AckedWrite {
    /// The write.
    pub write: WriteId,
    /// Its group.
    pub group: GroupId,
    /// Its record's LSN.
    pub lsn: Lsn,
    /// Its write concern.
    pub repl_size: ReplSize,
    /// Distinct nodes that confirmed it.
    pub confirmations: usize,
    /// Members of its group when it was acknowledged.
    pub group_size: usize,
    /// When it was acknowledged, on its client's clock.
    pub acked_at: Millis,
    /// Its fate.
    pub fate: Fate,
    /// Confirming nodes that restarted without a clean startup after it was acknowledged (and so
    /// were rebuilt by a full sync that discarded their logs).
    pub restarted_confirmers: usize,
    /// Confirming nodes that got its record only after promising a newer primary their vote.
    pub stale_confirmers: usize,
    /// Confirmations left when both kinds are taken away (a node of both kinds counts once).
    pub standing_confirmations: usize,
}

impl AckedWrite {
    /// Whether its confirmations cover a majority of its group.
    pub fn majority(&self) -> bool {
        self.confirmations * 2 > self.group_size
    }

    /// Whether a majority still stands behind it: no election can then go without it, and its
    /// loss is a violation.
    pub fn majority_stands(&self) -> bool {
        self.standing_confirmations * 2 > self.group_size
    }

    /// How a lost write with a majority's confirmation lost it (`None`: a majority still stood
    /// behind it, a violation).
    pub fn majority_broken_by(&self) -> Option<MajorityBroken> {
        // Stale confirmations come first: they never stood behind the write, while a restart
        // takes away one that once did.
        if !self.majority() || self.majority_stands() {
            None
        } else if (self.confirmations - self.stale_confirmers) * 2 <= self.group_size {
            Some(MajorityBroken::StaleConfirmations)
        } else {
            Some(MajorityBroken::AbnormalRestarts)
        }
    }
}

/// What took a majority's confirmation away from a write, as SequoiaDB documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MajorityBroken {
    /// Confirming nodes restarted abnormally and were full-synced.
    AbnormalRestarts,
    /// Confirming nodes had already promised a newer primary their vote.
    StaleConfirmations,
}

/// A failover's recovery point: acknowledged writes of a primary's version lost by the groups'
/// final history, and the span of their acknowledgements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rpo {
    /// Acknowledged writes lost.
    pub ops: u64,
    /// The first and last of their acknowledgements, on their clients' clocks (ms).
    pub first_acked_ms: Millis,
    /// The last.
    pub last_acked_ms: Millis,
}

/// Acknowledged writes and their fates: what the run's report shows per ReplSize setting.
#[derive(Debug, Clone, Default)]
pub struct DurabilityReport {
    /// Every acknowledged write.
    pub acked: Vec<AckedWrite>,
    /// Lost ones behind which a majority still stood (each a violation; the documented losses
    /// are counted per ReplSize by `by_repl_size`).
    pub lost_with_majority: Vec<AckedWrite>,
    /// Lost ones by the (group, version) of the primary whose tail lost them.
    pub rpo: BTreeMap<(GroupId, u32), Rpo>,
}

impl DurabilityReport {
    /// The acknowledged writes each failover lost, by the (group, version) of the primary whose
    /// tail lost them.
    pub fn failover_rpo(&self) -> Vec<super::FailoverRpo> {
        self.rpo
            .iter()
            .map(|(&(group, version), r)| super::FailoverRpo {
                group,
                version,
                ops: r.ops,
                first_acked_ms: r.first_acked_ms,
                last_acked_ms: r.last_acked_ms,
            })
            .collect()
    }

    /// Every acknowledged write judged on the final history `history_of` gives for its group.
    pub fn of(ledger: &SeqLedger, history_of: impl Fn(GroupId) -> Option<History>) -> Self {
        let mut histories: BTreeMap<GroupId, Option<History>> = BTreeMap::new();
        let mut report = DurabilityReport::default();
        for (write, info) in &ledger.writes {
            let Some((WriteOutcome::Ok { group, lsn, confirmed_by, .. }, acked_at)) = &info.ended else { continue };
            let history = histories.entry(*group).or_insert_with(|| history_of(*group));
            let fate = match history.as_ref().and_then(|h| h.holds(*lsn)) {
                Some(true) if ledger.record(*group, *lsn).is_some_and(|r| r.write == Some(*write)) => Fate::Kept,
                Some(_) => Fate::Lost,
                None => Fate::Unknown,
            };
            let mut distinct = confirmed_by.clone();
            distinct.sort_unstable();
            distinct.dedup();
            // Per confirming node: (restarted abnormally since, confirmed after promising a newer
            // primary its vote).
            let kinds: Vec<(bool, bool)> = distinct
                .iter()
                .map(|&node| {
                    let restarted = ledger.abnormal_boots.get(&node).is_some_and(|boots| boots.iter().any(|&b| b > info.ended_fact));
                    (restarted, ledger.written_after_promising_above(*write, Member { group: *group, node }, lsn.version))
                })
                .collect();
            let acked = AckedWrite {
                write: *write,
                group: *group,
                lsn: *lsn,
                repl_size: info.repl_size,
                confirmations: distinct.len(),
                group_size: info.group_size_at_end,
                acked_at: *acked_at,
                fate,
                restarted_confirmers: kinds.iter().filter(|k| k.0).count(),
                stale_confirmers: kinds.iter().filter(|k| k.1).count(),
                standing_confirmations: kinds.iter().filter(|k| !k.0 && !k.1).count(),
            };
            if fate == Fate::Lost {
                if acked.majority_stands() {
                    report.lost_with_majority.push(acked.clone());
                }
                let rpo = report.rpo.entry((*group, lsn.version)).or_insert(Rpo { first_acked_ms: Millis::MAX, ..Rpo::default() });
                rpo.ops += 1;
                rpo.first_acked_ms = rpo.first_acked_ms.min(*acked_at);
                rpo.last_acked_ms = rpo.last_acked_ms.max(*acked_at);
            }
            report.acked.push(acked);
        }
        report
    }

    /// Per ReplSize setting (SequoiaDB's number: `1`, `2`, `0`, `-1`): writes acknowledged, lost,
    /// and of these lost with a majority's confirmation.
    pub fn by_repl_size(&self) -> BTreeMap<String, LossCounts> {
        let mut rows: BTreeMap<String, LossCounts> = BTreeMap::new();
        for a in &self.acked {
            let row = rows.entry(repl_size_name(a.repl_size)).or_default();
            row.acknowledged += 1;
            match a.fate {
                Fate::Lost => {
                    row.lost += 1;
                    row.lost_with_majority += u64::from(a.majority_stands());
                    match a.majority_broken_by() {
                        Some(MajorityBroken::AbnormalRestarts) => row.lost_to_abnormal_restarts += 1,
                        Some(MajorityBroken::StaleConfirmations) => row.lost_to_stale_confirmations += 1,
                        None => {}
                    }
                }
                Fate::Unknown => row.unknown += 1,
                Fate::Kept => {}
            }
        }
        rows
    }
}

/// Acknowledged writes of one ReplSize setting and what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LossCounts {
    /// Acknowledged.
    pub acknowledged: u64,
    /// Lost (not on the final history).
    pub lost: u64,
    /// Lost although a majority still stood behind them (violations).
    pub lost_with_majority: u64,
    /// Lost although a majority confirmed them, confirming nodes having restarted abnormally and
    /// full-synced since, so that no majority stood behind them: the design's documented loss.
    pub lost_to_abnormal_restarts: u64,
    /// Lost although a majority confirmed them, confirming nodes having got the record only after
    /// promising a newer primary their vote: the design's documented loss (no fencing).
    pub lost_to_stale_confirmations: u64,
    /// Not judged (no one final primary, or a history that does not reach back to them).
    pub unknown: u64,
}

impl LossCounts {
    /// Lost per 1,000 acknowledged.
    pub fn lost_per_1000(&self) -> f64 {
        ConcernLosses::from(*self).lost_per_1000()
    }
}

impl From<LossCounts> for ConcernLosses {
    fn from(c: LossCounts) -> Self {
        ConcernLosses {
            acknowledged: c.acknowledged,
            lost: c.lost,
            lost_majority_confirmed: c.lost_with_majority + c.lost_to_abnormal_restarts + c.lost_to_stale_confirmations,
            unjudged: c.unknown,
        }
    }
}

/// SequoiaDB's number for a ReplSize.
pub fn repl_size_name(r: ReplSize) -> String {
    match r {
        ReplSize::All => "0".into(),
        ReplSize::AllAlive => "-1".into(),
        ReplSize::Nodes(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{
        G, N, acked, catalog, doc, final_node, insert_acked, invoked, l, m, rec, rolled_back, run, w,
    };
    use ccrsim_model::replica::sequoiadb::types::{NodeRole, WriteOp};

    fn judged(repl_size: ReplSize, extra: Vec<(NodeId, SeqFact)>) -> Result<SeqLedger, String> {
        let mut facts = catalog(repl_size);
        facts.extend(extra);
        run(&mut WriteDurability, &facts)
    }

    fn answered(write: WriteId, repl_size: ReplSize, required: u8, by: &[NodeId]) -> (NodeId, SeqFact) {
        let fact = SeqFact::WriteAnswered { at: m(N[0]), write, lsn: l(1, 0), repl_size, required, confirmed_by: by.to_vec(), error: None };
        (N[0], fact)
    }

    #[test]
    fn a_write_confirmed_as_its_replsize_asks_passes() {
        let mut facts =
            vec![invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(2)), rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1)))];
        facts.extend([answered(w(1), ReplSize::Nodes(2), 2, &[N[0], N[1]]), acked(w(1), N[0], l(1, 0), &[N[0], N[1]])]);
        assert!(judged(ReplSize::Nodes(2), facts).is_ok());
    }

    #[test]
    fn an_answer_below_what_it_required_is_refused() {
        // What a primary that answers before its ReplSize is met does (ack_before_repl_size).
        let facts = vec![
            invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(2)),
            rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))),
            answered(w(1), ReplSize::Nodes(2), 2, &[N[0]]),
        ];
        let err = judged(ReplSize::Nodes(2), facts).unwrap_err();
        assert!(err.contains("with 1 confirmations ([10]), below the 2 its ReplSize requires"), "{err}");
    }

    #[test]
    fn an_answer_that_requires_less_than_the_replsize_says_is_refused() {
        // ReplSize 0 is every node of the group, whatever the primary says it required.
        let facts = vec![
            invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::All),
            rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))),
            answered(w(1), ReplSize::All, 2, &[N[0], N[1]]),
        ];
        let err = judged(ReplSize::All, facts).unwrap_err();
        assert!(err.contains("below the 3 its ReplSize requires"), "{err}");
    }

    #[test]
    fn a_replsize_above_the_group_means_every_node() {
        let mut facts =
            vec![invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(7)), rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1)))];
        facts.push(acked(w(1), N[0], l(1, 0), &N));
        assert!(judged(ReplSize::Nodes(7), facts.clone()).is_ok());
        facts.pop();
        facts.push(acked(w(1), N[0], l(1, 0), &[N[0], N[1]]));
        assert!(judged(ReplSize::Nodes(7), facts).unwrap_err().contains("below the 3"));
    }

    #[test]
    fn a_controller_reporting_an_old_addition_after_a_removal_does_not_grow_the_group() {
        // Controller 1 lags: it reports node 12's addition after controller 0 reported its removal.
        let removed = (0, SeqFact::MemberRemoved { at: m(N[2]) });
        let late_addition = (1, SeqFact::MemberAdded { at: m(N[2]), weight: 10 });
        let facts = vec![
            removed,
            late_addition,
            invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::All),
            rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))),
            acked(w(1), N[0], l(1, 0), &[N[0], N[1]]),
        ];
        assert!(judged(ReplSize::All, facts).is_ok());
    }

    #[test]
    fn a_primary_that_has_not_learned_of_an_added_member_acknowledges_with_the_group_it_knows() {
        let facts = vec![
            (N[0], SeqFact::BecamePrimary { at: m(N[0]), version: 1, end: Lsn::INVALID, votes: N.to_vec(), group_size: 3 }),
            (0, SeqFact::MemberAdded { at: m(13), weight: 10 }),
            invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::All),
            rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))),
            acked(w(1), N[0], l(1, 0), &N),
        ];
        assert!(judged(ReplSize::All, facts.clone()).is_ok());
        let mut short = facts;
        short[4] = acked(w(1), N[0], l(1, 0), &[N[0], N[1]]);
        assert!(judged(ReplSize::All, short).unwrap_err().contains("below the 3 its ReplSize requires"));
    }

    #[test]
    fn an_acknowledgement_without_the_primary_is_refused() {
        let facts = vec![
            invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(2)),
            rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))),
            acked(w(1), N[0], l(1, 0), &[N[1], N[2]]),
        ];
        assert!(judged(ReplSize::Nodes(2), facts).unwrap_err().contains("without it"));
    }

    #[test]
    fn an_acknowledgement_of_a_write_never_written_there_is_refused() {
        let facts = vec![invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(1)), acked(w(1), N[0], l(1, 0), &[N[0]])];
        let err = judged(ReplSize::Nodes(1), facts).unwrap_err();
        assert!(err.contains("acknowledged at 1:0 by primary 10 of group 1, whose record there is None"), "{err}");
    }

    /// Write 1 acknowledged at 1:0 by primary N0, confirmed by `by`; N1 becomes primary of
    /// version 2 without it and writes 2:10 (after 0:0); N0 rolls 1:0 back.
    fn failover(by: &[NodeId]) -> SeqLedger {
        let mut facts = insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, by);
        facts.extend([rec(N[1], l(2, 10), Lsn::INVALID, None), rolled_back(N[0], Lsn::INVALID, &[(l(1, 0), Some(w(1)))])]);
        judged(ReplSize::Nodes(by.len() as u8), facts).expect("judged")
    }

    fn final_nodes() -> Vec<FinalNode> {
        vec![final_node(N[1], NodeRole::Primary, &[l(2, 10)], &[]), final_node(N[0], NodeRole::Secondary, &[l(2, 10)], &[])]
    }

    #[test]
    fn a_write_lost_with_one_confirmation_is_counted_not_refused() {
        let ledger = failover(&[N[0]]);
        assert_eq!(WriteDurability.at_end(&ledger, &final_nodes()), Ok(()));
        let report = DurabilityReport::of(&ledger, |g| Some(History::of(&ledger, g, l(2, 10))));
        let row = report.by_repl_size()["1"];
        assert_eq!((row.acknowledged, row.lost, row.lost_with_majority), (1, 1, 0));
        assert_eq!(row.lost_per_1000(), 1000.0);
        assert_eq!(report.rpo[&(G, 1)], Rpo { ops: 1, first_acked_ms: 15, last_acked_ms: 15 });
    }

    #[test]
    fn a_write_lost_with_a_majority_of_confirmations_is_refused() {
        // What a voter that ignores LSNs lets happen (voter_ignores_lsn): a primary elected without
        // a record a majority held.
        let ledger = failover(&[N[0], N[2]]);
        let err = WriteDurability.at_end(&ledger, &final_nodes()).unwrap_err();
        assert!(
            err.contains("write (1, 1) was acknowledged at 1:0 by 2 confirmations of a group of 3, but group 1's final history lacks it"),
            "{err}"
        );
    }

    #[test]
    fn a_write_lost_after_its_confirming_majority_restarted_abnormally_is_counted_not_refused() {
        // Both confirming nodes crash and come back without a clean startup (SequoiaDB full-syncs
        // them, discarding their logs), then N1 leads without the write: the design's own loss.
        let mut facts = insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, &[N[0], N[2]]);
        for node in [N[0], N[2]] {
            facts.push((
                node,
                SeqFact::NodeBooted { at: m(node), file_begin: Lsn::INVALID, end: Lsn::INVALID, torn_records: 0, startup_ok: false },
            ));
        }
        facts.extend([rec(N[1], l(2, 10), Lsn::INVALID, None)]);
        let ledger = judged(ReplSize::Nodes(2), facts).expect("judged");
        let nodes = vec![final_node(N[1], NodeRole::Primary, &[l(2, 10)], &[])];
        assert_eq!(WriteDurability.at_end(&ledger, &nodes), Ok(()));
        let report = DurabilityReport::of(&ledger, |g| Some(History::of(&ledger, g, l(2, 10))));
        let row = report.by_repl_size()["2"];
        assert_eq!((row.lost, row.lost_with_majority, row.lost_to_abnormal_restarts), (1, 0, 1));
        // One of the two restarting is enough: the other, still holding the record, is no
        // majority, and N1 wins with the vote of the rebuilt N0 (voter-rule judges the votes).
        let mut facts = insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, &[N[0], N[2]]);
        facts.push((
            N[0],
            SeqFact::NodeBooted { at: m(N[0]), file_begin: Lsn::INVALID, end: Lsn::INVALID, torn_records: 0, startup_ok: false },
        ));
        facts.extend([rec(N[1], l(2, 10), Lsn::INVALID, None)]);
        let ledger = judged(ReplSize::Nodes(2), facts).expect("judged");
        assert_eq!(WriteDurability.at_end(&ledger, &nodes), Ok(()));
        // A clean restart keeps the log: the majority stands, and the loss is a violation.
        let mut facts = insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, &[N[0], N[2]]);
        facts.push((N[0], SeqFact::NodeBooted { at: m(N[0]), file_begin: Lsn::INVALID, end: l(1, 0), torn_records: 0, startup_ok: true }));
        facts.extend([rec(N[1], l(2, 10), Lsn::INVALID, None)]);
        let ledger = judged(ReplSize::Nodes(2), facts).expect("judged");
        assert!(WriteDurability.at_end(&ledger, &nodes).is_err());
    }

    fn promised(voter: NodeId, candidate: NodeId, version: u32) -> (NodeId, SeqFact) {
        (voter, SeqFact::VoteAccepted { at: m(voter), candidate, version, end: Lsn::INVALID, candidate_end: Lsn::INVALID })
    }

    #[test]
    fn a_write_confirmed_by_a_node_that_had_voted_for_a_newer_primary_is_counted_not_refused() {
        // N2 promises N1 version 2, then still replays old primary N0's record 1:0 and confirms
        // it; N1, elected without it, leads: SequoiaDB fences no old primary (no term).
        let stale = |promise_first: bool| {
            let mut facts = vec![invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(2))];
            facts.push(rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))));
            if promise_first {
                facts.push(promised(N[2], N[1], 2));
            }
            facts.push(rec(N[2], l(1, 0), Lsn::INVALID, Some(w(1))));
            if !promise_first {
                facts.push(promised(N[2], N[1], 2));
            }
            facts.extend([
                acked(w(1), N[0], l(1, 0), &[N[0], N[2]]),
                rec(N[1], l(2, 10), Lsn::INVALID, None),
                rolled_back(N[2], Lsn::INVALID, &[(l(1, 0), Some(w(1)))]),
                rolled_back(N[0], Lsn::INVALID, &[(l(1, 0), Some(w(1)))]),
            ]);
            judged(ReplSize::Nodes(2), facts).expect("judged")
        };
        let ledger = stale(true);
        assert_eq!(WriteDurability.at_end(&ledger, &final_nodes()), Ok(()));
        let report = DurabilityReport::of(&ledger, |g| Some(History::of(&ledger, g, l(2, 10))));
        let row = report.by_repl_size()["2"];
        assert_eq!((row.lost, row.lost_with_majority, row.lost_to_stale_confirmations, row.lost_to_abnormal_restarts), (1, 0, 1, 0));
        assert_eq!(report.acked[0].majority_broken_by(), Some(MajorityBroken::StaleConfirmations));
        // Holding the record before promising its vote, N2's confirmation stands: a violation
        // (and voting for a candidate whose log ends before the record breaks the voter rule).
        let ledger = stale(false);
        let err = WriteDurability.at_end(&ledger, &final_nodes()).unwrap_err();
        assert!(err.contains("by 2 confirmations of a group of 3"), "{err}");
    }

    #[test]
    fn a_write_on_the_final_history_is_kept() {
        let mut facts = insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, &[N[0], N[1]]);
        facts.push(rec(N[1], l(1, 0), Lsn::INVALID, Some(w(1))));
        facts.push(rec(N[1], l(2, 10), l(1, 0), None));
        let ledger = judged(ReplSize::Nodes(2), facts).expect("judged");
        let nodes = vec![final_node(N[1], NodeRole::Primary, &[l(1, 0), l(2, 10)], &[(1, doc(1, l(1, 0)))])];
        assert_eq!(WriteDurability.at_end(&ledger, &nodes), Ok(()));
        let report = DurabilityReport::of(&ledger, |g| Some(History::of(&ledger, g, l(2, 10))));
        assert_eq!(report.acked[0].fate, Fate::Kept);
    }
}

//! The fate of every write on every copy SequoiaDB keeps of it (issue 12; `checkers::write_fate`):
//! each node of the write's group at the end.
//!
//! Writes judged: every client write acknowledged to its client, and every write whose outcome its
//! client cannot know (answered `WAIT_SYNC_FAILED` or `TIMEOUT`, or never answered). Writes refused
//! before anything was written (`indeterminate-writes` proves they never were) are not judged.
//!
//! Copies: the members of the write's group at the end, as the catalog's facts tell it (added and
//! never removed). A node removed from its group (`removeNode`) is no copy any more: it is not
//! counted at all, for any write (the group it served no longer asks it for anything).
//!
//! On each copy, a write is:
//! - applied: the node's history, the chain of records ending at its last record (`History`, over
//!   the records the group wrote), holds the write's record at its LSN (its log files may have
//!   rolled it over, or a full sync may have copied its effect rather than its record: the node's
//!   data reflects it either way, as `replica-group-convergence` checks);
//! - pending: the node is not running, or its log ends before the write's LSN while the group's
//!   final history holds the write (it catches up from the primary);
//! - lost, for a cause SequoiaDB documents ([`ROLLED_BACK_BELOW_MAJORITY`],
//!   [`FULL_SYNC_AFTER_ABNORMAL_RESTARTS`], [`CONFIRMED_AFTER_PROMISING_NEWER`]): the
//!   classification is `write-durability`'s own
//!   ([`DurabilityReport`]), not derived a second time;
//! - unexplained: an acknowledged write missing from the node with no such cause (a majority
//!   still stood behind it, or the group's final history holds it but the
//!   node, at or past its LSN, does not);
//! - indeterminate: a write of unknown outcome the node does not hold. One the group's final
//!   history holds is judged like an acknowledged one (applied, pending, or unexplained).

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::Lsn;
use ccrsim_model::replica::sequoiadb::fact::WriteOutcome;
use ccrsim_model::replica::sequoiadb::types::{GroupId, WriteId};

use super::final_state::{FinalNode, History, final_primary};
use super::ledger::{SeqLedger, WriteInfo};
use super::write_durability::{AckedWrite, DurabilityReport, Fate as GroupFate, MajorityBroken, repl_size_name};
use crate::checkers::write_fate::{Fate, Fates};

/// Lost in a failover: acknowledged with fewer confirmations than a majority of its group (the
/// ReplSize its client chose), it was not on the new primary's log, and the nodes that had it
/// rolled it back or full-synced without it. Seed 002 §强一致性 (ReplSize below a majority
/// trades durability for latency: the RPO `write-durability` reports).
pub const ROLLED_BACK_BELOW_MAJORITY: &str = "acknowledged below a majority, lost in a failover";
/// Lost after nodes that confirmed it restarted abnormally, leaving less than a majority behind
/// it: each was rebuilt by a full sync that discards its data and log, from a node that lacked the
/// write. Seed 002 §全量同步 (宕机重启); sequoiadb-replica-group.md §6 (full sync on a start after a
/// crash).
pub const FULL_SYNC_AFTER_ABNORMAL_RESTARTS: &str = "confirmers restarted abnormally and full-synced without it";
/// Lost after a majority confirmed it only with nodes that had already promised a newer primary
/// their vote: SequoiaDB persists no term and fences no old primary, so a voter goes on confirming
/// the old primary's records, which the new primary's CONSULT rolls back.
/// sequoiadb-replica-group.md §1, §5 and §7 ("no persisted vote/term").
pub const CONFIRMED_AFTER_PROMISING_NEWER: &str = "confirmed by nodes that had already voted for a newer primary";
/// The causes of loss SequoiaDB documents, for docs and reports.
pub const CAUSES: [&str; 3] = [ROLLED_BACK_BELOW_MAJORITY, FULL_SYNC_AFTER_ABNORMAL_RESTARTS, CONFIRMED_AFTER_PROMISING_NEWER];

/// One judged write: its group, where its record is, and what the group's final history says.
struct Judged<'a> {
    write: WriteId,
    info: &'a WriteInfo,
    group: GroupId,
    /// Its record's LSN, if it was written (an acknowledged write's is the one its answer names).
    lsn: Option<Lsn>,
    /// Its acknowledgement as `write-durability` judged it; `None`: its outcome is unknown.
    acked: Option<&'a AckedWrite>,
    /// Whether the group's final history holds it (`None`: not known).
    on_final_history: Option<bool>,
}

impl Judged<'_> {
    fn describe(&self) -> String {
        let answer = match (&self.info.ended, self.acked) {
            (_, Some(a)) => format!("acknowledged with {} confirmations, ReplSize {}", a.confirmations, repl_size_name(a.repl_size)),
            (Some((WriteOutcome::Indeterminate(Some(e)), _)), None) => format!("answered {e:?}"),
            _ => "never answered".to_string(),
        };
        let at = self.lsn.map_or("never written".to_string(), |l| format!("at {l}"));
        format!("write {:?} ({:?} of document {}, {answer}) {at}", self.write, self.info.op, self.info.id)
    }
}

/// The fates of every judged write on every copy: `nodes` the running data nodes at the end,
/// `name` a node's name (stable across seeds).
pub fn write_fates(ledger: &SeqLedger, nodes: &[FinalNode], name: impl Fn(NodeId) -> String) -> Fates {
    let history_of = |g: GroupId| final_primary(nodes, g).map(|p| History::of(ledger, g, p.end));
    let report = DurabilityReport::of(ledger, history_of);
    let acked: BTreeMap<WriteId, &AckedWrite> = report.acked.iter().map(|a| (a.write, a)).collect();
    let records = records_of_writes(ledger);
    let finals: BTreeMap<GroupId, Option<History>> = ledger.members.keys().map(|&g| (g, history_of(g))).collect();
    let mut node_histories: BTreeMap<NodeId, History> = BTreeMap::new();
    let mut fates = Fates::new();
    for (&write, info) in &ledger.writes {
        let Some(judged) = judged(write, info, &acked, &records, &finals) else { continue };
        fates.write();
        for node in copies(ledger, judged.group) {
            let copy = format!("group {} {}", judged.group, name(node));
            let running = nodes.iter().find(|n| n.member.node == node && n.member.group == judged.group);
            let Some(running) = running else {
                fates.record(&copy, Fate::Pending, || format!("{}: the node is not running at the end", judged.describe()));
                continue;
            };
            let history = node_histories.entry(node).or_insert_with(|| History::of(ledger, judged.group, running.end));
            let (fate, shows) = fate_on(&judged, history, running, ledger);
            fates.record(&copy, fate, || format!("{}: {shows}", judged.describe()));
        }
    }
    fates
}

/// The write judged, if it is: acknowledged, or of an outcome its client cannot know.
fn judged<'a>(
    write: WriteId,
    info: &'a WriteInfo,
    acked: &BTreeMap<WriteId, &'a AckedWrite>,
    records: &BTreeMap<WriteId, Vec<(GroupId, Lsn)>>,
    finals: &BTreeMap<GroupId, Option<History>>,
) -> Option<Judged<'a>> {
    if let Some(a) = acked.get(&write) {
        let on_final_history = match a.fate {
            GroupFate::Kept => Some(true),
            GroupFate::Lost => Some(false),
            GroupFate::Unknown => None,
        };
        return Some(Judged { write, info, group: a.group, lsn: Some(a.lsn), acked: Some(a), on_final_history });
    }
    match &info.ended {
        None | Some((WriteOutcome::Indeterminate(_), _)) => {}
        Some(_) => return None,
    }
    let group = info.group?;
    let final_history = finals.get(&group).and_then(Option::as_ref);
    let written: Vec<Lsn> = records.get(&write).into_iter().flatten().filter(|(g, _)| *g == group).map(|(_, l)| *l).collect();
    // Its record on the final history if there is one, else the first it got.
    let kept = written.iter().copied().find(|&l| final_history.and_then(|h| h.holds(l)) == Some(true));
    let on_final_history = match (kept, final_history) {
        (Some(_), _) => Some(true),
        (None, Some(_)) => Some(false),
        (None, None) => None,
    };
    Some(Judged { write, info, group, lsn: kept.or(written.first().copied()), acked: None, on_final_history })
}

/// Where each client write's records are, over every record each group wrote (one pass).
fn records_of_writes(ledger: &SeqLedger) -> BTreeMap<WriteId, Vec<(GroupId, Lsn)>> {
    let mut at: BTreeMap<WriteId, Vec<(GroupId, Lsn)>> = BTreeMap::new();
    for (&group, records) in &ledger.records {
        for (&lsn, r) in records {
            if let Some(w) = r.record.write {
                at.entry(w).or_default().push((group, lsn));
            }
        }
    }
    at
}

/// The members of `group` at the end: added and never removed.
fn copies(ledger: &SeqLedger, group: GroupId) -> Vec<NodeId> {
    let removed = ledger.removed.get(&group);
    ledger.members.get(&group).into_iter().flatten().copied().filter(|n| removed.is_none_or(|r| !r.contains(n))).collect()
}

/// The write's fate on one running node whose history is `history`, and what the node shows.
fn fate_on(j: &Judged<'_>, history: &History, node: &FinalNode, ledger: &SeqLedger) -> (Fate, String) {
    let held = j.lsn.and_then(|lsn| history.holds(lsn).map(|h| h && ledger.record(j.group, lsn).is_some_and(|r| r.write == Some(j.write))));
    let in_files = j.lsn.is_some_and(|lsn| node.log.iter().any(|(l, _)| *l == lsn));
    let written_here = ledger.written.get(&j.write).is_some_and(|at| at.contains_key(&node.member));
    let end = node.end;
    if j.lsn.is_none() {
        return (Fate::Indeterminate, format!("no node ever logged it; its log ends at {end}"));
    }
    match (held, j.on_final_history) {
        (Some(true), _) => {
            let how = if in_files { "its log holds the record" } else { "its history holds it, rolled over or copied by a full sync" };
            (Fate::Applied, format!("{how}; its log ends at {end}"))
        }
        (_, Some(true)) if j.lsn.is_some_and(|lsn| end < lsn) => {
            (Fate::Pending, format!("its log ends at {end}, before the record; the group's final history holds it"))
        }
        (_, Some(true)) => (Fate::Unexplained, format!("its log ends at {end} without it, though the group's final history holds it")),
        (None, _) | (_, None) => (
            if j.acked.is_some() { Fate::Pending } else { Fate::Indeterminate },
            format!("its history (log ending at {end}) does not reach back to the record: not judged"),
        ),
        (Some(false), Some(false)) => lost(j, written_here, end),
    }
}

/// The write is on neither the node nor the group's final history: why.
fn lost(j: &Judged<'_>, written_here: bool, end: Lsn) -> (Fate, String) {
    let shows = format!("its log ends at {end} without it (it {} got the record)", if written_here { "once" } else { "never" });
    let Some(a) = j.acked else { return (Fate::Indeterminate, shows) };
    let fate = match (a.majority(), a.majority_broken_by()) {
        (false, _) => Fate::Lost(ROLLED_BACK_BELOW_MAJORITY),
        (true, Some(MajorityBroken::AbnormalRestarts)) => Fate::Lost(FULL_SYNC_AFTER_ABNORMAL_RESTARTS),
        (true, Some(MajorityBroken::StaleConfirmations)) => Fate::Lost(CONFIRMED_AFTER_PROMISING_NEWER),
        (true, None) => Fate::Unexplained,
    };
    (fate, format!("{shows}; {} of a group of {} confirmed it", a.confirmations, a.group_size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{
        N, catalog, ended, final_node, insert_acked, invoked, l, m, rec, rolled_back, w,
    };
    use ccrsim_model::replica::sequoiadb::SeqFact;
    use ccrsim_model::replica::sequoiadb::types::{NodeRole, ReplSize, SeqError, WriteOp};

    fn ledger(facts: &[(NodeId, SeqFact)]) -> SeqLedger {
        let mut ledger = SeqLedger::default();
        for (_, fact) in facts {
            ledger.apply(fact);
        }
        ledger
    }

    fn fates(facts: &[(NodeId, SeqFact)], nodes: &[FinalNode]) -> Fates {
        write_fates(&ledger(facts), nodes, |n| format!("node {n}"))
    }

    fn abnormal_boot(n: NodeId) -> (NodeId, SeqFact) {
        (n, SeqFact::NodeBooted { at: m(n), file_begin: Lsn::INVALID, end: Lsn::INVALID, torn_records: 0, startup_ok: false })
    }

    /// Write 1 at 1:0 on N0, confirmed by `by`; N1 leads version 2 without it and writes 2:10;
    /// N0 rolls 1:0 back; every node ends at 2:10.
    fn failover(by: &[NodeId]) -> (Vec<(NodeId, SeqFact)>, Vec<FinalNode>) {
        let mut facts = catalog(ReplSize::Nodes(by.len() as u8));
        facts.extend(insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, by));
        facts.extend(by.iter().filter(|&&n| n != N[0]).map(|&n| rec(n, l(1, 0), Lsn::INVALID, Some(w(1)))));
        facts.extend([rec(N[1], l(2, 10), Lsn::INVALID, None), rolled_back(N[0], Lsn::INVALID, &[(l(1, 0), Some(w(1)))])]);
        facts.extend([rec(N[0], l(2, 10), Lsn::INVALID, None), rec(N[2], l(2, 10), Lsn::INVALID, None)]);
        let role = |i| if i == 1 { NodeRole::Primary } else { NodeRole::Secondary };
        let nodes = (0..3).map(|i| final_node(N[i], role(i), &[l(2, 10)], &[])).collect();
        (facts, nodes)
    }

    #[test]
    fn a_write_on_every_node_is_applied_on_each() {
        let mut facts = catalog(ReplSize::Nodes(2));
        facts.extend(insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, &[N[0], N[1]]));
        facts.extend([rec(N[1], l(1, 0), Lsn::INVALID, Some(w(1))), rec(N[2], l(1, 0), Lsn::INVALID, Some(w(1)))]);
        let nodes: Vec<FinalNode> =
            (0..3).map(|i| final_node(N[i], if i == 0 { NodeRole::Primary } else { NodeRole::Secondary }, &[l(1, 0)], &[])).collect();
        let f = fates(&facts, &nodes);
        assert_eq!(f.writes(), 1);
        for n in N {
            assert_eq!(f.count(&format!("group 1 node {n}"), Fate::Applied), 1);
        }
        assert_eq!(f.verdict(), Ok(()));
        let s = f.summary();
        assert!(s.examples["group 1 node 10 applied"].contains("write (1, 1) (Insert { counter: 1 } of document 1, acknowledged with 2 confirmations, ReplSize 2) at 1:0: its log holds the record"), "{:?}", s.examples);
    }

    #[test]
    fn a_node_behind_the_final_history_is_pending_and_a_stopped_one_too() {
        let mut facts = catalog(ReplSize::Nodes(2));
        facts.extend(insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, &[N[0], N[1]]));
        facts.push(rec(N[1], l(1, 0), Lsn::INVALID, Some(w(1))));
        let nodes = vec![final_node(N[0], NodeRole::Primary, &[l(1, 0)], &[]), final_node(N[1], NodeRole::Secondary, &[], &[])];
        let f = fates(&facts, &nodes);
        assert_eq!((f.count("group 1 node 11", Fate::Pending), f.count("group 1 node 12", Fate::Pending)), (1, 1));
        assert!(f.summary().examples["group 1 node 12 pending"].ends_with("the node is not running at the end"));
        assert_eq!(f.verdict(), Ok(()));
    }

    #[test]
    fn a_write_acknowledged_below_a_majority_and_rolled_back_is_lost_with_its_cause() {
        let (facts, nodes) = failover(&[N[0]]);
        let f = fates(&facts, &nodes);
        for n in N {
            assert_eq!(f.count(&format!("group 1 node {n}"), Fate::Lost(ROLLED_BACK_BELOW_MAJORITY)), 1);
        }
        assert_eq!(f.verdict(), Ok(()));
        let example = &f.summary().examples[&format!("group 1 node 10 lost: {ROLLED_BACK_BELOW_MAJORITY}")];
        assert!(
            example.contains("ReplSize 1) at 1:0: its log ends at 2:10 without it (it once got the record); 1 of a group of 3"),
            "{example}"
        );
    }

    #[test]
    fn a_write_lost_after_its_confirmers_restarted_abnormally_is_lost_with_its_cause() {
        let (mut facts, nodes) = failover(&[N[0], N[2]]);
        let at = facts.iter().position(|(_, f)| matches!(f, SeqFact::RolledBack { .. })).unwrap();
        facts.insert(at, abnormal_boot(N[2]));
        facts.insert(at, abnormal_boot(N[0]));
        let f = fates(&facts, &nodes);
        assert_eq!(f.count("group 1 node 11", Fate::Lost(FULL_SYNC_AFTER_ABNORMAL_RESTARTS)), 1);
        assert_eq!(f.verdict(), Ok(()));
    }

    #[test]
    fn a_write_a_majority_confirmed_missing_from_every_node_is_unexplained() {
        let (facts, nodes) = failover(&[N[0], N[2]]);
        let f = fates(&facts, &nodes);
        assert_eq!(f.count("group 1 node 12", Fate::Unexplained), 1);
        let err = f.verdict().unwrap_err();
        assert!(err.starts_with("3 write-copies lost without a cause the design documents: group 1 node 10: write (1, 1)"), "{err}");
        assert!(err.contains("2 of a group of 3 confirmed it"), "{err}");
    }

    #[test]
    fn a_write_on_the_final_history_missing_from_a_node_past_it_is_unexplained() {
        let mut facts = catalog(ReplSize::Nodes(1));
        facts.extend(insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, &[N[0]]));
        facts.extend([
            rec(N[0], l(1, 10), l(1, 0), None),
            rec(N[1], l(1, 0), Lsn::INVALID, Some(w(1))),
            rec(N[1], l(1, 10), l(1, 0), None),
        ]);
        // N2's last record, at 1:20, follows nothing the group wrote before it: it skipped 1:0.
        facts.push(rec(N[2], l(1, 20), Lsn::INVALID, None));
        let nodes = vec![
            final_node(N[0], NodeRole::Primary, &[l(1, 0), l(1, 10)], &[]),
            final_node(N[1], NodeRole::Secondary, &[l(1, 0), l(1, 10)], &[]),
            final_node(N[2], NodeRole::Secondary, &[l(1, 20)], &[]),
        ];
        let f = fates(&facts, &nodes);
        assert_eq!((f.count("group 1 node 11", Fate::Applied), f.count("group 1 node 12", Fate::Unexplained)), (1, 1));
        assert!(f.verdict().unwrap_err().contains("though the group's final history holds it"));
    }

    #[test]
    fn an_unknown_outcome_is_indeterminate_where_it_did_not_happen_and_applied_where_it_did() {
        let mut facts = catalog(ReplSize::Nodes(2));
        facts.push(invoked(w(1), 1, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(2)));
        facts.push(rec(N[0], l(1, 0), Lsn::INVALID, Some(w(1))));
        facts.push(ended(w(1), WriteOutcome::Indeterminate(Some(SeqError::WaitSyncFailed))));
        facts.push(invoked(w(2), 2, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(2)));
        facts.push(rolled_back(N[0], Lsn::INVALID, &[(l(1, 0), Some(w(1)))]));
        facts.push(rec(N[1], l(2, 0), Lsn::INVALID, Some(w(2))));
        facts.push(rec(N[0], l(2, 0), Lsn::INVALID, Some(w(2))));
        facts.push(ended(w(2), WriteOutcome::Indeterminate(None)));
        // A write refused before anything was written is not judged.
        facts.push(invoked(w(3), 3, WriteOp::Insert { counter: 1 }, ReplSize::Nodes(2)));
        facts.push(ended(w(3), WriteOutcome::Failed(SeqError::NotPrimary)));
        let nodes = vec![final_node(N[1], NodeRole::Primary, &[l(2, 0)], &[]), final_node(N[0], NodeRole::Secondary, &[l(2, 0)], &[])];
        let f = fates(&facts, &nodes);
        assert_eq!(f.writes(), 2);
        assert_eq!((f.count("group 1 node 10", Fate::Indeterminate), f.count("group 1 node 10", Fate::Applied)), (1, 1));
        assert_eq!(f.count("group 1 node 12", Fate::Pending), 2);
        assert!(f.summary().examples["group 1 node 10 indeterminate"].contains("answered WaitSyncFailed) at 1:0"));
        assert_eq!(f.verdict(), Ok(()));
    }

    #[test]
    fn a_removed_node_is_no_copy() {
        let (mut facts, mut nodes) = failover(&[N[0]]);
        facts.push((0, SeqFact::MemberRemoved { at: m(N[2]) }));
        nodes.pop();
        let f = fates(&facts, &nodes);
        assert_eq!(f.summary().copies.keys().cloned().collect::<Vec<_>>(), ["group 1 node 10", "group 1 node 11"]);
    }
}

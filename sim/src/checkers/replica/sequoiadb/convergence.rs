//! Replica group convergence after heal (seed 002 §复制组成员 and §最终一致性: one primary per group;
//! the replicas' data is eventually the same; the reference's §10: the model's end state). Pending
//! until, in every group, exactly one running node is primary, every node is Normal with its log
//! ending where the primary's does, and every client operation got its answer. Then the verdict:
//!
//! - every node holds the primary's documents;
//! - the facts told the truth: each node's log ends where its facts said, and each record it holds
//!   is the group's record at that LSN;
//! - the primary's documents are its final history replayed by the checkers' own replay (a write
//!   applied twice, as a full sync that both copies and forwards it does, or a record whose effect
//!   is missing, shows here).

use std::collections::BTreeSet;

use ccrsim_model::replica::sequoiadb::SeqFact;
use ccrsim_model::replica::sequoiadb::types::{DbStatus, GroupId, NodeRole};

use super::final_state::{FinalNode, History, final_primary};
use super::ledger::SeqLedger;
use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "replica-group-convergence";
/// Where the property comes from.
pub const SOURCE: &str = "seed 002 §复制组成员 (one primary), §最终一致性 (replicas eventually equal); sequoiadb-replica-group.md §10";

/// Judges the final state.
#[derive(Debug, Default)]
pub struct Convergence;

impl Checker<SeqLedger, SeqFact, [FinalNode]> for Convergence {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn pending(&self, ledger: &SeqLedger, nodes: &[FinalNode]) -> Option<String> {
        groups(ledger, nodes).into_iter().find_map(|g| settled(nodes, g).err()).or_else(|| unanswered(ledger))
    }

    fn at_end(&self, ledger: &SeqLedger, nodes: &[FinalNode]) -> Result<(), String> {
        for g in groups(ledger, nodes) {
            settled(nodes, g)?;
            let primary = final_primary(nodes, g).expect("settled: one primary");
            for n in nodes.iter().filter(|n| n.member.group == g) {
                truthful(ledger, n)?;
                if n.docs != primary.docs {
                    let key = n.docs.keys().chain(primary.docs.keys()).find(|k| n.docs.get(k) != primary.docs.get(k));
                    let key = key.expect("maps differ at some key");
                    return Err(format!(
                        "node {} of group {g} holds {key:?} as {:?}, primary {} as {:?}",
                        n.member.node,
                        n.docs.get(key),
                        primary.member.node,
                        primary.docs.get(key)
                    ));
                }
            }
            reference(ledger, primary)?;
        }
        Ok(())
    }
}

/// The groups the catalog knows with members, and those of the running nodes.
fn groups(ledger: &SeqLedger, nodes: &[FinalNode]) -> BTreeSet<GroupId> {
    let mut groups: BTreeSet<GroupId> = ledger.members.keys().copied().filter(|&g| ledger.group_size(g) > 0).collect();
    groups.extend(nodes.iter().map(|n| n.member.group));
    groups
}

/// One primary, every node Normal and at the primary's end.
fn settled(nodes: &[FinalNode], g: GroupId) -> Result<(), String> {
    let members: Vec<&FinalNode> = nodes.iter().filter(|n| n.member.group == g).collect();
    let primaries: Vec<u32> = members.iter().filter(|n| n.role == NodeRole::Primary).map(|n| n.member.node).collect();
    let [p] = primaries[..] else { return Err(format!("group {g} has primaries {primaries:?}, not exactly one")) };
    let primary = members.iter().find(|n| n.member.node == p).expect("listed");
    if let Some(n) = members.iter().find(|n| n.status != DbStatus::Normal) {
        return Err(format!("node {} of group {g} is {:?}", n.member.node, n.status));
    }
    match members.iter().find(|n| n.end != primary.end) {
        Some(n) => Err(format!("node {} of group {g} ends its log at {}, primary {p} at {}", n.member.node, n.end, primary.end)),
        None => Ok(()),
    }
}

/// A client operation still without its answer.
fn unanswered(ledger: &SeqLedger) -> Option<String> {
    if let Some((w, _)) = ledger.writes.iter().find(|(_, w)| w.ended.is_none()) {
        return Some(format!("write {w:?} has no answer yet"));
    }
    ledger.reads.iter().find(|(_, r)| r.outcome.is_none()).map(|(r, _)| format!("read {r:?} has no answer yet"))
}

/// A node's log is what its facts said.
fn truthful(ledger: &SeqLedger, n: &FinalNode) -> Result<(), String> {
    let said = ledger.log(n.member).last;
    if said.is_some_and(|s| s != n.end) {
        return Err(format!("node {} of group {} ends its log at {}, its facts said {said:?}", n.member.node, n.member.group, n.end));
    }
    for &(lsn, digest) in &n.log {
        match ledger.record(n.member.group, lsn) {
            Some(r) if r.digest == digest => {}
            other => {
                return Err(format!(
                    "node {} of group {} holds a record at {lsn} (digest {digest:#x}) the group's facts give as {other:?}",
                    n.member.node, n.member.group
                ));
            }
        }
    }
    Ok(())
}

/// The primary's documents are its history replayed, when the history reaches back to the start.
fn reference(ledger: &SeqLedger, primary: &FinalNode) -> Result<(), String> {
    let g = primary.member.group;
    let history = History::of(ledger, g, primary.end);
    if !history.complete {
        return Ok(());
    }
    let expected = history.replay(ledger, g)?;
    let key = expected.keys().chain(primary.docs.keys()).find(|k| expected.get(k) != primary.docs.get(k));
    match key {
        None => Ok(()),
        Some(key) => Err(format!(
            "primary {} of group {g} holds {key:?} as {:?}; its history of {} records replayed gives {:?}",
            primary.member.node,
            primary.docs.get(key),
            history.lsns.len(),
            expected.get(key)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{N, catalog, doc, final_node, insert_acked, invoked, l, rec, run, w};
    use ccrsim_model::replica::sequoiadb::Lsn;
    use ccrsim_model::replica::sequoiadb::types::{ReplSize, WriteOp};

    /// Document 1 inserted at 1:0 and incremented at 1:10 by N0, replayed by N1 and N2.
    fn ledger() -> SeqLedger {
        let mut facts = catalog(ReplSize::Nodes(1));
        facts.extend(insert_acked(1, 1, N[0], l(1, 0), Lsn::INVALID, &[N[0]]));
        facts.push(invoked(w(2), 1, WriteOp::Increment { delta: 2 }, ReplSize::Nodes(1)));
        facts.push(rec(N[0], l(1, 10), l(1, 0), Some(w(2))));
        facts.push((
            90,
            SeqFact::WriteEnded { write: w(2), outcome: ccrsim_model::replica::sequoiadb::fact::WriteOutcome::Indeterminate(None), at: 30 },
        ));
        for n in [N[1], N[2]] {
            facts.extend([rec(n, l(1, 0), Lsn::INVALID, Some(w(1))), rec(n, l(1, 10), l(1, 0), Some(w(2)))]);
        }
        run(&mut Convergence, &facts).expect("no fact judged")
    }

    fn nodes(docs: [(u64, i64, Lsn); 3]) -> Vec<FinalNode> {
        let log = [l(1, 0), l(1, 10)];
        let role = |i| if i == 0 { NodeRole::Primary } else { NodeRole::Secondary };
        (0..3).map(|i| final_node(N[i], role(i), &log, &[(docs[i].0, doc(docs[i].1, docs[i].2))])).collect()
    }

    #[test]
    fn equal_replicas_of_the_replayed_history_pass() {
        let ledger = ledger();
        let nodes = nodes([(1, 3, l(1, 10)); 3]);
        assert_eq!(Convergence.pending(&ledger, &nodes), None);
        assert_eq!(Convergence.at_end(&ledger, &nodes), Ok(()));
    }

    #[test]
    fn no_primary_or_a_lagging_node_is_pending() {
        let ledger = ledger();
        let mut nodes = nodes([(1, 3, l(1, 10)); 3]);
        nodes[0].role = NodeRole::Secondary;
        assert_eq!(Convergence.pending(&ledger, &nodes).unwrap(), "group 1 has primaries [], not exactly one");
        nodes[0].role = NodeRole::Primary;
        nodes[2].end = l(1, 0);
        assert_eq!(Convergence.pending(&ledger, &nodes).unwrap(), "node 12 of group 1 ends its log at 1:0, primary 10 at 1:10");
        nodes[2].end = l(1, 10);
        nodes[1].status = DbStatus::FullSync;
        assert!(Convergence.at_end(&ledger, &nodes).unwrap_err().contains("node 11 of group 1 is FullSync"));
    }

    #[test]
    fn a_replica_with_other_documents_is_refused() {
        let err = Convergence.at_end(&ledger(), &nodes([(1, 3, l(1, 10)), (1, 3, l(1, 10)), (1, 5, l(1, 10))])).unwrap_err();
        assert!(err.contains("node 12 of group 1 holds (5, 1) as Some(DocValue { counter: 5"), "{err}");
    }

    #[test]
    fn a_primary_whose_documents_are_not_its_history_is_refused() {
        // Every replica applied the increment twice (a full sync that copied and forwarded it).
        let err = Convergence.at_end(&ledger(), &nodes([(1, 5, l(1, 10)); 3])).unwrap_err();
        assert!(err.contains("primary 10 of group 1 holds (5, 1) as Some(DocValue { counter: 5"), "{err}");
        assert!(err.contains("its history of 2 records replayed gives Some(DocValue { counter: 3"), "{err}");
    }

    #[test]
    fn a_log_other_than_the_facts_said_is_refused() {
        let ledger = ledger();
        let mut nodes = nodes([(1, 3, l(1, 10)); 3]);
        nodes[1].log[1].1 = 42;
        let err = Convergence.at_end(&ledger, &nodes).unwrap_err();
        assert!(err.contains("node 11 of group 1 holds a record at 1:10 (digest 0x2a)"), "{err}");
    }

    #[test]
    fn an_unanswered_write_is_pending() {
        let mut ledger = ledger();
        ledger.apply(&invoked(w(3), 1, WriteOp::Delete, ReplSize::Nodes(1)).1);
        assert_eq!(Convergence.pending(&ledger, &nodes([(1, 3, l(1, 10)); 3])).unwrap(), "write (1, 3) has no answer yet");
    }
}

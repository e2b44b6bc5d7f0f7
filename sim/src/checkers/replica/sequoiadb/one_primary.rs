//! One primary per version (seed 002 §复制组成员: a group has one primary; the reference's §1 and §7:
//! the LSN version is the epoch, bumped by `incVersion()` as a node becomes primary,
//! cls/clsMgr.cpp, and a candidate wins with a majority of the group's votes,
//! `CLS_IS_MAJORITY`, cls/clsVoteStatus.cpp): at most one node becomes primary of a given
//! (group, version); a new primary's version is above its own log's last record's; a primary is elected
//! by a majority of the group it counted, its own vote included; only the primary of a version
//! steps down from it.
//!
//! The voter rule (a voter refuses a candidate whose LSN is below its own) is `voter-rule`'s, judged
//! on each vote as the voter reported it: a voter's log at the promotion is no measure, since it
//! goes on replaying from its sync source after its vote (sequoiadb-failover-rollback seed 19:
//! node 5 voted for node 3 at 2:3456 < 2:3776, then replayed from node 4 up to 2:5696 before node 3
//! became primary).

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::sequoiadb::types::Member;
use ccrsim_model::replica::sequoiadb::{Lsn, SeqFact};

use super::final_state::FinalNode;
use super::ledger::SeqLedger;
use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "one-primary-per-version";
/// Where the property comes from.
pub const SOURCE: &str = "seed 002 §复制组成员 (one primary per group); sequoiadb-replica-group.md §1, §7 (version bumped at promotion, \
                          cls/clsMgr.cpp incVersion; majority vote, cls/clsVoteStatus.cpp)";

/// Judges promotions and step-downs against the primaries before them.
#[derive(Debug, Default)]
pub struct OnePrimary;

impl Checker<SeqLedger, SeqFact, [FinalNode]> for OnePrimary {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &SeqLedger, _node: NodeId, fact: &SeqFact) -> Result<(), String> {
        match fact {
            SeqFact::BecamePrimary { at, version, votes, group_size, end } => {
                promotion(ledger, *at, *version, *end)?;
                election(*at, *version, votes, *group_size)
            }
            SeqFact::SteppedDown { at, version, .. } => match ledger.primaries.get(&(at.group, *version)) {
                Some(&p) if p == at.node => Ok(()),
                other => Err(format!(
                    "node {} of group {} stepped down as primary of version {version}, whose primary is {other:?}",
                    at.node, at.group
                )),
            },
            _ => Ok(()),
        }
    }
}

/// The version is new in the group and above the version of the new primary's own last record
/// (`incVersion()` before the role change). Versions need not rise in the order promotions are
/// reported: a candidate that collected its majority for version v may learn of it after another
/// took v + 1 (the later one wins by LSN; the earlier steps down).
fn promotion(ledger: &SeqLedger, at: Member, version: u32, end: Lsn) -> Result<(), String> {
    match ledger.primaries.get(&(at.group, version)) {
        Some(&other) if other == at.node => {
            return Err(format!("node {other} became primary of group {} at version {version} a second time", at.group));
        }
        Some(&other) => {
            return Err(format!("two primaries of group {} at version {version}: node {other} and then node {}", at.group, at.node));
        }
        None => {}
    }
    if version <= end.version {
        return Err(format!(
            "node {} became primary of group {} at version {version}, not above its log's last record {end}",
            at.node, at.group
        ));
    }
    Ok(())
}

/// A majority of the group it counted voted, itself included. (The group it counted is its own
/// view: a node learns of a member added or removed some time after the catalog applies it, so the
/// catalog's count is not the measure.)
fn election(at: Member, version: u32, votes: &[NodeId], group_size: u32) -> Result<(), String> {
    let mut voters: Vec<NodeId> = votes.to_vec();
    voters.sort_unstable();
    voters.dedup();
    let why = if !voters.contains(&at.node) {
        "its own vote is missing".to_string()
    } else if voters.len() as u32 * 2 <= group_size {
        format!("{} votes are no majority of {group_size}", voters.len())
    } else {
        return Ok(());
    };
    Err(format!("node {} became primary of group {} at version {version} with votes {votes:?}: {why}", at.node, at.group))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::sequoiadb::test_support::{G, N, catalog, l, m, primary, run};
    use ccrsim_model::replica::sequoiadb::fact::StepDownCause;
    use ccrsim_model::replica::sequoiadb::types::ReplSize;

    fn judged(extra: Vec<(NodeId, SeqFact)>) -> Result<(), String> {
        let mut facts = catalog(ReplSize::Nodes(1));
        facts.extend(extra);
        run(&mut OnePrimary, &facts).map(|_| ())
    }

    fn down(n: NodeId, version: u32) -> (NodeId, SeqFact) {
        (n, SeqFact::SteppedDown { at: m(n), version, why: StepDownCause::NoMajority })
    }

    #[test]
    fn successive_primaries_of_increasing_versions_pass() {
        let facts = vec![primary(N[0], 1, l(0, 0)), down(N[0], 1), primary(N[1], 2, l(1, 10)), primary(N[0], 4, l(2, 20))];
        assert_eq!(judged(facts), Ok(()));
    }

    #[test]
    fn a_second_primary_of_one_version_is_refused() {
        // What a promotion that does not bump the version does (skip_version_bump).
        let err = judged(vec![primary(N[0], 1, l(0, 0)), down(N[0], 1), primary(N[1], 1, l(1, 10))]).unwrap_err();
        assert!(err.contains("two primaries of group 1 at version 1: node 10 and then node 11"), "{err}");
    }

    #[test]
    fn a_node_taking_its_own_version_again_is_refused() {
        // A node whose promoted version was not durable reuses it after a crash.
        let err = judged(vec![primary(N[0], 2, l(1, 0)), primary(N[0], 2, l(1, 0))]).unwrap_err();
        assert!(err.contains("node 10 became primary of group 1 at version 2 a second time"), "{err}");
    }

    #[test]
    fn a_primary_not_above_its_logs_version_is_refused() {
        // What a promotion without incVersion() does (skip_version_bump), alone in its version.
        let err = judged(vec![primary(N[0], 1, l(0, 0)), primary(N[1], 2, l(2, 10))]).unwrap_err();
        assert!(err.contains("node 11 became primary of group 1 at version 2, not above its log's last record 2:10"), "{err}");
    }

    #[test]
    fn a_primary_of_a_lower_version_reported_after_a_higher_one_passes() {
        // Node 10 collected its majority for version 3 before node 11 took version 4; the news
        // of its last acceptance came late.
        assert_eq!(judged(vec![primary(N[1], 4, l(2, 10)), primary(N[0], 3, l(2, 10))]), Ok(()));
    }

    #[test]
    fn a_primary_without_a_majority_is_refused() {
        let fact = SeqFact::BecamePrimary { at: m(N[0]), version: 1, end: l(0, 0), votes: vec![N[0]], group_size: 3 };
        let err = judged(vec![(N[0], fact)]).unwrap_err();
        assert!(err.contains("1 votes are no majority of 3"), "{err}");
    }

    #[test]
    fn a_primary_without_its_own_vote_is_refused() {
        let fact = SeqFact::BecamePrimary { at: m(N[0]), version: 1, end: l(0, 0), votes: vec![N[1], N[2]], group_size: 3 };
        let err = judged(vec![(N[0], fact)]).unwrap_err();
        assert!(err.contains("its own vote is missing"), "{err}");
    }

    #[test]
    fn a_one_node_group_elects_itself() {
        let facts = vec![
            (0, SeqFact::MemberAdded { at: Member { group: 2, node: 20 }, weight: 10 }),
            (20, SeqFact::BecamePrimary { at: Member { group: 2, node: 20 }, version: 1, end: l(0, 0), votes: vec![20], group_size: 1 }),
        ];
        assert_eq!(run(&mut OnePrimary, &facts).map(|_| ()), Ok(()));
    }

    #[test]
    fn stepping_down_from_a_version_it_did_not_lead_is_refused() {
        let err = judged(vec![primary(N[0], 1, l(0, 0)), down(N[1], 1)]).unwrap_err();
        assert!(err.contains(&format!("node 11 of group {G} stepped down as primary of version 1, whose primary is Some(10)")), "{err}");
    }
}

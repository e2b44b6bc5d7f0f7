//! Durability of a yes vote (Gray & Lamport 2006; DolphinDB 2PC): a participant that answered
//! `Prepared` for a transaction keeps its prepare, on disk, until it learns the decision. Per
//! participant and chunk: when the data node comes back from its disk after a crash, every prepare
//! it voted yes on and had not resolved (committed or rolled back) is among the open prepares its
//! `ReplicaLoaded` lists, and a replica holding such a prepare is listed at all.
//!
//! The checker keeps its own books. A yes vote is the `Prepared { ok: true }` message as it leaves
//! the node (fed by the harness through [`PrepareDurability::on_vote`]), and it binds only a prepare
//! the node reported writing (`DfsFact::Prepared`) or reloaded, and has not resolved since: a vote
//! the node never sent (it crashed before the fsync completed) binds nothing, as lost unsynced writes
//! are allowed. Tolerated ends of a replica: discarded as corrupt at boot (`ReplicaLost`, judged by
//! `recovery-soundness`), dropped, or replaced by a recovery image.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::{ChunkId, DfsFact, Tid};

use crate::checkers::Checker;

/// Name of the checker.
pub const NAME: &str = "prepare-durability";
/// Where the property comes from.
pub const SOURCE: &str =
    "Gray & Lamport 2006 (a participant's yes vote is durable until the decision); DolphinDB 2PC: replies vouch for durable state";

/// The prepares each replica wrote and voted yes on, and the boots being listed.
#[derive(Debug, Default)]
pub struct PrepareDurability {
    /// Prepares written (or reloaded) and not resolved since, per replica.
    written: BTreeMap<(NodeId, ChunkId), BTreeSet<Tid>>,
    /// Prepares voted yes on and not resolved since, per replica.
    voted: BTreeMap<(NodeId, ChunkId), BTreeSet<Tid>>,
    /// Data nodes whose boot listing is under way, with the chunks listed so far.
    booting: BTreeMap<NodeId, BTreeSet<ChunkId>>,
}

impl PrepareDurability {
    /// `node` answered `Prepared { ok: true }` for `tid` on `chunk`: the vote left it.
    pub fn on_vote(&mut self, node: NodeId, tid: Tid, chunk: ChunkId) {
        if self.written.get(&(node, chunk)).is_some_and(|w| w.contains(&tid)) {
            self.voted.entry((node, chunk)).or_default().insert(tid);
        }
    }

    fn resolve(&mut self, node: NodeId, chunk: ChunkId, tid: Tid) {
        for map in [&mut self.written, &mut self.voted] {
            if let Some(set) = map.get_mut(&(node, chunk)) {
                set.remove(&tid);
                if set.is_empty() {
                    map.remove(&(node, chunk));
                }
            }
        }
    }

    fn forget(&mut self, node: NodeId, chunk: ChunkId) {
        self.written.remove(&(node, chunk));
        self.voted.remove(&(node, chunk));
    }

    /// The end of `node`'s boot listing: a replica with a yes-voted open prepare that the listing
    /// did not name is gone without a tolerated cause.
    fn end_listing(&mut self, node: NodeId) -> Result<(), String> {
        let Some(listed) = self.booting.remove(&node) else { return Ok(()) };
        let missing = self.voted.iter().find(|((n, c), _)| *n == node && !listed.contains(c));
        if let Some(((_, chunk), tids)) = missing {
            return Err(format!(
                "data node {node} voted yes on prepares {tids:?} of chunk {chunk}, unresolved, but came back from its disk without the replica"
            ));
        }
        Ok(())
    }
}

/// The fact judged is a DFS fact of `node`; the checker follows it in its own books.
impl Checker<(), DfsFact, ()> for PrepareDurability {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, _: &(), node: NodeId, fact: &DfsFact) -> Result<(), String> {
        let listing = matches!(fact, DfsFact::ReplicaLoaded { .. } | DfsFact::ReplicaLost { .. });
        if !listing {
            self.end_listing(node)?;
        }
        match fact {
            DfsFact::DataNodeBooted => {
                // What the node wrote but did not vote on may be gone: unsynced writes may vanish.
                self.written.retain(|(n, _), _| *n != node);
                self.booting.insert(node, BTreeSet::new());
            }
            DfsFact::ReplicaLoaded { chunk, prepared, .. } => {
                if let Some(listed) = self.booting.get_mut(&node) {
                    listed.insert(*chunk);
                }
                let open: BTreeSet<Tid> = prepared.iter().copied().collect();
                if let Some(voted) = self.voted.get(&(node, *chunk))
                    && let Some(tid) = voted.iter().find(|t| !open.contains(t))
                {
                    return Err(format!(
                        "data node {node} voted yes on transaction {tid} for chunk {chunk} and had not resolved it, but came back from its disk with open prepares {prepared:?}"
                    ));
                }
                if open.is_empty() {
                    self.written.remove(&(node, *chunk));
                } else {
                    self.written.insert((node, *chunk), open);
                }
            }
            DfsFact::ReplicaLost { chunk, .. } => {
                // Discarded as corrupt: the nemesis's doing (`recovery-soundness` judges that).
                if let Some(listed) = self.booting.get_mut(&node) {
                    listed.insert(*chunk);
                }
                self.forget(node, *chunk);
            }
            DfsFact::Prepared { tid, chunk } => {
                self.written.entry((node, *chunk)).or_default().insert(*tid);
            }
            DfsFact::ReplicaCommitted { tid, chunk, .. } | DfsFact::ReplicaRolledBack { tid, chunk } => self.resolve(node, *chunk, *tid),
            DfsFact::ReplicaDropped { chunk } | DfsFact::ReplicaInstalled { chunk, .. } => self.forget(node, *chunk),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replica::dolphindb_2pc::test_support::{CHUNK, DATA};

    const N: NodeId = DATA[0];

    /// What happened on data node `N`, in order.
    enum Step {
        Fact(DfsFact),
        Vote(Tid),
    }

    fn judged(steps: Vec<Step>) -> Result<(), String> {
        let mut checker = PrepareDurability::default();
        for step in steps {
            match step {
                Step::Fact(f) => checker.on_fact(&(), N, &f)?,
                Step::Vote(tid) => checker.on_vote(N, tid, CHUNK),
            }
        }
        // A later fact of the node ends any boot listing.
        checker.on_fact(&(), N, &DfsFact::ReplicaRepaired { chunk: CHUNK })
    }

    fn prepared(tid: Tid) -> Step {
        Step::Fact(DfsFact::Prepared { tid, chunk: CHUNK })
    }

    fn booted() -> Step {
        Step::Fact(DfsFact::DataNodeBooted)
    }

    fn loaded(open: Vec<Tid>) -> Step {
        Step::Fact(DfsFact::ReplicaLoaded { chunk: CHUNK, version: 3, digest: 1, prepared: open })
    }

    #[test]
    fn a_reload_holding_the_yes_voted_prepare_passes() {
        assert_eq!(judged(vec![prepared(1), Step::Vote(1), booted(), loaded(vec![1])]), Ok(()));
    }

    #[test]
    fn a_reload_without_a_yes_voted_unresolved_prepare_is_refused() {
        let err = judged(vec![prepared(1), Step::Vote(1), booted(), loaded(vec![])]).unwrap_err();
        assert!(err.contains("data node 3 voted yes on transaction 1 for chunk 7 and had not resolved it"), "{err}");
    }

    #[test]
    fn a_prepare_never_voted_on_may_be_lost_with_its_unsynced_write() {
        // The node crashed before the fsync completed: the vote never left.
        assert_eq!(judged(vec![prepared(1), booted(), loaded(vec![])]), Ok(()));
    }

    #[test]
    fn a_prepare_resolved_before_the_crash_binds_nothing() {
        let committed = DfsFact::ReplicaCommitted { tid: 1, chunk: CHUNK, cid: 4, digest: 2 };
        assert_eq!(judged(vec![prepared(1), Step::Vote(1), Step::Fact(committed), booted(), loaded(vec![])]), Ok(()));
        let rolled_back = DfsFact::ReplicaRolledBack { tid: 1, chunk: CHUNK };
        assert_eq!(judged(vec![prepared(1), Step::Vote(1), Step::Fact(rolled_back), booted(), loaded(vec![])]), Ok(()));
    }

    #[test]
    fn a_replica_lost_to_corruption_passes() {
        let lost = DfsFact::ReplicaLost { chunk: CHUNK, why: "chunk 7 log corrupt".into() };
        assert_eq!(judged(vec![prepared(1), Step::Vote(1), booted(), Step::Fact(lost)]), Ok(()));
    }

    #[test]
    fn a_replica_dropped_or_replaced_by_an_image_binds_nothing() {
        let dropped = DfsFact::ReplicaDropped { chunk: CHUNK };
        assert_eq!(judged(vec![prepared(1), Step::Vote(1), Step::Fact(dropped), booted()]), Ok(()));
        let installed = DfsFact::ReplicaInstalled { chunk: CHUNK, version: 5, digest: 3 };
        assert_eq!(judged(vec![prepared(1), Step::Vote(1), Step::Fact(installed), booted(), loaded(vec![])]), Ok(()));
    }

    #[test]
    fn a_boot_that_does_not_list_a_replica_with_a_yes_voted_prepare_is_refused() {
        let err = judged(vec![prepared(1), Step::Vote(1), booted()]).unwrap_err();
        assert!(err.contains("came back from its disk without the replica"), "{err}");
    }

    #[test]
    fn a_late_vote_for_a_resolved_prepare_binds_nothing() {
        // A duplicate Prepare's answer, held behind a sync, leaves after the commit.
        let committed = DfsFact::ReplicaCommitted { tid: 1, chunk: CHUNK, cid: 4, digest: 2 };
        assert_eq!(judged(vec![prepared(1), Step::Vote(1), Step::Fact(committed), Step::Vote(1), booted(), loaded(vec![])]), Ok(()));
    }

    #[test]
    fn a_reloaded_prepare_voted_on_again_must_survive_the_next_crash() {
        let steps = vec![prepared(1), booted(), loaded(vec![1]), Step::Vote(1), booted(), loaded(vec![])];
        let err = judged(steps).unwrap_err();
        assert!(err.contains("voted yes on transaction 1"), "{err}");
    }
}

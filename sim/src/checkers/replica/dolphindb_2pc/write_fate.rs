//! The master's replicas in `write-fate` (issue 12): where a committed write stands on each data
//! node holding a replica of a chunk its commit made a version of, read from the final state (the
//! controllers' chunk map and what each data node holds) and the ledger (versions reported,
//! replicas corrupted, chunks dropped).
//!
//! A chunk's versions are its writes' cids (the chunk map's version only grows, to each commit's
//! cid), so a replica at version `v >= cid` holds the write (`replica-convergence`: replicas of one
//! version hold the same rows). A chunk a later committed operation dropped is no longer in the map:
//! the write is superseded there, counted applied on each data node that dropped the chunk.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::state::ReplicaState;
use ccrsim_model::replica::dolphindb_2pc::{ChunkId, Cid};

use super::On2pc;
use super::ledger::DfsLedger;
use crate::checkers::write_fate::Fate;
use crate::view::ClusterView;

/// The cause of a write lost on a replica the nemesis corrupted when no replica of its chunk at
/// the write's version is left to rebuild it from (docs/fault-model.md: the nemesis corrupts a
/// chunk file only while every other replica of its chunk is complete and current, so this loss is
/// outside the fault model; DolphinDB HA: a replica lost on disk is recovered from a peer).
pub const REPLICA_CORRUPTED: &str = "replica corrupted by the nemesis, no replica left at the write's version to rebuild it from";

/// One replica of a chunk as the controllers' chunk map holds it at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapReplica {
    /// Its data node.
    pub node: NodeId,
    /// The version the controllers know it holds.
    pub version: Cid,
    /// Complete (not stale).
    pub complete: bool,
}

/// The master's replicas at the end, as plain data.
#[derive(Debug, Clone, Default)]
pub struct FinalReplicas {
    /// Each chunk's replicas in the chunk map of a running controller leader (`None` without one).
    pub map: Option<BTreeMap<ChunkId, Vec<MapReplica>>>,
    /// The version each running data node holds of each chunk it holds.
    pub held: BTreeMap<(NodeId, ChunkId), Cid>,
    /// Data nodes not running at the end.
    pub down: BTreeSet<NodeId>,
}

/// Where a write stands on one data node, and what the node shows of the chunk that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaFate {
    /// The fate.
    pub fate: Fate,
    /// The chunk that decided it (the worst of the write's chunks on the node).
    pub chunk: ChunkId,
    /// The version the node holds of it (none: not held, or the node is down).
    pub held: Option<Cid>,
    /// Why, in words.
    pub why: &'static str,
}

impl ReplicaFate {
    /// What the copy shows, for a description.
    pub fn shows(&self) -> String {
        let held = self.held.map_or("none".to_string(), |v| format!("version {v}"));
        format!("chunk {} held at {held}: {}", self.chunk, self.why)
    }
}

/// How bad a fate is on a replica: the worst of a write's chunks on a node decides its fate there.
fn badness(fate: Fate) -> u8 {
    match fate {
        Fate::Applied | Fate::Skipped | Fate::Indeterminate => 0,
        Fate::Pending => 1,
        Fate::Lost(_) => 2,
        Fate::Unexplained => 3,
    }
}

impl FinalReplicas {
    /// The final state of the cluster of `controllers` and `data_nodes`.
    pub fn of<D: On2pc>(view: &ClusterView<'_, D>, controllers: &[NodeId], data_nodes: &[NodeId]) -> Self {
        let map = view.leader_among(controllers).map(|(_, leader)| {
            let chunks = leader.raft().state_machine().replica.chunks();
            let replicas = |meta: &ccrsim_model::replica::dolphindb_2pc::state::ChunkMeta| {
                let of = |(&node, r): (_, &ccrsim_model::replica::dolphindb_2pc::state::ReplicaMeta)| MapReplica {
                    node,
                    version: r.version,
                    complete: r.state == ReplicaState::Complete,
                };
                meta.replicas.iter().map(of).collect()
            };
            chunks.iter().map(|(&chunk, meta)| (chunk, replicas(meta))).collect()
        });
        let mut held = BTreeMap::new();
        let mut down = BTreeSet::new();
        for &d in data_nodes {
            match view.data_node(d) {
                Some(dn) => held.extend(dn.replicas().map(|(chunk, version, _)| ((d, chunk), version))),
                None => {
                    down.insert(d);
                }
            }
        }
        FinalReplicas { map, held, down }
    }

    /// The chunks each cid made a version of, as the replicas reported them (committed, installed
    /// by a recovery, reloaded).
    pub fn chunks_by_cid(ledger: &DfsLedger) -> BTreeMap<Cid, Vec<ChunkId>> {
        let mut by_cid: BTreeMap<Cid, Vec<ChunkId>> = BTreeMap::new();
        for &(chunk, cid) in ledger.versions.keys() {
            by_cid.entry(cid).or_default().push(chunk);
        }
        by_cid
    }

    /// Where the write committed as `cid`, which made versions of `chunks`, stands on each data
    /// node holding one of them (`None`: no controller leader runs to tell the chunks' replicas).
    pub fn fates(&self, ledger: &DfsLedger, chunks: &[ChunkId], cid: Cid) -> Option<BTreeMap<NodeId, ReplicaFate>> {
        let map = self.map.as_ref()?;
        let mut by_node: BTreeMap<NodeId, ReplicaFate> = BTreeMap::new();
        let mut keep = |node: NodeId, f: ReplicaFate| match by_node.get(&node) {
            Some(known) if badness(known.fate) >= badness(f.fate) => {}
            _ => {
                by_node.insert(node, f);
            }
        };
        for &chunk in chunks {
            let Some(replicas) = map.get(&chunk) else {
                for &node in ledger.dropped.get(&chunk).into_iter().flatten() {
                    let why = "superseded: a later committed operation dropped the chunk";
                    keep(node, ReplicaFate { fate: Fate::Applied, chunk, held: None, why });
                }
                continue;
            };
            let holds = |node: NodeId| self.held.get(&(node, chunk)).copied();
            let intact = replicas.iter().any(|r| holds(r.node).is_some_and(|v| v >= cid));
            for r in replicas {
                let (fate, why) = self.on_replica(ledger, chunk, r, cid, intact);
                keep(r.node, ReplicaFate { fate, chunk, held: holds(r.node), why });
            }
        }
        Some(by_node)
    }

    /// Where the write of `cid` stands on replica `r` of `chunk`; `intact`: some running replica of
    /// the chunk holds it.
    fn on_replica(&self, ledger: &DfsLedger, chunk: ChunkId, r: &MapReplica, cid: Cid, intact: bool) -> (Fate, &'static str) {
        let held = self.held.get(&(r.node, chunk)).copied();
        let corrupted = ledger.lost_replicas.contains(&(r.node, chunk));
        if held.is_some_and(|v| v >= cid) {
            (Fate::Applied, "holds it")
        } else if self.down.contains(&r.node) {
            (Fate::Pending, "the data node is not running")
        } else if !intact && corrupted {
            (Fate::Lost(REPLICA_CORRUPTED), "corrupted by the nemesis, and no running replica holds the write")
        } else if !intact {
            (Fate::Unexplained, "no running replica of the chunk holds the write")
        } else if corrupted {
            (Fate::Pending, "corrupted by the nemesis; online recovery rebuilds it from a replica that holds the write")
        } else if !r.complete || r.version < cid {
            (Fate::Pending, "behind the write (stale, or phase two not completed): online recovery or COMPLETE brings it up")
        } else {
            (Fate::Unexplained, "the controllers hold it complete at the write's version or later, but it holds less")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: ChunkId = 7;
    const DROPPED: ChunkId = 8;

    /// Data nodes 3 and 4 replicate chunk 7 (complete at version 5 in the map); node 3 holds
    /// `held3`, node 4 version 5; node 4 dropped chunk 8.
    fn end(held3: Option<Cid>, complete3: bool) -> (FinalReplicas, DfsLedger) {
        let map = BTreeMap::from([(
            CHUNK,
            vec![
                MapReplica { node: 3, version: if complete3 { 5 } else { 0 }, complete: complete3 },
                MapReplica { node: 4, version: 5, complete: true },
            ],
        )]);
        let mut held = BTreeMap::from([((4, CHUNK), 5)]);
        if let Some(v) = held3 {
            held.insert((3, CHUNK), v);
        }
        let mut ledger = DfsLedger::default();
        ledger.dropped.insert(DROPPED, BTreeSet::from([4]));
        (FinalReplicas { map: Some(map), held, down: BTreeSet::new() }, ledger)
    }

    fn fate_on(r: &FinalReplicas, l: &DfsLedger, chunks: &[ChunkId], cid: Cid, node: NodeId) -> Fate {
        r.fates(l, chunks, cid).expect("a map")[&node].fate
    }

    #[test]
    fn a_replica_at_the_write_or_later_holds_it_and_a_dropped_chunk_supersedes_it() {
        let (r, l) = end(Some(5), true);
        assert_eq!(fate_on(&r, &l, &[CHUNK], 4, 3), Fate::Applied);
        assert_eq!(fate_on(&r, &l, &[CHUNK, DROPPED], 5, 4), Fate::Applied);
        let f = r.fates(&l, &[DROPPED], 2).expect("a map");
        assert!(f[&4].why.contains("superseded"), "{:?}", f[&4]);
    }

    #[test]
    fn a_stale_replica_or_one_on_a_down_node_is_pending() {
        let (r, l) = end(Some(3), false);
        assert_eq!(fate_on(&r, &l, &[CHUNK], 5, 3), Fate::Pending);
        let (mut r, l) = end(None, true);
        r.down.insert(3);
        assert_eq!(fate_on(&r, &l, &[CHUNK], 5, 3), Fate::Pending);
    }

    #[test]
    fn a_corrupted_replica_is_pending_while_a_peer_holds_the_write_and_lost_when_none_does() {
        let (mut r, mut l) = end(None, false);
        l.lost_replicas.insert((3, CHUNK));
        assert_eq!(fate_on(&r, &l, &[CHUNK], 5, 3), Fate::Pending);
        r.held.insert((4, CHUNK), 4);
        assert_eq!(fate_on(&r, &l, &[CHUNK], 5, 3), Fate::Lost(REPLICA_CORRUPTED));
        // Node 4 was not corrupted: its loss has no documented cause.
        assert_eq!(fate_on(&r, &l, &[CHUNK], 5, 4), Fate::Unexplained);
    }

    #[test]
    fn a_replica_the_controllers_hold_complete_but_behind_the_write_is_unexplained() {
        let (r, l) = end(Some(4), true);
        let f = r.fates(&l, &[CHUNK], 5).expect("a map");
        assert_eq!(f[&3].fate, Fate::Unexplained);
        assert_eq!(f[&3].held, Some(4));
        assert_eq!(f[&4].fate, Fate::Applied);
    }

    #[test]
    fn without_a_controller_leader_the_replicas_are_unknown() {
        let r = FinalReplicas::default();
        assert!(r.fates(&DfsLedger::default(), &[CHUNK], 1).is_none());
    }
}

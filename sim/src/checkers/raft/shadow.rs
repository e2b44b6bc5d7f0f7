//! What the Raft checkers know of a group: a shadow of every member, rebuilt from its facts.
//!
//! The model reports each log mutation and role change at the lowest level, so the shadow follows
//! the real state step by step without reading it; `fact-consistency` compares the two at the end to
//! prove the facts told the truth.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::raft::{EntryId, RaftFact};

/// A member's log as the facts describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShadowLog {
    /// Last index covered by a snapshot.
    pub snapshot_index: u64,
    /// Its term.
    pub snapshot_term: u64,
    /// `(term, payload hash)` of each entry after the snapshot.
    pub entries: Vec<(u64, u64)>,
}

impl ShadowLog {
    /// Index of the last entry.
    pub fn last_index(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    /// `(term, hash)` at `index` if held after the snapshot.
    pub fn get(&self, index: u64) -> Option<(u64, u64)> {
        if index <= self.snapshot_index {
            return None;
        }
        self.entries.get((index - self.snapshot_index - 1) as usize).copied()
    }

    /// The term at `index` (the snapshot's at its boundary).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index { Some(self.snapshot_term) } else { self.get(index).map(|(t, _)| t) }
    }

    fn truncate_from(&mut self, index: u64) {
        let keep = index.saturating_sub(self.snapshot_index + 1) as usize;
        self.entries.truncate(keep);
    }

    fn compact_to(&mut self, index: u64, term: u64) {
        if index <= self.snapshot_index {
            return;
        }
        let drop = ((index - self.snapshot_index) as usize).min(self.entries.len());
        self.entries.drain(..drop);
        self.snapshot_index = index;
        self.snapshot_term = term;
    }
}

/// One member as the facts describe it.
#[derive(Debug, Clone, Default)]
pub struct ShadowMember {
    /// Current term.
    pub term: u64,
    /// Vote in that term.
    pub voted_for: Option<NodeId>,
    /// The term it leads, if leading.
    pub leading: Option<u64>,
    /// Its log.
    pub log: ShadowLog,
    /// Commit index.
    pub commit: u64,
    /// Applied index.
    pub applied: u64,
}

/// A Raft group as the facts describe it.
#[derive(Debug, Clone)]
pub struct GroupShadow {
    /// The group's name, for messages.
    pub name: String,
    /// Every member.
    pub members: BTreeMap<NodeId, ShadowMember>,
    /// Entries known committed: index -> (term, payload hash).
    pub committed: BTreeMap<u64, (u64, u64)>,
    /// Which member committed each index first, and in which of its terms.
    pub committed_by: BTreeMap<u64, (NodeId, u64)>,
}

impl GroupShadow {
    /// A group of fresh members.
    pub fn new(name: String, members: &[NodeId]) -> Self {
        Self {
            name,
            members: members.iter().map(|&m| (m, ShadowMember::default())).collect(),
            committed: BTreeMap::new(),
            committed_by: BTreeMap::new(),
        }
    }

    /// The shadow of `node`.
    pub fn member(&self, node: NodeId) -> &ShadowMember {
        &self.members[&node]
    }

    /// Follows one fact (after the property checkers looked at the state before it). A fact that
    /// cannot follow the member's previous facts is reported (the facts would be lying).
    pub fn apply(&mut self, node: NodeId, fact: &RaftFact) -> Result<(), String> {
        let m = self.members.get_mut(&node).expect("facts come from members");
        match fact {
            RaftFact::HardState { term, voted_for } => {
                m.term = *term;
                m.voted_for = *voted_for;
            }
            RaftFact::VoteGranted { .. } => {}
            RaftFact::BecameLeader { term } => m.leading = Some(*term),
            RaftFact::SteppedDown { .. } => m.leading = None,
            RaftFact::Appended { entry: (index, term, hash) } => {
                if *index != m.log.last_index() + 1 {
                    return Err(format!("node {node} appended entry {index} to a log that ends at {} by its facts", m.log.last_index()));
                }
                m.log.entries.push((*term, *hash));
            }
            RaftFact::Truncated { from_index } => m.log.truncate_from(*from_index),
            RaftFact::Committed { index, term: _, by_leader } => {
                let (from, leader_term) = (m.commit + 1, m.term);
                m.commit = *index;
                for i in from..=*index {
                    if let Some(entry) = m.log.get(i) {
                        self.committed.entry(i).or_insert(entry);
                        if *by_leader {
                            self.committed_by.entry(i).or_insert((node, leader_term));
                        }
                    }
                }
            }
            RaftFact::Applied { index, .. } => m.applied = *index,
            RaftFact::SnapshotInstalled { index, term, .. } => {
                if m.log.term_at(*index) == Some(*term) {
                    m.log.compact_to(*index, *term);
                } else {
                    m.log = ShadowLog { snapshot_index: *index, snapshot_term: *term, entries: Vec::new() };
                }
                m.commit = *index;
                m.applied = *index;
            }
            RaftFact::Compacted { index } => {
                let term = m.log.term_at(*index).unwrap_or(0);
                m.log.compact_to(*index, term);
            }
            RaftFact::Recovered { term, voted_for, snapshot_index, snapshot_term, entries, .. } => {
                *m = ShadowMember {
                    term: *term,
                    voted_for: *voted_for,
                    leading: None,
                    log: ShadowLog {
                        snapshot_index: *snapshot_index,
                        snapshot_term: *snapshot_term,
                        entries: entries.iter().map(|&(_, t, h)| (t, h)).collect(),
                    },
                    commit: *snapshot_index,
                    applied: *snapshot_index,
                };
            }
        }
        Ok(())
    }

    /// The member went down (crash or halt): it leads nothing any more.
    pub fn on_down(&mut self, node: NodeId) {
        if let Some(m) = self.members.get_mut(&node) {
            m.leading = None;
        }
    }
}

/// The id a fact's entry list uses.
pub fn ids_of(log: &ShadowLog) -> Vec<EntryId> {
    log.entries.iter().enumerate().map(|(k, &(t, h))| (log.snapshot_index + 1 + k as u64, t, h)).collect()
}

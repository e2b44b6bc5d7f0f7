//! The catalog: which data groups exist, their members and election weights, and which group
//! holds each collection with which ReplSize. SequoiaDB keeps it in its catalog group; here the
//! controllers' Raft group replicates it (the catalog's own replication is not what issue 11
//! tests, and Raft's checkers already judge it).
//!
//! A fresh cluster's catalog holds the scenario's plan; the controller leader proposes
//! `CatalogCommand::Bootstrap` once, which creates the groups and collections (and reports them as
//! facts).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fact::{CollectionId, SeqFact};
use super::types::{GroupId, Member, ReplSize};
use crate::core::io::NodeId;
use crate::replica::ReplicaView;

/// The weight a node gets when none is given (SequoiaDB's `weight` option default, 1..=100).
pub const DEFAULT_WEIGHT: u8 = 10;
/// The most nodes a replica group may have (SequoiaDB: 7).
pub const MAX_GROUP_NODES: usize = 7;

/// A member of a group in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberConfig {
    /// The data node.
    pub node: NodeId,
    /// Its election weight (1..=100).
    pub weight: u8,
}

/// A data group in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupConfig {
    /// The group's id.
    pub id: GroupId,
    /// Its members at deployment (1..=7).
    pub members: Vec<MemberConfig>,
}

/// A collection in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CollectionConfig {
    /// The collection's id.
    pub id: CollectionId,
    /// The group holding it.
    pub group: GroupId,
    /// Its write concern.
    pub repl_size: ReplSize,
}

/// The catalog settings of one cluster (the `[sequoiadb]` section's groups and collections).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CatalogConfig {
    /// The data groups (2+ in scenarios).
    pub groups: Vec<GroupConfig>,
    /// The collections.
    pub collections: Vec<CollectionConfig>,
}

impl CatalogConfig {
    /// Why this plan cannot be deployed, if it cannot.
    pub fn invalid(&self) -> Option<String> {
        let mut seen = std::collections::BTreeSet::new();
        for g in &self.groups {
            if g.members.is_empty() || g.members.len() > MAX_GROUP_NODES {
                return Some(format!("group {} has {} nodes (1..={MAX_GROUP_NODES})", g.id, g.members.len()));
            }
            for m in &g.members {
                if !seen.insert(m.node) {
                    return Some(format!("node {} is in two groups", m.node));
                }
                if !(1..=100).contains(&m.weight) {
                    return Some(format!("node {} has weight {} (1..=100)", m.node, m.weight));
                }
            }
        }
        for c in &self.collections {
            if !self.groups.iter().any(|g| g.id == c.group) {
                return Some(format!("collection {} is in unknown group {}", c.id, c.group));
            }
            if let ReplSize::Nodes(n) = c.repl_size
                && !(1..=7).contains(&n)
            {
                return Some(format!("collection {} has ReplSize {n} (1..=7)", c.id));
            }
        }
        None
    }
}

/// A collection in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CollectionEntry {
    /// The group holding it.
    pub group: GroupId,
    /// Its write concern.
    pub repl_size: ReplSize,
}

/// The catalog: the controllers' replicated state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Catalog {
    /// The plan of a fresh cluster, applied by `Bootstrap`.
    pub plan: CatalogConfig,
    /// Whether the plan was applied.
    pub bootstrapped: bool,
    /// Groups: members and their weights.
    pub groups: BTreeMap<GroupId, BTreeMap<NodeId, u8>>,
    /// Collections.
    pub collections: BTreeMap<CollectionId, CollectionEntry>,
    /// Bumped by every change (nodes and clients tell a newer catalog from an older one).
    pub version: u64,
}

/// A command of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CatalogCommand {
    /// Creates the plan's groups and collections (once).
    Bootstrap,
    /// Adds `node` to `group`.
    AddMember { group: GroupId, node: NodeId, weight: u8 },
    /// Removes `node` from `group`.
    RemoveMember { group: GroupId, node: NodeId },
    /// Changes `node`'s weight.
    SetWeight { group: GroupId, node: NodeId, weight: u8 },
}

/// What applying a catalog command answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CatalogOutput {
    /// Applied.
    Done,
    /// Refused, with why.
    Refused(String),
}

impl Catalog {
    /// The catalog of a fresh cluster: only its plan.
    pub fn new(plan: CatalogConfig) -> Self {
        assert!(plan.invalid().is_none(), "invalid catalog plan: {:?}", plan.invalid());
        Self { plan, bootstrapped: false, groups: BTreeMap::new(), collections: BTreeMap::new(), version: 0 }
    }

    /// The group `node` is a member of, if any.
    pub fn group_of(&self, node: NodeId) -> Option<GroupId> {
        self.groups.iter().find(|(_, members)| members.contains_key(&node)).map(|(g, _)| *g)
    }

    /// Applies a committed command.
    pub fn apply(&mut self, cmd: &CatalogCommand) -> (CatalogOutput, Vec<SeqFact>) {
        let mut facts = Vec::new();
        let output = match self.check(cmd) {
            Some(why) => CatalogOutput::Refused(why),
            None => {
                self.change(cmd, &mut facts);
                self.version += 1;
                CatalogOutput::Done
            }
        };
        assert!(self.groups.values().all(|m| !m.is_empty() && m.len() <= MAX_GROUP_NODES), "a group lost its last node or grew past 7");
        (output, facts)
    }

    /// Why `cmd` is refused against this catalog, if it is.
    fn check(&self, cmd: &CatalogCommand) -> Option<String> {
        let members = |group: &GroupId| self.groups.get(group);
        match *cmd {
            CatalogCommand::Bootstrap => self.bootstrapped.then(|| "bootstrapped already".to_string()),
            CatalogCommand::AddMember { group, node, weight } => match members(&group) {
                None => Some(format!("no group {group}")),
                Some(_) if self.group_of(node).is_some() => Some(format!("node {node} is in a group already")),
                Some(m) if m.len() >= MAX_GROUP_NODES => Some(format!("group {group} has {MAX_GROUP_NODES} nodes")),
                Some(_) if !(1..=100).contains(&weight) => Some(format!("weight {weight} not in 1..=100")),
                Some(_) => None,
            },
            CatalogCommand::RemoveMember { group, node } => match members(&group) {
                Some(m) if !m.contains_key(&node) => Some(format!("node {node} is not in group {group}")),
                Some(m) if m.len() == 1 => Some(format!("node {node} is the last of group {group}")),
                Some(_) => None,
                None => Some(format!("no group {group}")),
            },
            CatalogCommand::SetWeight { group, node, weight } => match members(&group) {
                Some(m) if m.contains_key(&node) && (1..=100).contains(&weight) => None,
                Some(_) => Some(format!("node {node} is not in group {group}, or weight {weight} not in 1..=100")),
                None => Some(format!("no group {group}")),
            },
        }
    }

    fn change(&mut self, cmd: &CatalogCommand, facts: &mut Vec<SeqFact>) {
        match *cmd {
            CatalogCommand::Bootstrap => {
                for g in &self.plan.groups {
                    let members = self.groups.entry(g.id).or_default();
                    for m in &g.members {
                        members.insert(m.node, m.weight);
                        facts.push(SeqFact::MemberAdded { at: Member { group: g.id, node: m.node }, weight: m.weight });
                    }
                }
                for c in &self.plan.collections {
                    self.collections.insert(c.id, CollectionEntry { group: c.group, repl_size: c.repl_size });
                    facts.push(SeqFact::CollectionCreated { collection: c.id, group: c.group, repl_size: c.repl_size });
                }
                self.bootstrapped = true;
            }
            CatalogCommand::AddMember { group, node, weight } => {
                self.groups.get_mut(&group).expect("checked").insert(node, weight);
                facts.push(SeqFact::MemberAdded { at: Member { group, node }, weight });
            }
            CatalogCommand::RemoveMember { group, node } => {
                self.groups.get_mut(&group).expect("checked").remove(&node);
                facts.push(SeqFact::MemberRemoved { at: Member { group, node } });
            }
            CatalogCommand::SetWeight { group, node, weight } => {
                self.groups.get_mut(&group).expect("checked").insert(node, weight);
                facts.push(SeqFact::WeightChanged { at: Member { group, node }, weight });
            }
        }
    }
}

impl ReplicaView for Catalog {
    fn has_database(&self, _: &str) -> bool {
        false
    }

    fn databases(&self) -> Vec<String> {
        Vec::new()
    }

    fn transaction_ended(&self, _: u64) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> CatalogConfig {
        CatalogConfig {
            groups: vec![GroupConfig {
                id: 1,
                members: vec![MemberConfig { node: 10, weight: 10 }, MemberConfig { node: 11, weight: 20 }],
            }],
            collections: vec![CollectionConfig { id: 1, group: 1, repl_size: ReplSize::Nodes(2) }],
        }
    }

    #[test]
    fn bootstrap_creates_the_plan_once_and_reports_it() {
        let mut c = Catalog::new(plan());
        let (out, facts) = c.apply(&CatalogCommand::Bootstrap);
        assert_eq!(out, CatalogOutput::Done);
        assert_eq!(facts.len(), 3);
        assert_eq!(c.group_of(11), Some(1));
        assert!(matches!(c.apply(&CatalogCommand::Bootstrap).0, CatalogOutput::Refused(_)));
    }

    #[test]
    fn membership_changes_are_checked() {
        let mut c = Catalog::new(plan());
        c.apply(&CatalogCommand::Bootstrap);
        assert!(matches!(c.apply(&CatalogCommand::AddMember { group: 1, node: 10, weight: 5 }).0, CatalogOutput::Refused(_)));
        assert_eq!(c.apply(&CatalogCommand::AddMember { group: 1, node: 12, weight: 5 }).0, CatalogOutput::Done);
        assert_eq!(c.apply(&CatalogCommand::RemoveMember { group: 1, node: 10 }).0, CatalogOutput::Done);
        assert_eq!(c.apply(&CatalogCommand::SetWeight { group: 1, node: 12, weight: 50 }).0, CatalogOutput::Done);
        assert_eq!(c.groups[&1].get(&12), Some(&50));
        assert_eq!(c.version, 4);
    }
}

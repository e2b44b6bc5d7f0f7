//! What the pipeline-neutral checkers know: the source's log and each target's entries, as the
//! [`PipelineEvent`]s tell them, followed event by event.
//!
//! Every controller of a cluster reports what it applies (a restarted one again, from its log), so
//! the ledger keeps the *truth*: the first report of each event. The source is the master cluster;
//! the targets are the slave clusters.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::SharedOperation;

use super::event::{EntryState, PipelineEvent};
use crate::summary::{PipelineSummary, TargetSummary};
use crate::topology::{ClusterId, NodeKind, Topology};

/// One entry of the source's log, as first reported.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    /// The source transaction whose write it is.
    pub tx: u64,
    /// The replication unit it belongs to.
    pub unit: String,
    /// Its hash as logged.
    pub hash: u64,
    /// The write's effect.
    pub op: SharedOperation,
}

/// The source's log as the events tell it.
#[derive(Debug, Clone, Default)]
pub struct SourceTruth {
    /// Every entry logged.
    pub entries: BTreeMap<u64, SourceEntry>,
    /// Every entry below this was truncated.
    pub truncated_below: u64,
}

/// One entry on a target, as the events tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryTruth {
    /// Where it stands.
    pub state: EntryState,
    /// The target transactions that committed it (exactly one, if any).
    pub applied_by: BTreeSet<u64>,
    /// Finished by an operator.
    pub skipped: bool,
    /// Its last failure's reason.
    pub reason: Option<String>,
}

/// A target's entries as the events tell them.
#[derive(Debug, Clone, Default)]
pub struct TargetTruth {
    /// Entries fetched, with the hash of each as fetched.
    pub fetched: BTreeMap<u64, u64>,
    /// Each fetched entry's fate.
    pub entries: BTreeMap<u64, EntryTruth>,
    /// The transactions that committed an entry never reported fetched, by entry (none in a
    /// design that applies its pull before it runs an entry: `exactly-once` refuses each).
    pub applied_unfetched: BTreeMap<u64, BTreeSet<u64>>,
    /// The replication state's name, once one was reported.
    pub state: Option<&'static str>,
    /// Every entry below this finished (0 before the first one; FINISHED is final in the truth,
    /// so the watermark only moves up).
    finished_below: u64,
}

impl TargetTruth {
    /// Every entry below this finished.
    pub fn finished_below(&self) -> u64 {
        self.finished_below.max(1)
    }

    fn advance_finished_below(&mut self) {
        let mut below = self.finished_below();
        while self.entries.get(&below).is_some_and(|t| t.state == EntryState::Finished) {
            below += 1;
        }
        self.finished_below = below;
    }
}

/// The pipeline ledger of a run.
#[derive(Debug, Clone)]
pub struct PipelineLedger {
    /// The source.
    pub source: SourceTruth,
    /// Each target.
    pub targets: BTreeMap<ClusterId, TargetTruth>,
    /// The cluster of every cluster node.
    cluster_of: BTreeMap<NodeId, ClusterId>,
    /// The state a target starts in (its name), for reports.
    initial_state: &'static str,
}

impl PipelineLedger {
    /// An empty ledger for `topology`: the master is the source, every slave a target, which
    /// starts in the state named `initial_state`.
    pub fn new(topology: &Topology, initial_state: &'static str) -> Self {
        let cluster_of = topology
            .nodes
            .iter()
            .filter_map(|n| match n.kind {
                NodeKind::Controller(c) | NodeKind::DataNode(c) if !n.kind.is_client() => Some((n.id, c)),
                _ => None,
            })
            .collect();
        let targets = topology.slaves().into_iter().map(|s| (s, TargetTruth::default())).collect();
        PipelineLedger { source: SourceTruth { entries: BTreeMap::new(), truncated_below: 1 }, targets, cluster_of, initial_state }
    }

    /// Whether `target` is in the state it starts in (DolphinDB: ENABLED), as far as its events tell.
    pub fn in_initial_state(&self, target: &TargetTruth) -> bool {
        target.state.is_none_or(|s| s == self.initial_state)
    }

    /// The target whose events `node` reports, if it is a target's node.
    pub fn target_of(&self, node: NodeId) -> Option<ClusterId> {
        self.cluster_of.get(&node).copied().filter(|c| self.targets.contains_key(c))
    }

    /// The truth of the target `node` belongs to, if any.
    pub fn target_truth(&self, node: NodeId) -> Option<&TargetTruth> {
        self.target_of(node).and_then(|c| self.targets.get(&c))
    }

    /// The transactions that committed entry `id` on `node`'s target so far, fetched or not.
    pub fn applied_by(&self, node: NodeId, id: u64) -> Option<&BTreeSet<u64>> {
        let t = self.target_truth(node)?;
        t.entries.get(&id).map(|e| &e.applied_by).or_else(|| t.applied_unfetched.get(&id))
    }

    /// The hash a fetched entry must have: the source's entry as logged.
    pub fn logged_hash(&self, id: u64) -> Option<u64> {
        self.source.entries.get(&id).map(|e| e.hash)
    }

    /// Follows one event of `node`.
    pub fn apply(&mut self, node: NodeId, event: &PipelineEvent<'_>) {
        match *event {
            PipelineEvent::Enqueued { id, tx, unit, hash, op } => {
                self.source.entries.entry(id).or_insert_with(|| SourceEntry { tx, unit: unit.to_string(), hash, op: op.clone() });
            }
            PipelineEvent::Truncated { below } => {
                self.source.truncated_below = self.source.truncated_below.max(below);
            }
            PipelineEvent::State { name } => {
                if let Some(t) = self.target_mut(node) {
                    t.state = Some(name);
                }
            }
            PipelineEvent::Fetched { entries, .. } => {
                let Some(t) = self.target_mut(node) else { return };
                for &(id, hash) in entries {
                    if t.fetched.insert(id, hash).is_none() {
                        let fresh = EntryTruth { state: EntryState::Waiting, applied_by: BTreeSet::new(), skipped: false, reason: None };
                        t.entries.insert(id, fresh);
                    }
                }
            }
            // Each controller's offset is the checkers' own (`no-gaps`); the truth does not move.
            PipelineEvent::Resumed { .. } => {}
            PipelineEvent::Started { id } => self.on_entry(node, id, |e| {
                if e.state != EntryState::Finished {
                    e.state = EntryState::Running;
                }
            }),
            PipelineEvent::Failed { id, reason } => self.on_entry(node, id, |e| {
                if e.state != EntryState::Finished {
                    e.state = EntryState::Failed;
                    e.reason = Some(reason.to_string());
                }
            }),
            PipelineEvent::Retried { ids } => {
                for &id in ids {
                    self.on_entry(node, id, |e| {
                        if e.state == EntryState::Failed {
                            e.state = EntryState::Waiting;
                        }
                    });
                }
            }
            PipelineEvent::Applied { id, tx } => {
                let Some(t) = self.target_mut(node) else { return };
                match t.entries.get_mut(&id) {
                    Some(e) => e.applied_by.insert(tx),
                    None => t.applied_unfetched.entry(id).or_default().insert(tx),
                };
            }
            PipelineEvent::Finished { id, skipped } => {
                self.on_entry(node, id, |e| {
                    e.state = EntryState::Finished;
                    e.skipped |= skipped;
                });
                if let Some(t) = self.target_mut(node) {
                    t.advance_finished_below();
                }
            }
        }
    }

    fn target_mut(&mut self, node: NodeId) -> Option<&mut TargetTruth> {
        let c = self.target_of(node)?;
        self.targets.get_mut(&c)
    }

    fn on_entry(&mut self, node: NodeId, id: u64, f: impl FnOnce(&mut EntryTruth)) {
        if let Some(e) = self.target_mut(node).and_then(|t| t.entries.get_mut(&id)) {
            f(e);
        }
    }

    /// What the pipeline did so far.
    pub fn summary(&self) -> PipelineSummary {
        let slaves = self
            .targets
            .iter()
            .map(|(c, t)| {
                let mut sum = TargetSummary {
                    pulled: t.fetched.len() as u64,
                    state: t.state.unwrap_or(self.initial_state).to_string(),
                    ..Default::default()
                };
                for e in t.entries.values() {
                    match e.state {
                        EntryState::Finished if e.skipped => sum.skipped += 1,
                        EntryState::Finished => sum.applied += 1,
                        EntryState::Failed => {
                            let reason = e.reason.as_deref().unwrap_or("unknown");
                            let class = reason.split(':').next().unwrap_or(reason).trim().to_string();
                            *sum.failed.entry(class).or_default() += 1;
                        }
                        EntryState::Waiting | EntryState::Running => sum.unfinished += 1,
                    }
                }
                (c.name(), sum)
            })
            .collect();
        PipelineSummary { enqueued: self.source.entries.len() as u64, truncated_below: self.source.truncated_below, slaves }
    }
}

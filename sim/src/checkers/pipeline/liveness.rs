//! Replication liveness after heal (DolphinDB: "node failures do not lose data; master and slave
//! eventually agree"; Doris CCR: a running job keeps up with the source's binlog): once every
//! fault is healed, each target that runs fetches every entry the source logged and finishes each
//! one, except entries that can never be applied (their data is lost or damaged: FAILED with the
//! reason, for an operator to skip) and the entries queued behind them in the same lane.
//!
//! It reads the running deployment, not the facts: what each target's controller leader holds now,
//! through a [`Progress`] the design gives (a lane is the design's unit of ordered execution:
//! DolphinDB's execution queue, a Doris job).

use std::collections::BTreeSet;

use super::event::{EntryState, PipelineEvent};
use super::ledger::PipelineLedger;
use crate::checkers::Checker;
use crate::topology::ClusterId;

/// The checker's name.
pub const NAME: &str = "replication-liveness";
/// Where the property comes from.
pub const SOURCE: &str = "asynchronous replication makes progress: DolphinDB slaves pull and finish every task, a FAILED task stops its queue until skipped; Doris CCR jobs follow the binlog";

/// One entry a target's leader holds.
#[derive(Debug, Clone, Copy)]
pub struct EntryProgress<'a> {
    /// The entry.
    pub id: u64,
    /// Where it stands.
    pub state: EntryState,
    /// The lane it executes in: entries of a lane run in order.
    pub lane: u64,
    /// Its failure can never heal by retrying (the design's classification of the reason).
    pub never_runs: bool,
    /// What the target shows about it (its status details).
    pub details: &'a str,
}

/// A target as its running leader holds it.
#[derive(Debug, Clone)]
pub enum TargetProgress<'a> {
    /// No controller leader runs.
    NoLeader,
    /// The leader does not act as a target.
    NotATarget,
    /// Stopped by an operator: what it has not done is in its status.
    Stopped,
    /// Replicating.
    Running {
        /// The last entry it fetched.
        offset: u64,
        /// Every entry it holds, in id order.
        entries: Vec<EntryProgress<'a>>,
    },
}

/// What the deployment shows of a pipeline's progress (the design reads it from the real state).
pub trait Progress {
    /// The last entry the source logged, if its leader runs and is the source.
    fn source_last(&self) -> Option<u64>;
    /// A target's progress.
    fn target(&self, target: ClusterId) -> TargetProgress<'_>;
}

/// Reads each target's progress after heal (stateless).
#[derive(Debug, Default)]
pub struct ReplicationLiveness;

impl<P: Progress> Checker<PipelineLedger, PipelineEvent<'_>, P> for ReplicationLiveness {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn pending(&self, ledger: &PipelineLedger, progress: &P) -> Option<String> {
        if ledger.targets.is_empty() {
            return None;
        }
        // Without a source leader nothing can move; Raft's liveness reports that.
        let last = progress.source_last()?;
        for &target in ledger.targets.keys() {
            let name = target.name();
            let (offset, entries) = match progress.target(target) {
                TargetProgress::NoLeader => return Some(format!("{name} has no leader")),
                TargetProgress::NotATarget => return Some(format!("{name} is not a target")),
                TargetProgress::Stopped => continue,
                TargetProgress::Running { offset, entries } => (offset, entries),
            };
            if offset < last {
                return Some(format!("{name} fetched up to entry {offset} of {last}"));
            }
            // Lanes whose entry can never run are stuck until an operator skips it.
            let stuck: BTreeSet<u64> = entries.iter().filter(|e| e.state == EntryState::Failed && e.never_runs).map(|e| e.lane).collect();
            if let Some(e) = entries.iter().find(|e| e.state != EntryState::Finished && !stuck.contains(&e.lane)) {
                return Some(format!("{name}: entry {} is {} ({})", e.id, e.state.name(), e.details));
            }
        }
        None
    }
}

//! Replication liveness after heal (DolphinDB: "node failures do not lose data; master and slave
//! eventually agree"; Doris CCR: a running job keeps up with the source's binlog): once every
//! fault is healed, each target that runs fetches every entry the source logged and finishes each
//! one, except entries that can never be applied (their data is lost or damaged: FAILED with the
//! reason, for an operator to skip) and the later groups of their lane (their own group still
//! finishes: the tasks of a group run side by side).
//!
//! It reads the running deployment, not the facts: what each target's controller leader holds now,
//! through a [`Progress`] the design gives (a lane is the design's unit of ordered execution:
//! DolphinDB's execution queue, a Doris job).

use std::collections::BTreeMap;

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
    /// The lane it executes in: the groups of a lane run in order.
    pub lane: u64,
    /// Its group in the lane: the entries of a group may run side by side, and a group starts only
    /// when every entry of the groups before it finished.
    pub group: u64,
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

/// An entry FAILED for a reason no retry heals.
fn never_runs(e: &EntryProgress<'_>) -> bool {
    e.state == EntryState::Failed && e.never_runs
}

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
            // An entry that can never run waits for an operator to skip it, and so do the groups
            // behind it in its lane; its own group and the ones before it still finish.
            let mut stuck_from: BTreeMap<u64, u64> = BTreeMap::new();
            for e in entries.iter().filter(|e| never_runs(e)) {
                stuck_from.entry(e.lane).and_modify(|g| *g = (*g).min(e.group)).or_insert(e.group);
            }
            let excused = |e: &EntryProgress<'_>| never_runs(e) || stuck_from.get(&e.lane).is_some_and(|&g| e.group > g);
            if let Some(e) = entries.iter().find(|e| e.state != EntryState::Finished && !excused(e)) {
                return Some(format!("{name}: entry {} is {} ({})", e.id, e.state.name(), e.details));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::checkers::pipeline::test_support::ledger;

    /// What a design would read off the running deployment.
    struct Fake {
        source_last: Option<u64>,
        targets: BTreeMap<ClusterId, TargetProgress<'static>>,
    }

    impl Progress for Fake {
        fn source_last(&self) -> Option<u64> {
            self.source_last
        }
        fn target(&self, target: ClusterId) -> TargetProgress<'_> {
            self.targets[&target].clone()
        }
    }

    /// An entry alone in its group (groups numbered like the entries).
    fn entry(id: u64, state: EntryState, lane: u64, never_runs: bool) -> EntryProgress<'static> {
        in_group(id, state, lane, id, never_runs)
    }

    fn in_group(id: u64, state: EntryState, lane: u64, group: u64, never_runs: bool) -> EntryProgress<'static> {
        EntryProgress { id, state, lane, group, never_runs, details: if never_runs { "Missing TaskData" } else { "" } }
    }

    fn finished(id: u64, lane: u64) -> EntryProgress<'static> {
        entry(id, EntryState::Finished, lane, false)
    }

    /// Slave 0 replicating up to `offset` with `entries`; slave 1 done with entries 1..=3.
    fn pending_with(offset: u64, entries: Vec<EntryProgress<'static>>) -> Option<String> {
        let targets = BTreeMap::from([
            (ClusterId::Slave(0), TargetProgress::Running { offset, entries }),
            (ClusterId::Slave(1), TargetProgress::Running { offset: 3, entries: (1..=3).map(|id| finished(id, 0)).collect() }),
        ]);
        ReplicationLiveness.pending(&ledger(), &Fake { source_last: Some(3), targets })
    }

    #[test]
    fn targets_that_fetched_and_finished_everything_converged() {
        assert_eq!(pending_with(3, vec![finished(1, 0), finished(2, 1), finished(3, 0)]), None);
    }

    #[test]
    fn a_lane_behind_an_entry_that_can_never_run_waits_for_an_operator() {
        // Its lane is stuck until someone skips entry 2; the other lane finished.
        let entries = vec![finished(1, 1), entry(2, EntryState::Failed, 0, true), entry(3, EntryState::Waiting, 0, false)];
        assert_eq!(pending_with(3, entries), None);
    }

    #[test]
    fn a_target_behind_the_source_is_pending() {
        let reason = pending_with(2, vec![finished(1, 0), finished(2, 0)]).expect("pending");
        assert!(reason.contains("slave0 fetched up to entry 2 of 3"), "{reason}");
    }

    #[test]
    fn an_unfinished_entry_in_a_lane_that_can_move_is_pending() {
        // Lane 0 is stuck, lane 1 is not: its waiting entry must finish.
        let entries = vec![entry(1, EntryState::Failed, 0, true), entry(2, EntryState::Waiting, 1, false), finished(3, 0)];
        let reason = pending_with(3, entries).expect("pending");
        assert!(reason.contains("slave0: entry 2 is WAITING"), "{reason}");
    }

    #[test]
    fn a_failure_that_a_retry_heals_is_pending() {
        let entries = vec![finished(1, 0), entry(2, EntryState::Failed, 0, false), finished(3, 1)];
        let reason = pending_with(3, entries).expect("pending");
        assert!(reason.contains("slave0: entry 2 is FAILED"), "{reason}");
    }

    #[test]
    fn an_entry_ahead_of_a_never_running_failure_in_its_lane_is_pending() {
        // Entry 1 is not queued behind entry 2: in DolphinDB's slave the tasks of a group run in
        // parallel and a failed one does not hold back its siblings (the model's `due` dispatches
        // them), so entry 1 waiting for ever is a liveness bug the checker does not report.
        let entries = vec![entry(1, EntryState::Waiting, 0, false), entry(2, EntryState::Failed, 0, true), finished(3, 1)];
        let reason = pending_with(3, entries).expect("pending");
        assert!(reason.contains("slave0: entry 1 is WAITING"), "{reason}");
    }

    #[test]
    fn a_group_mate_of_a_never_running_failure_is_pending_and_a_later_group_waits() {
        // Entries 2 and 3 share group 2 with the failed entry 1: they run beside it and must finish;
        // entry 4, of group 3, waits behind the failure.
        let entries = vec![
            in_group(1, EntryState::Failed, 0, 2, true),
            in_group(2, EntryState::Finished, 0, 2, false),
            in_group(3, EntryState::Waiting, 0, 2, false),
            in_group(4, EntryState::Waiting, 0, 3, false),
        ];
        let reason = pending_with(3, entries.clone()).expect("pending");
        assert!(reason.contains("slave0: entry 3 is WAITING"), "{reason}");
        let mut done = entries;
        done[2].state = EntryState::Finished;
        assert_eq!(pending_with(3, done), None);
    }

    #[test]
    fn a_target_without_a_leader_is_pending_and_a_stopped_one_is_not() {
        let progress = |slave0| Fake {
            source_last: Some(3),
            targets: BTreeMap::from([(ClusterId::Slave(0), slave0), (ClusterId::Slave(1), TargetProgress::Stopped)]),
        };
        let reason = ReplicationLiveness.pending(&ledger(), &progress(TargetProgress::NoLeader)).expect("pending");
        assert!(reason.contains("slave0 has no leader"), "{reason}");
        // Stopped by an operator: what it has not done is in its status, not a liveness failure.
        assert_eq!(ReplicationLiveness.pending(&ledger(), &progress(TargetProgress::Stopped)), None);
    }
}

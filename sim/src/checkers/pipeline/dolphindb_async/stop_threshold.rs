//! The stop threshold (DolphinDB cluster replication: a task that fails `max_failures` times in a
//! row makes the slave's replication STOPPED; `startClusterReplication` sets the FAILED tasks
//! WAITING again and counts from zero): a slave controller goes STOPPED exactly when some task's
//! consecutive failure count reaches `max_failures` (in the step that applies that failure, not one
//! failure earlier or later), and never goes STOPPED otherwise.
//!
//! Judged per slave controller, on the replication facts alone and with the checker's own count
//! (no model code decides): `TaskFailed` adds one to its task's count, `Restarted` sets the counts
//! of the tasks it names to zero, `StateChanged` and `Resynced` give the controller's state. A
//! manual `stopClusterReplication` makes the slave DISABLED, not STOPPED, so a `StateChanged` to
//! STOPPED has only one cause: the failures. A failure that reaches the threshold while the
//! controller is not STOPPED must be followed at once, by the same controller, by its
//! `StateChanged` to STOPPED (a controller reports the facts of one applied command together, in
//! order); a `StateChanged` to STOPPED at any other point is refused, and so is a run that ends
//! with the stop still owed.
//!
//! After a `Resynced` (a restart or an installed snapshot) the snapshot names each task's state but
//! not its failure count. A restart from the initial state replays every failure and is counted
//! exactly; for a task the snapshot holds unfinished, the count is unknown until its next
//! `TaskFailed`, whose reported count the checker then takes (and its own count from there on).
//! While a task's count is known, the reported count must equal it.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::fact::ReplSnapshot;
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::{ReplFact, ReplicationState, TaskId};

use super::ledger::AsyncLedger;
use crate::checkers::Checker;
use crate::topology::ClusterId;

/// The checker's name.
pub const NAME: &str = "stop-threshold";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: a task failing max_failures times in a row makes the slave's replication STOPPED; startClusterReplication restarts the FAILED tasks";

/// What the checker knows of one slave controller.
#[derive(Debug, Clone)]
struct Controller {
    /// Its replication state.
    state: ReplicationState,
    /// Each task's consecutive failures; `None` when unknown (held by a snapshot unfinished).
    failures: BTreeMap<TaskId, Option<u32>>,
    /// A failure that reached the threshold: `(task, count)`; its STOPPED must come next.
    owed: Option<(TaskId, u32)>,
}

impl Controller {
    fn fresh() -> Self {
        Controller { state: ReplicationState::Enabled, failures: BTreeMap::new(), owed: None }
    }
}

/// Judges every slave controller's failures and state changes.
#[derive(Debug, Default)]
pub struct StopThreshold {
    /// Each slave's `max_failures`.
    max_failures: BTreeMap<ClusterId, u32>,
    /// Each slave controller.
    controllers: BTreeMap<NodeId, Controller>,
}

impl StopThreshold {
    /// The checker for slaves with these thresholds.
    pub fn new(max_failures: BTreeMap<ClusterId, u32>) -> Self {
        StopThreshold { max_failures, controllers: BTreeMap::new() }
    }
}

impl<V: ?Sized> Checker<AsyncLedger, ReplFact, V> for StopThreshold {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &AsyncLedger, node: NodeId, fact: &ReplFact) -> Result<(), String> {
        let Some(slave) = ledger.slave_of(node) else { return Ok(()) };
        let Some(&max) = self.max_failures.get(&slave) else { return Ok(()) };
        let c = self.controllers.entry(node).or_insert_with(Controller::fresh);
        if let Some((task, count)) = c.owed.take() {
            if fact != &(ReplFact::StateChanged { state: ReplicationState::Stopped }) {
                return Err(format!(
                    "task {task} failed {count} times in a row (max_failures {max}) and {} did not go STOPPED: next came {fact:?}",
                    slave.name()
                ));
            }
            c.state = ReplicationState::Stopped;
            return Ok(());
        }
        match fact {
            ReplFact::TaskFailed { task, failures: reported, .. } => {
                let count = match c.failures.get(task).copied().flatten() {
                    Some(before) => before + 1,
                    None if c.failures.contains_key(task) => *reported,
                    None => 1,
                };
                if count != *reported {
                    return Err(format!(
                        "task {task} reported failed {reported} times in a row, its failures since the last restart are {count}"
                    ));
                }
                c.failures.insert(*task, Some(count));
                if count >= max && c.state != ReplicationState::Stopped {
                    c.owed = Some((*task, count));
                }
            }
            ReplFact::Restarted { tasks } => {
                for id in tasks {
                    c.failures.insert(*id, Some(0));
                }
            }
            ReplFact::TaskFinished { task, .. } => {
                c.failures.remove(task);
            }
            ReplFact::StateChanged { state } => {
                if *state == ReplicationState::Stopped {
                    let worst = c.failures.iter().filter_map(|(id, n)| n.map(|n| (n, *id))).max();
                    let worst = worst.map_or("no task failed".to_string(), |(n, id)| format!("task {id} failed {n} times"));
                    return Err(format!(
                        "{} went STOPPED, but no failure had just reached max_failures {max} ({worst} in a row)",
                        slave.name()
                    ));
                }
                c.state = *state;
            }
            ReplFact::Resynced { state: ReplSnapshot::Slave { tasks, state, .. } } => {
                *c = Controller::fresh();
                c.state = *state;
                for (id, s) in tasks {
                    if *s != SlaveTaskState::Finished {
                        c.failures.insert(*id, None);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn at_end(&self, ledger: &AsyncLedger, _: &V) -> Result<(), String> {
        for (node, c) in &self.controllers {
            if let (Some((task, count)), Some(slave)) = (c.owed, ledger.slave_of(*node)) {
                return Err(format!(
                    "task {task} failed {count} times in a row (max_failures {}) and {} never went STOPPED",
                    self.max_failures[&slave],
                    slave.name()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::pipeline::dolphindb_async::test_support::{dispatched, enqueued, ledger, part, pulled, run, task};
    use crate::checkers::pipeline::test_support::{node, slave};

    const MAX: u32 = 3;

    fn checker() -> StopThreshold {
        StopThreshold::new(BTreeMap::from([(ClusterId::Slave(0), MAX)]))
    }

    fn failed(id: TaskId, failures: u32) -> (NodeId, ReplFact) {
        (slave(0), ReplFact::TaskFailed { task: id, reason: "Missing TaskData".into(), failures })
    }

    fn state(state: ReplicationState) -> (NodeId, ReplFact) {
        (slave(0), ReplFact::StateChanged { state })
    }

    /// Slave 0 pulls and runs task 1, which then fails `failures` times, each followed by `after`
    /// (the facts the controller reported with that failure); then `tail`.
    fn history(after: impl Fn(u32) -> Vec<(NodeId, ReplFact)>, failures: u32, tail: &[(NodeId, ReplFact)]) -> Vec<(NodeId, ReplFact)> {
        let t = task(1, 1, "dfs://a", vec![part("dfs://a", 1)]);
        let mut facts = vec![enqueued(&t), (slave(0), pulled(std::slice::from_ref(&t)))];
        for n in 1..=failures {
            facts.push((slave(0), dispatched(&t, node("slave0.datanode.0"))));
            facts.push(failed(1, n));
            facts.extend(after(n));
        }
        facts.extend_from_slice(tail);
        facts
    }

    /// The verdict on `facts`, the end included.
    fn judged(facts: &[(NodeId, ReplFact)]) -> Result<(), String> {
        let (mut c, mut l) = (checker(), ledger());
        run(&mut c, &mut l, facts)?;
        Checker::<AsyncLedger, ReplFact, ()>::at_end(&c, &l, &())
    }

    fn stop_at(at: u32) -> impl Fn(u32) -> Vec<(NodeId, ReplFact)> {
        move |n| if n == at { vec![state(ReplicationState::Stopped)] } else { vec![] }
    }

    #[test]
    fn stopping_at_the_threshold_passes_and_a_restart_counts_from_zero() {
        let restart = [
            (slave(0), ReplFact::Restarted { tasks: vec![1] }),
            state(ReplicationState::Enabled),
            failed(1, 1),
            failed(1, 2),
            failed(1, 3),
            state(ReplicationState::Stopped),
        ];
        assert_eq!(judged(&history(stop_at(MAX), MAX, &restart)), Ok(()));
    }

    #[test]
    fn a_manual_stop_is_disabled_and_passes() {
        assert_eq!(judged(&history(stop_at(0), MAX - 1, &[state(ReplicationState::Disabled)])), Ok(()));
    }

    #[test]
    fn a_stop_one_failure_late_is_refused() {
        let err = judged(&history(stop_at(MAX + 1), MAX + 1, &[])).unwrap_err();
        assert!(err.contains("task 1 failed 3 times in a row (max_failures 3) and slave0 did not go STOPPED"), "{err}");
    }

    #[test]
    fn a_missing_stop_at_the_end_of_the_run_is_refused() {
        let err = judged(&history(stop_at(0), MAX, &[])).unwrap_err();
        assert!(err.contains("never went STOPPED"), "{err}");
    }

    #[test]
    fn a_stop_one_failure_early_is_refused() {
        let err = judged(&history(stop_at(MAX - 1), MAX - 1, &[])).unwrap_err();
        assert!(err.contains("slave0 went STOPPED, but no failure had just reached max_failures 3 (task 1 failed 2 times"), "{err}");
    }

    #[test]
    fn a_stop_without_failures_is_refused() {
        let err = judged(&history(stop_at(0), 0, &[state(ReplicationState::Stopped)])).unwrap_err();
        assert!(err.contains("no task failed"), "{err}");
    }

    #[test]
    fn a_restart_resets_the_count() {
        // Two failures, a restart, two more: four failures, never three in a row.
        let restart = [(slave(0), ReplFact::Restarted { tasks: vec![1] }), failed(1, 1), failed(1, 2), state(ReplicationState::Stopped)];
        let err = judged(&history(stop_at(0), 2, &restart)).unwrap_err();
        assert!(err.contains("went STOPPED, but no failure had just reached"), "{err}");
    }

    #[test]
    fn a_wrong_reported_count_is_refused() {
        let err = judged(&history(stop_at(0), 1, &[failed(1, 3)])).unwrap_err();
        assert!(err.contains("reported failed 3 times in a row, its failures since the last restart are 2"), "{err}");
    }

    #[test]
    fn after_a_snapshot_an_unfinished_task_takes_its_reported_count() {
        let snapshot = ReplSnapshot::Slave { offset: 1, tasks: vec![(1, SlaveTaskState::Failed)], state: ReplicationState::Enabled };
        let tail = [(slave(0), ReplFact::Resynced { state: snapshot }), failed(1, 3), state(ReplicationState::Stopped)];
        assert_eq!(judged(&history(stop_at(0), 2, &tail)), Ok(()));
    }
}

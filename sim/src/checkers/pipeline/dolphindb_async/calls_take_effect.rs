//! Management calls take effect (DolphinDB's function reference: `stopClusterReplication` makes
//! the cluster's replication DISABLED, `startClusterReplication` ENABLED; `skipClusterReplicationTask`
//! finishes the tasks it names, and only those): a call answered ok did what it was asked.
//!
//! Judged per controller, at its answer. A controller answers a call in the step that applies it,
//! right after the facts the call's command made true, so at the answer the controller's state (as
//! its own facts tell it) is the one the call left, and the tasks it reported skipped just before
//! are the ones the call skipped. An ok'd stop leaves that controller DISABLED, an ok'd start
//! ENABLED (master and slave alike) and, on a slave, no task FAILED (every FAILED task runs again
//! from scratch: its `Restarted` fact names it); an ok'd skip reported skipped only tasks it named, and left
//! none of them unfinished.
//!
//! A skip drops a task for good: a controller never dispatches, nor commits, a task it reported
//! skipped (DolphinDB's manual: a skipped task is not executed). Judged on the controller's own
//! facts since its last `Resynced` (a controller replaying its log from an older snapshot reports
//! the dispatches from before the skip again, in their order).

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::{AdminCall, AdminResult, ReplFact, ReplicationState, TaskId};

use super::ledger::AsyncLedger;
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "calls-take-effect";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: stopClusterReplication disables, startClusterReplication enables, skipClusterReplicationTask finishes the tasks named, which never run afterwards (DolphinDB's function reference)";

/// What the checker judges: a controller's replication fact, or its answer to a call.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// A replication fact.
    Fact(&'a ReplFact),
    /// The answer to a management call.
    Answer(&'a AdminCall, &'a AdminResult),
}

/// Judges every answered start, stop and skip.
#[derive(Debug, Default)]
pub struct CallsTakeEffect {
    /// Per controller: the tasks its facts just reported skipped, since its last other fact.
    skipped_just_now: BTreeMap<NodeId, BTreeSet<TaskId>>,
    /// Per controller: every task its facts reported skipped since its last `Resynced`.
    skipped: BTreeMap<NodeId, BTreeSet<TaskId>>,
}

impl CallsTakeEffect {
    /// Follows a fact of controller `node` for the skips it reports; refuses a dispatch or a
    /// commit of a task the controller skipped.
    fn follow_skips(&mut self, node: NodeId, fact: &ReplFact) -> Result<(), String> {
        let (task, what) = match fact {
            ReplFact::TaskFinished { task, skipped: true } => {
                self.skipped.entry(node).or_default().insert(*task);
                return Ok(());
            }
            ReplFact::Resynced { .. } => {
                self.skipped.remove(&node);
                return Ok(());
            }
            ReplFact::Dispatched { task, .. } => (task, "dispatched"),
            ReplFact::TaskCommitted { task, .. } => (task, "committed"),
            _ => return Ok(()),
        };
        match self.skipped.get(&node).is_some_and(|s| s.contains(task)) {
            true => Err(format!("controller {node} {what} task {task} after it skipped the task")),
            false => Ok(()),
        }
    }
}

impl<V: ?Sized> Checker<AsyncLedger, Step<'_>, V> for CallsTakeEffect {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &AsyncLedger, node: NodeId, step: &Step<'_>) -> Result<(), String> {
        if let Step::Fact(fact) = *step {
            self.follow_skips(node, fact)?;
        }
        let (call, result) = match *step {
            Step::Fact(ReplFact::TaskFinished { task, skipped: true }) => {
                self.skipped_just_now.entry(node).or_default().insert(*task);
                return Ok(());
            }
            Step::Fact(_) => {
                self.skipped_just_now.remove(&node);
                return Ok(());
            }
            Step::Answer(call, result) => (call, result),
        };
        let skipped = self.skipped_just_now.remove(&node).unwrap_or_default();
        if result.is_err() {
            return Ok(());
        }
        let view = ledger.views.get(&node);
        // A controller that reported no state change is in the state every cluster starts in.
        let state = view.and_then(|v| v.state).unwrap_or(ReplicationState::Enabled);
        let asked = match call {
            AdminCall::StopClusterReplication => ReplicationState::Disabled,
            AdminCall::StartClusterReplication => ReplicationState::Enabled,
            AdminCall::SkipClusterReplicationTask { tasks } => {
                if let Some(other) = skipped.iter().find(|t| !tasks.contains(t)) {
                    return Err(format!("controller {node} answered ok to skipping tasks {tasks:?} and skipped task {other} too"));
                }
                let left = tasks.iter().find(|t| view.and_then(|v| v.states.get(t)).is_some_and(|s| *s != SlaveTaskState::Finished));
                return match left {
                    Some(t) => Err(format!("controller {node} answered ok to skipping tasks {tasks:?} and left task {t} unfinished")),
                    None => Ok(()),
                };
            }
            _ => return Ok(()),
        };
        if state != asked {
            return Err(format!("controller {node} answered ok to {call:?}, but its replication is {}", state.name()));
        }
        let still_failed = view.and_then(|v| v.states.iter().find(|(_, s)| **s == SlaveTaskState::Failed));
        if let (ReplicationState::Enabled, Some((task, _))) = (asked, still_failed) {
            return Err(format!("controller {node} answered ok to {call:?} and left task {task} FAILED"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::pipeline::dolphindb_async::ledger::event_of;
    use crate::checkers::pipeline::dolphindb_async::test_support::{dispatched, enqueued, ledger, part, pulled, task};
    use crate::checkers::pipeline::test_support::{master, node, slave, slave_controller};

    /// Judges `steps` in order, each against the ledger before it, which then follows its fact.
    fn judged(steps: &[(NodeId, Step<'_>)]) -> Result<(), String> {
        let (mut c, mut l) = (CallsTakeEffect::default(), ledger());
        for (node, step) in steps {
            Checker::<AsyncLedger, Step<'_>, ()>::on_fact(&mut c, &l, *node, step)?;
            if let Step::Fact(f) = step {
                l.apply(*node, f, event_of(f).as_ref());
            }
        }
        Ok(())
    }

    const OK: AdminResult = Ok(ccrsim_model::pipeline::dolphindb_async::AdminReply::Done);

    #[test]
    fn a_stop_and_a_start_that_change_the_state_pass() {
        let (disabled, enabled) =
            (ReplFact::StateChanged { state: ReplicationState::Disabled }, ReplFact::StateChanged { state: ReplicationState::Enabled });
        let steps = [
            (master(), Step::Fact(&disabled)),
            (master(), Step::Answer(&AdminCall::StopClusterReplication, &OK)),
            (master(), Step::Fact(&enabled)),
            (master(), Step::Answer(&AdminCall::StartClusterReplication, &OK)),
            // A start of a running cluster changes nothing and is right.
            (master(), Step::Answer(&AdminCall::StartClusterReplication, &OK)),
        ];
        assert_eq!(judged(&steps), Ok(()));
    }

    /// Slave 0 holds task 1 FAILED and is STOPPED; then `restarted` and the answer to a start.
    fn start_after_a_failure(restarted: &[TaskId]) -> Result<(), String> {
        let t1 = task(1, 1, "dfs://a", vec![part("dfs://a", 1)]);
        let mut facts = vec![enqueued(&t1).1, pulled(std::slice::from_ref(&t1))];
        facts.push(ReplFact::TaskFailed { task: 1, reason: "Missing TaskData".into(), failures: 1 });
        facts.push(ReplFact::StateChanged { state: ReplicationState::Stopped });
        if !restarted.is_empty() {
            facts.push(ReplFact::Restarted { tasks: restarted.to_vec() });
        }
        facts.push(ReplFact::StateChanged { state: ReplicationState::Enabled });
        let mut steps: Vec<(NodeId, Step<'_>)> =
            facts.iter().map(|f| (if matches!(f, ReplFact::Enqueued { .. }) { master() } else { slave(0) }, Step::Fact(f))).collect();
        steps.push((slave(0), Step::Answer(&AdminCall::StartClusterReplication, &OK)));
        judged(&steps)
    }

    #[test]
    fn a_start_that_restarts_every_failed_task_passes() {
        assert_eq!(start_after_a_failure(&[1]), Ok(()));
    }

    #[test]
    fn a_start_answered_ok_that_leaves_a_task_failed_is_refused() {
        let err = start_after_a_failure(&[]).unwrap_err();
        assert!(err.contains("answered ok to StartClusterReplication and left task 1 FAILED"), "{err}");
    }

    #[test]
    fn a_stop_answered_ok_that_leaves_replication_enabled_is_refused() {
        let err = judged(&[(master(), Step::Answer(&AdminCall::StopClusterReplication, &OK))]).unwrap_err();
        assert!(err.contains("answered ok to StopClusterReplication, but its replication is ENABLED"), "{err}");
    }

    /// Slave 0 holds tasks 1 to 3 of one queue, unfinished, and is stopped.
    fn held() -> Vec<ReplFact> {
        let tasks: Vec<_> = (1..=3).map(|id| task(id, id, "dfs://a", vec![part("dfs://a", 1)])).collect();
        let mut facts: Vec<ReplFact> = tasks.iter().map(|t| enqueued(t).1).collect();
        facts.push(pulled(&tasks));
        facts.push(ReplFact::StateChanged { state: ReplicationState::Disabled });
        facts
    }

    fn skip_steps<'a>(held: &'a [ReplFact], skipped: &'a [ReplFact], call: &'a AdminCall) -> Vec<(NodeId, Step<'a>)> {
        let mut steps: Vec<(NodeId, Step<'a>)> =
            held.iter().map(|f| (if matches!(f, ReplFact::Enqueued { .. }) { master() } else { slave(0) }, Step::Fact(f))).collect();
        steps.extend(skipped.iter().map(|f| (slave(0), Step::Fact(f))));
        steps.push((slave(0), Step::Answer(call, &OK)));
        steps
    }

    #[test]
    fn a_skip_finishing_exactly_the_named_tasks_passes() {
        let (held, call) = (held(), AdminCall::SkipClusterReplicationTask { tasks: vec![1] });
        let skipped = [ReplFact::TaskFinished { task: 1, skipped: true }];
        assert_eq!(judged(&skip_steps(&held, &skipped, &call)), Ok(()));
    }

    #[test]
    fn a_skip_finishing_tasks_not_named_is_refused() {
        let (held, call) = (held(), AdminCall::SkipClusterReplicationTask { tasks: vec![1] });
        let skipped = [ReplFact::TaskFinished { task: 1, skipped: true }, ReplFact::TaskFinished { task: 2, skipped: true }];
        let err = judged(&skip_steps(&held, &skipped, &call)).unwrap_err();
        assert!(err.contains("answered ok to skipping tasks [1] and skipped task 2 too"), "{err}");
    }

    #[test]
    fn a_skipped_task_dispatched_again_is_refused() {
        let (held, call) = (held(), AdminCall::SkipClusterReplicationTask { tasks: vec![1] });
        let skipped = [ReplFact::TaskFinished { task: 1, skipped: true }];
        let t1 = task(1, 1, "dfs://a", vec![part("dfs://a", 1)]);
        let mut steps = skip_steps(&held, &skipped, &call);
        let again = [ReplFact::StateChanged { state: ReplicationState::Enabled }, dispatched(&t1, node("slave0.datanode.0"))];
        steps.extend(again.iter().map(|f| (slave(0), Step::Fact(f))));
        let err = judged(&steps).unwrap_err();
        assert!(err.contains("dispatched task 1 after it skipped the task"), "{err}");
    }

    #[test]
    fn a_skipped_task_committed_is_refused() {
        let (held, call) = (held(), AdminCall::SkipClusterReplicationTask { tasks: vec![1] });
        let skipped = [ReplFact::TaskFinished { task: 1, skipped: true }];
        let mut steps = skip_steps(&held, &skipped, &call);
        let commit = ReplFact::TaskCommitted { task: 1, tid: 501 };
        steps.push((slave(0), Step::Fact(&commit)));
        let err = judged(&steps).unwrap_err();
        assert!(err.contains("committed task 1 after it skipped the task"), "{err}");
    }

    #[test]
    fn dispatches_replayed_after_a_resync_and_other_tasks_pass() {
        // Task 2 runs after task 1 was skipped; then the controller restarts from a snapshot
        // taken before the skip and replays the dispatch of task 1 from its log.
        let (held, call) = (held(), AdminCall::SkipClusterReplicationTask { tasks: vec![1] });
        let skipped = [ReplFact::TaskFinished { task: 1, skipped: true }];
        let [t1, t2] = [1, 2].map(|id| task(id, id, "dfs://a", vec![part("dfs://a", 1)]));
        let resynced = ReplFact::Resynced {
            state: ccrsim_model::pipeline::dolphindb_async::fact::ReplSnapshot::Slave {
                offset: 3,
                tasks: vec![(1, SlaveTaskState::Waiting)],
                state: ReplicationState::Enabled,
            },
        };
        let later = [
            ReplFact::StateChanged { state: ReplicationState::Enabled },
            dispatched(&t2, node("slave0.datanode.0")),
            resynced,
            dispatched(&t1, node("slave0.datanode.0")),
        ];
        let mut steps = skip_steps(&held, &skipped, &call);
        steps.extend(later.iter().map(|f| (slave(0), Step::Fact(f))));
        assert_eq!(judged(&steps), Ok(()));
        // Another controller of the slave never skipped task 1 itself.
        let other = dispatched(&t1, node("slave0.datanode.0"));
        let mut steps = skip_steps(&held, &skipped, &call);
        steps.push((slave_controller(0, 1), Step::Fact(&other)));
        assert_eq!(judged(&steps), Ok(()));
    }

    #[test]
    fn a_skip_leaving_a_named_task_unfinished_is_refused() {
        let (held, call) = (held(), AdminCall::SkipClusterReplicationTask { tasks: vec![1, 3] });
        let skipped = [ReplFact::TaskFinished { task: 1, skipped: true }];
        let err = judged(&skip_steps(&held, &skipped, &call)).unwrap_err();
        assert!(err.contains("answered ok to skipping tasks [1, 3] and left task 3 unfinished"), "{err}");
    }
}

//! Replication states (DolphinDB cluster replication: a slave whose replication is DISABLED by
//! `stopClusterReplication` or STOPPED after `max_failures` stops pulling and dispatching; the
//! tasks already executing go on): a slave controller takes no pulled batch and dispatches no task
//! while its replication, as its own facts tell it, is not ENABLED. Tasks already sent to their
//! data nodes may still fail, commit and finish.
//!
//! Judged per slave controller, on its facts in the order it applied them (`StateChanged` and
//! `Resynced` give its state; the ledger follows them).

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::{ReplFact, ReplicationState};

use super::ledger::AsyncLedger;
use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "replication-states";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: a DISABLED or STOPPED slave stops pulling and dispatching tasks; executing tasks go on (DolphinDB's cluster replication manual, stopClusterReplication)";

/// Judges every pulled batch and every dispatch of a slave controller.
#[derive(Debug, Default)]
pub struct ReplicationStates;

impl<V: ?Sized> Checker<AsyncLedger, ReplFact, V> for ReplicationStates {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &AsyncLedger, node: NodeId, fact: &ReplFact) -> Result<(), String> {
        if ledger.slave_of(node).is_none() {
            return Ok(());
        }
        let what = match fact {
            ReplFact::Pulled { from, offset, .. } => format!("took the batch of tasks {from} to {offset}"),
            ReplFact::Dispatched { task, node: to, .. } => format!("dispatched task {task} to data node {to}"),
            _ => return Ok(()),
        };
        // A controller that reported no state is in the state every slave starts in.
        let state = ledger.views.get(&node).and_then(|v| v.state).unwrap_or(ReplicationState::Enabled);
        match state {
            ReplicationState::Enabled => Ok(()),
            other => Err(format!("controller {node} {what} while its replication is {}", other.name())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::pipeline::dolphindb_async::test_support::{dispatched, enqueued, ledger, part, pulled, run, task};
    use crate::checkers::pipeline::test_support::{node, slave};

    /// The master enqueued tasks 1 and 2, slave 0 took task 1, then did `facts`.
    fn judged(facts: &[ReplFact]) -> Result<(), String> {
        let tasks = [1, 2].map(|id| task(id, id, "dfs://a", vec![part("dfs://a", 1)]));
        let mut all: Vec<_> = tasks.iter().map(enqueued).collect();
        all.push((slave(0), pulled(&tasks[..1])));
        all.extend(facts.iter().map(|f| (slave(0), f.clone())));
        run(&mut ReplicationStates, &mut ledger(), &all)
    }

    fn t(id: u64) -> ccrsim_model::pipeline::dolphindb_async::Task {
        task(id, id, "dfs://a", vec![part("dfs://a", 1)])
    }

    fn state(state: ReplicationState) -> ReplFact {
        ReplFact::StateChanged { state }
    }

    #[test]
    fn an_enabled_slave_pulls_and_dispatches_and_a_stopped_one_lets_executing_tasks_end() {
        let to = node("slave0.datanode.0");
        let facts = [
            dispatched(&t(1), to),
            state(ReplicationState::Disabled),
            // Task 1 was executing: it may still commit and finish.
            ReplFact::TaskCommitted { task: 1, tid: 501 },
            ReplFact::TaskFinished { task: 1, skipped: false },
            state(ReplicationState::Enabled),
            pulled(&[t(2)]),
            dispatched(&t(2), to),
        ];
        assert_eq!(judged(&facts), Ok(()));
    }

    #[test]
    fn a_dispatch_while_disabled_is_refused() {
        let err = judged(&[state(ReplicationState::Disabled), dispatched(&t(1), node("slave0.datanode.0"))]).unwrap_err();
        assert!(err.contains("dispatched task 1 to data node") && err.contains("while its replication is DISABLED"), "{err}");
    }

    #[test]
    fn a_batch_taken_while_stopped_is_refused() {
        let err = judged(&[state(ReplicationState::Stopped), pulled(&[t(2)])]).unwrap_err();
        assert!(err.contains("took the batch of tasks 2 to 2 while its replication is STOPPED"), "{err}");
    }
}

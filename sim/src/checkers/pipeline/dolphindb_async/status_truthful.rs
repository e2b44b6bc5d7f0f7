//! The status API is truthful (DolphinDB's status functions: getMasterReplicationStatus,
//! getSlaveReplicationStatus, getSlaveReplicationQueueStatus, getRecentSlaveReplicationInfo,
//! getDatabaseClusterReplicationStatus): every answer agrees with what the answering controller
//! applied, as its own facts tell it. A task row carries the task the master enqueued; a state is
//! the one that controller reached; no unfinished task is left out; a queue's counts and current
//! group are its tasks'; a slave's reported progress never runs ahead of what it finished.

use ccrsim_model::core::io::NodeId;
use ccrsim_model::pipeline::dolphindb_async::admin::{MasterTaskRow, QueueRow, SlaveTaskRow};
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::{AdminReply, AdminResult, ReplicationState};

use super::ledger::{AsyncLedger, NodeView};
use crate::checkers::Checker;
use crate::topology::ClusterId;

/// The checker's name.
pub const NAME: &str = "status-truthful";
/// Where the property comes from.
pub const SOURCE: &str =
    "DolphinDB cluster replication: the status functions' documented columns and states (DolphinDB's function reference)";

/// Judges the answer of every management call (the fact judged is the answer).
#[derive(Debug, Default)]
pub struct StatusTruthful;

impl<V: ?Sized> Checker<AsyncLedger, AdminResult, V> for StatusTruthful {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, ledger: &AsyncLedger, node: NodeId, result: &AdminResult) -> Result<(), String> {
        check(ledger, node, result)
    }
}

/// Judges the answer of a management call made on `node`.
fn check(ledger: &AsyncLedger, node: NodeId, result: &AdminResult) -> Result<(), String> {
    let Ok(reply) = result else { return Ok(()) };
    let empty = NodeView::fresh();
    let view = ledger.views.get(&node).unwrap_or(&empty);
    match reply {
        AdminReply::Done => Ok(()),
        AdminReply::MasterTasks(rows) => master_rows(ledger, view, rows),
        AdminReply::SlaveTasks(rows) => slave_rows(ledger, view, rows),
        AdminReply::Queues(rows) => queue_rows(ledger, node, view, rows),
        AdminReply::Slaves(rows) => {
            for r in rows {
                let truth = ledger.pipeline.targets.get(&ClusterId::Slave(r.slave as u8)).map_or(1, |s| s.finished_below());
                if r.last_finished_task >= truth {
                    return Err(format!(
                        "slave {} reported finished up to task {}, but only tasks below {truth} finished",
                        r.slave, r.last_finished_task
                    ));
                }
            }
            Ok(())
        }
        AdminReply::Databases(rows) => {
            for r in rows {
                let known = ledger.settings.get(&r.db).is_some_and(|h| h.contains(&(r.enabled, r.exec_set)));
                if !known && (r.enabled, r.exec_set) != (false, 0) {
                    return Err(format!("{} shown enabled={} set={}, a setting it never had", r.db, r.enabled, r.exec_set));
                }
            }
            Ok(())
        }
    }
}

fn master_rows(ledger: &AsyncLedger, view: &NodeView, rows: &[MasterTaskRow]) -> Result<(), String> {
    for r in rows {
        let Some(t) = ledger.tasks.get(&r.task).filter(|_| r.task < view.next_task) else {
            return Err(format!("task {} shown, never enqueued by this controller", r.task));
        };
        let shown = (r.tid, r.group, r.kind, &r.db, &r.table, r.source, r.submit_ms);
        if shown != (t.tid, t.group, t.kind, &t.db, &t.table, t.source, t.submit_ms) {
            return Err(format!("task {} shown as {r:?}, enqueued as {t:?}", r.task));
        }
        if r.truncated != (r.task < view.truncated_below) {
            return Err(format!("task {} shown isTruncated={}, truncated below {}", r.task, r.truncated, view.truncated_below));
        }
    }
    Ok(())
}

fn slave_rows(ledger: &AsyncLedger, view: &NodeView, rows: &[SlaveTaskRow]) -> Result<(), String> {
    for r in rows {
        let Some(&state) = view.states.get(&r.task) else { return Err(format!("task {} shown, never pulled by this controller", r.task)) };
        if r.state != state {
            return Err(format!("task {} shown {}, this controller has it {}", r.task, r.state.name(), state.name()));
        }
        let Some(t) = ledger.tasks.get(&r.task) else { return Err(format!("task {} shown, never enqueued", r.task)) };
        if (r.master_tid, r.group, r.kind, &r.db, r.exec_set) != (t.tid, t.group, t.kind, &t.db, t.exec_set) {
            return Err(format!("task {} shown as {r:?}, enqueued as {t:?}", r.task));
        }
        if r.finish_ms.is_some() != (state == SlaveTaskState::Finished) {
            return Err(format!("task {} shown {} with finishTime {:?}", r.task, state.name(), r.finish_ms));
        }
    }
    let shown: std::collections::BTreeSet<u64> = rows.iter().map(|r| r.task).collect();
    if let Some((id, s)) = view.states.iter().find(|(id, s)| **s != SlaveTaskState::Finished && !shown.contains(id)) {
        return Err(format!("task {id} is {} on this controller but missing from the status", s.name()));
    }
    Ok(())
}

fn queue_rows(ledger: &AsyncLedger, node: NodeId, view: &NodeView, rows: &[QueueRow]) -> Result<(), String> {
    let Some(cluster) = ledger.slave_of(node) else { return Ok(()) };
    for r in rows {
        let members: Vec<(u64, u64, SlaveTaskState)> = view
            .states
            .iter()
            .filter(|(_, s)| **s != SlaveTaskState::Finished)
            .filter_map(|(id, s)| ledger.tasks.get(id).map(|t| (t, *s)))
            .filter(|(t, _)| ledger.queue_of(cluster, t) == (r.exec_set, r.queue))
            .map(|(t, s)| (t.id, t.group, s))
            .collect();
        if members.len() != r.unfinished {
            return Err(format!(
                "queue {:?} shown with {} unfinished tasks, this controller has {}",
                (r.exec_set, r.queue),
                r.unfinished,
                members.len()
            ));
        }
        let current = members.iter().map(|m| m.1).min();
        if r.group != current {
            return Err(format!(
                "queue {:?} shown executing group {:?}, its lowest unfinished group is {current:?}",
                (r.exec_set, r.queue),
                r.group
            ));
        }
        let failed = members.iter().any(|m| Some(m.1) == current && m.2 == SlaveTaskState::Failed);
        let expected = match (members.is_empty(), view.state.unwrap_or(ReplicationState::Enabled), failed) {
            (true, _, _) => "FINISHED",
            (false, ReplicationState::Disabled | ReplicationState::Stopped, _) => "STOPPED",
            (false, ReplicationState::Enabled, true) => "FAILED",
            (false, ReplicationState::Enabled, false) => "EXECUTING",
        };
        if r.status != expected {
            return Err(format!("queue {:?} shown {}, expected {expected}", (r.exec_set, r.queue), r.status));
        }
    }
    Ok(())
}

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
use super::rules::{FINISHED_ROWS_SHOWN, SKIPPED_DETAILS};
use crate::checkers::Checker;
use crate::checkers::pipeline::eventual_consistency::{Shown, ShownStatus};
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
        AdminReply::SlaveTasks(rows) => slave_rows(ledger, ledger.slave_of(node), view, rows),
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

/// A slave controller's getSlaveReplicationStatus answer as the end-state check reads it (what the
/// operator last saw), if `node` is a slave's: each row's task as unfinished, FAILED with its
/// details, skipped (details "skipped") or FINISHED; the tasks it must show are those the
/// controller held when it answered, less the finished ones that may have aged out of it.
pub fn shown_status(ledger: &AsyncLedger, node: NodeId, rows: &[SlaveTaskRow]) -> Option<(ClusterId, ShownStatus)> {
    let slave = ledger.slave_of(node)?;
    let shown = rows
        .iter()
        .map(|r| {
            let how = match r.state {
                SlaveTaskState::Waiting | SlaveTaskState::Executing => Shown::Unfinished,
                SlaveTaskState::Failed => Shown::Failed(r.details.clone()),
                SlaveTaskState::Finished if r.details == SKIPPED_DETAILS => Shown::Skipped,
                SlaveTaskState::Finished => Shown::Finished,
            };
            (r.task, how)
        })
        .collect();
    let held_up_to = ledger.views.get(&node).and_then(|v| v.states.last_key_value()).map_or(0, |(&id, _)| id);
    let must_show = held_up_to.saturating_sub(FINISHED_ROWS_SHOWN - 1).max(1)..=held_up_to;
    Some((slave, ShownStatus { rows: shown, must_show }))
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
    // Every task held, or the newest `limit`: dense, up to the newest this controller enqueued
    // (the master drops only truncated rows, oldest first). An empty answer is not judged (a
    // `limit` of 0 asks for none).
    if let Some(last) = rows.last()
        && last.task + 1 != view.next_task
    {
        return Err(format!("the newest task shown is {}, this controller enqueued up to task {}", last.task, view.next_task - 1));
    }
    if let Some(w) = rows.windows(2).find(|w| w[1].task != w[0].task + 1) {
        return Err(format!("tasks {} and {} shown next to each other: the tasks between are left out", w[0].task, w[1].task));
    }
    Ok(())
}

fn slave_rows(ledger: &AsyncLedger, slave: Option<ClusterId>, view: &NodeView, rows: &[SlaveTaskRow]) -> Result<(), String> {
    for r in rows {
        let Some(&state) = view.states.get(&r.task) else { return Err(format!("task {} shown, never pulled by this controller", r.task)) };
        if r.state != state {
            return Err(format!("task {} shown {}, this controller has it {}", r.task, r.state.name(), state.name()));
        }
        let Some(t) = ledger.tasks.get(&r.task) else { return Err(format!("task {} shown, never enqueued", r.task)) };
        if (r.master_tid, r.group, r.kind, &r.db, r.exec_set) != (t.tid, t.group, t.kind, &t.db, t.exec_set) {
            return Err(format!("task {} shown as {r:?}, enqueued as {t:?}", r.task));
        }
        if (&r.table, r.source) != (&t.table, t.source) {
            return Err(format!(
                "task {} shown on table {:?} from {:?}, enqueued on {:?} from {:?}",
                r.task, r.table, r.source, t.table, t.source
            ));
        }
        if let Some(queue) = slave.map(|c| ledger.queue_of(c, t).1).filter(|&q| q != r.queue) {
            return Err(format!("task {} shown in queue {}, its database's queue is {queue}", r.task, r.queue));
        }
        if r.finish_ms.is_some() != (state == SlaveTaskState::Finished) {
            return Err(format!("task {} shown {} with finishTime {:?}", r.task, state.name(), r.finish_ms));
        }
        if let Some(details) = expected_details(view, r.task, state).filter(|d| *d != r.details) {
            return Err(format!("task {} shown {} with details {:?}, expected {details:?}", r.task, state.name(), r.details));
        }
    }
    let shown: std::collections::BTreeSet<u64> = rows.iter().map(|r| r.task).collect();
    if let Some((id, s)) = view.states.iter().find(|(id, s)| **s != SlaveTaskState::Finished && !shown.contains(id)) {
        return Err(format!("task {id} is {} on this controller but missing from the status", s.name()));
    }
    Ok(())
}

/// What a slave row's `details` must say, where this controller's facts tell it: a FAILED task's
/// last failure reason, "skipped" for a task skipped by hand. (Other rows, and tasks whose last
/// failure or skip came before the controller's last `Resynced`, are not judged.)
fn expected_details(view: &NodeView, task: u64, state: SlaveTaskState) -> Option<&str> {
    match state {
        SlaveTaskState::Failed => view.reasons.get(&task).map(String::as_str),
        SlaveTaskState::Finished if view.skipped.contains(&task) => Some(SKIPPED_DETAILS),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use ccrsim_model::core::io::NodeId;
    use ccrsim_model::pipeline::dolphindb_async::admin::{DbStatusRow, SlaveInfoRow};
    use ccrsim_model::pipeline::dolphindb_async::{ReplFact, Task};

    use super::*;
    use crate::checkers::pipeline::dolphindb_async::rules::queue_of;
    use crate::checkers::pipeline::dolphindb_async::test_support::{dispatched, done, enqueued, follow, ledger, part, pulled, task};
    use crate::checkers::pipeline::test_support::{QUEUES, master, node, slave};

    /// Two tasks on `dfs://a`, in two groups.
    fn tasks() -> [Task; 2] {
        [task(1, 1, "dfs://a", vec![part("dfs://a", 1)]), task(2, 2, "dfs://a", vec![part("dfs://a", 1)])]
    }

    /// The master enqueued [`tasks`] and truncated below 2; slave 0 pulled them, finished task 1 and
    /// runs task 2.
    fn history() -> AsyncLedger {
        let ([t1, t2], s0, to) = (tasks(), slave(0), node("slave0.datanode.0"));
        let mut facts = vec![enqueued(&t1), enqueued(&t2), (master(), ReplFact::Truncated { below: 2 })];
        facts.push((s0, pulled(&[t1.clone(), t2.clone()])));
        facts.push((s0, dispatched(&t1, to)));
        facts.extend(done(&t1).map(|f| (s0, f)));
        facts.push((s0, dispatched(&t2, to)));
        let mut l = ledger();
        follow(&mut l, &facts);
        l
    }

    /// The verdict on `reply` to a call made on `node`.
    fn answered(node: NodeId, reply: AdminReply) -> Result<(), String> {
        Checker::<AsyncLedger, AdminResult, ()>::on_fact(&mut StatusTruthful, &history(), node, &Ok(reply))
    }

    fn master_row(t: &Task, truncated: bool) -> MasterTaskRow {
        MasterTaskRow {
            task: t.id,
            tid: t.tid,
            group: t.group,
            kind: t.kind,
            submit_ms: t.submit_ms,
            db: t.db.clone(),
            table: t.table.clone(),
            source: t.source,
            truncated,
        }
    }

    fn slave_row(t: &Task, state: SlaveTaskState) -> SlaveTaskRow {
        SlaveTaskRow {
            task: t.id,
            master_tid: t.tid,
            group: t.group,
            exec_set: t.exec_set,
            queue: queue_of(&t.db, QUEUES),
            kind: t.kind,
            create_ms: 0,
            db: t.db.clone(),
            table: t.table.clone(),
            source: t.source,
            finish_ms: (state == SlaveTaskState::Finished).then_some(5),
            node: node("slave0.datanode.0"),
            state,
            details: String::new(),
        }
    }

    fn queue_row(unfinished: usize, group: Option<u64>, status: &'static str) -> QueueRow {
        QueueRow {
            exec_set: 0,
            queue: queue_of("dfs://a", QUEUES),
            unfinished,
            group,
            node: node("slave0.datanode.0"),
            executing_since_ms: None,
            status,
        }
    }

    fn slave_info(last_finished_task: u64) -> AdminReply {
        AdminReply::Slaves(vec![SlaveInfoRow {
            slave: 0,
            connected_controller: slave(0),
            controllers: vec![slave(0)],
            last_finished_task,
            last_pull_ms: None,
        }])
    }

    fn db_row(db: &str, enabled: bool, exec_set: u8) -> AdminReply {
        AdminReply::Databases(vec![DbStatusRow { db: db.into(), enabled, exec_set }])
    }

    #[test]
    fn answers_agreeing_with_what_the_controller_applied_pass() {
        let [t1, t2] = tasks();
        assert_eq!(answered(master(), AdminReply::MasterTasks(vec![master_row(&t1, true), master_row(&t2, false)])), Ok(()));
        let rows = vec![slave_row(&t1, SlaveTaskState::Finished), slave_row(&t2, SlaveTaskState::Executing)];
        assert_eq!(answered(slave(0), AdminReply::SlaveTasks(rows)), Ok(()));
        // A finished task may drop out of the status.
        assert_eq!(answered(slave(0), AdminReply::SlaveTasks(vec![slave_row(&t2, SlaveTaskState::Executing)])), Ok(()));
        assert_eq!(answered(slave(0), AdminReply::Queues(vec![queue_row(1, Some(2), "EXECUTING")])), Ok(()));
        assert_eq!(answered(master(), slave_info(1)), Ok(()));
        // A database never set shows disabled.
        assert_eq!(answered(master(), db_row("dfs://a", true, 0)), Ok(()));
        assert_eq!(answered(master(), db_row("dfs://z", false, 0)), Ok(()));
    }

    #[test]
    fn a_master_row_other_than_the_enqueued_task_is_refused() {
        let [t1, t2] = tasks();
        let mut wrong = master_row(&t2, false);
        wrong.group = 1;
        let err = answered(master(), AdminReply::MasterTasks(vec![wrong])).unwrap_err();
        assert!(err.contains("task 2 shown as"), "{err}");
        let err = answered(master(), AdminReply::MasterTasks(vec![master_row(&t1, false)])).unwrap_err();
        assert!(err.contains("task 1 shown isTruncated=false, truncated below 2"), "{err}");
        let err = answered(master(), AdminReply::MasterTasks(vec![master_row(&task(3, 2, "dfs://a", vec![]), false)])).unwrap_err();
        assert!(err.contains("task 3 shown, never enqueued by this controller"), "{err}");
    }

    #[test]
    fn a_slave_row_in_another_state_is_refused() {
        let [_, t2] = tasks();
        let err = answered(slave(0), AdminReply::SlaveTasks(vec![slave_row(&t2, SlaveTaskState::Waiting)])).unwrap_err();
        assert!(err.contains("task 2 shown WAITING, this controller has it EXECUTING"), "{err}");
    }

    #[test]
    fn an_unfinished_task_left_out_of_the_status_is_refused() {
        let [t1, _] = tasks();
        let err = answered(slave(0), AdminReply::SlaveTasks(vec![slave_row(&t1, SlaveTaskState::Finished)])).unwrap_err();
        assert!(err.contains("task 2 is EXECUTING on this controller but missing from the status"), "{err}");
    }

    #[test]
    fn a_queue_shown_with_other_counts_or_group_is_refused() {
        let err = answered(slave(0), AdminReply::Queues(vec![queue_row(2, Some(1), "EXECUTING")])).unwrap_err();
        assert!(err.contains("shown with 2 unfinished tasks, this controller has 1"), "{err}");
        let err = answered(slave(0), AdminReply::Queues(vec![queue_row(1, Some(1), "EXECUTING")])).unwrap_err();
        assert!(err.contains("shown executing group Some(1), its lowest unfinished group is Some(2)"), "{err}");
        let err = answered(slave(0), AdminReply::Queues(vec![queue_row(1, Some(2), "FINISHED")])).unwrap_err();
        assert!(err.contains("shown FINISHED, expected EXECUTING"), "{err}");
    }

    #[test]
    fn a_slave_progress_ahead_of_what_it_finished_is_refused() {
        let err = answered(master(), slave_info(2)).unwrap_err();
        assert!(err.contains("slave 0 reported finished up to task 2, but only tasks below 2 finished"), "{err}");
    }

    #[test]
    fn a_database_setting_it_never_had_is_refused() {
        let err = answered(master(), db_row("dfs://a", true, 1)).unwrap_err();
        assert!(err.contains("dfs://a shown enabled=true set=1, a setting it never had"), "{err}");
    }

    #[test]
    fn a_slave_answer_is_read_as_what_explains_a_difference() {
        let [t1, t2] = tasks();
        let mut skipped = slave_row(&t1, SlaveTaskState::Finished);
        skipped.details = SKIPPED_DETAILS.into();
        let mut failed = slave_row(&t2, SlaveTaskState::Failed);
        failed.details = "Missing TaskData".into();
        let (slave0, shown) = shown_status(&history(), slave(0), &[skipped, failed]).expect("a slave controller's answer");
        assert_eq!(slave0, ClusterId::Slave(0));
        assert_eq!(shown.rows, [(1, Shown::Skipped), (2, Shown::Failed("Missing TaskData".into()))].into());
        assert_eq!(shown.must_show, 1..=2, "the tasks slave 0's controller held");
        let applied = slave_row(&t1, SlaveTaskState::Finished);
        assert_eq!(shown_status(&history(), slave(0), &[applied]).expect("read").1.rows, [(1, Shown::Finished)].into());
        assert!(shown_status(&history(), master(), &[]).is_none(), "not a slave's answer");
    }

    #[test]
    fn slave_rows_show_the_tasks_table_source_queue_and_failure_reason() {
        let [t1, t2] = tasks();
        let mut l = history();
        let failed = ReplFact::TaskFailed { task: 2, reason: "Missing TaskData: gone".into(), failures: 1 };
        follow(&mut l, &[(slave(0), failed)]);
        let judged = |rows: Vec<SlaveTaskRow>| {
            Checker::<AsyncLedger, AdminResult, ()>::on_fact(&mut StatusTruthful, &l, slave(0), &Ok(AdminReply::SlaveTasks(rows)))
        };
        let row2 = |details: &str| SlaveTaskRow { details: details.into(), ..slave_row(&t2, SlaveTaskState::Failed) };
        let row1 = slave_row(&t1, SlaveTaskState::Finished);
        assert_eq!(judged(vec![row1.clone(), row2("Missing TaskData: gone")]), Ok(()));
        let err = judged(vec![row1.clone(), row2("")]).unwrap_err();
        assert!(err.contains("task 2 shown FAILED with details \"\", expected \"Missing TaskData: gone\""), "{err}");
        let other_queue = SlaveTaskRow { queue: row1.queue + 1, ..row1.clone() };
        let err = judged(vec![other_queue, row2("Missing TaskData: gone")]).unwrap_err();
        assert!(err.contains("task 1 shown in queue"), "{err}");
        let other_table = SlaveTaskRow { table: Some("elsewhere".into()), ..row1.clone() };
        let err = judged(vec![other_table, row2("Missing TaskData: gone")]).unwrap_err();
        assert!(err.contains("task 1 shown on table Some(\"elsewhere\")"), "{err}");
        // Skipped by hand: "skipped".
        follow(&mut l, &[(slave(0), ReplFact::TaskFinished { task: 2, skipped: true })]);
        let judged = |details: &str| {
            let rows = vec![
                row1.clone(),
                SlaveTaskRow { details: details.into(), finish_ms: Some(9), ..slave_row(&t2, SlaveTaskState::Finished) },
            ];
            Checker::<AsyncLedger, AdminResult, ()>::on_fact(&mut StatusTruthful, &l, slave(0), &Ok(AdminReply::SlaveTasks(rows)))
        };
        assert_eq!(judged(SKIPPED_DETAILS), Ok(()));
        assert!(judged("Missing TaskData: gone").unwrap_err().contains("expected \"skipped\""));
    }

    #[test]
    fn a_master_answer_leaving_out_its_newest_task_or_one_between_is_refused() {
        let [t1, t2] = tasks();
        let err = answered(master(), AdminReply::MasterTasks(vec![master_row(&t1, true)])).unwrap_err();
        assert!(err.contains("the newest task shown is 1, this controller enqueued up to task 2"), "{err}");
        let err = answered(master(), AdminReply::MasterTasks(vec![master_row(&t2, false), master_row(&t2, false)])).unwrap_err();
        assert!(err.contains("tasks 2 and 2 shown next to each other"), "{err}");
        // The newest `limit`, or none.
        assert_eq!(answered(master(), AdminReply::MasterTasks(vec![master_row(&t2, false)])), Ok(()));
        assert_eq!(answered(master(), AdminReply::MasterTasks(vec![])), Ok(()));
    }
}

//! Capture completeness (DolphinDB: `setDatabaseForClusterReplication` enables a database's
//! replication; `stopClusterReplication` on the master makes it DISABLED, and tasks created
//! afterwards are never enqueued): a master transaction on a database enabled for replication when
//! it begins is captured; a captured transaction decided commit that completes while its database
//! is still enabled and the master is ENABLED becomes exactly one task, enqueued in the apply step
//! of its completion; no other transaction becomes a task. A task carries its transaction's tid,
//! kind, footprint (its locks), source node (its coordinator), cid and operation (with its database
//! and table), and the execution set its database has when it is enqueued
//! (`setDatabaseClusterReplicationExecutionSet`).
//!
//! Judged per master controller, on the facts alone and with the checker's own reading of them (no
//! model code decides what is captured): `TxBegun` (its locks name the database; `TxDecided`'s
//! operation does when it took no lock), `TxDecided`, `TxCompleted`, and the replication facts
//! `DatabaseSet`, `StateChanged`, `Enqueued`, `Truncated` and `Resynced`.
//!
//! How a controller reports: it applies the one Raft log, and for each applied entry reports the
//! DFS facts (`TxCompleted`) and then, in the same step, the replication facts its hooks made true
//! (`Enqueued`). So its relevant facts are the log's, in log order, fact for fact: a `TxCompleted`
//! of a transaction that must become a task is followed at once, by the same controller, by the
//! `Enqueued` of that transaction. A controller that restarts reports `Resynced` with the state of
//! its snapshot (or the initial state) and replays its log from there, reporting those facts again;
//! one that installs a leader's snapshot reports `Resynced` and goes on after the snapshot's index.
//!
//! The checker therefore keeps the *history*: the relevant facts in log order, each as first
//! reported, with the master's marks (next task, truncation, ENABLED) before each, and derives from
//! it, at the first report of each fact, what each transaction's completion must do. Each master
//! controller has a place in that history. A fact at a place before the end must equal the
//! history's (a report again); at the end it extends the history. After a `Resynced`, the places
//! whose marks equal the snapshot's are the candidates; the controller's next facts are held until
//! only one candidate agrees with them (a fact naming a transaction or a task occurs once in the
//! history, so the first such fact settles it), then judged in order from there. A controller whose
//! facts agree with no place is not judged until its next `Resynced`. The verdict of a completion
//! is the history's, so a controller replaying after a snapshot is judged exactly as the first
//! reporter was: a replay that leaves out the task is caught too.
//!
//! What a task carries is judged when it is first reported, against the history before it: the
//! first `TxBegun` and the `TxDecided` of its transaction, and its database's setting as the
//! `DatabaseSet` facts left it there. A report again of the same task is `grouping`'s to compare
//! with the first.
//!
//! Not judged: whether a transaction whose database was not enabled at its BEGIN, but is at its
//! completion, becomes a task. Its database was enabled while it was open, and the model captures
//! an open transaction also when a retried BEGIN of it is applied (`tx.tag.captured |=` in
//! `DfsState::apply`); no fact tells whether one was, so either outcome is accepted. A task is
//! refused where that is decidable: its database not enabled, or the master DISABLED, when its
//! transaction completes.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::dfs::{LockKey, OperationKind, SharedOperation};
use ccrsim_model::pipeline::dolphindb_async::fact::ReplSnapshot;
use ccrsim_model::pipeline::dolphindb_async::{ReplFact, ReplicationState, Task, TaskId};
use ccrsim_model::replica::dolphindb_2pc::{Cid, Decision, DfsFact, Tid};

use crate::checkers::Checker;

/// The checker's name.
pub const NAME: &str = "capture-completeness";
/// Where the property comes from.
pub const SOURCE: &str = "DolphinDB cluster replication: setDatabaseForClusterReplication (a replicated database's transactions become tasks of the send queue), stopClusterReplication (DISABLED: tasks created afterwards are never enqueued), setDatabaseClusterReplicationExecutionSet (a task runs in its database's set of when it was enqueued)";

/// A fact the checker judges: the 2PC protocol's or the pipeline's.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// A DFS fact.
    Dfs(&'a DfsFact),
    /// A replication fact.
    Repl(&'a ReplFact),
}

/// One relevant fact of a master controller, as it stands in the log's order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Begun(Tid),
    Decided { tid: Tid, commit: bool },
    Completed(Tid),
    Enqueued { task: TaskId, tid: Tid },
    Truncated(TaskId),
    DatabaseSet { db: String, enabled: bool, exec_set: u8 },
    StateChanged { enabled: bool },
}

/// A step that occurs once in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Begun(Tid),
    Decided(Tid),
    Completed(Tid),
    Enqueued(TaskId),
    Truncated(TaskId),
}

impl Step {
    fn key(&self) -> Option<Key> {
        match self {
            Step::Begun(t) => Some(Key::Begun(*t)),
            Step::Decided { tid, .. } => Some(Key::Decided(*tid)),
            Step::Completed(t) => Some(Key::Completed(*t)),
            Step::Enqueued { task, .. } => Some(Key::Enqueued(*task)),
            Step::Truncated(b) => Some(Key::Truncated(*b)),
            Step::DatabaseSet { .. } | Step::StateChanged { .. } => None,
        }
    }
}

/// What a fact tells beyond its step: what the task of a transaction must carry is judged against
/// it when the task is first reported.
#[derive(Debug, Clone)]
enum Detail {
    /// Nothing beyond the step.
    None,
    /// A BEGIN: the database its locks name (if one), and what the transaction is.
    Begun { db: Option<String>, begun: Begun },
    /// A decision: the database its operation names (commits carry their operation), and the cid.
    Decided { db: Option<String>, commit: Option<(Cid, SharedOperation)> },
    /// A task entered the queue, with the operation it carries.
    Enqueued { task: Box<Task>, op: SharedOperation },
}

impl Detail {
    /// The database the fact names, if it names one.
    fn db(&self) -> Option<String> {
        match self {
            Detail::Begun { db, .. } | Detail::Decided { db, .. } => db.clone(),
            Detail::None | Detail::Enqueued { .. } => None,
        }
    }
}

/// A transaction as its first BEGIN reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Begun {
    kind: OperationKind,
    coordinator: NodeId,
    locks: Vec<LockKey>,
}

/// A database's replication setting, as the `DatabaseSet` facts (and the initial scope) tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Setting {
    enabled: bool,
    exec_set: u8,
}

/// The master's replication state as a snapshot shows it: what `Resynced` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    next_task: TaskId,
    truncated_below: TaskId,
    enabled: bool,
}

/// Why a completed transaction became no task (for `write-fate`, which names the cause of a
/// write that never reached a slave).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTask {
    /// Its database was not set for replication (`setDatabaseForClusterReplication`) when it
    /// began, or is not when it completes.
    DatabaseNotReplicated,
    /// The master was DISABLED (`stopClusterReplication`) when it completed.
    MasterDisabled,
}

/// What became of a master transaction's capture, as the history tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    /// It became this task.
    Task(TaskId),
    /// It completed and became no task, rightly: why, in the checker's words.
    NoTask(NoTask, String),
    /// It completed, had to become a task (why, in the checker's words), and became none.
    Missing(String),
    /// It has not completed in the history, or the history cannot tell what its completion had to do.
    Unknown,
}

/// What a transaction's completion must do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Become a task, in the same step.
    Must(String),
    /// Become no task.
    MustNot(NoTask, String),
    /// Either is right (not captured at its BEGIN, enabled since: see the module's documentation);
    /// why it may have become none, when the history tells.
    Either(Option<(NoTask, String)>),
}

/// A transaction as the history tells it.
#[derive(Debug, Clone)]
struct Tx {
    /// Its database, once known.
    db: Option<String>,
    /// The databases enabled when it began (its own, once known, decides the capture).
    enabled_then: BTreeSet<String>,
    /// Decided commit (true) or rollback (false).
    commit: Option<bool>,
    /// What its first BEGIN reported.
    begun: Option<Begun>,
    /// Its cid and operation, once decided commit.
    committed: Option<(Cid, SharedOperation)>,
}

impl Tx {
    fn captured(&self) -> Option<bool> {
        self.db.as_ref().map(|db| self.enabled_then.contains(db))
    }
}

/// The relevant facts of the master's controllers in log order, and what follows from them.
#[derive(Debug, Clone)]
struct History {
    steps: Vec<Step>,
    /// `marks[p]`: the master's marks before `steps[p]` (one more than steps: the end's).
    marks: Vec<Mark>,
    /// Where each step that occurs once stands.
    at: BTreeMap<Key, usize>,
    /// Each database's setting at the end.
    settings: BTreeMap<String, Setting>,
    txs: BTreeMap<Tid, Tx>,
    verdicts: BTreeMap<Tid, Verdict>,
    task_of: BTreeMap<Tid, TaskId>,
}

impl History {
    fn new(databases: impl IntoIterator<Item = (String, u8)>) -> Self {
        History {
            steps: Vec::new(),
            marks: vec![Mark { next_task: 1, truncated_below: 1, enabled: true }],
            at: BTreeMap::new(),
            settings: databases.into_iter().map(|(db, exec_set)| (db, Setting { enabled: true, exec_set })).collect(),
            txs: BTreeMap::new(),
            verdicts: BTreeMap::new(),
            task_of: BTreeMap::new(),
        }
    }

    fn end(&self) -> usize {
        self.steps.len()
    }

    fn enabled_now(&self, db: &str) -> bool {
        self.settings.get(db).is_some_and(|s| s.enabled)
    }

    /// What is wrong with a task first reported now, at the end of the history, if anything: it
    /// must carry its transaction's identity and shape, and its database's execution set now.
    fn task_mismatch(&self, task: &Task, op: &SharedOperation) -> Option<String> {
        let tx = self.txs.get(&task.tid);
        let mut wrong = Vec::new();
        // The database's setting at this place in the log (a database never set is in set 0).
        let exec_set = self.settings.get(&task.db).map_or(0, |s| s.exec_set);
        if task.exec_set != exec_set {
            wrong.push(format!("execution set {}, but {} is in set {exec_set} when it is enqueued", task.exec_set, task.db));
        }
        if let Some(begun) = tx.and_then(|t| t.begun.as_ref()) {
            wrong.extend(begun_mismatch(task, begun));
        }
        if let Some((cid, decided_op)) = tx.and_then(|t| t.committed.as_ref()) {
            wrong.extend(decided_mismatch(task, op, *cid, decided_op));
        }
        (!wrong.is_empty()).then(|| format!("task {} for transaction {} carries {}", task.id, task.tid, wrong.join("; ")))
    }

    /// What the completion of `tid`, now, must do.
    fn verdict(&self, tid: Tid) -> Verdict {
        let Some(tx) = self.txs.get(&tid) else { return Verdict::Either(None) };
        let (Some(db), Some(captured)) = (&tx.db, tx.captured()) else { return Verdict::Either(None) };
        if tx.commit != Some(true) {
            return Verdict::Either(None);
        }
        let master_enabled = self.marks[self.end()].enabled;
        if !self.enabled_now(db) {
            Verdict::MustNot(NoTask::DatabaseNotReplicated, format!("{db} is not enabled for replication when it completes"))
        } else if !master_enabled {
            Verdict::MustNot(NoTask::MasterDisabled, "the master is DISABLED when it completes".to_string())
        } else if captured {
            Verdict::Must(format!(
                "{db} was enabled for replication when it began and is still when it completes, and the master is ENABLED"
            ))
        } else {
            // Not enabled at its BEGIN, enabled by its completion: enabled while it was open, when a
            // retried BEGIN may have captured it (see the module's documentation).
            Verdict::Either(Some((NoTask::DatabaseNotReplicated, format!("{db} was not enabled for replication when it began"))))
        }
    }

    /// Extends the history with a fact first reported now, with what it tells beyond its step.
    fn append(&mut self, step: Step, detail: Detail) -> Result<(), String> {
        let mut mark = self.marks[self.end()];
        let db = detail.db();
        match &step {
            Step::Begun(tid) => {
                let enabled_then = match &db {
                    Some(d) => self.enabled_now(d).then(|| d.clone()).into_iter().collect(),
                    None => self.settings.iter().filter(|(_, s)| s.enabled).map(|(d, _)| d.clone()).collect(),
                };
                // A retried BEGIN reports the transaction again: what it is stays the first's.
                let first = self.txs.get(tid).and_then(|t| t.begun.clone());
                let begun = match detail {
                    Detail::Begun { begun, .. } => first.or(Some(begun)),
                    _ => first,
                };
                self.txs.insert(*tid, Tx { db, enabled_then, commit: None, begun, committed: None });
            }
            Step::Decided { tid, commit } => {
                if let Some(tx) = self.txs.get_mut(tid) {
                    tx.commit = Some(*commit);
                    if tx.db.is_none() {
                        tx.db = db;
                    }
                    if let Detail::Decided { commit: Some(c), .. } = detail {
                        tx.committed = Some(c);
                    }
                }
            }
            Step::Completed(tid) => {
                let verdict = self.verdict(*tid);
                self.verdicts.insert(*tid, verdict);
            }
            Step::Enqueued { task, tid } => {
                if let Some(first) = self.task_of.insert(*tid, *task) {
                    return Err(format!("transaction {tid} became task {task} after it had become task {first}"));
                }
                mark.next_task = task + 1;
            }
            Step::Truncated(below) => mark.truncated_below = *below,
            Step::DatabaseSet { db, enabled, exec_set } => {
                self.settings.insert(db.clone(), Setting { enabled: *enabled, exec_set: *exec_set });
            }
            Step::StateChanged { enabled } => mark.enabled = *enabled,
        }
        if let Some(key) = step.key() {
            self.at.insert(key, self.end());
        }
        self.steps.push(step);
        self.marks.push(mark);
        Ok(())
    }

    /// The places whose marks are `mark`: where a snapshot with that state may stand.
    fn places_with(&self, mark: Mark) -> Vec<usize> {
        let from = self.marks.partition_point(|m| m.next_task < mark.next_task);
        let to = self.marks.partition_point(|m| m.next_task <= mark.next_task);
        (from..to).filter(|&p| self.marks[p] == mark).collect()
    }

    /// Whether a controller that resumed at place `p` could have reported `held` since.
    fn agrees(&self, p: usize, held: &[(Step, Detail)]) -> bool {
        held.iter().enumerate().all(|(i, (step, _))| match self.steps.get(p + i) {
            Some(known) => known == step,
            None => step.key().is_none_or(|k| !self.at.contains_key(&k)),
        })
    }
}

/// Where a controller stands in the history.
#[derive(Debug, Clone)]
enum Place {
    /// It reported every step before this place (since it resumed).
    At(usize),
    /// It resumed from a snapshot at one of `candidates`; its facts since are held.
    Finding { candidates: Vec<usize>, held: Vec<(Step, Detail)> },
    /// Its facts agree with no place: not judged until it resumes again.
    Lost,
}

#[derive(Debug, Clone)]
struct Follower {
    place: Place,
    /// The transaction whose completion it reported last in its current step, with the verdict.
    completed: Option<(Tid, Verdict)>,
}

/// Judges every fact of the master's controllers (and ends their steps at other nodes' facts).
#[derive(Debug)]
pub struct CaptureCompleteness {
    controllers: BTreeSet<NodeId>,
    history: History,
    followers: BTreeMap<NodeId, Follower>,
    /// How often a controller's facts agreed with no place (for reports and tests).
    pub lost: usize,
}

impl CaptureCompleteness {
    /// The checker for a master with these controllers and these databases replicated from the
    /// start, with their execution sets.
    pub fn new(controllers: impl IntoIterator<Item = NodeId>, databases: impl IntoIterator<Item = (String, u8)>) -> Self {
        let controllers: BTreeSet<NodeId> = controllers.into_iter().collect();
        let followers = controllers.iter().map(|&c| (c, Follower { place: Place::At(0), completed: None })).collect();
        CaptureCompleteness { controllers, history: History::new(databases), followers, lost: 0 }
    }

    /// What became of master transaction `tid`'s capture, as the history tells it (`write-fate`).
    pub fn capture_of(&self, tid: Tid) -> Capture {
        if let Some(&task) = self.history.task_of.get(&tid) {
            return Capture::Task(task);
        }
        match self.history.verdicts.get(&tid) {
            Some(Verdict::MustNot(why, text) | Verdict::Either(Some((why, text)))) => Capture::NoTask(*why, text.clone()),
            Some(Verdict::Must(text)) => Capture::Missing(text.clone()),
            Some(Verdict::Either(None)) | None => Capture::Unknown,
        }
    }

    /// The steps of every controller but `node` have ended: a completion that had to become a
    /// task and did not is reported.
    fn ended_steps(&self, node: Option<NodeId>) -> Result<(), String> {
        for (&c, f) in self.followers.iter().filter(|(c, _)| Some(**c) != node) {
            if let Some((tid, verdict)) = &f.completed {
                missing(c, *tid, verdict, "its apply step ended")?;
            }
        }
        Ok(())
    }

    fn resynced(&mut self, node: NodeId, mark: Mark) -> Result<(), String> {
        let f = self.followers.get_mut(&node).expect("a master controller");
        if let Some((tid, verdict)) = f.completed.take() {
            missing(node, tid, &verdict, "its apply step ended")?;
        }
        let candidates = self.history.places_with(mark);
        f.place = match candidates.as_slice() {
            [] => {
                self.lost += 1;
                Place::Lost
            }
            [p] => Place::At(*p),
            _ => Place::Finding { candidates, held: Vec::new() },
        };
        Ok(())
    }

    fn on_step(&mut self, node: NodeId, step: Step, detail: Detail) -> Result<(), String> {
        let f = self.followers.get_mut(&node).expect("a master controller");
        match &mut f.place {
            Place::Lost => Ok(()),
            Place::At(p) => {
                let p = *p;
                self.advance(node, p, step, detail)
            }
            Place::Finding { candidates, held } => {
                held.push((step, detail));
                let history = &self.history;
                candidates.retain(|&p| history.agrees(p, held));
                match candidates.as_slice() {
                    [] => {
                        f.place = Place::Lost;
                        self.lost += 1;
                        Ok(())
                    }
                    [p] => {
                        let (p, held) = (*p, std::mem::take(held));
                        f.place = Place::At(p);
                        for (step, detail) in held {
                            match self.followers[&node].place {
                                Place::At(p) => self.advance(node, p, step, detail)?,
                                _ => break,
                            }
                        }
                        Ok(())
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// `node`, at place `p`, reported `step`.
    fn advance(&mut self, node: NodeId, p: usize, step: Step, detail: Detail) -> Result<(), String> {
        let completed = self.followers.get_mut(&node).expect("a master controller").completed.take();
        match (completed, &step) {
            (Some((tid, Verdict::MustNot(_, why))), Step::Enqueued { task, tid: t }) if *t == tid => {
                return Err(format!("controller {node} enqueued task {task} for transaction {tid}, which must not become a task: {why}"));
            }
            (Some((tid, _)), Step::Enqueued { tid: t, .. }) if *t == tid => {}
            (Some((tid, verdict)), _) if matches!(verdict, Verdict::Must(_)) => {
                missing(node, tid, &verdict, &format!("its apply step went on with {step:?}"))?;
            }
            (_, Step::Enqueued { task, tid }) => {
                return Err(format!(
                    "controller {node} enqueued task {task} for transaction {tid}, which did not complete in that apply step"
                ));
            }
            _ => {}
        }
        let history = &mut self.history;
        let next = if p < history.end() {
            if history.steps[p] != step {
                // Not the log as the history tells it: this controller cannot be followed.
                self.followers.get_mut(&node).expect("a master controller").place = Place::Lost;
                self.lost += 1;
                return Ok(());
            }
            p + 1
        } else {
            // A task first reported: judged against the history before it (a report again is
            // judged against the first by `grouping`).
            if let Detail::Enqueued { task, op } = &detail
                && let Some(wrong) = history.task_mismatch(task, op)
            {
                return Err(format!("controller {node} enqueued {wrong}"));
            }
            history.append(step.clone(), detail)?;
            history.end()
        };
        let f = self.followers.get_mut(&node).expect("a master controller");
        f.place = Place::At(next);
        if let Step::Completed(tid) = step {
            f.completed = Some((tid, history.verdicts.get(&tid).cloned().unwrap_or(Verdict::Either(None))));
        }
        Ok(())
    }
}

/// A completion that had to become a task and did not.
fn missing(node: NodeId, tid: Tid, verdict: &Verdict, then: &str) -> Result<(), String> {
    match verdict {
        Verdict::Must(why) => {
            Err(format!("controller {node} completed transaction {tid}, which must become a task ({why}), but enqueued none: {then}"))
        }
        _ => Ok(()),
    }
}

/// The database a BEGIN's locks name, if they name one.
fn database_of(locks: &[LockKey]) -> Option<String> {
    let dbs: BTreeSet<&str> = locks
        .iter()
        .map(|k| match k {
            LockKey::Db(d) | LockKey::Table(d, _) | LockKey::Partition(d, _, _) => d.as_str(),
        })
        .collect();
    match dbs.into_iter().collect::<Vec<_>>().as_slice() {
        [db] => Some(db.to_string()),
        _ => None,
    }
}

/// The step a fact of a master controller is, with what it tells beyond it.
fn step_of(fact: Seen<'_>) -> Option<(Step, Detail)> {
    Some(match fact {
        Seen::Dfs(DfsFact::TxBegun { tid, kind, coordinator, locks, .. }) => {
            let begun = Begun { kind: *kind, coordinator: *coordinator, locks: locks.clone() };
            (Step::Begun(*tid), Detail::Begun { db: database_of(locks), begun })
        }
        Seen::Dfs(DfsFact::TxDecided { tid, decision, op }) => {
            let db = op.as_ref().map(|o| o.database().to_string());
            let commit = match (decision, op) {
                (Decision::Commit(cid), Some(op)) => Some((*cid, op.clone())),
                _ => None,
            };
            (Step::Decided { tid: *tid, commit: matches!(decision, Decision::Commit(_)) }, Detail::Decided { db, commit })
        }
        Seen::Dfs(DfsFact::TxCompleted { tid }) => (Step::Completed(*tid), Detail::None),
        Seen::Repl(ReplFact::Enqueued { task, op }) => {
            (Step::Enqueued { task: task.id, tid: task.tid }, Detail::Enqueued { task: task.clone(), op: op.clone() })
        }
        Seen::Repl(ReplFact::Truncated { below }) => (Step::Truncated(*below), Detail::None),
        Seen::Repl(ReplFact::DatabaseSet { db, enabled, exec_set }) => {
            (Step::DatabaseSet { db: db.clone(), enabled: *enabled, exec_set: *exec_set }, Detail::None)
        }
        Seen::Repl(ReplFact::StateChanged { state }) => (Step::StateChanged { enabled: *state == ReplicationState::Enabled }, Detail::None),
        _ => return None,
    })
}

/// How a task differs from what its transaction's first BEGIN reported: its kind, its footprint
/// (the transaction's locks: a partition lock is the chunk it writes, a table or database lock
/// every chunk inside it; compared as sets, the order of locks meaning nothing) and its source
/// (the coordinator, which holds its data).
fn begun_mismatch(task: &Task, begun: &Begun) -> Vec<String> {
    let mut wrong = Vec::new();
    if task.kind != begun.kind {
        wrong.push(format!("kind {}, but the transaction is a {}", task.kind, begun.kind));
    }
    let footprint: BTreeSet<&LockKey> = task.footprint.iter().collect();
    let locks: BTreeSet<&LockKey> = begun.locks.iter().collect();
    if footprint != locks {
        wrong.push(format!("footprint {:?}, but the transaction locked {:?}", task.footprint, begun.locks));
    }
    if task.source != begun.coordinator {
        wrong.push(format!("source node {}, but data node {} coordinated the transaction", task.source, begun.coordinator));
    }
    wrong
}

/// How a task differs from its transaction's commit decision: the cid, and the operation with the
/// database and table it names.
fn decided_mismatch(task: &Task, op: &SharedOperation, cid: Cid, decided: &SharedOperation) -> Vec<String> {
    let mut wrong = Vec::new();
    if task.cid != cid {
        wrong.push(format!("cid {}, but the transaction committed with cid {cid}", task.cid));
    }
    if **op != **decided {
        wrong.push(format!("operation {op:?}, but the transaction committed {decided:?}"));
    }
    if task.db != decided.database() || task.table.as_deref() != decided.table() {
        wrong.push(format!(
            "database {} table {:?}, but the transaction wrote {} table {:?}",
            task.db,
            task.table,
            decided.database(),
            decided.table()
        ));
    }
    wrong
}

impl<V: ?Sized> Checker<(), Seen<'_>, V> for CaptureCompleteness {
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = SOURCE;

    fn on_fact(&mut self, _: &(), node: NodeId, fact: &Seen<'_>) -> Result<(), String> {
        // Facts of one step come together: a fact of another node ends every other step.
        self.ended_steps(Some(node))?;
        for (_, f) in self.followers.iter_mut().filter(|(c, _)| **c != node) {
            f.completed = None;
        }
        if !self.controllers.contains(&node) {
            return Ok(());
        }
        if let Seen::Repl(ReplFact::Resynced { state: ReplSnapshot::Master { next_task, truncated_below, state } }) = fact {
            let mark = Mark { next_task: *next_task, truncated_below: *truncated_below, enabled: *state == ReplicationState::Enabled };
            return self.resynced(node, mark);
        }
        match step_of(*fact) {
            Some((step, detail)) => self.on_step(node, step, detail),
            None => Ok(()),
        }
    }

    fn at_end(&self, _: &(), _: &V) -> Result<(), String> {
        self.ended_steps(None)
    }
}

#[cfg(test)]
mod tests {

    use ccrsim_model::dfs::{Operation, OperationKind, PartitionKey, SharedOperation};
    use ccrsim_model::pipeline::dolphindb_async::{Task, TaskPayload};

    use super::*;

    const C0: NodeId = 0;
    const C1: NodeId = 1;
    const C2: NodeId = 2;
    /// A master data node: its facts end the controllers' steps.
    const DN: NodeId = 10;
    const A: &str = "dfs://a";
    const B: &str = "dfs://b";

    #[derive(Debug, Clone)]
    enum F {
        D(DfsFact),
        R(ReplFact),
    }

    fn op(db: &str) -> SharedOperation {
        SharedOperation::new(Operation::Append { db: db.into(), table: "t".into(), rows: vec![] })
    }
    /// The locks of transaction `tid`: one partition of table t.
    fn locks(tid: Tid, db: &str) -> Vec<LockKey> {
        vec![LockKey::Partition(db.into(), "t".into(), PartitionKey::Int(tid as i32))]
    }
    fn begun(tid: Tid, db: &str) -> F {
        F::D(DfsFact::TxBegun {
            tid,
            kind: OperationKind::APPEND,
            coordinator: DN,
            op_ref: (20, tid),
            locks: locks(tid, db),
            online: Vec::new(),
        })
    }
    fn commit(tid: Tid, db: &str) -> F {
        F::D(DfsFact::TxDecided { tid, decision: Decision::Commit(tid), op: Some(op(db)) })
    }
    fn rollback(tid: Tid) -> F {
        F::D(DfsFact::TxDecided { tid, decision: Decision::Rollback, op: None })
    }
    fn completed(tid: Tid) -> F {
        F::D(DfsFact::TxCompleted { tid })
    }
    /// The task of transaction `tid` (as `begun` and `commit` report it) in execution set 0.
    fn task(id: TaskId, tid: Tid, db: &str) -> Task {
        Task {
            id,
            tid,
            cid: tid,
            group: id,
            kind: OperationKind::APPEND,
            db: db.into(),
            table: Some("t".into()),
            footprint: locks(tid, db),
            chunks: vec![],
            source: DN,
            submit_ms: 0,
            exec_set: 0,
            payload: TaskPayload::AtSource,
        }
    }
    fn enqueue(task: Task) -> F {
        let op = op(&task.db);
        F::R(ReplFact::Enqueued { task: Box::new(task), op })
    }
    fn enqueued(id: TaskId, tid: Tid, db: &str) -> F {
        enqueue(task(id, tid, db))
    }
    /// The task of transaction `tid` in execution set 1.
    fn enqueued_in_set_1(id: TaskId, tid: Tid, db: &str) -> F {
        enqueue(Task { exec_set: 1, ..task(id, tid, db) })
    }
    fn set(db: &str, enabled: bool) -> F {
        F::R(ReplFact::DatabaseSet { db: db.into(), enabled, exec_set: 0 })
    }
    fn set_exec(db: &str, exec_set: u8) -> F {
        F::R(ReplFact::DatabaseSet { db: db.into(), enabled: true, exec_set })
    }
    fn master(enabled: bool) -> F {
        F::R(ReplFact::StateChanged { state: if enabled { ReplicationState::Enabled } else { ReplicationState::Disabled } })
    }
    fn truncated(below: TaskId) -> F {
        F::R(ReplFact::Truncated { below })
    }
    fn resynced(next_task: TaskId, truncated_below: TaskId, enabled: bool) -> F {
        let state = if enabled { ReplicationState::Enabled } else { ReplicationState::Disabled };
        F::R(ReplFact::Resynced { state: ReplSnapshot::Master { next_task, truncated_below, state } })
    }
    /// A fact of a data node (it ends every controller's step).
    fn elsewhere() -> F {
        F::R(ReplFact::TaskDataWritten { tid: 999, durable: true })
    }

    /// A transaction of `db` begun, committed and completed; `task` its task, if it gets one.
    fn tx(tid: Tid, db: &str, task: Option<TaskId>) -> Vec<F> {
        let mut v = vec![begun(tid, db), commit(tid, db), completed(tid)];
        v.extend(task.map(|id| enqueued(id, tid, db)));
        v
    }

    fn checker() -> CaptureCompleteness {
        CaptureCompleteness::new([C0, C1, C2], [(A.to_string(), 0), (B.to_string(), 0)])
    }

    fn feed(c: &mut CaptureCompleteness, node: NodeId, facts: &[F]) -> Result<(), String> {
        for f in facts {
            let seen = match f {
                F::D(d) => Seen::Dfs(d),
                F::R(r) => Seen::Repl(r),
            };
            Checker::<(), Seen<'_>, ()>::on_fact(c, &(), node, &seen)?;
        }
        Ok(())
    }

    fn end(c: &CaptureCompleteness) -> Result<(), String> {
        Checker::<(), Seen<'_>, ()>::at_end(c, &(), &())
    }

    /// Every controller boots and reports `log`, one after the other, then the run ends.
    fn everyone(log: &[F]) -> Result<CaptureCompleteness, String> {
        let mut c = checker();
        for node in [C0, C1, C2] {
            feed(&mut c, node, &[resynced(1, 1, true)])?;
            feed(&mut c, node, log)?;
        }
        end(&c)?;
        Ok(c)
    }

    /// A history with settings, stops and starts, and what each transaction's completion does.
    fn sound_log() -> Vec<F> {
        let mut log = Vec::new();
        log.extend(tx(1, A, Some(1)));
        log.extend(tx(2, B, Some(2)));
        log.extend([begun(3, A), rollback(3)]);
        // Disabled at completion: no task.
        log.push(begun(4, A));
        log.push(set(A, false));
        log.extend([commit(4, A), completed(4)]);
        // Begun while disabled, enabled while open: either outcome (here: a task).
        log.push(begun(5, A));
        log.push(set(A, true));
        log.extend([commit(5, A), completed(5), enqueued(3, 5, A)]);
        // Master stopped: no task; begun while stopped and completed after the start: a task.
        log.push(master(false));
        log.extend(tx(6, B, None));
        log.push(begun(7, B));
        log.push(master(true));
        log.extend([commit(7, B), completed(7), enqueued(4, 7, B)]);
        log.push(truncated(3));
        log.push(set_exec(B, 1));
        log.extend([begun(8, B), commit(8, B), completed(8), enqueued_in_set_1(5, 8, B)]);
        log
    }

    #[test]
    fn a_sound_history_passes_on_every_controller() {
        let c = everyone(&sound_log()).unwrap();
        assert_eq!(c.lost, 0);
        assert_eq!(c.history.task_of.len(), 5);
    }

    #[test]
    fn interleaved_controllers_pass() {
        // Controllers report the same log at their own pace, interleaved step by step (a step's
        // facts come together: a completion with its task).
        let log = sound_log();
        let mut steps: Vec<Vec<F>> = Vec::new();
        for f in log {
            match (&f, steps.last_mut()) {
                (F::R(ReplFact::Enqueued { .. }), Some(last)) => last.push(f),
                _ => steps.push(vec![f]),
            }
        }
        let mut c = checker();
        for node in [C0, C1, C2] {
            feed(&mut c, node, &[resynced(1, 1, true)]).unwrap();
        }
        for (i, step) in steps.iter().enumerate() {
            feed(&mut c, C0, step).unwrap();
            if i >= 3 {
                feed(&mut c, C1, &steps[i - 3]).unwrap();
            }
            if i % 2 == 0 {
                feed(&mut c, C2, &steps[i / 2]).unwrap();
            }
        }
        for step in &steps[steps.len() - 3..] {
            feed(&mut c, C1, step).unwrap();
        }
        for step in &steps[steps.len().div_ceil(2)..] {
            feed(&mut c, C2, step).unwrap();
        }
        end(&c).unwrap();
        assert_eq!(c.lost, 0);
    }

    #[test]
    fn a_captured_completion_without_a_task_fails() {
        let mut log = tx(1, A, Some(1));
        log.extend(tx(2, A, None));
        log.extend(tx(3, A, Some(2)));
        let e = everyone(&log).unwrap_err();
        assert!(e.contains("controller 0 completed transaction 2, which must become a task"), "{e}");
        assert!(e.contains("went on with Begun(3)"), "{e}");
    }

    #[test]
    fn a_missing_task_is_seen_when_another_node_reports_or_the_run_ends() {
        let mut c = checker();
        feed(&mut c, C0, &[resynced(1, 1, true)]).unwrap();
        feed(&mut c, C0, &tx(1, A, None)).unwrap();
        assert!(end(&c).unwrap_err().contains("its apply step ended"));
        let e = feed(&mut c, DN, &[elsewhere()]).unwrap_err();
        assert!(e.contains("controller 0 completed transaction 1"), "{e}");
    }

    #[test]
    fn a_restart_that_captures_then_leaves_out_the_task_fails() {
        // Begun before stopClusterReplication, completed after the start: the capture is the
        // BEGIN's, so it must become a task even though the master was DISABLED meanwhile.
        let log = vec![master(false), begun(1, A), master(true), commit(1, A), completed(1)];
        let e = everyone(&log).unwrap_err();
        assert!(e.contains("completed transaction 1, which must become a task"), "{e}");
    }

    #[test]
    fn a_task_while_disabled_or_stopped_fails() {
        let log = vec![begun(1, A), set(A, false), commit(1, A), completed(1), enqueued(1, 1, A)];
        let e = everyone(&log).unwrap_err();
        assert!(e.contains("must not become a task: dfs://a is not enabled for replication when it completes"), "{e}");
        let log = vec![begun(1, A), commit(1, A), master(false), completed(1), enqueued(1, 1, A)];
        let e = everyone(&log).unwrap_err();
        assert!(e.contains("must not become a task: the master is DISABLED"), "{e}");
    }

    #[test]
    fn a_task_outside_its_completion_step_or_twice_fails() {
        let log = vec![begun(1, A), commit(1, A), completed(1), begun(2, A), enqueued(1, 1, A)];
        let e = everyone(&log).unwrap_err();
        assert!(e.contains("which must become a task"), "{e}");
        let mut log = tx(1, A, Some(1));
        log.push(enqueued(2, 1, A));
        let e = everyone(&log).unwrap_err();
        assert!(e.contains("task 2 for transaction 1, which did not complete in that apply step"), "{e}");
    }

    #[test]
    fn either_outcome_passes_when_the_database_was_enabled_while_it_was_open() {
        for task in [None, Some(1)] {
            let mut log = vec![set(A, false), begun(1, A), set(A, true), commit(1, A), completed(1)];
            log.extend(task.map(|t| enqueued(t, 1, A)));
            log.extend(tx(2, A, Some(task.map_or(1, |t| t + 1))));
            everyone(&log).unwrap();
        }
    }

    #[test]
    fn a_replay_after_restart_is_judged_by_the_history() {
        // C0 reports first; C1 restarts from its snapshot (after task 1) and replays, leaving out
        // the task of transaction 2 that C0 enqueued.
        let mut log = tx(1, A, Some(1));
        log.extend([begun(2, A), commit(2, A)]);
        let rest = [completed(2), enqueued(2, 2, A)];
        let mut c = checker();
        feed(&mut c, C0, &[resynced(1, 1, true)]).unwrap();
        feed(&mut c, C0, &log).unwrap();
        feed(&mut c, C0, &rest).unwrap();
        feed(&mut c, C1, &[resynced(1, 1, true)]).unwrap();
        feed(&mut c, C1, &log).unwrap();
        feed(&mut c, C1, &[resynced(2, 1, true), begun(2, A), commit(2, A), completed(2)]).unwrap();
        let e = feed(&mut c, DN, &[elsewhere()]).unwrap_err();
        assert!(e.contains("controller 1 completed transaction 2, which must become a task"), "{e}");
        // The same replay with the task passes.
        let mut c = checker();
        feed(&mut c, C0, &[resynced(1, 1, true)]).unwrap();
        feed(&mut c, C0, &log).unwrap();
        feed(&mut c, C0, &rest).unwrap();
        feed(&mut c, C1, &[resynced(2, 1, true), begun(2, A), commit(2, A)]).unwrap();
        feed(&mut c, C1, &rest).unwrap();
        end(&c).unwrap();
        assert_eq!(c.lost, 0);
    }

    #[test]
    fn an_installed_snapshot_is_placed_by_the_first_fact_that_names_something() {
        // C2 installs a snapshot taken after transaction 2 began; several places have its marks,
        // and its first fact (a setting) fits two of them: held until transaction 2's commit.
        let mut log = tx(1, A, Some(1));
        log.extend([begun(2, B), set_exec(A, 1), begun(3, A), set_exec(A, 1), commit(2, B), completed(2), enqueued(2, 2, B)]);
        let mut c = checker();
        feed(&mut c, C0, &[resynced(1, 1, true)]).unwrap();
        feed(&mut c, C0, &log).unwrap();
        feed(&mut c, C2, &[resynced(2, 1, true), set_exec(A, 1)]).unwrap();
        assert!(matches!(&c.followers[&C2].place, Place::Finding { candidates, .. } if candidates.len() > 1));
        feed(&mut c, C2, &[commit(2, B)]).unwrap();
        assert!(matches!(c.followers[&C2].place, Place::At(_)));
        feed(&mut c, C2, &[completed(2)]).unwrap();
        let e = feed(&mut c, C2, &[begun(4, A)]).unwrap_err();
        assert!(e.contains("controller 2 completed transaction 2"), "{e}");
        assert_eq!(c.lost, 0);
    }

    #[test]
    fn a_controller_ahead_of_the_others_extends_the_history_after_its_snapshot() {
        // C0 reports up to task 1, restarts from a snapshot taken right there and goes on first.
        let mut c = checker();
        feed(&mut c, C0, &[resynced(1, 1, true)]).unwrap();
        feed(&mut c, C0, &tx(1, A, Some(1))).unwrap();
        feed(&mut c, C0, &[resynced(2, 1, true), set_exec(A, 1)]).unwrap();
        feed(&mut c, C0, &[begun(2, A), commit(2, A), completed(2), enqueued_in_set_1(2, 2, A)]).unwrap();
        feed(&mut c, C0, &tx(3, A, None)).unwrap();
        assert!(end(&c).unwrap_err().contains("completed transaction 3"));
        // The others replay it all, the new setting included.
        let mut log = tx(1, A, Some(1));
        log.push(set_exec(A, 1));
        log.extend([begun(2, A), commit(2, A), completed(2), enqueued_in_set_1(2, 2, A)]);
        let mut c = checker();
        feed(&mut c, C0, &[resynced(1, 1, true)]).unwrap();
        feed(&mut c, C0, &tx(1, A, Some(1))).unwrap();
        feed(&mut c, C0, &[resynced(2, 1, true), set_exec(A, 1)]).unwrap();
        feed(&mut c, C0, &log[5..]).unwrap();
        feed(&mut c, C1, &[resynced(1, 1, true)]).unwrap();
        feed(&mut c, C1, &log).unwrap();
        end(&c).unwrap();
        assert_eq!((c.lost, c.history.end()), (0, 9));
    }

    #[test]
    fn a_controller_that_contradicts_the_history_is_not_judged_until_it_resumes() {
        let mut c = checker();
        feed(&mut c, C0, &[resynced(1, 1, true)]).unwrap();
        feed(&mut c, C0, &tx(1, A, Some(1))).unwrap();
        feed(&mut c, C1, &[resynced(1, 1, true), begun(7, A)]).unwrap();
        assert_eq!(c.lost, 1);
        feed(&mut c, C1, &[commit(7, A), completed(7)]).unwrap();
        feed(&mut c, C1, &[resynced(1, 1, true)]).unwrap();
        // No place has a snapshot's marks: lost too.
        feed(&mut c, C2, &[resynced(9, 1, true)]).unwrap();
        assert_eq!(c.lost, 2);
        feed(&mut c, C1, &[begun(1, A), commit(1, A), completed(1)]).unwrap();
        assert!(end(&c).unwrap_err().contains("controller 1 completed transaction 1"));
    }

    #[test]
    fn a_transaction_without_locks_takes_its_database_from_its_commit() {
        let lockless =
            F::D(DfsFact::TxBegun { tid: 1, kind: OperationKind::APPEND, coordinator: DN, op_ref: (20, 1), locks: vec![], online: vec![] });
        everyone(&[lockless.clone(), commit(1, A), completed(1), enqueue(Task { footprint: vec![], ..task(1, 1, A) })]).unwrap();
        let e = everyone(&[lockless, commit(1, A), completed(1)]).unwrap_err();
        assert!(e.contains("completed transaction 1, which must become a task"), "{e}");
    }

    #[test]
    fn databases_not_replicated_and_other_clusters_are_ignored() {
        everyone(&tx(1, "dfs://other", None)).unwrap();
        let mut c = checker();
        feed(&mut c, 30, &tx(1, A, None)).unwrap();
        end(&c).unwrap();
    }

    #[test]
    fn a_task_in_the_set_its_database_had_before_the_change_fails() {
        // dfs://a moves to set 1 while transaction 2 is open: its task takes the set of when it is
        // enqueued, not of when the transaction began.
        let mut log = tx(1, A, Some(1));
        log.extend([begun(2, A), set_exec(A, 1), commit(2, A), completed(2), enqueued_in_set_1(2, 2, A)]);
        everyone(&log).unwrap();
        let mut log = tx(1, A, Some(1));
        log.extend([begun(2, A), set_exec(A, 1), commit(2, A), completed(2), enqueued(2, 2, A)]);
        let e = everyone(&log).unwrap_err();
        assert!(e.contains("controller 0 enqueued task 2 for transaction 2 carries execution set 0, but dfs://a is in set 1"), "{e}");
        // A database enabled at run time, in the set its DatabaseSet fact names.
        let c = CaptureCompleteness::new([C0, C1, C2], [(A.to_string(), 1)]);
        let mut log = vec![F::R(ReplFact::DatabaseSet { db: B.into(), enabled: true, exec_set: 1 })];
        log.extend([begun(1, B), commit(1, B), completed(1), enqueued(1, 1, B)]);
        let mut c = c;
        feed(&mut c, C0, &[resynced(1, 1, true)]).unwrap();
        let e = feed(&mut c, C0, &log).unwrap_err();
        assert!(e.contains("carries execution set 0, but dfs://b is in set 1"), "{e}");
    }

    #[test]
    fn a_task_that_is_not_its_transactions_fails() {
        let wrong = |t: Task, says: &str| {
            let mut log = tx(1, A, Some(1));
            log.extend([begun(2, A), commit(2, A), completed(2), enqueue(t)]);
            let e = everyone(&log).unwrap_err();
            assert!(e.contains("controller 0 enqueued task 2 for transaction 2 carries") && e.contains(says), "{e}");
        };
        // The footprint of the previous task (transaction 1's locks).
        wrong(Task { footprint: locks(1, A), ..task(2, 2, A) }, "but the transaction locked");
        wrong(Task { cid: 7, ..task(2, 2, A) }, "cid 7, but the transaction committed with cid 2");
        wrong(Task { source: 11, ..task(2, 2, A) }, "source node 11, but data node 10 coordinated");
        wrong(Task { kind: OperationKind::UPSERT, ..task(2, 2, A) }, "kind UPSERT, but the transaction is a APPEND");
        wrong(Task { table: Some("u".into()), ..task(2, 2, A) }, "table Some(\"u\"), but the transaction wrote dfs://a table Some(\"t\")");
        // The same locks in another order are the same footprint.
        let two = vec![LockKey::Table(A.into(), "t".into()), LockKey::Table(A.into(), "u".into())];
        let mut reversed = two.clone();
        reversed.reverse();
        let begun2 =
            F::D(DfsFact::TxBegun { tid: 2, kind: OperationKind::APPEND, coordinator: DN, op_ref: (20, 2), locks: two, online: vec![] });
        let mut log = tx(1, A, Some(1));
        log.extend([begun2, commit(2, A), completed(2), enqueue(Task { footprint: reversed, ..task(2, 2, A) })]);
        everyone(&log).unwrap();
    }
}

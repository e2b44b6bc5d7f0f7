//! Checkers: one file per property, each citing its source, judging every fact as it happens.
//!
//! | group | checker | property | source |
//! |---|---|---|---|
//! | `raft/` | `election-safety` | at most one leader per term; one vote per member per term | Raft Fig. 3, §5.2 |
//! | | `leader-append-only` | a leader never overwrites or deletes its entries | Raft Fig. 3, §5.3 |
//! | | `log-matching` | same index and term means same prefix | Raft Fig. 3, §5.3 |
//! | | `leader-completeness` | committed entries are in every later leader's log | Raft Fig. 3, §5.4 |
//! | | `state-machine-safety` | no two members apply different entries at one index | Raft Fig. 3, §5.4.3 |
//! | | `fact-consistency` | the facts the checkers judge match the real state | ccrsim |
//! | | `raft-liveness` | after heal: a leader, followed by all, committing and applied everywhere | Raft §5.2, §9.3 |
//! | | `acknowledged-writes` | every acknowledged proposal is in every live state machine | Raft §8; Jepsen |
//! | (any) | `recovery-soundness` | only injected corruption makes a node refuse its own disk | ccrsim fault model |
//! | `replica/dolphindb_2pc/` | `2pc-atomicity` | every participant ends with the controller's decision | Gray & Lamport 2006; DolphinDB |
//! | | `commit-durability` | an acknowledged commit is decided commit, and stays so | ACID; DolphinDB 2PC |
//! | | `replica-convergence` | replicas of a chunk at one version hold the same rows | DolphinDB HA |
//! | | `one-writer-per-partition` | no conflicting locks, no two open prepares on a replica | DolphinDB transactions |
//! | | `reference-model` | the committed history in cid order gives the final state | serializability |
//! | | `client-history` | acknowledged operations happened, failed ones did not | Jepsen |
//! | | `dfs-liveness` | after heal: decided, resolved, recovered, answered | DolphinDB HA |
//! | `pipeline/` | `no-gaps` | every fetched batch continues the target's offset with the source's writes | replication |
//! | | `exactly-once` | no write applies twice on a target; finished means applied once or skipped | replication |
//! | | `gc-safety` | the source truncates only below what every target finished | replication |
//! | | `eventual-consistency` | after heal each target equals its applied writes, and the source where nothing explains a difference | replication |
//! | | `replication-liveness` | after heal every running target fetches and finishes every write that can run | replication |
//! | `pipeline/dolphindb_async/` | `grouping` | dense task ids, groups by the conflict rule | DolphinDB replication |
//! | | `slave-order` | group barrier per queue; conflicting tasks commit in task id order | DolphinDB replication |
//! | | `new-nodes-idle` | added data nodes never get tasks | DolphinDB replication |
//! | | `status-truthful` | status functions show what the controller applied | DolphinDB replication |
//! | | `task-data-durability` | synchronously persisted task data is never missing | clusterReplicationSyncPersistence |
//! | (harness) | `management-calls` | each scenario call gets the outcome the scenario expects | the design's function reference |
//!
//! Safety checkers run after every fact and stop the run at the first violation. Liveness checkers
//! answer `pending()` with a reason (TigerBeetle's style) until the system converged; a reason still
//! standing when the liveness bound runs out is the violation. End-state checkers judge the final
//! state once the system converged.
//!
//! Oracles are the checkers' own code (`oracle/`): no checker calls the model to compute what
//! should have happened.

pub mod oracle;
pub mod pipeline;
pub mod raft;
pub mod recovery_soundness;
pub mod replica;
pub mod view;

use serde::Serialize;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::deployment::fact::Fact;

use self::raft::RaftCheckers;
use self::raft::acknowledged_writes::AcknowledgedWrites;
use self::recovery_soundness::RecoverySoundness;
use self::view::ClusterView;
use crate::design::{DesignCheckers, SimDesign};
use crate::env::time::SimTime;
use crate::scenario::Scenario;
use crate::topology::Topology;

/// A panic inside the simulation: a model invariant broke (or the harness has a bug).
pub const MODEL_INVARIANT: &str = "model-invariant";
/// Two runs of one seed differed.
pub const DETERMINISM: &str = "determinism";
/// A management call a scenario makes got another outcome than the scenario expects.
pub const MANAGEMENT_CALLS: &str = "management-calls";

/// A checker: one property, judged fact by fact against what its group knew before the fact (`K`:
/// a ledger or a shadow of the facts so far), while the system converges after heal (`pending`),
/// and on the final state (`at_end`), which it reads through `V` (a view of the cluster). It cites
/// where its property comes from.
pub trait Checker<K: ?Sized, F: ?Sized, V: ?Sized> {
    /// Its name: what reports show and a negative scenario's `expect.violation` names.
    const NAME: &'static str;
    /// Where the property comes from.
    const SOURCE: &'static str;
    /// Judges one fact of `node`.
    fn on_fact(&mut self, _known: &K, _node: NodeId, _fact: &F) -> Result<(), String> {
        Ok(())
    }
    /// Why the system has not converged yet, if it has not.
    fn pending(&self, _known: &K, _view: &V) -> Option<String> {
        None
    }
    /// A verdict on the final state.
    fn at_end(&self, _known: &K, _view: &V) -> Result<(), String> {
        Ok(())
    }
}

/// Runs a checker on a fact and types what it reports.
pub fn judge<K: ?Sized, F: ?Sized, V: ?Sized, C: Checker<K, F, V>>(
    checker: &mut C,
    known: &K,
    at: SimTime,
    node: NodeId,
    fact: &F,
) -> Result<(), Violation> {
    checker.on_fact(known, node, fact).map_err(|message| Violation::new::<K, F, V, C>(Class::Safety, at, Some(node), message))
}

/// Asks a checker what is pending: `(name, source, reason)`.
pub fn pending_of<K: ?Sized, F: ?Sized, V: ?Sized, C: Checker<K, F, V>>(
    checker: &C,
    known: &K,
    view: &V,
) -> Option<(&'static str, &'static str, String)> {
    checker.pending(known, view).map(|reason| (C::NAME, C::SOURCE, reason))
}

/// Asks a checker for its verdict on the final state.
pub fn at_end_of<K: ?Sized, F: ?Sized, V: ?Sized, C: Checker<K, F, V>>(
    checker: &C,
    known: &K,
    view: &V,
    at: SimTime,
    context: &str,
) -> Result<(), Violation> {
    checker.at_end(known, view).map_err(|m| {
        let message = if context.is_empty() { m } else { format!("{context}: {m}") };
        Violation::new::<K, F, V, C>(Class::EndState, at, None, message)
    })
}

/// What kind of promise a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Something that must never happen happened (judged fact by fact).
    Safety,
    /// Something that must happen did not within the liveness bound.
    Liveness,
    /// The final state is not what the facts say it must be.
    EndState,
    /// The scenario's own expectation of a management call failed.
    Expectation,
    /// The simulation itself: a panic (a model invariant or a harness bug), a run without an
    /// outcome, a seed past its wall limit, two runs of a seed that differ.
    Harness,
}

/// A broken property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The checker's name.
    pub checker: &'static str,
    /// Where the property comes from.
    pub source: &'static str,
    /// What kind of promise broke.
    pub class: Class,
    /// When it was seen.
    #[serde(serialize_with = "serialize_time")]
    pub at: SimTime,
    /// The node concerned, if one.
    pub node: Option<NodeId>,
    /// What happened.
    pub message: String,
}

impl Violation {
    /// A violation reported by checker `C`.
    pub fn new<K: ?Sized, F: ?Sized, V: ?Sized, C: Checker<K, F, V>>(
        class: Class,
        at: SimTime,
        node: Option<NodeId>,
        message: String,
    ) -> Self {
        Violation { checker: C::NAME, source: C::SOURCE, class, at, node, message }
    }

    /// A violation found by a part of the harness that is no `Checker` (a scenario call's
    /// expectation, a liveness bound, a panic).
    pub fn of(checker: &'static str, source: &'static str, class: Class, at: SimTime, node: Option<NodeId>, message: String) -> Self {
        Violation { checker, source, class, at, node, message }
    }

    /// A scenario call's outcome differs from what the scenario expects.
    pub fn harness_expectation(checker: &'static str, source: &'static str, at: SimTime, node: Option<NodeId>, message: String) -> Self {
        Self::of(checker, source, Class::Expectation, at, node, message)
    }
}

fn serialize_time<S: serde::Serializer>(t: &SimTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(t.as_secs_f64())
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] at {}", self.checker, self.at)?;
        if let Some(n) = self.node {
            write!(f, " on node {n}")?;
        }
        write!(f, ": {} (property: {})", self.message, self.source)
    }
}

/// Every checker name a scenario's `expect.violation` may name: the design-neutral ones and every
/// registered design's.
pub fn checker_names() -> Vec<&'static str> {
    let mut names = RaftCheckers::names();
    names.extend([recovery_soundness::NAME, MODEL_INVARIANT, DETERMINISM, MANAGEMENT_CALLS]);
    names.extend(crate::design::checker_names());
    names.sort_unstable();
    names.dedup();
    names
}

/// Every checker of a run: Raft's per controller group, the acknowledged writes of metadata
/// clients, recovery soundness, and the design's own.
#[derive(Debug)]
pub struct Checkers<D: SimDesign> {
    raft: RaftCheckers,
    acknowledged_writes: AcknowledgedWrites,
    recovery_soundness: RecoverySoundness,
    design: D::Checkers,
}

impl<D: SimDesign> Checkers<D> {
    /// The checkers for a deployment.
    pub fn new(topology: &Topology, scenario: &Scenario) -> Self {
        Self {
            raft: RaftCheckers::new(topology),
            acknowledged_writes: AcknowledgedWrites::default(),
            recovery_soundness: RecoverySoundness::default(),
            design: D::checkers(scenario, topology),
        }
    }

    /// Judges one fact reported by `node` at `at`.
    pub fn on_fact(&mut self, at: SimTime, node: NodeId, fact: &Fact<D::R, D::P>) -> Result<(), Violation> {
        match fact {
            Fact::Raft(f) => self.raft.on_fact(at, node, f),
            Fact::Client(f) => judge::<[NodeId], _, ClusterView<'_, D>, _>(&mut self.acknowledged_writes, &[], at, node, f),
            Fact::Replica(f) => {
                self.design.on_replica_fact(at, node, f)?;
                match D::Checkers::refusal(f) {
                    Some(why) => judge::<(), str, (), _>(&mut self.recovery_soundness, &(), at, node, why),
                    None => Ok(()),
                }
            }
            Fact::Pipeline(f) => self.design.on_pipeline_fact(at, node, f),
            Fact::Admin { call, result, .. } => self.design.on_answer(at, node, call, result),
        }
    }

    /// The nemesis corrupted `node`'s disk.
    pub fn on_corruption(&mut self, node: NodeId) {
        self.recovery_soundness.on_corruption(node);
        self.design.on_corruption(node);
    }

    /// `node` refused to start on its durable state.
    pub fn on_refusal(&mut self, at: SimTime, node: NodeId, reason: &str) -> Result<(), Violation> {
        judge::<(), str, (), _>(&mut self.recovery_soundness, &(), at, node, reason)
    }

    /// `node` went down (crash, halt or failed recovery).
    pub fn on_down(&mut self, node: NodeId) {
        self.raft.on_down(node);
    }

    /// Why the deployment has not converged yet: `(checker, source, reason)`, or `None`.
    pub fn pending(&self, view: &ClusterView<'_, D>) -> Option<(&'static str, &'static str, String)> {
        self.raft.pending(view, &self.acknowledged_writes).or_else(|| self.design.pending(view))
    }

    /// Checks that need the final state.
    pub fn at_end(&self, at: SimTime, view: &ClusterView<'_, D>) -> Result<(), Violation> {
        self.raft.at_end(at, view)?;
        self.design.at_end(at, view)
    }

    /// The design's checkers (for summaries).
    pub fn design(&self) -> &D::Checkers {
        &self.design
    }

    /// Acknowledged client writes so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged_writes.count()
    }
}

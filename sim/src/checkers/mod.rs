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
//! | | `replica-placement` | BEGIN only with replication_factor data nodes online; that many replicas on distinct online nodes, on distinct machines as the reliability level asks | DolphinDB HA |
//! | | `reference-model` | the committed history in cid order gives the final state | serializability |
//! | | `client-history` | acknowledged operations happened, failed ones did not | Jepsen |
//! | | `reads` | a query's rows are the committed state at its snapshot, not below its session's floor | DolphinDB MVCC |
//! | | `prepare-durability` | a reload holds every prepare its replica voted yes on and had not resolved | Gray & Lamport 2006; DolphinDB 2PC |
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
//! | (any) | `write-fate` | every acknowledged write applied, pending, skipped by a call, lost with a documented cause, or indeterminate, on every copy | issue 12; Jepsen |
//! | (any) | `availability` | as available as the scenario's `[expect]` bounds say, in fault-free windows | DolphinDB HA; the scenario |
//! | (harness) | `management-calls` | each scenario call gets the outcome the scenario expects | the design's function reference |
//!
//! Safety checkers run after every fact and stop the run at the first violation. Liveness checkers
//! answer `pending()` with a reason (TigerBeetle's style) until the system converged; a reason still
//! standing when the liveness bound runs out is the violation. End-state checkers judge the final
//! state once the system converged.
//!
//! Oracles are the checkers' own code (`oracle/`): no checker calls the model to compute what
//! should have happened.

pub mod availability;
pub mod failovers;
pub mod oracle;
pub mod pipeline;
pub mod raft;
pub mod recovery_soundness;
pub mod replica;
#[cfg(test)]
mod test_support;
pub mod write_fate;

pub use crate::violation::{Class, Violation};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::deployment::fact::Fact;

use self::availability::{Answer, Availability, AvailabilitySummary, Disruption, DisruptionKey, Seen};
use self::failovers::{Failovers, Leadership, LostWrites};
use self::raft::RaftCheckers;
use self::raft::acknowledged_writes::AcknowledgedWrites;
use self::recovery_soundness::RecoverySoundness;
use self::write_fate::Fates;
use crate::deployment::{Call, CallResult, Deployment, Message, PipelineFact, ReplicaFact, ReplicaMessage};
use crate::env::time::SimTime;
use crate::scenario::{FaultKind, Scenario};
use crate::summary::{Failover, FateSummary, PipelineSummary, ReplicaSummary};
use crate::topology::Topology;
use crate::view::ClusterView;

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
    checker.on_fact(known, node, fact).map_err(|message| Violation::of(C::NAME, C::SOURCE, Class::Safety, at, Some(node), message))
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
        Violation::of(C::NAME, C::SOURCE, Class::EndState, at, None, message)
    })
}

/// The names of the checkers every design has: Raft's, recovery soundness, and the harness's own
/// categories.
pub fn neutral_checker_names() -> Vec<&'static str> {
    let mut names = RaftCheckers::names();
    names.extend([recovery_soundness::NAME, availability::NAME, write_fate::NAME, MODEL_INVARIANT, DETERMINISM, MANAGEMENT_CALLS]);
    names
}

/// A design's own checkers: fed the facts of its replica protocol and its pipeline and the answers
/// to management calls, asked what is still pending after heal and for a verdict at the end.
pub trait DesignCheckers<D: Deployment>: std::fmt::Debug {
    /// Judges a replica protocol's fact of `node`.
    fn on_replica_fact(&mut self, at: SimTime, node: NodeId, fact: &ReplicaFact<D>) -> Result<(), Violation>;
    /// The reason a replica protocol's fact gives for refusing part of a node's durable state, if
    /// it does (judged by `recovery-soundness`).
    fn refusal(fact: &ReplicaFact<D>) -> Option<&str>;
    /// The client operation a replica protocol's fact reports sent (`None` answer) or answered,
    /// by the client's own operation number, for `availability`.
    fn client_operation(fact: &ReplicaFact<D>) -> Option<(u64, Option<Answer>)>;
    /// Judges a replica protocol's message as it leaves `from` for `to` (what a node answered is
    /// what it sent, whatever facts it reported).
    fn on_replica_send(&mut self, _at: SimTime, _from: NodeId, _to: NodeId, _msg: &ReplicaMessage<D>) -> Result<(), Violation> {
        Ok(())
    }
    /// Judges a pipeline's fact of `node`.
    fn on_pipeline_fact(&mut self, at: SimTime, node: NodeId, fact: &PipelineFact<D>) -> Result<(), Violation>;
    /// Judges the answer to a management call made on `node`.
    fn on_answer(&mut self, at: SimTime, node: NodeId, call: &Call<D>, result: &CallResult<D>) -> Result<(), Violation>;
    /// The nemesis corrupted `node`'s disk.
    fn on_corruption(&mut self, node: NodeId);
    /// Why the design has not converged yet: `(checker, source, reason)`.
    fn pending(&self, view: &ClusterView<'_, D>) -> Option<(&'static str, &'static str, String)>;
    /// Checks that need the final state.
    fn at_end(&self, at: SimTime, view: &ClusterView<'_, D>) -> Result<(), Violation>;
    /// What the replica protocol did in the run, for reports.
    fn replica_summary(&self) -> Option<ReplicaSummary>;
    /// What the pipeline did in the run, for reports.
    fn pipeline_summary(&self) -> Option<PipelineSummary>;
    /// What a replica protocol's fact says of the leadership of one of the design's own groups
    /// (a replica group's primary), for `failovers`; the controller groups' is Raft's.
    fn leadership(_fact: &ReplicaFact<D>) -> Option<Leadership> {
        None
    }
    /// The writes each lost leader of the design's groups had acknowledged and its group lost
    /// (RPO), as the design's checkers judge them on the final history.
    fn lost_writes(&self) -> Vec<LostWrites> {
        Vec::new()
    }
    /// The fate of every write acknowledged to a client, and of every write whose outcome its
    /// client cannot know, on every copy the design keeps (`write-fate`), from the design's ledgers
    /// and the final state; a loss gets a cause the design documents or is `Fate::Unexplained`.
    fn write_fates(&self, view: &ClusterView<'_, D>) -> Fates;
}

/// Every checker of a run: Raft's per controller group, the acknowledged writes of metadata
/// clients, recovery soundness, and the design's own (`X`).
#[derive(Debug)]
pub struct Checkers<D: Deployment, X: DesignCheckers<D>> {
    raft: RaftCheckers,
    acknowledged_writes: AcknowledgedWrites,
    recovery_soundness: RecoverySoundness,
    availability: Availability,
    failovers: Failovers,
    /// The fates `at_end` judged, kept for the run's report (judged once).
    fates: Option<FateSummary>,
    design: X,
    deployment: std::marker::PhantomData<fn() -> D>,
}

impl<D: Deployment, X: DesignCheckers<D>> Checkers<D, X> {
    /// The checkers for a deployment, with the design's own.
    pub fn new(scenario: &Scenario, topology: &Topology, design: X) -> Self {
        let groups = topology.clusters().into_iter().map(|c| (c.name(), topology.controllers(c))).collect();
        Self {
            raft: RaftCheckers::new(topology, SimTime::from_millis(scenario.raft.election_timeout_ms[1])),
            acknowledged_writes: AcknowledgedWrites::default(),
            recovery_soundness: RecoverySoundness::default(),
            availability: Availability::new(groups, &scenario.expect),
            failovers: Failovers::new(topology),
            fates: None,
            design,
            deployment: std::marker::PhantomData,
        }
    }

    /// Judges one fact reported by `node` at `at`.
    pub fn on_fact(&mut self, at: SimTime, node: NodeId, fact: &Fact<D::R, D::P>) -> Result<(), Violation> {
        self.observe_for_availability(at, node, fact);
        match fact {
            Fact::Raft(f) => {
                self.failovers.on_raft(at, node, f);
                self.raft.on_fact(at, node, f)
            }
            Fact::Client(f) => judge::<[NodeId], _, ClusterView<'_, D>, _>(&mut self.acknowledged_writes, &[], at, node, f),
            Fact::Replica(f) => {
                if let Some(leadership) = X::leadership(f) {
                    self.failovers.on_design(at, node, leadership);
                }
                self.design.on_replica_fact(at, node, f)?;
                match X::refusal(f) {
                    Some(why) => judge::<(), str, (), _>(&mut self.recovery_soundness, &(), at, node, why),
                    None => Ok(()),
                }
            }
            Fact::Pipeline(f) => self.design.on_pipeline_fact(at, node, f),
            Fact::Admin { call, result, .. } => self.design.on_answer(at, node, call, result),
        }
    }

    fn observe_for_availability(&mut self, at: SimTime, node: NodeId, fact: &Fact<D::R, D::P>) {
        use ccrsim_model::deployment::fact::ClientFact;
        let seen = match fact {
            Fact::Raft(f) => Seen::Raft(f),
            Fact::Client(ClientFact::Invoked { lane, seq, .. }) => Seen::Sent { op: (u64::from(*lane), *seq) },
            Fact::Client(ClientFact::Acknowledged { lane, seq, .. }) => {
                Seen::Answered { op: (u64::from(*lane), *seq), answer: Answer::Committed }
            }
            Fact::Replica(f) => match X::client_operation(f) {
                Some((op, None)) => Seen::Sent { op: (u64::MAX, op) },
                Some((op, Some(answer))) => Seen::Answered { op: (u64::MAX, op), answer },
                None => return,
            },
            _ => return,
        };
        self.availability.observe(at, node, seen);
    }

    /// A disruption began at `at` (a node went down, a partition, ...).
    pub fn on_disruption(&mut self, at: SimTime, disruption: &Disruption) {
        self.availability.observe(at, crate::trace::WORLD, Seen::Begins(disruption));
    }

    /// A disruption ended at `at`.
    pub fn on_disruption_end(&mut self, at: SimTime, key: DisruptionKey) {
        self.availability.observe(at, crate::trace::WORLD, Seen::Ends(key));
    }

    /// A fault without duration happened at `at` (a clock set drifting, a bit flipped).
    pub fn on_instant_fault(&mut self, at: SimTime) {
        self.availability.observe(at, crate::trace::WORLD, Seen::Instant);
    }

    /// The safety phase ended at `at`: every fault is healed.
    pub fn on_safety_end(&mut self, at: SimTime) {
        self.availability.observe(at, crate::trace::WORLD, Seen::SafetyEnds);
    }

    /// What availability measured, up to `end`.
    pub fn availability_summary(&self, end: SimTime) -> AvailabilitySummary {
        self.availability.summary(end)
    }

    /// Judges a message as it leaves `from` for `to`.
    pub fn on_send(&mut self, at: SimTime, from: NodeId, to: NodeId, msg: &Message<D>) -> Result<(), Violation> {
        match msg {
            ccrsim_model::deployment::message::Message::Replica(m) => self.design.on_replica_send(at, from, to, m),
            _ => Ok(()),
        }
    }

    /// The kinds of fault in effect changed: these are in effect from now on.
    pub fn on_faults_in_effect(&mut self, kinds: Vec<FaultKind>) {
        self.failovers.on_faults(kinds);
    }

    /// Every failover of the run so far: the controller groups' and the design's own groups', in
    /// the order their leaders were lost.
    pub fn failovers(&self) -> Vec<Failover> {
        self.failovers.all(&self.design.lost_writes())
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

    /// `node` went down at `at` (crash, halt or failed recovery).
    pub fn on_down(&mut self, at: SimTime, node: NodeId) {
        self.raft.on_down(node);
        self.failovers.on_down(at, node);
        self.on_disruption(at, &Disruption::Down(node));
    }

    /// Why the deployment has not converged yet: `(checker, source, reason)`, or `None`.
    pub fn pending(&self, view: &ClusterView<'_, D>) -> Option<(&'static str, &'static str, String)> {
        self.raft.pending(view).or_else(|| self.design.pending(view))
    }

    /// What is stuck when the liveness bound runs out at `now`: what `pending` says, except that
    /// a Raft group still busy (its members a moment behind its latest commits) is not the one
    /// stuck when something else still is.
    pub fn stuck(&self, view: &ClusterView<'_, D>, now: SimTime) -> Option<(&'static str, &'static str, String)> {
        self.raft.stuck(view, now).or_else(|| self.design.pending(view)).or_else(|| self.raft.pending(view))
    }

    /// Checks that need the final state.
    pub fn at_end(&mut self, at: SimTime, view: &ClusterView<'_, D>) -> Result<(), Violation> {
        self.raft.at_end(at, view, &self.acknowledged_writes)?;
        self.design.at_end(at, view)?;
        // After the design's own checkers: a loss they explain or refuse is theirs to report.
        let fates = self.design.write_fates(view);
        self.fates = Some(fates.summary());
        fates.verdict().map_err(|m| Violation::of(write_fate::NAME, write_fate::SOURCE, Class::EndState, at, None, m))?;
        at_end_of::<SimTime, (), (), _>(&self.availability, &at, &(), at, "")
    }

    /// The fate of every write on every copy: as `at_end` judged them, or as things stand if it
    /// did not run.
    pub fn fate_summary(&self, view: &ClusterView<'_, D>) -> FateSummary {
        self.fates.clone().unwrap_or_else(|| self.design.write_fates(view).summary())
    }

    /// The design's checkers (for summaries).
    pub fn design(&self) -> &X {
        &self.design
    }

    /// Acknowledged client writes so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged_writes.count()
    }
}

// A checker's violations carry its name and source: implemented here, beside the trait, so that
// `violation` needs nothing above it.
impl Violation {
    /// A violation reported by checker `C`.
    pub fn new<K: ?Sized, F: ?Sized, V: ?Sized, C: Checker<K, F, V>>(
        class: Class,
        at: SimTime,
        node: Option<NodeId>,
        message: String,
    ) -> Self {
        Violation::of(C::NAME, C::SOURCE, class, at, node, message)
    }
}

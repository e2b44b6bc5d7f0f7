//! Checkers: one file per property, each citing its source, judging every fact as it happens.
//!
//! | checker | property | source |
//! |---|---|---|
//! | `election-safety` | at most one leader per term; one vote per member per term | Raft Fig. 3, §5.2 |
//! | `leader-append-only` | a leader never overwrites or deletes its entries | Raft Fig. 3, §5.3 |
//! | `log-matching` | same index and term means same prefix | Raft Fig. 3, §5.3 |
//! | `leader-completeness` | committed entries are in every later leader's log | Raft Fig. 3, §5.4 |
//! | `state-machine-safety` | no two members apply different entries at one index | Raft Fig. 3, §5.4.3 |
//! | `raft-liveness` | after heal: a leader, followed by all, committing and applied everywhere | Raft §5.2, §9.3 |
//! | `acknowledged-writes` | every acknowledged proposal is in every live state machine | Raft §8; Jepsen |
//! | `fact-consistency` | the facts the checkers judge match the real state | ccrsim |
//! | `recovery-soundness` | only injected corruption makes a node refuse its own disk | ccrsim fault model |
//! | `2pc-atomicity` | every participant ends with the controller's decision | Gray & Lamport 2006; DolphinDB |
//! | `commit-durability` | an acknowledged commit is decided commit, and stays so | ACID; DolphinDB 2PC |
//! | `replica-convergence` | replicas of a chunk at one version hold the same rows | DolphinDB HA |
//! | `one-writer-per-partition` | no conflicting locks, no two open prepares on a replica | DolphinDB transactions |
//! | `reference-model` | the committed history in cid order gives the final state | serializability |
//! | `client-history` | acknowledged operations happened, failed ones did not | Jepsen |
//! | `dfs-liveness` | after heal: decided, resolved, recovered, answered | DolphinDB HA |
//!
//! Safety checkers run after every fact and stop the run at the first violation. Liveness checkers
//! answer `pending()` with a reason (TigerBeetle's style) until the system converged; a reason still
//! standing when the liveness bound runs out is the violation.

pub mod acknowledged_writes;
pub mod client_history;
pub mod commit_durability;
pub mod dfs_ledger;
pub mod dfs_liveness;
pub mod election_safety;
pub mod fact_consistency;
pub mod leader_append_only;
pub mod leader_completeness;
pub mod log_matching;
pub mod one_writer;
pub mod raft_liveness;
pub mod raft_shadow;
pub mod recovery_soundness;
pub mod reference_model;
pub mod replica_convergence;
pub mod state_machine_safety;
pub mod tx_atomicity;

use serde::Serialize;

use ccrsim_model::fact::Fact;
use ccrsim_model::io::NodeId;

use self::acknowledged_writes::AcknowledgedWrites;
use self::dfs_ledger::DfsLedger;
use self::election_safety::ElectionSafety;
use self::leader_append_only::LeaderAppendOnly;
use self::leader_completeness::LeaderCompleteness;
use self::log_matching::LogMatching;
use self::raft_shadow::GroupShadow;
use self::recovery_soundness::RecoverySoundness;
use self::state_machine_safety::StateMachineSafety;
use crate::time::SimTime;
use crate::topology::{ClusterId, Topology};
use crate::world::Node;

/// A panic inside the simulation: a model invariant broke (or the harness has a bug).
pub const MODEL_INVARIANT: &str = "model-invariant";
/// Two runs of one seed differed.
pub const DETERMINISM: &str = "determinism";

/// Every checker name a scenario's `expect.violation` may name.
pub const CHECKER_NAMES: &[&str] = &[
    election_safety::NAME,
    leader_append_only::NAME,
    log_matching::NAME,
    leader_completeness::NAME,
    state_machine_safety::NAME,
    raft_liveness::NAME,
    acknowledged_writes::NAME,
    fact_consistency::NAME,
    recovery_soundness::NAME,
    tx_atomicity::NAME,
    commit_durability::NAME,
    replica_convergence::NAME,
    one_writer::NAME,
    reference_model::NAME,
    client_history::NAME,
    dfs_liveness::NAME,
    MODEL_INVARIANT,
    DETERMINISM,
];

/// A broken property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The checker's name.
    pub checker: &'static str,
    /// Where the property comes from.
    pub source: &'static str,
    /// When it was seen.
    #[serde(serialize_with = "serialize_time")]
    pub at: SimTime,
    /// The node concerned, if one.
    pub node: Option<NodeId>,
    /// What happened.
    pub message: String,
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

/// The checkers of one Raft group.
#[derive(Debug)]
struct RaftGroupCheckers {
    members: Vec<NodeId>,
    shadow: GroupShadow,
    election_safety: ElectionSafety,
    leader_append_only: LeaderAppendOnly,
    log_matching: LogMatching,
    leader_completeness: LeaderCompleteness,
    state_machine_safety: StateMachineSafety,
}

/// Every checker of a run.
#[derive(Debug)]
pub struct Checkers {
    groups: Vec<RaftGroupCheckers>,
    group_of: Vec<Option<usize>>,
    acknowledged_writes: AcknowledgedWrites,
    recovery_soundness: RecoverySoundness,
    ledger: DfsLedger,
    controllers: Vec<NodeId>,
    data_nodes: Vec<NodeId>,
    clients: Vec<NodeId>,
}

impl Checkers {
    /// The checkers for a deployment.
    pub fn new(topology: &Topology) -> Self {
        let mut group_of = vec![None; topology.nodes.len()];
        let mut groups = Vec::new();
        for cluster in [ClusterId::Master] {
            let members = topology.controllers(cluster);
            if members.is_empty() {
                continue;
            }
            for &m in &members {
                group_of[m as usize] = Some(groups.len());
            }
            groups.push(RaftGroupCheckers {
                shadow: GroupShadow::new(format!("{} controllers", cluster.name()), &members),
                members,
                election_safety: ElectionSafety::default(),
                leader_append_only: LeaderAppendOnly,
                log_matching: LogMatching::default(),
                leader_completeness: LeaderCompleteness,
                state_machine_safety: StateMachineSafety::default(),
            });
        }
        Self {
            groups,
            group_of,
            acknowledged_writes: AcknowledgedWrites::default(),
            recovery_soundness: RecoverySoundness::default(),
            ledger: DfsLedger::default(),
            controllers: topology.controllers(ClusterId::Master),
            data_nodes: topology.data_nodes(ClusterId::Master),
            clients: topology.clients(),
        }
    }

    /// Judges one fact reported by `node` at `at`.
    pub fn on_fact(&mut self, at: SimTime, node: NodeId, fact: &Fact) -> Result<(), Violation> {
        let violation = |checker, source, message| Violation { checker, source, at, node: Some(node), message };
        match fact {
            Fact::Raft(f) => {
                let Some(g) = self.group_of[node as usize] else { return Ok(()) };
                let g = &mut self.groups[g];
                let s = &g.shadow;
                g.election_safety.check(s, node, f).map_err(|m| violation(election_safety::NAME, election_safety::SOURCE, m))?;
                g.leader_append_only
                    .check(s, node, f)
                    .map_err(|m| violation(leader_append_only::NAME, leader_append_only::SOURCE, m))?;
                g.log_matching.check(s, node, f).map_err(|m| violation(log_matching::NAME, log_matching::SOURCE, m))?;
                g.leader_completeness
                    .check(s, node, f)
                    .map_err(|m| violation(leader_completeness::NAME, leader_completeness::SOURCE, m))?;
                g.state_machine_safety
                    .check(s, node, f)
                    .map_err(|m| violation(state_machine_safety::NAME, state_machine_safety::SOURCE, m))?;
                g.shadow.apply(node, f).map_err(|m| violation(fact_consistency::NAME, fact_consistency::SOURCE, m))
            }
            Fact::Client(f) => self
                .acknowledged_writes
                .observe(node, f)
                .map_err(|m| violation(acknowledged_writes::NAME, acknowledged_writes::SOURCE, m)),
            Fact::Dfs(f) => {
                let l = &self.ledger;
                tx_atomicity::check(l, node, f).map_err(|m| violation(tx_atomicity::NAME, tx_atomicity::SOURCE, m))?;
                one_writer::check(l, node, f).map_err(|m| violation(one_writer::NAME, one_writer::SOURCE, m))?;
                replica_convergence::check(l, node, f).map_err(|m| violation(replica_convergence::NAME, replica_convergence::SOURCE, m))?;
                commit_durability::check(l, node, f).map_err(|m| violation(commit_durability::NAME, commit_durability::SOURCE, m))?;
                client_history::check(l, node, f).map_err(|m| violation(client_history::NAME, client_history::SOURCE, m))?;
                if let ccrsim_model::txn::DfsFact::ReplicaLost { why, .. } = f {
                    self.recovery_soundness.on_refusal(node, why).map_err(|m| violation(recovery_soundness::NAME, recovery_soundness::SOURCE, m))?;
                }
                self.ledger.apply(node, f);
                Ok(())
            }
            Fact::Repl(_) | Fact::Admin { .. } => Ok(()),
        }
    }

    /// The nemesis corrupted `node`'s disk.
    pub fn on_corruption(&mut self, node: NodeId) {
        self.recovery_soundness.on_corruption(node);
    }

    /// `node` refused to start on its durable state.
    pub fn on_refusal(&self, at: SimTime, node: NodeId, reason: &str) -> Result<(), Violation> {
        self.recovery_soundness.on_refusal(node, reason).map_err(|message| Violation {
            checker: recovery_soundness::NAME,
            source: recovery_soundness::SOURCE,
            at,
            node: Some(node),
            message,
        })
    }

    /// `node` went down (crash, halt or failed recovery).
    pub fn on_down(&mut self, node: NodeId) {
        if let Some(g) = self.group_of[node as usize] {
            self.groups[g].shadow.on_down(node);
        }
    }

    /// Why the deployment has not converged yet: `(checker, source, reason)`, or `None`.
    pub fn pending(&self, nodes: &[Node]) -> Option<(&'static str, &'static str, String)> {
        for g in &self.groups {
            if let Some(reason) = raft_liveness::pending(nodes, &g.members) {
                return Some((raft_liveness::NAME, raft_liveness::SOURCE, format!("{}: {reason}", g.shadow.name)));
            }
            if let Some(reason) = self.acknowledged_writes.pending(nodes, &g.members) {
                return Some((acknowledged_writes::NAME, acknowledged_writes::SOURCE, reason));
            }
        }
        dfs_liveness::pending(nodes, &self.controllers, &self.data_nodes, &self.clients)
            .map(|reason| (dfs_liveness::NAME, dfs_liveness::SOURCE, reason))
    }

    /// Checks that need the final state.
    pub fn at_end(&self, at: SimTime, nodes: &[Node]) -> Result<(), Violation> {
        let violation = |checker, source, message| Violation { checker, source, at, node: None, message };
        for g in &self.groups {
            fact_consistency::check(&g.shadow, nodes).map_err(|m| violation(fact_consistency::NAME, fact_consistency::SOURCE, m))?;
        }
        if !self.data_nodes.is_empty() {
            let l = &self.ledger;
            commit_durability::at_end(l, nodes, &self.controllers).map_err(|m| violation(commit_durability::NAME, commit_durability::SOURCE, m))?;
            client_history::at_end(l).map_err(|m| violation(client_history::NAME, client_history::SOURCE, m))?;
            reference_model::at_end(l, nodes, &self.controllers).map_err(|m| violation(reference_model::NAME, reference_model::SOURCE, m))?;
        }
        Ok(())
    }

    /// The DFS ledger (for reports and snapshots).
    pub fn ledger(&self) -> &DfsLedger {
        &self.ledger
    }

    /// Acknowledged client writes so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged_writes.count()
    }
}

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
//! | `grouping` | dense task ids, groups by the conflict rule | DolphinDB replication |
//! | `no-gaps` | every pulled batch continues the offset with the master's tasks | DolphinDB replication |
//! | `slave-order` | group barrier per queue; conflicting tasks commit in task id order | DolphinDB replication |
//! | `exactly-once` | no task commits twice; FINISHED means committed once | DolphinDB replication (EditLog) |
//! | `gc-safety` | the queue is truncated only below what every slave finished | DolphinDB replication |
//! | `new-nodes-idle` | added data nodes never get tasks | DolphinDB replication |
//! | `status-truthful` | status functions show what the controller applied | DolphinDB replication |
//! | `task-data-durability` | synchronously persisted task data is never missing | clusterReplicationSyncPersistence |
//! | `eventual-consistency` | after heal each slave equals its committed tasks, and the master where nothing explains a difference | DolphinDB replication |
//! | `replication-liveness` | after heal slaves pull and finish every task that can run | DolphinDB replication |
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
pub mod eventual_consistency;
pub mod exactly_once;
pub mod fact_consistency;
pub mod gc_safety;
pub mod leader_append_only;
pub mod leader_completeness;
pub mod log_matching;
pub mod new_nodes_idle;
pub mod no_gaps;
pub mod one_writer;
pub mod oracle;
pub mod raft_liveness;
pub mod raft_shadow;
pub mod recovery_soundness;
pub mod reference_model;
pub mod repl_ledger;
pub mod replica_convergence;
pub mod replication_liveness;
pub mod slave_order;
pub mod state_machine_safety;
pub mod status_truthful;
pub mod task_data_durability;
pub mod task_grouping;
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
use self::repl_ledger::ReplLedger;
use self::state_machine_safety::StateMachineSafety;
use crate::time::SimTime;
use crate::topology::{ClusterId, Topology};
use crate::world::Node;

/// A panic inside the simulation: a model invariant broke (or the harness has a bug).
pub const MODEL_INVARIANT: &str = "model-invariant";
/// Two runs of one seed differed.
pub const DETERMINISM: &str = "determinism";
/// A management call a scenario makes got another outcome than the scenario expects.
pub const MANAGEMENT_CALLS: &str = "management-calls";

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
    task_grouping::NAME,
    no_gaps::NAME,
    slave_order::NAME,
    exactly_once::NAME,
    gc_safety::NAME,
    new_nodes_idle::NAME,
    status_truthful::NAME,
    task_data_durability::NAME,
    eventual_consistency::NAME,
    replication_liveness::NAME,
    MODEL_INVARIANT,
    DETERMINISM,
    MANAGEMENT_CALLS,
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

/// The DFS checkers of one cluster: its ledger and its nodes.
#[derive(Debug)]
struct ClusterDfs {
    cluster: ClusterId,
    ledger: DfsLedger,
    controllers: Vec<NodeId>,
    data_nodes: Vec<NodeId>,
    clients: Vec<NodeId>,
}

/// Every checker of a run.
#[derive(Debug)]
pub struct Checkers {
    groups: Vec<RaftGroupCheckers>,
    group_of: Vec<Option<usize>>,
    acknowledged_writes: AcknowledgedWrites,
    recovery_soundness: RecoverySoundness,
    /// Per cluster with data nodes, the master first.
    dfs: Vec<ClusterDfs>,
    /// The cluster (index into `dfs`) whose DFS facts a node reports.
    dfs_of: Vec<Option<usize>>,
    /// Replication, if the deployment has slaves.
    repl: Option<ReplCheckers>,
}

/// The replication checkers' state.
#[derive(Debug)]
struct ReplCheckers {
    ledger: ReplLedger,
    /// clusterReplicationSyncPersistence.
    sync: bool,
    /// Databases replicated from the start.
    scope: std::collections::BTreeSet<String>,
    /// Controllers of every cluster.
    controllers: std::collections::BTreeMap<ClusterId, Vec<NodeId>>,
}

impl Checkers {
    /// The checkers for a deployment.
    pub fn new(topology: &Topology, scenario: &crate::scenario::Scenario) -> Self {
        let mut group_of = vec![None; topology.nodes.len()];
        let mut groups = Vec::new();
        for cluster in topology.clusters() {
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
        let mut dfs = Vec::new();
        let mut dfs_of = vec![None; topology.nodes.len()];
        for cluster in topology.clusters() {
            let data_nodes = topology.data_nodes(cluster);
            if data_nodes.is_empty() {
                continue;
            }
            let (controllers, clients) = (topology.controllers(cluster), topology.dfs_clients(cluster));
            for &n in controllers.iter().chain(&data_nodes).chain(&clients) {
                dfs_of[n as usize] = Some(dfs.len());
            }
            dfs.push(ClusterDfs { cluster, ledger: DfsLedger::default(), controllers, data_nodes, clients });
        }
        let repl = crate::roles::replicates(scenario).then(|| {
            let queues = |c: ClusterId| match crate::roles::repl_config(scenario, topology, c) {
                ccrsim_model::repl::ReplConfig::Slave(s) => s.queues,
                _ => 1,
            };
            ReplCheckers {
                ledger: ReplLedger::new(topology, &scenario.replication.databases, queues),
                sync: scenario.replication.sync_persistence,
                scope: scenario.replication.databases.keys().cloned().collect(),
                controllers: topology.clusters().into_iter().map(|c| (c, topology.controllers(c))).collect(),
            }
        });
        Self {
            groups,
            group_of,
            acknowledged_writes: AcknowledgedWrites::default(),
            recovery_soundness: RecoverySoundness::default(),
            dfs,
            dfs_of,
            repl,
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
                g.leader_append_only.check(s, node, f).map_err(|m| violation(leader_append_only::NAME, leader_append_only::SOURCE, m))?;
                g.log_matching.check(s, node, f).map_err(|m| violation(log_matching::NAME, log_matching::SOURCE, m))?;
                g.leader_completeness
                    .check(s, node, f)
                    .map_err(|m| violation(leader_completeness::NAME, leader_completeness::SOURCE, m))?;
                g.state_machine_safety
                    .check(s, node, f)
                    .map_err(|m| violation(state_machine_safety::NAME, state_machine_safety::SOURCE, m))?;
                g.shadow.apply(node, f).map_err(|m| violation(fact_consistency::NAME, fact_consistency::SOURCE, m))
            }
            Fact::Client(f) => {
                self.acknowledged_writes.observe(node, f).map_err(|m| violation(acknowledged_writes::NAME, acknowledged_writes::SOURCE, m))
            }
            Fact::Dfs(f) => {
                let Some(d) = self.dfs_of[node as usize] else { return Ok(()) };
                let l = &self.dfs[d].ledger;
                tx_atomicity::check(l, node, f).map_err(|m| violation(tx_atomicity::NAME, tx_atomicity::SOURCE, m))?;
                one_writer::check(l, node, f).map_err(|m| violation(one_writer::NAME, one_writer::SOURCE, m))?;
                replica_convergence::check(l, node, f).map_err(|m| violation(replica_convergence::NAME, replica_convergence::SOURCE, m))?;
                commit_durability::check(l, node, f).map_err(|m| violation(commit_durability::NAME, commit_durability::SOURCE, m))?;
                client_history::check(l, node, f).map_err(|m| violation(client_history::NAME, client_history::SOURCE, m))?;
                if let ccrsim_model::txn::DfsFact::ReplicaLost { why, .. } = f {
                    self.recovery_soundness
                        .on_refusal(node, why)
                        .map_err(|m| violation(recovery_soundness::NAME, recovery_soundness::SOURCE, m))?;
                }
                self.dfs[d].ledger.apply(node, f);
                Ok(())
            }
            Fact::Repl(f) => {
                let Some(r) = self.repl.as_mut() else { return Ok(()) };
                let l = &r.ledger;
                task_grouping::check(l, f).map_err(|m| violation(task_grouping::NAME, task_grouping::SOURCE, m))?;
                no_gaps::check(l, node, f).map_err(|m| violation(no_gaps::NAME, no_gaps::SOURCE, m))?;
                slave_order::check(l, node, f).map_err(|m| violation(slave_order::NAME, slave_order::SOURCE, m))?;
                exactly_once::check(l, node, f).map_err(|m| violation(exactly_once::NAME, exactly_once::SOURCE, m))?;
                gc_safety::check(l, f).map_err(|m| violation(gc_safety::NAME, gc_safety::SOURCE, m))?;
                new_nodes_idle::check(l, node, f).map_err(|m| violation(new_nodes_idle::NAME, new_nodes_idle::SOURCE, m))?;
                task_data_durability::check(l, f, r.sync)
                    .map_err(|m| violation(task_data_durability::NAME, task_data_durability::SOURCE, m))?;
                r.ledger.apply(node, f);
                Ok(())
            }
            Fact::Admin { result, .. } => match &self.repl {
                Some(r) => status_truthful::check(&r.ledger, node, result)
                    .map_err(|m| violation(status_truthful::NAME, status_truthful::SOURCE, m)),
                None => Ok(()),
            },
        }
    }

    /// The nemesis corrupted `node`'s disk.
    pub fn on_corruption(&mut self, node: NodeId) {
        self.recovery_soundness.on_corruption(node);
        if let Some(r) = self.repl.as_mut() {
            r.ledger.corrupted.insert(node);
        }
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
        let dfs = self.dfs.iter().find_map(|d| {
            dfs_liveness::pending(nodes, &d.controllers, &d.data_nodes, &d.clients)
                .map(|reason| (dfs_liveness::NAME, dfs_liveness::SOURCE, format!("{}: {reason}", d.cluster.name())))
        });
        dfs.or_else(|| {
            let r = self.repl.as_ref()?;
            replication_liveness::pending(nodes, |c| &r.controllers[&c][..], r.ledger.slaves.keys().copied())
                .map(|reason| (replication_liveness::NAME, replication_liveness::SOURCE, reason))
        })
    }

    /// Checks that need the final state.
    pub fn at_end(&self, at: SimTime, nodes: &[Node]) -> Result<(), Violation> {
        let violation = |checker, source, message| Violation { checker, source, at, node: None, message };
        for g in &self.groups {
            fact_consistency::check(&g.shadow, nodes).map_err(|m| violation(fact_consistency::NAME, fact_consistency::SOURCE, m))?;
        }
        for d in &self.dfs {
            let (l, name) = (&d.ledger, d.cluster.name());
            let tagged = |checker, source, m: String| violation(checker, source, format!("{name}: {m}"));
            commit_durability::at_end(l, nodes, &d.controllers)
                .map_err(|m| tagged(commit_durability::NAME, commit_durability::SOURCE, m))?;
            client_history::at_end(l).map_err(|m| tagged(client_history::NAME, client_history::SOURCE, m))?;
            reference_model::at_end(l, nodes, &d.controllers).map_err(|m| tagged(reference_model::NAME, reference_model::SOURCE, m))?;
        }
        if let (Some(r), Some(master)) = (&self.repl, self.ledger()) {
            exactly_once::at_end(&r.ledger).map_err(|m| violation(exactly_once::NAME, exactly_once::SOURCE, m))?;
            eventual_consistency::at_end(&r.ledger, master, nodes, |c| &r.controllers[&c][..], &r.scope)
                .map_err(|m| violation(eventual_consistency::NAME, eventual_consistency::SOURCE, m))?;
        }
        Ok(())
    }

    /// The replication ledger, if the deployment has slaves.
    pub fn repl_ledger(&self) -> Option<&ReplLedger> {
        self.repl.as_ref().map(|r| &r.ledger)
    }

    /// The master's DFS ledger (for reports and snapshots), if it has data nodes.
    pub fn ledger(&self) -> Option<&DfsLedger> {
        self.ledger_of(ClusterId::Master)
    }

    /// A cluster's DFS ledger.
    pub fn ledger_of(&self, cluster: ClusterId) -> Option<&DfsLedger> {
        self.dfs.iter().find(|d| d.cluster == cluster).map(|d| &d.ledger)
    }

    /// Acknowledged client writes so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged_writes.count()
    }
}

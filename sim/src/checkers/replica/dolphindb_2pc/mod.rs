//! DolphinDB's 2PC replica protocol: atomicity, durability, replica convergence, one writer per
//! partition, replica placement, the reference model, the client history, reads and liveness,
//! judged on a ledger of the protocol's facts.

pub mod client_history;
pub mod commit_durability;
pub mod ledger;
pub mod liveness;
pub mod one_writer;
pub mod prepare_durability;
pub mod reads;
pub mod reference_model;
pub mod replica_convergence;
pub mod replica_placement;
#[cfg(test)]
pub(crate) mod test_support;
pub mod tx_atomicity;
pub mod write_fate;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::replica::dolphindb_2pc::guest::Guest2pc;
use ccrsim_model::replica::dolphindb_2pc::{DfsFact, DfsMessage, DfsOutput, Dolphin2pc};

use self::client_history::ClientHistory;
use self::commit_durability::CommitDurability;
use self::ledger::DfsLedger;
use self::liveness::DfsLiveness;
use self::one_writer::OneWriter;
use self::prepare_durability::PrepareDurability;
use self::reads::Reads;
use self::reference_model::ReferenceModel;
use self::replica_convergence::ReplicaConvergence;
use self::replica_placement::{PlacementRules, ReplicaPlacement};
use self::tx_atomicity::TxAtomicity;
use crate::checkers::{Violation, at_end_of, judge, pending_of};
use crate::deployment::Deployment;
use crate::env::time::SimTime;
use crate::summary::ReplicaSummary;
use crate::topology::{ClusterId, Topology};
use crate::view::ClusterView;

/// A design whose replica protocol is DolphinDB's 2PC (with any pipeline that runs on it).
pub trait On2pc: Deployment<R = Dolphin2pc, P: Guest2pc> {}
impl<D: Deployment<R = Dolphin2pc, P: Guest2pc>> On2pc for D {}

/// What the cluster-level checks of one cluster see: the deployment, and the cluster's nodes.
pub struct Scope<'a, D: Deployment> {
    /// The deployment.
    pub view: ClusterView<'a, D>,
    /// The cluster.
    pub cluster: ClusterId,
    /// Its controllers.
    pub controllers: &'a [NodeId],
    /// Its data nodes.
    pub data_nodes: &'a [NodeId],
    /// The workload clients writing to it.
    pub clients: &'a [NodeId],
}

/// The 2PC checkers of one cluster: its ledger and its nodes.
#[derive(Debug)]
struct ClusterCheckers {
    cluster: ClusterId,
    ledger: DfsLedger,
    /// `prepare-durability` keeps its own books.
    prepare_durability: PrepareDurability,
    /// `2pc-atomicity` keeps each transaction's participants and yes votes.
    tx_atomicity: TxAtomicity,
    /// `one-writer-per-partition` keeps the committed state BEGINs see.
    one_writer: OneWriter,
    /// `reads` keeps the committed history it judges answers against.
    reads: Reads,
    /// `replica-placement` judges by the cluster's placement rules.
    placement: ReplicaPlacement,
    controllers: Vec<NodeId>,
    data_nodes: Vec<NodeId>,
    clients: Vec<NodeId>,
}

/// Every 2PC checker of a deployment: one ledger per cluster with data nodes, the master first.
#[derive(Debug)]
pub struct DfsCheckers {
    clusters: Vec<ClusterCheckers>,
    /// The cluster (index into `clusters`) whose facts a node reports.
    cluster_of: Vec<Option<usize>>,
}

impl DfsCheckers {
    /// The names of the 2PC checkers.
    pub fn names() -> Vec<&'static str> {
        vec![
            tx_atomicity::NAME,
            one_writer::NAME,
            replica_convergence::NAME,
            replica_placement::NAME,
            commit_durability::NAME,
            prepare_durability::NAME,
            client_history::NAME,
            reads::NAME,
            reference_model::NAME,
            liveness::NAME,
        ]
    }

    /// The checkers of every cluster of `topology` that has data nodes; `placement` gives a
    /// cluster's replication factor and reliability level.
    pub fn new(topology: &Topology, placement: impl Fn(ClusterId) -> (usize, u8)) -> Self {
        let mut clusters = Vec::new();
        let mut cluster_of = vec![None; topology.nodes.len()];
        for cluster in topology.clusters() {
            let data_nodes = topology.data_nodes(cluster);
            if data_nodes.is_empty() {
                continue;
            }
            let (controllers, clients) = (topology.controllers(cluster), topology.replica_clients(cluster));
            for &n in controllers.iter().chain(&data_nodes).chain(&clients) {
                cluster_of[n as usize] = Some(clusters.len());
            }
            clusters.push(ClusterCheckers {
                cluster,
                ledger: DfsLedger::default(),
                prepare_durability: PrepareDurability::default(),
                tx_atomicity: TxAtomicity::default(),
                one_writer: OneWriter::default(),
                reads: Reads::default(),
                placement: ReplicaPlacement {
                    rules: {
                        let (replication_factor, reliability_level) = placement(cluster);
                        PlacementRules::of(topology, cluster, replication_factor, reliability_level)
                    },
                },
                controllers,
                data_nodes,
                clients,
            });
        }
        Self { clusters, cluster_of }
    }

    /// Judges a fact of `node` against its cluster's ledger before it, then has the ledger follow.
    pub fn on_fact<D: On2pc>(&mut self, at: SimTime, node: NodeId, fact: &DfsFact) -> Result<(), Violation> {
        let Some(c) = self.cluster_of[node as usize] else { return Ok(()) };
        let cluster = &mut self.clusters[c];
        let l = &cluster.ledger;
        judge::<DfsLedger, DfsFact, (), _>(&mut cluster.tx_atomicity, l, at, node, fact)?;
        judge::<DfsLedger, DfsFact, (), _>(&mut cluster.one_writer, l, at, node, fact)?;
        judge::<DfsLedger, DfsFact, (), _>(&mut ReplicaConvergence, l, at, node, fact)?;
        judge::<(), DfsFact, (), _>(&mut cluster.placement, &(), at, node, fact)?;
        judge::<DfsLedger, DfsFact, Scope<'_, D>, _>(&mut CommitDurability, l, at, node, fact)?;
        judge::<(), DfsFact, (), _>(&mut cluster.prepare_durability, &(), at, node, fact)?;
        judge::<DfsLedger, DfsFact, (), _>(&mut ClientHistory, l, at, node, fact)?;
        judge::<DfsLedger, DfsFact, (), _>(&mut cluster.reads, l, at, node, fact)?;
        cluster.ledger.apply(node, fact);
        Ok(())
    }

    /// A message of the protocol leaves `from`: a participant's yes vote binds it
    /// (`prepare-durability`) and counts for phase one (`2pc-atomicity`); a controller's answer to
    /// a BEGIN names the transaction's participants (`2pc-atomicity`).
    pub fn on_send<D: On2pc>(&mut self, from: NodeId, msg: &DfsMessage<D::P>) {
        let Some(c) = self.cluster_of[from as usize] else { return };
        let cluster = &mut self.clusters[c];
        match msg {
            DfsMessage::Prepared { tid, chunk, ok: true, .. } => {
                cluster.prepare_durability.on_vote(from, *tid, *chunk);
                cluster.tx_atomicity.on_vote(from, *tid, *chunk);
            }
            DfsMessage::Response { result: Ok(DfsOutput::Begun(b)), .. } => {
                let participants = b.participations.iter().flat_map(|p| p.replicas.iter().map(|&n| (p.chunk, n)));
                cluster.tx_atomicity.on_begun(b.tid, participants);
            }
            _ => {}
        }
    }

    /// The reason a fact gives for refusing part of a node's durable state, if it does (judged by
    /// `recovery-soundness`).
    pub fn refusal(fact: &DfsFact) -> Option<&str> {
        match fact {
            DfsFact::ReplicaLost { why, .. } => Some(why),
            _ => None,
        }
    }

    fn scope<'a, D: On2pc>(c: &'a ClusterCheckers, view: &ClusterView<'a, D>) -> Scope<'a, D> {
        Scope { view: *view, cluster: c.cluster, controllers: &c.controllers, data_nodes: &c.data_nodes, clients: &c.clients }
    }

    /// The first cluster whose DFS has not settled.
    pub fn pending<D: On2pc>(&self, view: &ClusterView<'_, D>) -> Option<(&'static str, &'static str, String)> {
        self.clusters.iter().find_map(|c| pending_of(&DfsLiveness, &c.ledger, &Self::scope(c, view)))
    }

    /// End-state checks of every cluster.
    pub fn at_end<D: On2pc>(&self, at: SimTime, view: &ClusterView<'_, D>) -> Result<(), Violation> {
        for c in &self.clusters {
            let (l, scope, name) = (&c.ledger, Self::scope(c, view), c.cluster.name());
            at_end_of(&CommitDurability, l, &scope, at, &name)?;
            at_end_of::<DfsLedger, DfsFact, Scope<'_, D>, _>(&ClientHistory, l, &scope, at, &name)?;
            at_end_of(&ReferenceModel, l, &scope, at, &name)?;
        }
        Ok(())
    }

    /// A cluster's ledger.
    pub fn ledger(&self, cluster: ClusterId) -> Option<&DfsLedger> {
        self.clusters.iter().find(|c| c.cluster == cluster).map(|c| &c.ledger)
    }

    /// What the master's DFS did, for reports.
    pub fn summary(&self) -> Option<ReplicaSummary> {
        self.ledger(ClusterId::Master).map(DfsLedger::summary)
    }
}

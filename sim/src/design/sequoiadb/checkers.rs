//! The checkers of SequoiaDB's deployment, composed: Raft's judge the catalog's controller group as
//! every design's (`checkers::Checkers`); SequoiaDB's own (`checkers/replica/sequoiadb/`: one
//! primary per version, record uniqueness, ReplSize refusals, write durability, indeterminate
//! writes, CONSULT prefix, full sync exactly once, no reads in full sync, session guarantees,
//! group convergence) judge every SequoiaDB fact, and the end state of the running data nodes,
//! which this file reads from the view ([`final_nodes`]).

use ccrsim_model::core::io::NodeId;
use ccrsim_model::deployment::call::{Call as AnyCall, CallResult as AnyResult};
use ccrsim_model::pipeline::none::Nothing;
use ccrsim_model::replica::sequoiadb::SeqFact;
use ccrsim_model::replica::sequoiadb::lsn::Lsn;
use ccrsim_model::replica::sequoiadb::types::Member;

use super::Sequoiadb;
use crate::checkers::Violation;
use crate::checkers::availability::Answer;
use crate::checkers::failovers::{Leadership, LostWrites};
use crate::checkers::replica::sequoiadb::{FinalNode, SeqCheckers};
use crate::checkers::write_fate::Fates;
use crate::design::{Call, CallResult, DesignCheckers};
use crate::env::time::SimTime;
use crate::summary::{PipelineSummary, ReplicaSummary};
use crate::topology::ClusterId;
use crate::view::ClusterView;

/// Every checker of SequoiaDB's deployment.
#[derive(Debug, Default)]
pub struct SequoiadbCheckers {
    seq: SeqCheckers,
}

impl SequoiadbCheckers {
    /// The names of this design's own checkers.
    pub fn names() -> Vec<&'static str> {
        SeqCheckers::names()
    }
}

/// The running data nodes that know their group, as the end-state checks read them: role, status,
/// the records their log holds (with each record's digest, the identity the facts report) and
/// their documents. A node that is down, or has not learnt its group yet, holds nothing to judge.
pub fn final_nodes(view: &ClusterView<'_, Sequoiadb>) -> Vec<FinalNode> {
    view.topology
        .data_nodes(ClusterId::Master)
        .into_iter()
        .filter_map(|n| {
            let d = view.running(n)?.as_data_node()?;
            let group = d.group()?;
            Some(FinalNode {
                member: Member { group, node: n },
                role: d.node_role(),
                status: d.status(),
                end: d.log().end(),
                log: d.log().records().map(|r| (r.lsn, r.digest())).collect(),
                docs: d.docs().clone(),
            })
        })
        .collect()
}

impl DesignCheckers<Sequoiadb> for SequoiadbCheckers {
    fn on_replica_fact(&mut self, at: SimTime, node: NodeId, fact: &SeqFact) -> Result<(), Violation> {
        self.seq.on_fact(at, node, fact)
    }

    /// A SequoiaDB node never refuses its durable state: a torn tail is cut at boot (reported by
    /// `NodeBooted`), and a node that cannot catch up is rebuilt by full sync.
    fn refusal(_: &SeqFact) -> Option<&str> {
        None
    }

    fn client_operation(fact: &SeqFact) -> Option<(u64, Option<Answer>)> {
        SeqCheckers::client_operation(fact)
    }

    fn on_pipeline_fact(&mut self, _: SimTime, _: NodeId, fact: &Nothing) -> Result<(), Violation> {
        match *fact {}
    }

    /// A management call's effect shows in the catalog's and the nodes' facts, which the checkers
    /// judge; the answer itself is the scenario's expectation (`management-calls`).
    fn on_answer(&mut self, _: SimTime, _: NodeId, call: &Call<Sequoiadb>, result: &CallResult<Sequoiadb>) -> Result<(), Violation> {
        match (call, result) {
            (AnyCall::Pipeline(none), _) => match *none {},
            (_, AnyResult::Pipeline(none)) => match *none {},
            (AnyCall::Replica(_), AnyResult::Replica(_)) => Ok(()),
        }
    }

    /// Corruption stays within a minority of a group (the design's budget), which full sync
    /// rebuilds: nothing the checkers promise changes.
    fn on_corruption(&mut self, _: NodeId) {}

    fn pending(&self, view: &ClusterView<'_, Sequoiadb>) -> Option<(&'static str, &'static str, String)> {
        self.seq.pending(&final_nodes(view))
    }

    fn at_end(&self, at: SimTime, view: &ClusterView<'_, Sequoiadb>) -> Result<(), Violation> {
        self.seq.at_end(at, &final_nodes(view))
    }

    fn replica_summary(&self) -> Option<ReplicaSummary> {
        Some(self.seq.replica_summary())
    }

    fn pipeline_summary(&self) -> Option<PipelineSummary> {
        None
    }

    /// A primary elected with its version, stepping down, and answering a write it wrote
    /// (`Served`: the group takes writes again; the record's LSN carries the primary's version).
    fn leadership(fact: &SeqFact) -> Option<Leadership> {
        Some(match fact {
            SeqFact::BecamePrimary { at, version, .. } => Leadership::Elected { group: at.group, epoch: u64::from(*version) },
            SeqFact::SteppedDown { at, .. } => Leadership::SteppedDown { group: at.group },
            SeqFact::WriteAnswered { at, lsn, error: None, .. } if *lsn != Lsn::INVALID => {
                Leadership::Served { group: at.group, epoch: u64::from(lsn.version) }
            }
            _ => return None,
        })
    }

    fn lost_writes(&self) -> Vec<LostWrites> {
        self.seq
            .failover_rpo()
            .iter()
            .map(|r| LostWrites { group: r.group, epoch: u64::from(r.version), writes: r.ops, span_s: r.seconds() })
            .collect()
    }

    /// Every acknowledged or indeterminate write on every node of its group, each named by the
    /// topology (`checkers/replica/sequoiadb/write_fate.rs`).
    fn write_fates(&self, view: &ClusterView<'_, Sequoiadb>) -> Fates {
        self.seq.write_fates(&final_nodes(view), |n| view.topology.nodes[n as usize].name.clone())
    }
}

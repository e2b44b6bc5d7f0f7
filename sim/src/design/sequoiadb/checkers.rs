//! The checkers of SequoiaDB's deployment, composed: what goes to which, and the summary of a run.
//!
//! Raft's checkers judge the catalog's controller group as every design's (`checkers::Checkers`);
//! SequoiaDB's own promises (issue 11: acknowledged writes survive, one primary per version, the
//! log rules of CONSULT and full sync, ReplSize, reads) are judged by the checkers of
//! `checkers/replica/sequoiadb/` once they are composed here. This file keeps the run's summary
//! from the clients' facts: how each kind of operation ended.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::deployment::call::{Call as AnyCall, CallResult as AnyResult};
use ccrsim_model::pipeline::none::Nothing;
use ccrsim_model::replica::sequoiadb::SeqFact;
use ccrsim_model::replica::sequoiadb::fact::{ReadOutcome, WriteOutcome};
use ccrsim_model::replica::sequoiadb::types::{SeqError, WriteId, WriteOp};

use super::Sequoiadb;
use crate::checkers::Violation;
use crate::checkers::availability::Answer;
use crate::design::{Call, CallResult, DesignCheckers};
use crate::env::time::SimTime;
use crate::summary::{OpCounts, PipelineSummary, ReplicaSummary};
use crate::view::ClusterView;

/// How the clients' operations ended, by kind.
#[derive(Debug, Default)]
struct Outcomes {
    /// The kind of each write sent and not ended yet.
    kinds: BTreeMap<WriteId, WriteOp>,
    /// Counts by kind (`insert`, `increment`, `delete`, `read`).
    counts: BTreeMap<String, OpCounts>,
    /// Refusals and indeterminate ends by error name.
    failures: BTreeMap<String, u64>,
}

impl Outcomes {
    fn on_fact(&mut self, fact: &SeqFact) {
        match fact {
            SeqFact::WriteInvoked { write, op, .. } => {
                self.kinds.insert(*write, *op);
            }
            SeqFact::WriteEnded { write, outcome, .. } => {
                let kind = self.kinds.remove(write).map_or("write", kind_name);
                let counts = self.counts.entry(kind.to_string()).or_default();
                match outcome {
                    WriteOutcome::Ok { .. } => counts.ok += 1,
                    WriteOutcome::Failed(e) => {
                        counts.failed += 1;
                        *self.failures.entry(format!("{e:?}")).or_default() += 1;
                    }
                    WriteOutcome::Indeterminate(e) => {
                        counts.unknown += 1;
                        *self.failures.entry(e.map_or("NoAnswer".into(), |e| format!("{e:?}"))).or_default() += 1;
                    }
                }
            }
            SeqFact::ReadEnded { outcome, .. } => {
                let counts = self.counts.entry("read".into()).or_default();
                match outcome {
                    ReadOutcome::Value { .. } => counts.ok += 1,
                    ReadOutcome::Failed(_) => counts.failed += 1,
                    ReadOutcome::Unknown => counts.unknown += 1,
                }
            }
            _ => {}
        }
    }

    fn summary(&self) -> ReplicaSummary {
        ReplicaSummary {
            operations: self.counts.clone(),
            committed_transactions: self.counts.iter().filter(|(k, _)| *k != "read").map(|(_, c)| c.ok).sum(),
            rolled_back_transactions: 0,
            failures: self.failures.clone(),
            state_digest: String::new(),
        }
    }
}

fn kind_name(op: WriteOp) -> &'static str {
    match op {
        WriteOp::Insert { .. } => "insert",
        WriteOp::Increment { .. } => "increment",
        WriteOp::Delete => "delete",
    }
}

/// The availability key of a client's write: its session and sequence, packed.
fn op_key(write: WriteId) -> u64 {
    (u64::from(write.0) << 40) | write.1
}

/// Every checker of SequoiaDB's deployment.
#[derive(Debug, Default)]
pub struct SequoiadbCheckers {
    outcomes: Outcomes,
}

impl SequoiadbCheckers {
    /// The names of this design's own checkers.
    pub fn names() -> Vec<&'static str> {
        Vec::new()
    }
}

impl DesignCheckers<Sequoiadb> for SequoiadbCheckers {
    fn on_replica_fact(&mut self, _: SimTime, _: NodeId, fact: &SeqFact) -> Result<(), Violation> {
        self.outcomes.on_fact(fact);
        Ok(())
    }

    /// A SequoiaDB node never refuses its durable state: a torn tail is cut at boot (reported by
    /// `NodeBooted`), and a node that cannot catch up is rebuilt by full sync.
    fn refusal(_: &SeqFact) -> Option<&str> {
        None
    }

    /// A write counts for availability (a read commits nothing): refused for want of nodes or of a
    /// primary is unavailable, an error of the write itself refused, an indeterminate end unknown.
    fn client_operation(fact: &SeqFact) -> Option<(u64, Option<Answer>)> {
        match fact {
            SeqFact::WriteInvoked { write, .. } => Some((op_key(*write), None)),
            SeqFact::WriteEnded { write, outcome, .. } => {
                let answer = match outcome {
                    WriteOutcome::Ok { .. } => Answer::Committed,
                    WriteOutcome::Failed(SeqError::NodeNotEnough | SeqError::NoPrimary | SeqError::NotPrimary | SeqError::FullSync) => {
                        Answer::Unavailable
                    }
                    WriteOutcome::Failed(_) => Answer::Refused,
                    WriteOutcome::Indeterminate(_) => Answer::Unknown,
                };
                Some((op_key(*write), Some(answer)))
            }
            _ => None,
        }
    }

    fn on_pipeline_fact(&mut self, _: SimTime, _: NodeId, fact: &Nothing) -> Result<(), Violation> {
        match *fact {}
    }

    fn on_answer(&mut self, _: SimTime, _: NodeId, call: &Call<Sequoiadb>, result: &CallResult<Sequoiadb>) -> Result<(), Violation> {
        match (call, result) {
            (AnyCall::Pipeline(none), _) => match *none {},
            (_, AnyResult::Pipeline(none)) => match *none {},
            (AnyCall::Replica(_), AnyResult::Replica(_)) => Ok(()),
        }
    }

    fn on_corruption(&mut self, _: NodeId) {}

    fn pending(&self, _: &ClusterView<'_, Sequoiadb>) -> Option<(&'static str, &'static str, String)> {
        None
    }

    fn at_end(&self, _: SimTime, _: &ClusterView<'_, Sequoiadb>) -> Result<(), Violation> {
        Ok(())
    }

    fn replica_summary(&self) -> Option<ReplicaSummary> {
        Some(self.outcomes.summary())
    }

    fn pipeline_summary(&self) -> Option<PipelineSummary> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccrsim_model::replica::sequoiadb::types::ReplSize;

    fn invoked(write: WriteId, op: WriteOp) -> SeqFact {
        SeqFact::WriteInvoked { write, collection: 0, id: 1, op, repl_size: ReplSize::Nodes(1), at: 0 }
    }

    #[test]
    fn the_summary_counts_each_write_by_its_kind_and_each_failure_by_its_error() {
        let mut o = Outcomes::default();
        o.on_fact(&invoked((0, 1), WriteOp::Insert { counter: 1 }));
        o.on_fact(&invoked((0, 2), WriteOp::Delete));
        o.on_fact(&SeqFact::WriteEnded { write: (0, 1), outcome: WriteOutcome::Failed(SeqError::NodeNotEnough), at: 5 });
        o.on_fact(&SeqFact::WriteEnded { write: (0, 2), outcome: WriteOutcome::Indeterminate(None), at: 6 });
        let s = o.summary();
        assert_eq!(s.operations["insert"], OpCounts { ok: 0, failed: 1, unknown: 0 });
        assert_eq!(s.operations["delete"], OpCounts { ok: 0, failed: 0, unknown: 1 });
        assert_eq!(s.failures["NodeNotEnough"], 1);
        assert_eq!(s.failures["NoAnswer"], 1);
        assert_eq!(s.committed_transactions, 0);
        assert!(o.kinds.is_empty(), "an ended write is forgotten");
    }

    #[test]
    fn availability_sees_refusals_for_want_of_nodes_as_unavailable() {
        let ended = |outcome| SequoiadbCheckers::client_operation(&SeqFact::WriteEnded { write: (1, 7), outcome, at: 0 });
        assert_eq!(ended(WriteOutcome::Failed(SeqError::NodeNotEnough)), Some((op_key((1, 7)), Some(Answer::Unavailable))));
        assert_eq!(ended(WriteOutcome::Failed(SeqError::DuplicateKey)), Some((op_key((1, 7)), Some(Answer::Refused))));
        assert_eq!(ended(WriteOutcome::Indeterminate(Some(SeqError::Timeout))), Some((op_key((1, 7)), Some(Answer::Unknown))));
        assert_ne!(op_key((1, 7)), op_key((7, 1)));
    }
}

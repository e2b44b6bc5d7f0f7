//! The checkers of DolphinDB's deployment: the 2PC protocol's in every cluster, and the
//! replication pipeline's (those any pipeline must pass, and DolphinDB's own), in the order they
//! judge each fact.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::NodeId;
use ccrsim_model::deployment::call::{Call as AnyCall, CallResult as AnyResult};
use ccrsim_model::dfs::SharedOperation;
use ccrsim_model::pipeline::dolphindb_async::{AdminReply, AdminResult, ReplFact};
use ccrsim_model::replica::dolphindb_2pc::DfsFact;

use super::Dolphindb;
use crate::checkers::availability::Answer;
use crate::checkers::pipeline::dolphindb_async::calls_take_effect::{CallsTakeEffect, Step};
use crate::checkers::pipeline::dolphindb_async::capture_completeness::{CaptureCompleteness, Seen};
use crate::checkers::pipeline::dolphindb_async::grouping::Grouping;
use crate::checkers::pipeline::dolphindb_async::ledger::{AsyncLedger, event_of};
use crate::checkers::pipeline::dolphindb_async::new_nodes_idle::NewNodesIdle;
use crate::checkers::pipeline::dolphindb_async::progress::{AsyncProgress, AsyncSource};
use crate::checkers::pipeline::dolphindb_async::replication_states::ReplicationStates;
use crate::checkers::pipeline::dolphindb_async::slave_order::SlaveOrder;
use crate::checkers::pipeline::dolphindb_async::status_truthful::{StatusTruthful, shown_status};
use crate::checkers::pipeline::dolphindb_async::stop_threshold::StopThreshold;
use crate::checkers::pipeline::dolphindb_async::task_data_durability::{Forgetting, TaskDataDurability};
use crate::checkers::pipeline::dolphindb_async::write_fate::{self, SkipCalls, Slaves};
use crate::checkers::pipeline::event::PipelineEvent;
use crate::checkers::pipeline::eventual_consistency::{EventualConsistency, ShownStatus, Targets};
use crate::checkers::pipeline::exactly_once::ExactlyOnce;
use crate::checkers::pipeline::gc_safety::GcSafety;
use crate::checkers::pipeline::ledger::PipelineLedger;
use crate::checkers::pipeline::liveness::ReplicationLiveness;
use crate::checkers::pipeline::no_gaps::NoGaps;
use crate::checkers::replica::dolphindb_2pc::DfsCheckers;
use crate::checkers::replica::dolphindb_2pc::reference_model::cluster_views;
use crate::checkers::replica::dolphindb_2pc::write_fate::FinalReplicas;
use crate::checkers::write_fate::Fates;
use crate::checkers::{Violation, at_end_of, judge, pending_of};
use crate::deployment::ReplicaMessage;
use crate::design::{Call, CallResult, DesignCheckers};
use crate::env::time::SimTime;
use crate::scenario::Scenario;
use crate::summary::{PipelineSummary, ReplicaSummary};
use crate::topology::{ClusterId, Topology};
use crate::view::ClusterView;

/// The replication checkers' state.
#[derive(Debug)]
struct Replication {
    ledger: AsyncLedger,
    task_data_durability: TaskDataDurability,
    stop_threshold: StopThreshold,
    /// Keeps each slave controller's offset.
    no_gaps: NoGaps,
    /// Keeps each slave controller's commits.
    exactly_once: ExactlyOnce,
    /// Keeps each controller's tasks skipped just before its answer.
    calls: CallsTakeEffect,
    /// Judges the master's controllers on both the 2PC and the replication facts.
    capture: CaptureCompleteness,
    /// Databases replicated from the start.
    scope: BTreeSet<String>,
    /// Controllers of every cluster.
    controllers: BTreeMap<ClusterId, Vec<NodeId>>,
    /// The master's data nodes.
    master_data_nodes: Vec<NodeId>,
    /// Whether the master collects at all: it waits for `slave_num` slaves' reports, so a
    /// `slave_num` above the slaves there are means it never truncates.
    collects: bool,
    /// Each slave's last getSlaveReplicationStatus answer (`eventual-consistency` asks it to show
    /// what explains a difference).
    last_status: BTreeMap<ClusterId, ShownStatus>,
    /// The skip calls answered ok (`write-fate` names the call that skipped a write).
    skips: SkipCalls,
}

/// Every checker of DolphinDB's deployment.
#[derive(Debug)]
pub struct DolphindbCheckers {
    dfs: DfsCheckers,
    /// Replication, if the deployment has slaves.
    repl: Option<Replication>,
}

impl DolphindbCheckers {
    /// The checkers for a deployment.
    pub fn new(scenario: &Scenario, topology: &Topology) -> Self {
        let repl = super::roles::replicates(scenario).then(|| {
            let queues = |c: ClusterId| match super::roles::repl_config(scenario, topology, c) {
                ccrsim_model::pipeline::dolphindb_async::ReplConfig::Slave(s) => s.queues,
                _ => 1,
            };
            let max_failures = topology
                .slaves()
                .into_iter()
                .filter_map(|c| match super::roles::repl_config(scenario, topology, c) {
                    ccrsim_model::pipeline::dolphindb_async::ReplConfig::Slave(s) => Some((c, s.max_failures)),
                    _ => None,
                })
                .collect();
            Replication {
                ledger: AsyncLedger::new(topology, &scenario.replication.databases, queues),
                task_data_durability: TaskDataDurability { sync: scenario.replication.sync_persistence },
                stop_threshold: StopThreshold::new(max_failures),
                no_gaps: NoGaps::default(),
                exactly_once: ExactlyOnce::default(),
                calls: CallsTakeEffect::default(),
                capture: CaptureCompleteness::new(
                    topology.controllers(ClusterId::Master),
                    scenario.replication.databases.iter().map(|(db, &set)| (db.clone(), set)),
                ),
                scope: scenario.replication.databases.keys().cloned().collect(),
                controllers: topology.clusters().into_iter().map(|c| (c, topology.controllers(c))).collect(),
                master_data_nodes: topology.data_nodes(ClusterId::Master),
                collects: scenario.replication.slave_num.is_none_or(|n| n as usize <= topology.slaves().len()),
                last_status: BTreeMap::new(),
                skips: SkipCalls::default(),
            }
        });
        let placement = |c: ClusterId| {
            let (replication_factor, reliability_level) = super::roles::shape(scenario, c);
            (replication_factor as usize, reliability_level)
        };
        Self { dfs: DfsCheckers::new(topology, placement), repl }
    }

    /// The names of every checker of this design.
    pub fn names() -> Vec<&'static str> {
        use crate::checkers::pipeline::dolphindb_async as a;
        use crate::checkers::pipeline::{eventual_consistency, exactly_once, gc_safety, liveness, no_gaps};
        let mut names = DfsCheckers::names();
        names.extend([
            a::capture_completeness::NAME,
            a::grouping::NAME,
            no_gaps::NAME,
            a::slave_order::NAME,
            exactly_once::NAME,
            gc_safety::NAME,
            a::new_nodes_idle::NAME,
            a::task_data_durability::NAME,
            a::status_truthful::NAME,
            a::stop_threshold::NAME,
            a::replication_states::NAME,
            a::calls_take_effect::NAME,
            eventual_consistency::NAME,
            liveness::NAME,
        ]);
        names
    }

    /// The replication ledger, if the deployment has slaves.
    pub fn repl_ledger(&self) -> Option<&AsyncLedger> {
        self.repl.as_ref().map(|r| &r.ledger)
    }
}

impl DesignCheckers<Dolphindb> for DolphindbCheckers {
    fn on_replica_fact(&mut self, at: SimTime, node: NodeId, fact: &DfsFact) -> Result<(), Violation> {
        self.dfs.on_fact::<Dolphindb>(at, node, fact)?;
        match self.repl.as_mut() {
            Some(r) => judge::<(), Seen<'_>, (), _>(&mut r.capture, &(), at, node, &Seen::Dfs(fact)),
            None => Ok(()),
        }
    }

    fn on_replica_send(&mut self, _: SimTime, from: NodeId, _: NodeId, msg: &ReplicaMessage<Dolphindb>) -> Result<(), Violation> {
        self.dfs.on_send::<Dolphindb>(from, msg);
        Ok(())
    }

    fn refusal(fact: &DfsFact) -> Option<&str> {
        DfsCheckers::refusal(fact)
    }

    fn client_operation(fact: &DfsFact) -> Option<(u64, Option<Answer>)> {
        use ccrsim_model::dfs::ErrorCode;
        use ccrsim_model::replica::dolphindb_2pc::fact::OpOutcome;
        match fact {
            DfsFact::OpInvoked { op_id, .. } => Some((*op_id, None)),
            DfsFact::OpEnded { op_id, outcome, .. } => {
                let answer = match outcome {
                    OpOutcome::Ok { .. } => Answer::Committed,
                    OpOutcome::Failed(e) if e.code == ErrorCode::Aborted => Answer::Aborted,
                    OpOutcome::Failed(e) if e.code == ErrorCode::Unavailable => Answer::Unavailable,
                    OpOutcome::Failed(_) => Answer::Refused,
                    OpOutcome::Unknown => Answer::Unknown,
                };
                Some((*op_id, Some(answer)))
            }
            _ => None,
        }
    }

    fn on_pipeline_fact(&mut self, at: SimTime, node: NodeId, fact: &ReplFact) -> Result<(), Violation> {
        let Some(r) = self.repl.as_mut() else { return Ok(()) };
        let (l, p) = (&r.ledger, &r.ledger.pipeline);
        let event = event_of(fact);
        judge::<(), Seen<'_>, (), _>(&mut r.capture, &(), at, node, &Seen::Repl(fact))?;
        judge::<AsyncLedger, ReplFact, (), _>(&mut Grouping, l, at, node, fact)?;
        if let Some(e) = &event {
            judge::<PipelineLedger, PipelineEvent<'_>, (), _>(&mut r.no_gaps, p, at, node, e)?;
        }
        judge::<AsyncLedger, ReplFact, (), _>(&mut SlaveOrder, l, at, node, fact)?;
        if let Some(e) = &event {
            judge::<PipelineLedger, PipelineEvent<'_>, (), _>(&mut r.exactly_once, p, at, node, e)?;
            judge::<PipelineLedger, PipelineEvent<'_>, (), _>(&mut GcSafety, p, at, node, e)?;
        }
        judge::<AsyncLedger, ReplFact, (), _>(&mut NewNodesIdle, l, at, node, fact)?;
        judge::<AsyncLedger, ReplFact, (), _>(&mut r.task_data_durability, l, at, node, fact)?;
        if let Some(dfs) = self.dfs.ledger(ClusterId::Master) {
            let known = Forgetting { repl: l, dfs };
            judge::<Forgetting<'_>, ReplFact, (), _>(&mut r.task_data_durability, &known, at, node, fact)?;
        }
        judge::<AsyncLedger, ReplFact, (), _>(&mut r.stop_threshold, l, at, node, fact)?;
        judge::<AsyncLedger, ReplFact, (), _>(&mut ReplicationStates, l, at, node, fact)?;
        judge::<AsyncLedger, Step<'_>, (), _>(&mut r.calls, l, at, node, &Step::Fact(fact))?;
        r.ledger.apply(node, fact, event.as_ref());
        Ok(())
    }

    fn on_answer(&mut self, at: SimTime, node: NodeId, call: &Call<Dolphindb>, result: &CallResult<Dolphindb>) -> Result<(), Violation> {
        let (call, result) = match (call, result) {
            (AnyCall::Pipeline(call), AnyResult::Pipeline(result)) => (call, result),
            (AnyCall::Replica(none), _) => match *none {},
            (_, AnyResult::Replica(none)) => match *none {},
        };
        let Some(r) = self.repl.as_mut() else { return Ok(()) };
        r.skips.on_answer(r.ledger.slave_of(node), node, at, call, result);
        judge::<AsyncLedger, AdminResult, (), _>(&mut StatusTruthful, &r.ledger, at, node, result)?;
        if let Ok(AdminReply::SlaveTasks(rows)) = result
            && let Some((slave, shown)) = shown_status(&r.ledger, node, rows)
        {
            r.last_status.insert(slave, shown);
        }
        judge::<AsyncLedger, Step<'_>, (), _>(&mut r.calls, &r.ledger, at, node, &Step::Answer(call, result))
    }

    fn on_corruption(&mut self, node: NodeId) {
        if let Some(r) = self.repl.as_mut() {
            r.ledger.corrupted.insert(node);
        }
    }

    fn pending(&self, view: &ClusterView<'_, Dolphindb>) -> Option<(&'static str, &'static str, String)> {
        self.dfs.pending(view).or_else(|| {
            let r = self.repl.as_ref()?;
            let progress = AsyncProgress { view: *view, controllers: &r.controllers };
            pending_of(&ReplicationLiveness, &r.ledger.pipeline, &progress).or_else(|| {
                let source = AsyncSource {
                    view: *view,
                    controllers: &r.controllers[&ClusterId::Master],
                    data_nodes: &r.master_data_nodes,
                    tasks: &r.ledger.tasks,
                };
                r.collects.then(|| pending_of(&GcSafety, &r.ledger.pipeline, &source)).flatten()
            })
        })
    }

    fn at_end(&self, at: SimTime, view: &ClusterView<'_, Dolphindb>) -> Result<(), Violation> {
        self.dfs.at_end(at, view)?;
        let (Some(r), Some(master)) = (&self.repl, self.dfs.ledger(ClusterId::Master)) else { return Ok(()) };
        at_end_of::<(), Seen<'_>, (), _>(&r.capture, &(), &(), at, "")?;
        at_end_of::<PipelineLedger, PipelineEvent<'_>, (), _>(&r.exactly_once, &r.ledger.pipeline, &(), at, "")?;
        at_end_of::<AsyncLedger, ReplFact, (), _>(&r.stop_threshold, &r.ledger, &(), at, "")?;
        let source_history: Vec<(u64, &SharedOperation)> = master.committed.values().map(|(tid, op)| (*tid, op)).collect();
        let views = |cluster: ClusterId, keep: &dyn Fn(&str) -> bool| cluster_views(view, &r.controllers[&cluster], keep);
        let targets = Targets { source_history, views: &views, scope: &r.scope, status: &r.last_status };
        at_end_of(&EventualConsistency, &r.ledger.pipeline, &targets, at, "")
    }

    fn replica_summary(&self) -> Option<ReplicaSummary> {
        self.dfs.summary()
    }

    fn pipeline_summary(&self) -> Option<PipelineSummary> {
        self.repl.as_ref().map(|r| r.ledger.pipeline.summary())
    }

    fn write_fates(&self, view: &ClusterView<'_, Dolphindb>) -> Fates {
        let Some(master) = self.dfs.ledger(ClusterId::Master) else { return Fates::new() };
        let topology = view.topology;
        let replicas = FinalReplicas::of(view, &topology.controllers(ClusterId::Master), &topology.data_nodes(ClusterId::Master));
        let slaves = self.repl.as_ref().map(|r| Slaves { ledger: &r.ledger, capture: &r.capture, skips: &r.skips });
        write_fate::fates(master, &replicas, slaves, topology)
    }
}

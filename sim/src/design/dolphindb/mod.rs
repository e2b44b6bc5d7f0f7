//! DolphinDB's deployment: the 2PC replica protocol in every cluster and the asynchronous cluster
//! replication pipeline between them, as the scenario's sections describe them (`[cluster.*]`,
//! `[dfs]`, `[dfs_workload]`, `[replication]`, `[[calls]]`).

mod checkers;
mod reductions;
pub mod roles;

pub use checkers::DolphindbCheckers;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::deployment::call::{Call as AnyCall, CallResult as AnyResult};
use ccrsim_model::pipeline::Pipeline;
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::{AdminCall, AdminError, DolphinAsync};
use ccrsim_model::replica::ReplicaProtocol;
use ccrsim_model::replica::dolphindb_2pc::Dolphin2pc;
use ccrsim_model::replica::dolphindb_2pc::state::ReplicaState;

use crate::design::{Call, CallResult, Deployment, Probes, RoleSpec, ScenarioCall, SimDesign};
use crate::scenario::Scenario;
use crate::topology::{ClusterId, Topology};
use crate::view::ClusterView;

/// DolphinDB's deployment.
#[derive(Debug)]
pub struct Dolphindb;

impl Deployment for Dolphindb {
    type R = Dolphin2pc;
    type P = DolphinAsync;
}

impl SimDesign for Dolphindb {
    const REPLICA: &'static str = <Dolphin2pc as ReplicaProtocol<DolphinAsync>>::NAME;
    const PIPELINE: &'static str = <DolphinAsync as Pipeline<Dolphin2pc>>::NAME;
    type Checkers = DolphindbCheckers;

    fn shrink_steps() -> crate::design::reduce::Steps {
        reductions::steps()
    }

    fn checker_names() -> Vec<&'static str> {
        DolphindbCheckers::names()
    }

    fn specs(scenario: &Scenario, topology: &Topology) -> Vec<RoleSpec<Self>> {
        roles::specs(scenario, topology)
    }

    fn checkers(scenario: &Scenario, topology: &Topology) -> DolphindbCheckers {
        DolphindbCheckers::new(scenario, topology)
    }

    /// A data node recovers a corrupt replica from a peer, so at most replication factor - 1 data
    /// nodes may get corruption: every chunk keeps an intact copy.
    fn data_node_corruption_budget(scenario: &Scenario, cluster: ClusterId) -> usize {
        let (rf, _) = roles::shape(scenario, cluster);
        rf.saturating_sub(1) as usize
    }

    /// A chunk replica may be hit only while every other replica of its chunk is complete (else the
    /// corrupt copy could be the last good one, and replication factor 2 cannot survive two
    /// faults). Task data has one copy: a flip loses the task for good (it fails, and an operator
    /// must skip it), so only scenarios that ask for that get it. Other files are budgeted by the
    /// nemesis plan.
    fn corruption_tolerated(view: &ClusterView<'_, Self>, scenario: &Scenario, node: NodeId, path: &str) -> bool {
        if path.starts_with("tasks/") {
            return scenario.replication.corrupt_task_data;
        }
        let Some(chunk) = path.strip_prefix("chunks/").and_then(|p| p.split('.').next()).and_then(|c| c.parse::<u64>().ok()) else {
            return true;
        };
        let cluster = view.topology.nodes[node as usize].cluster();
        let leader = view
            .topology
            .nodes
            .iter()
            .filter(|n| matches!(n.kind, crate::topology::NodeKind::Controller(c) if Some(c) == cluster))
            .find_map(|n| view.role(n.id).and_then(|r| r.as_controller()).filter(|c| c.raft().is_leader()));
        let Some(leader) = leader else { return false };
        let Some(meta) = leader.raft().state_machine().replica.chunks().get(&chunk) else { return true };
        meta.replicas.iter().filter(|(n, _)| **n != node).all(|(_, r)| r.state == ReplicaState::Complete && r.version == meta.version)
    }

    fn scenario_calls(scenario: &Scenario) -> Vec<ScenarioCall<Call<Self>>> {
        scenario
            .calls
            .iter()
            .map(|c| ScenarioCall {
                at_s: c.at_s,
                target: c.on.clone(),
                call: AnyCall::Pipeline(c.to_call().expect("validated with the scenario")),
                expect: c.expect.clone(),
            })
            .collect()
    }

    /// Every status function of every cluster.
    fn status_probes(scenario: &Scenario, topology: &Topology) -> Option<(f64, Probes<Self>)> {
        if !roles::replicates(scenario) {
            return None;
        }
        let mut probes = vec![
            ("master.controller".to_string(), AdminCall::GetMasterReplicationStatus { limit: None }),
            ("master.controller".to_string(), AdminCall::GetRecentSlaveReplicationInfo),
            ("master.datanode".to_string(), AdminCall::GetDatabaseClusterReplicationStatus),
        ];
        for slave in topology.slaves() {
            probes.push((format!("{}.controller", slave.name()), AdminCall::GetSlaveReplicationStatus { limit: None }));
            probes.push((format!("{}.controller", slave.name()), AdminCall::GetSlaveReplicationQueueStatus));
        }
        let probes = probes.into_iter().map(|(target, call)| (target, AnyCall::Pipeline(call))).collect();
        Some((scenario.replication.status_probe_interval_s, probes))
    }

    /// `skipClusterReplicationTask("failed")` skips the tasks FAILED on the slave when it is made.
    fn prepare_call(view: &ClusterView<'_, Self>, scenario: &Scenario, index: usize, node: NodeId, call: Call<Self>) -> Call<Self> {
        if !scenario.calls[index].skips_failed() {
            return call;
        }
        let failed: Vec<u64> = view
            .role(node)
            .and_then(|r| r.as_controller())
            .and_then(|c| c.raft().state_machine().pipeline.slave())
            .map(|s| s.tasks().values().filter(|t| t.state == SlaveTaskState::Failed).map(|t| t.task.id).collect())
            .unwrap_or_default();
        AnyCall::Pipeline(AdminCall::SkipClusterReplicationTask { tasks: failed })
    }

    fn outcome_code(result: &CallResult<Self>) -> String {
        match result {
            AnyResult::Pipeline(Ok(_)) => "ok".to_string(),
            AnyResult::Pipeline(Err(e)) => e.code.clone(),
            AnyResult::Replica(none) => match *none {},
        }
    }

    fn unavailable_code() -> &'static str {
        AdminError::UNAVAILABLE
    }

    fn call_name(call: &Call<Self>) -> String {
        match call {
            AnyCall::Pipeline(call) => call.name().to_string(),
            AnyCall::Replica(none) => match *none {},
        }
    }
}

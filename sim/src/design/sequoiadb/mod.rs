//! SequoiaDB's deployment (issue 11): the replica protocol `sequoiadb-synclog` in one cluster, with
//! the pipeline "none" (it replicates nothing across clusters), as the scenario's sections
//! describe it (`[cluster.master]`, `[sequoiadb]`, `[sequoiadb_workload]`).

mod checkers;
mod reductions;
pub mod roles;

pub use checkers::SequoiadbCheckers;

use ccrsim_model::core::io::NodeId;
use ccrsim_model::deployment::call::{Call as AnyCall, CallResult as AnyResult};
use ccrsim_model::pipeline::Pipeline;
use ccrsim_model::pipeline::none::NonePipeline;
use ccrsim_model::replica::ReplicaProtocol;
use ccrsim_model::replica::sequoiadb::{SeqCall, SeqCallResult, SequoiaDb};

use crate::design::{Call, CallResult, Deployment, Probes, RoleSpec, ScenarioCall, SimDesign};
use crate::scenario::{Scenario, SeqCallSpec};
use crate::topology::{ClusterId, Topology};
use crate::view::ClusterView;

/// SequoiaDB's deployment.
#[derive(Debug)]
pub struct Sequoiadb;

impl Deployment for Sequoiadb {
    type R = SequoiaDb;
    type P = NonePipeline;
}

/// The outcome code of an answer no leader gave: the call is made again.
const UNAVAILABLE: &str = "unavailable";

/// The target that names the primary of `group` (`design_target`).
fn primary_target(group: u32) -> String {
    format!("master.group{group}.primary")
}

/// The call a scenario's `[[sequoiadb.calls]]` entry makes (validated with the scenario).
fn seq_call(spec: &SeqCallSpec, topology: &Topology) -> SeqCall {
    let data_nodes = topology.data_nodes(ClusterId::Master);
    let node = || data_nodes[spec.node.expect("validated: the call names a node") as usize];
    let group = spec.group;
    match spec.call.as_str() {
        "addNode" => SeqCall::AddNode { group, node: node() },
        "removeNode" => SeqCall::RemoveNode { group, node: node() },
        "setWeight" => {
            SeqCall::SetWeight { group, node: node(), weight: u8::try_from(spec.weight.expect("validated")).expect("validated to 1..=100") }
        }
        _ => SeqCall::StepDown { group },
    }
}

impl SimDesign for Sequoiadb {
    const REPLICA: &'static str = <SequoiaDb as ReplicaProtocol<NonePipeline>>::NAME;
    const PIPELINE: &'static str = <NonePipeline as Pipeline<SequoiaDb>>::NAME;
    type Checkers = SequoiadbCheckers;

    fn shrink_steps() -> crate::design::reduce::Steps {
        reductions::steps()
    }

    fn checker_names() -> Vec<&'static str> {
        SequoiadbCheckers::names()
    }

    fn specs(scenario: &Scenario, topology: &Topology) -> Vec<RoleSpec<Self>> {
        roles::specs(scenario, topology)
    }

    fn checkers(_: &Scenario, _: &Topology) -> SequoiadbCheckers {
        SequoiadbCheckers::default()
    }

    /// A node with a damaged log or data is rebuilt by full sync from a member of its group, so a
    /// group survives corruption of a minority of its nodes; the budget is one group's minority
    /// for the whole cluster, so no group can get more whichever nodes the nemesis hits.
    fn data_node_corruption_budget(scenario: &Scenario, _: ClusterId) -> usize {
        (scenario.sequoiadb.nodes_per_group.saturating_sub(1) / 2) as usize
    }

    /// Within the budget every file may be hit: the rest of the node's group holds the data.
    fn corruption_tolerated(_: &ClusterView<'_, Self>, _: &Scenario, _: NodeId, _: &str) -> bool {
        true
    }

    /// Membership and weight changes go to the catalog's leader; a step-down to the data node named,
    /// else to its group's primary (`master.groupG.primary`), which steps down.
    fn scenario_calls(scenario: &Scenario) -> Vec<ScenarioCall<Call<Self>>> {
        let topology = Topology::from_scenario(scenario);
        scenario
            .sequoiadb
            .calls
            .iter()
            .map(|c| {
                let call = seq_call(c, &topology);
                let target = match call {
                    SeqCall::StepDown { group } => c.on.clone().unwrap_or_else(|| primary_target(group)),
                    _ => "master.controller".into(),
                };
                ScenarioCall { at_s: c.at_s, target, call: AnyCall::Replica(call), expect: c.expect.clone() }
            })
            .collect()
    }

    /// SequoiaDB's calls here change things; none reports a status.
    fn status_probes(_: &Scenario, _: &Topology) -> Option<(f64, Probes<Self>)> {
        None
    }

    fn prepare_call(_: &ClusterView<'_, Self>, _: &Scenario, _: usize, _: NodeId, call: Call<Self>) -> Call<Self> {
        call
    }

    fn outcome_code(result: &CallResult<Self>) -> String {
        let code = match result {
            AnyResult::Replica(SeqCallResult::Done) => "ok",
            AnyResult::Replica(SeqCallResult::Refused(_)) => "refused",
            AnyResult::Replica(SeqCallResult::NotLeader(_) | SeqCallResult::LeadershipLost) => UNAVAILABLE,
            AnyResult::Replica(SeqCallResult::NoPart) => "no_part",
            AnyResult::Replica(SeqCallResult::NotPrimary) => "not_primary",
            AnyResult::Pipeline(none) => match *none {},
        };
        code.to_string()
    }

    fn unavailable_code() -> &'static str {
        UNAVAILABLE
    }

    /// `master.groupG.primary`: the running data node of group G that is its primary now.
    fn design_target(view: &ClusterView<'_, Self>, target: &str) -> Option<Option<NodeId>> {
        let group: u32 = target.strip_prefix("master.group")?.strip_suffix(".primary")?.parse().ok()?;
        let primary = view
            .topology
            .data_nodes(ClusterId::Master)
            .into_iter()
            .find(|&n| view.running(n).and_then(|r| r.as_data_node()).is_some_and(|d| d.group() == Some(group) && d.is_primary()));
        Some(primary)
    }

    fn call_name(call: &Call<Self>) -> String {
        let name = match call {
            AnyCall::Replica(SeqCall::AddNode { .. }) => "addNode",
            AnyCall::Replica(SeqCall::RemoveNode { .. }) => "removeNode",
            AnyCall::Replica(SeqCall::SetWeight { .. }) => "setWeight",
            AnyCall::Replica(SeqCall::StepDown { .. }) => "stepDown",
            AnyCall::Pipeline(none) => match *none {},
        };
        name.to_string()
    }
}

//! Loading a scenario: its own fields are checked by `scenario`; what needs the deployment it
//! describes (its topology, the designs and checkers this build registers) is checked here, so
//! that `scenario` depends on nothing above it.

use crate::registry;
use crate::scenario::{self, EMBEDDED, FaultKind, Scenario, ScenarioError};
use crate::topology::Topology;

impl Scenario {
    /// Parses and validates a scenario; `file` names it in errors, and a relative `base` in it
    /// resolves from `file`'s folder.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_checked(file, text, validate_deployment)
    }

    /// An embedded scenario by name.
    pub fn embedded(name: &str) -> Option<Scenario> {
        EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Scenario::parse(&format!("scenarios/{n}.toml"), text).expect("embedded scenarios are valid (tested)"))
    }

    /// Loads `name_or_path`: an embedded scenario's name, or a path to a TOML file.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some(s) = Scenario::embedded(name_or_path) {
            return Ok(s);
        }
        let looks_like_path = name_or_path.ends_with(".toml") || name_or_path.contains('/');
        if !looks_like_path {
            let names: Vec<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
            return Err(ScenarioError {
                file: name_or_path.to_string(),
                field: "-".into(),
                reason: format!("no embedded scenario of that name (known: {}) and not a .toml path", names.join(", ")),
            });
        }
        let text = std::fs::read_to_string(name_or_path).map_err(|e| ScenarioError {
            file: name_or_path.to_string(),
            field: "-".into(),
            reason: format!("cannot read: {e}"),
        })?;
        Scenario::parse(name_or_path, &text)
    }
}

type Checked = Result<(), (String, String)>;

fn fail(field: &str, reason: impl Into<String>) -> Checked {
    Err((field.to_string(), reason.into()))
}

/// What a scenario's own fields cannot tell: that it names registered designs, that the nodes and
/// clusters its faults and calls name exist in its topology, that its expected violation names a
/// checker. Runs after the scenario's own checks (node counts are valid by then).
fn validate_deployment(s: &Scenario) -> Checked {
    let designs = registry::designs();
    let names = (s.cluster.replica.design.as_str(), s.pipeline.design.as_str());
    if !designs.iter().any(|(r, _)| *r == names.0) {
        let known: Vec<&str> = designs.iter().map(|(r, _)| *r).collect();
        return fail("cluster.replica.design", format!("unknown replica protocol {:?} (designs: {})", names.0, known.join(", ")));
    }
    if !designs.contains(&names) {
        let known: Vec<String> = designs.iter().filter(|(r, _)| *r == names.0).map(|(_, p)| p.to_string()).collect();
        return fail("pipeline.design", format!("no pipeline {:?} for {} (pipelines: {})", names.1, names.0, known.join(", ")));
    }
    let topology = Topology::from_scenario(s);
    let f = &s.faults;
    if let Some(c) = f.on_new_leader.clusters.iter().find(|c| topology.cluster_by_name(c).is_none()) {
        let known: Vec<String> = topology.clusters().iter().map(|c| c.name()).collect();
        return fail("faults.on_new_leader.clusters", format!("unknown cluster {c:?} (clusters: {})", known.join(", ")));
    }
    let names = topology.names();
    for (i, fixed) in f.schedule.iter().enumerate() {
        let field = |name: &str| format!("faults.schedule[{i}].{name}");
        if !(fixed.at_s >= 0.0 && fixed.at_s < s.run.safety_s) {
            return fail(&field("at_s"), format!("{} is outside the safety phase [0, {})", fixed.at_s, s.run.safety_s));
        }
        if !(fixed.duration_s.is_finite() && fixed.duration_s > 0.0) {
            return fail(&field("duration_s"), format!("must be a positive number, got {}", fixed.duration_s));
        }
        for name in fixed.nodes.iter().chain(&fixed.others) {
            if !names.contains(name) && topology.cluster_by_name(name).is_none() {
                return fail(&field("nodes"), format!("unknown node or cluster {name:?} (nodes: {})", names.join(", ")));
            }
        }
        if fixed.fault == FaultKind::WanPartition && topology.slaves().is_empty() {
            return fail(&field("fault"), "a WAN partition needs slave clusters (cluster.slave)");
        }
        if fixed.fault.needs_node() && fixed.nodes.len() != 1 {
            return fail(&field("nodes"), format!("{:?} hits exactly one node, got {}", fixed.fault, fixed.nodes.len()));
        }
        if fixed.fault.is_machine() && topology.by_name(&fixed.nodes[0]).is_none_or(|n| topology.nodes[n as usize].machine.is_none()) {
            return fail(&field("nodes"), format!("{:?} names a node of the machine it hits: a controller or a data node", fixed.fault));
        }
        if fixed.fault.is_partition() && fixed.nodes.is_empty() && fixed.fault != FaultKind::WanPartition {
            return fail(&field("nodes"), format!("{:?} needs the nodes of one side", fixed.fault));
        }
    }
    scenario::validate_calls(&s.calls, s.duration_max_s(), |on| topology.resolve_target(on).is_some() || topology.by_name(on).is_some())?;
    if let Some(v) = &s.expect.violation {
        let checkers = registry::checker_names();
        if !checkers.contains(&v.as_str()) {
            return fail("expect.violation", format!("unknown checker {v:?} (checkers: {})", checkers.join(", ")));
        }
    }
    Ok(())
}

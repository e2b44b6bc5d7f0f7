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
        let scenario = Scenario::parse(name_or_path, &text)?;
        name_is_file_stem(name_or_path, &scenario)?;
        Ok(scenario)
    }
}

/// A scenario file's `name` is its file's name without `.toml` (as every shipped one is): runs,
/// reports and replay commands name the scenario by `name`, and a `name` that differs sends a
/// reader of a failure to the wrong file.
fn name_is_file_stem(path: &str, scenario: &Scenario) -> Result<(), ScenarioError> {
    let stem = std::path::Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if scenario.name == stem {
        return Ok(());
    }
    Err(ScenarioError {
        file: path.to_string(),
        field: "name".into(),
        reason: format!(
            "must be the file's name without .toml, {stem:?}, got {:?}: reports and replay commands name a scenario by it",
            scenario.name
        ),
    })
}

type Checked = Result<(), (String, String)>;

/// Every kind the random nemesis may draw can hit this topology: a kind that cannot would be
/// planned as nothing, and the file would claim faults its runs never see.
fn kinds_apply(kinds: &[FaultKind], topology: &Topology) -> Checked {
    for (i, kind) in kinds.iter().enumerate() {
        let field = format!("faults.kinds[{i}]");
        if *kind == FaultKind::WanPartition && topology.slaves().is_empty() {
            return fail(&field, "wan_partition cuts the master from a slave cluster: this scenario has no slaves (cluster.slave)");
        }
        if matches!(kind, FaultKind::Partition | FaultKind::OneWayPartition) && topology.faultable().len() < 2 {
            return fail(
                &field,
                format!("{kind:?} splits the cluster nodes into two sides: it needs at least 2 controllers and data nodes"),
            );
        }
    }
    Ok(())
}

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
        // A machine fault names a node of the machine it hits: every controller and data node runs
        // on one (topology.rs), so this also tells a machine fault which machine.
        if fixed.fault.needs_node() && topology.by_name(&fixed.nodes[0]).is_none_or(|n| topology.nodes[n as usize].kind.is_client()) {
            return fail(
                &field("nodes"),
                format!(
                    "{:?} hits one controller or data node, not {:?} (clusters stand for several nodes, clients are never faulted)",
                    fixed.fault, fixed.nodes[0]
                ),
            );
        }
        if fixed.fault.is_partition() && fixed.nodes.is_empty() && fixed.fault != FaultKind::WanPartition {
            return fail(&field("nodes"), format!("{:?} needs the nodes of one side", fixed.fault));
        }
    }
    kinds_apply(&f.kinds, &topology)?;
    scenario::validate_calls(&s.calls, s.duration_max_s(), |on| topology.resolve_target(on).is_some() || topology.by_name(on).is_some())?;
    if let Some(v) = &s.expect.violation {
        let checkers = registry::checker_names();
        if !checkers.contains(&v.as_str()) {
            return fail("expect.violation", format!("unknown checker {v:?} (checkers: {})", checkers.join(", ")));
        }
    }
    Ok(())
}

//! Scenario validation against its documentation: every number a scenario holds has a range in
//! docs/scenarios.md's table (read back here, so the docs and the code cannot drift apart), the
//! loader never panics on arbitrary documents built over the real scenario structure and never
//! accepts a value outside its documented range, and a scenario made of the ranges' extremes runs
//! without a harness failure.

use std::sync::{Arc, OnceLock};

use ccrsim_sim::checkers::MODEL_INVARIANT;
use ccrsim_sim::runner::{RunOptions, run_seed};
use ccrsim_sim::scenario::{EMBEDDED, Scenario};
use proptest::prelude::*;
use toml::{Table, Value};

/// A documented range: `[low, high]` with open ends where the table says so, `0 or` a range, or
/// `any` (an argument handed to the system under test, which may refuse it).
#[derive(Debug, Clone, PartialEq)]
enum Documented {
    Any,
    Interval { low: f64, high: f64, low_open: bool, high_open: bool, or_zero: bool },
}

impl Documented {
    fn parse(text: &str) -> Documented {
        let text = text.trim();
        if text == "any" {
            return Documented::Any;
        }
        let (or_zero, text) = match text.strip_prefix("0 or ") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let low_open = text.starts_with('(');
        let high_open = text.ends_with(')');
        let inner = &text[1..text.len() - 1];
        let (low, high) = inner.split_once(',').unwrap_or_else(|| panic!("a range is [low, high]: {text:?}"));
        let number = |s: &str| s.trim().replace('_', "").parse::<f64>().unwrap_or_else(|e| panic!("{s:?} in {text:?}: {e}"));
        Documented::Interval { low: number(low), high: number(high), low_open, high_open, or_zero }
    }

    fn holds(&self, v: f64) -> bool {
        match *self {
            Documented::Any => true,
            Documented::Interval { low, high, low_open, high_open, or_zero } => {
                (or_zero && v == 0.0)
                    || (v.is_finite() && if low_open { v > low } else { v >= low } && if high_open { v < high } else { v <= high })
            }
        }
    }
}

/// The table of docs/scenarios.md: `(field pattern, range)`; `*` stands for any key, `[]` for
/// any element of a list.
fn documented_ranges() -> &'static [(String, Documented)] {
    static RANGES: OnceLock<Vec<(String, Documented)>> = OnceLock::new();
    RANGES.get_or_init(read_documented_ranges)
}

fn read_documented_ranges() -> Vec<(String, Documented)> {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scenarios.md")).expect("docs/scenarios.md");
    let start = docs.find("<!-- ranges: begin -->").expect("the ranges table's begin marker");
    let end = docs.find("<!-- ranges: end -->").expect("the ranges table's end marker");
    let rows: Vec<(String, Documented)> = docs[start..end]
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let field = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((field.to_string(), Documented::parse(cells[2])))
        })
        .collect();
    assert!(rows.len() > 50, "the table lists every number: {} rows", rows.len());
    rows
}

/// Every number in `value` with its path (`faults.schedule[].at_s`; an element of a pair or a
/// list is its field's own path).
fn numbers(value: &Value, path: &str, out: &mut Vec<(String, f64)>) {
    match value {
        Value::Integer(i) => out.push((path.to_string(), *i as f64)),
        Value::Float(f) => out.push((path.to_string(), *f)),
        Value::Array(items) => {
            let element = if items.iter().all(|i| matches!(i, Value::Table(_))) { format!("{path}[]") } else { path.to_string() };
            items.iter().for_each(|item| numbers(item, &element, out));
        }
        Value::Table(table) => {
            for (key, v) in table {
                numbers(v, &if path.is_empty() { key.clone() } else { format!("{path}.{key}") }, out);
            }
        }
        Value::String(_) | Value::Boolean(_) | Value::Datetime(_) => {}
    }
}

fn matches(pattern: &str, path: &str) -> bool {
    let (p, f): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), path.split('.').collect());
    p.len() == f.len() && p.iter().zip(&f).all(|(p, f)| *p == "*" || p == f)
}

/// Whether every number of an accepted scenario lies in its documented range, and every pair is
/// ordered; the first that does not, otherwise.
fn outside_documented_ranges(scenario: &Scenario, ranges: &[(String, Documented)]) -> Result<(), String> {
    let value = Value::try_from(scenario).expect("a scenario serializes");
    let mut found = Vec::new();
    numbers(&value, "", &mut found);
    for (path, v) in found {
        let Some((_, range)) = ranges.iter().find(|(pattern, _)| matches(pattern, &path)) else {
            return Err(format!("`{path}` = {v} has no documented range in docs/scenarios.md"));
        };
        if !range.holds(v) {
            return Err(format!("`{path}` = {v} was accepted outside its documented range {range:?}"));
        }
    }
    let pairs = [
        &scenario.raft.election_timeout_ms.map(|v| v as f64),
        &scenario.dfs_workload.rows.map(f64::from),
        &scenario.disk.write_latency_us.map(|v| v as f64),
        &scenario.disk.fsync_latency_us.map(|v| v as f64),
        &scenario.faults.duration_s,
        &scenario.faults.crash_downtime_s,
        &scenario.faults.on_new_leader.delay_ms,
        &scenario.faults.on_new_leader.duration_s,
        &scenario.network.lan.latency_ms,
        &scenario.network.wan.latency_ms,
        &scenario.network.client.latency_ms,
    ];
    match pairs.iter().find(|p| p[0] > p[1]) {
        Some(p) => Err(format!("a pair with min > max was accepted: {p:?}")),
        None => Ok(()),
    }
}

#[test]
fn every_number_of_every_shipped_scenario_has_a_documented_range_and_lies_in_it() {
    let ranges = documented_ranges();
    let negative = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/negative")).expect("scenarios/negative");
    let mut files: Vec<String> = negative
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    files.extend(EMBEDDED.iter().map(|(name, _)| name.to_string()));
    for file in &files {
        let s = Scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
        outside_documented_ranges(&s, ranges).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    assert!(files.len() > 80, "{} scenarios", files.len());
}

/// Shipped scenarios whose fields, serialized whole (defaults included), are the documents the
/// property test mutates: between them they set every section.
const BASES: [&str; 6] = ["deployment-chaos", "rough-network", "tight-timeouts", "execution-sets", "slave-add-datanode", "two-slaves"];

fn base_document(name: &str) -> Table {
    let scenario = Scenario::embedded(name).expect("shipped");
    let Value::Table(table) = Value::try_from(&scenario).expect("serializes") else { unreachable!("a struct is a table") };
    table
}

#[test]
fn the_base_documents_are_accepted_as_they_are() {
    for name in BASES {
        let text = toml::to_string(&base_document(name)).expect("prints");
        let s = Scenario::parse("base.toml", &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s, Scenario::embedded(name).expect("shipped"), "{name} round-trips");
    }
}

/// A step along a document: a key of a table or an element of an array.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// A place in a document: its steps, and its field's path as the ranges table writes it.
#[derive(Debug, Clone)]
struct Place {
    steps: Vec<Step>,
    field: String,
}

/// Every place in `value` (tables, arrays and their elements, scalars) into `all`, and the
/// numbers among them into `numbers`.
fn places(value: &Value, at: &Place, all: &mut Vec<Place>, numbers: &mut Vec<Place>) {
    let step = |step: Step, field: String| {
        let mut steps = at.steps.clone();
        steps.push(step);
        Place { steps, field }
    };
    match value {
        Value::Table(t) => {
            for (k, v) in t {
                let field = if at.field.is_empty() { k.clone() } else { format!("{}.{k}", at.field) };
                places(v, &step(Step::Key(k.clone()), field), all, numbers);
            }
        }
        Value::Array(items) => {
            let of_tables = items.iter().all(|i| matches!(i, Value::Table(_)));
            for (i, v) in items.iter().enumerate() {
                let field = if of_tables { format!("{}[]", at.field) } else { at.field.clone() };
                places(v, &step(Step::Index(i), field), all, numbers);
            }
        }
        Value::Integer(_) | Value::Float(_) => numbers.push(at.clone()),
        _ => {}
    }
    all.push(at.clone());
}

fn at_mut<'a>(value: &'a mut Value, steps: &[Step]) -> &'a mut Value {
    steps.iter().fold(value, |v, step| match (v, step) {
        (Value::Table(t), Step::Key(k)) => t.get_mut(k).expect("a place of the document"),
        (Value::Array(a), Step::Index(i)) => &mut a[*i],
        _ => unreachable!("steps follow the document"),
    })
}

/// Values a user could type where a number belongs, and where it does not: non-finite and
/// extreme numbers, negative ones, wrong types and lists of every short length.
fn hostile_value() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        Just(Value::Float(f64::INFINITY)),
        Just(Value::Float(f64::NAN)),
        Just(Value::Float(1e300)),
        Just(Value::Integer(i64::MAX)),
        Just(Value::Integer(-1)),
        any::<f64>().prop_map(Value::Float),
        (-10.0..100_000.0f64).prop_map(Value::Float),
        any::<i64>().prop_map(Value::Integer),
        (0i64..5_000_000).prop_map(Value::Integer),
    ];
    prop_oneof![
        2 => number.clone(),
        1 => "[a-z0-9_ -]{0,12}".prop_map(Value::String),
        1 => any::<bool>().prop_map(Value::Boolean),
        2 => prop::collection::vec(number, 0..=4).prop_map(Value::Array),
        1 => Just(Value::Table(Table::new())),
    ]
}

/// What replaces a number of the document, of its own type (so that the loader reaches the
/// validator): the ends of its documented range and just past them, non-finite and extreme
/// values, negative ones and arbitrary ones.
fn same_type_number(old: &Value, documented: Option<&Documented>, pick: prop::sample::Index, float: f64, int: i64) -> Value {
    let (low, high) = match documented {
        Some(Documented::Interval { low, high, .. }) => (*low, *high),
        _ => (0.0, 1.0),
    };
    if let Value::Integer(_) = old {
        let candidates = [i64::MAX, i64::MIN, -1, 0, int, int.rem_euclid(1000), low as i64, high as i64, high as i64 + 1, low as i64 - 1];
        Value::Integer(*pick.get(&candidates))
    } else {
        let past = high + high.abs() * 1e-9 + 1e-9;
        let candidates =
            [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e300, -1e300, -0.0, float, float.abs() % 100.0, low, high, past, low - 1e-9];
        Value::Float(*pick.get(&candidates))
    }
}

/// A base document and changes to it: mostly numbers replaced by numbers of their own type,
/// sometimes any place replaced by any hostile value, and unknown keys added to tables.
fn mutated_document() -> impl Strategy<Value = Value> {
    let number_change = (any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<f64>(), any::<i64>());
    let numbers = prop::collection::vec(number_change, 1..=3);
    let others = prop::collection::vec((any::<prop::sample::Index>(), hostile_value()), 0..=1);
    let unknown = prop::collection::vec((any::<prop::sample::Index>(), "[a-z_]{1,10}"), 0..=1);
    (prop::sample::select(BASES.to_vec()), numbers, others, unknown, any::<bool>()).prop_map(|(base, numbers, others, unknown, hostile)| {
        let mut doc = Value::Table(base_document(base));
        let root = Place { steps: Vec::new(), field: String::new() };
        let scan = |doc: &Value| {
            let (mut all, mut numbers) = (Vec::new(), Vec::new());
            places(doc, &root, &mut all, &mut numbers);
            (all, numbers)
        };
        for (place, pick, float, int) in numbers {
            let (_, found) = scan(&doc);
            let place = place.get(&found).clone();
            let documented = documented_ranges().iter().find(|(pattern, _)| matches(pattern, &place.field)).map(|(_, d)| d);
            let target = at_mut(&mut doc, &place.steps);
            *target = same_type_number(target, documented, pick, float, int);
        }
        for (place, value) in others.into_iter().filter(|_| hostile) {
            let (all, _) = scan(&doc);
            let steps = place.get(&all).steps.clone();
            if !steps.is_empty() {
                *at_mut(&mut doc, &steps) = value;
            }
        }
        for (place, key) in unknown {
            let (all, _) = scan(&doc);
            let steps = place.get(&all).steps.clone();
            if let Value::Table(t) = at_mut(&mut doc, &steps) {
                t.insert(format!("unknown_{key}"), Value::Integer(1));
            }
        }
        doc
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    /// The loader and the validator never panic, and an accepted document holds every number in
    /// its documented range.
    #[test]
    fn arbitrary_documents_never_panic_the_loader_and_never_pass_outside_the_ranges(doc in mutated_document()) {
        let Ok(text) = toml::to_string(&doc) else { return Ok(()) };
        if let Ok(scenario) = Scenario::parse("prop.toml", &text) {
            let verdict = outside_documented_ranges(&scenario, documented_ranges());
            prop_assert!(verdict.is_ok(), "{}\n{text}", verdict.unwrap_err());
        }
    }
}

/// Every field at the low end of its range that the others allow (consistency rules decide a few:
/// the heartbeat below the election timeout, the online window above the heartbeat).
const EVERY_MINIMUM: &str = r#"
name = "every-minimum"
[run]
safety_s = 0.001
liveness_bound_s = 0.002
seeds_ci = 1
seeds_default = 1
[cluster.master]
controllers = 1
data_nodes = 1
replication_factor = 1
reliability_level = 0
machines = 1
[cluster.slave]
count = 1
controllers = 1
data_nodes = 1
replication_factor = 1
reliability_level = 0
machines = 1
added_data_nodes = 0
added_at_s = 0.0
[raft]
election_timeout_ms = [2, 2]
heartbeat_ms = 1
max_entries_per_append = 1
snapshot_threshold_entries = 1
[workload]
clients = 0
lanes_per_client = 1
proposals_per_s = 0.0
retry_timeout_ms = 1
[dfs_workload]
clients = 1
lanes_per_client = 1
ops_per_s = 0.001
op_timeout_ms = 1
databases = 1
tables_per_db = 1
rows = [1, 1]
invalid_share = 0.0
catalog_refresh_ms = 1
query_weight = 0
mix = { APPEND = 1, UPSERT = 0 }
[dfs]
heartbeat_ms = 1
online_window_ms = 2
prepare_timeout_ms = 1
commit_timeout_ms = 1
request_retry_ms = 1
in_doubt_ms = 3
begin_timeout_ms = 1
transaction_timeout_ms = 1
recovery_lock_timeout_ms = 1
compaction_records = 1
scrub_interval_ms = 1
[replication]
databases = { "dfs://db0" = 0 }
async_delay_ms = 0
slave_num = 1
queues = 1
pull_interval_ms = 1
pull_batch = 1
pull_timeout_ms = 1
report_interval_ms = 1
redispatch_after_ms = 1
max_failures = 1
status_probe_interval_s = 0.01
slave_clients = 0
[network]
lan = { latency_ms = [0.0, 0.0], loss = 0.0, duplicate = 0.0, reorder = 0.0, reorder_delay_ms_max = 0.0 }
wan = { latency_ms = [0.0, 0.0], loss = 0.0, duplicate = 0.0, reorder = 0.0, reorder_delay_ms_max = 0.0 }
client = { latency_ms = [0.0, 0.0], loss = 0.0, duplicate = 0.0, reorder = 0.0, reorder_delay_ms_max = 0.0 }
[disk]
capacity_mb = 1
write_latency_us = [0, 0]
fsync_latency_us = [0, 0]
[clock]
skew_ms_max = 0
drift_ppm_max = 0
[faults]
swarm = true
kinds = ["crash", "pause", "partition", "one_way_partition", "isolate", "packet_loss", "clock", "disk_corruption",
         "disk_read_error", "disk_full", "disk_slow", "wan_partition", "late_delivery", "machine_crash",
         "machine_power_loss", "machine_isolation"]
mean_interval_s = 0.01
duration_s = [0.0001, 0.0001]
crash_downtime_s = [0.0001, 0.0001]
clock_drift_ppm_max = 0
[faults.on_new_leader]
probability = 0.0
delay_ms = [0.0, 0.0]
duration_s = [0.0001, 0.0001]
[[faults.schedule]]
at_s = 0.0
fault = "crash"
nodes = ["master.datanode.0"]
duration_s = 0.0001
[[calls]]
at_s = 0.0
on = "slave0.controller"
call = "getSlaveReplicationStatus"
[expect]
aborted_share_max = 0.0
unavailable_share_max = 0.0
leaderless_ms_max = 0.001
commits_per_s_min = 0.001
settle_ms = 0.0
"#;

/// Every field at the high end of its range that a short run allows: the largest deployment,
/// the longest timeouts and intervals, the largest pairs and weights, a rate at its maximum over a
/// safety phase short enough that the operations stay few.
const EVERY_MAXIMUM: &str = r#"
name = "every-maximum"
[run]
safety_s = 0.0005
liveness_bound_s = 60.0
seeds_ci = 1000000
seeds_default = 1000000
[cluster.master]
controllers = 9
data_nodes = 32
replication_factor = 5
reliability_level = 2
machines = 32
[cluster.slave]
count = 4
controllers = 9
data_nodes = 32
replication_factor = 5
reliability_level = 2
machines = 32
added_data_nodes = 16
added_at_s = 0.0004
[raft]
election_timeout_ms = [60000, 60000]
heartbeat_ms = 59999
max_entries_per_append = 100000
snapshot_threshold_entries = 1000000
[workload]
clients = 64
lanes_per_client = 64
proposals_per_s = 64000.0
retry_timeout_ms = 3600000
[dfs_workload]
clients = 64
lanes_per_client = 1024
ops_per_s = 64000.0
op_timeout_ms = 3600000
databases = 64
tables_per_db = 64
rows = [10000, 10000]
invalid_share = 1.0
catalog_refresh_ms = 3600000
query_weight = 1000000
mix = { APPEND = 1000000, UPSERT = 1000000, SQL_DELETE = 1000000, CREATE_TABLE = 1000000 }
[dfs]
heartbeat_ms = 3599999
online_window_ms = 3600000
prepare_timeout_ms = 1799999
commit_timeout_ms = 3600000
request_retry_ms = 1800000
in_doubt_ms = 3600000
begin_timeout_ms = 3600000
transaction_timeout_ms = 3600000
recovery_lock_timeout_ms = 3600000
compaction_records = 1000000
scrub_interval_ms = 3600000
[replication]
databases = { "dfs://db0" = 1, "dfs://db1" = 0 }
async_delay_ms = 3600000
slave_num = 64
queues = 4096
pull_interval_ms = 3600000
pull_batch = 100000
pull_timeout_ms = 3600000
report_interval_ms = 3600000
redispatch_after_ms = 3600000
max_failures = 1000000
status_probe_interval_s = 86400.0
slave_clients = 16
[network]
lan = { latency_ms = [10000.0, 10000.0], loss = 0.999, duplicate = 1.0, reorder = 1.0, reorder_delay_ms_max = 10000.0 }
wan = { latency_ms = [10000.0, 10000.0], loss = 0.999, duplicate = 1.0, reorder = 1.0, reorder_delay_ms_max = 10000.0 }
client = { latency_ms = [10000.0, 10000.0], loss = 0.999, duplicate = 1.0, reorder = 1.0, reorder_delay_ms_max = 10000.0 }
[disk]
capacity_mb = 16384
write_latency_us = [1000000, 1000000]
fsync_latency_us = [1000000, 1000000]
[clock]
skew_ms_max = 3600000
drift_ppm_max = 499999
[faults]
swarm = false
kinds = ["crash", "pause", "partition", "one_way_partition", "isolate", "packet_loss", "clock", "disk_corruption",
         "disk_read_error", "disk_full", "disk_slow", "wan_partition", "late_delivery", "machine_crash",
         "machine_power_loss", "machine_isolation"]
mean_interval_s = 86400.0
duration_s = [86400.0, 86400.0]
crash_downtime_s = [86400.0, 86400.0]
clock_drift_ppm_max = 499999
[faults.on_new_leader]
probability = 1.0
action = "crash"
delay_ms = [60000.0, 60000.0]
duration_s = [86400.0, 86400.0]
[[faults.schedule]]
at_s = 0.0004
fault = "clock"
nodes = ["slave3.controller.8"]
duration_s = 86400.0
[[calls]]
at_s = 60.0
on = "slave3.controller"
call = "getSlaveReplicationStatus"
limit = 4294967295
[expect]
aborted_share_max = 1.0
unavailable_share_max = 1.0
leaderless_ms_max = 86400000.0
commits_per_s_min = 1000000.0
settle_ms = 86400000.0
"#;

#[test]
fn one_seed_of_every_valid_extreme_runs_without_a_harness_failure() {
    let ranges = documented_ranges();
    for text in [EVERY_MINIMUM, EVERY_MAXIMUM] {
        let scenario = Arc::new(Scenario::parse("extreme.toml", text).unwrap_or_else(|e| panic!("{e}")));
        outside_documented_ranges(&scenario, ranges).unwrap_or_else(|e| panic!("{}: {e}", scenario.name));
        let report = run_seed(&scenario, 0, RunOptions::default());
        // A checker may judge such a deployment (nothing can commit in 0.5 ms); a panic anywhere
        // inside the run (the harness's arithmetic, or a model assertion on a valid setting) may not.
        let panics: Vec<_> = report.violations.iter().filter(|v| v.checker == MODEL_INVARIANT).collect();
        assert!(panics.is_empty(), "{}: {panics:?}", scenario.name);
        assert!(report.sim_seconds > 0.0, "{}: the run ran", scenario.name);
    }
}

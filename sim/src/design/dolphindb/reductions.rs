//! The shrinker's steps over DolphinDB's sections: the DFS workload (fewer clients and sessions, a
//! lower rate, fewer databases, tables and rows, no queries, no invalid operations), the slaves'
//! clients, and the deployment (fewer data nodes, fewer slaves, no nodes added later).

use std::collections::BTreeMap;

use crate::design::reduce::{Reduction, Steps, changed, half};
use crate::scenario::Scenario;

/// The design's steps for the shrinker.
pub fn steps() -> Steps {
    Steps { reductions: all(), operation_types, with_operation_types }
}

/// Every step, the cheapest to run first (a lighter run is quicker to judge).
pub fn all() -> Vec<Reduction> {
    vec![
        ("half the DFS clients", |s| changed(s, |s| s.dfs_workload.clients = half(s.dfs_workload.clients, 0))),
        ("one session per DFS client", |s| changed(s, |s| s.dfs_workload.lanes_per_client = 1)),
        ("half the DFS operation rate", |s| changed(s, |s| s.dfs_workload.ops_per_s /= 2.0)),
        ("half the databases", |s| changed(s, |s| s.dfs_workload.databases = half(s.dfs_workload.databases, 1))),
        ("half the tables", |s| changed(s, |s| s.dfs_workload.tables_per_db = half(s.dfs_workload.tables_per_db, 1))),
        ("half the rows per write", |s| {
            changed(s, |s| {
                let [low, high] = s.dfs_workload.rows;
                s.dfs_workload.rows = [low.min(half(high, 1)), half(high, 1)];
            })
        }),
        ("no queries", |s| changed(s, |s| s.dfs_workload.query_weight = 0)),
        ("no invalid operations", |s| changed(s, |s| s.dfs_workload.invalid_share = 0.0)),
        ("no slave clients", |s| changed(s, |s| s.replication.slave_clients = 0)),
        ("no data nodes added later", |s| {
            changed(s, |s| {
                if let Some(slave) = &mut s.cluster.slave {
                    slave.added_data_nodes = 0;
                }
            })
        }),
        ("one slave fewer", |s| {
            changed(s, |s| {
                if let Some(slave) = s.cluster.slave.as_mut().filter(|slave| slave.count > 1) {
                    slave.count -= 1;
                }
            })
        }),
        ("one master data node fewer", |s| {
            changed(s, |s| {
                let shape = &mut s.cluster.master;
                if shape.data_nodes > shape.replication_factor.max(1) {
                    shape.data_nodes -= 1;
                }
            })
        }),
        ("one slave data node fewer", |s| {
            changed(s, |s| {
                if let Some(shape) = s.cluster.slave.as_mut().filter(|shape| shape.data_nodes > shape.replication_factor.max(1)) {
                    shape.data_nodes -= 1;
                }
            })
        }),
    ]
}

/// The DFS workload's operation types.
pub fn operation_types(s: &Scenario) -> Vec<String> {
    s.dfs_workload.mix.keys().cloned().collect()
}

/// `s` with only the operation types `keys` in its DFS workload's mix, at their weights.
pub fn with_operation_types(s: &Scenario, keys: &[String]) -> Scenario {
    let mut smaller = s.clone();
    let mix: BTreeMap<String, u32> = s.dfs_workload.mix.iter().filter(|(k, _)| keys.contains(k)).map(|(k, w)| (k.clone(), *w)).collect();
    smaller.dfs_workload.mix = mix;
    smaller
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_makes_the_default_scenario_smaller_or_says_it_cannot() {
        let s = Scenario::embedded(crate::scenario::DEFAULT_SCENARIO).unwrap();
        for (name, reduce) in all() {
            if let Some(smaller) = reduce(&s) {
                assert_ne!(smaller, s, "{name}");
            }
        }
        let lighter = all()[0].1(&s).expect("the default scenario has DFS clients");
        assert_eq!(lighter.dfs_workload.clients, s.dfs_workload.clients / 2);
        let one = with_operation_types(&s, &operation_types(&s)[..1]);
        assert_eq!(one.dfs_workload.mix.len(), 1);
    }
}

//! The shrinker's steps over SequoiaDB's sections: the sessions' workload (fewer clients and
//! sessions, a lower rate, fewer documents), the management calls, and the deployment (a group, a
//! collection, a spare node fewer; the data nodes follow the groups).

use crate::design::reduce::{Reduction, Steps, changed, half};
use crate::scenario::Scenario;

/// The design's steps for the shrinker.
pub fn steps() -> Steps {
    Steps { reductions: all(), operation_types, with_operation_types }
}

/// Every step, the cheapest to run first.
pub fn all() -> Vec<Reduction> {
    vec![
        ("half the SequoiaDB clients", |s| changed(s, |s| s.sequoiadb_workload.clients = half(s.sequoiadb_workload.clients, 1))),
        ("one session per SequoiaDB client", |s| changed(s, |s| s.sequoiadb_workload.sessions_per_client = 1)),
        ("half the SequoiaDB operation rate", |s| changed(s, |s| s.sequoiadb_workload.ops_per_s /= 2.0)),
        ("half the documents", |s| {
            changed(s, |s| s.sequoiadb_workload.documents_per_collection = half(s.sequoiadb_workload.documents_per_collection, 1))
        }),
        ("no SequoiaDB management calls", |s| changed(s, |s| s.sequoiadb.calls.clear())),
        ("one collection fewer", |s| {
            changed(s, |s| {
                if s.sequoiadb.collections.len() > 1 {
                    s.sequoiadb.collections.pop();
                }
            })
        }),
        ("one group fewer", |s| {
            changed(s, |s| {
                if s.sequoiadb.groups > 1 {
                    s.sequoiadb.groups -= 1;
                    s.cluster.master.data_nodes -= s.sequoiadb.nodes_per_group;
                }
            })
        }),
        ("one spare node fewer", |s| {
            changed(s, |s| {
                if s.sequoiadb.spare_nodes > 0 {
                    s.sequoiadb.spare_nodes -= 1;
                    s.cluster.master.data_nodes -= 1;
                }
            })
        }),
    ]
}

/// The operation types of the sessions' mix with a weight.
pub fn operation_types(s: &Scenario) -> Vec<String> {
    let w = &s.sequoiadb_workload;
    [("insert", w.insert_weight), ("increment", w.increment_weight), ("delete", w.delete_weight), ("read", w.read_weight)]
        .into_iter()
        .filter(|(_, weight)| *weight > 0)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// `s` with only the operation types `keys` in its sessions' mix, at their weights.
pub fn with_operation_types(s: &Scenario, keys: &[String]) -> Scenario {
    let mut smaller = s.clone();
    let w = &mut smaller.sequoiadb_workload;
    for (name, weight) in [
        ("insert", &mut w.insert_weight),
        ("increment", &mut w.increment_weight),
        ("delete", &mut w.delete_weight),
        ("read", &mut w.read_weight),
    ] {
        if !keys.iter().any(|k| k == name) {
            *weight = 0;
        }
    }
    smaller
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_makes_the_chaos_scenario_smaller_or_says_it_cannot_and_stays_valid() {
        let s = Scenario::embedded("sequoiadb-chaos").unwrap();
        let mut taken = 0;
        for (name, reduce) in all() {
            if let Some(smaller) = reduce(&s) {
                assert_ne!(smaller, s, "{name}");
                taken += 1;
            }
        }
        assert!(taken >= 4, "{taken}");
        let types = operation_types(&s);
        assert_eq!(types, ["insert", "increment", "delete", "read"]);
        let inserts = with_operation_types(&s, &types[..1]);
        assert_eq!(operation_types(&inserts), ["insert"]);
    }
}

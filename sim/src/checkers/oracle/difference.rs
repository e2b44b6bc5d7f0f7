//! The first difference between two sets of database views, for messages.

use std::collections::{BTreeMap, BTreeSet};

use super::DbView;

/// The first difference between two sets of database views, said briefly: which database, which
/// table, and what differs (scheme, schema, or the first row only one side has).
pub fn first_difference(a: &BTreeMap<String, DbView>, b: &BTreeMap<String, DbView>) -> String {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for n in names {
        match (a.get(n), b.get(n)) {
            (Some(x), Some(y)) if x != y => return format!("{n}: {}", database_difference(x, y)),
            (Some(_), None) => return format!("{n} only on the left"),
            (None, Some(_)) => return format!("{n} only on the right"),
            _ => {}
        }
    }
    "none".into()
}

fn database_difference(x: &DbView, y: &DbView) -> String {
    if x.scheme != y.scheme {
        return format!("partition scheme {:?} / {:?}", x.scheme, y.scheme);
    }
    let tables: BTreeSet<&String> = x.tables.keys().chain(y.tables.keys()).collect();
    for t in tables {
        match (x.tables.get(t), y.tables.get(t)) {
            (Some(p), Some(q)) if p.columns != q.columns || p.partition_column != q.partition_column => {
                return format!("table {t} schema {:?} / {:?}", p.columns, q.columns);
            }
            (Some(p), Some(q)) if p.rows != q.rows => {
                let only_left = p.rows.iter().find(|r| !q.rows.contains(r));
                let only_right = q.rows.iter().find(|r| !p.rows.contains(r));
                return format!(
                    "table {t}: {} rows / {} rows; first only on the left {only_left:?}, first only on the right {only_right:?}",
                    p.rows.len(),
                    q.rows.len()
                );
            }
            (Some(_), None) => return format!("table {t} only on the left"),
            (None, Some(_)) => return format!("table {t} only on the right"),
            _ => {}
        }
    }
    "none".into()
}

//! Conflict grouping of the send queue (DolphinDB: tasks whose written chunk sets intersect
//! conflict; a group holds tasks that can run in parallel).
//!
//! Tasks are scanned in task id order: a task joins the current group if it conflicts with no member
//! of it, otherwise it opens the next group. Group ids therefore never decrease, no two members of a
//! group conflict, and every earlier task a task conflicts with sits in an earlier group.

use serde::{Deserialize, Serialize};

use crate::dfs::LockKey;

use super::task::GroupId;

/// Whether two tasks with these footprints conflict (some pair of their locks does).
pub fn footprints_conflict(a: &[LockKey], b: &[LockKey]) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.conflicts(y)))
}

/// The footprint as a bug sees it: only partition locks, as if DDL and database-level operations
/// touched no chunk (the planted `grouping_ignores_table_scope`).
fn partitions_only(footprint: &[LockKey]) -> Vec<LockKey> {
    footprint.iter().filter(|k| matches!(k, LockKey::Partition(..))).cloned().collect()
}

/// The grouping scan's state: the current group and its members' footprints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grouper {
    /// The current group (0 before the first task).
    ///
    /// Invariant: never decreases; grows by one when a task conflicts with a member.
    current: GroupId,
    /// Footprints of the current group's members.
    ///
    /// Invariant: no two members conflict (as the scan sees footprints); empty only before the
    /// first task.
    members: Vec<Vec<LockKey>>,
    /// Planted bug: ignore table and database locks.
    ignore_table_scope: bool,
}

impl Grouper {
    /// A grouping scan; `ignore_table_scope` plants the bug of that name.
    pub fn new(ignore_table_scope: bool) -> Self {
        Self { current: 0, members: Vec::new(), ignore_table_scope }
    }

    /// The group of the next task, which has `footprint`.
    pub fn assign(&mut self, footprint: &[LockKey]) -> GroupId {
        let footprint = if self.ignore_table_scope { partitions_only(footprint) } else { footprint.to_vec() };
        let before = self.current;
        assert_eq!(self.members.is_empty(), before == 0, "members of group {before}");
        if self.current == 0 || self.members.iter().any(|m| footprints_conflict(m, &footprint)) {
            self.current += 1;
            self.members.clear();
        }
        self.members.push(footprint);
        assert!(self.current == before || self.current == before + 1, "group ids go up one at a time");
        assert!(self.current >= 1 && !self.members.is_empty());
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dfs::PartitionKey;

    fn part(db: &str, t: &str, p: i32) -> LockKey {
        LockKey::Partition(db.into(), t.into(), PartitionKey::Int(p))
    }

    fn table(db: &str, t: &str) -> LockKey {
        LockKey::Table(db.into(), t.into())
    }

    #[test]
    fn disjoint_chunks_share_a_group_and_a_conflict_opens_the_next() {
        let mut g = Grouper::new(false);
        assert_eq!(g.assign(&[part("a", "t", 1)]), 1);
        assert_eq!(g.assign(&[part("a", "t", 2)]), 1);
        assert_eq!(g.assign(&[part("b", "t", 1)]), 1, "another database");
        assert_eq!(g.assign(&[part("a", "t", 2)]), 2, "the same chunk again");
        assert_eq!(g.assign(&[part("a", "t", 1)]), 2, "group 2 holds only chunk 2 so far");
        assert_eq!(g.assign(&[table("a", "t")]), 3, "DDL touches the whole table");
        assert_eq!(g.assign(&[part("a", "u", 1)]), 3, "another table");
        assert_eq!(g.assign(&[LockKey::Db("a".into())]), 4, "a database-level operation touches everything in it");
        assert_eq!(g.assign(&[part("b", "t", 9)]), 4);
    }

    #[test]
    fn the_planted_bug_lets_ddl_share_a_group_with_writes_to_its_table() {
        let mut g = Grouper::new(true);
        assert_eq!(g.assign(&[part("a", "t", 1)]), 1);
        assert_eq!(g.assign(&[table("a", "t")]), 1);
    }
}

//! The final state the end-state checks judge, as plain data the simulator fills from the running
//! nodes ([`FinalNode`]), and the checkers' own reading of a group's final history: the chain of
//! records from its final primary's last record back through each record's PreLSN, over every
//! record the group ever wrote (seed 002 §同步日志: each record names the one before it), and the
//! documents that history gives when replayed (the checkers' own replay, not the model's).

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::replica::sequoiadb::Lsn;
use ccrsim_model::replica::sequoiadb::fact::CollectionId;
use ccrsim_model::replica::sequoiadb::types::{DbStatus, DocId, DocValue, GroupId, Member, NodeRole, WriteOp};

use super::ledger::SeqLedger;

/// One running data node at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalNode {
    /// The node and its group.
    pub member: Member,
    /// Its role.
    pub role: NodeRole,
    /// Its database status.
    pub status: DbStatus,
    /// Its last record (`Lsn::INVALID`: an empty log).
    pub end: Lsn,
    /// The records its log files and memory buffer hold, oldest first: `(lsn, digest)`.
    pub log: Vec<(Lsn, u64)>,
    /// Its documents.
    pub docs: BTreeMap<(CollectionId, DocId), DocValue>,
}

/// A group's final history: the LSNs of the chain ending at its final primary's last record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// The LSNs on the chain.
    pub lsns: BTreeSet<Lsn>,
    /// Whether the chain reaches back to the group's first record (`PreLSN` invalid); if not,
    /// nothing is known below `floor`.
    pub complete: bool,
    /// The oldest LSN on the chain.
    pub floor: Lsn,
}

impl History {
    /// The chain ending at `end`, over the records `group` ever wrote.
    pub fn of(ledger: &SeqLedger, group: GroupId, end: Lsn) -> Self {
        let mut history = History { lsns: BTreeSet::new(), complete: !end.is_valid(), floor: end };
        let mut at = end;
        while at.is_valid() {
            let Some(r) = ledger.record(group, at) else { return history };
            history.lsns.insert(at);
            history.floor = at;
            // A PreLSN at or after its record would loop: `record-uniqueness` refuses it.
            if r.pre_lsn >= at {
                return history;
            }
            at = r.pre_lsn;
        }
        history.complete = true;
        history
    }

    /// Whether the record at `lsn` is on the chain: `None` if the chain does not reach that far.
    pub fn holds(&self, lsn: Lsn) -> Option<bool> {
        if self.lsns.contains(&lsn) {
            Some(true)
        } else if self.complete || lsn > self.floor {
            Some(false)
        } else {
            None
        }
    }

    /// The documents the chain gives, applied oldest first; `Err` names a record the documents it
    /// follows cannot take (an increment or delete of a missing document, an insert of an
    /// existing one: such a write fails and is never logged).
    pub fn replay(&self, ledger: &SeqLedger, group: GroupId) -> Result<BTreeMap<(CollectionId, DocId), DocValue>, String> {
        let mut docs: BTreeMap<(CollectionId, DocId), DocValue> = BTreeMap::new();
        for &lsn in &self.lsns {
            let Some((write, info)) = ledger.write_of(group, lsn) else { continue };
            let key = (info.collection, info.id);
            match (info.op, docs.get_mut(&key)) {
                (WriteOp::Insert { counter }, None) => {
                    docs.insert(key, DocValue { counter, written_at: lsn });
                }
                (WriteOp::Increment { delta }, Some(v)) => {
                    v.counter += delta;
                    v.written_at = lsn;
                }
                (WriteOp::Delete, Some(_)) => {
                    docs.remove(&key);
                }
                (op, existing) => {
                    return Err(format!(
                        "the history of group {group} logs write {write:?} ({op:?} of document {key:?}) at {lsn} on {existing:?}"
                    ));
                }
            }
        }
        Ok(docs)
    }
}

/// The one primary of each group among the final nodes, if exactly one.
pub fn final_primary(nodes: &[FinalNode], group: GroupId) -> Option<&FinalNode> {
    let mut primaries = nodes.iter().filter(|n| n.member.group == group && n.role == NodeRole::Primary);
    let primary = primaries.next()?;
    primaries.next().is_none().then_some(primary)
}

/// The groups the final nodes belong to.
pub fn groups_of(nodes: &[FinalNode]) -> BTreeSet<GroupId> {
    nodes.iter().map(|n| n.member.group).collect()
}

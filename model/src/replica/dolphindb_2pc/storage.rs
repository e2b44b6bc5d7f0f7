//! How a data node keeps its chunk replicas on disk: per chunk, a log of checksummed records
//! (prepare, commit, rollback) and a snapshot of the rows at a version, both replaced atomically
//! (tmp, fsync, rename) when the log is compacted or a recovery image is installed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::io::{DiskError, DiskView};
use crate::core::record::{self, ScanEnd};
use crate::dfs::{ChunkData, ChunkDelta};

use super::state::{ChunkId, Cid, Tid};

const KIND_RECORD: u8 = 1;
const KIND_SNAPSHOT: u8 = 2;

/// One entry of a chunk's log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChunkRecord {
    /// Phase one: the change, durable before the participant says yes.
    Prepare { tid: Tid, expected_version: Cid, delta: std::sync::Arc<ChunkDelta> },
    /// Phase two: commit with this cid.
    Commit { tid: Tid, cid: Cid },
    /// Phase two: rollback.
    Rollback { tid: Tid },
}

/// A snapshot file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSnapshot {
    /// The version the rows are at.
    pub version: Cid,
    /// The rows.
    pub data: ChunkData,
}

/// Path of a chunk's log.
pub fn log_path(chunk: ChunkId) -> String {
    format!("chunks/{chunk}.log")
}

/// Path of a chunk's snapshot.
pub fn snapshot_path(chunk: ChunkId) -> String {
    format!("chunks/{chunk}.snap")
}

#[derive(Serialize, Deserialize)]
struct Numbered<R> {
    /// Position in the log, from 0 (a gap means a write failed while a later one landed).
    seq: u64,
    record: R,
}

/// Encodes the record at position `seq` of a log.
pub fn encode_record(seq: u64, record: &ChunkRecord, out: &mut Vec<u8>) {
    record::encode_value(KIND_RECORD, &Numbered { seq, record }, out);
}

/// Encodes a snapshot file.
pub fn encode_snapshot(s: &ChunkSnapshot) -> Vec<u8> {
    let mut out = Vec::new();
    record::encode_value(KIND_SNAPSHOT, s, &mut out);
    out
}

/// A replica as recovered from disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveredReplica {
    /// Committed rows.
    pub data: ChunkData,
    /// Their version.
    pub version: Cid,
    /// Prepared transactions with no outcome in the log (in doubt): `(tid, expected, delta)`.
    pub prepared: Vec<(Tid, Cid, std::sync::Arc<ChunkDelta>)>,
    /// The log must be rewritten before use (it ended in a torn record, or after a gap).
    pub torn_log: bool,
    /// Records in the log that count (the next one gets this position).
    pub records: usize,
}

/// Why a replica could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaError {
    /// A read failed (EIO): try again later.
    Disk(DiskError),
    /// Synced bytes are corrupt: the replica is lost and must be recovered from a peer.
    Corrupt(String),
}

/// Whether the bytes of a chunk file (log or snapshot) hold a checksum failure (a scrub's test).
pub fn is_corrupt(bytes: &[u8]) -> bool {
    matches!(record::scan(bytes).1, ScanEnd::Corrupt { .. })
}

/// Rebuilds every chunk replica found on disk.
pub fn recover(disk: &dyn DiskView) -> Result<BTreeMap<ChunkId, Result<RecoveredReplica, String>>, DiskError> {
    let mut chunks: BTreeMap<ChunkId, Result<RecoveredReplica, String>> = BTreeMap::new();
    let ids: std::collections::BTreeSet<ChunkId> =
        disk.list("chunks/").iter().filter_map(|p| p.strip_prefix("chunks/")?.split('.').next()?.parse().ok()).collect();
    for id in ids {
        match recover_one(disk, id) {
            Ok(r) => {
                chunks.insert(id, Ok(r));
            }
            Err(ReplicaError::Disk(e)) => return Err(e),
            Err(ReplicaError::Corrupt(why)) => {
                chunks.insert(id, Err(why));
            }
        }
    }
    Ok(chunks)
}

fn recover_one(disk: &dyn DiskView, chunk: ChunkId) -> Result<RecoveredReplica, ReplicaError> {
    let mut replica = RecoveredReplica::default();
    if let Some(bytes) = disk.read(&snapshot_path(chunk)).map_err(ReplicaError::Disk)? {
        let (records, end) = record::scan(&bytes);
        match (records.as_slice(), end) {
            ([r], ScanEnd::Clean) if r.kind == KIND_SNAPSHOT => {
                let s: ChunkSnapshot = record::decode_value(r.payload).map_err(ReplicaError::Corrupt)?;
                replica.data = s.data;
                replica.version = s.version;
            }
            (_, end) => return Err(ReplicaError::Corrupt(format!("{}: {end:?}", snapshot_path(chunk)))),
        }
    }
    let Some(bytes) = disk.read(&log_path(chunk)).map_err(ReplicaError::Disk)? else { return Ok(replica) };
    let (records, end) = record::scan(&bytes);
    match end {
        ScanEnd::Clean => {}
        ScanEnd::TornTail { .. } => replica.torn_log = true,
        ScanEnd::Corrupt { offset, reason } => return Err(ReplicaError::Corrupt(format!("{} at {offset}: {reason}", log_path(chunk)))),
    }
    let mut prepared: BTreeMap<Tid, (Cid, std::sync::Arc<ChunkDelta>)> = BTreeMap::new();
    for (i, r) in records.into_iter().enumerate() {
        let numbered: Numbered<ChunkRecord> = record::decode_value(r.payload).map_err(ReplicaError::Corrupt)?;
        if numbered.seq != i as u64 {
            // A write failed and a later one landed (the node stopped at the failure): nothing from
            // here on was acknowledged.
            replica.torn_log = true;
            break;
        }
        replica.records = i + 1;
        match numbered.record {
            ChunkRecord::Prepare { tid, expected_version, delta } => {
                prepared.insert(tid, (expected_version, delta));
            }
            ChunkRecord::Commit { tid, cid } => {
                let Some((_, delta)) = prepared.remove(&tid) else { continue };
                // A commit already folded into the snapshot is skipped.
                if cid > replica.version {
                    replica.data.apply(&delta);
                    replica.version = cid;
                }
            }
            ChunkRecord::Rollback { tid } => {
                prepared.remove(&tid);
            }
        }
    }
    // Prepares that a snapshot made obsolete (expected below the version reached) are dropped: a
    // recovery image already holds their outcome.
    prepared.retain(|_, (expected, _)| *expected >= replica.version);
    replica.prepared = prepared.into_iter().map(|(tid, (e, d))| (tid, e, d)).collect();
    Ok(replica)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::io::MemoryDisk;
    use crate::dfs::Value;

    fn append(seq: u64, r: &ChunkRecord, log: &mut Vec<u8>) {
        encode_record(seq, r, log);
    }

    fn prepare(tid: Tid, expected: Cid) -> ChunkRecord {
        ChunkRecord::Prepare { tid, expected_version: expected, delta: ChunkDelta::Append(vec![vec![Value::Int(tid as i32)]]).into() }
    }

    #[test]
    fn replay_applies_commits_keeps_open_prepares_and_stops_at_a_gap() {
        let mut log = Vec::new();
        append(0, &prepare(1, 0), &mut log);
        append(1, &ChunkRecord::Commit { tid: 1, cid: 5 }, &mut log);
        append(2, &prepare(2, 5), &mut log);
        let mut disk = MemoryDisk::default();
        disk.files.insert(log_path(7), log.clone());
        let r = recover(&disk).unwrap().remove(&7).unwrap().unwrap();
        assert_eq!((r.version, r.data.rows.len(), r.records, r.torn_log), (5, 1, 3, false));
        assert_eq!(r.prepared.iter().map(|p| p.0).collect::<Vec<_>>(), vec![2]);
        // Position 3 is missing (its write failed): the commit at position 4 never counts.
        append(4, &ChunkRecord::Commit { tid: 2, cid: 6 }, &mut log);
        disk.files.insert(log_path(7), log);
        let r = recover(&disk).unwrap().remove(&7).unwrap().unwrap();
        assert_eq!((r.version, r.records, r.torn_log), (5, 3, true));
        assert_eq!(r.prepared.len(), 1, "the prepare stays in doubt");
    }
}

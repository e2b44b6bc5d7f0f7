//! Durable Raft state: an append-only write-ahead log plus a snapshot file.
//!
//! `raft/wal` holds records in the order they were written: hard state (term, vote) and entries. An
//! entry record at index `i` replaces whatever the log held from `i` on, so a follower's truncation is
//! just the next append. Every record carries its position in the file: a gap in the positions
//! means a write failed while a later one, already issued, landed (the member stops at the first
//! failure, so nothing from the gap on was acknowledged), which recovery cuts off like a torn tail. `raft/snapshot` holds one record: the snapshot metadata and the encoded state
//! machine. Both are replaced by writing a `.tmp` file, fsyncing it, and renaming it over the old one.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::log::{Entry, RaftLog};
use super::message::{Snapshot, SnapshotMeta};
use crate::core::io::{DiskView, NodeId};
use crate::core::record::{self, ScanEnd};

/// The write-ahead log.
pub const WAL: &str = "raft/wal";
/// The write-ahead log while it is rewritten after compaction.
pub const WAL_TMP: &str = "raft/wal.tmp";
/// The latest durable snapshot.
pub const SNAPSHOT: &str = "raft/snapshot";
/// The snapshot while it is written.
pub const SNAPSHOT_TMP: &str = "raft/snapshot.tmp";

const KIND_HARD_STATE: u8 = 1;
const KIND_ENTRY: u8 = 2;
const KIND_SNAPSHOT: u8 = 3;

/// Term and vote: what a member must never forget once it acted on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HardState {
    /// Latest term seen.
    pub term: u64,
    /// Candidate voted for in `term`.
    pub voted_for: Option<NodeId>,
}

#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta,
    state: Vec<u8>,
}

/// What [`SnapshotFile`] writes, borrowing the state's bytes instead of copying them.
#[derive(Serialize)]
struct SnapshotFileRef<'a> {
    meta: SnapshotMeta,
    state: Bytes<'a>,
}

/// Bytes written as postcard writes a `Vec<u8>` (a varint length, then the bytes) in one copy
/// rather than one call per byte.
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

#[derive(Serialize, Deserialize)]
struct Numbered<T> {
    seq: u64,
    value: T,
}

/// Appends a hard-state record at position `seq` of the WAL.
pub fn encode_hard_state(seq: u64, hard: &HardState, out: &mut Vec<u8>) {
    record::encode_value(KIND_HARD_STATE, &Numbered { seq, value: hard }, out);
}

/// Appends an entry record at position `seq` of the WAL.
pub fn encode_entry<C: Serialize>(seq: u64, entry: &Entry<C>, out: &mut Vec<u8>) {
    record::encode_value(KIND_ENTRY, &Numbered { seq, value: entry }, out);
}

/// The bytes of a snapshot file.
pub fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let mut out = Vec::with_capacity(record::HEADER_BYTES + 64 + snapshot.state.len());
    let file = SnapshotFileRef { meta: snapshot.meta, state: Bytes(&snapshot.state) };
    record::encode_value(KIND_SNAPSHOT, &file, &mut out);
    out
}

/// The bytes of a fresh WAL holding `hard` and `entries` (positions 0..=entries.len()).
pub fn encode_wal<C: Serialize>(hard: &HardState, entries: &[Entry<C>]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_hard_state(0, hard, &mut out);
    for (i, entry) in entries.iter().enumerate() {
        encode_entry(i as u64 + 1, entry, &mut out);
    }
    out
}

pub use crate::core::io::RecoveryError;

/// What recovery found on disk.
#[derive(Debug)]
pub struct Recovered<C> {
    /// Term and vote.
    pub hard: HardState,
    /// The latest durable snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The log after the snapshot.
    pub log: RaftLog<C>,
    /// Set when the WAL on disk must be replaced before use (atomically: tmp, fsync, rename): it
    /// ended in a torn record, or it holds entries that the snapshot made obsolete or that do not
    /// join it (appending after those would leave a gap that the next recovery refuses).
    pub rewrite_wal: Option<Vec<u8>>,
    /// The WAL ended in a torn record or a gap (one reason for `rewrite_wal`).
    pub torn_tail: bool,
    /// Records in the WAL once recovery's rewrite (if any) is done: the next one's position.
    pub wal_records: u64,
    /// Records counted in the WAL file as it is (before any rewrite).
    pub records_in_file: u64,
    /// Leftover `.tmp` files from an interrupted rewrite, to remove.
    pub stale_tmp: Vec<String>,
}

/// Rebuilds the durable Raft state from `disk`.
pub fn recover<C: Clone + Serialize + DeserializeOwned>(disk: &dyn DiskView) -> Result<Recovered<C>, RecoveryError> {
    let snapshot = match disk.read(SNAPSHOT).map_err(RecoveryError::Disk)? {
        None => None,
        Some(bytes) => {
            let (records, end) = record::scan(&bytes);
            let corrupt = |offset, reason: &str| RecoveryError::Corrupt { path: SNAPSHOT, offset, reason: reason.into() };
            match end {
                ScanEnd::Clean => {}
                // The snapshot file only ever appears through a rename of a synced file: a short one is damage.
                ScanEnd::TornTail { offset } => return Err(corrupt(offset, "truncated snapshot")),
                ScanEnd::Corrupt { offset, reason } => return Err(corrupt(offset, reason)),
            }
            let [only] = records.as_slice() else { return Err(corrupt(0, "snapshot must hold one record")) };
            if only.kind != KIND_SNAPSHOT {
                return Err(corrupt(only.offset, "not a snapshot record"));
            }
            let file: SnapshotFile = record::decode_value(only.payload).map_err(|e| corrupt(only.offset, &e))?;
            Some(Snapshot { meta: file.meta, state: file.state.into() })
        }
    };
    let mut hard = HardState::default();
    let mut rewrite_wal = None;
    let mut torn = false;
    let mut wal_records = 0;
    let mut records_in_file = 0;
    // The WAL replayed on its own: an entry at index i replaces everything from i on. After a
    // compaction the WAL starts at some index > 1; `wal_entries` is contiguous from its first entry.
    let mut wal_entries: Vec<Entry<C>> = Vec::new();
    if let Some(bytes) = disk.read(WAL).map_err(RecoveryError::Disk)? {
        let (records, end) = record::scan(&bytes);
        let corrupt = |offset, reason: String| RecoveryError::Corrupt { path: WAL, offset, reason };
        match end {
            ScanEnd::Clean => {}
            ScanEnd::TornTail { offset } => {
                torn = true;
                rewrite_wal = Some(bytes[..offset].to_vec());
            }
            ScanEnd::Corrupt { offset, reason } => return Err(corrupt(offset, reason.into())),
        }
        for (position, r) in records.into_iter().enumerate() {
            // The position comes first in every record's payload.
            let seq = |payload: &[u8]| postcard::take_from_bytes::<u64>(payload).map(|(s, _)| s).map_err(|e| e.to_string());
            if seq(r.payload).map_err(|e| corrupt(r.offset, e))? != position as u64 {
                // A failed write followed by one that landed: cut here, like a torn tail.
                torn = true;
                rewrite_wal = Some(bytes[..r.offset].to_vec());
                break;
            }
            wal_records = position as u64 + 1;
            match r.kind {
                KIND_HARD_STATE => hard = record::decode_value::<Numbered<HardState>>(r.payload).map_err(|e| corrupt(r.offset, e))?.value,
                KIND_ENTRY => {
                    let entry: Entry<C> = record::decode_value::<Numbered<Entry<C>>>(r.payload).map_err(|e| corrupt(r.offset, e))?.value;
                    if let Some(first) = wal_entries.first().map(|e| e.index) {
                        let next = first + wal_entries.len() as u64;
                        if entry.index > next || entry.index < first {
                            return Err(corrupt(r.offset, format!("entry {} outside {first}..={next}", entry.index)));
                        }
                        wal_entries.truncate((entry.index - first) as usize);
                    }
                    if wal_entries.last().is_some_and(|last| last.term > entry.term) {
                        return Err(corrupt(r.offset, format!("term goes back at entry {}", entry.index)));
                    }
                    wal_entries.push(entry);
                }
                other => return Err(corrupt(r.offset, format!("unknown record kind {other}"))),
            }
        }
    }
    // Join the WAL to the snapshot. A snapshot is renamed into place before the WAL is rewritten, so
    // after a crash between the two the WAL may still hold a history that diverges from the snapshot:
    // its entries after the snapshot count only if the WAL agrees with the snapshot at its last index.
    let (snapshot_index, snapshot_term) = snapshot.as_ref().map_or((0, 0), |s| (s.meta.index, s.meta.term));
    let mut log = RaftLog::after_snapshot(snapshot_index, snapshot_term);
    if let Some(first) = wal_entries.first().map(|e| e.index) {
        if first > snapshot_index + 1 {
            return Err(RecoveryError::Corrupt {
                path: WAL,
                offset: 0,
                reason: format!("WAL starts at {first}, after the snapshot at {snapshot_index} (gap)"),
            });
        }
        let agrees =
            first == snapshot_index + 1 || wal_entries.get((snapshot_index - first) as usize).is_some_and(|e| e.term == snapshot_term);
        let count = wal_entries.len();
        if agrees {
            for entry in wal_entries.into_iter().filter(|e| e.index > snapshot_index) {
                log.push(entry);
            }
        }
        if log.entries().len() != count {
            rewrite_wal = Some(encode_wal(&hard, log.entries()));
            records_in_file = wal_records;
            wal_records = 1 + log.entries().len() as u64;
        }
    }
    let stale_tmp = [WAL_TMP, SNAPSHOT_TMP].iter().filter(|p| disk.list(p).iter().any(|q| q == *p)).map(|p| p.to_string()).collect();
    let torn_tail = torn;
    if rewrite_wal.is_none() || torn {
        records_in_file = wal_records;
    }
    Ok(Recovered { hard, snapshot, log, rewrite_wal, torn_tail, wal_records, records_in_file, stale_tmp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::io::MemoryDisk;
    use crate::raft::log::Payload;

    #[test]
    fn a_snapshot_file_is_written_as_its_owned_form_serialises() {
        let state: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let meta = SnapshotMeta { index: 7, term: 3, digest: 0xfeed };
        let mut owned = Vec::new();
        let payload = postcard::to_stdvec(&SnapshotFile { meta, state: state.clone() }).unwrap();
        record::encode_into(KIND_SNAPSHOT, &payload, &mut owned);
        assert_eq!(encode_snapshot(&Snapshot { meta, state: state.into() }), owned);
    }

    #[test]
    fn a_gap_in_the_record_positions_ends_the_wal_there() {
        let hard = HardState { term: 2, voted_for: Some(1) };
        let entry = |index| Entry { index, term: 2, payload: Payload::<u32>::Noop };
        let mut bytes = encode_wal(&hard, &[entry(1), entry(2)]);
        let intact = bytes.len();
        // Position 3 (entry 3) failed to land; position 4 (entry 4) did.
        encode_entry(4, &entry(4), &mut bytes);
        let mut disk = MemoryDisk::default();
        disk.files.insert(WAL.into(), bytes.clone());
        let found = recover::<u32>(&disk).expect("a failed write is not corruption");
        assert_eq!((found.log.last_index(), found.hard, found.wal_records), (2, hard, 3));
        assert_eq!(found.rewrite_wal.as_deref(), Some(&bytes[..intact]), "rewritten without what follows the gap");
    }

    #[test]
    fn entries_that_jump_with_contiguous_positions_are_corruption() {
        let hard = HardState { term: 2, voted_for: None };
        let entry = |index| Entry { index, term: 2, payload: Payload::<u32>::Noop };
        let mut bytes = encode_wal(&hard, &[entry(1), entry(2)]);
        encode_entry(3, &entry(9), &mut bytes);
        let mut disk = MemoryDisk::default();
        disk.files.insert(WAL.into(), bytes);
        assert!(matches!(recover::<u32>(&disk), Err(RecoveryError::Corrupt { .. })));
    }
}

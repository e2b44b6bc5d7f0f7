//! How a data node keeps its sync log and its data on the simulated disk (reference section 1;
//! SequoiaDB dps/dpsLogFile.cpp, dps/dpsReplicaLogMgr.cpp): one file per log slot holding
//! checksummed records (`core::record`), a small meta file (the log's base when it holds nothing
//! and the highest version the node knows), a snapshot of the documents taken before a log file
//! is overwritten, and a marker that says the node is running (a node that finds it at boot did
//! not stop cleanly: its startup is not OK).
//!
//! Boot reads every slot, drops a torn or corrupt tail (each torn or corrupt record counts, and so
//! does every record that no longer chains to the newest one), and rebuilds the documents from the
//! snapshot and the log records after it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::fact::CollectionId;
use super::super::lsn::Lsn;
use super::super::types::{DocId, DocValue};
use super::log::{LogRecord, LogShape, SyncLog, apply_op};
use crate::core::io::{DiskOp, DiskView, RecoveryError};
use crate::core::record::{self, ScanEnd};

const KIND_LOG: u8 = 1;
const KIND_META: u8 = 2;
const KIND_DOCS: u8 = 3;

/// The marker of a running node.
pub const RUNNING_PATH: &str = "seq/running";
/// The meta file.
pub const META_PATH: &str = "seq/meta";
/// The documents' snapshot.
pub const DOCS_PATH: &str = "seq/docs";
const DOCS_TMP_PATH: &str = "seq/docs.tmp";
const META_TMP_PATH: &str = "seq/meta.tmp";

/// The documents of a node.
pub type Docs = BTreeMap<(CollectionId, DocId), DocValue>;

/// The path of log slot `slot`.
pub fn slot_path(slot: u32) -> String {
    format!("seq/log.{slot}")
}

/// The meta file's content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The log's base when it was last moved or rolled back.
    pub base: Lsn,
    /// The highest version the node promised or took.
    pub known_version: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct DocsSnapshot {
    at: Lsn,
    docs: Vec<((CollectionId, DocId), DocValue)>,
}

/// What a node found on its disk.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The log.
    pub log: SyncLog,
    /// The documents, as of the log's end when `consistent`.
    pub docs: Docs,
    /// The meta file.
    pub meta: Meta,
    /// Records dropped from a torn or corrupt tail.
    pub torn_records: u32,
    /// The last shutdown was clean (no running marker found).
    pub startup_ok: bool,
    /// The documents match the log's end (the snapshot's point is in the log).
    pub consistent: bool,
}

/// Rebuilds a node's log and documents from its disk.
pub fn recover(shape: LogShape, disk: &dyn DiskView) -> Result<Recovered, RecoveryError> {
    let read = |path: &str| disk.read(path).map_err(RecoveryError::Disk);
    let startup_ok = read(RUNNING_PATH)?.is_none();
    let meta: Meta = read_single(&read(META_PATH)?, KIND_META).unwrap_or_default();
    let snapshot: DocsSnapshot = read_single(&read(DOCS_PATH)?, KIND_DOCS).unwrap_or_default();
    let mut torn_records = 0u32;
    let mut by_offset: BTreeMap<u64, LogRecord> = BTreeMap::new();
    for slot in 0..shape.file_num {
        let Some(bytes) = read(&slot_path(slot))? else { continue };
        let (records, end) = record::scan(&bytes);
        if end != ScanEnd::Clean {
            torn_records += 1;
        }
        for r in records {
            match record::decode_value::<LogRecord>(r.payload) {
                Ok(rec) if r.kind == KIND_LOG => {
                    let newer = by_offset.get(&rec.lsn.offset).is_none_or(|old| old.lsn.version < rec.lsn.version);
                    if newer {
                        by_offset.insert(rec.lsn.offset, rec);
                    }
                }
                _ => torn_records += 1,
            }
        }
    }
    let chain = newest_chain(&mut by_offset, meta.base);
    torn_records += by_offset.len() as u32;
    let base = chain.first().map_or(meta.base, |r| r.pre_lsn);
    let mut log = SyncLog::new(shape, base);
    for r in chain {
        log.append(r);
    }
    let mut docs: Docs = snapshot.docs.into_iter().collect();
    let consistent = log.can_serve_after(snapshot.at);
    if consistent {
        for r in log.after(snapshot.at, usize::MAX) {
            replay_into(&mut docs, &r);
        }
    }
    Ok(Recovered { log, docs, meta, torn_records, startup_ok, consistent })
}

/// Applies a record to the documents.
pub fn replay_into(docs: &mut Docs, r: &LogRecord) {
    let key = r.key();
    match apply_op(docs.get(&key).copied(), r.op, r.lsn) {
        Some(v) => docs.insert(key, v),
        None => docs.remove(&key),
    };
}

/// Takes out of `by_offset` the records that chain back from the newest one (and are after
/// `floor` when they do not reach it), oldest first; what stays did not chain.
fn newest_chain(by_offset: &mut BTreeMap<u64, LogRecord>, floor: Lsn) -> Vec<LogRecord> {
    let mut chain = Vec::new();
    let Some((&top, _)) = by_offset.iter().next_back() else { return chain };
    let mut next = by_offset.remove(&top);
    while let Some(r) = next {
        if r.lsn <= floor && floor.is_valid() {
            by_offset.insert(r.lsn.offset, r);
            break;
        }
        let pre = r.pre_lsn;
        chain.push(r);
        next = match by_offset.get(&pre.offset) {
            Some(p) if p.lsn == pre && pre.is_valid() => by_offset.remove(&pre.offset),
            _ => None,
        };
    }
    chain.reverse();
    chain
}

fn read_single<T: serde::de::DeserializeOwned>(bytes: &Option<Vec<u8>>, kind: u8) -> Option<T> {
    let bytes = bytes.as_ref()?;
    let (records, _) = record::scan(bytes);
    let last = records.into_iter().rfind(|r| r.kind == kind)?;
    record::decode_value(last.payload).ok()
}

/// The disk operations that append `record` to its slot (a new period of the slot replaces the
/// file's old content).
pub fn append_ops(record: &LogRecord, slot: u32, new_file: bool) -> Vec<DiskOp> {
    let mut data = Vec::new();
    record::encode_value(KIND_LOG, record, &mut data);
    let path = slot_path(slot);
    let write = if new_file { DiskOp::WriteAll { path: path.clone(), data } } else { DiskOp::Append { path: path.clone(), data } };
    vec![write, DiskOp::Fsync { path }]
}

/// The disk operations that write every slot anew from the log (after a rollback or a move).
pub fn rewrite_log_ops(log: &SyncLog) -> Vec<DiskOp> {
    (0..log.shape().file_num)
        .flat_map(|slot| {
            let path = slot_path(slot);
            let mut data = Vec::new();
            for r in log.slot_records(slot) {
                record::encode_value(KIND_LOG, r, &mut data);
            }
            if data.is_empty() {
                vec![DiskOp::Remove { path }]
            } else {
                vec![DiskOp::WriteAll { path: path.clone(), data }, DiskOp::Fsync { path }]
            }
        })
        .collect()
}

/// The disk operations that replace the meta file.
pub fn meta_ops(meta: Meta) -> Vec<DiskOp> {
    let mut data = Vec::new();
    record::encode_value(KIND_META, &meta, &mut data);
    replace_ops(META_TMP_PATH, META_PATH, data)
}

/// The disk operations that replace the documents' snapshot, taken at `at`.
pub fn docs_ops(docs: &Docs, at: Lsn) -> Vec<DiskOp> {
    let snapshot = DocsSnapshot { at, docs: docs.iter().map(|(k, v)| (*k, *v)).collect() };
    let mut data = Vec::new();
    record::encode_value(KIND_DOCS, &snapshot, &mut data);
    replace_ops(DOCS_TMP_PATH, DOCS_PATH, data)
}

/// The disk operations that mark the node running.
pub fn running_ops() -> Vec<DiskOp> {
    vec![DiskOp::WriteAll { path: RUNNING_PATH.into(), data: vec![1] }, DiskOp::Fsync { path: RUNNING_PATH.into() }]
}

fn replace_ops(tmp: &str, path: &str, data: Vec<u8>) -> Vec<DiskOp> {
    vec![
        DiskOp::WriteAll { path: tmp.into(), data },
        DiskOp::Fsync { path: tmp.into() },
        DiskOp::Rename { from: tmp.into(), to: path.into() },
    ]
}

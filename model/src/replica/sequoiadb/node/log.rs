//! The sync log (reference section 1, 2; SequoiaDB dps/dpsLogWrapper.cpp, include/dpsLogDef.hpp):
//! records numbered by LSN = (version, byte offset), each naming its predecessor (`PreLSN`), kept
//! in a memory buffer and in `logfilenum` circular files of `logfilesz` bytes. The window is
//! `fileBegin <= memBegin <= end`: what the files still hold, what the memory buffer still holds,
//! and the last record. Writing into a file slot whose previous period is still held overwrites it:
//! the oldest records go (a rollover).
//!
//! Every record takes `RECORD_BYTES` of the stream, so a record's offset is its place in every log
//! that holds it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::super::fact::{CollectionId, SyncStatus};
use super::super::lsn::Lsn;
use super::super::types::{DocId, DocValue, WriteId, WriteOp};
use crate::core::digest::stable_hash;

/// Bytes a record takes in the log stream.
pub const RECORD_BYTES: u64 = 64;

/// One record of the sync log: a write to one document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogRecord {
    /// Its position.
    pub lsn: Lsn,
    /// Its predecessor's position (`Lsn::INVALID` for a group's first record).
    pub pre_lsn: Lsn,
    /// The collection written.
    pub collection: CollectionId,
    /// The document written.
    pub id: DocId,
    /// The write.
    pub op: WriteOp,
    /// The client write it carries.
    pub write: Option<WriteId>,
    /// The document before the write (what a rollback restores).
    pub before: Option<DocValue>,
}

impl LogRecord {
    /// The digest of the record's content (what CONSULT compares; the facts' `digest`).
    pub fn digest(&self) -> u64 {
        stable_hash(&(self.lsn, self.pre_lsn, self.collection, self.id, self.op, self.write))
    }

    /// The document's key.
    pub fn key(&self) -> (CollectionId, DocId) {
        (self.collection, self.id)
    }
}

/// Applies `op` to a document (replay and the primary's own write share it).
pub fn apply_op(doc: Option<DocValue>, op: WriteOp, lsn: Lsn) -> Option<DocValue> {
    match op {
        WriteOp::Insert { counter } => Some(DocValue { counter, written_at: lsn }),
        WriteOp::Increment { delta } => {
            let counter = doc.map_or(0, |d| d.counter) + delta;
            Some(DocValue { counter, written_at: lsn })
        }
        WriteOp::Delete => None,
    }
}

/// The LSN of the record after `end` for a primary of `version`.
pub fn next_lsn(end: Lsn, version: u32) -> Lsn {
    let offset = if end.is_valid() { end.offset + RECORD_BYTES } else { 0 };
    Lsn::new(version, offset)
}

/// Sizes of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogShape {
    /// `logfilesz`: bytes per file.
    pub file_bytes: u64,
    /// `logfilenum`: files.
    pub file_num: u32,
    /// `logbuffsize`: bytes of the newest records kept in memory.
    pub buff_bytes: u64,
}

/// What appending a record did to the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The file slot the record went to.
    pub slot: u32,
    /// The record began a new period of its slot (its file is written anew).
    pub new_file: bool,
    /// The oldest file was overwritten: the log now begins at this LSN.
    pub rolled_over_to: Option<Lsn>,
}

/// A node's sync log.
#[derive(Debug, Clone)]
pub struct SyncLog {
    shape: LogShape,
    /// The record just before the first held one (`Lsn::INVALID`: the log holds the group's first
    /// record, or nothing yet).
    base: Lsn,
    records: VecDeque<LogRecord>,
}

impl SyncLog {
    /// An empty log whose next record follows `base`.
    pub fn new(shape: LogShape, base: Lsn) -> Self {
        assert!(shape.file_bytes >= RECORD_BYTES && shape.file_num >= 2, "a log needs 2+ files of a record or more");
        Self { shape, base, records: VecDeque::new() }
    }

    /// The log's sizes.
    pub fn shape(&self) -> LogShape {
        self.shape
    }

    /// The last record's LSN (the base if empty).
    pub fn end(&self) -> Lsn {
        self.records.back().map_or(self.base, |r| r.lsn)
    }

    /// The record before the first held one.
    pub fn base(&self) -> Lsn {
        self.base
    }

    /// The oldest record held (`fileBegin`), or the base if none.
    pub fn file_begin(&self) -> Lsn {
        self.records.front().map_or(self.base, |r| r.lsn)
    }

    /// The record before the oldest one still in the memory buffer (the base if all are).
    pub fn mem_base(&self) -> Lsn {
        let end = self.end();
        if !end.is_valid() {
            return self.base;
        }
        let lowest = (end.offset + RECORD_BYTES).saturating_sub(self.shape.buff_bytes);
        match self.records.iter().position(|r| r.lsn.offset >= lowest) {
            Some(0) | None => self.base,
            Some(i) => self.records[i - 1].lsn,
        }
    }

    /// The records held, oldest first.
    pub fn records(&self) -> impl DoubleEndedIterator<Item = &LogRecord> {
        self.records.iter()
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record at exactly `lsn`, if held.
    pub fn get(&self, lsn: Lsn) -> Option<&LogRecord> {
        let i = self.index_of_offset(lsn.offset)?;
        let r = &self.records[i];
        (r.lsn == lsn).then_some(r)
    }

    /// The record held at `offset`, whatever its version.
    pub fn at_offset(&self, offset: u64) -> Option<&LogRecord> {
        self.index_of_offset(offset).map(|i| &self.records[i])
    }

    fn index_of_offset(&self, offset: u64) -> Option<usize> {
        let first = self.records.front()?.lsn.offset;
        if offset < first || !(offset - first).is_multiple_of(RECORD_BYTES) {
            return None;
        }
        let i = ((offset - first) / RECORD_BYTES) as usize;
        (i < self.records.len()).then_some(i)
    }

    /// Whether the log can serve the records after `lsn`: it is the base, or a record held.
    pub fn can_serve_after(&self, lsn: Lsn) -> bool {
        lsn == self.base || self.get(lsn).is_some()
    }

    /// The records after `lsn` (which must be servable), at most `max`.
    pub fn after(&self, lsn: Lsn, max: usize) -> Vec<LogRecord> {
        assert!(self.can_serve_after(lsn), "records after {lsn}, which is not in the log");
        let start = if lsn == self.base { 0 } else { self.index_of_offset(lsn.offset).expect("held") + 1 };
        self.records.iter().skip(start).take(max).cloned().collect()
    }

    /// Where a receiver whose log ends at `their_end` stands in this window (`clsSyncWindow`,
    /// cls/clsUtil.cpp): PEER if the records it lacks are all in memory, RC if only in files,
    /// NONE if it is ahead of this log or behind its oldest file.
    pub fn window_status(&self, their_end: Lsn) -> SyncStatus {
        let end = self.end();
        if their_end > end || !self.can_serve_after(their_end) {
            return SyncStatus::None;
        }
        if their_end >= self.mem_base() { SyncStatus::Peer } else { SyncStatus::RemoteCatchup }
    }

    /// The file slot of the record at `offset`.
    pub fn slot_of(&self, offset: u64) -> u32 {
        ((offset / self.shape.file_bytes) % u64::from(self.shape.file_num)) as u32
    }

    fn file_index(&self, offset: u64) -> u64 {
        offset / self.shape.file_bytes
    }

    /// Appends `record`, which must follow the end; overwrites the oldest file when the new record
    /// needs its slot.
    pub fn append(&mut self, record: LogRecord) -> Appended {
        assert_eq!(record.pre_lsn, self.end(), "record {} does not follow the log's end {}", record.lsn, self.end());
        assert_eq!(record.lsn, next_lsn(self.end(), record.lsn.version), "record {} is not at the next offset", record.lsn);
        assert!(record.lsn.version >= self.end().version, "record {} of an older version than the end {}", record.lsn, self.end());
        let file = self.file_index(record.lsn.offset);
        let new_file = !self.end().is_valid() || self.file_index(self.end().offset) != file || self.records.is_empty();
        let mut rolled_over = false;
        while self.records.front().is_some_and(|r| self.file_index(r.lsn.offset) + u64::from(self.shape.file_num) <= file) {
            self.base = self.records.pop_front().expect("checked").lsn;
            rolled_over = true;
        }
        let slot = self.slot_of(record.lsn.offset);
        self.records.push_back(record);
        let rolled_over_to = rolled_over.then(|| self.file_begin());
        self.assert_window();
        Appended { slot, new_file, rolled_over_to }
    }

    /// Undoes the records after `to` (a record held, or the base), returning them last first.
    pub fn truncate_after(&mut self, to: Lsn) -> Vec<LogRecord> {
        assert!(self.can_serve_after(to), "rollback to {to}, which is not in the log");
        let mut undone = Vec::new();
        while self.end() != to {
            undone.push(self.records.pop_back().expect("the end is after `to`"));
        }
        self.assert_window();
        undone
    }

    /// Empties the log and moves it to `end` (a full sync's end, `_logger->move`).
    pub fn move_to(&mut self, end: Lsn) {
        self.records.clear();
        self.base = end;
    }

    /// The records of file slot `slot`, oldest first (what its file holds).
    pub fn slot_records(&self, slot: u32) -> impl Iterator<Item = &LogRecord> {
        self.records.iter().filter(move |r| self.slot_of(r.lsn.offset) == slot)
    }

    fn assert_window(&self) {
        assert!(self.base <= self.file_begin() && self.file_begin() <= self.mem_base().max(self.file_begin()));
        assert!(self.mem_base() <= self.end());
        if let (Some(first), Some(last)) = (self.records.front(), self.records.back()) {
            let files = self.file_index(last.lsn.offset) - self.file_index(first.lsn.offset);
            assert!(files < u64::from(self.shape.file_num), "the log holds more than {} files", self.shape.file_num);
            assert_eq!(first.pre_lsn, self.base, "the first record does not follow the base");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> LogShape {
        LogShape { file_bytes: 2 * RECORD_BYTES, file_num: 2, buff_bytes: 2 * RECORD_BYTES }
    }

    fn record(log: &SyncLog, version: u32) -> LogRecord {
        LogRecord {
            lsn: next_lsn(log.end(), version),
            pre_lsn: log.end(),
            collection: 1,
            id: 1,
            op: WriteOp::Increment { delta: 1 },
            write: None,
            before: None,
        }
    }

    #[test]
    fn records_chain_and_the_window_rolls_over_a_file_at_a_time() {
        let mut log = SyncLog::new(shape(), Lsn::INVALID);
        let mut rolled = Vec::new();
        for _ in 0..5 {
            let r = record(&log, 1);
            rolled.push(log.append(r).rolled_over_to);
        }
        // Files of 2 records, 2 files: the 5th record (file 2) overwrites file 0.
        assert_eq!(rolled, vec![None, None, None, None, Some(Lsn::new(1, 2 * RECORD_BYTES))]);
        assert_eq!(log.base(), Lsn::new(1, RECORD_BYTES));
        assert_eq!(log.len(), 3);
        assert!(log.file_begin() <= log.mem_base() && log.mem_base() <= log.end());
    }

    #[test]
    fn window_status_is_peer_in_memory_rc_in_files_none_outside() {
        let mut log = SyncLog::new(LogShape { file_bytes: 8 * RECORD_BYTES, file_num: 2, buff_bytes: 2 * RECORD_BYTES }, Lsn::INVALID);
        for _ in 0..5 {
            let r = record(&log, 1);
            log.append(r);
        }
        assert_eq!(log.window_status(log.end()), SyncStatus::Peer);
        assert_eq!(log.window_status(Lsn::new(1, 3 * RECORD_BYTES)), SyncStatus::Peer);
        assert_eq!(log.window_status(Lsn::new(1, RECORD_BYTES)), SyncStatus::RemoteCatchup);
        assert_eq!(log.window_status(Lsn::INVALID), SyncStatus::RemoteCatchup);
        assert_eq!(log.window_status(Lsn::new(2, 0)), SyncStatus::None);
        assert_eq!(log.window_status(Lsn::new(1, 9 * RECORD_BYTES)), SyncStatus::None);
    }

    #[test]
    fn truncate_returns_the_tail_last_first() {
        let mut log = SyncLog::new(shape(), Lsn::INVALID);
        for _ in 0..3 {
            let r = record(&log, 1);
            log.append(r);
        }
        let undone = log.truncate_after(Lsn::new(1, 0));
        assert_eq!(undone.iter().map(|r| r.lsn.offset).collect::<Vec<_>>(), vec![2 * RECORD_BYTES, RECORD_BYTES]);
        assert_eq!(log.end(), Lsn::new(1, 0));
    }
}

//! The in-memory Raft log: a snapshot boundary followed by contiguous entries.

use serde::{Deserialize, Serialize};

/// What a log entry carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Payload<C> {
    /// Appended by a new leader so that it can commit entries of earlier terms (Raft §5.4.2, §8).
    Noop,
    /// A client command for the replicated state machine, shared: an entry is copied into every
    /// AppendEntries that carries it, and a command may hold many rows.
    Command(std::sync::Arc<C>),
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry<C> {
    /// Position in the log, from 1.
    pub index: u64,
    /// Term of the leader that created it.
    pub term: u64,
    /// The content.
    pub payload: Payload<C>,
}

/// The log after the last snapshot.
///
/// Invariant: `entries[k].index == snapshot_index + 1 + k`, and terms never decrease along the log.
#[derive(Debug, Clone)]
pub struct RaftLog<C> {
    snapshot_index: u64,
    snapshot_term: u64,
    entries: Vec<Entry<C>>,
}

impl<C> Default for RaftLog<C> {
    fn default() -> Self {
        Self { snapshot_index: 0, snapshot_term: 0, entries: Vec::new() }
    }
}

impl<C: Clone> RaftLog<C> {
    /// A log that starts after a snapshot ending at `(index, term)`.
    pub fn after_snapshot(index: u64, term: u64) -> Self {
        Self { snapshot_index: index, snapshot_term: term, entries: Vec::new() }
    }

    /// Index of the last entry covered by the snapshot (0 if none).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    /// Term of the snapshot's last entry.
    pub fn snapshot_term(&self) -> u64 {
        self.snapshot_term
    }

    /// Index of the last entry (the snapshot's if the log is empty).
    pub fn last_index(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    /// Term of the last entry.
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The term at `index`, if the log still knows it (at the snapshot boundary or after it).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.get(index).map(|e| e.term)
    }

    /// The entry at `index`, if held.
    pub fn get(&self, index: u64) -> Option<&Entry<C>> {
        if index <= self.snapshot_index {
            return None;
        }
        self.entries.get((index - self.snapshot_index - 1) as usize)
    }

    /// Up to `max` entries starting at `from` (which must be after the snapshot).
    pub fn slice_from(&self, from: u64, max: usize) -> &[Entry<C>] {
        assert!(from > self.snapshot_index, "slice_from({from}) inside the snapshot ({})", self.snapshot_index);
        let start = ((from - self.snapshot_index - 1) as usize).min(self.entries.len());
        let end = (start + max).min(self.entries.len());
        &self.entries[start..end]
    }

    /// Appends one entry right after the last.
    pub fn push(&mut self, entry: Entry<C>) {
        assert_eq!(entry.index, self.last_index() + 1, "log entries must be contiguous");
        assert!(entry.term >= self.last_term(), "terms never decrease along the log");
        self.entries.push(entry);
    }

    /// Removes every entry at `from` and after; returns how many were removed.
    pub fn truncate_from(&mut self, from: u64) -> usize {
        assert!(from > self.snapshot_index, "cannot truncate into the snapshot");
        let keep = (from - self.snapshot_index - 1) as usize;
        let removed = self.entries.len().saturating_sub(keep);
        self.entries.truncate(keep);
        removed
    }

    /// Drops the prefix up to `index` (inclusive), now covered by a snapshot ending at `(index, term)`.
    pub fn compact_to(&mut self, index: u64, term: u64) {
        assert!(index > self.snapshot_index);
        if index >= self.last_index() {
            self.entries.clear();
        } else {
            assert_eq!(self.term_at(index), Some(term), "compaction point must match the log");
            self.entries.drain(..(index - self.snapshot_index) as usize);
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
    }

    /// All entries after the snapshot.
    pub fn entries(&self) -> &[Entry<C>] {
        &self.entries
    }

    /// Index of the first entry with term `term`, scanning back from `from` (for reject hints).
    pub fn first_index_of_term(&self, term: u64, from: u64) -> u64 {
        let mut index = from;
        while index > self.snapshot_index + 1 && self.term_at(index - 1) == Some(term) {
            index -= 1;
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry<u32> {
        Entry { index, term, payload: Payload::Noop }
    }

    #[test]
    fn indices_terms_truncate_and_compact() {
        let mut log = RaftLog::default();
        for (i, t) in [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)] {
            log.push(entry(i, t));
        }
        assert_eq!((log.last_index(), log.last_term()), (5, 3));
        assert_eq!(log.term_at(0), Some(0));
        assert_eq!(log.first_index_of_term(2, 4), 3);
        assert_eq!(log.truncate_from(4), 2);
        assert_eq!(log.last_index(), 3);
        log.compact_to(2, 1);
        assert_eq!(log.term_at(2), Some(1));
        assert_eq!(log.get(2), None);
        assert_eq!(log.slice_from(3, 10).len(), 1);
        log.compact_to(9, 4);
        assert_eq!((log.last_index(), log.last_term()), (9, 4));
    }

    #[test]
    #[should_panic(expected = "contiguous")]
    fn a_gap_is_a_bug() {
        let mut log = RaftLog::default();
        log.push(entry(2, 1));
    }
}

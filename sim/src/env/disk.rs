//! The simulated disk of one node: it survives restarts and fails the way real ones do.
//!
//! madsim's fs makes every write durable at once and ignores fsync, so sim/ brings its own. Requests
//! of a node run one at a time in issue order; each takes effect when it completes. A completed write
//! sits in the page cache until an fsync of its file makes it durable. A crash keeps the durable
//! content plus a random prefix of the unsynced writes, and may tear the next one: only a prefix of
//! its 512-byte sectors reaches the media. Renames and removes are atomic and durable on completion.
//! Faults: bit flips in stored bytes, read errors on chosen files, a full disk, slow I/O.

use std::collections::BTreeMap;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use ccrsim_model::core::io::{DiskError, DiskOp, DiskView};

/// Granularity of torn writes.
pub const SECTOR_BYTES: usize = 512;

/// Latency of the device.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskProfile {
    /// Size of the device.
    pub capacity_mb: u64,
    /// Latency of a write, append, read, rename or remove: uniform in `[min, max]` microseconds.
    #[serde(deserialize_with = "crate::env::pair")]
    pub write_latency_us: [u64; 2],
    /// Latency of an fsync: uniform in `[min, max]` microseconds.
    #[serde(deserialize_with = "crate::env::pair")]
    pub fsync_latency_us: [u64; 2],
}

#[derive(Debug, Clone)]
enum Unsynced {
    Append(Vec<u8>),
    Replace(Vec<u8>),
}

#[derive(Debug, Clone, Default)]
struct SimFile {
    /// What the media holds.
    durable: Vec<u8>,
    /// What reads see (durable plus completed, unsynced writes).
    cache: Vec<u8>,
    /// Writes since the last fsync, oldest first.
    unsynced: Vec<Unsynced>,
}

/// What a crash did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashLoss {
    /// The file.
    pub path: String,
    /// Unsynced writes it had.
    pub unsynced: usize,
    /// How many of them survived whole.
    pub kept: usize,
    /// Bytes of the next one that survived (a torn write), if any.
    pub torn_bytes: Option<usize>,
}

/// A transient disk fault; several may overlap, each ending on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskFault {
    /// Reads of this file fail (EIO).
    ReadErrors(String),
    /// The device holds no more than this many bytes (ENOSPC beyond).
    Full { capacity_bytes: u64 },
    /// Every request takes this many times longer.
    Slow { factor: u64 },
}

/// A node's disk.
#[derive(Debug, Clone)]
pub struct SimDisk {
    files: BTreeMap<String, SimFile>,
    /// The bytes of every file's page cache together: kept as the files change, because summing
    /// them before every write was 1.5% of a run.
    cache_bytes: u64,
    profile: DiskProfile,
    /// Active transient faults, by the nemesis' id.
    faults: BTreeMap<u32, DiskFault>,
}

impl SimDisk {
    /// An empty disk.
    pub fn new(profile: DiskProfile) -> Self {
        Self { files: BTreeMap::new(), cache_bytes: 0, profile, faults: BTreeMap::new() }
    }

    fn used_bytes(&self) -> u64 {
        debug_assert_eq!(self.cache_bytes, self.files.values().map(|f| f.cache.len() as u64).sum::<u64>());
        self.cache_bytes
    }

    fn capacity_bytes(&self) -> u64 {
        let full = self.faults.values().filter_map(|f| match f {
            DiskFault::Full { capacity_bytes } => Some(*capacity_bytes),
            _ => None,
        });
        full.min().unwrap_or_else(|| {
            self.profile.capacity_mb.checked_mul(1024 * 1024).unwrap_or_else(|| panic!("harness: a disk capacity overflows u64 bytes"))
        })
    }

    fn slow_factor(&self) -> u64 {
        let slow = self.faults.values().filter_map(|f| match f {
            DiskFault::Slow { factor } => Some(*factor),
            _ => None,
        });
        slow.max().unwrap_or(1)
    }

    fn read_fails(&self, path: &str) -> bool {
        self.faults.values().any(|f| matches!(f, DiskFault::ReadErrors(p) if p == path))
    }

    /// How long the request takes, in nanoseconds.
    pub fn latency_nanos(&self, rng: &mut ChaCha8Rng, op: &DiskOp) -> u64 {
        let [low, high] = match op {
            DiskOp::Fsync { .. } => self.profile.fsync_latency_us,
            _ => self.profile.write_latency_us,
        };
        let us = if high > low { rng.random_range(low..=high) } else { low };
        // Checked: validated latencies (at most 1 s) times a slow fault's factor (at most 100)
        // stay far below u64::MAX nanoseconds; an overflow is ccrsim's bug, not the disk's.
        us.max(1)
            .checked_mul(1000)
            .and_then(|ns| ns.checked_mul(self.slow_factor()))
            .unwrap_or_else(|| panic!("harness: a disk latency of {us} us overflows simulated time"))
    }

    /// Carries out a request now (it completes now). `Ok(Some(bytes))` for a read.
    pub fn execute(&mut self, op: &DiskOp) -> Result<Option<Vec<u8>>, DiskError> {
        match op {
            DiskOp::Append { path, data } => {
                self.make_room(data.len() as u64)?;
                let file = self.files.entry(path.clone()).or_default();
                file.cache.extend_from_slice(data);
                self.cache_bytes += data.len() as u64;
                file.unsynced.push(Unsynced::Append(data.clone()));
                Ok(None)
            }
            DiskOp::WriteAll { path, data } => {
                let old = self.files.get(path).map_or(0, |f| f.cache.len() as u64);
                self.make_room((data.len() as u64).saturating_sub(old))?;
                let file = self.files.entry(path.clone()).or_default();
                file.cache = data.clone();
                self.cache_bytes = self.cache_bytes - old + data.len() as u64;
                file.unsynced.push(Unsynced::Replace(data.clone()));
                Ok(None)
            }
            DiskOp::Fsync { path } => {
                let file = self.files.get_mut(path).ok_or(DiskError::NotFound)?;
                if file.unsynced.iter().all(|w| matches!(w, Unsynced::Append(_))) {
                    // Only appends since the last sync: copy what they added, not the whole file.
                    for w in file.unsynced.drain(..) {
                        let Unsynced::Append(data) = w else { unreachable!("checked") };
                        file.durable.extend_from_slice(&data);
                    }
                } else {
                    file.durable = file.cache.clone();
                    file.unsynced.clear();
                }
                // The whole bytes compared on every fsync were a tenth of the disk's cost: the
                // lengths here, the bytes in debug builds.
                assert_eq!(file.durable.len(), file.cache.len(), "fsync left the durable bytes short of the cache");
                debug_assert_eq!(file.durable, file.cache);
                Ok(None)
            }
            DiskOp::Rename { from, to } => {
                let file = self.files.remove(from).ok_or(DiskError::NotFound)?;
                if let Some(replaced) = self.files.insert(to.clone(), file) {
                    self.cache_bytes -= replaced.cache.len() as u64;
                }
                Ok(None)
            }
            DiskOp::Remove { path } => {
                if let Some(removed) = self.files.remove(path) {
                    self.cache_bytes -= removed.cache.len() as u64;
                }
                Ok(None)
            }
            DiskOp::Read { path } => {
                if self.read_fails(path) {
                    return Err(DiskError::Io);
                }
                self.files.get(path).map(|f| Some(f.cache.clone())).ok_or(DiskError::NotFound)
            }
        }
    }

    fn make_room(&self, grow: u64) -> Result<(), DiskError> {
        if self.used_bytes() + grow > self.capacity_bytes() { Err(DiskError::NoSpace) } else { Ok(()) }
    }

    /// The process died: the page cache is gone. Each file keeps its durable bytes plus a random
    /// prefix of its unsynced writes, and the next write may be torn at a sector boundary.
    pub fn crash(&mut self, rng: &mut ChaCha8Rng) -> Vec<CrashLoss> {
        let mut losses = Vec::new();
        for (path, file) in &mut self.files {
            if file.unsynced.is_empty() {
                continue;
            }
            let unsynced = std::mem::take(&mut file.unsynced);
            let kept = rng.random_range(0..=unsynced.len());
            let mut content = std::mem::take(&mut file.durable);
            for write in &unsynced[..kept] {
                match write {
                    Unsynced::Append(data) => content.extend_from_slice(data.as_slice()),
                    Unsynced::Replace(data) => content = data.clone(),
                }
            }
            let mut torn_bytes = None;
            let has_data = |w: &Unsynced| match w {
                Unsynced::Append(d) | Unsynced::Replace(d) => !d.is_empty(),
            };
            // An empty write touches no sector: nothing to tear.
            if let Some(next) = unsynced.get(kept).filter(|w| has_data(w))
                && rng.random_bool(0.5)
            {
                // A prefix of the sectors the write touched reaches the media.
                let (base, data) = match next {
                    Unsynced::Append(data) => (content.len(), data),
                    Unsynced::Replace(data) => (0, data),
                };
                let first_boundary = (base / SECTOR_BYTES + 1) * SECTOR_BYTES;
                let sectors = (base + data.len()).div_ceil(SECTOR_BYTES) - base / SECTOR_BYTES;
                let reached = rng.random_range(0..sectors);
                let end = (first_boundary + (reached.saturating_sub(1)) * SECTOR_BYTES).min(base + data.len());
                let end = if reached == 0 { base } else { end };
                if matches!(next, Unsynced::Replace(_)) {
                    content.clear();
                }
                content.extend_from_slice(&data[..end - base]);
                torn_bytes = Some(end - base);
            }
            losses.push(CrashLoss { path: path.clone(), unsynced: unsynced.len(), kept, torn_bytes });
            file.cache = content.clone();
            file.durable = content;
        }
        self.cache_bytes = self.files.values().map(|f| f.cache.len() as u64).sum();
        losses
    }

    /// Flips one random bit of `path`'s stored bytes (latent corruption). Returns the byte offset.
    pub fn flip_bit(&mut self, rng: &mut ChaCha8Rng, path: &str) -> Option<usize> {
        let file = self.files.get_mut(path)?;
        if file.durable.is_empty() {
            return None;
        }
        let offset = rng.random_range(0..file.durable.len());
        let mask = 1u8 << rng.random_range(0..8);
        file.durable[offset] ^= mask;
        if let Some(b) = file.cache.get_mut(offset) {
            *b ^= mask;
        }
        Some(offset)
    }

    /// Paths with stored bytes, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// Reads of `path` fail (EIO) until fault `id` ends.
    pub fn fail_reads(&mut self, id: u32, path: &str) {
        self.faults.insert(id, DiskFault::ReadErrors(path.to_string()));
    }

    /// The disk is full (nothing more fits) until fault `id` ends.
    pub fn fill(&mut self, id: u32) {
        let capacity_bytes = self.used_bytes();
        self.faults.insert(id, DiskFault::Full { capacity_bytes });
    }

    /// Every request takes `factor` times longer until fault `id` ends.
    pub fn slow_down(&mut self, id: u32, factor: u64) {
        self.faults.insert(id, DiskFault::Slow { factor: factor.max(1) });
    }

    /// Ends fault `id` (the others go on).
    pub fn end_fault(&mut self, id: u32) -> Option<DiskFault> {
        self.faults.remove(&id)
    }

    /// Ends every transient fault (corruption stays: it is in the bytes).
    pub fn heal(&mut self) {
        self.faults.clear();
    }
}

impl DiskView for SimDisk {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, DiskError> {
        if self.read_fails(path) {
            return Err(DiskError::Io);
        }
        Ok(self.files.get(path).map(|f| f.cache.clone()))
    }

    fn list(&self, prefix: &str) -> Vec<String> {
        self.files.keys().filter(|p| p.starts_with(prefix)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccrsim_model::core::record::{self, ScanEnd};
    use rand::SeedableRng;

    fn disk() -> SimDisk {
        SimDisk::new(DiskProfile { capacity_mb: 1, write_latency_us: [10, 20], fsync_latency_us: [100, 200] })
    }

    fn append(d: &mut SimDisk, path: &str, data: &[u8]) -> Result<Option<Vec<u8>>, DiskError> {
        d.execute(&DiskOp::Append { path: path.into(), data: data.to_vec() })
    }

    fn fsync(d: &mut SimDisk, path: &str) {
        d.execute(&DiskOp::Fsync { path: path.into() }).unwrap();
    }

    #[test]
    fn the_bytes_in_use_follow_every_change_of_the_files() {
        let summed = |d: &SimDisk| d.files.values().map(|f| f.cache.len() as u64).sum::<u64>();
        for seed in 0..50 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut d = disk();
            append(&mut d, "a", b"0123456789").unwrap();
            d.execute(&DiskOp::WriteAll { path: "b".into(), data: vec![1; 700] }).unwrap();
            fsync(&mut d, "b");
            d.execute(&DiskOp::WriteAll { path: "b".into(), data: vec![2; 30] }).unwrap();
            append(&mut d, "c", &[3; 900]).unwrap();
            d.execute(&DiskOp::Rename { from: "c".into(), to: "a".into() }).unwrap();
            assert_eq!(d.used_bytes(), summed(&d), "seed {seed}: after a rename over a file");
            d.crash(&mut rng);
            assert_eq!(d.used_bytes(), summed(&d), "seed {seed}: after a crash");
            d.execute(&DiskOp::Remove { path: "b".into() }).unwrap();
            assert_eq!(d.cache_bytes, summed(&d), "seed {seed}: after a remove");
        }
    }

    #[test]
    fn an_unsynced_write_can_vanish_in_a_crash_and_a_synced_one_never_does() {
        let mut vanished = 0;
        for seed in 0..200 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut d = disk();
            append(&mut d, "f", b"synced").unwrap();
            fsync(&mut d, "f");
            append(&mut d, "f", b"-unsynced").unwrap();
            assert_eq!(d.read("f").unwrap().unwrap(), b"synced-unsynced", "reads see the page cache");
            d.crash(&mut rng);
            let after = d.read("f").unwrap().unwrap();
            assert!(after.starts_with(b"synced"), "seed {seed}: synced bytes survive, got {after:?}");
            vanished += usize::from(after == b"synced");
        }
        assert!(vanished > 50, "the unsynced write was lost in {vanished} of 200 crashes");
    }

    #[test]
    fn a_torn_tail_is_cut_at_a_sector_boundary_and_caught_by_the_record_checksum() {
        let mut torn_seen = 0;
        for seed in 0..300 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut d = disk();
            let mut first = Vec::new();
            record::encode_into(1, &[7u8; 700], &mut first);
            append(&mut d, "log", &first).unwrap();
            fsync(&mut d, "log");
            let mut second = Vec::new();
            record::encode_into(2, &[9u8; 3000], &mut second);
            append(&mut d, "log", &second).unwrap();
            let losses = d.crash(&mut rng);
            let after = d.read("log").unwrap().unwrap();
            if let Some(torn) = losses[0].torn_bytes {
                assert!((first.len() + torn) % SECTOR_BYTES == 0 || torn == 0, "seed {seed}: cut at {}", first.len() + torn);
                let (records, end) = record::scan(&after);
                assert_eq!(records.len(), 1, "seed {seed}: the torn record is never returned");
                if torn > 0 {
                    assert_eq!(end, ScanEnd::TornTail { offset: first.len() }, "seed {seed}");
                    torn_seen += 1;
                }
            }
        }
        assert!(torn_seen > 20, "torn writes seen: {torn_seen}");
    }

    #[test]
    fn a_flipped_bit_is_caught_by_the_checksum_and_never_returned_as_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..100 {
            let mut d = disk();
            let mut bytes = Vec::new();
            record::encode_into(1, b"payload that matters", &mut bytes);
            append(&mut d, "f", &bytes).unwrap();
            fsync(&mut d, "f");
            d.flip_bit(&mut rng, "f").unwrap();
            let content = d.read("f").unwrap().unwrap();
            let (records, end) = record::scan(&content);
            assert!(records.is_empty());
            assert!(matches!(end, ScanEnd::Corrupt { .. }), "{end:?}");
        }
    }

    #[test]
    fn read_errors_full_disk_and_slowness_happen_and_heal() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut d = disk();
        append(&mut d, "f", b"x").unwrap();
        d.fail_reads(1, "f");
        assert_eq!(d.execute(&DiskOp::Read { path: "f".into() }), Err(DiskError::Io));
        assert_eq!(d.read("f"), Err(DiskError::Io));
        d.fill(2);
        assert_eq!(append(&mut d, "f", b"y"), Err(DiskError::NoSpace));
        let fast = d.latency_nanos(&mut rng, &DiskOp::Fsync { path: "f".into() });
        d.slow_down(3, 100);
        let slow = d.latency_nanos(&mut rng, &DiskOp::Fsync { path: "f".into() });
        assert!(slow >= 100 * 100_000 && fast <= 200_000, "fast {fast} slow {slow}");
        // Overlapping faults end one by one: ending the slowness leaves the disk full.
        d.end_fault(3);
        assert_eq!(append(&mut d, "f", b"y"), Err(DiskError::NoSpace));
        assert!(d.latency_nanos(&mut rng, &DiskOp::Fsync { path: "f".into() }) <= 200_000);
        d.heal();
        assert_eq!(d.execute(&DiskOp::Read { path: "f".into() }), Ok(Some(b"x".to_vec())));
        assert_eq!(append(&mut d, "f", b"y"), Ok(None));
    }

    #[test]
    fn a_crash_after_empty_writes_keeps_or_drops_them_whole() {
        for seed in 0..50 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut d = disk();
            d.execute(&DiskOp::WriteAll { path: "f".into(), data: b"old".to_vec() }).unwrap();
            fsync(&mut d, "f");
            d.execute(&DiskOp::WriteAll { path: "f".into(), data: Vec::new() }).unwrap();
            append(&mut d, "f", b"").unwrap();
            d.crash(&mut rng);
            let after = d.read("f").unwrap().unwrap();
            assert!(after == b"old" || after.is_empty(), "seed {seed}: {after:?}");
        }
    }

    #[test]
    fn rename_and_remove_are_atomic_and_survive_a_crash() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut d = disk();
        d.execute(&DiskOp::WriteAll { path: "a.tmp".into(), data: b"new".to_vec() }).unwrap();
        fsync(&mut d, "a.tmp");
        d.execute(&DiskOp::Rename { from: "a.tmp".into(), to: "a".into() }).unwrap();
        d.execute(&DiskOp::WriteAll { path: "gone".into(), data: b"x".to_vec() }).unwrap();
        d.execute(&DiskOp::Remove { path: "gone".into() }).unwrap();
        d.crash(&mut rng);
        assert_eq!(d.read("a").unwrap().unwrap(), b"new");
        assert_eq!(d.read("a.tmp").unwrap(), None);
        assert_eq!(d.read("gone").unwrap(), None);
        assert_eq!(d.execute(&DiskOp::Rename { from: "nope".into(), to: "x".into() }), Err(DiskError::NotFound));
    }
}

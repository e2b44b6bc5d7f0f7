//! Stable 64-bit hashing for digests and trace hashes.
//!
//! `std`'s `DefaultHasher` is seeded per process, so a hash of the same value differs between two runs.
//! Everything ccrsim folds into a trace hash or a state digest goes through [`StableHasher`] instead:
//! the same bytes give the same hash in every run, build profile and thread.

use std::hash::{Hash, Hasher};

/// An Fx-style word hasher with a murmur3 finaliser. Not for adversarial input: it is fast and stable.
#[derive(Debug, Clone)]
pub struct StableHasher {
    state: u64,
}

const SEED: u64 = 0xcc51_d0e5_a5a5_0001;
const MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

impl Default for StableHasher {
    fn default() -> Self {
        Self { state: SEED }
    }
}

impl StableHasher {
    /// Folds one 64-bit word.
    #[inline]
    pub fn add_word(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

/// Splits bytes into the words [`StableHasher`] folds, in order.
#[inline]
fn words_of_bytes(bytes: &[u8], mut add_word: impl FnMut(u64)) {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        add_word(u64::from_le_bytes(chunk.try_into().expect("chunks_exact(8)")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        // The length goes into the last word so that "ab" and "ab\0" differ.
        add_word(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
    }
}

/// The word each integer write folds. [`StableHasher`] and [`WordRecorder`] both override exactly
/// these writes (the others reach them through `Hasher`'s defaults), so they see the same words.
macro_rules! integer_writes_as_words {
    ($add:ident) => {
        #[inline]
        fn write(&mut self, bytes: &[u8]) {
            words_of_bytes(bytes, |w| self.$add(w));
        }

        #[inline]
        fn write_u8(&mut self, i: u8) {
            self.$add(u64::from(i));
        }

        #[inline]
        fn write_u32(&mut self, i: u32) {
            self.$add(u64::from(i));
        }

        #[inline]
        fn write_u64(&mut self, i: u64) {
            self.$add(i);
        }

        #[inline]
        fn write_usize(&mut self, i: usize) {
            self.$add(i as u64);
        }
    };
}

impl Hasher for StableHasher {
    integer_writes_as_words!(add_word);

    fn finish(&self) -> u64 {
        // murmur3 fmix64: spreads the last words over every bit.
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        h
    }
}

/// Records the words a value's `Hash` feeds a [`StableHasher`], to be fed again later with
/// `write_u64` each: the same state as hashing the value itself, without walking it again.
#[derive(Debug, Default)]
pub struct WordRecorder {
    words: Vec<u64>,
}

impl WordRecorder {
    /// The words `value` feeds a [`StableHasher`], in order.
    pub fn words_of<T: Hash + ?Sized>(value: &T) -> Box<[u64]> {
        let mut recorder = Self::default();
        value.hash(&mut recorder);
        recorder.words.into_boxed_slice()
    }

    fn record(&mut self, word: u64) {
        self.words.push(word);
    }
}

impl Hasher for WordRecorder {
    integer_writes_as_words!(record);

    /// The stable hash of what was recorded.
    fn finish(&self) -> u64 {
        let mut hasher = StableHasher::default();
        self.words.iter().for_each(|&w| hasher.add_word(w));
        hasher.finish()
    }
}

/// The stable hash of one value.
pub fn stable_hash<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = StableHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Folds `next` into a running chain digest: equal chains mean equal sequences, in the same order.
#[inline]
pub fn chain(previous: u64, next: u64) -> u64 {
    let mut hasher = StableHasher { state: previous };
    hasher.add_word(next);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_same_hash_and_order_matters() {
        assert_eq!(stable_hash(&("a", 1u64)), stable_hash(&("a", 1u64)));
        assert_ne!(stable_hash(&("a", 1u64)), stable_hash(&("a", 2u64)));
        assert_ne!(stable_hash(b"ab".as_slice()), stable_hash(b"ab\0".as_slice()));
        assert_ne!(chain(chain(0, 1), 2), chain(chain(0, 2), 1));
    }

    #[test]
    fn replayed_words_hash_as_the_value_does() {
        let value = (7u8, 300u32, u64::MAX, "a string of more than eight bytes", -5i64, [1u16, 2], (), Some("ab"));
        let mut replayed = StableHasher::default();
        for &w in WordRecorder::words_of(&value).iter() {
            replayed.write_u64(w);
        }
        assert_eq!(replayed.finish(), stable_hash(&value));
        assert_ne!(WordRecorder::words_of(&1u64), WordRecorder::words_of(&2u64));
    }

    #[test]
    fn pinned_value_does_not_drift() {
        // If this changes, every recorded trace hash changes: do it on purpose only.
        assert_eq!(stable_hash(&42u64), 0xb411_a601_5ee0_1983);
    }
}

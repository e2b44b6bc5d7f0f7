//! Checksummed records: the only way the model puts bytes on a disk.
//!
//! Layout of one record (little endian):
//! ```text
//! magic u16 | kind u8 | reserved u8 | payload_len u32 | payload_crc u32 | header_crc u32 | payload
//! ```
//! `header_crc` covers the first 12 bytes, `payload_crc` the payload. Reading a file of records tells
//! two failures apart, because the simulated disk tears a write only as a prefix of its sectors:
//! - a *torn tail*: the file ends inside a record (an unsynced write that the crash cut short). It was
//!   never fsynced, so never acknowledged: dropping it is safe.
//! - *corruption*: a whole record whose header or payload fails its checksum (a flipped bit). Such data
//!   may have been acknowledged; the reader must not use it and must not silently drop it either.

use serde::{Serialize, de::DeserializeOwned};

/// Bytes before the payload.
pub const HEADER_BYTES: usize = 16;
const MAGIC: u16 = 0xcc51;

/// Appends one record holding `payload` to `out`.
pub fn encode_into(kind: u8, payload: &[u8], out: &mut Vec<u8>) {
    let start = begin_record(out);
    out.extend_from_slice(payload);
    finish_record(kind, start, out);
}

/// Serialises `value` with postcard and frames it as one record. The value is written in place
/// after a header left blank and filled in once the payload's length and checksum are known: a
/// snapshot is the whole state machine, and a copy per framing step was a tenth of a run's time.
pub fn encode_value<T: Serialize>(kind: u8, value: &T, out: &mut Vec<u8>) {
    let start = begin_record(out);
    serialize_into(value, out);
    finish_record(kind, start, out);
}

/// Serialises `value` with postcard at the end of `out`: the same bytes as `postcard::to_stdvec`.
pub fn serialize_into<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    postcard::serialize_with_flavor(value, AppendTo(out)).expect("model values always serialise");
}

/// Reserves a record's header at the end of `out`; returns where the record starts.
fn begin_record(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_BYTES]);
    start
}

/// Fills in the header of the record that starts at `start` and runs to the end of `out`.
fn finish_record(kind: u8, start: usize, out: &mut [u8]) {
    let (header, payload) = out[start..].split_at_mut(HEADER_BYTES);
    let payload_len = u32::try_from(payload.len()).expect("a record payload is under 4 GiB");
    header[0..2].copy_from_slice(&MAGIC.to_le_bytes());
    header[2] = kind;
    header[3] = 0;
    header[4..8].copy_from_slice(&payload_len.to_le_bytes());
    header[8..12].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    let header_crc = crc32fast::hash(&header[..12]);
    header[12..16].copy_from_slice(&header_crc.to_le_bytes());
}

/// A postcard output that appends to a borrowed buffer.
struct AppendTo<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for AppendTo<'_> {
    type Output = ();

    // Both inlined into every field's serialisation, as postcard's own flavors are: called, they
    // made encoding a snapshot half as slow again.
    #[inline(always)]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    #[inline(always)]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        // postcard writes every integer as a varint through this call, most of them one byte long:
        // a call to `memcpy` for each cost more than the byte. (Longer short copies done by hand
        // made every serialising call site larger and cost more than they saved: measured.)
        match data {
            [byte] => self.0.push(*byte),
            _ => self.0.extend_from_slice(data),
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Decodes a record payload produced by [`encode_value`].
pub fn decode_value<T: DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    postcard::from_bytes(payload).map_err(|e| format!("undecodable payload: {e}"))
}

/// One intact record found by [`scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Byte offset of the record's header in the file.
    pub offset: usize,
    /// The kind byte given to [`encode_into`].
    pub kind: u8,
    /// The payload, checksum verified.
    pub payload: &'a [u8],
}

/// How a scan of a record file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEnd {
    /// Every byte belonged to an intact record.
    Clean,
    /// The file ends inside a record starting at `offset`: a torn, never-synced write.
    TornTail { offset: usize },
    /// A complete record at `offset` fails its checksum: latent corruption.
    Corrupt { offset: usize, reason: &'static str },
}

/// Reads records from the start of `bytes` up to the first torn or corrupt one.
pub fn scan(bytes: &[u8]) -> (Vec<Record<'_>>, ScanEnd) {
    let mut records = Vec::new();
    let mut offset = 0;
    loop {
        let rest = &bytes[offset..];
        if rest.is_empty() {
            return (records, ScanEnd::Clean);
        }
        if rest.len() < HEADER_BYTES {
            return (records, ScanEnd::TornTail { offset });
        }
        let header = &rest[..HEADER_BYTES];
        let header_crc = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
        if crc32fast::hash(&header[..12]) != header_crc {
            return (records, ScanEnd::Corrupt { offset, reason: "header checksum mismatch" });
        }
        if u16::from_le_bytes([header[0], header[1]]) != MAGIC {
            return (records, ScanEnd::Corrupt { offset, reason: "bad magic" });
        }
        let payload_len = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) as usize;
        if rest.len() < HEADER_BYTES + payload_len {
            return (records, ScanEnd::TornTail { offset });
        }
        let payload = &rest[HEADER_BYTES..HEADER_BYTES + payload_len];
        let payload_crc = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        if crc32fast::hash(payload) != payload_crc {
            return (records, ScanEnd::Corrupt { offset, reason: "payload checksum mismatch" });
        }
        records.push(Record { offset, kind: header[2], payload });
        offset += HEADER_BYTES + payload_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            encode_into(i as u8, p, &mut out);
        }
        out
    }

    #[test]
    fn a_value_is_framed_as_its_serialised_bytes() {
        let value = (7u64, "seven".to_string(), vec![1u32, 300, 70_000]);
        let mut framed = b"earlier bytes".to_vec();
        let mut expected = framed.clone();
        encode_value(5, &value, &mut framed);
        encode_into(5, &postcard::to_stdvec(&value).unwrap(), &mut expected);
        assert_eq!(framed, expected);
    }

    #[test]
    fn serialize_into_appends_the_bytes_postcard_gives() {
        // Varints of every length from 1 to 10 bytes, names of 0 to 40 bytes whose bytes all differ
        // (short copies overlap: a byte written at the wrong place shows), a long byte string.
        let names: Vec<String> = (0..=40).map(|n| (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect()).collect();
        let varints: Vec<u64> = (0..64).map(|bit| (1u64 << bit) | 0x55).collect();
        let value = (u64::MAX, 0u8, 300u32, names, varints, vec![7u8; 100], Some(-5i64));
        let mut out = b"before".to_vec();
        serialize_into(&value, &mut out);
        let mut expected = b"before".to_vec();
        expected.extend_from_slice(&postcard::to_stdvec(&value).unwrap());
        assert_eq!(out, expected);
    }

    #[test]
    fn clean_file_reads_back_every_record() {
        let bytes = file_of(&[b"one", b"", b"three"]);
        let (records, end) = scan(&bytes);
        assert_eq!(end, ScanEnd::Clean);
        let payloads: Vec<&[u8]> = records.iter().map(|r| r.payload).collect();
        assert_eq!(payloads, vec![b"one".as_slice(), b"", b"three"]);
        assert_eq!(records[2].kind, 2);
    }

    #[test]
    fn every_cut_of_the_last_record_is_a_torn_tail() {
        let bytes = file_of(&[b"first record", b"second record, longer"]);
        let second = scan(&bytes).0[1].offset;
        for cut in second + 1..bytes.len() {
            let (records, end) = scan(&bytes[..cut]);
            assert_eq!(records.len(), 1, "cut at {cut}");
            assert_eq!(end, ScanEnd::TornTail { offset: second }, "cut at {cut}");
        }
    }

    #[test]
    fn every_single_bit_flip_is_detected_never_returned() {
        let bytes = file_of(&[b"alpha", b"beta gamma delta"]);
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let (records, end) = scan(&flipped);
            assert!(matches!(end, ScanEnd::Corrupt { .. }), "bit {bit}: {end:?}");
            for r in &records {
                assert!(r.payload == b"alpha", "bit {bit} returned altered data {:?}", r.payload);
            }
        }
    }
}

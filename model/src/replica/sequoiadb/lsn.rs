//! Log sequence numbers of the sync log.
//!
//! SequoiaDB's `DPS_LSN` is `{ offset: u64, version: u32 }`, compared by version first, then by
//! offset (`include/dpsLogDef.hpp`). The version is the epoch: a node bumps it as it becomes
//! primary, so every record a primary writes carries its version. The offset is the record's byte
//! position in the group's log stream: it keeps growing across versions (a new primary continues
//! at the end of its own log), so a record's offset is its place in every log that holds it.

use serde::{Deserialize, Serialize};

/// The position of one record of the sync log.
///
/// Invariant: valid iff `version > 0` (version 0 is SequoiaDB's invalid LSN).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Lsn {
    /// The epoch of the primary that wrote the record (field order gives the comparison).
    pub version: u32,
    /// The record's byte position in the group's log stream.
    pub offset: u64,
}

impl Lsn {
    /// No record (the `PreLSN` of a group's first record, the end of an empty log).
    pub const INVALID: Lsn = Lsn { version: 0, offset: 0 };

    /// An LSN.
    pub const fn new(version: u32, offset: u64) -> Self {
        Lsn { version, offset }
    }

    /// Whether this names a record.
    pub const fn is_valid(self) -> bool {
        self.version > 0
    }
}

impl std::fmt::Display for Lsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.version, self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_orders_before_offset() {
        assert!(Lsn::new(2, 10) > Lsn::new(1, 500));
        assert!(Lsn::new(1, 11) > Lsn::new(1, 10));
        assert!(!Lsn::INVALID.is_valid());
        assert!(Lsn::new(1, 0).is_valid());
    }
}

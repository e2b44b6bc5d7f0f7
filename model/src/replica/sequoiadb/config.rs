//! Settings of a SequoiaDB data node and of the workload client, by SequoiaDB's option names
//! (units last): what the `[sequoiadb]` scenario section gives.

use super::bugs::SeqBugs;
use super::types::PreferredInstance;
use crate::core::io::{Millis, NodeId};

/// Settings of a data node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqNodeConfig {
    /// The controllers (the catalog group) the node asks for its group's membership.
    pub controllers: Vec<NodeId>,
    /// `logfilesz`: bytes per sync-log file (small in scenarios, so the log rolls over).
    pub log_file_size_bytes: u64,
    /// `logfilenum`: sync-log files (2+).
    pub log_file_num: u32,
    /// `logbuffsize`: bytes of the newest records kept in the memory buffer (the PEER window).
    pub log_buff_size_bytes: u64,
    /// `sharingbreak`: a member is alive while its last beat is at most this old (default 7000).
    pub sharing_break_ms: Millis,
    /// The beat interval (CLS_SHARING_BETA_INTERVAL, 2000).
    pub heartbeat_ms: Millis,
    /// `waitSyncTimeout` in ms: how long a write waits for its ReplSize confirmations (0 -> 10 ms).
    pub wait_sync_timeout_ms: Millis,
    /// `consultrollbacklogon`: records undone by a CONSULT rollback are saved.
    pub consult_rollback_log_on: bool,
    /// Planted bugs.
    pub bugs: SeqBugs,
}

impl SeqNodeConfig {
    /// SequoiaDB's defaults, with a small log (scenarios shrink it further).
    pub fn with_controllers(controllers: Vec<NodeId>) -> Self {
        Self {
            controllers,
            log_file_size_bytes: 64 * 1024,
            log_file_num: 4,
            log_buff_size_bytes: 16 * 1024,
            sharing_break_ms: 7_000,
            heartbeat_ms: 2_000,
            wait_sync_timeout_ms: 5_000,
            consult_rollback_log_on: true,
            bugs: SeqBugs::default(),
        }
    }

    /// Why these settings cannot run, if they cannot.
    pub fn invalid(&self) -> Option<String> {
        if self.controllers.is_empty() {
            return Some("no controller to ask the catalog".into());
        }
        if self.log_file_num < 2 {
            return Some(format!("logfilenum {} (2 or more)", self.log_file_num));
        }
        if self.log_file_size_bytes < super::node::log::RECORD_BYTES {
            return Some(format!("logfilesz {} bytes holds no record", self.log_file_size_bytes));
        }
        if self.sharing_break_ms <= self.heartbeat_ms {
            return Some(format!("sharingbreak {} ms not above the beat {} ms", self.sharing_break_ms, self.heartbeat_ms));
        }
        None
    }
}

/// The workload's write and read mix, as weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqMix {
    /// Inserts of a new `_id`.
    pub insert: u32,
    /// Increments of an existing document.
    pub increment: u32,
    /// Deletes.
    pub delete: u32,
    /// Reads.
    pub read: u32,
}

impl Default for SeqMix {
    fn default() -> Self {
        Self { insert: 3, increment: 5, delete: 1, read: 4 }
    }
}

/// Settings of a workload client (coordinator sessions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqClientConfig {
    /// The controllers it reads the catalog from.
    pub controllers: Vec<NodeId>,
    /// Sessions, each with one operation in flight.
    pub sessions: u32,
    /// Mean time between two operations of a session.
    pub issue_interval_ms: Millis,
    /// An operation without answer after this long ends indeterminate (writes) or unknown (reads).
    pub op_timeout_ms: Millis,
    /// The mix.
    pub mix: SeqMix,
    /// `_id`s per collection the workload writes (1..=this).
    pub docs_per_collection: u64,
    /// `PreferredInstance`.
    pub preferred_instance: PreferredInstance,
    /// `PreferredPeriod` in ms: how long a session keeps reading from the node it last used; 0:
    /// never (always expired), negative: forever.
    pub preferred_period_ms: i64,
    /// Re-read the catalog this often.
    pub catalog_refresh_ms: Millis,
    /// Planted bugs (the session's part).
    pub bugs: SeqBugs,
}

impl SeqClientConfig {
    /// A client of these controllers with the defaults.
    pub fn with_controllers(controllers: Vec<NodeId>) -> Self {
        Self {
            controllers,
            sessions: 2,
            issue_interval_ms: 200,
            op_timeout_ms: 10_000,
            mix: SeqMix::default(),
            docs_per_collection: 20,
            preferred_instance: PreferredInstance::Secondary,
            preferred_period_ms: 60_000,
            catalog_refresh_ms: 1_000,
            bugs: SeqBugs::default(),
        }
    }

    /// Why these settings cannot run, if they cannot.
    pub fn invalid(&self) -> Option<String> {
        if self.controllers.is_empty() || self.sessions == 0 || self.docs_per_collection == 0 {
            return Some("a client needs controllers, sessions and documents".into());
        }
        let SeqMix { insert, increment, delete, read } = self.mix;
        if insert + increment + delete + read == 0 {
            return Some("the mix has no positive weight".into());
        }
        if self.op_timeout_ms == 0 {
            return Some("op_timeout_ms is 0".into());
        }
        None
    }
}

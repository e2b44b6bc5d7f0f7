//! What a run did, in terms every design reports: the replica protocol's operations and
//! transactions, and the pipeline's writes shipped to each target. The runner puts them in seed
//! reports and totals; each design fills them from its own checkers' ledgers.

use std::collections::BTreeMap;

/// Outcomes of one operation type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpCounts {
    /// Committed (acknowledged).
    pub ok: u64,
    /// Refused or aborted.
    pub failed: u64,
    /// No answer in time.
    pub unknown: u64,
}

/// What a replica protocol did in a run, compactly: for reports and snapshots. (Serialised as
/// `dfs` in JSON reports.)
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplicaSummary {
    /// Outcomes per operation type (DolphinDB operationType names).
    pub operations: BTreeMap<String, OpCounts>,
    /// Transactions decided commit.
    pub committed_transactions: u64,
    /// Transactions decided rollback.
    pub rolled_back_transactions: u64,
    /// Failed operations by error class (`Invalid`, `Conflict`, `Unavailable`, `Aborted`,
    /// `Rejected`): why the workload's operations did not commit.
    pub failures: BTreeMap<String, u64>,
    /// Digest of the state the committed history leads to (catalog and rows), as 16 hex digits.
    pub state_digest: String,
}

/// What a pipeline did in a run, for reports. (Serialised as `replication` in JSON reports.)
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PipelineSummary {
    /// Tasks the master enqueued.
    pub enqueued: u64,
    /// The master truncated its queue below this task id.
    pub truncated_below: u64,
    /// Each slave, by name.
    pub slaves: BTreeMap<String, TargetSummary>,
}

/// One slave's share of a replication summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TargetSummary {
    /// Tasks pulled.
    pub pulled: u64,
    /// Tasks FINISHED by running (committed on the slave).
    pub applied: u64,
    /// Tasks FINISHED by `skipClusterReplicationTask`.
    pub skipped: u64,
    /// Tasks FAILED at the end, by reason (`Missing TaskData`, ...).
    pub failed: BTreeMap<String, u64>,
    /// Tasks pulled and neither finished nor failed at the end.
    pub unfinished: u64,
    /// The replication state at the end (`ENABLED`, `STOPPED`, ...; a slave starts ENABLED).
    pub state: String,
}

/// The fate of a run's writes on every copy (`write-fate`), for reports. (Serialised as `fates`.)
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FateSummary {
    /// Writes judged: acknowledged to their client, or of an outcome their client cannot know.
    pub writes: u64,
    /// Per copy (a replica's node, a target cluster), per fate (`applied`, `pending`, `skipped`,
    /// `lost: CAUSE`, `unexplained`, `indeterminate`): how many writes.
    pub copies: BTreeMap<String, BTreeMap<String, u64>>,
    /// One write of each copy and fate, described (`"COPY FATE"` to text).
    pub examples: BTreeMap<String, String>,
}

impl FateSummary {
    /// Adds `other`'s counts to these (examples kept from the first that has one).
    pub fn add(&mut self, other: &FateSummary) {
        self.writes += other.writes;
        for (copy, fates) in &other.copies {
            let mine = self.copies.entry(copy.clone()).or_default();
            for (fate, n) in fates {
                *mine.entry(fate.clone()).or_default() += n;
            }
        }
        for (key, text) in &other.examples {
            self.examples.entry(key.clone()).or_insert_with(|| text.clone());
        }
    }

    /// Write-copies per fate, over every copy.
    pub fn by_fate(&self) -> BTreeMap<&str, u64> {
        let mut total = BTreeMap::new();
        for (fate, n) in self.copies.values().flatten() {
            *total.entry(fate.as_str()).or_default() += n;
        }
        total
    }
}

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
    /// Acknowledged writes and their losses per write concern, where the design lets the client
    /// choose one (SequoiaDB's ReplSize: `1`, `2`, `0`, `-1`); empty otherwise.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub losses_by_write_concern: BTreeMap<String, ConcernLosses>,
}

/// Acknowledged writes of one write concern and what became of them on the final history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConcernLosses {
    /// Writes acknowledged to their clients.
    pub acknowledged: u64,
    /// Of these, not on their group's final history (the design's RPO, or a violation).
    pub lost: u64,
    /// Of the lost, those a majority had confirmed (lost only where the design documents it).
    pub lost_majority_confirmed: u64,
    /// Not judged (no one final primary, or a history that does not reach back to them).
    pub unjudged: u64,
}

impl ConcernLosses {
    /// Adds `other`.
    pub fn add(&mut self, other: &ConcernLosses) {
        self.acknowledged += other.acknowledged;
        self.lost += other.lost;
        self.lost_majority_confirmed += other.lost_majority_confirmed;
        self.unjudged += other.unjudged;
    }

    /// Lost per 1,000 acknowledged.
    pub fn lost_per_1000(&self) -> f64 {
        if self.acknowledged == 0 { 0.0 } else { self.lost as f64 * 1000.0 / self.acknowledged as f64 }
    }
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

/// One failover of a group (a controller group's Raft leader, a replica group's primary), measured
/// from the loss of its leader. (Serialised in each seed's `failovers`.)
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failover {
    /// The group (`master controllers`, `group 1`).
    pub group: String,
    /// The kinds of fault in effect when the leader was lost (none: a leader stepped down on its
    /// own, or a management call moved it).
    pub faults: Vec<crate::scenario::FaultKind>,
    /// When the leader was lost, in simulated seconds.
    pub lost_at_s: f64,
    /// RTO to a new leader: seconds from the loss until another leader won (`None`: none by the
    /// end of the run).
    pub to_leader_s: Option<f64>,
    /// RTO to service: seconds from the loss until the new leader served again (a controller
    /// group's: it committed an entry of its term; a replica group's: its first write confirmed).
    pub to_caught_up_s: Option<f64>,
    /// RPO in writes: writes acknowledged to clients before the loss and lost in it.
    pub lost_writes: u64,
    /// RPO in seconds: from the first to the last acknowledgement of the writes lost.
    pub lost_span_s: f64,
}

/// A distribution of seconds: median, 99th percentile (nearest rank), maximum, and how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Seconds {
    /// How many values.
    pub count: u64,
    /// The median.
    pub median: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The largest.
    pub max: f64,
}

impl Seconds {
    /// The distribution of `values`.
    pub fn of(mut values: Vec<f64>) -> Seconds {
        if values.is_empty() {
            return Seconds::default();
        }
        values.sort_by(f64::total_cmp);
        let rank = |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Seconds { count: values.len() as u64, median: rank(0.5), p99: rank(0.99), max: values[values.len() - 1] }
    }
}

/// RTO and RPO of the failovers of one fault class over a sweep.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RecoveryStats {
    /// Failovers.
    pub failovers: u64,
    /// Failovers without a new leader by the end of their run.
    pub without_new_leader: u64,
    /// Seconds from the loss of a leader to a new one.
    pub to_leader_s: Seconds,
    /// Seconds from the loss of a leader until the new one served again.
    pub to_caught_up_s: Seconds,
    /// Acknowledged writes lost, per failover.
    pub lost_writes: Seconds,
    /// Acknowledged writes lost in all.
    pub lost_writes_total: u64,
    /// Seconds of acknowledged writing lost, per failover.
    pub lost_span_s: Seconds,
}

impl RecoveryStats {
    /// The statistics of `failovers` per fault class: a failover counts under each kind of fault
    /// in effect when its leader was lost (`name` names a kind), or under `none`. Classes overlap
    /// where kinds did; each failover's own kinds are in the seed reports.
    pub fn by_fault_class<'a>(
        failovers: impl Iterator<Item = &'a Failover>,
        name: impl Fn(&crate::scenario::FaultKind) -> String,
    ) -> BTreeMap<String, RecoveryStats> {
        let mut by_class: BTreeMap<String, Vec<&Failover>> = BTreeMap::new();
        for f in failovers {
            if f.faults.is_empty() {
                by_class.entry("none".to_string()).or_default().push(f);
            }
            for kind in &f.faults {
                by_class.entry(name(kind)).or_default().push(f);
            }
        }
        by_class
            .into_iter()
            .map(|(name, fs)| {
                let stats = RecoveryStats {
                    failovers: fs.len() as u64,
                    without_new_leader: fs.iter().filter(|f| f.to_leader_s.is_none()).count() as u64,
                    to_leader_s: Seconds::of(fs.iter().filter_map(|f| f.to_leader_s).collect()),
                    to_caught_up_s: Seconds::of(fs.iter().filter_map(|f| f.to_caught_up_s).collect()),
                    lost_writes: Seconds::of(fs.iter().map(|f| f.lost_writes as f64).collect()),
                    lost_writes_total: fs.iter().map(|f| f.lost_writes).sum(),
                    lost_span_s: Seconds::of(fs.iter().map(|f| f.lost_span_s).collect()),
                };
                (name, stats)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let s = Seconds::of((1..=200).map(f64::from).collect());
        assert_eq!((s.count, s.median, s.p99, s.max), (200, 100.0, 198.0, 200.0));
        assert_eq!(Seconds::of(vec![]), Seconds::default());
        assert_eq!(Seconds::of(vec![3.0]).p99, 3.0);
    }
}

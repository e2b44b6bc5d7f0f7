//! What every asynchronous pipeline does, in words they share: the source logs each committed write
//! as an entry with a dense id; each target fetches entries by offset, applies each one as a
//! transaction of its own, and finishes it (or an operator skips it); the source truncates its log
//! below what every target finished. A design's adapter turns its own facts into these events
//! (DolphinDB: a task is an entry, a database the unit it belongs to; Doris CCR: a binlog
//! commit sequence is an entry, a table or database the unit), and the pipeline-neutral checkers
//! (`no-gaps`, `exactly-once`, `gc-safety`, `eventual-consistency`, `replication-liveness`)
//! judge them.

use ccrsim_model::dfs::SharedOperation;

/// Where an entry stands on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryState {
    /// Fetched, not yet being applied.
    Waiting,
    /// Being applied.
    Running,
    /// Its last attempt failed; it waits for a retry or an operator.
    Failed,
    /// Applied, or skipped by an operator. Final.
    Finished,
}

impl EntryState {
    /// The state's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            EntryState::Waiting => "WAITING",
            EntryState::Running => "RUNNING",
            EntryState::Failed => "FAILED",
            EntryState::Finished => "FINISHED",
        }
    }
}

/// One thing a pipeline did, as a controller of the source or of a target reports it. Several
/// controllers of a cluster report the same event (each applies its cluster's replicated log);
/// the ledger takes the first report as what happened.
#[derive(Debug, Clone, Copy)]
pub enum PipelineEvent<'a> {
    /// Source: entry `id` entered the log.
    Enqueued {
        /// Dense, from 1, in log order.
        id: u64,
        /// The source transaction whose write it is.
        tx: u64,
        /// The replication unit it belongs to (DolphinDB: the database).
        unit: &'a str,
        /// The entry as logged, hashed: a fetched copy must carry the same hash.
        hash: u64,
        /// The write's effect.
        op: &'a SharedOperation,
    },
    /// Source: the log was truncated below `below`.
    Truncated {
        /// Every entry below this is gone.
        below: u64,
    },
    /// Target: a batch of entries was fetched.
    Fetched {
        /// The first id asked for.
        from: u64,
        /// The entries taken, with the hash of each as fetched.
        entries: &'a [(u64, u64)],
        /// The target's offset after the batch: the last id it took.
        offset: u64,
    },
    /// Target: the reporting controller's state was replaced (a restart, an installed snapshot):
    /// it holds the entries up to `offset` and fetches on from there.
    Resumed {
        /// The last entry it holds.
        offset: u64,
    },
    /// Target: entry `id` is being applied.
    Started {
        /// The entry.
        id: u64,
    },
    /// Target: an attempt to apply entry `id` failed.
    Failed {
        /// The entry.
        id: u64,
        /// Why, as the target records it.
        reason: &'a str,
    },
    /// Target: these failed entries wait to be applied again.
    Retried {
        /// The entries.
        ids: &'a [u64],
    },
    /// Target: transaction `tx` applying entry `id` committed.
    Applied {
        /// The entry.
        id: u64,
        /// The target's transaction.
        tx: u64,
    },
    /// Target: entry `id` is finished: applied, or `skipped` by an operator.
    Finished {
        /// The entry.
        id: u64,
        /// Skipped by hand rather than applied.
        skipped: bool,
    },
    /// Source or target: the cluster's replication state changed (its name, for reports).
    State {
        /// The state's name (DolphinDB: ENABLED, DISABLED, STOPPED).
        name: &'static str,
    },
}

//! Planted bugs of the SequoiaDB model: each a realistic mistake a checker must catch. All are off
//! by default; a role's assertions stand back while any is on (`SeqBugs::any`).

use serde::{Deserialize, Serialize};

/// Bugs that can be switched on to prove the SequoiaDB checkers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeqBugs {
    /// A node that wins an election keeps its log's version instead of bumping it
    /// (clsMgr.cpp calls `incVersion()` before the role change; this forgets it): a new primary
    /// writes records under the version of the primary before it, so two primaries hold one
    /// version and two different records can carry one LSN.
    pub skip_version_bump: bool,
    /// A voter accepts a candidate whose LSN is lower than its own (`_launch(lsn, ...)` compares
    /// the other way round): a node missing acknowledged writes can win, and the rollback by
    /// CONSULT then undoes writes the clients were told were confirmed.
    pub voter_ignores_lsn: bool,
    /// The primary answers a write Ok once one confirmation fewer than its ReplSize asked has
    /// arrived (an off-by-one on "the primary included").
    pub ack_before_repl_size: bool,
    /// A full-sync source forwards every new record to the target, not only those whose position
    /// the copy's cursor has passed (clsFSSrcSession.cpp `notifyLSN` without the cursor test): a
    /// write is delivered both by the copy and by the log.
    pub forward_uncopied_writes: bool,
    /// A node in full sync serves reads from its half-copied data (the DB status check of the
    /// read path is skipped).
    pub serve_reads_in_full_sync: bool,
    /// A CONSULT source (handleConsultReq) takes the requester's consult point as matching when
    /// it holds a record at the same offset, without comparing the hash (or the version): it
    /// answers that point as the return point, the requester keeps its divergent tail (CONSULT
    /// ends `Matched`), and its log is no longer a prefix of the source's.
    pub consult_skips_hash_check: bool,
    /// A client session does not record the primary it wrote through as its last node
    /// (`addLastNode` skipped for primary-required requests): a read within PreferredPeriod goes to
    /// the node the session last read from, which may lag behind the session's own write.
    pub sticky_write_not_recorded: bool,
    /// A client session reports a write answered WAIT_SYNC_FAILED or TIMEOUT as failed, as if
    /// every error meant nothing was written: the write was applied on the primary and may well
    /// survive (`_clsShdSession::_waitSync` returns the error after the data is in).
    pub unconfirmed_reported_failed: bool,
    /// A primary whose write, already logged, cannot be confirmed because too few nodes are alive
    /// answers NODE_NOT_ENOUGH (the refusal `replSizeCheck` gives before the data) instead of
    /// WAIT_SYNC_FAILED (the answer after it): the client is told nothing happened.
    pub node_not_enough_after_write: bool,
    /// A CONSULT rollback truncates the log but leaves the documents as they are (the replayer's
    /// undo of each record skipped): the node's data keeps writes its log no longer holds.
    pub rollback_keeps_documents: bool,
    /// A secondary logs a replayed increment as the document's after-image (an insert of the new
    /// counter) instead of the record its source sent: its documents stay right, but its log holds
    /// a record at that LSN that no other node has, so a CONSULT compares hashes that never match
    /// and a node that syncs from it replays an image where the group logged a delta.
    pub replay_logs_after_image: bool,
}

impl SeqBugs {
    /// Whether any bug is on (the model's assertions stand back then).
    pub fn any(&self) -> bool {
        let SeqBugs {
            skip_version_bump,
            voter_ignores_lsn,
            ack_before_repl_size,
            forward_uncopied_writes,
            serve_reads_in_full_sync,
            consult_skips_hash_check,
            sticky_write_not_recorded,
            unconfirmed_reported_failed,
            node_not_enough_after_write,
            rollback_keeps_documents,
            replay_logs_after_image,
        } = *self;
        skip_version_bump
            || voter_ignores_lsn
            || ack_before_repl_size
            || forward_uncopied_writes
            || serve_reads_in_full_sync
            || consult_skips_hash_check
            || sticky_write_not_recorded
            || unconfirmed_reported_failed
            || node_not_enough_after_write
            || rollback_keeps_documents
            || replay_logs_after_image
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bug_by_default_and_each_flag_counts() {
        assert!(!SeqBugs::default().any());
        assert!(SeqBugs { voter_ignores_lsn: true, ..SeqBugs::default() }.any());
        assert!(SeqBugs { sticky_write_not_recorded: true, ..SeqBugs::default() }.any());
    }
}

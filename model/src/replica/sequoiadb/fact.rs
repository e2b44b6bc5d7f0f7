//! What the SequoiaDB roles tell the checkers.
//!
//! The vocabulary is the protocol's own (seed 002; ../shared/reference/sequoiadb-replica-group.md):
//! a checker judges each fact against what it has learned from earlier facts, with its own code.
//! `at` is always the node that did it; `Millis` are the reporting node's clock.

use super::lsn::Lsn;
use super::types::{DbStatus, DocId, DocValue, GroupId, Member, PreferredInstance, ReadId, ReplSize, SeqError, WriteId, WriteOp};
use crate::core::io::{Millis, NodeId};

/// A collection, by the catalog's number.
pub type CollectionId = u32;

/// How a record came into a node's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordSource {
    /// The primary wrote it for a client's write.
    Primary,
    /// Replayed from a sync source's SYNC_RES.
    Replayed { source: NodeId },
    /// Forwarded by a full-sync source while the copy ran, or pulled at its end (TRANS_REQ).
    FullSync { source: NodeId },
}

/// Why a primary stopped being one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepDownCause {
    /// It saw fewer than a majority of its group alive (clsVSPrimary.cpp handleTimeout).
    NoMajority,
    /// A management call forced it.
    Forced,
    /// It learned of a primary of a higher version.
    HigherVersion,
    /// It was removed from its group.
    Removed,
}

/// How a CONSULT ended on the requesting secondary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsultOutcome {
    /// Its log matched the source's at the return point: nothing to undo.
    Matched,
    /// It rolled back its tail down to the return point (see `RolledBack`).
    RolledBack,
    /// No common point was found, or the rollback failed: it goes to full sync.
    FullSync,
}

/// How a sync source relates to the node choosing it (`clsSyncWindow`, cls/clsUtil.cpp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncStatus {
    /// The chooser's next LSN is in the source's memory buffer.
    Peer,
    /// It is only in the source's log files (remote catch-up).
    RemoteCatchup,
    /// Neither: the primary, chosen as the last resort.
    None,
}

/// How a client's write ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WriteOutcome {
    /// Applied by `node`, the group's primary, at `lsn`, and confirmed by `confirmed_by` (the
    /// primary included) as its ReplSize asked.
    Ok { group: GroupId, node: NodeId, lsn: Lsn, confirmed_by: Vec<NodeId> },
    /// Refused before anything was written: it did not happen.
    Failed(SeqError),
    /// It may or may not have happened: an error that leaves it applied but unconfirmed
    /// (`WaitSyncFailed`, `Timeout`), or no answer at all (`None`). Never counted as not-happened.
    Indeterminate(Option<SeqError>),
}

/// How a client's read ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReadOutcome {
    /// `node` answered with the document (or its absence).
    Value { node: NodeId, value: Option<DocValue> },
    /// Refused (no node to read from, the node is in full sync ...).
    Failed(SeqError),
    /// No answer in time.
    Unknown,
}

/// A SequoiaDB fact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SeqFact {
    // --- the catalog (applied by the controllers' Raft group)
    /// A collection was created in `group` with write concern `repl_size`.
    CollectionCreated { collection: CollectionId, group: GroupId, repl_size: ReplSize },
    /// A node joined a group (at deployment, or by a management call).
    MemberAdded { at: Member, weight: u8 },
    /// A node left its group by a management call.
    MemberRemoved { at: Member },
    /// A node's election weight changed.
    WeightChanged { at: Member, weight: u8 },

    // --- a node's life and its log
    /// A node booted from its disk: the log it found (`file_begin` ..= `end`), how many records of a
    /// torn or corrupt tail it dropped, and whether its last shutdown was clean (a node whose
    /// startup is not OK full-syncs).
    /// In the model: one torn or corrupt record counted per log file whose scan stopped early,
    /// plus every intact record that no longer chains back from the newest one.
    NodeBooted { at: Member, file_begin: Lsn, end: Lsn, torn_records: u32, startup_ok: bool },
    /// A node's database status changed.
    DbStatusChanged { at: Member, status: DbStatus },
    /// A record entered a node's log. `digest` is of the record's content; `write` is the client
    /// write it carries, if any.
    RecordWritten { at: Member, lsn: Lsn, pre_lsn: Lsn, digest: u64, write: Option<WriteId>, source: RecordSource },
    /// The oldest log file was overwritten: the node's log now begins at `file_begin`.
    LogRolledOver { at: Member, file_begin: Lsn },
    /// A node undid the records after `to` (its return point) record by record, last first:
    /// `records` as `(lsn, digest, write)`; `kept` when the rolled-back records were saved
    /// (`consultrollbacklogon`).
    RolledBack { at: Member, to: Lsn, records: Vec<(Lsn, u64, Option<WriteId>)>, kept: bool },

    // --- election
    /// A node became primary of `version` (bumped at promotion) with its log ending at `end`,
    /// elected by `votes` (itself included) of a group it counted `group_size` strong.
    BecamePrimary { at: Member, version: u32, end: Lsn, votes: Vec<NodeId>, group_size: u32 },
    /// A primary stepped down.
    SteppedDown { at: Member, version: u32, why: StepDownCause },
    /// A voter accepted `candidate`'s round-two ballot: it promised `version`, its own log ending
    /// at `end`, the candidate's at `candidate_end` (what the voter rule compares).
    VoteAccepted { at: Member, candidate: NodeId, version: u32, end: Lsn, candidate_end: Lsn },

    // --- incremental sync and consult
    /// A secondary chose a sync source.
    SyncSourceChosen { at: Member, source: NodeId, status: SyncStatus },
    /// A CONSULT with `source` ended with return point `return_to`.
    ConsultEnded { at: Member, source: NodeId, return_to: Lsn, outcome: ConsultOutcome },

    // --- full sync
    /// A full sync of `at` from `source` began; the source's log ended at `source_end` then (the
    /// target's log is moved there at the end). The target's old data is discarded.
    /// In the model the target's log moves, at the end, to the source's end when the copy
    /// completed (`FullSyncEnded::end`, at or after `source_end`): every record up to it reached
    /// the target either by the copy or forwarded.
    FullSyncBegan { at: Member, source: NodeId, source_end: Lsn },
    /// The copy delivered a document (`None`: the copy found it deleted).
    FullSyncDocCopied { at: Member, source: NodeId, collection: CollectionId, id: DocId, value: Option<DocValue> },
    /// The source forwarded the record at `lsn` while the copy ran (its position was already
    /// copied), or sent it at the end.
    /// In the model every forwarded record is applied to the target's data (and not written to
    /// its log); none is sent at the end.
    FullSyncRecordForwarded { at: Member, source: NodeId, lsn: Lsn },
    /// The full sync ended: `completed` (the node serves again, its log ending at `end`) or
    /// abandoned (the source went away; it starts over).
    FullSyncEnded { at: Member, source: NodeId, end: Lsn, completed: bool },

    // --- writes and reads as the nodes did them
    /// The primary answered a write: confirmed (ReplSize met) by `confirmed_by` (itself included)
    /// when `error` is `None`.
    /// A write refused before it was written (`NodeNotEnough`, `DuplicateKey`, `NotFound`) has
    /// `lsn` `Lsn::INVALID` and `confirmed_by` the primary alone.
    WriteAnswered {
        at: Member,
        write: WriteId,
        lsn: Lsn,
        repl_size: ReplSize,
        required: u8,
        confirmed_by: Vec<NodeId>,
        error: Option<SeqError>,
    },
    /// A node served a read of (`collection`, `id`) in status `status`.
    ReadServed { at: Member, read: ReadId, collection: CollectionId, id: DocId, value: Option<DocValue>, status: DbStatus },

    // --- what clients saw
    /// A client sent a write.
    WriteInvoked { write: WriteId, collection: CollectionId, id: DocId, op: WriteOp, repl_size: ReplSize, at: Millis },
    /// A client saw how its write ended.
    WriteEnded { write: WriteId, outcome: WriteOutcome, at: Millis },
    /// A client sent a read, preferring `preferred`; `sticky` is the node its session reads from
    /// while `PreferredPeriod` lasts (the primary it last wrote through), if any.
    ReadInvoked { read: ReadId, collection: CollectionId, id: DocId, preferred: PreferredInstance, sticky: Option<NodeId>, at: Millis },
    /// A client saw how its read ended.
    ReadEnded { read: ReadId, outcome: ReadOutcome, at: Millis },
}

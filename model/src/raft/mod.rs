//! Raft (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm", 2014), as an
//! I/O-free state machine in the style of raft-rs and openraft's engine.
//!
//! What it does: leader election with randomized timeouts, log replication and commit, persistence of
//! term, vote and log with fsync before any acknowledgement that depends on them, recovery from a torn
//! WAL tail, snapshots with log compaction, and `InstallSnapshot` for followers that fell behind.
//! Corruption found in durable state stops the member (fail-stop): a member that lost what it had
//! acknowledged must not vote or count as a replica again (see docs/fault-model.md).
//!
//! Durability rule: a message whose truth depends on durable state (a vote grant, a successful
//! append, a snapshot acknowledgement, a candidate's vote requests) is held back until every disk
//! write issued before it is synced; a leader counts itself as a replica only up to its synced index.

mod fact;
mod log;
mod message;
pub mod wal;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;

use serde::{Serialize, de::DeserializeOwned};

pub use self::fact::{EntryId, RaftFact};
pub use self::log::{Entry, Payload, RaftLog};
pub use self::message::{RaftMessage, Snapshot, SnapshotMeta};
use self::wal::HardState;
pub use self::wal::RecoveryError;
use crate::core::digest::{chain, stable_hash};
use crate::core::io::{DiskCompletion, DiskOp, DiskView, IoToken, Millis, NodeId, Output, TimerKey};
use crate::core::rng::SplitMix64;

/// Asserts a pre- or postcondition of a Raft transition, in every build. Like [`Raft::invariant`],
/// it stands back while a planted bug is on: the checkers must catch the consequences.
macro_rules! raft_assert {
    ($raft:expr, $holds:expr, $($what:tt)+) => {
        if !$raft.config.bugs.any() && !$holds {
            panic!("raft invariant broken on node {} (term {}): {}", $raft.config.id, $raft.hard.term, format_args!($($what)+));
        }
    };
}

/// The replicated state machine that a Raft group drives.
pub trait StateMachine: Sized {
    /// What clients propose.
    type Command: Clone + Debug + Hash + Serialize + DeserializeOwned;
    /// What applying a command returns.
    type Output: Clone + Debug;
    /// Applies one committed command (deterministically: every member gets the same output).
    fn apply(&mut self, index: u64, command: &Self::Command) -> Self::Output;
    /// Serialises the whole state for a snapshot.
    fn encode(&self) -> Vec<u8>;
    /// Rebuilds the state from [`StateMachine::encode`] output.
    fn decode(bytes: &[u8]) -> Result<Self, String>;
}

/// Bugs that can be switched on to prove that the checkers catch them. All off in a real run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftBugs {
    /// Grant a vote to any up-to-date candidate even after voting for another one in the same term.
    pub vote_twice: bool,
    /// Commit entries of earlier terms by counting replicas: the Figure 8 bug of the Raft paper.
    pub commit_old_term_by_counting: bool,
    /// Send acknowledgements (vote grants, append successes) before the state they vouch for is
    /// fsynced, and let a leader count its unsynced entries.
    pub ack_before_fsync: bool,
    /// Apply entries to the state machine as soon as they are in the log, committed or not.
    pub apply_uncommitted: bool,
    /// A new leader drops the entries after its commit index ("they were never committed anyway").
    pub leader_drops_uncommitted_tail: bool,
    /// A follower appends entries without checking that its log matches at `prev_log_index`.
    pub skip_prev_log_check: bool,
    /// A candidate whose election failed never arms its election timer again.
    pub election_timer_not_rearmed: bool,
    /// A member that learns a higher term from a message does not report its new term (a bug in
    /// what the model tells the checkers, not in Raft).
    pub silent_term_change: bool,
    /// Recovery keeps a WAL whose entries the snapshot made obsolete (or that do not join it)
    /// instead of rewriting it, so later appends leave a gap that the next recovery refuses.
    pub keep_stale_wal_after_snapshot: bool,
    /// Once the member's term passed the first (after the first election), its election timer runs
    /// ten times its setting: a group that loses its leader stays without one ten times longer.
    pub election_timer_x10: bool,
}

impl RaftBugs {
    /// True when any bug is on (the model's own invariant assertions then stand back: the checkers
    /// must catch the consequences).
    pub fn any(&self) -> bool {
        // Every flag, the ones added later included: a flag left out would keep the role's own
        // assertions strict while its bug is on.
        *self != Self::default()
    }
}

/// Settings of one member.
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// This member.
    pub id: NodeId,
    /// Every member of the group, this one included.
    pub members: Vec<NodeId>,
    /// The election timeout is drawn uniformly from `[min, max)` each time it is armed.
    pub election_timeout_ms: (Millis, Millis),
    /// How often a leader sends `AppendEntries` to each follower even with nothing new.
    pub heartbeat_ms: Millis,
    /// At most this many entries per `AppendEntries`.
    pub max_entries_per_append: usize,
    /// Take a snapshot once this many applied entries are not covered by one.
    pub snapshot_threshold_entries: u64,
    /// Planted bugs (tests only).
    pub bugs: RaftBugs,
}

/// Timer keys used by Raft; a role that embeds Raft must not reuse them.
pub const TIMER_ELECTION: TimerKey = 1;
/// See [`TIMER_ELECTION`].
pub const TIMER_HEARTBEAT: TimerKey = 2;
/// Disk tokens of Raft carry this tag in their top byte, so an embedding role can route completions.
pub const TOKEN_TAG: IoToken = 0x5a << 56;

/// A command applied to the state machine, for the embedding role to answer its client.
#[derive(Debug, Clone)]
pub struct Applied<O> {
    /// Log index.
    pub index: u64,
    /// Entry term.
    pub term: u64,
    /// The state machine's output (`None` for a leader's no-op).
    pub output: Option<O>,
}

/// Which role a member plays now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleState {
    /// Follows `leader` if known.
    Follower { leader: Option<NodeId> },
    /// Asks for votes; `votes` holds the members that granted (itself included).
    Candidate { votes: BTreeSet<NodeId> },
    /// Leads its term.
    Leader,
}

#[derive(Debug, Clone)]
struct Progress {
    /// Next index to send.
    ///
    /// Invariant: `matched < next <= log.last_index() + 1` (of the leader's log).
    next: u64,
    /// Highest index known to be durably replicated on the follower.
    ///
    /// Invariant: never decreases while the leader leads; `matched <= log.last_index()`.
    matched: u64,
    /// After a success the leader streams new entries; before it, it probes one message at a time.
    replicating: bool,
}

/// What becomes true once a synced disk request completes.
#[derive(Debug)]
enum Effect {
    /// The log is durable up to this index (of the log as it was when the sync was issued; lowered
    /// if entries are truncated meanwhile).
    WalSynced { last_index: u64 },
    /// A candidate's term and vote are durable: it may count its own vote.
    CandidacyDurable { term: u64 },
    /// The member's own snapshot is in place: compact the log and rewrite the WAL.
    OwnSnapshotSaved { snapshot: Snapshot },
}

#[derive(Debug)]
struct Pending<C> {
    token: IoToken,
    effects: Vec<Effect>,
    /// Messages that may leave once this request (and so every earlier one) completed.
    release: Vec<(NodeId, RaftMessage<C>)>,
}

/// One member of a Raft group.
#[derive(Debug)]
pub struct Raft<S: StateMachine> {
    config: RaftConfig,
    /// Term and vote.
    ///
    /// Invariant: the term never decreases; within one term the vote, once cast, never changes
    /// (Raft §5.2); a candidate or a leader voted for itself in its term.
    hard: HardState,
    log: RaftLog<S::Command>,
    role: RoleState,
    /// A leader's view of each follower.
    ///
    /// Invariant: a leader tracks every peer and never itself; any other role tracks nobody.
    progress: BTreeMap<NodeId, Progress>,
    /// Highest index known committed.
    ///
    /// Invariant: never decreases; `log.snapshot_index() <= last_applied <= commit_index <=
    /// log.last_index()`, and no entry at or below it is ever truncated (Raft §5.3, §5.4).
    commit_index: u64,
    /// Highest index applied to the state machine.
    ///
    /// Invariant: never decreases; equals `commit_index` at the end of every step.
    last_applied: u64,
    sm: S,
    /// Chain digest of every entry applied so far (see [`crate::core::digest::chain`]).
    applied_digest: u64,
    /// Every entry of the log up to here is durable on this member's disk.
    synced_index: u64,
    /// The latest durable snapshot, kept to send to lagging followers.
    ///
    /// Invariant: it ends where the log starts (`meta.index == log.snapshot_index()`, 0 without one).
    snapshot: Option<Snapshot>,
    snapshot_in_progress: bool,
    /// WAL bytes produced by this step, written and synced when the step ends.
    wal_buffer: Vec<u8>,
    /// Records in the WAL file (issued), i.e. the position of the next one.
    wal_records: u64,
    /// Messages produced by this step that must wait for durability.
    held: Vec<(NodeId, RaftMessage<S::Command>)>,
    /// Held messages that vouch for WAL records still in the buffer (group commit): they leave
    /// with the sync of the next flush.
    held_for_next_flush: Vec<(NodeId, RaftMessage<S::Command>)>,
    pending: VecDeque<Pending<S::Command>>,
    next_token: IoToken,
    applied_out: Vec<Applied<S::Output>>,
    /// Disk requests that recovery needs done before anything else (a torn WAL tail cut off, stale
    /// temporary files removed); issued by [`Raft::start`].
    startup_ops: Vec<DiskOp>,
    rng: SplitMix64,
}

impl<S: StateMachine> Raft<S> {
    /// A member that starts with an empty disk.
    pub fn new(config: RaftConfig, sm: S, entropy: u64) -> Self {
        Self::assemble(config, HardState::default(), RaftLog::default(), None, sm, entropy)
    }

    /// Rebuilds a member from its disk. `initial` is the state machine for an empty snapshot.
    pub fn recover(config: RaftConfig, initial: S, disk: &dyn DiskView, entropy: u64) -> Result<Self, RecoveryError> {
        let found = wal::recover::<S::Command>(disk)?;
        let config_bugs = config.bugs;
        let sm = match &found.snapshot {
            Some(s) => S::decode(&s.state).map_err(|reason| RecoveryError::Corrupt { path: wal::SNAPSHOT, offset: 0, reason })?,
            None => initial,
        };
        let mut raft = Self::assemble(config, found.hard, found.log, found.snapshot, sm, entropy);
        raft.wal_records = found.wal_records;
        for path in found.stale_tmp {
            crate::mark!("raft.recovery_found_stale_tmp_file");
            raft.startup_ops.push(DiskOp::Remove { path });
        }
        let stale_only = found.rewrite_wal.is_some() && !found.torn_tail;
        if found.torn_tail {
            crate::mark!("raft.recovery_cut_torn_wal_tail");
        }
        if stale_only && config_bugs.keep_stale_wal_after_snapshot {
            raft.wal_records = found.records_in_file;
        }
        if let Some(data) = found.rewrite_wal.filter(|_| !(stale_only && config_bugs.keep_stale_wal_after_snapshot)) {
            // Never in place: a crash before the fsync could tear the only copy of the synced state.
            raft.startup_ops.push(DiskOp::WriteAll { path: wal::WAL_TMP.into(), data });
            raft.startup_ops.push(DiskOp::Fsync { path: wal::WAL_TMP.into() });
            raft.startup_ops.push(DiskOp::Rename { from: wal::WAL_TMP.into(), to: wal::WAL.into() });
        }
        Ok(raft)
    }

    fn assemble(config: RaftConfig, hard: HardState, log: RaftLog<S::Command>, snapshot: Option<Snapshot>, sm: S, entropy: u64) -> Self {
        assert!(config.members.contains(&config.id), "a member belongs to its own group");
        assert!(config.election_timeout_ms.0 > config.heartbeat_ms, "heartbeats must beat the election timeout");
        assert!(config.max_entries_per_append > 0 && config.snapshot_threshold_entries > 0);
        let (applied, digest) = snapshot.as_ref().map_or((0, 0), |s| (s.meta.index, s.meta.digest));
        assert_eq!(applied, log.snapshot_index(), "recovery joins the log to the snapshot");
        assert!(hard.voted_for.is_none_or(|v| config.members.contains(&v)), "a vote goes to a member");
        let synced_index = log.last_index();
        Self {
            config,
            hard,
            log,
            role: RoleState::Follower { leader: None },
            progress: BTreeMap::new(),
            commit_index: applied,
            last_applied: applied,
            sm,
            applied_digest: digest,
            synced_index,
            snapshot,
            snapshot_in_progress: false,
            wal_buffer: Vec::new(),
            wal_records: 0,
            held: Vec::new(),
            held_for_next_flush: Vec::new(),
            pending: VecDeque::new(),
            next_token: 0,
            applied_out: Vec::new(),
            startup_ops: Vec::new(),
            rng: SplitMix64::new(entropy),
        }
    }

    // ----- Views -------------------------------------------------------------------------------

    /// This member's id.
    pub fn id(&self) -> NodeId {
        self.config.id
    }

    /// Current term.
    pub fn term(&self) -> u64 {
        self.hard.term
    }

    /// Vote in the current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.hard.voted_for
    }

    /// The role played now.
    pub fn role(&self) -> &RoleState {
        &self.role
    }

    /// True when leading.
    pub fn is_leader(&self) -> bool {
        self.role == RoleState::Leader
    }

    /// The leader this member believes in (itself when leading).
    pub fn leader_hint(&self) -> Option<NodeId> {
        match &self.role {
            RoleState::Leader => Some(self.config.id),
            RoleState::Follower { leader } => *leader,
            RoleState::Candidate { .. } => None,
        }
    }

    /// Highest index known committed.
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    /// Highest index applied to the state machine.
    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    /// Chain digest of the applied entries.
    pub fn applied_digest(&self) -> u64 {
        self.applied_digest
    }

    /// The log.
    pub fn log(&self) -> &RaftLog<S::Command> {
        &self.log
    }

    /// The state machine.
    pub fn state_machine(&self) -> &S {
        &self.sm
    }

    /// The group's members.
    pub fn members(&self) -> &[NodeId] {
        &self.config.members
    }

    /// Commands applied since the last call, in order.
    pub fn take_applied(&mut self) -> Vec<Applied<S::Output>> {
        std::mem::take(&mut self.applied_out)
    }

    fn quorum(&self) -> usize {
        self.config.members.len() / 2 + 1
    }

    /// Checks a Raft invariant. With a planted bug on, the consequences are the checkers' to catch,
    /// so the model does not stop the run itself.
    #[track_caller]
    fn invariant(&self, holds: bool, what: impl FnOnce() -> String) {
        if !holds && !self.config.bugs.any() {
            panic!("raft invariant broken on node {} (term {}): {}", self.config.id, self.hard.term, what());
        }
    }

    /// What holds between steps (checked at the end of every entry point, where the simulation runs).
    fn check_invariants(&self) {
        let (snapshot_index, last_index) = (self.log.snapshot_index(), self.log.last_index());
        raft_assert!(
            self,
            snapshot_index <= self.last_applied && self.last_applied <= self.commit_index && self.commit_index <= last_index,
            "snapshot {snapshot_index} <= applied {} <= commit {} <= last {last_index} broken",
            self.last_applied,
            self.commit_index
        );
        raft_assert!(self, self.last_applied == self.commit_index, "applied {} lags commit {}", self.last_applied, self.commit_index);
        raft_assert!(self, self.held.is_empty(), "held messages left behind a step");
        raft_assert!(
            self,
            self.held_for_next_flush.is_empty() || !self.wal_buffer.is_empty(),
            "messages wait for a flush with nothing to flush"
        );
        raft_assert!(
            self,
            self.snapshot.as_ref().map_or(0, |s| s.meta.index) == snapshot_index,
            "the durable snapshot does not end where the log starts ({snapshot_index})"
        );
        match &self.role {
            RoleState::Leader => {
                raft_assert!(self, self.hard.voted_for == Some(self.config.id), "a leader voted for {:?}", self.hard.voted_for);
                raft_assert!(self, self.progress.len() + 1 == self.config.members.len(), "a leader tracks {:?}", self.progress.keys());
                raft_assert!(self, !self.progress.contains_key(&self.config.id), "a leader tracks itself");
                for (peer, p) in &self.progress {
                    raft_assert!(
                        self,
                        p.matched < p.next && p.next <= last_index + 1,
                        "progress of {peer}: matched {} next {} (last {last_index})",
                        p.matched,
                        p.next
                    );
                }
            }
            RoleState::Candidate { votes } => {
                raft_assert!(self, self.hard.voted_for == Some(self.config.id), "a candidate voted for {:?}", self.hard.voted_for);
                raft_assert!(self, votes.contains(&self.config.id), "a candidate counts its own vote");
                raft_assert!(self, self.progress.is_empty(), "a candidate tracks followers");
            }
            RoleState::Follower { leader } => {
                raft_assert!(self, leader.is_none_or(|l| l != self.config.id), "a follower of itself");
                raft_assert!(self, self.progress.is_empty(), "a follower tracks followers");
            }
        }
    }

    // ----- Entry points ---------------------------------------------------------------------------

    /// Starts the member: reports what it recovered, finishes recovery writes, arms its timer.
    pub fn start(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        out.fact(RaftFact::Recovered {
            term: self.hard.term,
            voted_for: self.hard.voted_for,
            snapshot_index: self.log.snapshot_index(),
            snapshot_term: self.log.snapshot_term(),
            snapshot_digest: self.applied_digest,
            entries: self.log.entries().iter().map(entry_id).collect(),
        });
        let ops = std::mem::take(&mut self.startup_ops);
        if let Some(token) = out.disk_chain(ops, || self.token()) {
            let effect = Effect::WalSynced { last_index: self.log.last_index() };
            self.pending.push_back(Pending { token, effects: vec![effect], release: Vec::new() });
        }
        self.arm_election_timer(out);
        self.finish(out);
    }

    /// Handles a message from another member.
    pub fn step(&mut self, from: NodeId, msg: RaftMessage<S::Command>, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        if from == self.config.id || !self.config.members.contains(&from) {
            return;
        }
        if msg.term() > self.hard.term {
            // Raft §5.1: a higher term makes any member a follower of that term.
            self.become_follower(msg.term(), None, out);
        }
        match msg {
            RaftMessage::RequestVote { term, last_log_index, last_log_term } => {
                self.on_request_vote(from, term, last_log_index, last_log_term, out)
            }
            RaftMessage::RequestVoteResponse { term, granted } => self.on_vote_response(from, term, granted, out),
            RaftMessage::AppendEntries { term, prev_log_index, prev_log_term, entries, leader_commit } => {
                self.on_append(from, term, prev_log_index, prev_log_term, entries, leader_commit, out)
            }
            RaftMessage::AppendEntriesResponse { term, success, match_index, conflict_index } => {
                self.on_append_response(from, term, success, match_index, conflict_index, out)
            }
            RaftMessage::InstallSnapshot { term, snapshot } => self.on_install_snapshot(from, term, snapshot, out),
            RaftMessage::InstallSnapshotResponse { term, last_index } => self.on_snapshot_response(from, term, last_index, out),
        }
        self.finish(out);
    }

    /// Handles one of Raft's timers.
    pub fn on_timer(&mut self, key: TimerKey, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        match key {
            TIMER_ELECTION if !self.is_leader() => {
                if matches!(self.role, RoleState::Candidate { .. }) {
                    crate::mark!("raft.election_timed_out_as_candidate");
                }
                self.campaign(out)
            }
            TIMER_HEARTBEAT if self.is_leader() => {
                raft_assert!(self, self.progress.len() + 1 == self.config.members.len(), "a leader without progress for every peer");
                for peer in self.peers() {
                    // Retransmit everything not yet acknowledged: heartbeats double as repair.
                    let p = self.progress.get_mut(&peer).expect("leader tracks every peer");
                    p.next = p.matched + 1;
                    self.send_append(peer, out);
                }
                out.set_timer(TIMER_HEARTBEAT, self.config.heartbeat_ms);
            }
            _ => {}
        }
        self.finish(out);
    }

    /// Handles a disk completion. Returns false if the token is not Raft's.
    pub fn on_disk(&mut self, done: DiskCompletion, out: &mut Output<RaftMessage<S::Command>, RaftFact>) -> bool {
        if done.token & TOKEN_TAG != TOKEN_TAG {
            return false;
        }
        if let Err(e) = done.result {
            // The durable state can no longer be trusted to match memory: stop (fail-stop).
            out.halt(format!("raft disk request failed: {e:?}"));
            return true;
        }
        // Completions come in issue order: none passes the oldest synced request in flight.
        raft_assert!(self, self.pending.front().is_none_or(|p| done.token <= p.token), "completion {:x} passed a pending sync", done.token);
        if self.pending.front().is_some_and(|p| p.token == done.token) {
            let done = self.pending.pop_front().expect("checked");
            for (to, msg) in done.release {
                release(to, msg, out);
            }
            for effect in done.effects {
                match effect {
                    Effect::WalSynced { last_index } => {
                        raft_assert!(
                            self,
                            last_index <= self.log.last_index(),
                            "a sync vouches for entries up to {last_index}, the log ends at {}",
                            self.log.last_index()
                        );
                        self.synced_index = self.synced_index.max(last_index)
                    }
                    Effect::CandidacyDurable { term } => {
                        if term == self.hard.term {
                            self.try_win(out);
                        }
                    }
                    Effect::OwnSnapshotSaved { snapshot } => self.compact(snapshot, out),
                }
            }
            if self.is_leader() {
                self.advance_commit(out);
            }
        }
        self.finish(out);
        true
    }

    /// Proposes a command. Returns its log index, or the leader hint when not leading.
    pub fn propose(&mut self, command: S::Command, out: &mut Output<RaftMessage<S::Command>, RaftFact>) -> Result<u64, Option<NodeId>> {
        if !self.is_leader() {
            return Err(self.leader_hint());
        }
        let index = self.append_new(Payload::Command(command.into()), out);
        raft_assert!(self, self.log.term_at(index) == Some(self.hard.term), "a proposal gets an entry of the leader's term");
        for peer in self.peers() {
            if self.progress[&peer].replicating {
                self.send_append(peer, out);
            }
        }
        self.advance_commit(out);
        self.finish(out);
        Ok(index)
    }

    // ----- Elections ------------------------------------------------------------------------------

    fn arm_election_timer(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        let (low, high) = self.config.election_timeout_ms;
        let timeout = self.rng.range(low, high);
        if self.config.bugs.election_timer_x10 && self.hard.term > 1 {
            // The bug: a setting read in seconds where it is given in tenths, say.
            out.set_timer(TIMER_ELECTION, timeout * 10);
        } else {
            out.set_timer(TIMER_ELECTION, timeout);
        }
    }

    fn campaign(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        raft_assert!(self, !self.is_leader(), "a leader campaigns");
        let term = self.hard.term + 1;
        self.set_hard_state(HardState { term, voted_for: Some(self.config.id) }, out);
        self.leave_leadership(out);
        self.role = RoleState::Candidate { votes: BTreeSet::from([self.config.id]) };
        raft_assert!(self, self.progress.is_empty(), "a candidate tracks followers");
        let request = RaftMessage::RequestVote { term, last_log_index: self.log.last_index(), last_log_term: self.log.last_term() };
        for peer in self.peers() {
            // Held back until the candidate's own vote is durable: a candidate that could forget
            // voting for itself could vote again in the same term after a crash.
            self.hold(peer, request.clone());
        }
        self.flush_wal(out);
        let sync = self.pending.back_mut().expect("the new term and vote were just written");
        sync.effects.push(Effect::CandidacyDurable { term });
        if !self.config.bugs.election_timer_not_rearmed {
            self.arm_election_timer(out);
        }
    }

    fn on_request_vote(
        &mut self,
        from: NodeId,
        term: u64,
        last_log_index: u64,
        last_log_term: u64,
        out: &mut Output<RaftMessage<S::Command>, RaftFact>,
    ) {
        let up_to_date = (last_log_term, last_log_index) >= (self.log.last_term(), self.log.last_index());
        if term < self.hard.term {
            crate::mark!("raft.vote_request_from_older_term");
        } else if !up_to_date {
            crate::mark!("raft.vote_refused_to_a_shorter_log");
        }
        let free = match self.hard.voted_for {
            None => true,
            Some(v) => v == from || self.config.bugs.vote_twice,
        };
        let granted = term == self.hard.term && free && up_to_date && !self.is_leader();
        raft_assert!(self, !granted || matches!(self.role, RoleState::Follower { .. }), "a candidate grants a vote to another");
        if granted {
            self.set_hard_state(HardState { term, voted_for: Some(from) }, out);
            self.arm_election_timer(out);
        }
        raft_assert!(self, !granted || self.hard.voted_for == Some(from), "a grant not recorded");
        let response = RaftMessage::RequestVoteResponse { term: self.hard.term, granted };
        if granted { self.hold(from, response) } else { out.send(from, response) }
    }

    fn on_vote_response(&mut self, from: NodeId, term: u64, granted: bool, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        if term < self.hard.term {
            crate::mark!("raft.vote_response_of_older_term");
        }
        if term != self.hard.term || !granted {
            return;
        }
        if let RoleState::Candidate { votes } = &mut self.role {
            votes.insert(from);
            raft_assert!(self, self.hard.voted_for == Some(self.config.id), "a candidate counts votes of a term it did not run in");
            self.try_win(out);
        }
    }

    fn try_win(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        let RoleState::Candidate { votes } = &self.role else { return };
        if votes.len() < self.quorum() {
            return;
        }
        // The own vote must be durable before it counts; with the vote requests held back until
        // then, only a single-member group gets here early (and waits for CandidacyDurable).
        let term = self.hard.term;
        let own_vote_pending =
            self.pending.iter().flat_map(|p| &p.effects).any(|e| matches!(e, Effect::CandidacyDurable { term: t } if *t == term));
        if own_vote_pending && !self.config.bugs.ack_before_fsync {
            return;
        }
        self.become_leader(out);
    }

    fn become_leader(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        raft_assert!(
            self,
            matches!(&self.role, RoleState::Candidate { votes } if votes.len() >= self.quorum()),
            "a leader without a quorum of votes: {:?}",
            self.role
        );
        self.role = RoleState::Leader;
        out.fact(RaftFact::BecameLeader { term: self.hard.term });
        if self.config.bugs.leader_drops_uncommitted_tail && self.log.last_index() > self.commit_index {
            self.truncate_from(self.commit_index.max(self.log.snapshot_index()) + 1, out);
        }
        let next = self.log.last_index() + 1;
        self.progress = self.peers().into_iter().map(|p| (p, Progress { next, matched: 0, replicating: false })).collect();
        out.cancel_timer(TIMER_ELECTION);
        out.set_timer(TIMER_HEARTBEAT, self.config.heartbeat_ms);
        // Raft §8: a no-op of the new term lets the leader commit what earlier terms left.
        let noop = self.append_new(Payload::Noop, out);
        raft_assert!(self, noop == next && self.log.last_term() == self.hard.term, "the no-op opens the leader's term at {next}");
        for peer in self.peers() {
            self.send_append(peer, out);
        }
        self.advance_commit(out);
    }

    fn become_follower(&mut self, term: u64, leader: Option<NodeId>, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        raft_assert!(self, term >= self.hard.term, "follow an older term {term}");
        let was_leader = self.is_leader();
        // Step down first, so that `SteppedDown` names the term that was led.
        self.leave_leadership(out);
        if term > self.hard.term {
            let hard = HardState { term, voted_for: None };
            if self.config.bugs.silent_term_change {
                self.hard = hard;
                self.wal_records += 1;
                wal::encode_hard_state(self.wal_records - 1, &hard, &mut self.wal_buffer);
            } else {
                self.set_hard_state(hard, out);
            }
        }
        self.role = RoleState::Follower { leader };
        // Raft Figure 2 (Followers): the election timeout restarts on hearing from the current
        // leader or on granting a vote, not on a higher term alone. Restarting it on every refused
        // RequestVote of a higher term lets a member with a stale log, timing out again and again,
        // keep the up-to-date members from ever campaigning (ddl-heavy seed 149: a group of two
        // live members without a leader for 2.5 s). A deposed leader has no timer armed: it gets one.
        if leader.is_some() || was_leader {
            self.arm_election_timer(out);
        }
        raft_assert!(self, self.hard.term == term && self.progress.is_empty(), "a follower of term {term}");
    }

    fn leave_leadership(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        if self.is_leader() {
            crate::mark!("raft.leader_stepped_down");
            out.fact(RaftFact::SteppedDown { term: self.hard.term });
            out.cancel_timer(TIMER_HEARTBEAT);
            self.progress.clear();
        }
    }

    // ----- Replication ------------------------------------------------------------------------------

    fn peers(&self) -> Vec<NodeId> {
        self.config.members.iter().copied().filter(|&m| m != self.config.id).collect()
    }

    fn send_append(&mut self, peer: NodeId, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        let term = self.hard.term;
        let p = self.progress.get_mut(&peer).expect("leader tracks every peer");
        if p.next <= self.log.snapshot_index() {
            let snapshot = self.snapshot.clone().expect("a compacted log has a durable snapshot");
            crate::mark!("raft.leader_sent_snapshot_to_lagging_follower");
            out.send(peer, RaftMessage::InstallSnapshot { term, snapshot });
            return;
        }
        let prev_log_index = p.next - 1;
        let prev_log_term = self.log.term_at(prev_log_index).expect("prev is at or after the snapshot");
        let entries = self.log.slice_from(p.next, self.config.max_entries_per_append).to_vec();
        assert!(entries.first().is_none_or(|e| e.index == prev_log_index + 1), "an append starts right after prev");
        assert!(entries.iter().all(|e| e.term <= term), "a leader sends no entry of a later term");
        if p.replicating {
            p.next += entries.len() as u64;
        }
        out.send(peer, RaftMessage::AppendEntries { term, prev_log_index, prev_log_term, entries, leader_commit: self.commit_index });
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        from: NodeId,
        term: u64,
        prev_log_index: u64,
        prev_log_term: u64,
        mut entries: Vec<Entry<S::Command>>,
        leader_commit: u64,
        out: &mut Output<RaftMessage<S::Command>, RaftFact>,
    ) {
        if term < self.hard.term {
            // A stale leader: tell it the newer term so that it steps down.
            crate::mark!("raft.append_from_deposed_leader");
            out.send(from, RaftMessage::AppendEntriesResponse { term: self.hard.term, success: false, match_index: 0, conflict_index: 0 });
            return;
        }
        self.invariant(!self.is_leader(), || format!("two leaders in term {term}: {} and {from}", self.config.id));
        self.become_follower(term, Some(from), out);
        let (mut prev_index, mut prev_term) = (prev_log_index, prev_log_term);
        if prev_index < self.log.snapshot_index() {
            // Entries up to our snapshot are committed and already here: skip them.
            crate::mark!("raft.append_overlaps_own_snapshot");
            let skip = entries.iter().take_while(|e| e.index <= self.log.snapshot_index()).count();
            entries.drain(..skip);
            prev_index = self.log.snapshot_index();
            prev_term = self.log.snapshot_term();
        }
        raft_assert!(self, entries.first().is_none_or(|e| e.index == prev_index + 1), "entries from {from} do not follow {prev_index}");
        match self.log.term_at(prev_index) {
            Some(t) if t == prev_term => {}
            Some(_) if self.config.bugs.skip_prev_log_check => {}
            found => {
                crate::mark!("raft.append_rejected_on_prev_log_mismatch");
                let conflict_index = match found {
                    None => self.log.last_index() + 1,
                    Some(t) => self.log.first_index_of_term(t, prev_index),
                };
                out.send(from, RaftMessage::AppendEntriesResponse { term, success: false, match_index: 0, conflict_index });
                return;
            }
        }
        let last_new = prev_index + entries.len() as u64;
        let last_term = entries.last().map_or(prev_term, |e| e.term);
        for entry in entries {
            match self.log.term_at(entry.index) {
                Some(t) if t == entry.term => continue,
                Some(_) => {
                    self.invariant(entry.index > self.commit_index, || {
                        format!("leader {from} overwrites committed entry {} (commit {})", entry.index, self.commit_index)
                    });
                    crate::mark!("raft.follower_truncated_conflicting_tail");
                    self.truncate_from(entry.index, out);
                    self.append_entry(entry, out);
                }
                None => self.append_entry(entry, out),
            }
        }
        // Log matching (Raft §5.3): the log now holds the leader's entries up to `last_new`.
        raft_assert!(
            self,
            self.log.last_index() >= last_new && self.log.term_at(last_new) == Some(last_term),
            "log does not match leader {from} at {last_new} after the append"
        );
        let new_commit = leader_commit.min(last_new);
        if new_commit > self.commit_index {
            self.set_commit(new_commit, false, out);
        }
        self.hold(from, RaftMessage::AppendEntriesResponse { term, success: true, match_index: last_new, conflict_index: 0 });
    }

    fn on_append_response(
        &mut self,
        from: NodeId,
        term: u64,
        success: bool,
        match_index: u64,
        conflict_index: u64,
        out: &mut Output<RaftMessage<S::Command>, RaftFact>,
    ) {
        if !self.is_leader() || term != self.hard.term {
            if term < self.hard.term {
                crate::mark!("raft.append_response_of_older_term");
            }
            return;
        }
        let last_index = self.log.last_index();
        if success {
            self.invariant(match_index <= last_index, || format!("{from} acknowledged {match_index} beyond the log end {last_index}"));
        }
        let p = self.progress.get_mut(&from).expect("leader tracks every peer");
        if success {
            p.matched = p.matched.max(match_index);
            p.next = p.next.max(p.matched + 1);
            p.replicating = true;
            raft_assert!(self, p.next <= last_index + 1, "next {} for {from} beyond the log end {last_index}", p.next);
            self.advance_commit(out);
            if self.progress[&from].next <= last_index {
                self.send_append(from, out);
            }
        } else {
            p.replicating = false;
            p.next = conflict_index.max(p.matched + 1).min(last_index + 1);
            raft_assert!(self, p.matched < p.next, "a rejection moves next {} to or below matched {}", p.next, p.matched);
            self.send_append(from, out);
        }
    }

    fn advance_commit(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        if !self.is_leader() {
            return;
        }
        let own = if self.config.bugs.ack_before_fsync { self.log.last_index() } else { self.synced_index.min(self.log.last_index()) };
        let mut matched: Vec<u64> = self.progress.values().map(|p| p.matched).chain([own]).collect();
        raft_assert!(self, matched.len() == self.config.members.len(), "a leader counts {} members", matched.len());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matched[self.quorum() - 1];
        raft_assert!(self, candidate <= self.log.last_index(), "a quorum holds {candidate}, past the leader's log");
        if candidate <= self.commit_index {
            return;
        }
        // Raft §5.4.2: only entries of the current term are committed by counting replicas.
        let current_term = self.log.term_at(candidate) == Some(self.hard.term);
        if current_term || self.config.bugs.commit_old_term_by_counting {
            self.set_commit(candidate, true, out);
        }
    }

    fn set_commit(&mut self, index: u64, by_leader: bool, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        self.invariant(index > self.commit_index, || format!("commit index goes back from {} to {index}", self.commit_index));
        let term = self.log.term_at(index).expect("a committed index is in the log");
        // Raft §5.4.2: a leader commits by counting only an entry of its own term.
        raft_assert!(self, !by_leader || term == self.hard.term, "leader commits {index} of term {term} by counting");
        raft_assert!(self, index <= self.log.last_index(), "commit {index} beyond the log");
        self.commit_index = index;
        out.fact(RaftFact::Committed { index, term, by_leader });
    }

    // ----- Snapshots -------------------------------------------------------------------------------

    fn on_install_snapshot(&mut self, from: NodeId, term: u64, snapshot: Snapshot, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        if term < self.hard.term {
            out.send(from, RaftMessage::InstallSnapshotResponse { term: self.hard.term, last_index: 0 });
            return;
        }
        self.become_follower(term, Some(from), out);
        let meta = snapshot.meta;
        if meta.index <= self.commit_index {
            // Nothing new: everything it covers is committed here already.
            crate::mark!("raft.snapshot_received_already_committed");
            self.hold(from, RaftMessage::InstallSnapshotResponse { term, last_index: self.commit_index });
            return;
        }
        let sm = match S::decode(&snapshot.state) {
            Ok(sm) => sm,
            Err(e) => panic!("leader {from} sent an undecodable snapshot: {e}"),
        };
        self.sm = sm;
        if self.log.term_at(meta.index) == Some(meta.term) {
            crate::mark!("raft.snapshot_installed_keeping_log_suffix");
            self.log.compact_to(meta.index, meta.term);
        } else {
            crate::mark!("raft.snapshot_installed_replacing_log");
            self.log = RaftLog::after_snapshot(meta.index, meta.term);
        }
        raft_assert!(
            self,
            meta.index > self.last_applied && self.log.snapshot_index() == meta.index,
            "snapshot {} not installed",
            meta.index
        );
        self.commit_index = meta.index;
        self.last_applied = meta.index;
        self.applied_digest = meta.digest;
        // The log after the snapshot is a new one: syncs in flight vouch for entries of the old.
        self.forget_syncs_past(meta.index);
        out.fact(RaftFact::SnapshotInstalled { index: meta.index, term: meta.term, digest: meta.digest });
        self.flush_wal(out);
        self.save_snapshot(&snapshot, out);
        self.snapshot = Some(snapshot);
        self.rewrite_wal(out);
        self.hold(from, RaftMessage::InstallSnapshotResponse { term, last_index: meta.index });
    }

    fn on_snapshot_response(&mut self, from: NodeId, term: u64, last_index: u64, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        if !self.is_leader() || term != self.hard.term {
            return;
        }
        let p = self.progress.get_mut(&from).expect("leader tracks every peer");
        p.matched = p.matched.max(last_index);
        p.next = p.next.max(p.matched + 1);
        p.replicating = true;
        // What a follower holds through a snapshot is committed, so in the leader's log (§5.4).
        raft_assert!(self, p.matched <= self.log.last_index(), "{from} acknowledged a snapshot at {last_index} past the log end");
        self.advance_commit(out);
        self.send_append(from, out);
    }

    fn maybe_snapshot(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        if self.snapshot_in_progress || self.last_applied < self.log.snapshot_index() + self.config.snapshot_threshold_entries {
            return;
        }
        let index = self.last_applied;
        raft_assert!(
            self,
            index <= self.commit_index && index > self.log.snapshot_index(),
            "snapshot at {index} of uncommitted or compacted state"
        );
        let term = self.log.term_at(index);
        self.invariant(term.is_some(), || format!("applied entry {index} left the log"));
        let Some(term) = term else { return };
        let snapshot = Snapshot { meta: SnapshotMeta { index, term, digest: self.applied_digest }, state: self.sm.encode().into() };
        self.snapshot_in_progress = true;
        let token = self.save_snapshot(&snapshot, out);
        self.pending.push_back(Pending { token, effects: vec![Effect::OwnSnapshotSaved { snapshot }], release: Vec::new() });
    }

    /// Writes the snapshot file; returns the token of its last request.
    fn save_snapshot(&mut self, snapshot: &Snapshot, out: &mut Output<RaftMessage<S::Command>, RaftFact>) -> IoToken {
        self.replace_file(wal::SNAPSHOT, wal::SNAPSHOT_TMP, wal::encode_snapshot(snapshot), out)
    }

    /// Replaces `path` atomically (write `tmp`, fsync it, rename it over `path`); returns the token
    /// of the rename, after which the new content is durable.
    fn replace_file(&mut self, path: &str, tmp: &str, data: Vec<u8>, out: &mut Output<RaftMessage<S::Command>, RaftFact>) -> IoToken {
        let ops = vec![
            DiskOp::WriteAll { path: tmp.into(), data },
            DiskOp::Fsync { path: tmp.into() },
            DiskOp::Rename { from: tmp.into(), to: path.into() },
        ];
        out.disk_chain(ops, || self.token()).expect("three requests")
    }

    fn compact(&mut self, snapshot: Snapshot, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        self.snapshot_in_progress = false;
        let meta = snapshot.meta;
        if meta.index <= self.log.snapshot_index() {
            return; // a newer snapshot from the leader got there first
        }
        self.invariant(self.log.term_at(meta.index) == Some(meta.term), || {
            format!("own snapshot at {} disagrees with the log", meta.index)
        });
        raft_assert!(self, meta.index <= self.last_applied, "compaction at {} past what was applied", meta.index);
        self.log.compact_to(meta.index, meta.term);
        self.snapshot = Some(snapshot);
        raft_assert!(self, self.log.snapshot_index() == meta.index, "compaction to {} did not take", meta.index);
        out.fact(RaftFact::Compacted { index: meta.index });
        self.flush_wal(out);
        self.rewrite_wal(out);
    }

    /// Replaces the WAL with the hard state and the entries after the snapshot.
    fn rewrite_wal(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        // The new WAL must hold everything the old one did that is not in the snapshot.
        raft_assert!(self, self.wal_buffer.is_empty(), "records still buffered when the WAL is rewritten");
        let data = wal::encode_wal(&self.hard, self.log.entries());
        self.wal_records = 1 + self.log.entries().len() as u64;
        let token = self.replace_file(wal::WAL, wal::WAL_TMP, data, out);
        let effect = Effect::WalSynced { last_index: self.log.last_index() };
        self.pending.push_back(Pending { token, effects: vec![effect], release: Vec::new() });
    }

    // ----- Log and durable state -----------------------------------------------------------------

    fn append_new(&mut self, payload: Payload<S::Command>, out: &mut Output<RaftMessage<S::Command>, RaftFact>) -> u64 {
        let index = self.log.last_index() + 1;
        self.append_entry(Entry { index, term: self.hard.term, payload }, out);
        index
    }

    fn append_entry(&mut self, entry: Entry<S::Command>, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        raft_assert!(self, entry.term <= self.hard.term, "entry {} of term {} from the future", entry.index, entry.term);
        raft_assert!(self, entry.index > self.commit_index, "entry {} appended at or below commit {}", entry.index, self.commit_index);
        self.wal_records += 1;
        wal::encode_entry(self.wal_records - 1, &entry, &mut self.wal_buffer);
        out.fact(RaftFact::Appended { entry: entry_id(&entry) });
        self.log.push(entry);
    }

    fn truncate_from(&mut self, index: u64, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        raft_assert!(self, index > self.commit_index, "truncation from {index} cuts into committed {}", self.commit_index);
        self.log.truncate_from(index);
        self.forget_syncs_past(index - 1);
        raft_assert!(self, self.log.last_index() == index - 1 && self.synced_index < index, "truncation from {index} left entries");
        out.fact(RaftFact::Truncated { from_index: index });
    }

    /// Entries past `index` left the log: neither the synced mark nor a sync still in flight may
    /// vouch for them (entries appended there later are new ones, not yet on disk).
    fn forget_syncs_past(&mut self, index: u64) {
        self.synced_index = self.synced_index.min(index);
        for effect in self.pending.iter_mut().flat_map(|p| &mut p.effects) {
            if let Effect::WalSynced { last_index } = effect {
                *last_index = (*last_index).min(index);
            }
        }
    }

    fn set_hard_state(&mut self, hard: HardState, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        self.invariant(hard.term >= self.hard.term, || format!("term goes back from {} to {}", self.hard.term, hard.term));
        raft_assert!(
            self,
            hard.term > self.hard.term || self.hard.voted_for.is_none_or(|v| hard.voted_for == Some(v)),
            "vote changes within term {} from {:?} to {:?}",
            hard.term,
            self.hard.voted_for,
            hard.voted_for
        );
        self.hard = hard;
        self.wal_records += 1;
        wal::encode_hard_state(self.wal_records - 1, &hard, &mut self.wal_buffer);
        out.fact(RaftFact::HardState { term: hard.term, voted_for: hard.voted_for });
    }

    fn token(&mut self) -> IoToken {
        self.next_token += 1;
        TOKEN_TAG | (self.next_token & ((1 << 56) - 1))
    }

    /// Writes and syncs what this step added to the WAL.
    fn flush_wal(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        if self.wal_buffer.is_empty() {
            return;
        }
        let data = std::mem::take(&mut self.wal_buffer);
        raft_assert!(self, self.startup_ops.is_empty(), "WAL appended before recovery's own disk requests were issued");
        let ops = vec![DiskOp::Append { path: wal::WAL.into(), data }, DiskOp::Fsync { path: wal::WAL.into() }];
        let token = out.disk_chain(ops, || self.token()).expect("two requests");
        let effect = Effect::WalSynced { last_index: self.log.last_index() };
        let release = std::mem::take(&mut self.held_for_next_flush);
        self.pending.push_back(Pending { token, effects: vec![effect], release });
    }

    fn hold(&mut self, to: NodeId, msg: RaftMessage<S::Command>) {
        self.held.push((to, msg));
    }

    /// Ends every entry point: apply what is committed, snapshot if due, write the WAL, and release
    /// held messages once everything before them is durable.
    ///
    /// Group commit: while a WAL sync is in flight, new records wait in the buffer and go out
    /// together once it completes (one write and one fsync for all of them).
    fn finish(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        self.apply_committed(out);
        self.maybe_snapshot(out);
        let syncing = self.pending.iter().flat_map(|p| &p.effects).any(|e| matches!(e, Effect::WalSynced { .. }));
        if !syncing {
            self.flush_wal(out);
        }
        raft_assert!(self, syncing || self.wal_buffer.is_empty(), "WAL records left unwritten with no sync in flight");
        let held = std::mem::take(&mut self.held);
        if held.is_empty() {
            self.check_invariants();
            return;
        }
        if !self.wal_buffer.is_empty() && !self.config.bugs.ack_before_fsync {
            self.held_for_next_flush.extend(held);
            self.check_invariants();
            return;
        }
        match self.pending.back_mut() {
            Some(last) if !self.config.bugs.ack_before_fsync => last.release.extend(held),
            _ => {
                // Nothing is in flight: everything the messages vouch for is durable already.
                raft_assert!(self, self.pending.is_empty() && self.wal_buffer.is_empty(), "held messages released before their sync");
                held.into_iter().for_each(|(to, msg)| release(to, msg, out))
            }
        }
        self.check_invariants();
    }

    fn apply_committed(&mut self, out: &mut Output<RaftMessage<S::Command>, RaftFact>) {
        let target = if self.config.bugs.apply_uncommitted { self.log.last_index() } else { self.commit_index };
        raft_assert!(self, self.last_applied <= target, "applied {} beyond commit {target}", self.last_applied);
        while self.last_applied < target {
            let index = self.last_applied + 1;
            let entry = self.log.get(index).expect("entries between applied and commit are in the log");
            let (term, payload_hash) = (entry.term, stable_hash(&entry.payload));
            let output = match &entry.payload {
                Payload::Noop => None,
                Payload::Command(c) => Some(self.sm.apply(index, c)),
            };
            self.last_applied = index;
            self.applied_digest = chain(self.applied_digest, payload_hash ^ term.rotate_left(32));
            out.fact(RaftFact::Applied { index, term, payload_hash, digest: self.applied_digest });
            self.applied_out.push(Applied { index, term, output });
        }
        raft_assert!(self, self.last_applied == target, "applied {} short of {target}", self.last_applied);
    }
}

/// Sends a held message. A vote grant is reported as it leaves: a grant that a crash kept on the
/// node was never given.
fn release<C>(to: NodeId, msg: RaftMessage<C>, out: &mut Output<RaftMessage<C>, RaftFact>) {
    if let RaftMessage::RequestVoteResponse { term, granted: true } = msg {
        out.fact(RaftFact::VoteGranted { term, candidate: to });
    }
    out.send(to, msg);
}

/// The checker-facing identity of an entry.
pub fn entry_id<C: Hash>(entry: &Entry<C>) -> EntryId {
    (entry.index, entry.term, stable_hash(&entry.payload))
}

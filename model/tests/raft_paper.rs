//! Unit tests of the Raft role, one rule of the Raft paper at a time (Ongaro & Ousterhout, "In
//! Search of an Understandable Consensus Algorithm", 2014), in the spirit of etcd's
//! `raft_paper_test.go` and raft-rs's `test_raft_paper.rs`.
//!
//! The harness below drives N members of a group with a small key-value map (`Kv`) as their state machine:
//! - the network is a list of messages in flight; the test decides which are delivered, in which
//!   order, and which are dropped;
//! - every member has its own `MemoryDisk`; disk requests are carried out and their completions fed
//!   back right away, unless the test holds the member's disk, in which case they wait (nothing of
//!   them is on the disk) until the test calls `sync`;
//! - no clock: the test fires `TIMER_ELECTION` / `TIMER_HEARTBEAT` itself.
//!
//! Everything is deterministic: the only randomness is the seeded `entropy` of each member.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::{DiskOp, DiskRequest, MemoryDisk, Millis, NodeId, Output, TimerKey};
use ccrsim_model::core::record;
use ccrsim_model::raft::wal::{self, HardState};
use ccrsim_model::raft::{
    Entry, Payload, Raft, RaftBugs, RaftConfig, RaftFact, RaftMessage, RecoveryError, RoleState, StateMachine, TIMER_ELECTION,
    TIMER_HEARTBEAT,
};

/// The state machine of these tests: a key-value map written by sequential client sessions, each
/// command applied once however often it is retried (Raft §8), and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Kv {
    entries: BTreeMap<String, String>,
    sessions: BTreeMap<(NodeId, u32), u64>,
}

/// A command of [`Kv`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
enum Cmd {
    Put { session: (NodeId, u32), seq: u64, key: String, value: String },
}

/// What applying a [`Cmd`] did (`fresh`: not a retry of one applied already).
#[derive(Debug, Clone, PartialEq, Eq)]
enum KvOutput {
    Put { seq: u64, fresh: bool },
}

impl Kv {
    fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

impl StateMachine for Kv {
    type Command = Cmd;
    type Output = KvOutput;

    fn apply(&mut self, _index: u64, command: &Cmd) -> KvOutput {
        let Cmd::Put { session, seq, key, value } = command;
        let last = self.sessions.entry(*session).or_insert(0);
        let fresh = *seq > *last;
        if fresh {
            *last = *seq;
            self.entries.insert(key.clone(), value.clone());
        }
        KvOutput::Put { seq: *seq, fresh }
    }

    fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("serialises")
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        postcard::from_bytes(bytes).map_err(|e| e.to_string())
    }
}
type Msg = RaftMessage<Cmd>;
type Member = Raft<Kv>;

const ELECTION_MS: (Millis, Millis) = (150, 300);
const HEARTBEAT_MS: Millis = 50;

// ----- Harness ---------------------------------------------------------------------------------------

fn config(id: NodeId, size: u32) -> RaftConfig {
    RaftConfig {
        id,
        members: (1..=size).collect(),
        election_timeout_ms: ELECTION_MS,
        heartbeat_ms: HEARTBEAT_MS,
        max_entries_per_append: 64,
        snapshot_threshold_entries: 1_000_000,
        bugs: RaftBugs::default(),
    }
}

fn entropy(id: NodeId) -> u64 {
    0x7a11_5eed_0000 + u64::from(id)
}

/// A message in flight.
#[derive(Debug, Clone)]
struct Envelope {
    from: NodeId,
    to: NodeId,
    msg: Msg,
}

impl Envelope {
    fn kind(&self) -> &'static str {
        self.msg.kind()
    }
}

struct Node {
    raft: Member,
    config: RaftConfig,
    disk: MemoryDisk,
    /// Disk requests issued and not carried out yet (only while the disk is held).
    io: Vec<DiskRequest>,
    hold_disk: bool,
    facts: Vec<RaftFact>,
    /// Timers pending now (a timer that fires is consumed; setting one moves it).
    timers: BTreeMap<TimerKey, Millis>,
    /// Every election timeout drawn, in order.
    election_draws: Vec<Millis>,
    halted: Option<String>,
}

struct Cluster {
    nodes: BTreeMap<NodeId, Node>,
    /// Messages sent and not delivered yet, in the order they were sent.
    net: Vec<Envelope>,
    /// `settle` drops every message from or to these members.
    cut: BTreeSet<NodeId>,
}

impl Cluster {
    /// `size` members with ids `1..=size`, started on empty disks.
    fn new(size: u32) -> Self {
        Self::with(size, |_| {})
    }

    fn with(size: u32, tweak: impl Fn(&mut RaftConfig)) -> Self {
        let mut c = Cluster { nodes: BTreeMap::new(), net: Vec::new(), cut: BTreeSet::new() };
        for id in 1..=size {
            let mut config = config(id, size);
            tweak(&mut config);
            let raft = Raft::new(config.clone(), Kv::default(), entropy(id));
            let node = Node {
                raft,
                config,
                disk: MemoryDisk::default(),
                io: Vec::new(),
                hold_disk: false,
                facts: Vec::new(),
                timers: BTreeMap::new(),
                election_draws: Vec::new(),
                halted: None,
            };
            c.nodes.insert(id, node);
            c.run(id, |r, out| r.start(out));
        }
        c
    }

    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[&id]
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        self.nodes.get_mut(&id).expect("a member of the cluster")
    }

    fn raft(&self, id: NodeId) -> &Member {
        &self.node(id).raft
    }

    /// Runs one entry point of `id` and carries out its output.
    fn run(&mut self, id: NodeId, f: impl FnOnce(&mut Member, &mut Output<Msg, RaftFact>)) {
        let mut out = Output::default();
        f(&mut self.node_mut(id).raft, &mut out);
        self.absorb(id, out);
        if !self.node(id).hold_disk {
            self.sync(id);
        }
        assert_eq!(self.node(id).halted, None, "member {id} stopped");
    }

    fn absorb(&mut self, id: NodeId, out: Output<Msg, RaftFact>) {
        for (to, msg) in out.sends {
            self.net.push(Envelope { from: id, to, msg });
        }
        let node = self.node_mut(id);
        node.io.extend(out.disk);
        for (key, delay) in out.timers {
            match delay {
                Some(delay) => {
                    node.timers.insert(key, delay);
                    if key == TIMER_ELECTION {
                        node.election_draws.push(delay);
                    }
                }
                None => {
                    node.timers.remove(&key);
                }
            }
        }
        node.facts.extend(out.facts);
        if let Some(reason) = out.halt {
            node.halted.get_or_insert(reason);
        }
    }

    /// Carries out every pending disk request of `id` in order and feeds the completions back.
    fn sync(&mut self, id: NodeId) {
        while !self.node(id).io.is_empty() {
            let node = self.node_mut(id);
            let requests = std::mem::take(&mut node.io);
            for done in node.disk.apply(&requests) {
                let mut out = Output::default();
                assert!(self.node_mut(id).raft.on_disk(done, &mut out), "every disk token is Raft's");
                self.absorb(id, out);
            }
        }
    }

    /// While held, the disk requests of `id` wait for `sync` (nothing of them reaches the disk).
    fn hold(&mut self, id: NodeId, hold: bool) {
        self.node_mut(id).hold_disk = hold;
    }

    fn fire(&mut self, id: NodeId, key: TimerKey) {
        self.node_mut(id).timers.remove(&key);
        self.run(id, |r, out| r.on_timer(key, out));
    }

    /// Hands `msg` to `to` as if `from` sent it.
    fn inject(&mut self, to: NodeId, from: NodeId, msg: Msg) {
        self.run(to, |r, out| r.step(from, msg, out));
    }

    fn propose(&mut self, id: NodeId, command: Cmd) -> u64 {
        let mut index = None;
        self.run(id, |r, out| index = Some(r.propose(command, out).expect("proposed to the leader")));
        index.expect("set by propose")
    }

    /// Delivers, in order, the messages in flight now that `pick` selects (not the ones they cause).
    fn deliver(&mut self, mut pick: impl FnMut(&Envelope) -> bool) -> usize {
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.net).into_iter().partition(|e| pick(e));
        self.net = later;
        let count = now.len();
        for e in now {
            self.inject(e.to, e.from, e.msg);
        }
        count
    }

    /// Delivers everything (dropping what goes from or to a cut member) until nothing is in flight.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let cut = &self.cut;
            self.net.retain(|e| !cut.contains(&e.from) && !cut.contains(&e.to));
            if self.net.is_empty() {
                return;
            }
            self.deliver(|_| true);
        }
        panic!("the network does not quiesce");
    }

    /// `id` times out, campaigns and wins with every message delivered.
    fn elect(&mut self, id: NodeId) {
        self.fire(id, TIMER_ELECTION);
        self.settle();
        assert!(self.raft(id).is_leader(), "{id} should have won: {:?}", self.raft(id).role());
    }

    /// The leader's heartbeat, with every message delivered (followers learn the commit index).
    fn heartbeat(&mut self, id: NodeId) {
        self.fire(id, TIMER_HEARTBEAT);
        self.settle();
    }

    /// Messages from `from` now in flight, with their destination.
    fn sent_by(&self, from: NodeId) -> Vec<(NodeId, Msg)> {
        self.net.iter().filter(|e| e.from == from).map(|e| (e.to, e.msg.clone())).collect()
    }

    fn take_applied_everywhere(&mut self) {
        for node in self.nodes.values_mut() {
            node.raft.take_applied();
        }
    }

    fn take_facts(&mut self, id: NodeId) -> Vec<RaftFact> {
        std::mem::take(&mut self.node_mut(id).facts)
    }

    /// What `id` would come back with from its disk as it is now.
    fn durable(&self, id: NodeId) -> Member {
        let node = self.node(id);
        Raft::recover(node.config.clone(), Kv::default(), &node.disk, 1).expect("the disk recovers")
    }

    /// Crash and restart: requests not carried out are lost; the member is rebuilt from its disk.
    fn restart(&mut self, id: NodeId) -> Result<(), RecoveryError> {
        self.crash_after(id, 0)
    }

    /// Crash once the first `done` pending disk requests of `id` have reached its disk (the rest are
    /// lost), then restart from the disk.
    fn crash_after(&mut self, id: NodeId, done: usize) -> Result<(), RecoveryError> {
        let node = self.node_mut(id);
        let io = std::mem::take(&mut node.io);
        node.disk.apply(&io[..done]);
        node.timers.clear();
        node.hold_disk = false;
        node.raft = Raft::recover(node.config.clone(), Kv::default(), &node.disk, entropy(id) ^ 0xff)?;
        self.run(id, |r, out| r.start(out));
        Ok(())
    }
}

// ----- Building blocks ---------------------------------------------------------------------------------

/// A client command; `seq` also names the key.
fn cmd(seq: u64) -> Cmd {
    Cmd::Put { session: (7, 0), seq, key: format!("k{seq}"), value: format!("v{seq}") }
}

/// An entry written by some earlier leader; `tag` tells apart entries of different histories.
fn entry(index: u64, term: u64, tag: &str) -> Entry<Cmd> {
    let payload = Cmd::Put { session: (9, 0), seq: index, key: format!("{tag}{index}"), value: tag.into() };
    Entry { index, term, payload: Payload::Command(payload.into()) }
}

/// A log from index 1 with these terms.
fn log_of(terms: &[u64], tag: &str) -> Vec<Entry<Cmd>> {
    terms.iter().enumerate().map(|(i, &t)| entry(i as u64 + 1, t, tag)).collect()
}

fn noop(index: u64, term: u64) -> Entry<Cmd> {
    Entry { index, term, payload: Payload::Noop }
}

/// `AppendEntries`; `prev` is `(index, term)`.
fn append(term: u64, prev: (u64, u64), entries: Vec<Entry<Cmd>>, leader_commit: u64) -> Msg {
    RaftMessage::AppendEntries { term, prev_log_index: prev.0, prev_log_term: prev.1, entries, leader_commit }
}

fn request_vote(term: u64, last_log_index: u64, last_log_term: u64) -> Msg {
    RaftMessage::RequestVote { term, last_log_index, last_log_term }
}

fn vote(term: u64, granted: bool) -> Msg {
    RaftMessage::RequestVoteResponse { term, granted }
}

fn append_ok(term: u64, match_index: u64) -> Msg {
    RaftMessage::AppendEntriesResponse { term, success: true, match_index, conflict_index: 0 }
}

/// `(index, term)` of every entry after the snapshot.
fn ids(raft: &Member) -> Vec<(u64, u64)> {
    raft.log().entries().iter().map(|e| (e.index, e.term)).collect()
}

/// The disk after a power loss that strikes once the first `done` of `requests` completed, starting
/// from `durable` (all synced). Per docs/fault-model.md (`SimDisk::crash`), a file keeps its durable
/// bytes plus a prefix of its unsynced writes, and the next unsynced write may be torn down to none of
/// its sectors; this is the outcome where no unsynced write is kept and the first one is torn to
/// nothing (a torn `WriteAll` leaves the file empty, a torn `Append` leaves it as it was).
fn power_loss(durable: &MemoryDisk, requests: &[DiskRequest], done: usize) -> MemoryDisk {
    // Per file: (durable bytes, first unsynced write replaced the whole file).
    let mut files: BTreeMap<String, (Vec<u8>, Option<bool>)> = durable.files.iter().map(|(p, d)| (p.clone(), (d.clone(), None))).collect();
    let mut cache = durable.clone();
    for r in &requests[..done] {
        cache.apply(std::slice::from_ref(r));
        match &r.op {
            DiskOp::Append { path, .. } | DiskOp::WriteAll { path, .. } => {
                let file = files.entry(path.clone()).or_insert_with(|| (Vec::new(), None));
                file.1.get_or_insert(matches!(r.op, DiskOp::WriteAll { .. }));
            }
            DiskOp::Fsync { path } => {
                let bytes = cache.files.get(path).cloned().unwrap_or_default();
                files.insert(path.clone(), (bytes, None));
            }
            DiskOp::Rename { from, to } => {
                if let Some(file) = files.remove(from) {
                    files.insert(to.clone(), file);
                }
            }
            DiskOp::Remove { path } => {
                files.remove(path);
            }
            DiskOp::Read { .. } => {}
        }
    }
    let files =
        files.into_iter().map(|(path, (bytes, replaced))| (path, if replaced == Some(true) { Vec::new() } else { bytes })).collect();
    MemoryDisk { files }
}

fn op_name(op: &DiskOp) -> &'static str {
    match op {
        DiskOp::Append { .. } => "Append",
        DiskOp::WriteAll { .. } => "WriteAll",
        DiskOp::Fsync { .. } => "Fsync",
        DiskOp::Rename { .. } => "Rename",
        DiskOp::Remove { .. } => "Remove",
        DiskOp::Read { .. } => "Read",
    }
}

fn follower_of(leader: NodeId) -> RoleState {
    RoleState::Follower { leader: Some(leader) }
}

fn bugs(f: impl FnOnce(&mut RaftBugs)) -> RaftBugs {
    let mut b = RaftBugs::default();
    f(&mut b);
    b
}

/// A group where member 1 holds `terms` (from a leader in term `max(terms)`) and wins the next
/// election with the votes of members 3 and 4, which have empty logs. Its AppendEntries are dropped.
fn leader_with_log(size: u32, terms: &[u64], tweak: impl Fn(&mut RaftConfig)) -> Cluster {
    let mut c = Cluster::with(size, tweak);
    let term = terms.iter().copied().max().unwrap_or(0);
    c.inject(1, 2, append(term, (0, 0), log_of(terms, "old"), 0));
    c.net.clear();
    c.fire(1, TIMER_ELECTION);
    c.deliver(|e| e.kind() == "RequestVote" && (e.to == 3 || e.to == 4));
    c.deliver(|e| e.kind() == "RequestVoteResponse");
    assert!(c.raft(1).is_leader());
    c.net.clear();
    c
}

// ----- §5.1: terms ----------------------------------------------------------------------------------------

/// Raft paper §5.1: "If one server's current term is smaller than the other's, then it updates its
/// current term to the larger value. If a candidate or leader discovers that its term is out of date,
/// it immediately reverts to follower state." Every kind of message carries the term.
#[test]
fn follower_candidate_and_leader_adopt_a_higher_term_and_follow() {
    let messages = [
        append(5, (0, 0), vec![], 0),
        request_vote(5, 0, 0),
        vote(5, false),
        RaftMessage::AppendEntriesResponse { term: 5, success: false, match_index: 0, conflict_index: 0 },
    ];
    for role in ["follower", "candidate", "leader"] {
        for msg in &messages {
            let mut c = Cluster::new(3);
            match role {
                "follower" => {}
                "candidate" => c.fire(1, TIMER_ELECTION),
                _ => c.elect(1),
            }
            c.net.clear();
            c.take_facts(1);
            c.inject(1, 2, msg.clone());
            let case = format!("{role} receiving {msg:?}");
            let r = c.raft(1);
            assert_eq!(r.term(), 5, "{case}");
            let leader = matches!(msg, RaftMessage::AppendEntries { .. }).then_some(2);
            assert_eq!(r.role(), &RoleState::Follower { leader }, "{case}");
            let facts = c.take_facts(1);
            assert!(facts.contains(&RaftFact::HardState { term: 5, voted_for: None }), "{case}: {facts:?}");
            assert!(c.node(1).timers.contains_key(&TIMER_ELECTION), "{case}: a follower waits for a leader");
            if role == "leader" {
                // The fact carries the term the member moves to (5), not the term it led (1).
                assert!(facts.iter().any(|f| matches!(f, RaftFact::SteppedDown { .. })), "{case}: {facts:?}");
                assert!(!c.node(1).timers.contains_key(&TIMER_HEARTBEAT), "{case}: heartbeats stop");
            }
        }
    }
}

/// Raft paper §5.1: "If a server receives a request with a stale term number, it rejects the request"
/// (Figure 2: reply false if term < currentTerm), and the reply carries the newer term.
#[test]
fn requests_with_a_stale_term_are_rejected() {
    let mut c = Cluster::new(3);
    c.inject(1, 2, append(3, (0, 0), log_of(&[1, 3], "a"), 1));
    c.net.clear();
    let log_before = c.raft(1).log().entries().to_vec();

    c.inject(1, 3, append(2, (2, 3), vec![entry(3, 3, "stale")], 3));
    assert_eq!(c.sent_by(1), vec![(3, RaftMessage::AppendEntriesResponse { term: 3, success: false, match_index: 0, conflict_index: 0 })]);
    c.net.clear();

    c.inject(1, 3, request_vote(2, 10, 2));
    assert_eq!(c.sent_by(1), vec![(3, vote(3, false))]);
    c.net.clear();

    let r = c.raft(1);
    assert_eq!((r.term(), r.voted_for(), r.role()), (3, None, &follower_of(2)));
    assert_eq!(r.log().entries(), log_before.as_slice());
    assert_eq!(r.commit_index(), 1, "the stale leader_commit 3 was not taken");
}

/// Raft paper §5.1: responses of an older term are stale and ignored: a candidate does not count a
/// vote granted in an earlier term, a leader does not count an acknowledgement of an earlier term.
#[test]
fn responses_with_a_stale_term_are_ignored() {
    let mut c = Cluster::new(3);
    c.fire(1, TIMER_ELECTION);
    c.net.clear();
    c.fire(1, TIMER_ELECTION); // term 2
    c.net.clear();
    c.inject(1, 2, vote(1, true));
    assert!(matches!(c.raft(1).role(), RoleState::Candidate { .. }), "a term-1 vote does not count in term 2");
    c.inject(1, 2, vote(2, true));
    assert!(c.raft(1).is_leader());
    c.settle();
    let index = c.propose(1, cmd(1));
    c.net.clear();
    c.inject(1, 2, append_ok(1, index));
    c.inject(1, 3, append_ok(1, index));
    assert_eq!(c.raft(1).commit_index(), index - 1, "term-1 acknowledgements do not count in term 2");
    c.inject(1, 2, append_ok(2, index));
    assert_eq!(c.raft(1).commit_index(), index);
}

// ----- §5.2: leader election ----------------------------------------------------------------------------------

/// Raft paper §5.2: "When servers start up, they begin as followers", with an election timeout
/// armed, and they send nothing.
#[test]
fn members_start_as_followers_with_an_election_timer() {
    let c = Cluster::new(3);
    for id in 1..=3 {
        let r = c.raft(id);
        assert_eq!((r.term(), r.voted_for(), r.role()), (0, None, &RoleState::Follower { leader: None }));
        let timeout = c.node(id).timers[&TIMER_ELECTION];
        assert!((ELECTION_MS.0..ELECTION_MS.1).contains(&timeout), "{timeout}");
        assert!(!c.node(id).timers.contains_key(&TIMER_HEARTBEAT));
    }
    assert!(c.net.is_empty());
}

/// Raft paper §5.2: "To begin an election, a follower increments its current term and transitions to
/// candidate state. It then votes for itself and issues RequestVote RPCs in parallel", carrying its
/// last log index and term (§5.4.1). Figure 2: term and vote are persisted "before responding to
/// RPCs", so the requests leave only once the vote for itself is durable.
#[test]
fn an_election_timeout_starts_an_election_whose_requests_wait_for_the_durable_vote() {
    let mut c = Cluster::new(3);
    c.inject(1, 2, append(1, (0, 0), log_of(&[1, 1], "a"), 0));
    c.net.clear();
    c.hold(1, true);
    c.fire(1, TIMER_ELECTION);

    let r = c.raft(1);
    assert_eq!((r.term(), r.voted_for()), (2, Some(1)));
    assert_eq!(r.role(), &RoleState::Candidate { votes: BTreeSet::from([1]) });
    assert!(c.sent_by(1).is_empty(), "no RequestVote before the vote is on disk");
    assert_eq!((c.durable(1).term(), c.durable(1).voted_for()), (1, None));
    assert!(c.node(1).timers.contains_key(&TIMER_ELECTION), "a candidate times out too");

    c.sync(1);
    assert_eq!((c.durable(1).term(), c.durable(1).voted_for()), (2, Some(1)));
    assert_eq!(c.sent_by(1), vec![(2, request_vote(2, 2, 1)), (3, request_vote(2, 2, 1))]);
}

/// Raft paper §5.2: a candidate that neither wins nor loses "will time out and start a new election
/// by incrementing its term and initiating another round of RequestVote RPCs".
#[test]
fn a_candidate_that_times_out_starts_a_new_election() {
    let mut c = Cluster::new(3);
    c.fire(1, TIMER_ELECTION);
    c.net.clear();
    let draws = c.node(1).election_draws.len();
    c.fire(1, TIMER_ELECTION);
    assert_eq!((c.raft(1).term(), c.raft(1).voted_for()), (2, Some(1)));
    assert_eq!(c.raft(1).role(), &RoleState::Candidate { votes: BTreeSet::from([1]) });
    assert_eq!(c.sent_by(1), vec![(2, request_vote(2, 0, 0)), (3, request_vote(2, 0, 0))]);
    assert_eq!(c.node(1).election_draws.len(), draws + 1, "a new timeout is drawn");
}

/// Raft paper §5.2: a candidate wins with votes from a majority of the full cluster (its own
/// included); without a majority it stays a candidate (a denial does not make it give up: only a
/// leader's AppendEntries, a higher term or its timeout end the candidacy).
#[test]
fn a_candidate_wins_exactly_with_a_majority_of_votes() {
    type Votes = &'static [(NodeId, bool)];
    let cases: [(u32, Votes, bool); 12] = [
        (1, &[], true),
        (3, &[(2, true), (3, true)], true),
        (3, &[(2, true)], true),
        (5, &[(2, true), (3, true), (4, true), (5, true)], true),
        (5, &[(2, true), (3, true), (4, true)], true),
        (5, &[(2, true), (3, true)], true),
        (3, &[], false),
        (3, &[(2, false), (3, false)], false),
        (5, &[(2, true)], false),
        (5, &[(2, true), (3, false), (4, false), (5, false)], false),
        (5, &[(2, false), (3, false)], false),
        (5, &[(2, true), (2, true), (2, true)], false), // one member's vote counts once
    ];
    for (i, &(size, votes, wins)) in cases.iter().enumerate() {
        let mut c = Cluster::new(size);
        c.fire(1, TIMER_ELECTION);
        c.net.clear();
        for &(from, granted) in votes {
            c.inject(1, from, vote(1, granted));
        }
        let role = c.raft(1).role().clone();
        assert_eq!(c.raft(1).is_leader(), wins, "case {i}: {role:?}");
        if !wins {
            assert!(matches!(role, RoleState::Candidate { .. }), "case {i}: {role:?}");
        }
        assert_eq!(c.raft(1).term(), 1, "case {i}");
    }
}

/// Raft paper §5.2 with Figure 2: a candidate's own vote counts only once it is durable; a
/// single-member group elects itself when the fsync completes, not before.
#[test]
fn a_single_member_wins_only_once_its_vote_is_durable() {
    let mut c = Cluster::new(1);
    c.hold(1, true);
    c.fire(1, TIMER_ELECTION);
    assert!(matches!(c.raft(1).role(), RoleState::Candidate { .. }));
    c.sync(1);
    assert!(c.raft(1).is_leader());
    assert_eq!(ids(c.raft(1)), vec![(1, 1)]);
    assert_eq!(c.raft(1).commit_index(), 1, "its no-op commits once synced: it is a majority alone");
}

/// Raft paper §5.2: "If the AppendEntries RPC is from another server claiming to be leader whose term
/// is at least as large as the candidate's current term, the candidate recognizes the leader as
/// legitimate and returns to follower state."
#[test]
fn a_candidate_returns_to_follower_when_a_leader_appears() {
    for leader_term in [1, 2] {
        let mut c = Cluster::new(3);
        c.fire(1, TIMER_ELECTION);
        c.net.clear();
        c.inject(1, 2, append(leader_term, (0, 0), vec![], 0));
        let r = c.raft(1);
        assert_eq!((r.term(), r.role()), (leader_term, &follower_of(2)));
        let vote = if leader_term == 1 { Some(1) } else { None };
        assert_eq!(r.voted_for(), vote, "the vote of the same term is kept");
        assert_eq!(c.sent_by(1), vec![(2, append_ok(leader_term, 0))]);
    }
}

/// Raft paper §5.2: with votes split no candidate wins; each times out with a freshly drawn timeout
/// and the first to time out wins the next term.
#[test]
fn a_split_vote_is_resolved_by_a_new_election() {
    let mut c = Cluster::new(3);
    for id in 1..=3 {
        c.fire(id, TIMER_ELECTION);
    }
    c.settle();
    for id in 1..=3 {
        let r = c.raft(id);
        assert_eq!((r.term(), r.voted_for()), (1, Some(id)));
        assert_eq!(r.role(), &RoleState::Candidate { votes: BTreeSet::from([id]) }, "everyone voted for itself");
        assert!(c.node(id).timers.contains_key(&TIMER_ELECTION), "{id} will time out again");
    }
    c.elect(2);
    assert_eq!(c.raft(2).term(), 2);
    c.heartbeat(2);
    for id in [1, 3] {
        let r = c.raft(id);
        assert_eq!((r.term(), r.voted_for(), r.role()), (2, Some(2), &follower_of(2)));
        assert_eq!(ids(r), vec![(1, 2)]);
    }
}

/// Raft paper §5.2: "Raft uses randomized election timeouts ... chosen randomly from a fixed interval";
/// every (re)arming draws anew, members draw differently, and the draws depend only on the seed.
#[test]
fn election_timeouts_are_randomized_within_the_interval() {
    let mut c = Cluster::new(5);
    for _ in 0..200 {
        c.fire(1, TIMER_ELECTION);
        c.net.clear();
    }
    let draws = &c.node(1).election_draws;
    assert_eq!(draws.len(), 201, "one at start, one per campaign");
    assert!(draws.iter().all(|d| (ELECTION_MS.0..ELECTION_MS.1).contains(d)), "{draws:?}");
    let distinct: BTreeSet<_> = draws.iter().collect();
    assert!(distinct.len() > 60, "only {} distinct timeouts", distinct.len());
    let first: BTreeSet<_> = (1..=5).map(|id| c.node(id).election_draws[0]).collect();
    assert!(first.len() > 1, "members start with different timeouts: {first:?}");
    let again = Cluster::new(5);
    assert_eq!(again.node(1).election_draws[0], draws[0], "same seed, same draw");
}

/// Raft paper §5.2: "Each server will vote for at most one candidate in a given term, on a
/// first-come-first-served basis"; repeating the grant to the same candidate is harmless (a retry).
#[test]
fn a_member_votes_at_most_once_per_term() {
    let cases = [(None, 2, true), (None, 3, true), (Some(2), 2, true), (Some(2), 3, false), (Some(3), 2, false), (Some(3), 3, true)];
    for (earlier, candidate, granted) in cases {
        let mut c = Cluster::new(3);
        if let Some(first) = earlier {
            c.inject(1, first, request_vote(1, 0, 0));
            assert_eq!(c.sent_by(1), vec![(first, vote(1, true))]);
            c.net.clear();
        }
        c.inject(1, candidate, request_vote(1, 0, 0));
        let case = format!("voted {earlier:?}, asked by {candidate}");
        assert_eq!(c.sent_by(1), vec![(candidate, vote(1, granted))], "{case}");
        assert_eq!(c.raft(1).voted_for(), earlier.or(Some(candidate)), "{case}");
        assert_eq!(c.durable(1).voted_for(), earlier.or(Some(candidate)), "{case}");
    }
}

/// Raft paper §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the
/// candidate": the later last term wins; with equal last terms the longer log wins.
#[test]
fn a_member_denies_its_vote_to_a_candidate_with_a_less_up_to_date_log() {
    // The voter's log: terms [1, 1, 2], so last (index 3, term 2).
    let cases = [
        ((3, 2), true),  // same
        ((4, 2), true),  // longer, same last term
        ((1, 3), true),  // shorter but later last term
        ((2, 2), false), // shorter, same last term
        ((5, 1), false), // longer but earlier last term
        ((0, 0), false), // empty
    ];
    for ((last_index, last_term), granted) in cases {
        let mut c = Cluster::new(3);
        c.inject(1, 2, append(2, (0, 0), log_of(&[1, 1, 2], "a"), 0));
        c.net.clear();
        c.inject(1, 3, request_vote(3, last_index, last_term));
        let case = format!("candidate log ends at ({last_index}, {last_term})");
        assert_eq!(c.sent_by(1), vec![(3, vote(3, granted))], "{case}");
        assert_eq!(c.raft(1).voted_for(), granted.then_some(3), "{case}");
        assert_eq!(c.raft(1).term(), 3, "{case}: the term is adopted either way");
    }
}

/// Raft paper Figure 2 (Followers): "If election timeout elapses without receiving AppendEntries
/// RPC from current leader or granting vote to candidate: convert to candidate". A refused
/// RequestVote of a higher term moves the term but not the deadline; a granted one restarts it.
/// Otherwise a member with a stale log that keeps timing out would keep the up-to-date members from
/// ever campaigning (found by ddl-heavy seed 149: two live controllers without a leader for 2.5 s).
#[test]
fn a_refused_vote_of_a_higher_term_does_not_restart_the_election_timeout() {
    let mut c = Cluster::new(3);
    c.inject(1, 2, append(2, (0, 0), log_of(&[1, 1, 2], "a"), 0));
    c.net.clear();
    let draws = c.node(1).election_draws.len();
    let deadline = c.node(1).timers[&TIMER_ELECTION];
    for term in 3..8 {
        // A candidate whose log is behind campaigns again and again.
        c.inject(1, 3, request_vote(term, 1, 1));
        assert_eq!(c.sent_by(1), vec![(3, vote(term, false))]);
        c.net.clear();
        assert_eq!(c.raft(1).term(), term, "the higher term is adopted");
    }
    assert_eq!(c.node(1).election_draws.len(), draws, "no new timeout was drawn");
    assert_eq!(c.node(1).timers[&TIMER_ELECTION], deadline, "the deadline stands");
    c.fire(1, TIMER_ELECTION);
    assert!(matches!(c.raft(1).role(), RoleState::Candidate { .. }), "the up-to-date member campaigns when its own timeout runs out");
    // A granted vote restarts it.
    let mut c = Cluster::new(3);
    let draws = c.node(1).election_draws.len();
    c.inject(1, 3, request_vote(3, 0, 0));
    assert_eq!(c.sent_by(1), vec![(3, vote(3, true))]);
    assert_eq!(c.node(1).election_draws.len(), draws + 1, "granting a vote draws a new timeout");
}

// ----- §5.3: log replication ------------------------------------------------------------------------------------

/// Raft paper §5.3 and §8: a new leader appends a no-op entry of its term and sends AppendEntries to
/// every follower at once; it stops its election timer and starts heartbeats.
#[test]
fn a_new_leader_appends_a_noop_and_replicates_it() {
    let mut c = Cluster::new(3);
    c.fire(1, TIMER_ELECTION);
    c.deliver(|e| e.kind() == "RequestVote");
    c.deliver(|e| e.kind() == "RequestVoteResponse");
    assert!(c.raft(1).is_leader());
    assert!(c.node(1).facts.contains(&RaftFact::BecameLeader { term: 1 }));
    assert_eq!(c.raft(1).log().entries(), &[noop(1, 1)]);
    assert_eq!(c.sent_by(1), vec![(2, append(1, (0, 0), vec![noop(1, 1)], 0)), (3, append(1, (0, 0), vec![noop(1, 1)], 0))]);
    assert_eq!(c.node(1).timers.get(&TIMER_HEARTBEAT), Some(&HEARTBEAT_MS));
    assert!(!c.node(1).timers.contains_key(&TIMER_ELECTION));

    c.settle();
    assert_eq!(c.raft(1).commit_index(), 1);
    assert!(c.node(1).facts.contains(&RaftFact::Committed { index: 1, term: 1, by_leader: true }));
    for id in [2, 3] {
        assert_eq!(c.raft(id).log().entries(), &[noop(1, 1)]);
        assert_eq!(c.raft(id).commit_index(), 0, "followers learn the commit with the next AppendEntries");
    }
    c.heartbeat(1);
    assert_eq!((c.raft(2).commit_index(), c.raft(3).commit_index()), (1, 1));
}

/// Raft paper §5.2: the leader "sends periodic heartbeats (AppendEntries RPCs that carry no log
/// entries) to all followers"; they carry the leader's commit index. A leader ignores the election
/// timer.
#[test]
fn a_leader_heartbeats_every_follower() {
    let mut c = Cluster::new(3);
    c.elect(1);
    c.fire(1, TIMER_ELECTION);
    assert_eq!(c.raft(1).term(), 1, "a leader does not campaign");
    assert!(c.net.is_empty());
    c.fire(1, TIMER_HEARTBEAT);
    assert_eq!(c.sent_by(1), vec![(2, append(1, (1, 1), vec![], 1)), (3, append(1, (1, 1), vec![], 1))]);
    assert_eq!(c.node(1).timers.get(&TIMER_HEARTBEAT), Some(&HEARTBEAT_MS), "re-armed");
}

/// Raft paper §5.3: the leader "appends the command to its log as a new entry, then issues
/// AppendEntries RPCs in parallel", including "the index and term of the entry in its log that
/// immediately precedes the new entries"; the entry goes to its write-ahead log.
#[test]
fn a_leader_replicates_a_proposal_with_its_preceding_entry() {
    let mut c = Cluster::new(3);
    c.elect(1);
    c.heartbeat(1);
    c.hold(1, true);
    let index = c.propose(1, cmd(1));
    assert_eq!(index, 2);
    let new = Entry { index: 2, term: 1, payload: Payload::Command(cmd(1).into()) };
    assert_eq!(c.raft(1).log().entries().last(), Some(&new));
    assert_eq!(c.sent_by(1), vec![(2, append(1, (1, 1), vec![new.clone()], 1)), (3, append(1, (1, 1), vec![new.clone()], 1))]);
    assert!(
        c.node(1).io.iter().any(|r| matches!(&r.op, DiskOp::Append { path, .. } if path == wal::WAL)),
        "the entry is written to the WAL"
    );
    c.sync(1);
    assert_eq!(c.durable(1).log().entries().last(), Some(&new));
    assert_eq!(c.raft(1).commit_index(), 1, "not committed before a follower has it");
}

/// Raft paper §5.3: "A log entry is committed once the leader that created the entry has replicated
/// it on a majority of the servers"; the leader applies it and tells the followers in later
/// AppendEntries, and they apply it too. Replicated means durable: a follower acknowledges only
/// after its fsync.
#[test]
fn a_leader_commits_once_a_majority_stored_the_entry() {
    let mut c = Cluster::new(5);
    c.elect(1);
    c.heartbeat(1);
    c.take_applied_everywhere();
    for id in 2..=5 {
        c.hold(id, true);
    }
    let index = c.propose(1, cmd(1));
    c.deliver(|e| e.kind() == "AppendEntries");
    assert!(c.net.is_empty(), "no follower acknowledges before its fsync");
    c.sync(2);
    c.deliver(|_| true);
    assert_eq!(c.raft(1).commit_index(), index - 1, "leader and one follower are 2 of 5");
    c.sync(3);
    c.deliver(|_| true);
    assert_eq!(c.raft(1).commit_index(), index, "leader and two followers are 3 of 5");
    let applied = c.node_mut(1).raft.take_applied();
    assert_eq!(applied.len(), 1);
    assert_eq!((applied[0].index, applied[0].term), (index, 1));
    assert!(applied[0].output.as_ref().is_some_and(|o| matches!(o, KvOutput::Put { fresh: true, seq: 1 })));
    assert_eq!(c.raft(1).state_machine().get("k1"), Some("v1"));

    for id in 2..=5 {
        c.hold(id, false);
        c.sync(id);
    }
    c.heartbeat(1);
    for id in 2..=5 {
        assert_eq!(c.raft(id).commit_index(), index, "{id}");
        assert_eq!(c.raft(id).state_machine().get("k1"), Some("v1"), "{id}");
    }
}

/// Raft paper §5.3: "When the leader commits ... this also commits all preceding entries in the
/// leader's log, including entries created by previous leaders", applied in log order.
#[test]
fn a_leader_commits_the_entries_of_earlier_leaders_with_its_own() {
    let mut c = leader_with_log(3, &[1, 2], |_| {});
    assert_eq!(c.raft(1).commit_index(), 0);
    c.take_facts(1);
    c.heartbeat(1);
    assert_eq!(c.raft(1).commit_index(), 3);
    let facts = c.take_facts(1);
    let committed: Vec<_> = facts.iter().filter(|f| matches!(f, RaftFact::Committed { .. })).collect();
    assert_eq!(committed, vec![&RaftFact::Committed { index: 3, term: 3, by_leader: true }]);
    let applied: Vec<_> = facts
        .iter()
        .filter_map(|f| match f {
            RaftFact::Applied { index, term, .. } => Some((*index, *term)),
            _ => None,
        })
        .collect();
    assert_eq!(applied, vec![(1, 1), (2, 2), (3, 3)]);
    assert_eq!((c.raft(1).state_machine().get("old1"), c.raft(1).state_machine().get("old2")), (Some("old"), Some("old")));
}

/// Raft paper §5.3 (consistency check): "If the follower does not find an entry in its log with the
/// same index and term, then it refuses the new entries"; the refusal tells the leader where to
/// retry (the first index of the conflicting term, or the end of the log).
#[test]
fn a_follower_refuses_entries_whose_previous_entry_does_not_match() {
    // The follower's log: terms [1, 2], committed up to 1.
    let cases: [((u64, u64), Msg); 5] = [
        ((0, 0), append_ok(2, 0)),
        ((1, 1), append_ok(2, 1)),
        ((2, 2), append_ok(2, 2)),
        ((2, 1), RaftMessage::AppendEntriesResponse { term: 2, success: false, match_index: 0, conflict_index: 2 }),
        ((3, 3), RaftMessage::AppendEntriesResponse { term: 2, success: false, match_index: 0, conflict_index: 3 }),
    ];
    for (prev, response) in cases {
        let mut c = Cluster::new(3);
        c.inject(1, 2, append(2, (0, 0), log_of(&[1, 2], "a"), 1));
        c.net.clear();
        c.inject(1, 2, append(2, prev, vec![], 1));
        assert_eq!(c.sent_by(1), vec![(2, response)], "prev {prev:?}");
        assert_eq!(ids(c.raft(1)), vec![(1, 1), (2, 2)], "prev {prev:?}");
    }
}

/// Raft paper §5.3 / Figure 2 (AppendEntries receiver, 3 and 4): "If an existing entry conflicts with
/// a new one (same index but different terms), delete the existing entry and all that follow it";
/// append new entries not already in the log; an entry already present is left alone (a stale or
/// repeated AppendEntries must not cut the log). The acknowledged index is the last one sent.
#[test]
fn a_follower_appends_new_entries_and_truncates_only_a_conflicting_suffix() {
    // The follower's log: terms [1, 2] (tag "a").
    let cases = [
        ((2, 2), vec![entry(3, 3, "b")], vec![entry(1, 1, "a"), entry(2, 2, "a"), entry(3, 3, "b")], None),
        ((1, 1), vec![entry(2, 3, "b"), entry(3, 4, "b")], vec![entry(1, 1, "a"), entry(2, 3, "b"), entry(3, 4, "b")], Some(2)),
        ((0, 0), vec![entry(1, 1, "a")], vec![entry(1, 1, "a"), entry(2, 2, "a")], None),
        ((0, 0), vec![entry(1, 3, "b")], vec![entry(1, 3, "b")], Some(1)),
    ];
    for (prev, sent, want, truncated) in cases {
        let mut c = Cluster::new(3);
        c.inject(1, 2, append(2, (0, 0), log_of(&[1, 2], "a"), 0));
        c.net.clear();
        c.take_facts(1);
        let last_sent = prev.0 + sent.len() as u64;
        c.inject(1, 2, append(4, prev, sent, 0));
        assert_eq!(c.raft(1).log().entries(), want.as_slice(), "prev {prev:?}");
        assert_eq!(c.durable(1).log().entries(), want.as_slice(), "prev {prev:?}: the WAL agrees");
        assert_eq!(c.sent_by(1), vec![(2, append_ok(4, last_sent))], "prev {prev:?}");
        let cut = c.take_facts(1).into_iter().find_map(|f| match f {
            RaftFact::Truncated { from_index } => Some(from_index),
            _ => None,
        });
        assert_eq!(cut, truncated, "prev {prev:?}");
    }
}

/// Raft paper §5.3/§5.4 (Leader Completeness, State Machine Safety): a committed entry is never
/// removed. A follower asked to overwrite one refuses to go on (fail-stop invariant) instead of
/// cutting its log.
#[test]
#[should_panic(expected = "overwrites committed entry 2")]
fn a_follower_never_truncates_a_committed_entry() {
    let mut c = Cluster::new(3);
    c.inject(1, 2, append(1, (0, 0), log_of(&[1, 1], "a"), 2));
    assert_eq!(c.raft(1).commit_index(), 2);
    c.inject(1, 3, append(2, (1, 1), vec![entry(2, 2, "b")], 0));
}

/// Raft paper Figure 2 (AppendEntries receiver, 5): "If leaderCommit > commitIndex, set commitIndex =
/// min(leaderCommit, index of last new entry)", and apply up to it (§5.3).
#[test]
fn a_follower_commits_up_to_min_of_leader_commit_and_its_last_new_entry() {
    // (entries sent after (0, 0), leader_commit, expected commit)
    let cases = [(1, 1, 1), (2, 1, 1), (2, 2, 2), (2, 5, 2), (3, 0, 0)];
    for (count, leader_commit, want) in cases {
        let mut c = Cluster::new(3);
        c.inject(1, 2, append(1, (0, 0), log_of(&vec![1; count], "a"), leader_commit));
        let r = c.raft(1);
        assert_eq!(r.commit_index(), want, "{count} entries, leader_commit {leader_commit}");
        assert_eq!(r.last_applied(), want);
        for i in 1..=count as u64 {
            assert_eq!(r.state_machine().get(&format!("a{i}")).is_some(), i <= want, "{count}/{leader_commit}: a{i}");
        }
    }
    // The follower holds 3 entries but this AppendEntries vouches only for its prefix up to 1.
    let mut c = Cluster::new(3);
    c.inject(1, 2, append(1, (0, 0), log_of(&[1, 1, 1], "a"), 0));
    c.inject(1, 2, append(1, (1, 1), vec![], 3));
    assert_eq!(c.raft(1).commit_index(), 1);
    c.inject(1, 2, append(1, (3, 1), vec![], 3));
    assert_eq!(c.raft(1).commit_index(), 3);
}

/// Raft paper §5.3, Figure 7: whatever the follower's log (missing entries, extra uncommitted
/// entries, both), the leader finds the latest point where the logs agree, and the follower's log
/// ends up identical to the leader's. The leader never changes its own log (Leader Append-Only).
#[test]
fn a_leader_brings_every_figure_7_follower_in_line() {
    let leader = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    // (follower's terms, how many of its first entries are the leader's)
    let followers: [(&[u64], usize); 6] = [
        (&[1, 1, 1, 4, 4, 5, 5, 6, 6], 9),
        (&[1, 1, 1, 4], 4),
        (&[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], 10),
        (&[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], 10),
        (&[1, 1, 1, 4, 4, 4, 4], 5),
        (&[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], 3),
    ];
    for (case, (terms, shared)) in followers.into_iter().enumerate() {
        let mut c = Cluster::with(3, |cfg| cfg.max_entries_per_append = 3);
        c.inject(1, 3, append(6, (0, 0), log_of(&leader, "L"), 0));
        let mut follower = log_of(terms, "F");
        for (e, l) in follower.iter_mut().zip(log_of(&leader, "L")).take(shared) {
            *e = l;
        }
        let follower_term = terms.iter().copied().max().expect("not empty");
        c.inject(2, 3, append(follower_term, (0, 0), follower, 0));
        c.net.clear();
        // Member 1 campaigns in term 7 (lost), then in term 8 and wins with member 3's vote.
        c.fire(1, TIMER_ELECTION);
        c.net.clear();
        c.fire(1, TIMER_ELECTION);
        c.settle();
        assert!(c.raft(1).is_leader(), "case {case}");
        assert_eq!(c.raft(1).term(), 8, "case {case}");
        c.heartbeat(1);

        let mut want = log_of(&leader, "L");
        want.push(noop(11, 8));
        assert_eq!(c.raft(1).log().entries(), want.as_slice(), "case {case}: the leader's log only grew");
        for id in [2, 3] {
            assert_eq!(c.raft(id).log().entries(), want.as_slice(), "case {case}: member {id}");
            assert_eq!(c.durable(id).log().entries(), want.as_slice(), "case {case}: member {id} on disk");
            assert_eq!(c.raft(id).commit_index(), 11, "case {case}: member {id}");
            assert_eq!(c.raft(id).applied_digest(), c.raft(1).applied_digest(), "case {case}: member {id}");
        }
    }
}

/// Raft paper §5.3 (Leader Append-Only): "a leader never overwrites or deletes entries in its log":
/// not for a candidate of its term with a longer log, not for a follower's refusals.
#[test]
fn a_leader_never_overwrites_its_own_log() {
    let mut c = leader_with_log(3, &[1, 1], |_| {});
    assert_eq!(c.raft(1).term(), 2);
    let before = c.raft(1).log().entries().to_vec();
    c.inject(1, 2, request_vote(2, 9, 2));
    assert_eq!(c.sent_by(1), vec![(2, vote(2, false))]);
    c.net.clear();
    for conflict_index in [0, 1, 2, 99] {
        c.inject(1, 2, RaftMessage::AppendEntriesResponse { term: 2, success: false, match_index: 0, conflict_index });
        let resent = c.sent_by(1);
        assert_eq!(resent.len(), 1, "one retry for hint {conflict_index}");
        let RaftMessage::AppendEntries { prev_log_index, entries, .. } = &resent[0].1 else { panic!("{resent:?}") };
        assert!(*prev_log_index <= 3, "hint {conflict_index}: prev {prev_log_index}");
        assert_eq!(entries.as_slice(), &before[*prev_log_index as usize..], "hint {conflict_index}");
        c.net.clear();
    }
    assert!(c.raft(1).is_leader());
    assert_eq!(c.raft(1).log().entries(), before.as_slice());
}

// ----- §5.4.2: committing entries from previous terms -----------------------------------------------------

/// Raft paper §5.4.2: "Raft never commits log entries from previous terms by counting replicas. Only
/// log entries from the leader's current term are committed by counting replicas." Leader 1 of term 3
/// holds [(1,1), (2,2), (3,3)] in a group of 5; followers acknowledge various indexes.
#[test]
fn a_leader_commits_by_counting_only_entries_of_its_term() {
    check_counting(RaftBugs::default(), &[0, 0, 0, 3, 3, 0]);
}

fn check_counting(bugs: RaftBugs, want: &[u64]) {
    let acks: [&[(NodeId, u64)]; 6] = [
        &[(2, 2), (3, 2)], // an old-term entry on a majority: Figure 8 (c)
        &[(2, 1), (3, 1)],
        &[(2, 3)],
        &[(2, 3), (3, 3)],
        &[(2, 2), (3, 2), (4, 3), (5, 3)],
        &[(2, 3), (3, 2)],
    ];
    for (acks, &want) in acks.iter().zip(want) {
        let mut c = leader_with_log(5, &[1, 2], |cfg| cfg.bugs = bugs);
        assert_eq!(ids(c.raft(1)), vec![(1, 1), (2, 2), (3, 3)]);
        for &(from, index) in *acks {
            c.inject(1, from, append_ok(3, index));
        }
        assert_eq!(c.raft(1).commit_index(), want, "acks {acks:?}");
    }
}

/// Raft paper §5.4.2, Figure 8, played out with real messages in a group of 5: S1 gets an entry of
/// term 1 onto a majority in term 3 but must not count it as committed, since S5 can still be
/// elected and overwrite it. Returns the cluster at the end.
fn figure_8(bugs: RaftBugs) -> Cluster {
    let mut c = Cluster::with(5, |cfg| {
        cfg.max_entries_per_append = 1;
        cfg.bugs = bugs;
    });
    // S1 leads term 1: its no-op (1,1) is everywhere. Then (2,1) reaches S2 only.
    c.elect(1);
    c.heartbeat(1);
    assert_eq!(c.propose(1, cmd(1)), 2);
    c.deliver(|e| e.to == 2);
    c.net.clear();
    // S5 wins term 2 with S3, S4 (S1 learns the term and steps down); its no-op (2,2) goes nowhere.
    c.fire(5, TIMER_ELECTION);
    c.deliver(|e| e.to != 2);
    c.deliver(|e| e.to == 5);
    assert!(c.raft(5).is_leader());
    assert_eq!(ids(c.raft(5)), vec![(1, 1), (2, 2)]);
    c.net.clear();
    // S1 wins term 3 with S2, S3, S4 and appends its no-op (3,3).
    c.fire(1, TIMER_ELECTION);
    c.deliver(|e| e.to != 5);
    c.deliver(|e| e.to == 1);
    assert!(c.raft(1).is_leader());
    assert_eq!(c.raft(1).term(), 3);
    let to_s5: Vec<Envelope> = c.net.iter().filter(|e| e.to == 5 && e.kind() == "RequestVote").cloned().collect();
    // (3,3) reaches S2; S3 first refuses, then takes (2,1): (2,1) is now on S1, S2, S3.
    c.deliver(|e| e.to == 2 || e.to == 3);
    c.deliver(|e| e.to == 1);
    c.deliver(|e| e.to == 3);
    c.deliver(|e| e.to == 1);
    assert_eq!(ids(c.raft(3)), vec![(1, 1), (2, 1)]);
    // S1 crashes before (3,3) reaches S3. S5 learns term 3, then wins term 4 with S3 and S4.
    c.net = to_s5;
    c.deliver(|_| true);
    assert_eq!((c.raft(5).term(), c.raft(5).role()), (3, &RoleState::Follower { leader: None }));
    c.net.clear();
    c.cut.insert(1);
    c.fire(5, TIMER_ELECTION);
    c.deliver(|e| e.to == 3 || e.to == 4);
    c.deliver(|e| e.to == 5);
    assert!(c.raft(5).is_leader());
    assert_eq!(c.raft(5).term(), 4);
    c.settle();
    c.heartbeat(5);
    c
}

fn applied_at(c: &Cluster, id: NodeId, index: u64) -> Vec<u64> {
    c.node(id)
        .facts
        .iter()
        .filter_map(|f| match f {
            RaftFact::Applied { index: i, term, .. } if *i == index => Some(*term),
            _ => None,
        })
        .collect()
}

/// Raft paper §5.4.2, Figure 8: the entry (2,1) stored on a majority is not committed by S1, and it is
/// indeed overwritten by S5's (2,2), which then commits: every member applies (2,2) at index 2.
#[test]
fn figure_8_an_old_term_entry_on_a_majority_is_not_committed() {
    let c = figure_8(RaftBugs::default());
    assert_eq!(c.raft(1).commit_index(), 1, "S1 never counted (2,1) as committed");
    assert_eq!(applied_at(&c, 1, 2), Vec::<u64>::new());
    for id in 2..=5 {
        assert_eq!(ids(c.raft(id))[..3], [(1, 1), (2, 2), (3, 4)], "member {id}");
        assert_eq!(c.raft(id).commit_index(), 3, "member {id}");
        assert_eq!(applied_at(&c, id, 2), vec![2], "member {id} applied S5's entry");
    }
}

// ----- Durability: acknowledgements only after fsync (Figure 2, "persisted before responding") ---------------

/// Raft paper Figure 2: currentTerm and votedFor are updated "on stable storage before responding to
/// RPCs". The vote grant leaves only once the vote is durable.
#[test]
fn a_vote_is_granted_only_once_it_is_durable() {
    let mut c = Cluster::new(3);
    c.hold(2, true);
    c.fire(1, TIMER_ELECTION);
    c.deliver(|e| e.to == 2);
    assert!(c.sent_by(2).is_empty(), "no grant before the fsync");
    assert_eq!(c.raft(2).voted_for(), Some(1));
    assert_eq!(c.durable(2).voted_for(), None);
    c.sync(2);
    assert_eq!(c.sent_by(2), vec![(1, vote(1, true))]);
    assert_eq!((c.durable(2).term(), c.durable(2).voted_for()), (1, Some(1)));
}

/// Raft paper Figure 2 and §5.3: log entries are on stable storage before the follower acknowledges
/// them; a retransmission of entries it holds in memory but has not synced waits as well.
#[test]
fn an_append_is_acknowledged_only_once_its_entries_are_durable() {
    let mut c = Cluster::new(3);
    c.elect(1);
    c.heartbeat(1);
    c.hold(2, true);
    let index = c.propose(1, cmd(1));
    c.deliver(|e| e.to == 2);
    assert_eq!(c.raft(2).log().last_index(), index);
    assert!(c.sent_by(2).is_empty(), "no acknowledgement before the fsync");
    c.fire(1, TIMER_HEARTBEAT); // retransmits the entry
    c.deliver(|e| e.to == 2);
    assert!(c.sent_by(2).is_empty(), "the entry is in memory, not on disk yet");
    assert_eq!(c.durable(2).log().last_index(), index - 1);
    c.sync(2);
    assert_eq!(c.sent_by(2), vec![(1, append_ok(1, index)), (1, append_ok(1, index))]);
}

/// Raft paper §5.3 with Figure 2: the leader is one of the majority only for entries on its own
/// stable storage; it may send entries before writing them, but counts itself up to its synced index.
#[test]
fn a_leader_counts_itself_only_up_to_its_synced_index() {
    let mut c = Cluster::new(3);
    c.elect(1);
    c.heartbeat(1);
    c.hold(1, true);
    let index = c.propose(1, cmd(1));
    c.deliver(|e| e.to == 2);
    c.deliver(|e| e.to == 1);
    assert_eq!(c.raft(1).commit_index(), index - 1, "member 2 alone is not a majority of 3");
    c.sync(1);
    assert_eq!(c.raft(1).commit_index(), index);

    // A single member commits when its own fsync completes, not before.
    let mut c = Cluster::new(1);
    c.elect(1);
    c.hold(1, true);
    let index = c.propose(1, cmd(1));
    assert_eq!(c.raft(1).commit_index(), index - 1);
    c.sync(1);
    assert_eq!(c.raft(1).commit_index(), index);
}

// ----- Recovery (Figure 2: persistent state on all servers) -----------------------------------------------------

/// Raft paper Figure 2: currentTerm, votedFor and log[] are persistent state; a member rebuilt from its
/// disk has them exactly, and reports them when it starts.
#[test]
fn a_recovered_member_has_the_same_term_vote_and_log() {
    let mut c = Cluster::new(3);
    c.elect(1);
    for seq in 1..=3 {
        c.propose(1, cmd(seq));
    }
    c.settle();
    c.elect(2);
    c.propose(2, cmd(4));
    c.settle();
    c.fire(3, TIMER_ELECTION); // member 3 votes for itself in term 3, unanswered
    c.net.clear();
    for id in 1..=3 {
        let (live, back) = (c.raft(id), c.durable(id));
        assert_eq!((back.term(), back.voted_for()), (live.term(), live.voted_for()), "member {id}");
        assert_eq!(back.log().entries(), live.log().entries(), "member {id}");
    }
    assert_eq!((c.durable(3).term(), c.durable(3).voted_for()), (3, Some(3)));
    let want = RaftFact::Recovered {
        term: 3,
        voted_for: Some(3),
        snapshot_index: 0,
        snapshot_term: 0,
        snapshot_digest: 0,
        entries: c.raft(3).log().entries().iter().map(ccrsim_model::raft::entry_id).collect(),
    };
    c.take_facts(3);
    c.restart(3).expect("a clean disk recovers");
    assert_eq!(c.take_facts(3).first(), Some(&want));
    assert!(c.node(3).disk.files.keys().all(|p| p == wal::WAL), "nothing but the WAL");
    // Back in the group, member 3 (whose log is complete) wins term 4 and commits everything.
    c.elect(3);
    c.heartbeat(3);
    assert_eq!(c.raft(3).term(), 4);
    assert_eq!(c.raft(3).state_machine(), c.raft(2).state_machine());
    assert_eq!(c.raft(3).state_machine().len(), 4);
}

/// Raft paper Figure 2: what a crash loses was never synced, hence never acknowledged; the leader did
/// not count it, and the member catches up after the restart.
#[test]
fn a_crash_loses_only_what_was_never_acknowledged() {
    let mut c = Cluster::new(3);
    c.elect(1);
    c.heartbeat(1);
    c.hold(3, true);
    let index = c.propose(1, cmd(1));
    c.deliver(|e| e.to == 3);
    c.net.clear();
    assert_eq!(c.raft(3).log().last_index(), index);
    c.restart(3).expect("recovers");
    assert_eq!(c.raft(3).log().last_index(), index - 1, "the unsynced entry is gone");
    assert_eq!(c.raft(1).commit_index(), index - 1, "and it was never counted");
    c.heartbeat(1);
    assert_eq!(c.raft(1).commit_index(), index);
    assert_eq!(c.raft(3).log().entries(), c.raft(1).log().entries());
}

/// A member with a WAL: 3 members, 1 leads, 2 proposals committed. Returns member 2's disk (whose WAL
/// ends in the record of entry 3) and its config.
fn wal_of_a_follower() -> (MemoryDisk, RaftConfig, Member) {
    let mut c = Cluster::new(3);
    c.elect(1);
    c.propose(1, cmd(1));
    c.propose(1, cmd(2));
    c.settle();
    let node = c.node(2);
    let live = Raft::recover(node.config.clone(), Kv::default(), &node.disk, 0).expect("clean");
    (node.disk.clone(), node.config.clone(), live)
}

/// A WAL whose last record was cut short by a crash (a write never synced, so never acknowledged)
/// recovers to the intact prefix, and the member cuts the torn bytes off its disk before going on.
#[test]
fn a_torn_wal_tail_recovers_to_the_intact_prefix() {
    let (disk, config, full) = wal_of_a_follower();
    let bytes = disk.files[wal::WAL].clone();
    let (records, _) = record::scan(&bytes);
    let last = records.last().expect("records").offset;
    assert_eq!(full.log().last_index(), 3);
    for cut in last + 1..bytes.len() {
        let mut torn = disk.clone();
        torn.files.insert(wal::WAL.into(), bytes[..cut].to_vec());
        let mut r = Raft::<Kv>::recover(config.clone(), Kv::default(), &torn, 0).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!((r.term(), r.voted_for()), (full.term(), full.voted_for()), "cut at {cut}");
        assert_eq!(r.log().entries(), &full.log().entries()[..2], "cut at {cut}");

        let mut out = Output::default();
        r.start(&mut out);
        assert!(!out.disk.is_empty(), "cut at {cut}: the torn bytes are cut off the disk");
        for done in torn.apply(&out.disk) {
            r.on_disk(done, &mut Output::default());
        }
        assert_eq!(torn.files[wal::WAL], bytes[..last], "cut at {cut}");
        assert_eq!(torn.files.keys().collect::<Vec<_>>(), vec![wal::WAL], "cut at {cut}: no temporary file left");
        let mut again = Raft::<Kv>::recover(config.clone(), Kv::default(), &torn, 0).expect("clean now");
        let mut out = Output::default();
        again.start(&mut out);
        assert!(out.disk.is_empty(), "nothing left to repair");
    }
}

/// Raft paper Figure 2: term, vote and acknowledged entries must survive any crash, including one
/// that strikes while the member repairs a torn WAL tail at startup. The repair rewrites `raft/wal` in
/// place (`WriteAll` then `Fsync`): a power loss before that fsync may tear the rewrite down to none of
/// its sectors (docs/fault-model.md, `SimDisk::crash` in sim/src/env/disk.rs), and the file is then empty:
/// the member forgets the vote and the entries it acknowledged before the first crash.
#[test]
fn a_crash_while_repairing_a_torn_wal_keeps_what_was_synced() {
    let (disk, config, full) = wal_of_a_follower();
    assert_eq!((full.term(), full.voted_for(), full.log().last_index()), (1, Some(1), 3));
    let bytes = disk.files[wal::WAL].clone();
    let mut torn = disk.clone();
    torn.files.insert(wal::WAL.into(), bytes[..bytes.len() - 1].to_vec());

    let mut r = Raft::<Kv>::recover(config.clone(), Kv::default(), &torn, 0).expect("torn tail");
    let mut out = Output::default();
    r.start(&mut out);
    assert!(!out.disk.is_empty(), "a repair is issued");
    for done in 0..=out.disk.len() {
        let after = power_loss(&torn, &out.disk, done);
        let ops: Vec<String> = out.disk[..done].iter().map(|r| format!("{} {}", op_name(&r.op), r.op.path())).collect();
        let back = Raft::<Kv>::recover(config.clone(), Kv::default(), &after, 0).unwrap_or_else(|e| panic!("crash after {ops:?}: {e}"));
        assert_eq!((back.term(), back.voted_for()), (1, Some(1)), "crash after {ops:?}: the vote is kept");
        assert_eq!(back.log().entries(), &full.log().entries()[..2], "crash after {ops:?}: the synced entries are kept");
    }
}

/// A flipped bit in a complete, synced record may hide acknowledged state: recovery refuses to run on
/// a guess and reports the corrupt record, in any record of the WAL and in the snapshot.
#[test]
fn a_flipped_bit_in_a_complete_record_is_corruption() {
    let (disk, config, _) = wal_of_a_follower();
    let bytes = disk.files[wal::WAL].clone();
    let (records, _) = record::scan(&bytes);
    assert!(records.len() >= 4);
    for r in &records {
        let payload = r.offset + record::HEADER_BYTES;
        for (byte, bit) in [(r.offset + 2, 0), (r.offset + 5, 6), (payload, 3), (payload + r.payload.len() - 1, 7)] {
            let mut bad = disk.clone();
            bad.files.get_mut(wal::WAL).expect("wal")[byte] ^= 1 << bit;
            match Raft::<Kv>::recover(config.clone(), Kv::default(), &bad, 0) {
                Err(RecoveryError::Corrupt { path, offset, .. }) => {
                    assert_eq!((path, offset), (wal::WAL, r.offset), "byte {byte} bit {bit}");
                }
                Err(other) => panic!("byte {byte} bit {bit}: {other}"),
                Ok(_) => panic!("byte {byte} bit {bit}: recovered from a corrupt WAL"),
            }
        }
    }

    let mut c = compacted_group();
    let node = c.node_mut(2);
    let snapshot = node.disk.files.get_mut(wal::SNAPSHOT).expect("a snapshot");
    let middle = snapshot.len() / 2;
    snapshot[middle] ^= 0x10;
    match c.restart(2) {
        Err(RecoveryError::Corrupt { path, .. }) => assert_eq!(path, wal::SNAPSHOT),
        Err(other) => panic!("{other}"),
        Ok(()) => panic!("recovered from a corrupt snapshot"),
    }
}

// ----- §7: log compaction ------------------------------------------------------------------------------------

const THRESHOLD: u64 = 5;

/// Three members with a snapshot threshold of 5: the leader's no-op and 4 commands, all applied
/// everywhere.
fn compacted_group() -> Cluster {
    let mut c = Cluster::with(3, |cfg| cfg.snapshot_threshold_entries = THRESHOLD);
    c.elect(1);
    for seq in 1..THRESHOLD {
        c.propose(1, cmd(seq));
    }
    c.settle();
    c.heartbeat(1);
    c
}

/// Raft paper §7: "Each server takes snapshots independently, covering just the committed entries";
/// the snapshot holds the state machine and the last included index and term, and the log up to it
/// is discarded. Here: once `snapshot_threshold_entries` entries are applied, raft/snapshot is written
/// and raft/wal rewritten to hold only what follows.
#[test]
fn a_member_snapshots_after_the_threshold_and_rewrites_its_wal() {
    let c = compacted_group();
    for id in 1..=3 {
        let (r, node) = (c.raft(id), c.node(id));
        assert_eq!(r.last_applied(), THRESHOLD, "member {id}");
        assert_eq!((r.log().snapshot_index(), r.log().snapshot_term()), (THRESHOLD, 1), "member {id}");
        assert!(r.log().entries().is_empty(), "member {id}");
        assert!(node.facts.contains(&RaftFact::Compacted { index: THRESHOLD }), "member {id}");
        let files: Vec<_> = node.disk.files.keys().map(String::as_str).collect();
        assert_eq!(files, vec![wal::SNAPSHOT, wal::WAL], "member {id}: no temporary file left");
        let hard = HardState { term: r.term(), voted_for: r.voted_for() };
        assert_eq!(node.disk.files[wal::WAL], wal::encode_wal::<Cmd>(&hard, &[]), "member {id}: WAL rewritten");
        let found = wal::recover::<Cmd>(&node.disk).expect("clean");
        let snapshot = found.snapshot.expect("a snapshot");
        assert_eq!((snapshot.meta.index, snapshot.meta.term, snapshot.meta.digest), (THRESHOLD, 1, r.applied_digest()));
        assert_eq!(&Kv::decode(&snapshot.state).expect("decodes"), r.state_machine(), "member {id}");
    }
}

/// Raft paper §7: "the leader must occasionally send snapshots to followers that lag behind"
/// (InstallSnapshot); the follower replaces its state with it, acknowledges once it is durable, and
/// then catches up with the entries after it.
#[test]
fn a_follower_behind_the_compaction_point_gets_a_snapshot_and_converges() {
    let mut c = Cluster::with(3, |cfg| cfg.snapshot_threshold_entries = THRESHOLD);
    c.elect(1);
    c.heartbeat(1);
    c.cut.insert(3);
    for seq in 1..=2 * THRESHOLD {
        c.propose(1, cmd(seq));
        c.settle();
    }
    c.heartbeat(1);
    c.cut.clear();
    let leader_snapshot = c.raft(1).log().snapshot_index();
    assert!(leader_snapshot > 1, "the leader compacted past member 3's log");
    assert_eq!(c.raft(3).log().last_index(), 1);

    c.hold(3, true);
    c.fire(1, TIMER_HEARTBEAT);
    let to_3: Vec<_> = c.sent_by(1).into_iter().filter(|(to, _)| *to == 3).collect();
    let [(_, RaftMessage::InstallSnapshot { term: 1, snapshot })] = to_3.as_slice() else { panic!("{to_3:?}") };
    assert_eq!(snapshot.meta.index, leader_snapshot);
    c.deliver(|e| e.to == 3);
    assert_eq!(c.raft(3).log().snapshot_index(), leader_snapshot);
    assert_eq!(c.raft(3).last_applied(), leader_snapshot);
    assert!(c.sent_by(3).is_empty(), "no acknowledgement before the snapshot is durable");
    c.sync(3);
    assert_eq!(c.sent_by(3), vec![(1, RaftMessage::InstallSnapshotResponse { term: 1, last_index: leader_snapshot })]);
    c.hold(3, false);
    c.settle();
    c.heartbeat(1);
    let (leader, follower) = (c.raft(1), c.raft(3));
    assert_eq!(follower.commit_index(), leader.commit_index());
    assert_eq!(follower.last_applied(), leader.last_applied());
    assert_eq!(follower.applied_digest(), leader.applied_digest());
    assert_eq!(follower.state_machine(), leader.state_machine());
    assert_eq!(follower.state_machine().len(), 2 * THRESHOLD as usize);
    assert!(c.node(3).facts.iter().any(|f| matches!(f, RaftFact::SnapshotInstalled { index, .. } if *index == leader_snapshot)));
}

/// Raft paper §7 with Figure 2: a member rebuilt from a compacted disk starts from its snapshot (state
/// machine, last included index and term) plus the WAL after it, and reaches the same state as before.
#[test]
fn a_member_recovered_after_compaction_has_the_same_state_machine() {
    let mut c = compacted_group();
    c.propose(1, cmd(THRESHOLD));
    c.settle();
    c.heartbeat(1);
    for id in [2, 1] {
        let before_sm = c.raft(id).state_machine().clone();
        let before_log = c.raft(id).log().entries().to_vec();
        let (term, voted_for) = (c.raft(id).term(), c.raft(id).voted_for());
        assert_eq!(before_log.iter().map(|e| e.index).collect::<Vec<_>>(), vec![THRESHOLD + 1]);
        c.restart(id).expect("recovers");
        let r = c.raft(id);
        assert_eq!((r.log().snapshot_index(), r.log().snapshot_term()), (THRESHOLD, 1), "member {id}");
        assert_eq!(r.log().entries(), before_log.as_slice(), "member {id}");
        assert_eq!((r.term(), r.voted_for()), (term, voted_for), "member {id}");
        assert_eq!((r.commit_index(), r.last_applied()), (THRESHOLD, THRESHOLD), "member {id}: the snapshot is applied");
        assert_eq!(r.state_machine().len(), THRESHOLD as usize - 1, "member {id}: the state of the snapshot");
        if id == 1 {
            c.elect(1); // a restarted leader is a follower: it wins again (term 2, with a new no-op)
        }
        c.heartbeat(1);
        let r = c.raft(id);
        assert_eq!(r.state_machine(), &before_sm, "member {id}");
        assert_eq!(r.last_applied(), c.raft(3).last_applied(), "member {id}");
        assert_eq!(r.applied_digest(), c.raft(3).applied_digest(), "member {id}: the same entries applied");
    }
}

/// Raft paper §7 with Figure 2: a crash in the middle of installing a snapshot (the snapshot renamed
/// into place, the WAL not yet rewritten) must leave a disk the member can keep using. Recovery drops
/// the old WAL's entries (they end before the snapshot), but the old WAL stays on disk: the entries
/// appended after the snapshot then follow entry 1 in the file, and the next recovery calls it corrupt.
#[test]
fn a_crash_while_installing_a_snapshot_leaves_a_usable_disk() {
    let mut c = Cluster::with(3, |cfg| cfg.snapshot_threshold_entries = THRESHOLD);
    c.elect(1);
    c.heartbeat(1);
    c.cut.insert(3);
    for seq in 1..=2 * THRESHOLD {
        c.propose(1, cmd(seq));
        c.settle();
    }
    c.cut.clear();
    let snapshot_index = c.raft(1).log().snapshot_index();
    assert_eq!((snapshot_index, c.raft(3).log().last_index()), (2 * THRESHOLD, 1));

    // Member 3 gets the snapshot; its disk completes the snapshot's write, fsync and rename, then crashes.
    c.hold(3, true);
    c.fire(1, TIMER_HEARTBEAT);
    c.deliver(|e| e.to == 3);
    let ops: Vec<DiskOp> = c.node(3).io.iter().map(|r| r.op.clone()).collect();
    let renamed = ops
        .iter()
        .position(|op| matches!(op, DiskOp::Rename { to, .. } if to == wal::SNAPSHOT))
        .expect("the snapshot is renamed into place");
    assert!(matches!(&ops[renamed + 1], DiskOp::WriteAll { path, .. } if path == wal::WAL_TMP), "{ops:?}");
    c.net.clear();
    c.crash_after(3, renamed + 1).expect("the snapshot and the old WAL recover");
    assert_eq!((c.raft(3).log().snapshot_index(), c.raft(3).log().last_index()), (snapshot_index, snapshot_index));

    // Back in the group, member 3 appends the entries after the snapshot.
    c.heartbeat(1);
    c.propose(1, cmd(100));
    c.settle();
    c.heartbeat(1);
    assert_eq!(c.raft(3).log().last_index(), c.raft(1).log().last_index());
    assert_eq!(c.raft(3).commit_index(), c.raft(1).commit_index());

    // A later, ordinary restart must find the same state.
    let log = c.raft(3).log().entries().to_vec();
    match c.restart(3) {
        Ok(()) => assert_eq!(c.raft(3).log().entries(), log.as_slice()),
        Err(e) => panic!("member 3 can no longer recover: {e}"),
    }
}

// ----- Planted bugs, seen at the unit level -------------------------------------------------------------------

/// `vote_twice` breaks §5.2 "at most one vote per term": two candidates get a vote in term 1 (and so
/// two leaders can be elected in one term).
#[test]
fn bug_vote_twice_grants_two_votes_in_one_term() {
    let mut c = Cluster::with(3, |cfg| cfg.bugs = bugs(|b| b.vote_twice = true));
    c.inject(1, 2, request_vote(1, 0, 0));
    c.inject(1, 3, request_vote(1, 0, 0));
    assert_eq!(c.sent_by(1), vec![(2, vote(1, true)), (3, vote(1, true))]);
    let grants: Vec<_> = c.node(1).facts.iter().filter(|f| matches!(f, RaftFact::VoteGranted { term: 1, .. })).collect();
    assert_eq!(grants.len(), 2);

    // In a group of 3 with member 1 voting twice, members 2 and 3 both lead term 1.
    let mut c = Cluster::with(3, |cfg| cfg.bugs = bugs(|b| b.vote_twice = true));
    c.fire(2, TIMER_ELECTION);
    c.fire(3, TIMER_ELECTION);
    c.deliver(|e| e.to == 1);
    c.deliver(|e| e.kind() == "RequestVoteResponse");
    assert!(c.raft(2).is_leader() && c.raft(3).is_leader());
    assert_eq!((c.raft(2).term(), c.raft(3).term()), (1, 1));
}

/// `ack_before_fsync` breaks Figure 2's "persist before responding": the grant leaves while the vote
/// is only in memory (a crash now forgets it), and the leader counts its own unsynced entries.
#[test]
fn bug_ack_before_fsync_acknowledges_what_is_not_durable() {
    let mut c = Cluster::with(3, |cfg| cfg.bugs = bugs(|b| b.ack_before_fsync = true));
    c.hold(2, true);
    c.fire(1, TIMER_ELECTION);
    c.deliver(|e| e.to == 2);
    assert_eq!(c.sent_by(2), vec![(1, vote(1, true))]);
    assert_eq!(c.durable(2).voted_for(), None, "the announced vote is not on disk");
    c.hold(2, false);
    c.sync(2);
    c.settle();

    c.hold(1, true);
    c.hold(2, true);
    let index = c.propose(1, cmd(1));
    c.deliver(|e| e.to == 2);
    assert_eq!(c.sent_by(2), vec![(1, append_ok(1, index))], "acknowledged before the fsync");
    c.deliver(|e| e.to == 1);
    assert_eq!(c.raft(1).commit_index(), index, "committed while on no disk at all");
    assert_eq!((c.durable(1).log().last_index(), c.durable(2).log().last_index()), (index - 1, index - 1));
}

/// `commit_old_term_by_counting` is the Figure 8 bug of §5.4.2: an old-term entry on a majority is
/// counted as committed, and then overwritten: two different entries get applied at index 2.
#[test]
fn bug_commit_old_term_by_counting_is_figure_8() {
    let bug = bugs(|b| b.commit_old_term_by_counting = true);
    check_counting(bug, &[2, 1, 0, 3, 3, 2]);
    let c = figure_8(bug);
    assert_eq!(applied_at(&c, 1, 2), vec![1], "S1 applied (2,1)");
    assert_eq!(applied_at(&c, 5, 2), vec![2], "S5 applied (2,2) at the same index");
}

/// `skip_prev_log_check` breaks §5.3's consistency check: the follower appends after a previous entry
/// that does not match, so its log is no longer a prefix-consistent copy (Log Matching broken).
#[test]
fn bug_skip_prev_log_check_appends_after_a_mismatch() {
    for bug in [false, true] {
        let mut c = Cluster::with(3, |cfg| cfg.bugs = bugs(|b| b.skip_prev_log_check = bug));
        c.inject(1, 2, append(2, (0, 0), log_of(&[1, 2], "a"), 0));
        c.net.clear();
        c.inject(1, 3, append(3, (2, 1), vec![entry(3, 3, "b")], 0));
        let sent = c.sent_by(1);
        let [(3, RaftMessage::AppendEntriesResponse { success, .. })] = sent.as_slice() else { panic!("{sent:?}") };
        assert_eq!(*success, bug);
        let want = if bug { vec![(1, 1), (2, 2), (3, 3)] } else { vec![(1, 1), (2, 2)] };
        assert_eq!(ids(c.raft(1)), want, "bug {bug}");
    }
}

/// `election_timer_not_rearmed` breaks §5.2's liveness: after a split vote no candidate has an
/// election timer pending, so no new election ever starts.
#[test]
fn bug_election_timer_not_rearmed_leaves_a_split_vote_stuck() {
    let mut c = Cluster::with(3, |cfg| cfg.bugs = bugs(|b| b.election_timer_not_rearmed = true));
    for id in 1..=3 {
        c.fire(id, TIMER_ELECTION);
    }
    c.settle();
    for id in 1..=3 {
        assert!(matches!(c.raft(id).role(), RoleState::Candidate { .. }));
        assert!(c.node(id).timers.is_empty(), "member {id} waits for nothing");
    }
}

/// `leader_drops_uncommitted_tail` breaks §5.3 Leader Append-Only: the new leader deletes entries of
/// its own log beyond its commit index, entries that may well be committed already.
#[test]
fn bug_leader_drops_uncommitted_tail_deletes_from_its_own_log() {
    for bug in [false, true] {
        let mut c = leader_with_log(3, &[1, 1], |cfg| cfg.bugs = bugs(|b| b.leader_drops_uncommitted_tail = bug));
        let want = if bug { vec![(1, 2)] } else { vec![(1, 1), (2, 1), (3, 2)] };
        assert_eq!(ids(c.raft(1)), want, "bug {bug}");
        assert_eq!(c.take_facts(1).contains(&RaftFact::Truncated { from_index: 1 }), bug);
    }
}

/// `apply_uncommitted` breaks §5.3 "once a follower learns that a log entry is committed, it applies
/// the entry": entries get applied before anyone committed them.
#[test]
fn bug_apply_uncommitted_applies_before_the_commit() {
    for bug in [false, true] {
        let mut c = Cluster::with(3, |cfg| cfg.bugs = bugs(|b| b.apply_uncommitted = bug));
        c.inject(1, 2, append(1, (0, 0), log_of(&[1, 1], "a"), 0));
        let r = c.raft(1);
        assert_eq!(r.commit_index(), 0);
        assert_eq!(r.last_applied(), if bug { 2 } else { 0 }, "bug {bug}");
        assert_eq!(r.state_machine().get("a2").is_some(), bug);
    }
}

/// `silent_term_change` hides a §5.1 term change from the checkers: the term moves on, no HardState
/// fact says so.
#[test]
fn bug_silent_term_change_hides_the_new_term() {
    for bug in [false, true] {
        let mut c = Cluster::with(3, |cfg| cfg.bugs = bugs(|b| b.silent_term_change = bug));
        c.take_facts(1);
        c.inject(1, 2, append(4, (0, 0), vec![], 0));
        assert_eq!(c.raft(1).term(), 4);
        assert_eq!(c.take_facts(1).contains(&RaftFact::HardState { term: 4, voted_for: None }), !bug);
        assert_eq!(c.durable(1).term(), 4, "the term is on disk either way");
    }
}

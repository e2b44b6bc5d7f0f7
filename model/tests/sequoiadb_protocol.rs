//! Tests of the SequoiaDB replica-group model, one protocol rule at a time (reference:
//! ../shared/reference/sequoiadb-replica-group.md, cited per test by section), in the manner of
//! `raft_paper.rs`: the data nodes are driven by hand-written inputs through a small harness.
//!
//! The harness: every node has its own `MemoryDisk` (requests take effect at once); the network is
//! a queue delivered in order, except to nodes that are down or cut off; the catalog is answered
//! by the harness itself (a controller at `CATALOG`); time moves by ticks of the node's timer; a
//! client at `CLIENT` collects answers. Everything is deterministic.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ccrsim_model::core::io::{Carries, DiskOp, MemoryDisk, Millis, NodeId, Output, part};
use ccrsim_model::replica::sequoiadb::catalog::CollectionEntry;
use ccrsim_model::replica::sequoiadb::fact::{ConsultOutcome, RecordSource, StepDownCause, SyncStatus};
use ccrsim_model::replica::sequoiadb::message::{Beat, CatalogInfo};
use ccrsim_model::replica::sequoiadb::node::storage;
use ccrsim_model::replica::sequoiadb::node::{TICK_MS, TIMER_NODE_TICK};
use ccrsim_model::replica::sequoiadb::types::{DbStatus, DocValue, NodeRole, ReplSize, SeqError, WriteOp};
use ccrsim_model::replica::sequoiadb::{Lsn, SeqBugs, SeqDataNode, SeqFact, SeqMessage, SeqNodeConfig};

const CATALOG: NodeId = 100;
const CLIENT: NodeId = 200;
const GROUP: u32 = 1;
const COLL: u32 = 1;

#[derive(Debug)]
struct Msg(SeqMessage);
impl Carries<SeqMessage, part::Replica> for Msg {
    fn carry(m: SeqMessage) -> Self {
        Msg(m)
    }
}
#[derive(Debug)]
struct Fact(SeqFact);
impl Carries<SeqFact, part::Replica> for Fact {
    fn carry(f: SeqFact) -> Self {
        Fact(f)
    }
}

type Out = Output<Msg, Fact>;

struct Cluster {
    config: SeqNodeConfig,
    members: Vec<NodeId>,
    nodes: BTreeMap<NodeId, SeqDataNode>,
    disks: BTreeMap<NodeId, MemoryDisk>,
    now: Millis,
    net: VecDeque<(NodeId, NodeId, SeqMessage)>,
    /// Nodes cut off from everyone (their messages are lost both ways).
    cut: BTreeSet<NodeId>,
    facts: Vec<(NodeId, SeqFact)>,
    answers: Vec<SeqMessage>,
    write_seq: u64,
    repl_size: ReplSize,
}

fn config(bugs: SeqBugs) -> SeqNodeConfig {
    SeqNodeConfig {
        log_file_size_bytes: 64 * 16,
        log_file_num: 3,
        log_buff_size_bytes: 64 * 8,
        wait_sync_timeout_ms: 3_000,
        bugs,
        ..SeqNodeConfig::with_controllers(vec![CATALOG])
    }
}

impl Cluster {
    fn new(n: u32) -> Self {
        Self::with(n, config(SeqBugs::default()))
    }

    fn with(n: u32, config: SeqNodeConfig) -> Self {
        let members: Vec<NodeId> = (1..=n).collect();
        let mut c = Cluster {
            config,
            members: members.clone(),
            nodes: BTreeMap::new(),
            disks: BTreeMap::new(),
            now: 0,
            net: VecDeque::new(),
            cut: BTreeSet::new(),
            facts: Vec::new(),
            answers: Vec::new(),
            write_seq: 0,
            repl_size: ReplSize::Nodes(1),
        };
        for id in members {
            c.disks.insert(id, MemoryDisk::default());
            c.boot(id);
        }
        c
    }

    fn catalog(&self) -> CatalogInfo {
        CatalogInfo {
            version: 1,
            groups: BTreeMap::from([(GROUP, self.members.iter().map(|&m| (m, 10)).collect())]),
            collections: BTreeMap::from([(COLL, CollectionEntry { group: GROUP, repl_size: self.repl_size })]),
            primaries: BTreeMap::new(),
        }
    }

    fn boot(&mut self, id: NodeId) {
        let node = SeqDataNode::boot(id, &self.config, &self.disks[&id], u64::from(id) * 7919).expect("boots");
        self.nodes.insert(id, node);
        let mut out = Out::default();
        self.nodes.get_mut(&id).unwrap().start(self.now, &mut out);
        self.absorb(id, out);
    }

    fn crash(&mut self, id: NodeId) {
        self.nodes.remove(&id);
    }

    /// Takes a node's output: its disk requests take effect, its messages go on the network, its
    /// facts are recorded, and then the completions it asked to hear of come back to it.
    fn absorb(&mut self, id: NodeId, out: Out) {
        assert!(out.halt.is_none(), "node {id} halted: {:?}", out.halt);
        let done = self.disks.get_mut(&id).unwrap().apply(&out.disk);
        for (to, Msg(m)) in out.sends {
            self.net.push_back((id, to, m));
        }
        self.facts.extend(out.facts.into_iter().map(|Fact(f)| (id, f)));
        for (request, completion) in out.disk.iter().zip(done) {
            assert!(completion.result.is_ok(), "disk request failed: {completion:?}");
            if request.report_success
                && let Some(node) = self.nodes.get_mut(&id)
            {
                let mut more = Out::default();
                node.on_disk(self.now, completion, &mut more);
                self.absorb(id, more);
            }
        }
    }

    fn deliver_all(&mut self) {
        let mut budget = 100_000;
        while let Some((from, to, msg)) = self.net.pop_front() {
            budget -= 1;
            assert!(budget > 0, "the network never quiets");
            if self.cut.contains(&from) || self.cut.contains(&to) {
                continue;
            }
            if to == CATALOG {
                if let SeqMessage::CatalogQuery { req, .. } = msg {
                    self.net.push_back((CATALOG, from, SeqMessage::CatalogReply { req, info: Box::new(self.catalog()) }));
                }
                continue;
            }
            if to == CLIENT {
                self.answers.push(msg);
                continue;
            }
            let Some(node) = self.nodes.get_mut(&to) else { continue };
            let mut out = Out::default();
            node.on_message(self.now, from, msg, &mut out);
            self.absorb(to, out);
        }
    }

    fn advance(&mut self, ms: Millis) {
        let end = self.now + ms;
        while self.now < end {
            self.now += TICK_MS;
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            for id in ids {
                let mut out = Out::default();
                self.nodes.get_mut(&id).unwrap().on_timer(self.now, TIMER_NODE_TICK, &mut out);
                self.absorb(id, out);
            }
            self.deliver_all();
        }
    }

    fn primaries(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|(_, n)| n.node_role() == NodeRole::Primary).map(|(id, _)| *id).collect()
    }

    fn primary(&self) -> NodeId {
        let p = self.primaries();
        assert_eq!(p.len(), 1, "one primary expected: {p:?}");
        p[0]
    }

    fn node(&self, id: NodeId) -> &SeqDataNode {
        &self.nodes[&id]
    }

    /// Sends a write to `to` and returns its answer, if any came within `wait` ms.
    fn write(&mut self, to: NodeId, id: u64, op: WriteOp, wait: Millis) -> Option<Result<(Lsn, Vec<NodeId>), SeqError>> {
        self.write_seq += 1;
        let write = (9, self.write_seq);
        let msg = SeqMessage::WriteReq { write, collection: COLL, id, op, repl_size: self.repl_size };
        self.net.push_back((CLIENT, to, msg));
        self.deliver_all();
        let mut waited = 0;
        loop {
            let found = self.answers.iter().position(|a| matches!(a, SeqMessage::WriteRes { write: w, .. } if *w == write));
            if let Some(i) = found {
                let SeqMessage::WriteRes { result, .. } = self.answers.remove(i) else { unreachable!() };
                return Some(result);
            }
            if waited >= wait {
                return None;
            }
            self.advance(TICK_MS);
            waited += TICK_MS;
        }
    }

    fn facts_of(&self, pick: impl Fn(&SeqFact) -> bool) -> Vec<(NodeId, SeqFact)> {
        self.facts.iter().filter(|(_, f)| pick(f)).cloned().collect()
    }

    /// Elects a primary and returns it.
    fn settle(&mut self) -> NodeId {
        self.advance(12_000);
        self.primary()
    }
}

fn incr() -> WriteOp {
    WriteOp::Increment { delta: 1 }
}

// --- section 7: the vote machine

#[test]
fn a_group_elects_one_primary_that_bumps_the_version() {
    let mut c = Cluster::new(3);
    let p = c.settle();
    let became = c.facts_of(|f| matches!(f, SeqFact::BecamePrimary { .. }));
    assert_eq!(became.len(), 1, "{became:?}");
    let SeqFact::BecamePrimary { version, votes, group_size, end, .. } = &became[0].1 else { unreachable!() };
    assert_eq!((*version, *group_size, *end), (1, 3, Lsn::INVALID));
    assert!(votes.len() >= 2 && votes.contains(&p));
    assert_eq!(c.primary_version(p), Some(1));
}

impl Cluster {
    fn primary_version(&self, id: NodeId) -> Option<u32> {
        self.node(id).primary_version()
    }
}

#[test]
fn a_one_node_group_elects_itself() {
    let mut c = Cluster::new(1);
    c.advance(1_000);
    assert_eq!(c.primary(), 1);
}

#[test]
fn a_new_primary_takes_a_higher_version_and_its_records_carry_it() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::Nodes(3);
    let p = c.settle();
    c.write(p, 1, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    c.crash(p);
    c.advance(15_000);
    let q = c.primary();
    assert_ne!(p, q);
    assert_eq!(c.primary_version(q), Some(2));
    c.repl_size = ReplSize::Nodes(2);
    let (lsn, _) = c.write(q, 1, incr(), 5_000).unwrap().unwrap();
    assert_eq!(lsn, Lsn::new(2, 64));
}

#[test]
fn a_node_behind_an_alive_node_does_not_stand() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::Nodes(2);
    let p = c.settle();
    let lagging = *c.members.iter().find(|&&n| n != p).unwrap();
    c.cut.insert(lagging);
    c.write(p, 1, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    c.crash(p);
    c.cut.remove(&lagging);
    c.advance(30_000);
    assert_ne!(c.primary(), lagging);
    assert!(c.facts_of(|f| matches!(f, SeqFact::BecamePrimary { at, .. } if at.node == lagging)).is_empty());
}

#[test]
fn launch_conditions_no_primary_a_majority_and_no_alive_node_ahead() {
    let (mut node, mut out) = lone_node(1, &[1, 2, 3]);
    assert_eq!(node.launch_refusal(200), Some("no alive majority"));
    node.on_message(200, 2, beat(NodeRole::Primary, SyncStatus::Peer), &mut out);
    assert_eq!(node.launch_refusal(300), Some("a primary is known"));
    let ahead = Beat { end: Lsn::new(1, 0), ..beat_of(NodeRole::Secondary) };
    node.on_message(300, 2, SeqMessage::Beat(ahead), &mut out);
    assert_eq!(node.launch_refusal(400), Some("an alive node has a higher LSN"));
    node.on_message(400, 2, beat(NodeRole::Secondary, SyncStatus::Peer), &mut out);
    assert_eq!(node.launch_refusal(500), None);
    assert_eq!(node.launch_refusal(500 + 7_001), Some("no alive majority"), "beats older than sharingbreak do not count");
}

fn beat_of(role: NodeRole) -> Beat {
    let SeqMessage::Beat(b) = beat(role, SyncStatus::Peer) else { unreachable!() };
    b
}

#[test]
fn a_primary_without_an_alive_majority_steps_down() {
    let mut c = Cluster::new(3);
    let p = c.settle();
    for n in c.members.clone() {
        if n != p {
            c.crash(n);
        }
    }
    c.advance(11_000);
    assert!(c.primaries().is_empty());
    let down = c.facts_of(|f| matches!(f, SeqFact::SteppedDown { why: StepDownCause::NoMajority, .. }));
    assert_eq!(down.len(), 1);
}

// --- section 8: ReplSize

#[test]
fn repl_size_is_confirmed_by_as_many_nodes() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::All;
    let p = c.settle();
    let (lsn, confirmed) = c.write(p, 1, WriteOp::Insert { counter: 5 }, 5_000).unwrap().unwrap();
    assert_eq!(confirmed.len(), 3);
    assert!(lsn.is_valid());
    let answered = c.facts_of(|f| matches!(f, SeqFact::WriteAnswered { error: None, .. }));
    assert_eq!(answered.len(), 1);
}

#[test]
fn too_few_alive_nodes_refuse_the_write_before_it_is_written() {
    let mut c = Cluster::new(5);
    c.repl_size = ReplSize::All;
    let p = c.settle();
    let other = *c.members.iter().find(|&&n| n != p).unwrap();
    c.crash(other);
    c.advance(8_000);
    let before = c.facts_of(|f| matches!(f, SeqFact::RecordWritten { .. })).len();
    assert_eq!(c.write(p, 1, WriteOp::Insert { counter: 0 }, 1_000), Some(Err(SeqError::NodeNotEnough)));
    assert_eq!(c.facts_of(|f| matches!(f, SeqFact::RecordWritten { .. })).len(), before, "nothing was written");
}

#[test]
fn an_unconfirmed_write_times_out_and_is_not_undone() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::All;
    let p = c.settle();
    let other = *c.members.iter().find(|&&n| n != p).unwrap();
    c.crash(other);
    // Still counted alive (sharingbreak 7 s): written, then unconfirmed past waitSyncTimeout (3 s).
    let answer = c.write(p, 1, WriteOp::Insert { counter: 0 }, 5_000);
    assert_eq!(answer, Some(Err(SeqError::Timeout)));
    assert!(c.node(p).docs().contains_key(&(COLL, 1)), "a timeout does not undo the write");
    assert!(c.node(p).log().end().is_valid());
}

#[test]
fn a_write_unconfirmed_once_a_node_is_gone_fails_wait_sync() {
    let mut c = Cluster::with(3, SeqNodeConfig { wait_sync_timeout_ms: 9_000, ..config(SeqBugs::default()) });
    c.repl_size = ReplSize::All;
    let p = c.settle();
    let other = *c.members.iter().find(|&&n| n != p).unwrap();
    c.crash(other);
    assert_eq!(c.write(p, 1, WriteOp::Insert { counter: 0 }, 10_000), Some(Err(SeqError::WaitSyncFailed)));
}

// --- sections 3, 4: sync

#[test]
fn secondaries_replay_the_primarys_log_and_choose_it_as_a_peer() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::Nodes(3);
    let p = c.settle();
    for i in 0..5 {
        c.write(p, i, WriteOp::Insert { counter: i as i64 }, 5_000).unwrap().unwrap();
    }
    c.advance(3_000);
    for n in c.members.clone() {
        assert_eq!(c.node(n).log().end(), c.node(p).log().end());
        assert_eq!(c.node(n).docs(), c.node(p).docs());
    }
    let chosen = c.facts_of(|f| matches!(f, SeqFact::SyncSourceChosen { .. }));
    assert!(chosen.iter().all(|(_, f)| matches!(f, SeqFact::SyncSourceChosen { source, .. } if *source == p)), "{chosen:?}");
    let replayed = c.facts_of(|f| matches!(f, SeqFact::RecordWritten { source: RecordSource::Replayed { .. }, .. }));
    assert_eq!(replayed.len(), 10);
}

/// A node fed by hand: it knows its group and has heard beats.
fn lone_node(id: NodeId, members: &[NodeId]) -> (SeqDataNode, Out) {
    let cfg = config(SeqBugs::default());
    let disk = MemoryDisk::default();
    let mut node = SeqDataNode::boot(id, &cfg, &disk, 1).unwrap();
    let mut out = Out::default();
    node.start(0, &mut out);
    let info = CatalogInfo {
        version: 1,
        groups: BTreeMap::from([(GROUP, members.iter().map(|&m| (m, 10)).collect())]),
        collections: BTreeMap::new(),
        primaries: BTreeMap::new(),
    };
    node.on_timer(TICK_MS, TIMER_NODE_TICK, &mut out);
    node.on_message(TICK_MS, CATALOG, SeqMessage::CatalogReply { req: 1, info: Box::new(info) }, &mut out);
    (node, out)
}

fn beat(role: NodeRole, status: SyncStatus) -> SeqMessage {
    SeqMessage::Beat(Beat {
        group: GROUP,
        end: Lsn::INVALID,
        role,
        version: 1,
        status: DbStatus::Normal,
        startup_ok: true,
        sync_status: status,
    })
}

#[test]
fn the_sync_source_is_a_peer_primary_first_then_a_peer_then_rc_then_the_primary() {
    let (mut node, mut out) = lone_node(1, &[1, 2, 3, 4]);
    let now = 200;
    node.on_message(now, 2, beat(NodeRole::Primary, SyncStatus::Peer), &mut out);
    node.on_message(now, 3, beat(NodeRole::Secondary, SyncStatus::Peer), &mut out);
    node.on_message(now, 4, beat(NodeRole::Secondary, SyncStatus::RemoteCatchup), &mut out);
    assert_eq!(node.choose_source(now), Some((2, SyncStatus::Peer)), "the primary among peers");
    node.on_message(now, 2, beat(NodeRole::Primary, SyncStatus::RemoteCatchup), &mut out);
    assert_eq!(node.choose_source(now), Some((3, SyncStatus::Peer)), "a peer before any RC");
    node.on_message(now, 3, beat(NodeRole::Secondary, SyncStatus::None), &mut out);
    assert_eq!(node.choose_source(now), Some((2, SyncStatus::RemoteCatchup)), "the primary among RCs");
    node.on_message(now, 2, beat(NodeRole::Primary, SyncStatus::None), &mut out);
    assert_eq!(node.choose_source(now), Some((4, SyncStatus::RemoteCatchup)));
    node.on_message(now, 4, beat(NodeRole::Secondary, SyncStatus::None), &mut out);
    assert_eq!(node.choose_source(now), Some((2, SyncStatus::None)), "else the primary");
}

#[test]
fn a_stale_sync_res_is_ignored() {
    let (mut node, mut out) = lone_node(1, &[1, 2]);
    node.on_message(200, 2, beat(NodeRole::Primary, SyncStatus::Peer), &mut out);
    node.on_timer(3_500, TIMER_NODE_TICK, &mut out);
    let record = ccrsim_model::replica::sequoiadb::node::log::LogRecord {
        lsn: Lsn::new(1, 0),
        pre_lsn: Lsn::INVALID,
        collection: COLL,
        id: 1,
        op: WriteOp::Insert { counter: 1 },
        write: None,
        before: None,
    };
    let mut fresh = Out::default();
    node.on_message(3_600, 2, SeqMessage::SyncRes { request: 0, result: Ok(vec![record.clone()]) }, &mut fresh);
    assert!(fresh.facts.iter().all(|Fact(f)| !matches!(f, SeqFact::RecordWritten { .. })), "a stale answer replays nothing");
    let request = out
        .sends
        .iter()
        .rev()
        .find_map(|(_, Msg(m))| match m {
            SeqMessage::SyncReq { request, .. } => Some(*request),
            _ => None,
        })
        .expect("the node asked its source");
    node.on_message(3_700, 2, SeqMessage::SyncRes { request, result: Ok(vec![record]) }, &mut fresh);
    assert!(fresh.facts.iter().any(|Fact(f)| matches!(f, SeqFact::RecordWritten { .. })), "the current answer is replayed");
}

#[test]
fn beats_tell_each_receiver_whether_it_is_peer_rc_or_none() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::Nodes(2);
    let p = c.settle();
    let lagging = *c.members.iter().find(|&&n| n != p).unwrap();
    c.cut.insert(lagging);
    // 12 records: past the memory buffer (8), within the files (3 x 16).
    for i in 0..12 {
        c.write(p, i, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    }
    assert_eq!(c.node(p).log().window_status(c.node(lagging).log().end()), SyncStatus::RemoteCatchup);
    for i in 12..60 {
        c.write(p, i, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    }
    assert_eq!(c.node(p).log().window_status(c.node(lagging).log().end()), SyncStatus::None, "rolled past it");
}

// --- section 1: the log on disk

#[test]
fn the_log_rolls_over_and_keeps_its_window() {
    let mut c = Cluster::new(1);
    c.advance(1_000);
    for i in 0..100 {
        c.write(1, i, WriteOp::Insert { counter: 0 }, 1_000).unwrap().unwrap();
    }
    let rolled = c.facts_of(|f| matches!(f, SeqFact::LogRolledOver { .. }));
    assert!(rolled.len() >= 4, "{}", rolled.len());
    let log = c.node(1).log();
    assert!(log.file_begin() <= log.mem_base() && log.mem_base() <= log.end());
    assert!(log.len() <= 3 * 16);
    // A reboot finds the same log and documents.
    let (end, begin, docs) = (log.end(), log.file_begin(), c.node(1).docs().clone());
    c.crash(1);
    c.boot(1);
    c.advance(500);
    assert_eq!((c.node(1).log().end(), c.node(1).log().file_begin()), (end, begin));
    assert_eq!(c.node(1).docs(), &docs);
}

#[test]
fn a_torn_tail_is_dropped_at_boot() {
    let mut c = Cluster::new(1);
    c.advance(1_000);
    for i in 0..3 {
        c.write(1, i, WriteOp::Insert { counter: 0 }, 1_000).unwrap().unwrap();
    }
    c.crash(1);
    let slot = storage::slot_path(0);
    let file = c.disks.get_mut(&1).unwrap().files.get_mut(&slot).unwrap();
    let cut = file.len() - 5;
    file.truncate(cut);
    c.boot(1);
    c.advance(500);
    let booted = c.facts_of(|f| matches!(f, SeqFact::NodeBooted { .. }));
    let SeqFact::NodeBooted { torn_records, end, startup_ok, .. } = booted.last().unwrap().1 else { unreachable!() };
    assert_eq!((torn_records, end, startup_ok), (1, Lsn::new(1, 64), false));
}

// --- section 5: CONSULT

#[test]
fn an_old_primarys_unreplicated_tail_is_rolled_back_by_consult() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::Nodes(1);
    let p = c.settle();
    c.write(p, 1, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    c.advance(3_000);
    c.cut.insert(p);
    // Written on the old primary only.
    c.write_cut(p, 2);
    c.advance(15_000);
    let q = c.primaries().into_iter().find(|&n| n != p).expect("a new primary");
    c.write(q, 3, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    c.cut.remove(&p);
    c.advance(20_000);
    let rolled = c.facts_of(|f| matches!(f, SeqFact::RolledBack { .. }));
    assert_eq!(rolled.len(), 1, "{rolled:?}");
    let (at, SeqFact::RolledBack { records, kept, .. }) = &rolled[0] else { unreachable!() };
    assert_eq!((*at, records.len(), *kept), (p, 1, true));
    assert!(c.facts_of(|f| matches!(f, SeqFact::ConsultEnded { outcome: ConsultOutcome::RolledBack, .. })).len() == 1);
    assert_eq!(c.node(p).log().end(), c.node(q).log().end());
    assert_eq!(c.node(p).docs(), c.node(q).docs());
}

impl Cluster {
    /// A write delivered to a node that is cut off (the client reaches it; the group does not).
    fn write_cut(&mut self, to: NodeId, id: u64) {
        self.repl_size = ReplSize::Nodes(1);
        self.write_op_cut(to, id, WriteOp::Insert { counter: 0 });
    }

    fn write_op_cut(&mut self, to: NodeId, id: u64, op: WriteOp) {
        self.write_seq += 1;
        let msg = SeqMessage::WriteReq { write: (9, self.write_seq), collection: COLL, id, op, repl_size: self.repl_size };
        let mut out = Out::default();
        self.nodes.get_mut(&to).unwrap().on_message(self.now, CLIENT, msg, &mut out);
        self.absorb(to, out);
        self.net.retain(|(from, _, _)| *from != to);
    }
}

// --- section 6: full sync

#[test]
fn a_crash_restart_full_syncs_and_the_cursor_splits_copy_from_forwarding() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::Nodes(1);
    let p = c.settle();
    for i in 0..20 {
        c.write(p, i, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    }
    c.advance(3_000);
    let target = *c.members.iter().find(|&&n| n != p).unwrap();
    c.crash(target);
    c.boot(target);
    // Writes while the copy runs, across the key space.
    for round in 0..10 {
        c.advance(200);
        for i in [0, 9, 19] {
            let _ = c.write(p, i + round % 2, incr(), 0);
        }
    }
    c.advance(20_000);
    let ended = c.facts_of(|f| matches!(f, SeqFact::FullSyncEnded { completed: true, .. }));
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(c.node(target).status(), DbStatus::Normal);
    assert_eq!(c.node(target).docs(), c.node(p).docs(), "every write delivered once: by the copy or by the log");
    // Every forwarded record's document was copied before it.
    let mut copied = BTreeSet::new();
    let mut forwarded = 0;
    for (at, f) in &c.facts {
        match f {
            SeqFact::FullSyncDocCopied { id, .. } if *at == target => {
                copied.insert(*id);
            }
            SeqFact::FullSyncRecordForwarded { lsn, .. } if *at == target => {
                forwarded += 1;
                let r = c.node(p).log().get(*lsn).expect("the source holds it");
                assert!(copied.contains(&r.id), "record {lsn} forwarded before its document was copied");
            }
            _ => {}
        }
    }
    assert!(forwarded > 0, "some writes landed behind the cursor");
}

#[test]
fn a_node_in_full_sync_serves_no_reads() {
    let mut c = Cluster::new(3);
    let p = c.settle();
    let target = *c.members.iter().find(|&&n| n != p).unwrap();
    c.crash(target);
    c.boot(target);
    c.advance(300);
    assert_eq!(c.node(target).status(), DbStatus::FullSync);
    c.net.push_back((CLIENT, target, SeqMessage::ReadReq { read: (9, 1), collection: COLL, id: 1 }));
    c.deliver_all();
    assert!(matches!(c.answers.last(), Some(SeqMessage::ReadRes { result: Err(SeqError::FullSync), .. })));
}

#[test]
fn documents_survive_on_every_node_through_failovers() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::Nodes(2);
    let mut p = c.settle();
    let mut expected: BTreeMap<u64, i64> = BTreeMap::new();
    for round in 0..3 {
        for i in 0..5 {
            let op = if expected.contains_key(&i) { incr() } else { WriteOp::Insert { counter: 0 } };
            if let Some(Ok(_)) = c.write(p, i, op, 5_000) {
                *expected.entry(i).or_insert(-1) += 1;
            }
        }
        c.crash(p);
        // Long enough for two candidates that stood in step to fall out of step.
        c.advance(30_000);
        let old = p;
        p = c.primary();
        c.boot(old);
        c.advance(15_000);
        let _ = round;
    }
    c.advance(10_000);
    for n in c.members.clone() {
        let counters: BTreeMap<u64, i64> = c.node(n).docs().iter().map(|((_, id), v): (&(u32, u64), &DocValue)| (*id, v.counter)).collect();
        assert_eq!(counters, expected, "node {n}");
    }
}

#[test]
fn disk_ops_are_only_files_of_the_node() {
    let ops = storage::meta_ops(Default::default());
    assert!(ops.iter().all(|o| o.path().starts_with("seq/")));
    assert!(matches!(ops.last(), Some(DiskOp::Rename { .. })));
}

// --- planted bugs: each makes the wrong thing happen where a checker can see it

fn bugged(b: SeqBugs) -> SeqNodeConfig {
    config(b)
}

#[test]
fn bug_skip_version_bump_gives_two_primaries_one_version() {
    let mut c = Cluster::with(3, bugged(SeqBugs { skip_version_bump: true, ..SeqBugs::default() }));
    c.repl_size = ReplSize::Nodes(3);
    let p = c.settle();
    c.write(p, 1, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    c.crash(p);
    c.advance(30_000);
    let versions: Vec<u32> = c
        .facts_of(|f| matches!(f, SeqFact::BecamePrimary { .. }))
        .iter()
        .map(|(_, f)| if let SeqFact::BecamePrimary { version, .. } = f { *version } else { 0 })
        .collect();
    assert_eq!(versions, vec![1, 1]);
}

#[test]
fn bug_voter_ignores_lsn_accepts_a_candidate_behind_it() {
    for (bugs, expected) in [(SeqBugs::default(), false), (SeqBugs { voter_ignores_lsn: true, ..SeqBugs::default() }, true)] {
        let cfg = bugged(bugs);
        let mut node = SeqDataNode::boot(1, &cfg, &MemoryDisk::default(), 1).unwrap();
        let mut out = Out::default();
        node.start(0, &mut out);
        node.on_timer(TICK_MS, TIMER_NODE_TICK, &mut out);
        let info = CatalogInfo {
            version: 1,
            groups: BTreeMap::from([(GROUP, BTreeMap::from([(1, 10), (2, 10), (3, 10)]))]),
            collections: BTreeMap::new(),
            primaries: BTreeMap::new(),
        };
        node.on_message(TICK_MS, CATALOG, SeqMessage::CatalogReply { req: 1, info: Box::new(info) }, &mut out);
        // Node 1 holds a record from primary 2, which then goes silent.
        node.on_message(200, 2, beat(NodeRole::Primary, SyncStatus::Peer), &mut out);
        node.on_timer(3_500, TIMER_NODE_TICK, &mut out);
        let request = out
            .sends
            .iter()
            .rev()
            .find_map(|(_, Msg(m))| if let SeqMessage::SyncReq { request, .. } = m { Some(*request) } else { None })
            .unwrap();
        let record = ccrsim_model::replica::sequoiadb::node::log::LogRecord {
            lsn: Lsn::new(1, 0),
            pre_lsn: Lsn::INVALID,
            collection: COLL,
            id: 1,
            op: WriteOp::Insert { counter: 1 },
            write: None,
            before: None,
        };
        node.on_message(3_600, 2, SeqMessage::SyncRes { request, result: Ok(vec![record]) }, &mut out);
        assert_eq!(node.log().end(), Lsn::new(1, 0));
        let mut reply = Out::default();
        node.on_message(20_000, 3, SeqMessage::Ballot { round: 1, id: 7, end: Lsn::INVALID, weight: 100, version: 0 }, &mut reply);
        let accepted = reply.sends.iter().any(|(_, Msg(m))| matches!(m, SeqMessage::BallotReply { accept: true, .. }));
        assert_eq!(accepted, expected, "bugs {bugs:?}");
    }
}

#[test]
fn bug_ack_before_repl_size_answers_ok_short_of_a_confirmation() {
    let mut c = Cluster::with(3, bugged(SeqBugs { ack_before_repl_size: true, ..SeqBugs::default() }));
    c.repl_size = ReplSize::Nodes(2);
    let p = c.settle();
    for n in c.members.clone() {
        if n != p {
            c.cut.insert(n);
        }
    }
    let (_, confirmed) = c.write(p, 1, WriteOp::Insert { counter: 0 }, 1_000).unwrap().unwrap();
    assert_eq!(confirmed, vec![p], "Ok with the primary alone for ReplSize 2");
}

fn full_sync_under_writes(bugs: SeqBugs) -> (Cluster, NodeId, NodeId) {
    let mut c = Cluster::with(3, bugged(bugs));
    c.repl_size = ReplSize::Nodes(1);
    let p = c.settle();
    for i in 0..20 {
        c.write(p, i, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    }
    c.advance(3_000);
    let target = *c.members.iter().find(|&&n| n != p).unwrap();
    c.crash(target);
    c.boot(target);
    for _ in 0..10 {
        c.advance(200);
        for i in [0, 19] {
            let _ = c.write(p, i, incr(), 0);
        }
        c.net.push_back((CLIENT, target, SeqMessage::ReadReq { read: (9, c.now), collection: COLL, id: 1 }));
    }
    c.advance(20_000);
    (c, p, target)
}

#[test]
fn bug_forward_uncopied_writes_forwards_a_record_before_its_document_is_copied() {
    let (c, p, target) = full_sync_under_writes(SeqBugs { forward_uncopied_writes: true, ..SeqBugs::default() });
    let mut copied = BTreeSet::new();
    let mut early = 0;
    for (at, f) in &c.facts {
        match f {
            SeqFact::FullSyncDocCopied { id, .. } if *at == target => {
                copied.insert(*id);
            }
            SeqFact::FullSyncRecordForwarded { lsn, .. } if *at == target && !copied.contains(&c.node(p).log().get(*lsn).unwrap().id) => {
                early += 1;
            }
            _ => {}
        }
    }
    assert!(early > 0);
}

#[test]
fn bug_serve_reads_in_full_sync_serves_half_copied_data() {
    let served = |bugs| {
        let (c, _, target) = full_sync_under_writes(bugs);
        c.facts_of(|f| matches!(f, SeqFact::ReadServed { status: DbStatus::FullSync, at, .. } if at.node == target)).len()
    };
    assert_eq!(served(SeqBugs::default()), 0);
    assert!(served(SeqBugs { serve_reads_in_full_sync: true, ..SeqBugs::default() }) > 0);
}

fn diverged(bugs: SeqBugs) -> (Cluster, NodeId, NodeId) {
    let mut c = Cluster::with(3, bugged(bugs));
    c.repl_size = ReplSize::Nodes(1);
    let p = c.settle();
    c.write(p, 1, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    c.advance(3_000);
    c.cut.insert(p);
    c.write_cut(p, 2);
    c.advance(15_000);
    let q = c.primaries().into_iter().find(|&n| n != p).expect("a new primary");
    c.write(q, 3, WriteOp::Insert { counter: 0 }, 5_000).unwrap().unwrap();
    c.cut.remove(&p);
    c.advance(20_000);
    (c, p, q)
}

#[test]
fn bug_consult_skips_hash_check_keeps_a_divergent_tail() {
    let (c, p, q) = diverged(SeqBugs { consult_skips_hash_check: true, ..SeqBugs::default() });
    let ended = c.facts_of(|f| matches!(f, SeqFact::ConsultEnded { at, outcome: ConsultOutcome::Matched, .. } if at.node == p));
    let (_, SeqFact::ConsultEnded { return_to, .. }) = &ended[0] else { panic!("no consult matched: {ended:?}") };
    assert!(c.node(q).log().get(*return_to).is_none(), "the return point {return_to} is not in the source's log");
    assert!(c.facts_of(|f| matches!(f, SeqFact::RolledBack { .. })).is_empty());
}

// --- section 9: the client's sessions

use ccrsim_model::replica::sequoiadb::client::TIMER_CLIENT_TICK;
use ccrsim_model::replica::sequoiadb::fact::{ReadOutcome, WriteOutcome};
use ccrsim_model::replica::sequoiadb::types::PreferredInstance;
use ccrsim_model::replica::sequoiadb::{SeqClient, SeqClientConfig, SeqMix};

/// Drives one client session against a group {1, 2, 3} whose primary is 2; `answer` answers every
/// write. Returns the facts.
fn drive_client(bugs: SeqBugs, answer: impl Fn(u64) -> Result<(Lsn, Vec<NodeId>), SeqError>) -> Vec<SeqFact> {
    let config = SeqClientConfig {
        sessions: 1,
        issue_interval_ms: 100,
        mix: SeqMix { insert: 0, increment: 1, delete: 0, read: 1 },
        preferred_instance: PreferredInstance::Secondary,
        preferred_period_ms: 60_000,
        bugs,
        ..SeqClientConfig::with_controllers(vec![CATALOG])
    };
    let mut client = SeqClient::new(7, &config, 3);
    let mut out = Out::default();
    client.start(&mut out);
    let info = CatalogInfo {
        version: 1,
        groups: BTreeMap::from([(GROUP, BTreeMap::from([(1, 10), (2, 10), (3, 10)]))]),
        collections: BTreeMap::from([(COLL, CollectionEntry { group: GROUP, repl_size: ReplSize::Nodes(2) })]),
        primaries: BTreeMap::from([(GROUP, (2, 1))]),
    };
    let mut facts = Vec::new();
    let mut n = 0;
    for now in (50..5_000).step_by(50) {
        client.on_timer(now, TIMER_CLIENT_TICK, &mut out);
        let sends: Vec<(NodeId, SeqMessage)> = out.sends.drain(..).map(|(to, Msg(m))| (to, m)).collect();
        for (to, m) in sends {
            let reply = match m {
                SeqMessage::CatalogQuery { req, .. } => SeqMessage::CatalogReply { req, info: Box::new(info.clone()) },
                SeqMessage::WriteReq { write, .. } => {
                    n += 1;
                    SeqMessage::WriteRes { write, node: to, result: answer(n), primary: Some(2) }
                }
                SeqMessage::ReadReq { read, .. } => SeqMessage::ReadRes { read, node: to, result: Ok(None) },
                _ => continue,
            };
            client.on_message(now, reply, &mut out);
        }
        facts.extend(out.facts.drain(..).map(|Fact(f)| f));
    }
    facts
}

#[test]
fn a_session_reads_from_the_primary_it_wrote_through_while_the_period_lasts() {
    let facts = drive_client(SeqBugs::default(), |n| Ok((Lsn::new(1, n * 64), vec![1, 2])));
    let mut wrote = false;
    let mut reads = 0;
    for f in &facts {
        match f {
            SeqFact::WriteEnded { outcome: WriteOutcome::Ok { .. }, .. } => wrote = true,
            SeqFact::ReadInvoked { sticky, .. } if wrote => {
                reads += 1;
                assert_eq!(*sticky, Some(2), "read-your-writes: the primary written through");
            }
            _ => {}
        }
    }
    assert!(reads > 5);
}

#[test]
fn bug_sticky_write_not_recorded_reads_from_another_node() {
    let facts = drive_client(SeqBugs { sticky_write_not_recorded: true, ..SeqBugs::default() }, |n| Ok((Lsn::new(1, n * 64), vec![1, 2])));
    let mut wrote = false;
    let elsewhere = facts.iter().any(|f| match f {
        SeqFact::WriteEnded { outcome: WriteOutcome::Ok { .. }, .. } => {
            wrote = true;
            false
        }
        SeqFact::ReadEnded { outcome: ReadOutcome::Value { node, .. }, .. } => wrote && *node != 2,
        _ => false,
    });
    assert!(elsewhere);
}

#[test]
fn write_outcomes_are_ok_failed_or_indeterminate_by_the_error() {
    let facts = drive_client(SeqBugs::default(), |n| match n % 4 {
        0 => Err(SeqError::WaitSyncFailed),
        1 => Err(SeqError::Timeout),
        2 => Err(SeqError::NodeNotEnough),
        _ => Ok((Lsn::new(1, n * 64), vec![1, 2])),
    });
    let outcomes: Vec<&WriteOutcome> =
        facts.iter().filter_map(|f| if let SeqFact::WriteEnded { outcome, .. } = f { Some(outcome) } else { None }).collect();
    assert!(outcomes.contains(&&WriteOutcome::Indeterminate(Some(SeqError::WaitSyncFailed))));
    assert!(outcomes.contains(&&WriteOutcome::Indeterminate(Some(SeqError::Timeout))));
    assert!(outcomes.contains(&&WriteOutcome::Failed(SeqError::NodeNotEnough)));
    assert!(outcomes.iter().any(|o| matches!(o, WriteOutcome::Ok { node: 2, .. })));
}

#[test]
fn after_every_node_crashed_they_rebuild_locally_and_elect_again() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::All;
    let p = c.settle();
    c.write(p, 1, WriteOp::Insert { counter: 4 }, 5_000).unwrap().unwrap();
    for n in c.members.clone() {
        c.crash(n);
    }
    for n in c.members.clone() {
        c.boot(n);
    }
    c.advance(30_000);
    let q = c.primary();
    assert!(c.facts_of(|f| matches!(f, SeqFact::DbStatusChanged { status: DbStatus::Rebuilding, .. })).len() >= 2);
    for n in c.members.clone() {
        assert_eq!(c.node(n).status(), DbStatus::Normal);
        assert_eq!(c.node(n).docs().get(&(COLL, 1)).map(|d| d.counter), Some(4), "node {n}");
    }
    assert_eq!(c.write(q, 1, incr(), 5_000).map(|r| r.is_ok()), Some(true));
}

// --- a seeded storm of crashes, partitions and writes: the protocol's invariants hold

use ccrsim_model::core::rng::SplitMix64;

fn storm(seed: u64, size: u32) -> Cluster {
    storm_with(seed, size, SeqBugs::default())
}

fn storm_with(seed: u64, size: u32, bugs: SeqBugs) -> Cluster {
    let mut rng = SplitMix64::new(seed);
    let mut c = Cluster::with(size, bugged(bugs));
    c.settle();
    for step in 0..120 {
        match rng.range(0, 10) {
            0 => {
                let n = rng.range(1, u64::from(size) + 1) as NodeId;
                if c.nodes.contains_key(&n) {
                    c.crash(n);
                } else {
                    c.boot(n);
                }
            }
            1 => {
                let n = rng.range(1, u64::from(size) + 1) as NodeId;
                if !c.cut.remove(&n) {
                    c.cut.insert(n);
                }
            }
            _ => {
                for _ in 0..3 {
                    c.repl_size = [ReplSize::Nodes(1), ReplSize::Nodes(2), ReplSize::All, ReplSize::AllAlive][rng.range(0, 4) as usize];
                    let primaries = c.primaries();
                    let to = if primaries.is_empty() {
                        rng.range(1, u64::from(size) + 1) as NodeId
                    } else {
                        primaries[rng.range(0, primaries.len() as u64) as usize]
                    };
                    let id = rng.range(1, 6);
                    let op = [WriteOp::Insert { counter: step }, incr(), incr(), WriteOp::Delete][rng.range(0, 4) as usize];
                    if c.cut.contains(&to) && c.nodes.contains_key(&to) {
                        c.write_op_cut(to, id, op);
                    } else if c.nodes.contains_key(&to) {
                        let _ = c.write(to, id, op, 0);
                    }
                }
            }
        }
        c.advance(rng.range(100, 1_500));
    }
    c.cut.clear();
    for n in c.members.clone() {
        if !c.nodes.contains_key(&n) {
            c.boot(n);
        }
    }
    c.advance(60_000);
    c
}

#[test]
fn a_storm_keeps_versions_unique_records_unique_and_confirmed_writes_and_ends_converged() {
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    for seed in 0..40 {
        let c = storm(seed, 3 + 2 * (seed % 2) as u32);
        for (_, f) in &c.facts {
            let kind = match f {
                SeqFact::BecamePrimary { .. } => "elections",
                SeqFact::FullSyncEnded { completed: true, .. } => "full syncs",
                SeqFact::RolledBack { .. } => "rollbacks",
                SeqFact::WriteAnswered { error: None, .. } => "confirmed writes",
                SeqFact::WriteAnswered { error: Some(_), .. } => "unconfirmed or refused writes",
                SeqFact::LogRolledOver { .. } => "rollovers",
                _ => continue,
            };
            *seen.entry(kind).or_default() += 1;
        }
        let mut versions = BTreeSet::new();
        let mut at_lsn: BTreeMap<Lsn, u64> = BTreeMap::new();
        let mut confirmed_all = BTreeSet::new();
        for (_, f) in &c.facts {
            match f {
                SeqFact::BecamePrimary { version, .. } => {
                    assert!(versions.insert(*version), "seed {seed}: two primaries of version {version}")
                }
                SeqFact::RecordWritten { lsn, digest, .. } => {
                    let first = *at_lsn.entry(*lsn).or_insert(*digest);
                    assert_eq!(first, *digest, "seed {seed}: two records at {lsn}");
                }
                SeqFact::WriteAnswered { lsn, repl_size: ReplSize::All, error: None, .. } => {
                    confirmed_all.insert(*lsn);
                }
                SeqFact::RolledBack { records, at, .. } => {
                    for (lsn, _, _) in records {
                        assert!(!confirmed_all.contains(lsn), "seed {seed}: node {at:?} rolled back {lsn}, confirmed by every node");
                    }
                }
                _ => {}
            }
        }
        let p = c.primary();
        for n in c.members.clone() {
            let node = c.node(n);
            assert_eq!(node.status(), DbStatus::Normal, "seed {seed}: node {n}");
            assert_eq!(node.log().end(), c.node(p).log().end(), "seed {seed}: node {n}'s log end");
            assert_eq!(node.docs(), c.node(p).docs(), "seed {seed}: node {n}'s documents");
        }
    }
    eprintln!("{seen:?}");
    assert!(seen.len() == 6 && seen.values().all(|&n| n > 0), "the storm reaches every path: {seen:?}");
}

/// What storms under `bugs` show that no storm should: (duplicate versions, two records at one
/// LSN, an Ok short of its ReplSize, CONSULTs that matched), summed over `seeds`.
fn storm_anomalies(bugs: SeqBugs, seeds: u64) -> [usize; 4] {
    let mut found = [0; 4];
    for seed in 0..seeds {
        let c = storm_with(seed, 3, bugs);
        let mut versions = BTreeSet::new();
        let mut at_lsn: BTreeMap<Lsn, u64> = BTreeMap::new();
        for (_, f) in &c.facts {
            match f {
                SeqFact::BecamePrimary { version, .. } if !versions.insert(*version) => found[0] += 1,
                SeqFact::RecordWritten { lsn, digest, .. } if *at_lsn.entry(*lsn).or_insert(*digest) != *digest => found[1] += 1,
                SeqFact::WriteAnswered { error: None, confirmed_by, required, .. } if confirmed_by.len() < usize::from(*required) => {
                    found[2] += 1
                }
                SeqFact::ConsultEnded { outcome: ConsultOutcome::Matched, .. } => found[3] += 1,
                _ => {}
            }
        }
    }
    found
}

#[test]
fn storms_show_each_node_side_bug() {
    let seeds = 10;
    assert_eq!(storm_anomalies(SeqBugs::default(), seeds), [0, 0, 0, 0]);
    let skip = storm_anomalies(SeqBugs { skip_version_bump: true, ..SeqBugs::default() }, seeds);
    assert!(skip[0] > 0 && skip[1] > 0, "{skip:?}");
    let short = storm_anomalies(SeqBugs { ack_before_repl_size: true, ..SeqBugs::default() }, seeds);
    assert!(short[2] > 0, "{short:?}");
    // A divergent tail for CONSULT to miss is rarer than the other bugs' chances, and rarer still
    // since a node rebuilds from its own files only after every member's beat or a sharing break
    // (none in 40 storms): more storms.
    let consult = storm_anomalies(SeqBugs { consult_skips_hash_check: true, ..SeqBugs::default() }, 30 * seeds);
    assert!(consult[3] > 0, "{consult:?}");
}

// --- membership and management calls

use ccrsim_model::replica::sequoiadb::{SeqCall, SeqCallResult};

#[test]
fn a_forced_step_down_is_done_by_the_primary_only() {
    let mut c = Cluster::new(3);
    let p = c.settle();
    let other = *c.members.iter().find(|&&n| n != p).unwrap();
    let mut out = Out::default();
    let now = c.now;
    assert_eq!(c.nodes.get_mut(&other).unwrap().on_call(now, SeqCall::StepDown { group: GROUP }, &mut out), SeqCallResult::NotPrimary);
    assert_eq!(c.nodes.get_mut(&p).unwrap().on_call(now, SeqCall::StepDown { group: GROUP }, &mut out), SeqCallResult::Done);
    c.absorb(p, out);
    assert_eq!(c.facts_of(|f| matches!(f, SeqFact::SteppedDown { why: StepDownCause::Forced, .. })).len(), 1);
    c.advance(20_000);
    assert_eq!(c.primaries().len(), 1, "the group elects again");
}

#[test]
fn a_primary_removed_from_its_group_steps_down_and_the_rest_go_on() {
    let mut c = Cluster::new(4);
    let p = c.settle();
    c.members.retain(|&n| n != p);
    c.advance(25_000);
    assert_eq!(c.facts_of(|f| matches!(f, SeqFact::SteppedDown { why: StepDownCause::Removed, .. })).len(), 1);
    let q = c.primary();
    assert_ne!(q, p);
    assert_eq!(c.node(p).group(), None);
}

#[test]
fn an_added_node_catches_up_by_the_log_or_by_a_full_sync_once_the_log_rolled_past_it() {
    for (writes, full_sync) in [(5u64, false), (100, true)] {
        let mut c = Cluster::new(3);
        c.repl_size = ReplSize::Nodes(2);
        let p = c.settle();
        for i in 0..writes {
            c.write(p, i % 7, if i < 7 { WriteOp::Insert { counter: 0 } } else { incr() }, 5_000).unwrap().unwrap();
        }
        c.members.push(4);
        c.disks.insert(4, MemoryDisk::default());
        c.boot(4);
        c.advance(15_000);
        let synced = c.facts_of(|f| matches!(f, SeqFact::FullSyncEnded { at, completed: true, .. } if at.node == 4)).len();
        assert_eq!(synced > 0, full_sync, "{writes} writes");
        assert_eq!(c.node(4).docs(), c.node(p).docs(), "{writes} writes");
        assert_eq!(c.node(4).log().end(), c.node(p).log().end());
    }
}

#[test]
fn a_secondary_source_forwards_acks_to_the_primary() {
    let (mut node, mut out) = lone_node(1, &[1, 2, 3]);
    node.on_message(200, 2, beat(NodeRole::Primary, SyncStatus::Peer), &mut out);
    out.sends.clear();
    node.on_message(300, 3, SeqMessage::SyncReq { request: 1, next: Lsn::INVALID, need_data: true }, &mut out);
    let sent: Vec<(NodeId, &SeqMessage)> = out.sends.iter().map(|(to, Msg(m))| (*to, m)).collect();
    assert!(sent.contains(&(2, &SeqMessage::SyncVirReq { from: 3, next: Lsn::INVALID })), "{sent:?}");
    assert!(sent.iter().any(|(to, m)| *to == 3 && matches!(m, SeqMessage::SyncRes { request: 1, result: Ok(_) })));
}

#[test]
fn a_write_the_network_delivered_twice_is_applied_once() {
    let mut c = Cluster::new(3);
    c.repl_size = ReplSize::Nodes(1);
    let p = c.settle();
    let msg =
        SeqMessage::WriteReq { write: (9, 77), collection: COLL, id: 1, op: WriteOp::Insert { counter: 1 }, repl_size: ReplSize::Nodes(1) };
    c.net.push_back((CLIENT, p, msg.clone()));
    c.net.push_back((CLIENT, p, msg));
    c.deliver_all();
    let written = c.facts_of(|f| matches!(f, SeqFact::RecordWritten { write: Some((9, 77)), source: RecordSource::Primary, .. }));
    assert_eq!(written.len(), 1);
    let answers = c.answers.iter().filter(|a| matches!(a, SeqMessage::WriteRes { write: (9, 77), .. })).count();
    assert_eq!(answers, 1, "the copy gets no answer (no DuplicateKey for a write that happened)");
}

#[test]
fn a_node_takes_the_primary_role_only_once_its_new_version_is_durable() {
    use ccrsim_model::core::io::{DiskCompletion, DiskError};
    for fails in [false, true] {
        let (mut node, _) = lone_node(1, &[1]);
        let mut out = Out::default();
        node.on_timer(200, TIMER_NODE_TICK, &mut out);
        assert_eq!(node.primary_version(), None, "not before the version is on disk");
        let reported = out.disk.iter().find(|r| r.report_success).expect("the version is written and waited for");
        assert!(matches!(reported.op, DiskOp::Rename { .. }));
        let result = if fails { Err(DiskError::NoSpace) } else { Ok(None) };
        let mut after = Out::default();
        node.on_disk(300, DiskCompletion { token: reported.token, result }, &mut after);
        assert_eq!(node.primary_version().is_some(), !fails);
        assert_eq!(after.halt.is_some(), fails, "a node that cannot write its version stops");
    }
}

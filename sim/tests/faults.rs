//! Every fault of the simulated world, seen happening in a whole simulated run and being undone.
//!
//! Each test runs a small scenario (given inline as TOML) with a fixed fault schedule and reads the
//! recorded trace: the fault's own line, its effect on the nodes and links it hits, its end, and the
//! run's verdict. Where a test needs to aim at the Raft leader, a probe run without faults names the
//! leader at the fault's time (the fault-free prefix of a seed is the same run), and the faulted run
//! checks that it is still the leader there.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ccrsim_sim::nemesis::{self, FaultAction, FaultKind, FaultPlan};
use ccrsim_sim::scenario::Scenario;
use ccrsim_sim::topology::{ClusterId, NodeKind, Topology};
use ccrsim_sim::trace::{TraceLine, WORLD};

use common::{Run, ns, num_after, run_scenario, t};

type NodeId = u32;
/// `(index, term, payload hash)` of a log entry, as the facts print it.
type EntryId = (u64, u64, u64);

const C: [&str; 3] = ["master.controller.0", "master.controller.1", "master.controller.2"];
/// Ids of the two clients of [`Spec::new`] (controllers come first).
const CLIENTS: [NodeId; 2] = [3, 4];

// ----- Scenarios ---------------------------------------------------------------------------------

/// A small scenario: three controllers, two clients, no random faults, a fixed schedule.
#[derive(Clone)]
struct Spec {
    safety_s: f64,
    liveness_bound_s: f64,
    /// Lines added to `[faults]`.
    faults: String,
    /// Whole sections appended at the end (before the schedule).
    sections: String,
    schedule: Vec<String>,
}

impl Spec {
    fn new(safety_s: f64) -> Self {
        Self { safety_s, liveness_bound_s: 10.0, faults: String::new(), sections: String::new(), schedule: Vec::new() }
    }

    fn fault(mut self, at_s: f64, fault: &str, nodes: &[&str], others: &[&str], duration_s: f64) -> Self {
        let list = |names: &[&str]| names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
        self.schedule.push(format!(
            "[[faults.schedule]]\nat_s = {at_s:?}\nfault = {fault:?}\nnodes = [{}]\nothers = [{}]\nduration_s = {duration_s:?}\n",
            list(nodes),
            list(others)
        ));
        self
    }

    fn text(&self) -> String {
        let mut text = format!(
            r#"name = "faults-test"
[run]
safety_s = {:?}
liveness_bound_s = {:?}
seeds_ci = 1

[cluster.master]
controllers = 3

[raft]
election_timeout_ms = [300, 600]
heartbeat_ms = 75
max_entries_per_append = 64
# No snapshot: the WAL is the only file, so disk faults always hit it.
snapshot_threshold_entries = 100000

[workload]
clients = 2
lanes_per_client = 2
proposals_per_s = 10.0
retry_timeout_ms = 500

[faults]
swarm = false
kinds = []
{}
{}
"#,
            self.safety_s, self.liveness_bound_s, self.faults, self.sections
        );
        for entry in &self.schedule {
            text.push_str(entry);
        }
        text
    }

    fn build(&self) -> Arc<Scenario> {
        let text = self.text();
        Arc::new(Scenario::parse("test.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}")))
    }

    /// The same scenario without its fixed faults.
    fn unfaulted(&self) -> Self {
        Self { schedule: Vec::new(), ..self.clone() }
    }
}

// ----- Runs and their traces ---------------------------------------------------------------------

fn run(spec: &Spec, seed: u64) -> Run {
    run_scenario(&spec.build(), seed)
}

impl Run {
    fn assert_passed(&self) {
        assert!(
            self.report.ok,
            "the run failed: {:?}\nlast lines:\n{}",
            self.report.violations,
            self.lines[self.lines.len().saturating_sub(40)..].iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
        );
        assert!(self.lines.last().is_some_and(|l| l.text.starts_with("converged")), "the run did not end converged");
    }

    /// Lines of `node` with `from <= time < to`.
    fn of(&self, node: NodeId, from: f64, to: f64) -> impl Iterator<Item = &TraceLine> {
        let (a, b) = (ns(from), ns(to));
        self.lines.iter().filter(move |l| l.node == node && (a..b).contains(&t(l)))
    }

    /// Lines of `node` with `from <= time < to` whose text starts with `prefix`.
    fn find(&self, node: NodeId, from: f64, to: f64, prefix: &str) -> Vec<&TraceLine> {
        // "timer 2" must not match "timer 20": a prefix ending in a digit ends the number.
        let ends_in_digit = prefix.ends_with(|c: char| c.is_ascii_digit());
        self.of(node, from, to)
            .filter(|l| l.text.starts_with(prefix) && !(ends_in_digit && l.text[prefix.len()..].starts_with(|c: char| c.is_ascii_digit())))
            .collect()
    }

    /// Every message event (delivery or drop) with `from <= time < to`.
    fn links(&self, from: f64, to: f64) -> Vec<Link> {
        let (a, b) = (ns(from), ns(to));
        self.lines.iter().filter(|l| (a..b).contains(&t(l))).filter_map(link).collect()
    }

    /// Deliveries `from -> to` with `a <= time < b`.
    fn delivered(&self, from: NodeId, to: NodeId, a: f64, b: f64) -> usize {
        self.links(a, b).iter().filter(|l| l.from == from && l.to == to && l.dropped.is_none()).count()
    }

    /// Drops `from -> to` for `reason` with `a <= time < b`.
    fn dropped(&self, from: NodeId, to: NodeId, reason: &str, a: f64, b: f64) -> usize {
        self.links(a, b).iter().filter(|l| l.from == from && l.to == to && l.dropped.as_deref() == Some(reason)).count()
    }

    /// The leader at time `at` (the member of the highest term that became leader and has not
    /// stepped down, crashed or halted since), and its term.
    fn leader_at(&self, at: f64) -> Option<(NodeId, u64)> {
        let mut leading: BTreeMap<NodeId, u64> = BTreeMap::new();
        for l in self.lines.iter().take_while(|l| t(l) < ns(at)) {
            if let Some(term) = fact_num(l, "BecameLeader", "term: ") {
                leading.insert(l.node, term);
            } else if l.text.contains("SteppedDown") || l.text.starts_with("crash") || l.text.starts_with("halt") {
                leading.remove(&l.node);
            }
        }
        leading.into_iter().max_by_key(|&(_, term)| term)
    }

    /// Terms of every `BecameLeader` fact of `node` with `a <= time < b`.
    fn elections(&self, node: NodeId, a: f64, b: f64) -> Vec<u64> {
        self.of(node, a, b).filter_map(|l| fact_num(l, "BecameLeader", "term: ")).collect()
    }

    /// The highest index `node` applied before `before`.
    fn last_applied(&self, node: NodeId, before: f64) -> u64 {
        self.of(node, 0.0, before).filter_map(|l| fact_num(l, "Applied {", "index: ")).max().unwrap_or(0)
    }

    /// The nemesis' own lines (`fault ...`), with their times.
    fn faults(&self) -> Vec<(u64, &str)> {
        self.lines.iter().filter(|l| l.node == WORLD && l.text.starts_with("fault ")).map(|l| (t(l), l.text.as_str())).collect()
    }
}

/// A message event of the trace.
#[derive(Debug)]
struct Link {
    from: NodeId,
    to: NodeId,
    /// `None` for a delivery, else the drop reason.
    dropped: Option<String>,
    text: String,
}

/// Reads a delivery (`<- nF msg`, on the receiver) or a drop (`dropped (why) <- nF kind` on the
/// receiver, `dropped (why) -> nT kind` on the sender).
fn link(line: &TraceLine) -> Option<Link> {
    let text = &line.text;
    let peer = |s: &str| s.trim_start_matches('n').split(' ').next().and_then(|d| d.parse::<NodeId>().ok());
    if let Some(rest) = text.strip_prefix("<- ") {
        return Some(Link { from: peer(rest)?, to: line.node, dropped: None, text: text.clone() });
    }
    let rest = text.strip_prefix("dropped (")?;
    let (reason, rest) = rest.split_once(") ")?;
    if let Some(rest) = rest.strip_prefix("<- ") {
        Some(Link { from: peer(rest)?, to: line.node, dropped: Some(reason.to_string()), text: text.clone() })
    } else {
        let rest = rest.strip_prefix("-> ")?;
        Some(Link { from: line.node, to: peer(rest)?, dropped: Some(reason.to_string()), text: text.clone() })
    }
}

/// For a `fact Raft(<fact> ...)` line, the number after `key`.
fn fact_num(line: &TraceLine, fact: &str, key: &str) -> Option<u64> {
    line.text.strip_prefix("fact Raft(")?.starts_with(fact).then(|| num_after(&line.text, key)).flatten()
}

/// Every decimal number in `s`, in order.
fn numbers(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit()).filter(|d| !d.is_empty()).map(|d| d.parse().expect("digits")).collect()
}

/// `(index, term, payload hash)` of every entry of a `Recovered` fact, and its term.
fn recovered(line: &TraceLine) -> Option<(u64, Vec<EntryId>)> {
    let text = line.text.strip_prefix("fact Raft(Recovered {")?;
    let term = num_after(text, "term: ")?;
    let list = &text[text.find("entries: [")? + "entries: [".len()..];
    let list = &list[..list.find(']')?];
    let entries = numbers(list).chunks(3).map(|c| (c[0], c[1], c[2])).collect();
    Some((term, entries))
}

/// The leader at `at` in a run of `spec` without its faults, checked to be the leader at `at` in
/// `faulted` too. Panics when there is none (pick another seed or time).
fn probe_leader(spec: &Spec, seed: u64, at: f64) -> (NodeId, u64) {
    let probe = run(&spec.unfaulted(), seed);
    probe.leader_at(at).unwrap_or_else(|| panic!("no leader at {at} s in the probe run of seed {seed}"))
}

fn assert_same_leader(run: &Run, at: f64, expected: (NodeId, u64)) {
    assert_eq!(run.leader_at(at), Some(expected), "the faulted run differs from its probe before the first fault");
}

// ----- Crash and restart ---------------------------------------------------------------------------

#[test]
fn a_crashed_controller_is_down_then_reboots_from_exactly_what_its_disk_kept() {
    let seed = 1;
    let base = Spec::new(12.0);
    let (leader, term) = probe_leader(&base, seed, 5.0);
    let f = (leader + 1) % 3;
    let spec = base.fault(5.0, "crash", &[C[f as usize]], &[], 3.0);
    let r = run(&spec, seed);
    r.assert_passed();
    assert_same_leader(&r, 5.0, (leader, term));

    // The crash, at its time, on its node.
    let crash = r.find(f, 5.0, 5.0 + 1e-9, "crash (power loss)");
    assert_eq!(crash.len(), 1, "one power loss at 5 s: {crash:?}");
    assert!(r.faults().contains(&(ns(5.0), format!("fault Crash {{ node: {f} }}").as_str())));

    // Down: nothing of the node happens but messages that reach a dead receiver.
    let down: Vec<&TraceLine> = r.of(f, 5.0 + 1e-9, 8.0).collect();
    assert!(down.len() > 20, "the leader keeps sending heartbeats to the crashed node: {}", down.len());
    for l in &down {
        assert!(l.text.starts_with("dropped (receiver down) <- n"), "node {f} is down but did something: {l}");
    }
    assert!(r.dropped(leader, f, "receiver down", 5.0, 8.0) > 20, "heartbeats of the leader are dropped at the dead receiver");
    assert!(r.report.network.receiver_gone >= down.len() as u64);

    // Restart: the second boot, at the end of the downtime, and nothing after it is dropped as down.
    let boots: Vec<(u64, &str)> = r.find(f, 0.0, 100.0, "boot").iter().map(|l| (t(l), l.text.as_str())).collect();
    assert_eq!(boots, vec![(0, "boot #1"), (ns(8.0), "boot #2")]);
    assert_eq!(r.links(8.0, 100.0).iter().filter(|l| l.to == f && l.dropped.as_deref() == Some("receiver down")).count(), 0);

    // The first boot found an empty disk; the second one finds what the node had made durable.
    let rec: Vec<(u64, (u64, Vec<EntryId>))> = r.of(f, 0.0, 100.0).filter_map(|l| recovered(l).map(|x| (t(l), x))).collect();
    assert_eq!(rec.len(), 2, "one Recovered per boot");
    assert_eq!(rec[0], (0, (0, Vec::new())), "a fresh member");
    let (at, (recovered_term, entries)) = &rec[1];
    assert_eq!(*at, ns(8.0));

    // Durable before the crash, by Raft's rule: a follower acknowledges entries (and its term) only
    // once they are fsynced. The acknowledgements that arrived before the crash bound what the disk
    // must hold.
    let acks: Vec<(u64, u64)> = r
        .links(0.0, 5.0)
        .iter()
        .filter(|l| l.from == f && l.dropped.is_none() && l.text.contains("AppendEntriesResponse") && l.text.contains("success: true"))
        .map(|l| (num_after(&l.text, "term: ").unwrap(), num_after(&l.text, "match_index: ").unwrap()))
        .collect();
    let durable_index = acks.iter().map(|a| a.1).max().unwrap_or(0);
    let durable_term = acks.iter().map(|a| a.0).max().unwrap_or(0);
    assert!(durable_index >= 20, "the node acknowledged {durable_index} entries before the crash");
    // What the node appended before the crash, by index (a later append at an index replaces it).
    let mut appended: BTreeMap<u64, EntryId> = BTreeMap::new();
    let mut ever_appended = BTreeSet::new();
    for l in r.of(f, 0.0, 5.0) {
        if let Some(rest) = l.text.strip_prefix("fact Raft(Appended") {
            let n = numbers(rest);
            appended.insert(n[0], (n[0], n[1], n[2]));
            ever_appended.insert((n[0], n[1], n[2]));
        } else if let Some(from) = fact_num(l, "Truncated", "from_index: ") {
            appended.retain(|&i, _| i < from);
        }
    }
    assert!(*recovered_term >= durable_term, "term {recovered_term} recovered, {durable_term} acknowledged");
    let indexes: Vec<u64> = entries.iter().map(|e| e.0).collect();
    assert_eq!(indexes, (1..=entries.len() as u64).collect::<Vec<_>>(), "a contiguous log from 1");
    assert!(entries.len() as u64 >= durable_index, "recovered {} entries, {durable_index} were acknowledged", entries.len());
    for e in entries {
        assert!(ever_appended.contains(e), "recovered entry {e:?} that the node never appended");
        if e.0 <= durable_index {
            assert_eq!(Some(e), appended.get(&e.0), "acknowledged entry {} recovered differently", e.0);
        }
    }

    // The rebuilt member rejoins and catches up with the group.
    assert!(r.find(f, 8.0, 100.0, "fact Raft(Appended").len() > 5, "the restarted node appends again");
    let end = r.report.sim_seconds + 1.0;
    assert_eq!(r.last_applied(f, end), r.last_applied(leader, end), "the restarted node applied everything");
    assert_eq!((r.report.stats.crashes, r.report.stats.boots, r.report.stats.faults), (1, 6, 3));
}

// ----- Pause and resume ----------------------------------------------------------------------------

#[test]
fn a_paused_controller_handles_nothing_until_it_resumes_then_handles_its_queue_at_once() {
    let seed = 2;
    let base = Spec::new(12.0);
    let (leader, term) = probe_leader(&base, seed, 5.0);
    let f = (leader + 1) % 3;
    let spec = base.fault(5.0, "pause", &[C[f as usize]], &[], 2.0);
    let r = run(&spec, seed);
    r.assert_passed();
    assert_same_leader(&r, 5.0, (leader, term));
    let faults = r.faults();
    assert!(faults.contains(&(ns(5.0), format!("fault Pause {{ node: {f} }}").as_str())), "{faults:?}");
    assert!(faults.contains(&(ns(7.0), format!("fault Resume {{ node: {f} }}").as_str())), "{faults:?}");

    // Paused: the world still hands it messages (they queue up) but it reports, sends and writes
    // nothing. Messages it sent just before the pause may still land (latency < 10 ms).
    let queued = r.delivered(leader, f, 5.0 + 1e-9, 7.0);
    assert!(queued > 20, "heartbeats reach the paused node's mailbox: {queued}");
    let mut outputs = Vec::new();
    for l in r.of(f, 5.0 + 1e-9, 7.0) {
        if l.text.starts_with("fact") || l.text.starts_with("dropped") && l.text.contains(" -> n") {
            outputs.push(l.to_string());
        }
    }
    for other in (0..5).filter(|&n| n != f) {
        for l in r.links(5.01, 7.0).iter().filter(|l| l.from == f && l.to == other) {
            outputs.push(format!("n{f} -> n{other}: {}", l.text));
        }
    }
    assert!(outputs.is_empty(), "the paused node acted:\n{}", outputs.join("\n"));

    // Resumed: at the resume instant it handles its whole queue: facts at exactly 7 s, and answers
    // to the heartbeats that piled up arrive right after.
    let facts = r.find(f, 7.0, 7.0 + 1e-9, "fact");
    assert!(!facts.is_empty(), "the resumed node reports what it did at the resume instant");
    let answers = r.delivered(f, leader, 7.0, 7.02);
    assert!(answers > 10, "the leader hears the resumed node's answers to the queued heartbeats: {answers}");
    assert_eq!(r.report.stats.faults, 3);
}

// ----- Partitions ----------------------------------------------------------------------------------

#[test]
fn a_symmetric_partition_cuts_both_ways_forces_an_election_and_heals() {
    let seed = 3;
    let base = Spec::new(12.0);
    let (leader, term) = probe_leader(&base, seed, 5.0);
    let others: Vec<NodeId> = (0..3).filter(|&n| n != leader).collect();
    let other_names: Vec<&str> = others.iter().map(|&n| C[n as usize]).collect();
    let spec = base.fault(5.0, "partition", &[C[leader as usize]], &other_names, 3.0);
    let r = run(&spec, seed);
    r.assert_passed();
    assert_same_leader(&r, 5.0, (leader, term));

    // No message crosses the cut, either way, while it lasts; both directions see partition drops.
    let window = (5.0 + 1e-9, 8.0);
    for &o in &others {
        assert_eq!(r.delivered(leader, o, window.0, window.1), 0, "n{leader} -> n{o} crossed the partition");
        assert_eq!(r.delivered(o, leader, window.0, window.1), 0, "n{o} -> n{leader} crossed the partition");
    }
    let out: usize = others.iter().map(|&o| r.dropped(leader, o, "partition", window.0, window.1)).sum();
    let back: usize = others.iter().map(|&o| r.dropped(o, leader, "partition", window.0, window.1)).sum();
    assert!(out > 10, "the old leader's heartbeats are cut: {out}");
    assert!(back > 0, "the other side's vote requests are cut: {back}");
    // Clients are on neither side: they still reach the old leader.
    assert!(CLIENTS.iter().map(|&c| r.delivered(c, leader, window.0, window.1)).sum::<usize>() > 0);

    // The majority side elects a new leader of a higher term.
    let new_terms: Vec<u64> = others.iter().flat_map(|&o| r.elections(o, window.0, window.1)).collect();
    assert!(new_terms.iter().any(|&t| t > term), "no new leader above term {term}: {new_terms:?}");

    // Healed: the new leader reaches the old one, which answers (followers never talk to each
    // other, so the new leader is the one peer sure to talk to it), and learns it was deposed.
    let (new_leader, _) = r.leader_at(8.0).expect("a leader on the majority side");
    assert_ne!(new_leader, leader);
    assert!(
        r.delivered(new_leader, leader, 8.0, 9.0) > 0 && r.delivered(leader, new_leader, 8.0, 9.0) > 0,
        "n{leader} <-> n{new_leader} after heal"
    );
    assert!(!r.find(leader, 8.0, 9.0, "fact Raft(SteppedDown").is_empty(), "the old leader steps down after heal");
    assert!(r.report.network.partitioned as usize >= out + back);
}

#[test]
fn a_one_way_partition_cuts_only_one_direction() {
    let seed = 4;
    let base = Spec::new(12.0);
    let (leader, term) = probe_leader(&base, seed, 5.0);
    // The leader's outgoing links to every other node are cut; the way in stays open.
    let spec = base.fault(5.0, "one_way_partition", &[C[leader as usize]], &[], 3.0);
    let r = run(&spec, seed);
    r.assert_passed();
    assert_same_leader(&r, 5.0, (leader, term));
    let window = (5.0 + 1e-9, 8.0);
    let others: Vec<NodeId> = (0..5).filter(|&n| n != leader).collect();
    let out_delivered: usize = others.iter().map(|&o| r.delivered(leader, o, window.0, window.1)).sum();
    let out_dropped: usize = others.iter().map(|&o| r.dropped(leader, o, "partition", window.0, window.1)).sum();
    let in_delivered: usize = others.iter().map(|&o| r.delivered(o, leader, window.0, window.1)).sum();
    let in_dropped: usize = others.iter().map(|&o| r.dropped(o, leader, "partition", window.0, window.1)).sum();
    assert_eq!(out_delivered, 0, "nothing leaves n{leader}");
    assert!(out_dropped > 10, "n{leader}'s messages are cut: {out_dropped}");
    assert!(in_delivered > 0, "messages to n{leader} still arrive");
    assert_eq!(in_dropped, 0, "the way in is not cut");
    // The followers stop hearing the leader and elect another.
    let new_terms: Vec<u64> = (0..3).filter(|&n| n != leader).flat_map(|o| r.elections(o, window.0, window.1)).collect();
    assert!(new_terms.iter().any(|&t| t > term), "no new leader above term {term}: {new_terms:?}");
    // Healed.
    assert!(others.iter().map(|&o| r.delivered(leader, o, 8.0, 9.0)).sum::<usize>() > 0, "n{leader} is heard again");
}

#[test]
fn an_isolated_follower_talks_to_nobody_campaigns_alone_and_rejoins() {
    let seed = 5;
    let base = Spec::new(12.0);
    let (leader, term) = probe_leader(&base, seed, 5.0);
    let f = (leader + 2) % 3;
    let spec = base.fault(5.0, "isolate", &[C[f as usize]], &[], 3.0);
    let r = run(&spec, seed);
    r.assert_passed();
    assert_same_leader(&r, 5.0, (leader, term));
    let window = (5.0 + 1e-9, 8.0);
    for o in (0..5).filter(|&n| n != f) {
        assert_eq!(r.delivered(f, o, window.0, window.1), 0, "n{f} -> n{o} while isolated");
        assert_eq!(r.delivered(o, f, window.0, window.1), 0, "n{o} -> n{f} while isolated");
    }
    // Alone, it times out and campaigns again and again; every vote request is cut.
    let campaigns = r.find(f, window.0, window.1, "timer 1").len();
    assert!(campaigns >= 3, "the isolated node's election timer fired {campaigns} times");
    let cut_votes = r.links(window.0, window.1).iter().filter(|l| l.from == f && l.text.contains("RequestVote")).count();
    assert!(cut_votes >= 2 * 2, "its vote requests are cut: {cut_votes}");
    // The rest of the group keeps committing.
    let commits = r.find(leader, window.0, window.1, "fact Raft(Committed").len();
    assert!(commits > 10, "the majority commits while n{f} is isolated: {commits}");
    // Healed: it is heard again and catches up.
    let peers = [(f + 1) % 3, (f + 2) % 3];
    assert!(peers.iter().map(|&p| r.delivered(f, p, 8.0, 9.0)).sum::<usize>() > 0, "n{f} is heard again");
    assert!(peers.iter().map(|&p| r.delivered(p, f, 8.0, 9.0)).sum::<usize>() > 0, "n{f} hears the group again");
    let end = r.report.sim_seconds + 1.0;
    assert_eq!(r.last_applied(f, end), r.last_applied((f + 1) % 3, end));
}

#[test]
fn ending_one_partition_keeps_the_others_that_overlap_it() {
    let seed = 17;
    // n0 is cut from everyone from 4 s to 10 s; a one-way cut n1 -> n2 comes and goes inside it.
    let spec = Spec::new(12.0).fault(4.0, "isolate", &[C[0]], &[], 6.0).fault(5.0, "one_way_partition", &[C[1]], &[C[2]], 1.0);
    let r = run(&spec, seed);
    r.assert_passed();
    for o in 1..5 {
        assert_eq!(r.delivered(0, o, 4.0 + 1e-9, 10.0) + r.delivered(o, 0, 4.0 + 1e-9, 10.0), 0, "n0 <-> n{o} while isolated");
    }
    assert!(r.dropped(0, 1, "partition", 6.0, 10.0) + r.dropped(0, 2, "partition", 6.0, 10.0) > 0, "still cut after 6 s");
    // n1 and n2 are the group while n0 is away: whichever leads, n1 -> n2 is cut only in 5..6 s.
    assert_eq!(r.delivered(1, 2, 5.0 + 1e-9, 6.0), 0);
    assert!(r.delivered(1, 2, 6.0, 10.0) + r.delivered(2, 1, 6.0, 10.0) > 10, "n1 <-> n2 after the inner cut ends");
    assert!(r.delivered(0, 1, 10.0, 11.0) + r.delivered(0, 2, 10.0, 11.0) > 0, "n0 is heard after 10 s");
}

// ----- Packet loss ---------------------------------------------------------------------------------

#[test]
fn a_loss_burst_loses_a_share_of_every_link_then_ends() {
    let seed = 6;
    let spec = Spec::new(12.0).fault(4.0, "packet_loss", &[], &[], 4.0);
    let r = run(&spec, seed);
    r.assert_passed();
    let share = |a: f64, b: f64| {
        let links = r.links(a, b);
        let lost = links.iter().filter(|l| l.dropped.as_deref() == Some("loss")).count();
        let delivered = links.iter().filter(|l| l.dropped.is_none()).count();
        (lost as f64 / (lost + delivered) as f64, lost + delivered)
    };
    let (before, n0) = share(0.5, 4.0);
    let (during, n1) = share(4.0, 8.0);
    let (after, n2) = share(8.0, 12.0);
    assert!(n0 > 300 && n1 > 300 && n2 > 300, "enough traffic: {n0} {n1} {n2}");
    assert!(before < 0.03 && after < 0.03, "baseline loss {before:.3} / {after:.3}");
    assert!((0.2..0.4).contains(&during), "the burst (30% extra) lost {during:.3}");
}

// ----- Clock drift ---------------------------------------------------------------------------------

#[test]
fn a_fast_clock_makes_the_leaders_heartbeat_timer_fire_early() {
    let seed = 7;
    let drift: u64 = 400_000;
    let mut base = Spec::new(12.0);
    base.faults = format!("clock_drift_ppm_max = {drift}");
    // No baseline skew or drift: timer spacings are exact.
    base.sections = "[clock]\nskew_ms_max = 0\ndrift_ppm_max = 0\n".into();
    let (leader, term) = probe_leader(&base, seed, 5.0);
    let spec = base.fault(5.0, "clock", &[C[leader as usize]], &[], 1.0);
    let r = run(&spec, seed);
    r.assert_passed();
    assert_same_leader(&r, 5.0, (leader, term));
    assert!(r.faults().contains(&(ns(5.0), format!("fault ClockDrift {{ node: {leader}, drift_ppm: {drift} }}").as_str())));
    let stable = |a: f64, b: f64| {
        assert!(r.of(leader, a, b).all(|l| !l.text.contains("SteppedDown") && !l.text.starts_with("boot")), "n{leader} kept leading");
    };
    stable(2.0, 10.0);
    let gaps = |a: f64, b: f64| -> Vec<u64> {
        let fired: Vec<u64> = r.find(leader, a, b, "timer 2").iter().map(|l| t(l)).collect();
        fired.windows(2).map(|w| w[1] - w[0]).collect()
    };
    // 75 local ms: 75 real ms before, 75 / 1.4 after (the heartbeat armed last before the fault
    // still runs at the old rate, so the "after" window starts one heartbeat late).
    let before = gaps(2.0, 5.0);
    let after = gaps(5.1, 10.0);
    let expected_fast = 75_000_000u64 * 1_000_000 / (1_000_000 + drift);
    assert!(before.len() > 30 && after.len() > 60, "heartbeats: {} before, {} after", before.len(), after.len());
    assert!(before.iter().all(|&g| g == 75_000_000), "before the fault: {before:?}");
    assert!(after.iter().all(|&g| g == expected_fast), "after the fault ({expected_fast} ns expected): {after:?}");
    // The other controllers' clocks are untouched: as followers they never time out.
    for o in (0..3).filter(|&n| n != leader) {
        assert!(r.find(o, 2.0, 10.0, "timer 1").is_empty(), "n{o} timed out under a leader with a fast clock");
    }
}

// ----- Disk faults ---------------------------------------------------------------------------------

#[test]
fn a_full_disk_halts_the_leader_which_restarts_and_rejoins_once_it_heals() {
    let seed = 8;
    let base = Spec::new(12.0);
    let (leader, term) = probe_leader(&base, seed, 5.0);
    let spec = base.fault(5.0, "disk_full", &[C[leader as usize]], &[], 3.0);
    let r = run(&spec, seed);
    r.assert_passed();
    assert_same_leader(&r, 5.0, (leader, term));
    let failed_writes = r.of(leader, 5.0, 8.0).filter(|l| l.text.starts_with("disk ") && l.text.ends_with("-> Err(NoSpace)")).count();
    assert!(failed_writes >= 1, "the leader's writes fail on the full disk");
    let halts = r.find(leader, 5.0, 8.0, "halt: ");
    assert!(!halts.is_empty(), "the leader halts on the failed write");
    assert!(halts.iter().all(|l| l.text.contains("NoSpace")), "{halts:?}");
    assert!(r.find(leader, 8.0, 100.0, "halt").is_empty(), "no halt once the disk is healed");
    assert!(r.of(leader, 8.0, 100.0).all(|l| !l.text.contains("Err(NoSpace)")), "no write fails after heal");
    // The others elect a new leader; the halted one is restarted by its service manager.
    let new_terms: Vec<u64> = (0..3).filter(|&n| n != leader).flat_map(|o| r.elections(o, 5.0, 8.0)).collect();
    assert!(new_terms.iter().any(|&t| t > term), "no new leader above term {term}: {new_terms:?}");
    let boots = r.find(leader, 5.0, 100.0, "boot #");
    assert!(!boots.is_empty(), "the halted leader boots again");
    let last_boot = boots.last().unwrap();
    assert!(t(last_boot) >= t(halts.last().unwrap()));
    assert!(r.report.stats.halts >= halts.len() as u64);
    assert_eq!(r.report.stats.crashes, 0, "a halt is not a power loss");
    let end = r.report.sim_seconds + 1.0;
    let other = (leader + 1) % 3;
    assert_eq!(r.last_applied(leader, end), r.last_applied(other, end), "the old leader caught up");
}

#[test]
fn read_errors_make_a_reboot_fail_until_the_disk_heals() {
    let seed = 9;
    let n: NodeId = 1;
    let spec = Spec::new(14.0).fault(3.0, "disk_read_error", &[C[1]], &[], 6.0).fault(4.0, "crash", &[C[1]], &[], 1.0);
    let r = run(&spec, seed);
    r.assert_passed();
    assert_eq!(
        r.find(n, 3.0, 3.0 + 1e-9, "read errors on ").iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
        ["read errors on raft/wal"]
    );
    // The running node does not read its WAL: it runs on until the crash.
    assert!(!r.find(n, 3.0, 4.0, "fact").is_empty() || !r.find(n, 3.0, 4.0, "disk").is_empty());
    assert_eq!(r.find(n, 4.0, 4.0 + 1e-9, "crash (power loss)").len(), 1);
    let failed = r.find(n, 5.0, 9.0, "boot failed: ");
    assert!(!failed.is_empty(), "the reboot reads an unreadable WAL");
    assert_eq!(t(failed[0]), ns(5.0), "the first reboot fails at the restart");
    assert!(failed.iter().all(|l| l.text.contains("disk error while recovering: Io")), "{failed:?}");
    // Transient: the service manager retries until a boot succeeds, after the heal at 9 s.
    let boots = r.find(n, 4.0, 100.0, "boot #");
    assert_eq!(boots.len(), 1, "one successful boot after the crash: {boots:?}");
    assert!(t(boots[0]) >= ns(9.0), "it cannot succeed before the heal: {}", boots[0]);
    assert!(r.find(n, 9.0, 100.0, "boot failed").is_empty());
    assert_eq!(boots[0].text, format!("boot #{}", failed.len() + 2), "every failed attempt counted as a boot");
    let (_, entries) = r.of(n, 9.0, 100.0).find_map(recovered).expect("a Recovered fact after the boot");
    assert!(entries.len() > 10, "the WAL was readable again: {} entries", entries.len());
    assert_eq!(r.report.stats.halts, failed.len() as u64);
    assert_eq!(r.report.stats.fail_stops, 0);
}

#[test]
fn a_corrupt_wal_stops_its_controller_for_good_and_the_other_two_carry_on() {
    let seed = 10;
    let n: NodeId = 2;
    let spec = Spec::new(14.0).fault(5.0, "disk_corruption", &[C[2]], &[], 1.0).fault(6.0, "crash", &[C[2]], &[], 2.0);
    let r = run(&spec, seed);
    r.assert_passed();
    let flip = r.find(n, 5.0, 5.0 + 1e-9, "bit flip in ");
    assert_eq!(flip.len(), 1);
    assert!(flip[0].text.starts_with("bit flip in raft/wal at Some("), "{}", flip[0]);
    let failed = r.find(n, 8.0, 100.0, "boot failed: ");
    assert_eq!(failed.len(), 1, "one attempt, then fail-stop: {failed:?}");
    assert_eq!(t(failed[0]), ns(8.0));
    assert!(failed[0].text.contains("raft/wal corrupt at byte"), "{}", failed[0]);
    // Stopped for good, even through the liveness phase: only drops at a dead receiver after it.
    for l in r.of(n, 8.0 + 1e-9, 100.0) {
        assert!(l.text.starts_with("dropped (receiver down)"), "the fail-stopped node did something: {l}");
    }
    assert!(r.find(n, 6.0 + 1e-9, 100.0, "boot #").is_empty());
    assert_eq!((r.report.stats.fail_stops, r.report.stats.halts), (1, 0));
    // The other two keep the group live and serve the clients.
    let (l, _) = r.leader_at(r.report.sim_seconds + 1.0).expect("a leader at the end");
    assert_ne!(l, n);
    assert!(r.find(l, 8.0, 14.0, "fact Raft(Committed").len() > 10);
    let acked = CLIENTS.iter().flat_map(|&c| r.find(c, 8.0, 14.0, "fact Client(Acknowledged")).count();
    assert!(acked > 10, "clients are served by the remaining two: {acked}");
}

#[test]
fn a_slow_disk_slows_every_request_of_its_node_until_healed() {
    let seed = 11;
    let n: NodeId = 0;
    let spec = Spec::new(12.0).fault(4.0, "disk_slow", &[C[0]], &[], 4.0);
    let r = run(&spec, seed);
    r.assert_passed();
    // An fsync takes 200..2000 us, 50x that while slow; requests run one at a time, so an fsync
    // completes at least its latency after the request before it.
    let fsync_gaps = |a: f64, b: f64| -> Vec<u64> {
        let disk: Vec<&TraceLine> = r.of(n, a, b).filter(|l| l.text.starts_with("disk ")).collect();
        disk.windows(2).filter(|w| w[1].text.starts_with("disk Fsync")).map(|w| t(w[1]) - t(w[0])).collect()
    };
    let before = fsync_gaps(1.0, 4.0);
    let during = fsync_gaps(4.2, 8.0);
    let after = fsync_gaps(8.2, 12.0);
    assert!(before.len() > 20 && during.len() > 5 && after.len() > 20, "{} {} {}", before.len(), during.len(), after.len());
    assert!(before.iter().chain(&after).all(|&g| g <= 2_000_000 * 3), "normal fsyncs: {before:?} {after:?}");
    assert!(during.iter().all(|&g| g >= 50 * 200_000), "slow fsyncs: {during:?}");
}

// ----- Faults together -----------------------------------------------------------------------------

#[test]
fn a_paused_controller_can_lose_power_and_boots_unpaused() {
    let seed = 14;
    let base = Spec::new(12.0);
    let (leader, term) = probe_leader(&base, seed, 5.0);
    let f = (leader + 1) % 3;
    let spec = base.fault(5.0, "pause", &[C[f as usize]], &[], 3.0).fault(6.0, "crash", &[C[f as usize]], &[], 1.0);
    let r = run(&spec, seed);
    r.assert_passed();
    assert_same_leader(&r, 5.0, (leader, term));
    assert!(r.find(f, 5.0 + 1e-9, 6.0, "fact").is_empty(), "paused");
    assert_eq!(r.find(f, 6.0, 6.0 + 1e-9, "crash (power loss)").len(), 1, "a paused process can lose power");
    assert!(r.of(f, 6.0 + 1e-9, 7.0).all(|l| l.text.starts_with("dropped (receiver down)")), "down");
    // The restart boots a fresh process, which runs although the pause has not ended yet.
    assert_eq!(r.find(f, 6.0, 100.0, "boot #").iter().map(|l| (t(l), l.text.as_str())).collect::<Vec<_>>(), [(ns(7.0), "boot #2")]);
    assert!(r.find(f, 7.0 + 1e-9, 8.0, "fact Raft(Appended").len() > 3, "the rebooted node works before the pause's end");
    assert!(r.delivered(f, leader, 7.01, 8.0) > 5, "and answers its leader");
}

#[test]
fn overlapping_disk_faults_on_one_node_each_last_their_own_time() {
    let seed = 15;
    let base = Spec::new(14.0);
    let (leader, _) = probe_leader(&base, seed, 5.0);
    let f = (leader + 1) % 3;
    // Full from 5 s to 10 s; slow from 5 s to 6 s.
    let spec = base.fault(5.0, "disk_full", &[C[f as usize]], &[], 5.0).fault(5.0, "disk_slow", &[C[f as usize]], &[], 1.0);
    let r = run(&spec, seed);
    r.assert_passed();
    assert!(!r.find(f, 5.0, 6.0, "halt: ").is_empty(), "the follower halts on its full disk");
    let written: Vec<&TraceLine> = r
        .of(f, 5.0, 10.0)
        .filter(|l| (l.text.starts_with("disk Append") || l.text.starts_with("disk WriteAll")) && l.text.ends_with("-> Ok(None)"))
        .collect();
    assert!(
        written.is_empty(),
        "the disk is full until 10 s, yet writes succeed:\n{}",
        written.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn overlapping_loss_bursts_each_last_their_own_time() {
    let seed = 16;
    // 30% extra loss from 4 s to 10 s, and another burst from 5 s to 6 s.
    let spec = Spec::new(12.0).fault(4.0, "packet_loss", &[], &[], 6.0).fault(5.0, "packet_loss", &[], &[], 1.0);
    let r = run(&spec, seed);
    r.assert_passed();
    let links = r.links(6.5, 10.0);
    let lost = links.iter().filter(|l| l.dropped.as_deref() == Some("loss")).count();
    let share = lost as f64 / links.iter().filter(|l| l.dropped.is_none() || l.dropped.as_deref() == Some("loss")).count() as f64;
    assert!(share > 0.2, "the first burst lasts until 10 s, but only {share:.3} of the messages were lost in 6.5..10 s");
}

#[test]
fn late_delivery_holds_a_share_of_a_nodes_messages_for_seconds() {
    let seed = 17;
    // c0's messages from 4 s to 6 s: a fifth of them held 5 s (a fixed fault's strength). c0 is
    // down from 6 s to 14 s, so whatever of it arrives in 7..11 s was sent before 6 s and held:
    // its links deliver in under a few milliseconds otherwise.
    let spec = Spec::new(16.0).fault(4.0, "late_delivery", &[C[0]], &[], 2.0).fault(6.0, "crash", &[C[0]], &[], 8.0);
    let r = run(&spec, seed);
    r.assert_passed();
    let held = (1..3).map(|to| r.delivered(0, to, 7.0, 11.0)).sum::<usize>();
    assert!(held > 0, "nothing c0 sent before its crash arrived seconds later");
    assert!(r.report.network.held_late as usize >= held, "held_late counts {} of {held}", r.report.network.held_late);
    // The control: the same crash without late delivery leaves nothing of c0 in flight that long.
    let control = run(&Spec::new(16.0).fault(6.0, "crash", &[C[0]], &[], 8.0), seed);
    control.assert_passed();
    assert_eq!((1..3).map(|to| control.delivered(0, to, 7.0, 11.0)).sum::<usize>(), 0);
    assert_eq!(control.report.network.held_late, 0);
}

// ----- Whole machines ------------------------------------------------------------------------------

/// Three controllers and four data nodes on two machines: machine 0 runs controllers 0 and 2 and
/// data nodes 3 and 5 (`master.datanode.0` and `.2`), machine 1 controller 1 and data nodes 4 and 6.
/// Two DFS clients (7, 8) write at reliability level 1. `schedule` is appended as written.
fn machines_scenario(schedule: &str) -> Arc<Scenario> {
    let text = format!(
        r#"name = "machines-test"
[run]
safety_s = 12.0
liveness_bound_s = 30.0
seeds_ci = 1

[cluster.master]
controllers = 3
data_nodes = 4
replication_factor = 2
reliability_level = 1
machines = 2

[dfs_workload]
clients = 2
lanes_per_client = 16
ops_per_s = 40.0
databases = 2
tables_per_db = 2

{schedule}"#
    );
    Arc::new(Scenario::parse("test.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}")))
}

const MACHINE_0: [NodeId; 4] = [0, 2, 3, 5];
const MACHINE_1: [NodeId; 3] = [1, 4, 6];
const DFS_CLIENTS: [NodeId; 2] = [7, 8];

fn machine_fault(fault: &str, node: &str) -> String {
    format!("[[faults.schedule]]\nat_s = 5.0\nfault = {fault:?}\nnodes = [{node:?}]\nduration_s = 3.0\n")
}

#[test]
fn the_topology_puts_controllers_and_data_nodes_on_machines_and_clients_on_none() {
    let s = machines_scenario("");
    let topology = Topology::from_scenario(&s);
    let machines: Vec<Vec<NodeId>> = topology.machines().into_iter().map(|(_, nodes)| nodes).collect();
    assert_eq!(machines, vec![MACHINE_0.to_vec(), MACHINE_1.to_vec()]);
    assert!(DFS_CLIENTS.iter().all(|&c| topology.nodes[c as usize].machine.is_none()));
    assert_eq!(topology.machine_of(5).map(|(m, _)| m.name()), Some("master.machine.0".to_string()));
    // By default every node has a machine of its own index: data node i on machine i.
    let default = Topology::from_scenario(&Scenario::embedded("master-chaos").expect("embedded"));
    let index = |n: NodeId| default.nodes[n as usize].machine.map(|m| m.index);
    assert_eq!((3..7).map(index).collect::<Vec<_>>(), vec![Some(0), Some(1), Some(2), Some(3)]);
    assert_eq!((0..3).map(index).collect::<Vec<_>>(), vec![Some(0), Some(1), Some(2)]);
}

#[test]
fn a_machine_crash_kills_every_process_of_the_machine_at_once_keeps_their_page_cache_and_boots_them_together() {
    let r = run_scenario(&machines_scenario(&machine_fault("machine_crash", "master.datanode.2")), 3);
    r.assert_passed();
    for n in MACHINE_0 {
        assert_eq!(r.find(n, 5.0, 5.0 + 1e-9, "killed (machine crash)").len(), 1, "node {n} killed at 5 s");
        let boots: Vec<u64> = r.find(n, 0.0, 100.0, "boot").iter().map(|l| t(l)).collect();
        assert_eq!(boots, vec![0, ns(8.0)], "node {n} boots again with its machine at 8 s");
    }
    for n in MACHINE_1 {
        assert!(r.find(n, 0.0, 100.0, "killed").is_empty() && r.find(n, 0.0, 100.0, "boot").len() == 1, "node {n} is on the other machine");
    }
    assert!(r.lines.iter().all(|l| !l.text.starts_with("crash (power loss)")), "a machine crash loses no page cache");
    // Nothing written was lost: each controller of the machine reboots with every entry its log
    // held when it was killed, synced or not.
    for c in [0, 2] {
        let mut log: BTreeMap<u64, EntryId> = BTreeMap::new();
        for l in r.of(c, 0.0, 5.0) {
            if let Some(rest) = l.text.strip_prefix("fact Raft(Appended") {
                let n = numbers(rest);
                log.insert(n[0], (n[0], n[1], n[2]));
            } else if let Some(from) = fact_num(l, "Truncated", "from_index: ") {
                log.retain(|&i, _| i < from);
            }
        }
        let (_, entries) = r.of(c, 7.9, 8.0 + 1e-9).find_map(recovered).expect("a Recovered fact at the reboot");
        // The log after the snapshot it boots from: the entries it held from there to its end.
        let first = entries.first().map_or(u64::MAX, |e| e.0);
        let held: Vec<EntryId> = log.range(first..).map(|(_, e)| *e).collect();
        assert!(held.len() > 5, "controller {c} held entries past its snapshot: {held:?}");
        assert_eq!(entries, held, "controller {c} rebooted without part of its page cache");
    }
}

#[test]
fn a_machine_power_loss_crashes_every_node_of_the_machine_at_the_same_instant_and_boots_them_together() {
    let r = run_scenario(&machines_scenario(&machine_fault("machine_power_loss", "master.controller.1")), 4);
    r.assert_passed();
    assert!(
        r.faults().iter().any(|(at, text)| *at == ns(5.0) && text.starts_with("fault MachineDown { nodes: [1, 4, 6], power_loss: true"))
    );
    for n in MACHINE_1 {
        assert_eq!(r.find(n, 5.0, 5.0 + 1e-9, "crash (power loss)").len(), 1, "node {n} loses power at 5 s");
        let boots: Vec<u64> = r.find(n, 0.0, 100.0, "boot").iter().map(|l| t(l)).collect();
        assert_eq!(boots, vec![0, ns(8.0)], "node {n} boots again with its machine at 8 s");
    }
    for n in MACHINE_0 {
        assert!(r.find(n, 0.0, 100.0, "crash").is_empty(), "node {n} is on the other machine");
    }
    assert_eq!(r.report.stats.crashes, 3);
}

#[test]
fn a_machine_isolation_cuts_its_nodes_from_other_machines_and_clients_but_not_from_each_other() {
    let r = run_scenario(&machines_scenario(&machine_fault("machine_isolation", "master.datanode.0")), 5);
    r.assert_passed();
    let outside: Vec<NodeId> = MACHINE_1.iter().chain(&DFS_CLIENTS).copied().collect();
    // Messages sent before the cut may still arrive just after it: look from 5.1 s.
    let across = |a: f64, b: f64| {
        MACHINE_0
            .iter()
            .flat_map(|&m| outside.iter().map(move |&o| (m, o)))
            .map(|(m, o)| r.delivered(m, o, a, b) + r.delivered(o, m, a, b))
            .sum::<usize>()
    };
    assert_eq!(across(5.1, 8.0), 0, "a delivery crossed the isolated machine's link");
    let inside: usize =
        MACHINE_0.iter().flat_map(|&a| MACHINE_0.iter().map(move |&b| (a, b))).map(|(a, b)| r.delivered(a, b, 5.1, 8.0)).sum();
    assert!(inside > 20, "the nodes of the isolated machine still talk to each other: {inside}");
    assert!(r.dropped(0, 1, "partition", 5.0, 8.0) + r.dropped(1, 0, "partition", 5.0, 8.0) > 0, "the cut drops controller traffic");
    assert!(across(8.1, 12.0) > 50, "the link is back after the isolation");
}

#[test]
fn machine_faults_are_planned_on_every_node_of_one_machine() {
    let s =
        machines_scenario("[faults]\nkinds = [\"machine_crash\", \"machine_power_loss\", \"machine_isolation\"]\nmean_interval_s = 2.0\n");
    let topology = Topology::from_scenario(&s);
    let machines: Vec<Vec<NodeId>> = topology.machines().into_iter().map(|(_, nodes)| nodes).collect();
    let every: Vec<NodeId> = topology.nodes.iter().map(|n| n.id).collect();
    let mut seen = BTreeSet::new();
    for seed in 0..10 {
        let plan = nemesis::plan_for(&s, &topology, seed);
        for f in &plan.faults {
            match &f.action {
                FaultAction::MachineDown { nodes, power_loss } => {
                    assert!(machines.contains(nodes), "seed {seed}: {nodes:?} is not one machine's nodes");
                    seen.insert(if *power_loss { "power loss" } else { "crash" });
                }
                FaultAction::MachineUp { nodes } => assert!(machines.contains(nodes), "seed {seed}: {nodes:?}"),
                FaultAction::Partition { a, b, one_way, .. } => {
                    assert!(machines.contains(a) && !one_way, "seed {seed}: {a:?}");
                    let mut both: Vec<NodeId> = a.iter().chain(b).copied().collect();
                    both.sort();
                    assert_eq!(both, every, "seed {seed}: the machine against every other node, clients included");
                    seen.insert("isolation");
                }
                FaultAction::StartLiveness | FaultAction::PartitionEnd { .. } => {}
                other => panic!("seed {seed}: {other:?} is no machine fault"),
            }
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    // A scheduled machine fault names a node of its machine; a client runs on none.
    let bad = std::panic::catch_unwind(|| machines_scenario(&machine_fault("machine_crash", "dfsclient.0")))
        .expect_err("a client has no machine");
    let text = bad.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("faults.schedule[0].nodes") && text.contains("clients are never faulted"), "{text}");
}

// ----- The nemesis' plan ---------------------------------------------------------------------------

/// The kind of fault an action belongs to (`None` for `StartLiveness` and for ends shared by kinds).
fn kind_of(action: &FaultAction, topology: &Topology, plan: &FaultPlan) -> Option<FaultKind> {
    let is_client = |n: &NodeId| topology.nodes[*n as usize].kind == NodeKind::Client;
    let partition_kind = |a: &[NodeId], b: &[NodeId], one_way: bool| {
        if one_way {
            FaultKind::OneWayPartition
        } else if a.len() == 1 && b.iter().any(is_client) {
            FaultKind::Isolate
        } else {
            FaultKind::Partition
        }
    };
    Some(match action {
        FaultAction::Crash { .. } | FaultAction::Restart { .. } => FaultKind::Crash,
        FaultAction::Pause { .. } | FaultAction::Resume { .. } => FaultKind::Pause,
        FaultAction::Partition { a, b, one_way, .. } => partition_kind(a, b, *one_way),
        FaultAction::PartitionEnd { id } => plan.faults.iter().find_map(|f| match &f.action {
            FaultAction::Partition { id: i, a, b, one_way } if i == id => Some(partition_kind(a, b, *one_way)),
            _ => None,
        })?,
        FaultAction::PacketLoss { .. } | FaultAction::PacketLossEnd { .. } => FaultKind::PacketLoss,
        FaultAction::LateDelivery { .. } | FaultAction::LateDeliveryEnd { .. } => FaultKind::LateDelivery,
        FaultAction::ClockDrift { .. } => FaultKind::Clock,
        FaultAction::CorruptFile { .. } => FaultKind::DiskCorruption,
        FaultAction::ReadErrors { .. } => FaultKind::DiskReadError,
        FaultAction::DiskFull { .. } => FaultKind::DiskFull,
        FaultAction::DiskSlow { .. } => FaultKind::DiskSlow,
        FaultAction::MachineDown { power_loss: true, .. } => FaultKind::MachinePowerLoss,
        FaultAction::MachineDown { power_loss: false, .. } => FaultKind::MachineCrash,
        FaultAction::DiskFaultEnd { .. } | FaultAction::MachineUp { .. } | FaultAction::StartLiveness => return None,
    })
}

fn chaos() -> (Scenario, Topology) {
    let s = Scenario::embedded("controllers-chaos").expect("embedded");
    let topology = Topology::from_scenario(&s);
    (s, topology)
}

#[test]
fn the_plan_is_a_function_of_the_seed() {
    let (s, topology) = chaos();
    for seed in 0..20 {
        assert_eq!(nemesis::plan_for(&s, &topology, seed), nemesis::plan_for(&s, &topology, seed), "seed {seed}");
    }
    let plans: BTreeSet<String> = (0..20).map(|seed| format!("{:?}", nemesis::plan_for(&s, &topology, seed))).collect();
    assert_eq!(plans.len(), 20, "20 seeds, 20 different plans");
}

#[test]
fn swarm_mode_switches_kinds_off_per_seed_and_never_plans_a_disabled_kind() {
    let (s, topology) = chaos();
    assert!(s.faults.swarm);
    let all: BTreeSet<FaultKind> = s.faults.kinds.iter().copied().collect();
    let mut disabled_sets = BTreeSet::new();
    let mut planned_kinds = BTreeSet::new();
    for seed in 0..200 {
        let plan = nemesis::plan_for(&s, &topology, seed);
        let enabled: BTreeSet<FaultKind> = plan.swarm.enabled.iter().map(|e| e.0).collect();
        let disabled: BTreeSet<FaultKind> = plan.swarm.disabled.iter().copied().collect();
        assert!(!enabled.is_empty(), "seed {seed}: every kind off");
        assert!(enabled.is_disjoint(&disabled), "seed {seed}");
        assert_eq!(&enabled | &disabled, all, "seed {seed}: every kind is either on or off");
        for &(kind, mean) in &plan.swarm.enabled {
            let base = s.faults.mean_interval_s;
            assert!(mean >= base * 0.5 - 1e-9 && mean <= base * 4.0 + 1e-9, "seed {seed}: {kind:?} every {mean} s");
        }
        for f in &plan.faults {
            if let Some(kind) = kind_of(&f.action, &topology, &plan) {
                assert!(!disabled.contains(&kind), "seed {seed}: {kind:?} is off but planned: {:?}", f.action);
                planned_kinds.insert(kind);
            }
        }
        disabled_sets.insert(plan.swarm.disabled.clone());
    }
    assert!(disabled_sets.len() > 50, "swarm picks varied sets of kinds: {} distinct", disabled_sets.len());
    assert_eq!(planned_kinds, all, "over 200 seeds every kind is planned somewhere");
}

#[test]
fn without_swarm_every_kind_is_on_at_the_base_rate() {
    let (mut s, topology) = chaos();
    s.faults.swarm = false;
    let plan = nemesis::plan_for(&s, &topology, 3);
    assert!(plan.swarm.disabled.is_empty());
    assert_eq!(plan.swarm.enabled.len(), s.faults.kinds.len());
    assert!(plan.swarm.enabled.iter().all(|&(_, mean)| mean == s.faults.mean_interval_s));
}

/// The nodes whose files `plan` corrupts.
fn corrupted_nodes(plan: &nemesis::FaultPlan) -> BTreeSet<NodeId> {
    plan.faults
        .iter()
        .filter_map(|f| match f.action {
            FaultAction::CorruptFile { node } => Some(node),
            _ => None,
        })
        .collect()
}

#[test]
fn corruption_hits_at_most_a_minority_of_the_controllers() {
    let (s, topology) = chaos();
    let controllers = topology.nodes.iter().filter(|n| matches!(n.kind, NodeKind::Controller(_))).count();
    let mut seeds_with_corruption = 0;
    for seed in 0..300 {
        let plan = nemesis::plan_for(&s, &topology, seed);
        let hit = corrupted_nodes(&plan);
        assert!(hit.len() <= (controllers - 1) / 2, "seed {seed}: corruption on {hit:?}");
        seeds_with_corruption += usize::from(!hit.is_empty());
    }
    assert!(seeds_with_corruption > 50, "corruption is planned at all: {seeds_with_corruption} seeds");
}

#[test]
fn corruption_hits_at_most_replication_factor_minus_one_data_nodes_and_a_minority_of_controllers_per_cluster() {
    // Every chunk keeps an intact replica to recover from; every controller group a quorum.
    let s = Scenario::embedded("disk-corruption").expect("embedded");
    let topology = Topology::from_scenario(&s);
    let replication_factor = |c: ClusterId| match c {
        ClusterId::Master => s.cluster.master.replication_factor,
        ClusterId::Slave(_) => s.cluster.slave.as_ref().expect("a slave").replication_factor,
    } as usize;
    let mut data_nodes_hit_in = 0;
    for seed in 0..300 {
        let plan = nemesis::plan_for(&s, &topology, seed);
        let hit = corrupted_nodes(&plan);
        for cluster in topology.clusters() {
            let data_nodes = topology.data_nodes(cluster).into_iter().filter(|n| hit.contains(n)).count();
            assert!(data_nodes < replication_factor(cluster), "seed {seed}: corruption on {data_nodes} data nodes of {cluster:?}");
            let group = topology.controllers(cluster);
            let controllers = group.iter().filter(|n| hit.contains(n)).count();
            assert!(controllers <= (group.len() - 1) / 2, "seed {seed}: corruption on {controllers} controllers of {cluster:?}");
            data_nodes_hit_in += usize::from(data_nodes > 0);
        }
    }
    assert!(data_nodes_hit_in > 50, "data nodes are corrupted at all: {data_nodes_hit_in} cluster-seeds");
}

#[test]
fn every_fault_lies_in_the_safety_phase_and_the_plan_ends_with_start_liveness() {
    let (s, topology) = chaos();
    let safety = ns(s.run.safety_s);
    let faultable: BTreeSet<NodeId> = topology.faultable().into_iter().collect();
    for seed in 0..200 {
        let plan = nemesis::plan_for(&s, &topology, seed);
        let last = plan.faults.last().expect("never empty");
        assert_eq!((last.at.as_nanos(), &last.action), (safety, &FaultAction::StartLiveness), "seed {seed}");
        assert_eq!(plan.faults.iter().filter(|f| f.action == FaultAction::StartLiveness).count(), 1);
        assert!(plan.faults.windows(2).all(|w| w[0].at <= w[1].at), "seed {seed}: in time order");
        for f in &plan.faults {
            assert!(f.at.as_nanos() <= safety, "seed {seed}: {f:?} after the safety phase");
            let starts = !matches!(
                f.action,
                FaultAction::Restart { .. }
                    | FaultAction::Resume { .. }
                    | FaultAction::PartitionEnd { .. }
                    | FaultAction::PacketLossEnd { .. }
                    | FaultAction::DiskFaultEnd { .. }
                    | FaultAction::StartLiveness
            );
            if starts {
                assert!(f.at.as_nanos() < safety, "seed {seed}: {f:?} starts at the end of the safety phase");
            }
            let node = match f.action {
                FaultAction::Crash { node }
                | FaultAction::Pause { node }
                | FaultAction::CorruptFile { node }
                | FaultAction::DiskFull { node, .. } => Some(node),
                _ => None,
            };
            assert!(node.is_none_or(|n| faultable.contains(&n)), "seed {seed}: a client faulted: {f:?}");
        }
        // Every pause ends, inside the phase; every partition ends.
        for f in &plan.faults {
            if let FaultAction::Pause { node } = f.action {
                assert!(
                    plan.faults.iter().any(|g| g.action == FaultAction::Resume { node } && g.at >= f.at),
                    "seed {seed}: pause without resume"
                );
            }
            if let FaultAction::Partition { id, .. } = f.action {
                assert!(plan.faults.iter().any(|g| g.action == FaultAction::PartitionEnd { id }), "seed {seed}: partition {id} never ends");
            }
            if let FaultAction::PacketLoss { id, .. } = f.action {
                assert!(
                    plan.faults.iter().any(|g| g.action == FaultAction::PacketLossEnd { id }),
                    "seed {seed}: loss burst {id} never ends"
                );
            }
            if let FaultAction::ReadErrors { id, node } | FaultAction::DiskFull { id, node } | FaultAction::DiskSlow { id, node, .. } =
                f.action
            {
                assert!(
                    plan.faults.iter().any(|g| g.action == FaultAction::DiskFaultEnd { id, node }),
                    "seed {seed}: disk fault {id} never ends"
                );
            }
        }
    }
}

#[test]
fn a_fixed_schedule_is_planned_as_written() {
    let spec = Spec::new(10.0).fault(2.0, "crash", &[C[1]], &[], 3.0).fault(9.0, "pause", &[C[0]], &[], 5.0).fault(
        1.0,
        "one_way_partition",
        &[C[2]],
        &[C[0]],
        2.5,
    );
    let s = spec.build();
    let topology = Topology::from_scenario(&s);
    let plan = nemesis::plan_for(&s, &topology, 42);
    let got: Vec<(u64, FaultAction)> = plan.faults.iter().map(|f| (f.at.as_nanos(), f.action.clone())).collect();
    let want = vec![
        (ns(1.0), FaultAction::Partition { id: 1, a: vec![2], b: vec![0], one_way: true }),
        (ns(2.0), FaultAction::Crash { node: 1 }),
        (ns(3.5), FaultAction::PartitionEnd { id: 1 }),
        (ns(5.0), FaultAction::Restart { node: 1 }),
        (ns(9.0), FaultAction::Pause { node: 0 }),
        // A pause is cut at the end of the safety phase, before the liveness phase begins.
        (ns(10.0), FaultAction::Resume { node: 0 }),
        (ns(10.0), FaultAction::StartLiveness),
    ];
    assert_eq!(got, want);
    assert_eq!(nemesis::plan_for(&s, &topology, 43).faults, plan.faults, "no random faults: every seed the same plan");
}

// ----- The liveness phase --------------------------------------------------------------------------

#[test]
fn the_liveness_phase_restarts_crashed_nodes_and_resumes_paused_ones() {
    let seed = 12;
    // The crash lasts past the safety phase, so the plan has no restart for it; the pause is cut
    // short at the phase's end.
    let spec = Spec::new(10.0).fault(8.0, "crash", &[C[0]], &[], 10.0).fault(9.0, "pause", &[C[1]], &[], 10.0);
    let s = spec.build();
    let plan = nemesis::plan_for(&s, &Topology::from_scenario(&s), seed);
    assert!(!plan.faults.iter().any(|f| matches!(f.action, FaultAction::Restart { .. })), "{:?}", plan.faults);
    let r = run_scenario(&s, seed);
    r.assert_passed();
    let phase: Vec<&TraceLine> = r.lines.iter().filter(|l| l.text.starts_with("liveness phase")).collect();
    assert_eq!(phase.len(), 1);
    assert_eq!(t(phase[0]), ns(10.0));
    // Down from 8 s until the liveness phase boots it.
    assert!(r.of(0, 8.0 + 1e-9, 10.0).all(|l| l.text.starts_with("dropped (receiver down)")));
    assert_eq!(r.find(0, 8.0, 100.0, "boot #").iter().map(|l| (t(l), l.text.as_str())).collect::<Vec<_>>(), [(ns(10.0), "boot #2")]);
    // Paused from 9 s, handling its queue at 10 s.
    assert!(r.find(1, 9.0 + 1e-9, 10.0, "fact").is_empty(), "paused node reported facts");
    assert!(!r.find(1, 10.0, 10.0 + 1e-9, "fact").is_empty(), "resumed node handles its queue at 10 s");
    // Clients stop their workload: nothing is invoked after the phase began.
    assert!(CLIENTS.iter().all(|&c| r.find(c, 10.0 + 1e-9, 100.0, "fact Client(Invoked").is_empty()));
    assert!(r.report.sim_seconds < 10.0 + s.run.liveness_bound_s);
}

#[test]
fn a_liveness_bound_too_short_to_elect_a_leader_fails_the_run() {
    let seed = 13;
    // Every controller loses power just before the end; the liveness phase reboots them all, and
    // an election takes at least one timeout (300 ms).
    let mut spec = Spec::new(10.0);
    for c in C {
        spec = spec.fault(9.5, "crash", &[c], &[], 5.0);
    }
    // A bound shorter than one election timeout is refused when the scenario loads (issue 10: it
    // would end as a liveness failure blamed on the design).
    spec.liveness_bound_s = 0.2;
    let refused = std::panic::catch_unwind(|| spec.build()).expect_err("a bound shorter than any election");
    let text = refused.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("raft.election_timeout_ms") && text.contains("exceeds run.liveness_bound_s (0.2 s)"), "{text}");
    // A bound the loader accepts (the largest election timeout) is still too short when a vote takes
    // a 500 ms round trip: the liveness phase ends the run as a liveness violation.
    spec.sections =
        "[network.lan]\nlatency_ms = [250.0, 250.0]\nloss = 0.0\nduplicate = 0.0\nreorder = 0.0\nreorder_delay_ms_max = 0.0\n".into();
    spec.liveness_bound_s = 0.6;
    let r = run(&spec, seed);
    assert!(!r.report.ok, "converged within 0.6 s of an all-down group?");
    let v = &r.report.violations[0];
    assert_eq!(v.checker, "raft-liveness", "{v}");
    assert!(v.message.starts_with("not converged 0.6 s after healing: "), "{v}");
    assert_eq!(v.at.as_nanos(), ns(10.6), "{v}");
    assert_eq!(r.report.failed_checker(), Some("raft-liveness"));
    assert!(r.lines.last().is_some_and(|l| l.text.starts_with("VIOLATION [raft-liveness]")));
    // The same faults on the usual network, with a sane bound, converge.
    spec.sections = String::new();
    spec.liveness_bound_s = 10.0;
    run(&spec, seed).assert_passed();
}

// ----- Determinism ---------------------------------------------------------------------------------

#[test]
fn one_seed_one_run_and_different_seeds_differ() {
    let mut s = Scenario::embedded("controllers-chaos").expect("embedded");
    s.run.safety_s = 15.0;
    let s = Arc::new(s);
    let a = run_scenario(&s, 21);
    let b = run_scenario(&s, 21);
    let c = run_scenario(&s, 22);
    assert_eq!(a.report.trace_hash, b.report.trace_hash);
    assert_eq!(a.lines, b.lines, "the same seed gives the same trace, line by line");
    assert_eq!((a.report.stats, a.report.network, a.report.ok), (b.report.stats, b.report.network, b.report.ok));
    assert!(a.report.stats.faults > 3, "the run had faults to replay: {}", a.report.stats.faults);
    assert_ne!(a.report.trace_hash, c.report.trace_hash, "seeds 21 and 22 ran the same");
    assert_ne!(a.lines, c.lines);
}

//! The availability checker on hand-made sequences of facts and faults.

use super::*;
use crate::checkers::Checker;

const MS: u64 = 1_000_000;

fn at(ms: u64) -> SimTime {
    SimTime::from_nanos(ms * MS)
}

fn expect(f: impl FnOnce(&mut ExpectSection)) -> ExpectSection {
    let mut e = ExpectSection { settle_ms: 1000.0, ..ExpectSection::default() };
    f(&mut e);
    e
}

/// A master group of controllers 0, 1, 2; clients are node 10.
fn checker(e: &ExpectSection) -> Availability {
    Availability::new(vec![("master".into(), vec![0, 1, 2])], e)
}

const CLIENT: NodeId = 10;

/// `n` operations from `from_ms`, one every 10 ms, each answered 5 ms after it was sent.
fn operations(c: &mut Availability, from_ms: u64, n: u64, answer: impl Fn(u64) -> Answer) {
    for i in 0..n {
        let sent = from_ms + i * 10;
        c.observe(at(sent), CLIENT, Seen::Sent { op: (u64::MAX, from_ms * 1000 + i) });
        c.observe(at(sent + 5), CLIENT, Seen::Answered { op: (u64::MAX, from_ms * 1000 + i), answer: answer(i) });
    }
}

fn lead(c: &mut Availability, ms: u64, node: NodeId) {
    c.observe(at(ms), node, Seen::Raft(&RaftFact::BecameLeader { term: 1 }));
}

#[test]
fn aborts_inside_a_fault_and_its_settling_time_are_not_counted() {
    let e = expect(|e| e.aborted_share_max = Some(0.05));
    let mut c = checker(&e);
    lead(&mut c, 300, 0);
    operations(&mut c, 1000, 100, |_| Answer::Committed);
    c.observe(at(3000), 1, Seen::Begins(&Disruption::Down(1)));
    // Everything aborts while node 1 is down and for the second after it boots.
    operations(&mut c, 3000, 100, |_| Answer::Aborted);
    c.observe(at(4000), 1, Seen::Ends(DisruptionKey::Down(1)));
    operations(&mut c, 4000, 50, |_| Answer::Aborted);
    operations(&mut c, 5000, 100, |i| if i % 50 == 0 { Answer::Aborted } else { Answer::Committed });
    c.observe(at(7000), WORLD_NODE, Seen::SafetyEnds);
    let s = c.summary(at(8000));
    assert_eq!((s.counted.operations, s.counted.aborted), (200, 2));
    assert_eq!(s.windows, 2);
    assert!((s.fault_free_s - 4.0).abs() < 1e-9, "{s:?}");
    assert_eq!(c.at_end(&at(8000), &()), Ok(()));
}

const WORLD_NODE: NodeId = u32::MAX;

#[test]
fn aborts_beyond_the_share_in_fault_free_windows_fail_naming_the_field_and_window() {
    let e = expect(|e| e.aborted_share_max = Some(0.05));
    let mut c = checker(&e);
    lead(&mut c, 300, 0);
    operations(&mut c, 1000, 100, |i| if i % 10 == 0 { Answer::Aborted } else { Answer::Committed });
    c.observe(at(3000), WORLD_NODE, Seen::SafetyEnds);
    let message = c.at_end(&at(4000), &()).unwrap_err();
    assert!(message.starts_with("expect.aborted_share_max = 0.05 exceeded: 10 of 100"), "{message}");
    assert!(message.contains("answered Aborted") && message.contains("1 fault-free windows of 2.0 s"), "{message}");
}

#[test]
fn too_few_operations_judge_no_share() {
    let e = expect(|e| e.unavailable_share_max = Some(0.0));
    let mut c = checker(&e);
    operations(&mut c, 1000, SHARE_SAMPLE_MIN - 1, |_| Answer::Unavailable);
    c.observe(at(3000), WORLD_NODE, Seen::SafetyEnds);
    assert_eq!(c.at_end(&at(3000), &()), Ok(()));
    let mut c = checker(&e);
    operations(&mut c, 1000, SHARE_SAMPLE_MIN, |_| Answer::Unavailable);
    assert!(c.at_end(&at(3000), &()).unwrap_err().contains("answered Unavailable"));
}

#[test]
fn a_leader_lost_to_a_crash_must_be_replaced_within_the_bound() {
    let e = expect(|e| e.leaderless_ms_max = Some(1000.0));
    // Replaced 600 ms after the crash: fine, although the crashed member is still down.
    let mut c = checker(&e);
    lead(&mut c, 400, 0);
    c.observe(at(5000), 0, Seen::Begins(&Disruption::Down(0)));
    lead(&mut c, 5600, 1);
    c.observe(at(9000), 0, Seen::Ends(DisruptionKey::Down(0)));
    assert_eq!(c.at_end(&at(10_000), &()), Ok(()));
    assert_eq!(c.summary(at(10_000)).leaderless_ms["master"], 600.0);
    // Replaced 5 s after the crash: the group had a quorum all along.
    let mut c = checker(&e);
    lead(&mut c, 400, 0);
    c.observe(at(5000), 0, Seen::Begins(&Disruption::Down(0)));
    lead(&mut c, 10_000, 1);
    let message = c.at_end(&at(11_000), &()).unwrap_err();
    assert!(message.starts_with("expect.leaderless_ms_max = 1000 exceeded: controller group master"), "{message}");
    assert!(message.contains("5000 ms, from 5.000 s to 10.000 s"), "{message}");
}

#[test]
fn leaderless_time_without_a_quorum_counts_from_the_heal() {
    let e = expect(|e| e.leaderless_ms_max = Some(1000.0));
    let mut c = checker(&e);
    lead(&mut c, 400, 0);
    // Two of three down: no quorum, no clock.
    c.observe(at(5000), 1, Seen::Begins(&Disruption::Down(1)));
    c.observe(at(5000), 0, Seen::Begins(&Disruption::Down(0)));
    c.observe(at(15_000), 0, Seen::Ends(DisruptionKey::Down(0)));
    lead(&mut c, 15_800, 0);
    assert_eq!(c.at_end(&at(20_000), &()), Ok(()));
    assert_eq!(c.summary(at(20_000)).leaderless_ms["master"], 800.0);
}

#[test]
fn an_isolated_leader_counts_as_lost_and_a_loss_burst_stops_the_clock() {
    let e = expect(|e| e.leaderless_ms_max = Some(1000.0));
    let mut c = checker(&e);
    lead(&mut c, 400, 0);
    c.observe(at(2000), 0, Seen::Begins(&Disruption::Cut { id: 1, a: vec![0], b: vec![1, 2, 10], one_way: false }));
    // 900 ms without a leader on the majority's side, then a loss burst for 10 s.
    c.observe(at(2900), WORLD_NODE, Seen::Begins(&Disruption::Loss(2)));
    c.observe(at(12_900), WORLD_NODE, Seen::Ends(DisruptionKey::Loss(2)));
    lead(&mut c, 13_700, 2);
    assert_eq!(c.at_end(&at(20_000), &()), Ok(()));
    assert_eq!(c.summary(at(20_000)).leaderless_ms["master"], 900.0);
}

#[test]
fn a_one_way_cut_through_the_group_stops_the_clock() {
    let e = expect(|e| e.leaderless_ms_max = Some(1000.0));
    let mut c = checker(&e);
    lead(&mut c, 400, 0);
    c.observe(at(2000), 0, Seen::Begins(&Disruption::Cut { id: 1, a: vec![0, 1], b: vec![2], one_way: true }));
    c.observe(at(2000), 0, Seen::Raft(&RaftFact::SteppedDown { term: 1 }));
    c.observe(at(9000), WORLD_NODE, Seen::Ends(DisruptionKey::Cut(1)));
    lead(&mut c, 9500, 1);
    assert_eq!(c.at_end(&at(10_000), &()), Ok(()));
    assert_eq!(c.summary(at(10_000)).leaderless_ms["master"], 500.0);
}

#[test]
fn the_commit_rate_is_judged_over_the_fault_free_windows() {
    let e = expect(|e| e.commits_per_s_min = Some(40.0));
    let mut c = checker(&e);
    // 1 s settling, then 20 s at 50 committed per second.
    operations(&mut c, 1000, 2000, |i| if i % 2 == 0 { Answer::Committed } else { Answer::Refused });
    c.observe(at(21_000), WORLD_NODE, Seen::SafetyEnds);
    assert_eq!(c.at_end(&at(25_000), &()), Ok(()));
    let e = expect(|e| e.commits_per_s_min = Some(60.0));
    let mut c = checker(&e);
    operations(&mut c, 1000, 2000, |i| if i % 2 == 0 { Answer::Committed } else { Answer::Refused });
    c.observe(at(21_000), WORLD_NODE, Seen::SafetyEnds);
    let message = c.at_end(&at(25_000), &()).unwrap_err();
    assert!(message.starts_with("expect.commits_per_s_min = 60 not met: 1000 operations committed"), "{message}");
    assert!(message.contains("50.0 per second"), "{message}");
}

#[test]
fn an_instant_fault_restarts_the_settling_time_and_a_paused_node_that_crashes_is_down() {
    let e = expect(|_| {});
    let mut c = checker(&e);
    c.observe(at(3000), WORLD_NODE, Seen::Instant);
    c.observe(at(5000), 1, Seen::Begins(&Disruption::Paused(1)));
    c.observe(at(6000), 1, Seen::Begins(&Disruption::Down(1)));
    c.observe(at(7000), 1, Seen::Ends(DisruptionKey::Down(1)));
    c.observe(at(10_000), WORLD_NODE, Seen::SafetyEnds);
    // Windows: 1..3 s, 4..5 s, 8..10 s.
    let s = c.summary(at(12_000));
    assert_eq!(s.windows, 3);
    assert!((s.fault_free_s - 5.0).abs() < 1e-9, "{s:?}");
}

#[test]
fn bounds_out_of_range_are_refused_naming_the_field() {
    let base = "name = \"x\"\n[run]\nsafety_s = 1.0\nliveness_bound_s = 1.0\nseeds_ci = 1\n\
                [cluster.master]\ncontrollers = 3\n[workload]\nclients = 1\nproposals_per_s = 1.0\n[expect]\n";
    for (line, field) in [
        ("aborted_share_max = 1.5", "expect.aborted_share_max"),
        ("unavailable_share_max = -0.1", "expect.unavailable_share_max"),
        ("leaderless_ms_max = 0.0", "expect.leaderless_ms_max"),
        ("commits_per_s_min = nan", "expect.commits_per_s_min"),
        ("settle_ms = -1.0", "expect.settle_ms"),
    ] {
        let e = crate::scenario::Scenario::parse("x.toml", &format!("{base}{line}\n")).unwrap_err();
        assert_eq!(e.field, field, "{e}");
    }
    let ok = crate::scenario::Scenario::parse("x.toml", &format!("{base}leaderless_ms_max = 900.0\n")).expect("valid");
    assert_eq!((ok.expect.leaderless_ms_max, ok.expect.settle_ms), (Some(900.0), crate::scenario::DEFAULT_SETTLE_MS));
}

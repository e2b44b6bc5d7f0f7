//! Management calls: the ones a scenario lists at fixed times, and the status probes the harness
//! makes on its own. A call goes to a node as an input (`Input::Admin`) and is answered by an
//! `Admin` fact; a scenario's call must get the outcome the scenario expects, and every answer is
//! judged by the design's checkers (for DolphinDB: the status functions against the facts).

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::{Input, NodeId};

use super::World;
use super::event::{CallOrigin, Event, PlannedCall};
use crate::checkers::{MANAGEMENT_CALLS, Violation};
use crate::design::{Call, CallResult, Probes, SimDesign};
use crate::env::time::SimTime;
use crate::node::{NodeStatus, running_leader};
use crate::topology::ClusterId;
use crate::trace::EventKind;
use crate::view::ClusterView;

/// Tries to reach a target before a call is given up (100 ms apart).
const CALL_ATTEMPTS: u32 = 100;
const RETRY_NANOS: u64 = 100_000_000;

/// Calls made and not answered yet.
#[derive(Debug)]
pub(crate) struct Calls<D: SimDesign> {
    next_id: u64,
    open: BTreeMap<u64, (PlannedCall<D>, u32)>,
    /// What each scenario call expects.
    expected: Vec<String>,
    /// The scenario calls whose outcome was judged.
    answered: BTreeSet<usize>,
    /// The status probes and their interval in simulated nanoseconds.
    probes: Option<(u64, Probes<D>)>,
}

impl<D: SimDesign> Default for Calls<D> {
    fn default() -> Self {
        Self { next_id: 0, open: BTreeMap::new(), expected: Vec::new(), answered: BTreeSet::new(), probes: None }
    }
}

/// A scenario call without an answer this long is made again.
const ANSWER_TIMEOUT_NANOS: u64 = 3_000_000_000;

impl<D: SimDesign> World<D> {
    /// Schedules the scenario's calls and the first status probe.
    pub(super) fn schedule_calls(&mut self) {
        let planned = D::scenario_calls(&self.scenario);
        self.calls.expected = planned.iter().map(|c| c.expect.clone()).collect();
        for (i, c) in planned.into_iter().enumerate() {
            let call = PlannedCall { origin: CallOrigin::Scenario(i), target: c.target, call: c.call, sent: false };
            self.schedule(SimTime::from_secs_f64(c.at_s), Event::Call { call, attempt: 0 });
        }
        if let Some((every_s, probes)) = D::status_probes(&self.scenario, &self.topology)
            && every_s > 0.0
        {
            let every = SimTime::from_secs_f64(every_s).as_nanos();
            self.calls.probes = Some((every, probes));
            self.schedule(SimTime::from_nanos(every), Event::StatusProbe);
        }
    }

    /// The node a call goes to now: the design's own target (a group's primary), a cluster's
    /// controller leader, a running data node of it, or the named node if it runs.
    fn target_node(&self, target: &str) -> Option<NodeId> {
        if let Some(node) = D::design_target(&ClusterView::new(&self.nodes, &self.topology), target) {
            return node;
        }
        let up = |n: NodeId| {
            let node = &self.nodes[n as usize];
            node.status == NodeStatus::Up && node.role.is_some()
        };
        match self.topology.resolve_target(target) {
            Some((cluster, true)) => self.leader_of(cluster),
            Some((cluster, false)) => self.topology.data_nodes(cluster).into_iter().find(|&n| up(n)),
            None => self.topology.by_name(target).filter(|&n| up(n)),
        }
    }

    /// The controller leader of a cluster, if one runs.
    pub(super) fn leader_of(&self, cluster: ClusterId) -> Option<NodeId> {
        running_leader(&self.nodes, &self.topology.controllers(cluster)).map(|(c, _)| c)
    }

    /// Makes a call, or tries again shortly if its target does not run now.
    pub(super) fn make_call(&mut self, mut planned: PlannedCall<D>, attempt: u32) {
        let now = self.now;
        let Some(node) = self.target_node(&planned.target) else {
            if attempt < CALL_ATTEMPTS {
                self.schedule(now.plus_nanos(RETRY_NANOS), Event::Call { call: planned, attempt: attempt + 1 });
            } else if let CallOrigin::Scenario(i) = planned.origin {
                let message = format!("calls[{i}] ({}) found no running target {:?} for 10 s", D::call_name(&planned.call), planned.target);
                self.fail(Violation::harness_expectation(MANAGEMENT_CALLS, SOURCE, now, None, message));
            }
            return;
        };
        if let (CallOrigin::Scenario(i), false) = (planned.origin, planned.sent) {
            let view = ClusterView::new(&self.nodes, &self.topology);
            planned.call = D::prepare_call(&view, &self.scenario, i, node, planned.call);
        }
        planned.sent = true;
        let id = self.calls.next_id;
        self.calls.next_id += 1;
        let text = format!("{:?}", planned.call);
        self.trace.emit(now, node, EventKind::Process, ccrsim_model::core::digest::stable_hash(&text), || {
            format!("management call #{id}: {text}")
        });
        self.push_input(node, Input::Admin { call_id: id, call: planned.call.clone() });
        if matches!(planned.origin, CallOrigin::Scenario(_)) {
            self.schedule(now.plus_nanos(ANSWER_TIMEOUT_NANOS), Event::CallTimeout { call_id: id });
        }
        self.calls.open.insert(id, (planned, attempt));
    }

    /// A scenario call still unanswered: its node crashed, or the answer is stuck behind a lost
    /// Raft proposal. An operator would call again; so does the harness.
    pub(super) fn call_timed_out(&mut self, call_id: u64) {
        if let Some((planned, attempt)) = self.calls.open.remove(&call_id) {
            self.make_call(planned, attempt + 1);
        }
    }

    /// The first scenario call whose outcome has not been judged yet.
    pub(super) fn unanswered_call(&self) -> Option<usize> {
        (0..self.calls.expected.len()).find(|i| !self.calls.answered.contains(i))
    }

    /// A call was answered: check a scenario call's outcome (try again if it reached a controller
    /// that was not, or stopped being, the leader).
    pub(super) fn on_call_answered(&mut self, node: NodeId, call_id: u64, call: &Call<D>, result: &CallResult<D>) {
        let Some((planned, attempt)) = self.calls.open.remove(&call_id) else { return };
        let CallOrigin::Scenario(i) = planned.origin else { return };
        let expect = self.calls.expected[i].clone();
        let got = D::outcome_code(result);
        if got == D::unavailable_code() && expect != D::unavailable_code() && attempt < CALL_ATTEMPTS {
            self.schedule(self.now.plus_nanos(RETRY_NANOS), Event::Call { call: planned, attempt: attempt + 1 });
            return;
        }
        self.calls.answered.insert(i);
        if got != expect {
            let message = format!("calls[{i}] {} on node {node} expected {expect}, got {result:?}", D::call_name(call));
            self.fail(Violation::harness_expectation(MANAGEMENT_CALLS, SOURCE, self.now, Some(node), message));
        }
    }

    /// Calls every status function of every cluster, then schedules the next probe.
    pub(super) fn probe_status(&mut self) {
        let Some((every, probes)) = self.calls.probes.clone() else { return };
        for (target, call) in probes {
            // A probe that finds no target now is not retried: the next probe comes soon.
            self.make_call(PlannedCall { origin: CallOrigin::Probe, target, call, sent: false }, CALL_ATTEMPTS);
        }
        self.schedule(self.now.plus_nanos(every), Event::StatusProbe);
    }
}

/// Where the expectations of management calls come from.
pub(super) const SOURCE: &str = "the scenario's expected outcome of each call (DolphinDB's function reference: errors on misuse)";

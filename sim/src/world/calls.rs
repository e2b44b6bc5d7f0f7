//! Management calls: the ones a scenario lists at fixed times, and the status probes the harness
//! makes on its own. A call goes to a node as an input (`Input::Admin`) and is answered by an
//! `Admin` fact; a scenario's call must get the outcome the scenario expects, and every status
//! answer is judged against the facts by the `status-truthful` checker.

use std::collections::{BTreeMap, BTreeSet};

use ccrsim_model::core::io::{Input, NodeId};
use ccrsim_model::pipeline::dolphindb_async::slave::SlaveTaskState;
use ccrsim_model::pipeline::dolphindb_async::{AdminCall, AdminError, AdminResult};

use super::{Event, NodeStatus, World};
use crate::checkers::{MANAGEMENT_CALLS, Violation};
use crate::time::SimTime;
use crate::topology::ClusterId;
use crate::trace::EventKind;

/// Tries to reach a target before a call is given up (100 ms apart).
const CALL_ATTEMPTS: u32 = 100;
const RETRY_NANOS: u64 = 100_000_000;

/// Where a call comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallOrigin {
    /// The scenario's `calls[i]`.
    Scenario(usize),
    /// The harness's periodic status probe.
    Probe,
}

/// A call to make.
#[derive(Debug, Clone)]
pub(crate) struct PlannedCall {
    origin: CallOrigin,
    target: String,
    call: AdminCall,
    /// `skipClusterReplicationTask("failed")`: the ids are taken when the call is made.
    skip_failed: bool,
}

/// Calls made and not answered yet.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    next_id: u64,
    open: BTreeMap<u64, (PlannedCall, u32)>,
    /// The scenario calls whose outcome was judged.
    answered: BTreeSet<usize>,
}

/// A scenario call without an answer this long is made again.
const ANSWER_TIMEOUT_NANOS: u64 = 3_000_000_000;

impl World {
    /// Schedules the scenario's calls and the first status probe.
    pub(super) fn schedule_calls(&mut self) {
        let planned: Vec<(f64, PlannedCall)> = self
            .scenario
            .calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let call = c.to_call().expect("validated with the scenario");
                (c.at_s, PlannedCall { origin: CallOrigin::Scenario(i), target: c.on.clone(), call, skip_failed: c.skips_failed() })
            })
            .collect();
        for (at, call) in planned {
            self.schedule(SimTime::from_secs_f64(at), Event::Call { call, attempt: 0 });
        }
        let every = self.scenario.replication.status_probe_interval_s;
        if crate::roles::replicates(&self.scenario) && every > 0.0 {
            self.schedule(SimTime::from_secs_f64(every), Event::StatusProbe);
        }
    }

    /// The node a call goes to now: a cluster's controller leader, a running data node of it, or
    /// the named node if it runs.
    fn target_node(&self, target: &str) -> Option<NodeId> {
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
        super::running_leader(&self.nodes, &self.topology.controllers(cluster)).map(|(c, _)| c)
    }

    /// Makes a call, or tries again shortly if its target does not run now.
    pub(super) fn make_call(&mut self, mut planned: PlannedCall, attempt: u32) {
        let now = self.now;
        let Some(node) = self.target_node(&planned.target) else {
            if attempt < CALL_ATTEMPTS {
                self.schedule(now.plus_nanos(RETRY_NANOS), Event::Call { call: planned, attempt: attempt + 1 });
            } else if let CallOrigin::Scenario(i) = planned.origin {
                let message = format!("calls[{i}] ({}) found no running target {:?} for 10 s", planned.call.name(), planned.target);
                self.fail(Violation { checker: MANAGEMENT_CALLS, source: SOURCE, at: now, node: None, message });
            }
            return;
        };
        if planned.skip_failed {
            let failed: Vec<u64> = self.nodes[node as usize]
                .role
                .as_ref()
                .and_then(|r| r.as_controller())
                .and_then(|c| c.raft().state_machine().pipeline.slave())
                .map(|s| s.tasks().values().filter(|t| t.state == SlaveTaskState::Failed).map(|t| t.task.id).collect())
                .unwrap_or_default();
            planned.call = AdminCall::SkipClusterReplicationTask { tasks: failed };
        }
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
        (0..self.scenario.calls.len()).find(|i| !self.calls.answered.contains(i))
    }

    /// A call was answered: check a scenario call's outcome (try again if it reached a controller
    /// that was not, or stopped being, the leader).
    pub(super) fn on_call_answered(&mut self, node: NodeId, call_id: u64, call: &AdminCall, result: &AdminResult) {
        let Some((planned, attempt)) = self.calls.open.remove(&call_id) else { return };
        let CallOrigin::Scenario(i) = planned.origin else { return };
        let expect = self.scenario.calls[i].expect.clone();
        let got = match result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.code.clone(),
        };
        if got == AdminError::UNAVAILABLE && expect != AdminError::UNAVAILABLE && attempt < CALL_ATTEMPTS {
            self.schedule(self.now.plus_nanos(RETRY_NANOS), Event::Call { call: planned, attempt: attempt + 1 });
            return;
        }
        self.calls.answered.insert(i);
        if got != expect {
            let message = format!("calls[{i}] {} on node {node} expected {expect}, got {result:?}", call.name());
            self.fail(Violation { checker: MANAGEMENT_CALLS, source: SOURCE, at: self.now, node: Some(node), message });
        }
    }

    /// Calls every status function of every cluster, then schedules the next probe.
    pub(super) fn probe_status(&mut self) {
        let mut probes = vec![
            ("master.controller".to_string(), AdminCall::GetMasterReplicationStatus { limit: None }),
            ("master.controller".to_string(), AdminCall::GetRecentSlaveReplicationInfo),
            ("master.datanode".to_string(), AdminCall::GetDatabaseClusterReplicationStatus),
        ];
        for slave in self.topology.slaves() {
            probes.push((format!("{}.controller", slave.name()), AdminCall::GetSlaveReplicationStatus { limit: None }));
            probes.push((format!("{}.controller", slave.name()), AdminCall::GetSlaveReplicationQueueStatus));
        }
        for (target, call) in probes {
            // A probe that finds no target now is not retried: the next probe comes soon.
            self.make_call(PlannedCall { origin: CallOrigin::Probe, target, call, skip_failed: false }, CALL_ATTEMPTS);
        }
        let every = SimTime::from_secs_f64(self.scenario.replication.status_probe_interval_s).as_nanos();
        self.schedule(self.now.plus_nanos(every), Event::StatusProbe);
    }
}

/// Where the expectations of management calls come from.
pub(super) const SOURCE: &str = "the scenario's expected outcome of each call (DolphinDB's function reference: errors on misuse)";

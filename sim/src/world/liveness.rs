//! The liveness phase: every fault healed, crashed nodes restarted, clients told to stop; then
//! every 100 ms the checkers say what is still pending, until nothing is or the bound runs out.

use super::calls;
use super::event::Event;
use super::{Outcome, Phase, World};
use crate::checkers::{Class, Violation};
use crate::design::{Message, SimDesign};
use crate::env::time::SimTime;
use crate::node::NodeStatus;
use crate::trace::{EventKind, WORLD};
use ccrsim_model::core::io::{Input, NodeId};
use ccrsim_model::deployment::message::Control;

impl<D: SimDesign> World<D> {
    pub(super) fn start_liveness(&mut self) {
        let now = self.now;
        self.phase = Phase::Liveness;
        self.trace.emit(now, WORLD, EventKind::Run, 1, || "liveness phase: every fault healed".into());
        self.partitions.clear();
        self.net.heal();
        self.net.end_loss_bursts();
        self.net.end_late_deliveries();
        for node in 0..self.nodes.len() as NodeId {
            self.nodes[node as usize].disk.heal();
            match self.nodes[node as usize].status {
                NodeStatus::Paused => self.resume(node),
                NodeStatus::Down => self.restart(node),
                NodeStatus::Up | NodeStatus::FailStopped(_) => {}
            }
            if self.nodes[node as usize].info.kind.is_client() {
                self.push_input(node, Input::Message { from: node, msg: Message::<D>::Control(Control::StopWorkload) });
            }
        }
        self.schedule(now.plus_nanos(100_000_000), Event::LivenessCheck);
        let bound = SimTime::from_secs_f64(self.scenario.run.liveness_bound_s).as_nanos();
        self.schedule(now.plus_nanos(bound), Event::LivenessDeadline);
    }

    pub(super) fn finish_converged(&mut self) {
        let view = crate::view::ClusterView::new(&self.nodes, &self.topology);
        if let Err(v) = self.checkers.at_end(self.now, &view) {
            self.fail(v);
            return;
        }
        self.trace.emit(self.now, WORLD, EventKind::Run, 2, || "converged: every checker satisfied".into());
        self.outcome = Some(Outcome::Passed);
    }

    /// Every 100 ms of the liveness phase: done once nothing is pending and every call was answered.
    pub(super) fn liveness_check(&mut self) {
        let now = self.now;
        if self.checkers.pending(&self.view()).is_none() && self.unanswered_call().is_none() {
            self.finish_converged();
        } else {
            self.schedule(now.plus_nanos(100_000_000), Event::LivenessCheck);
        }
    }

    /// The liveness bound ran out: what is still pending is the violation.
    pub(super) fn liveness_deadline(&mut self) {
        let now = self.now;
        let unanswered = self.unanswered_call().map(|i| {
            let message = format!("calls[{i}] ({}) was never answered", self.scenario.calls[i].call);
            (crate::checkers::MANAGEMENT_CALLS, calls::SOURCE, message)
        });
        if let Some((checker, source, message)) = self.checkers.stuck(&self.view(), now).or(unanswered) {
            let bound = self.scenario.run.liveness_bound_s;
            let message = format!("not converged {bound} s after healing: {message}");
            self.fail(Violation::of(checker, source, Class::Liveness, now, None, message));
        } else {
            self.finish_converged();
        }
    }
}

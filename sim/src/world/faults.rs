//! The nemesis's actions carried out: crashes, pauses, partitions, loss bursts, clock drift, disk
//! faults, machines going down and up, and the leader trigger (a controller that just won an election is hit at once).

use rand::RngExt;

use super::event::Event;
use super::{Phase, World};
use crate::checkers::availability::{Disruption, DisruptionKey};
use crate::design::SimDesign;
use crate::env::time::SimTime;
use crate::nemesis::FaultAction;
use crate::node::NodeStatus;
use crate::trace::{EventKind, WORLD};
use ccrsim_model::core::digest::stable_hash;
use ccrsim_model::core::io::NodeId;

impl<D: SimDesign> World<D> {
    pub(super) fn apply_fault(&mut self, action: FaultAction) {
        let now = self.now;
        if self.phase == Phase::Liveness && action != FaultAction::StartLiveness {
            return; // the nemesis is done
        }
        self.stats.faults += 1;
        self.report_disruption(&action);
        self.open_faults.on_action(&action);
        self.checkers.on_faults_in_effect(self.open_faults.kinds());
        let text = format!("{action:?}");
        self.trace.emit(now, WORLD, EventKind::Fault, stable_hash(&text), || format!("fault {text}"));
        match action {
            FaultAction::Crash { node } => {
                if matches!(self.nodes[node as usize].status, NodeStatus::Up | NodeStatus::Paused) {
                    self.crash(node);
                }
            }
            FaultAction::Restart { node } => {
                if self.nodes[node as usize].status == NodeStatus::Down {
                    self.restart(node);
                }
            }
            FaultAction::MachineDown { nodes, power_loss } => {
                for node in nodes {
                    if matches!(self.nodes[node as usize].status, NodeStatus::Up | NodeStatus::Paused) {
                        if power_loss { self.crash(node) } else { self.kill(node) }
                    }
                }
            }
            FaultAction::MachineUp { nodes } => {
                for node in nodes {
                    if self.nodes[node as usize].status == NodeStatus::Down {
                        self.restart(node);
                    }
                }
            }
            FaultAction::Pause { node } => {
                let n = &mut self.nodes[node as usize];
                if n.status == NodeStatus::Up && n.role.is_some() {
                    n.status = NodeStatus::Paused;
                    if let Some(id) = n.madsim_id {
                        madsim::runtime::Handle::current().pause(id);
                    }
                    self.checkers.on_disruption(now, &Disruption::Paused(node));
                }
            }
            FaultAction::Resume { node } => self.resume(node),
            FaultAction::Partition { id, a, b, one_way } => {
                if one_way {
                    self.net.cut_one_way(&a, &b, now)
                } else {
                    self.net.cut_both_ways(&a, &b, now)
                }
                self.partitions.insert(id, (a, b, one_way));
            }
            FaultAction::PartitionEnd { id } => {
                self.partitions.remove(&id);
                self.net.heal();
                for (a, b, one_way) in self.partitions.values() {
                    if *one_way { self.net.cut_one_way(a, b, now) } else { self.net.cut_both_ways(a, b, now) }
                }
            }
            FaultAction::PacketLoss { id, extra } => self.net.start_loss_burst(id, extra),
            FaultAction::PacketLossEnd { id } => self.net.end_loss_burst(id),
            FaultAction::LateDelivery { id, node, share, delay_ms } => self.net.start_late_delivery(id, node, share, delay_ms),
            FaultAction::LateDeliveryEnd { id } => self.net.end_late_delivery(id),
            FaultAction::ClockDrift { node, drift_ppm } => self.nodes[node as usize].clock.drift_ppm = drift_ppm,
            FaultAction::CorruptFile { node } => {
                let paths: Vec<String> =
                    self.nodes[node as usize].disk.paths().into_iter().filter(|p| self.within_tolerance(node, p)).collect();
                if paths.is_empty() {
                    self.trace.emit(now, node, EventKind::Fault, 0, || "corruption skipped: no file it could hit within tolerance".into());
                } else {
                    let path = paths[self.fault_rng.random_range(0..paths.len())].clone();
                    let offset = self.nodes[node as usize].disk.flip_bit(&mut self.fault_rng, &path);
                    self.checkers.on_corruption(node);
                    self.trace
                        .emit(now, node, EventKind::Fault, stable_hash(&(&path, offset)), || format!("bit flip in {path} at {offset:?}"));
                }
            }
            FaultAction::ReadErrors { id, node } => {
                let paths = self.nodes[node as usize].disk.paths();
                if !paths.is_empty() {
                    let path = paths[self.fault_rng.random_range(0..paths.len())].clone();
                    self.nodes[node as usize].disk.fail_reads(id, &path);
                    self.trace.emit(now, node, EventKind::Fault, stable_hash(&path), || format!("read errors on {path}"));
                }
            }
            FaultAction::DiskFull { id, node } => self.nodes[node as usize].disk.fill(id),
            FaultAction::DiskSlow { id, node, factor } => self.nodes[node as usize].disk.slow_down(id, factor),
            FaultAction::DiskFaultEnd { id, node } => {
                self.nodes[node as usize].disk.end_fault(id);
            }
            FaultAction::StartLiveness => self.start_liveness(),
        }
    }

    /// Tells the checkers what a fault disrupts, as it begins or ends (crashes and pauses are told
    /// where they take effect: a crash of a node already down changes nothing).
    fn report_disruption(&mut self, action: &FaultAction) {
        let now = self.now;
        let c = &mut self.checkers;
        match action {
            FaultAction::Partition { id, a, b, one_way } => {
                c.on_disruption(now, &Disruption::Cut { id: *id, a: a.clone(), b: b.clone(), one_way: *one_way })
            }
            FaultAction::PartitionEnd { id } => c.on_disruption_end(now, DisruptionKey::Cut(*id)),
            FaultAction::PacketLoss { id, .. } => c.on_disruption(now, &Disruption::Loss(*id)),
            FaultAction::PacketLossEnd { id } => c.on_disruption_end(now, DisruptionKey::Loss(*id)),
            FaultAction::LateDelivery { id, node, .. } => c.on_disruption(now, &Disruption::Late { id: *id, node: *node }),
            FaultAction::LateDeliveryEnd { id } => c.on_disruption_end(now, DisruptionKey::Late(*id)),
            FaultAction::ReadErrors { id, node } | FaultAction::DiskFull { id, node } | FaultAction::DiskSlow { id, node, .. } => {
                c.on_disruption(now, &Disruption::Disk { id: *id, node: *node })
            }
            FaultAction::DiskFaultEnd { id, .. } => c.on_disruption_end(now, DisruptionKey::Disk(*id)),
            FaultAction::ClockDrift { .. } | FaultAction::CorruptFile { .. } => c.on_instant_fault(now),
            FaultAction::StartLiveness => c.on_safety_end(now),
            // Told node by node where they take effect (a machine's nodes go down through the
            // same path as a crashed node's).
            FaultAction::Crash { .. }
            | FaultAction::Restart { .. }
            | FaultAction::Pause { .. }
            | FaultAction::Resume { .. }
            | FaultAction::MachineDown { .. }
            | FaultAction::MachineUp { .. } => {}
        }
    }

    /// The leader trigger: a controller that just won may be isolated or crashed right away.
    pub(super) fn maybe_hit_new_leader(&mut self, leader: NodeId) {
        let trigger = self.scenario.faults.on_new_leader.clone();
        let cluster_name = self.nodes[leader as usize].info.cluster().map(|c| c.name()).unwrap_or_default();
        let aimed = trigger.clusters.is_empty() || trigger.clusters.contains(&cluster_name);
        if self.phase != Phase::Safety || trigger.probability <= 0.0 || !aimed || !self.fault_rng.random_bool(trigger.probability) {
            return;
        }
        let [d0, d1] = trigger.delay_ms;
        let delay = SimTime::from_secs_f64(self.fault_rng.random_range(d0..=d1) / 1000.0).as_nanos();
        let [l0, l1] = trigger.duration_s;
        let length = SimTime::from_secs_f64(self.fault_rng.random_range(l0..=l1)).as_nanos();
        let start = self.now.plus_nanos(delay);
        let (hit, heal) = match trigger.action {
            crate::scenario::LeaderAction::Isolate => {
                let cluster = self.nodes[leader as usize].info.kind;
                let others: Vec<NodeId> =
                    self.nodes.iter().filter(|n| n.info.kind == cluster && n.info.id != leader).map(|n| n.info.id).collect();
                let id = self.next_partition_id;
                self.next_partition_id += 1;
                self.open_faults.name_id(id, crate::nemesis::FaultKind::Isolate);
                (FaultAction::Partition { id, a: vec![leader], b: others, one_way: false }, FaultAction::PartitionEnd { id })
            }
            crate::scenario::LeaderAction::Crash => (FaultAction::Crash { node: leader }, FaultAction::Restart { node: leader }),
        };
        self.schedule(start, Event::Fault(hit));
        self.schedule(start.plus_nanos(length), Event::Fault(heal));
    }

    /// Whether corrupting `path` on `node` stays within what the design tolerates.
    pub(super) fn within_tolerance(&self, node: NodeId, path: &str) -> bool {
        D::corruption_tolerated(&self.view(), &self.scenario, node, path)
    }
}

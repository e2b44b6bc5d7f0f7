//! Which kinds of fault are in effect at an instant, for a failure's signature: a sweep groups its
//! failing seeds by the checker, the kind of promise broken and the kinds of fault in effect when
//! it broke (`runner::Signature`).
//!
//! A fault is in effect from its action until the action that ends it (a crashed node until it
//! restarts, a partition until it heals, a disk fault until it ends); the liveness phase heals
//! everything that heals. Two kinds never heal: a flipped bit stays in its file, and a drifting
//! clock keeps its drift, so they stay in effect to the end of the run.

use std::collections::BTreeMap;

use ccrsim_model::core::io::NodeId;

use crate::nemesis::{FaultAction, FaultKind, PlannedFault};

/// What one fault in effect holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    /// A node down (crash, machine crash or power loss) until it boots again.
    Down(NodeId),
    /// A node paused until it resumes.
    Paused(NodeId),
    /// A fault with an id (partitions, loss bursts, late delivery, disk faults) until its end.
    Id(u32),
    /// A node's clock drifting (for good).
    Drift(NodeId),
    /// A corrupt file on a node (for good).
    Corrupt(NodeId),
}

impl Held {
    /// Whether the liveness phase's heal leaves it in effect.
    fn outlives_heal(self) -> bool {
        matches!(self, Held::Drift(_) | Held::Corrupt(_))
    }
}

/// The faults in effect, by what each holds.
#[derive(Debug, Default)]
pub struct OpenFaults {
    open: BTreeMap<Held, FaultKind>,
    /// The planned kind of each fault with an id: a partition's action alone does not say whether
    /// the nemesis meant a partition, an isolation, a WAN cut or a machine's isolation.
    kind_of_id: BTreeMap<u32, FaultKind>,
}

impl OpenFaults {
    /// Bookkeeping for a run with `plan`.
    pub fn new(plan: &[PlannedFault]) -> Self {
        let kind_of_id = plan.iter().filter_map(|f| Some((fault_id(&f.action)?, f.kind?))).collect();
        OpenFaults { open: BTreeMap::new(), kind_of_id }
    }

    /// A fault the world made itself (a leader trigger's isolation) will use id `id`.
    pub fn name_id(&mut self, id: u32, kind: FaultKind) {
        self.kind_of_id.insert(id, kind);
    }

    /// `action` was carried out.
    pub fn on_action(&mut self, action: &FaultAction) {
        match action {
            FaultAction::Crash { node } => self.begin(Held::Down(*node), FaultKind::Crash),
            FaultAction::MachineDown { nodes, power_loss } => {
                let kind = if *power_loss { FaultKind::MachinePowerLoss } else { FaultKind::MachineCrash };
                nodes.iter().for_each(|&n| self.begin(Held::Down(n), kind));
            }
            FaultAction::Restart { node } => self.end(Held::Down(*node)),
            FaultAction::MachineUp { nodes } => nodes.iter().for_each(|&n| self.end(Held::Down(n))),
            FaultAction::Pause { node } => self.begin(Held::Paused(*node), FaultKind::Pause),
            FaultAction::Resume { node } => self.end(Held::Paused(*node)),
            FaultAction::Partition { id, one_way, .. } => {
                let planned = self.kind_of_id.get(id).copied();
                let kind = planned.unwrap_or(if *one_way { FaultKind::OneWayPartition } else { FaultKind::Partition });
                self.begin(Held::Id(*id), kind)
            }
            FaultAction::PacketLoss { id, .. } => self.begin(Held::Id(*id), FaultKind::PacketLoss),
            FaultAction::LateDelivery { id, .. } => self.begin(Held::Id(*id), FaultKind::LateDelivery),
            FaultAction::ReadErrors { id, .. } => self.begin(Held::Id(*id), FaultKind::DiskReadError),
            FaultAction::DiskFull { id, .. } => self.begin(Held::Id(*id), FaultKind::DiskFull),
            FaultAction::DiskSlow { id, .. } => self.begin(Held::Id(*id), FaultKind::DiskSlow),
            FaultAction::PartitionEnd { id }
            | FaultAction::PacketLossEnd { id }
            | FaultAction::LateDeliveryEnd { id }
            | FaultAction::DiskFaultEnd { id, .. } => self.end(Held::Id(*id)),
            FaultAction::ClockDrift { node, .. } => self.begin(Held::Drift(*node), FaultKind::Clock),
            FaultAction::CorruptFile { node } => self.begin(Held::Corrupt(*node), FaultKind::DiskCorruption),
            FaultAction::StartLiveness => self.open.retain(|held, _| held.outlives_heal()),
        }
    }

    /// The kinds in effect now, each once, in the scenario format's order.
    pub fn kinds(&self) -> Vec<FaultKind> {
        let mut kinds: Vec<FaultKind> = self.open.values().copied().collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }

    fn begin(&mut self, held: Held, kind: FaultKind) {
        self.open.insert(held, kind);
    }

    fn end(&mut self, held: Held) {
        self.open.remove(&held);
    }
}

/// The id of a fault action that has one.
fn fault_id(action: &FaultAction) -> Option<u32> {
    match action {
        FaultAction::Partition { id, .. }
        | FaultAction::PacketLoss { id, .. }
        | FaultAction::LateDelivery { id, .. }
        | FaultAction::ReadErrors { id, .. }
        | FaultAction::DiskFull { id, .. }
        | FaultAction::DiskSlow { id, .. } => Some(*id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::time::SimTime;

    fn planned(kind: FaultKind, action: FaultAction) -> PlannedFault {
        PlannedFault { at: SimTime::ZERO, kind: Some(kind), action }
    }

    #[test]
    fn a_fault_is_in_effect_from_its_action_to_its_end() {
        let isolate = FaultAction::Partition { id: 4, a: vec![1], b: vec![2, 3], one_way: false };
        let mut open = OpenFaults::new(&[planned(FaultKind::Isolate, isolate.clone())]);
        assert!(open.kinds().is_empty());
        open.on_action(&FaultAction::Crash { node: 2 });
        open.on_action(&isolate);
        // The plan says the partition was an isolation, which its action alone does not.
        assert_eq!(open.kinds(), vec![FaultKind::Crash, FaultKind::Isolate]);
        open.on_action(&FaultAction::Restart { node: 2 });
        assert_eq!(open.kinds(), vec![FaultKind::Isolate]);
        open.on_action(&FaultAction::PartitionEnd { id: 4 });
        assert!(open.kinds().is_empty());
    }

    #[test]
    fn a_kind_counts_once_and_ends_fault_by_fault() {
        let mut open = OpenFaults::default();
        open.on_action(&FaultAction::DiskFull { id: 1, node: 5 });
        open.on_action(&FaultAction::DiskFull { id: 2, node: 6 });
        assert_eq!(open.kinds(), vec![FaultKind::DiskFull]);
        open.on_action(&FaultAction::DiskFaultEnd { id: 1, node: 5 });
        assert_eq!(open.kinds(), vec![FaultKind::DiskFull]);
        open.on_action(&FaultAction::DiskFaultEnd { id: 2, node: 6 });
        assert!(open.kinds().is_empty());
    }

    #[test]
    fn the_heal_ends_all_but_corruption_and_drift() {
        let mut open = OpenFaults::default();
        open.on_action(&FaultAction::MachineDown { nodes: vec![1, 2], power_loss: true });
        open.on_action(&FaultAction::Pause { node: 3 });
        open.on_action(&FaultAction::CorruptFile { node: 4 });
        open.on_action(&FaultAction::ClockDrift { node: 5, drift_ppm: 300 });
        open.on_action(&FaultAction::PacketLoss { id: 9, extra: 0.2 });
        open.on_action(&FaultAction::StartLiveness);
        assert_eq!(open.kinds(), vec![FaultKind::Clock, FaultKind::DiskCorruption]);
    }
}

//! A deployment built by hand for the tests of checkers that read the running cluster through a
//! [`ClusterView`] (shared by the Raft and the 2PC groups): DolphinDB's roles booted from empty
//! disks, each node's process state set by the test, and controllers driven input by input, their
//! disks answering every request at once and in order. A test can so make a lone controller
//! campaign and win, have it apply a client's write, and keep every fact each node reported.
//! Messages and timers a role asks for are dropped: only what a test hands a role happens.

#![cfg(test)]

use std::collections::{BTreeMap, VecDeque};

use ccrsim_model::core::io::{DiskRequest, Input, MemoryDisk, NodeId, Output};
use ccrsim_model::deployment::fact::Fact as ModelFact;
use ccrsim_model::deployment::message::{ClientOp, Message as ModelMessage};
use ccrsim_model::raft::{RaftFact, TIMER_ELECTION};

use crate::deployment::{Call, Fact, Message, Role};
use crate::design::SimDesign;
use crate::design::dolphindb::Dolphindb;
use crate::env::clock::NodeClock;
use crate::env::disk::SimDisk;
use crate::env::time::SimTime;
use crate::node::{Node, NodeStatus};
use crate::scenario::Scenario;
use crate::topology::Topology;
use crate::view::ClusterView;

/// The view the checkers of a DolphinDB deployment read.
pub type View<'a> = ClusterView<'a, Dolphindb>;

/// A master cluster of DolphinDB's design, every node booted from an empty disk and started.
pub struct Bench {
    /// Who is who.
    pub topology: Topology,
    nodes: Vec<Node<Dolphindb>>,
    disks: Vec<MemoryDisk>,
    /// Disk requests each node issued and its disk has not completed yet.
    queued: Vec<Vec<DiskRequest>>,
    /// Every fact a node reported, in order.
    pub facts: Vec<(NodeId, Fact<Dolphindb>)>,
}

impl Bench {
    /// A master cluster of `controllers` and `data_nodes` (replication factor 1) with one metadata
    /// client, no workload and no faults.
    pub fn master(controllers: u32, data_nodes: u32) -> Self {
        let toml = format!(
            "name = \"checker-bench\"\n\
             [run]\nsafety_s = 1.0\nliveness_bound_s = 1.0\nseeds_ci = 1\n\
             [cluster.master]\ncontrollers = {controllers}\ndata_nodes = {data_nodes}\nreplication_factor = 1\n\
             [workload]\nclients = 1\nproposals_per_s = 1.0\n"
        );
        let scenario = Scenario::parse("checker-bench.toml", &toml).expect("a valid scenario");
        let topology = Topology::from_scenario(&scenario);
        let disks: Vec<MemoryDisk> = topology.nodes.iter().map(|_| MemoryDisk::default()).collect();
        let nodes = topology
            .nodes
            .iter()
            .zip(Dolphindb::specs(&scenario, &topology))
            .map(|(info, spec)| {
                let role =
                    Role::<Dolphindb>::boot(info.id, &spec, &disks[info.id as usize], u64::from(info.id)).expect("an empty disk boots");
                Node {
                    info: info.clone(),
                    spec,
                    role: Some(role),
                    status: NodeStatus::Up,
                    incarnation: 0,
                    boots: 1,
                    disk: SimDisk::new(scenario.disk),
                    clock: NodeClock { skew_ms: 0, drift_ppm: 0 },
                    timers: BTreeMap::new(),
                    disk_free_at: SimTime::ZERO,
                    mailbox: VecDeque::new(),
                    waker: None,
                    madsim_id: None,
                }
            })
            .collect();
        let queued = topology.nodes.iter().map(|_| Vec::new()).collect();
        let mut bench = Self { topology, nodes, disks, queued, facts: Vec::new() };
        for id in 0..bench.nodes.len() as NodeId {
            let mut out = Output::default();
            bench.role(id).start(0, &mut out);
            bench.take(id, out);
            bench.settle(id);
        }
        bench
    }

    /// What the checkers see of it.
    pub fn view(&self) -> View<'_> {
        ClusterView::new(&self.nodes, &self.topology)
    }

    /// The node of that name.
    pub fn node(&self, name: &str) -> NodeId {
        self.topology.by_name(name).unwrap_or_else(|| panic!("no node {name}"))
    }

    /// `node` crashed: down, without a role, until restarted.
    pub fn crash(&mut self, node: NodeId) {
        self.stop(node, NodeStatus::Down);
    }

    /// `node` refused its durable state and stays down.
    pub fn fail_stop(&mut self, node: NodeId) {
        self.stop(node, NodeStatus::FailStopped("refused its disk".into()));
    }

    fn stop(&mut self, node: NodeId, status: NodeStatus) {
        let n = &mut self.nodes[node as usize];
        n.role = None;
        n.status = status;
    }

    fn role(&mut self, node: NodeId) -> &mut Role<Dolphindb> {
        self.nodes[node as usize].role.as_mut().expect("the node runs")
    }

    /// Hands `node` one input; the disk requests it issues wait for [`Bench::complete_disk`].
    pub fn input(&mut self, node: NodeId, input: Input<Message<Dolphindb>, Call<Dolphindb>>) {
        let mut out = Output::default();
        self.role(node).handle(0, input, &mut out);
        self.take(node, out);
    }

    /// Completes every disk request `node` issued so far, in order, and hands it the completions
    /// it asked to hear of. False if there was none.
    pub fn complete_disk(&mut self, node: NodeId) -> bool {
        let requests = std::mem::take(&mut self.queued[node as usize]);
        if requests.is_empty() {
            return false;
        }
        let done = self.disks[node as usize].apply(&requests);
        for (request, completion) in requests.iter().zip(done) {
            if request.report_success || completion.result.is_err() {
                self.input(node, Input::Disk(completion));
            }
        }
        true
    }

    /// Completes `node`'s disk requests until it issues no more.
    pub fn settle(&mut self, node: NodeId) {
        while self.complete_disk(node) {}
    }

    /// Controller `node`'s election timer fires: it campaigns (the vote for itself still on its way
    /// to the disk).
    pub fn campaign(&mut self, node: NodeId) {
        self.input(node, Input::Timer(TIMER_ELECTION));
    }

    /// Controller `node` campaigns and its disk settles: alone in its group, it leads and has
    /// committed and applied the entry of its term.
    pub fn elect(&mut self, node: NodeId) {
        self.campaign(node);
        self.settle(node);
    }

    /// Metadata client `client` asks controller `node` to set `key`, and the controller's disk
    /// settles (a lone leader commits and applies it).
    pub fn put(&mut self, node: NodeId, client: NodeId, key: &str, value: &str) {
        let op = ClientOp::Put { key: key.into(), value: value.into() };
        self.input(node, Input::Message { from: client, msg: ModelMessage::ClientRequest { lane: 0, seq: 1, op } });
        self.settle(node);
    }

    /// The Raft facts `node` reported, in order.
    pub fn raft_facts(&self, node: NodeId) -> Vec<RaftFact> {
        self.facts
            .iter()
            .filter(|(n, _)| *n == node)
            .filter_map(|(_, f)| match f {
                ModelFact::Raft(f) => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    fn take(&mut self, node: NodeId, out: Output<Message<Dolphindb>, Fact<Dolphindb>>) {
        assert!(out.halt.is_none(), "node {node} halted: {:?}", out.halt);
        self.facts.extend(out.facts.into_iter().map(|f| (node, f)));
        self.queued[node as usize].extend(out.disk);
    }
}

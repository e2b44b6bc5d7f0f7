//! Who is in the deployment: every node's id, name, kind and cluster, derived from the scenario.
//!
//! Ids are dense, in this order: the master's controllers and data nodes, then each slave's
//! controllers and data nodes (the original ones, then the ones added later), then the metadata
//! clients, the master's DFS clients and the slaves' DFS clients.
//!
//! Machines: each cluster's controllers and data nodes run on its machines (`machines` in
//! `[cluster.master]` and `[cluster.slave]`; by default as many as its data nodes or controllers,
//! whichever is more). Data node i runs on machine i mod machines, and so does controller i: a
//! machine hosts a controller and data nodes, as in DolphinDB's high-availability deployment (seed
//! 004 §3: servers P1, P2 and P3 each run a controller and the data nodes their agent starts).
//! Clients run on no machine of the deployment. Machine faults (`sim/src/nemesis.rs`) take every
//! node of one machine at once; the replica protocol's placement reads the same machines.

use ccrsim_model::core::io::NodeId;

use crate::env::net::LinkClass;
use crate::scenario::Scenario;

/// Which cluster a node belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClusterId {
    /// The master cluster.
    Master,
    /// A slave cluster, from 0.
    Slave(u8),
}

impl ClusterId {
    /// Lower-case name used in node names: `master`, `slave0`, ...
    pub fn name(self) -> String {
        match self {
            ClusterId::Master => "master".into(),
            ClusterId::Slave(i) => format!("slave{i}"),
        }
    }
}

/// One machine of a cluster: its nodes share its power, its processes' fate and its network link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Machine {
    /// The cluster it serves.
    pub cluster: ClusterId,
    /// Its number in the cluster, from 0.
    pub index: u32,
}

impl Machine {
    /// Its name: `master.machine.0`, `slave0.machine.1`, ...
    pub fn name(self) -> String {
        format!("{}.machine.{}", self.cluster.name(), self.index)
    }
}

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A member of its cluster's controller group.
    Controller(ClusterId),
    /// A data node of its cluster.
    DataNode(ClusterId),
    /// A client of the metadata map (never faulted: it is the observer).
    Client,
    /// A workload client of a cluster's replica protocol (never faulted either).
    ReplicaClient(ClusterId),
}

impl NodeKind {
    /// True for the workload's clients.
    pub fn is_client(self) -> bool {
        matches!(self, NodeKind::Client | NodeKind::ReplicaClient(_))
    }
}

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    /// Dense id.
    pub id: NodeId,
    /// Stable name such as `master.controller.0`, `slave0.datanode.3` or `client.1`.
    pub name: String,
    /// Its role.
    pub kind: NodeKind,
    /// When a data node added to a running cluster joins (simulated seconds); `None` for the
    /// nodes the deployment starts with.
    pub joins_at_s: Option<f64>,
    /// The machine it runs on (controllers and data nodes; clients none).
    pub machine: Option<Machine>,
}

impl NodeInfo {
    /// The cluster the node belongs to (a DFS client: the cluster it writes to).
    pub fn cluster(&self) -> Option<ClusterId> {
        match self.kind {
            NodeKind::Controller(c) | NodeKind::DataNode(c) | NodeKind::ReplicaClient(c) => Some(c),
            NodeKind::Client => None,
        }
    }
}

/// The deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Every node, indexed by id.
    pub nodes: Vec<NodeInfo>,
}

impl Topology {
    /// The nodes a scenario asks for.
    pub fn from_scenario(scenario: &Scenario) -> Self {
        let mut nodes = Vec::new();
        let mut add = |name: String, kind, joins_at_s, machine| {
            let id = nodes.len() as NodeId;
            nodes.push(NodeInfo { id, name, kind, joins_at_s, machine });
        };
        // Node i of a kind on machine i mod machines; by default every node has a machine of its
        // own index (data node i on machine i, as placement always had it).
        let on = |cluster: ClusterId, machines: Option<u32>, controllers: u32, data_nodes: u32, i: u32| {
            let machines = machines.unwrap_or(controllers.max(data_nodes).max(1));
            Some(Machine { cluster, index: i % machines })
        };
        let master = &scenario.cluster.master;
        let m = ClusterId::Master;
        for i in 0..master.controllers {
            add(
                format!("master.controller.{i}"),
                NodeKind::Controller(m),
                None,
                on(m, master.machines, master.controllers, master.data_nodes, i),
            );
        }
        for i in 0..master.data_nodes {
            add(
                format!("master.datanode.{i}"),
                NodeKind::DataNode(m),
                None,
                on(m, master.machines, master.controllers, master.data_nodes, i),
            );
        }
        if let Some(shape) = &scenario.cluster.slave {
            let all_data_nodes = shape.data_nodes + shape.added_data_nodes;
            for k in 0..shape.count as u8 {
                let c = ClusterId::Slave(k);
                let machine = |i| on(c, shape.machines, shape.controllers, all_data_nodes, i);
                for i in 0..shape.controllers {
                    add(format!("{}.controller.{i}", c.name()), NodeKind::Controller(c), None, machine(i));
                }
                for i in 0..all_data_nodes {
                    let joins = (i >= shape.data_nodes).then_some(shape.added_at_s);
                    add(format!("{}.datanode.{i}", c.name()), NodeKind::DataNode(c), joins, machine(i));
                }
            }
        }
        for i in 0..scenario.workload.clients {
            add(format!("client.{i}"), NodeKind::Client, None, None);
        }
        for i in 0..scenario.dfs_workload.clients {
            add(format!("dfsclient.{i}"), NodeKind::ReplicaClient(ClusterId::Master), None, None);
        }
        for i in 0..scenario.sequoiadb_workload.clients {
            add(format!("seqclient.{i}"), NodeKind::ReplicaClient(ClusterId::Master), None, None);
        }
        if scenario.cluster.slave.is_some() {
            for i in 0..scenario.replication.slave_clients {
                add(format!("slave0.dfsclient.{i}"), NodeKind::ReplicaClient(ClusterId::Slave(0)), None, None);
            }
        }
        Self { nodes }
    }

    /// Every node name.
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The node of that name.
    pub fn by_name(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().find(|n| n.name == name).map(|n| n.id)
    }

    /// Every cluster, the master first.
    pub fn clusters(&self) -> Vec<ClusterId> {
        let mut clusters: Vec<ClusterId> = self.nodes.iter().filter(|n| !n.kind.is_client()).filter_map(NodeInfo::cluster).collect();
        clusters.dedup();
        clusters
    }

    /// The slave clusters.
    pub fn slaves(&self) -> Vec<ClusterId> {
        self.clusters().into_iter().filter(|c| *c != ClusterId::Master).collect()
    }

    /// The controllers of a cluster.
    pub fn controllers(&self, cluster: ClusterId) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.kind == NodeKind::Controller(cluster)).map(|n| n.id).collect()
    }

    /// The data nodes of a cluster (the added ones last).
    pub fn data_nodes(&self, cluster: ClusterId) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.kind == NodeKind::DataNode(cluster)).map(|n| n.id).collect()
    }

    /// The data nodes a cluster starts with.
    pub fn original_data_nodes(&self, cluster: ClusterId) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.kind == NodeKind::DataNode(cluster) && n.joins_at_s.is_none()).map(|n| n.id).collect()
    }

    /// The DFS clients of a cluster.
    pub fn replica_clients(&self, cluster: ClusterId) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.kind == NodeKind::ReplicaClient(cluster)).map(|n| n.id).collect()
    }

    /// Every node of a cluster that is not a client.
    pub fn cluster_nodes(&self, cluster: ClusterId) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| !n.kind.is_client() && n.cluster() == Some(cluster)).map(|n| n.id).collect()
    }

    /// The cluster of that name (`master`, `slave0`, ...).
    pub fn cluster_by_name(&self, name: &str) -> Option<ClusterId> {
        self.clusters().into_iter().find(|c| c.name() == name)
    }

    /// A call target `CLUSTER.controller` or `CLUSTER.datanode`: the cluster and whether it names
    /// the controllers.
    pub fn resolve_target(&self, target: &str) -> Option<(ClusterId, bool)> {
        let (cluster, role) = target.split_once('.')?;
        let cluster = self.cluster_by_name(cluster)?;
        match role {
            "controller" => Some((cluster, true)),
            "datanode" => Some((cluster, false)),
            _ => None,
        }
    }

    /// Nodes the nemesis may fault: every cluster node that runs from the start (clients observe
    /// and are left alone; added data nodes are not there yet when faults are planned).
    pub fn faultable(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| !n.kind.is_client() && n.joins_at_s.is_none()).map(|n| n.id).collect()
    }

    /// Every machine that hosts a node the nemesis may fault, with those nodes (by id), in order.
    pub fn machines(&self) -> Vec<(Machine, Vec<NodeId>)> {
        let mut machines: std::collections::BTreeMap<Machine, Vec<NodeId>> = std::collections::BTreeMap::new();
        for id in self.faultable() {
            if let Some(m) = self.nodes[id as usize].machine {
                machines.entry(m).or_default().push(id);
            }
        }
        machines.into_iter().collect()
    }

    /// The nodes the nemesis may fault on the machine `node` runs on (none for a client).
    pub fn machine_of(&self, node: NodeId) -> Option<(Machine, Vec<NodeId>)> {
        let machine = self.nodes[node as usize].machine?;
        self.machines().into_iter().find(|(m, _)| *m == machine)
    }

    /// The link class between two nodes.
    pub fn class(&self, a: NodeId, b: NodeId) -> LinkClass {
        let (a, b) = (&self.nodes[a as usize], &self.nodes[b as usize]);
        if a.kind.is_client() || b.kind.is_client() {
            LinkClass::Client
        } else if a.cluster() == b.cluster() {
            LinkClass::Lan
        } else {
            LinkClass::Wan
        }
    }
}

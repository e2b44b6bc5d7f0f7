//! Who is in the deployment: every node's id, name, kind and cluster, derived from the scenario.

use ccrsim_model::io::NodeId;

use crate::net::LinkClass;
use crate::scenario::Scenario;

/// Which cluster a node belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClusterId {
    /// The master cluster.
    Master,
}

impl ClusterId {
    /// Lower-case name used in node names.
    pub fn name(self) -> &'static str {
        match self {
            ClusterId::Master => "master",
        }
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
    /// A client of the DFS (never faulted either).
    DfsClient,
}

impl NodeKind {
    /// True for the workload's clients.
    pub fn is_client(self) -> bool {
        matches!(self, NodeKind::Client | NodeKind::DfsClient)
    }
}

/// One node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Dense id.
    pub id: NodeId,
    /// Stable name such as `master.controller.0` or `client.1`.
    pub name: String,
    /// Its role.
    pub kind: NodeKind,
}

impl NodeInfo {
    /// The node's cluster (clients have none).
    pub fn cluster(&self) -> Option<ClusterId> {
        match self.kind {
            NodeKind::Controller(c) | NodeKind::DataNode(c) => Some(c),
            NodeKind::Client | NodeKind::DfsClient => None,
        }
    }
}

/// The deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Every node, indexed by id.
    pub nodes: Vec<NodeInfo>,
}

impl Topology {
    /// The nodes a scenario asks for: controllers, data nodes, then clients.
    pub fn from_scenario(scenario: &Scenario) -> Self {
        let mut nodes = Vec::new();
        let mut add = |name: String, kind| {
            let id = nodes.len() as NodeId;
            nodes.push(NodeInfo { id, name, kind });
        };
        for i in 0..scenario.cluster.master.controllers {
            add(format!("master.controller.{i}"), NodeKind::Controller(ClusterId::Master));
        }
        for i in 0..scenario.cluster.master.data_nodes {
            add(format!("master.datanode.{i}"), NodeKind::DataNode(ClusterId::Master));
        }
        for i in 0..scenario.workload.clients {
            add(format!("client.{i}"), NodeKind::Client);
        }
        for i in 0..scenario.dfs_workload.clients {
            add(format!("dfsclient.{i}"), NodeKind::DfsClient);
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

    /// The controllers of a cluster.
    pub fn controllers(&self, cluster: ClusterId) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.kind == NodeKind::Controller(cluster)).map(|n| n.id).collect()
    }

    /// The data nodes of a cluster.
    pub fn data_nodes(&self, cluster: ClusterId) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.kind == NodeKind::DataNode(cluster)).map(|n| n.id).collect()
    }

    /// The clients, of either kind.
    pub fn clients(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.kind.is_client()).map(|n| n.id).collect()
    }

    /// Nodes the nemesis may fault (every cluster node; clients observe and are left alone).
    pub fn faultable(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| !n.kind.is_client()).map(|n| n.id).collect()
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

//! What checkers may see of the running deployment: every node's process state and role, read
//! only, and who is who. Liveness and end-of-run checks read the real state through this; nothing
//! here can change it.

use ccrsim_model::core::io::NodeId;

use crate::deployment::{Controller, DataNode, Deployment, Role};
use crate::node::{Node, NodeStatus, running_leader};
use crate::topology::{ClusterId, Topology};

/// A read-only view of the deployment of design `D`.
pub struct ClusterView<'a, D: Deployment> {
    nodes: &'a [Node<D>],
    /// Who is who.
    pub topology: &'a Topology,
}

impl<D: Deployment> Clone for ClusterView<'_, D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D: Deployment> Copy for ClusterView<'_, D> {}

impl<'a, D: Deployment> ClusterView<'a, D> {
    /// A view of `nodes`.
    pub fn new(nodes: &'a [Node<D>], topology: &'a Topology) -> Self {
        Self { nodes, topology }
    }

    /// The process state of `node`.
    pub fn status(&self, node: NodeId) -> &'a NodeStatus {
        &self.nodes[node as usize].status
    }

    /// The role of `node` if its process runs.
    pub fn running(&self, node: NodeId) -> Option<&'a Role<D>> {
        let n = &self.nodes[node as usize];
        n.role.as_ref().filter(|_| n.status == NodeStatus::Up)
    }

    /// The role of `node`, whatever its process state (`None` while down).
    pub fn role(&self, node: NodeId) -> Option<&'a Role<D>> {
        self.nodes[node as usize].role.as_ref()
    }

    /// Controller `node`, if it runs.
    pub fn controller(&self, node: NodeId) -> Option<&'a Controller<D>> {
        self.running(node).and_then(|r| r.as_controller())
    }

    /// Data node `node`, if it runs.
    pub fn data_node(&self, node: NodeId) -> Option<&'a DataNode<D>> {
        self.running(node).and_then(|r| r.as_data_node())
    }

    /// The running controller leader of `cluster` (the first in id order), if any.
    pub fn leader(&self, cluster: ClusterId) -> Option<(NodeId, &'a Controller<D>)> {
        running_leader(self.nodes, &self.topology.controllers(cluster))
    }

    /// The running controller leader among `controllers`, if any.
    pub fn leader_among(&self, controllers: &[NodeId]) -> Option<(NodeId, &'a Controller<D>)> {
        running_leader(self.nodes, controllers)
    }
}

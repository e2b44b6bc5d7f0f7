//! Every kind of role a node can play, behind one interface for the host.

use crate::core::io::{DiskView, Input, Millis, NodeId, Output};
use crate::deployment::client::{Client, ClientConfig};
use crate::deployment::controller::{Controller, ControllerBugs, WatchConfig};
use crate::deployment::fact::Fact;
use crate::deployment::message::Message;
use crate::pipeline::dolphindb_async::datanode::ReplicationSettings;
use crate::pipeline::dolphindb_async::{AdminCall, DolphinAsync, ReplConfig, ReplLinks};
use crate::raft::{RaftConfig, RecoveryError};
use crate::replica::dolphindb_2pc::DfsConfig;
use crate::replica::dolphindb_2pc::client::{DfsClient, DfsClientConfig};
use crate::replica::dolphindb_2pc::datanode::DataNodeConfig;

/// The data node of this deployment.
pub type DataNode = crate::replica::dolphindb_2pc::datanode::DataNode<DolphinAsync, Message, Fact>;

/// How to build a node's role; the host keeps it to rebuild the role after a restart.
#[derive(Debug, Clone)]
pub enum RoleSpec {
    /// A member of a controller group.
    Controller { raft: RaftConfig, dfs: DfsConfig, repl: ReplConfig, links: ReplLinks, watch: WatchConfig, bugs: ControllerBugs },
    /// A data node.
    DataNode(DataNodeConfig<ReplicationSettings>),
    /// A client of the controllers' metadata map.
    Client(ClientConfig),
    /// A client of the DFS.
    DfsClient(DfsClientConfig),
}

/// A running role. (Size differences between variants do not matter: a node holds one role.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Role {
    /// A controller.
    Controller(Controller),
    /// A data node, with the facts of its boot until it starts.
    DataNode(DataNode, Vec<crate::replica::dolphindb_2pc::DfsFact>),
    /// A metadata client.
    Client(Client),
    /// A DFS client.
    DfsClient(DfsClient),
}

impl Role {
    /// Builds the role of node `id` from what its disk holds (and nothing else). `entropy` seeds the
    /// role's own choices (election timeouts, jitter) and comes from the run's seed.
    pub fn boot(id: NodeId, spec: &RoleSpec, disk: &dyn DiskView, entropy: u64) -> Result<Role, RecoveryError> {
        Ok(match spec {
            RoleSpec::Controller { raft, dfs, repl, links, watch, bugs } => {
                assert_eq!(raft.id, id);
                Role::Controller(Controller::recover(
                    raft.clone(),
                    dfs.clone(),
                    repl.clone(),
                    links.clone(),
                    watch.clone(),
                    *bugs,
                    disk,
                    entropy,
                )?)
            }
            RoleSpec::DataNode(config) => {
                let (node, facts) = DataNode::recover(id, config.clone(), disk, entropy)?;
                Role::DataNode(node, facts)
            }
            RoleSpec::Client(config) => Role::Client(Client::new(id, config.clone(), entropy)),
            RoleSpec::DfsClient(config) => Role::DfsClient(DfsClient::new(id, config.clone(), entropy)),
        })
    }

    /// First step after boot. `now` is the node's local clock.
    pub fn start(&mut self, now: Millis, out: &mut Output<Message, Fact>) {
        match self {
            Role::Controller(c) => c.start(now, out),
            Role::DataNode(d, facts) => d.start(std::mem::take(facts), out),
            Role::Client(c) => c.start(out),
            Role::DfsClient(c) => c.start(out),
        }
    }

    /// Handles one input. `now` is the node's local clock.
    pub fn handle(&mut self, now: Millis, input: Input<Message, AdminCall>, out: &mut Output<Message, Fact>) {
        match (self, input) {
            (Role::Controller(c), Input::Message { from, msg }) => c.on_message(now, from, msg, out),
            (Role::Controller(c), Input::Timer(key)) => c.on_timer(now, key, out),
            (Role::Controller(c), Input::Disk(done)) => c.on_disk(done, out),
            (Role::DataNode(d, _), Input::Message { from, msg: Message::Dfs(m) }) => d.on_message(now, from, m, out),
            (Role::DataNode(d, _), Input::Message { from, msg: Message::Repl(m) }) => d.on_pipeline_message(now, from, m, out),
            (Role::DataNode(d, _), Input::Admin { call_id, call }) => d.on_call(now, call_id, call, out),
            (Role::Controller(c), Input::Admin { call_id, call }) => c.on_admin(now, call_id, call, out),
            (Role::Client(_) | Role::DfsClient(_), Input::Admin { call_id, call }) => {
                let e = crate::pipeline::dolphindb_async::AdminError::new(
                    crate::pipeline::dolphindb_async::AdminError::WRONG_ROLE,
                    format!("{} cannot be called on a client", call.name()),
                );
                out.fact(crate::deployment::fact::Fact::Admin { call_id, call, result: Err(e) });
            }
            (Role::DataNode(..), Input::Message { .. }) => {}
            (Role::DataNode(d, _), Input::Timer(key)) => d.on_timer(now, key, out),
            (Role::DataNode(d, _), Input::Disk(done)) => d.on_disk(now, done, out),
            (Role::Client(c), Input::Message { from, msg }) => c.on_message(now, from, msg, out),
            (Role::Client(c), Input::Timer(key)) => c.on_timer(now, key, out),
            (Role::DfsClient(c), Input::Message { msg, .. }) => c.on_message(now, msg, out),
            (Role::DfsClient(c), Input::Timer(key)) => c.on_timer(now, key, out),
            (Role::Client(_) | Role::DfsClient(_), Input::Disk(done)) => panic!("a client does no disk I/O, got {done:?}"),
        }
    }

    /// The controller inside, if this is one.
    pub fn as_controller(&self) -> Option<&Controller> {
        match self {
            Role::Controller(c) => Some(c),
            _ => None,
        }
    }

    /// The data node inside, if this is one.
    pub fn as_data_node(&self) -> Option<&DataNode> {
        match self {
            Role::DataNode(d, _) => Some(d),
            _ => None,
        }
    }

    /// The metadata client inside, if this is one.
    pub fn as_client(&self) -> Option<&Client> {
        match self {
            Role::Client(c) => Some(c),
            _ => None,
        }
    }

    /// The DFS client inside, if this is one.
    pub fn as_dfs_client(&self) -> Option<&DfsClient> {
        match self {
            Role::DfsClient(c) => Some(c),
            _ => None,
        }
    }
}

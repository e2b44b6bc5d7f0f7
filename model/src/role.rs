//! Every kind of role a node can play, behind one interface for the host.

use crate::client::{Client, ClientConfig};
use crate::controller::{Controller, ControllerBugs};
use crate::io::{DiskView, Input, Millis, NodeId, Output};
use crate::message::Message;
use crate::raft::{RaftConfig, RecoveryError};

/// How to build a node's role; the host keeps it to rebuild the role after a restart.
#[derive(Debug, Clone)]
pub enum RoleSpec {
    /// A member of a controller group.
    Controller { raft: RaftConfig, bugs: ControllerBugs },
    /// A workload client.
    Client(ClientConfig),
}

/// A running role. (Size differences between variants do not matter: a node holds one role.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Role {
    /// A controller.
    Controller(Controller),
    /// A client.
    Client(Client),
}

impl Role {
    /// Builds the role of node `id` from what its disk holds (and nothing else). `entropy` seeds the
    /// role's own choices (election timeouts, jitter) and comes from the run's seed.
    pub fn boot(id: NodeId, spec: &RoleSpec, disk: &dyn DiskView, entropy: u64) -> Result<Role, RecoveryError> {
        Ok(match spec {
            RoleSpec::Controller { raft, bugs } => {
                assert_eq!(raft.id, id);
                Role::Controller(Controller::recover(raft.clone(), *bugs, disk, entropy)?)
            }
            RoleSpec::Client(config) => Role::Client(Client::new(id, config.clone(), entropy)),
        })
    }

    /// First step after boot.
    pub fn start(&mut self, out: &mut Output<Message>) {
        match self {
            Role::Controller(c) => c.start(out),
            Role::Client(c) => c.start(out),
        }
    }

    /// Handles one input. `now` is the node's local clock.
    pub fn handle(&mut self, now: Millis, input: Input<Message>, out: &mut Output<Message>) {
        match (self, input) {
            (Role::Controller(c), Input::Message { from, msg }) => c.on_message(from, msg, out),
            (Role::Controller(c), Input::Timer(key)) => c.on_timer(key, out),
            (Role::Controller(c), Input::Disk(done)) => c.on_disk(done, out),
            (Role::Client(c), Input::Message { from, msg }) => c.on_message(now, from, msg, out),
            (Role::Client(c), Input::Timer(key)) => c.on_timer(now, key, out),
            (Role::Client(_), Input::Disk(done)) => panic!("a client does no disk I/O, got {done:?}"),
        }
    }

    /// The controller inside, if this is one.
    pub fn as_controller(&self) -> Option<&Controller> {
        match self {
            Role::Controller(c) => Some(c),
            Role::Client(_) => None,
        }
    }

    /// The client inside, if this is one.
    pub fn as_client(&self) -> Option<&Client> {
        match self {
            Role::Client(c) => Some(c),
            Role::Controller(_) => None,
        }
    }
}

//! Every kind of role a node can play, behind one interface for the host.

use std::marker::PhantomData;

use crate::core::io::{DiskView, Input, Millis, NodeId, Output, RecoveryError};
use crate::deployment::call::Call;
use crate::deployment::client::{Client, ClientConfig};
use crate::deployment::controller::{Controller, ControllerConfig};
use crate::deployment::fact::Fact;
use crate::deployment::message::Message;
use crate::pipeline::Pipeline;
use crate::replica::{CallAnswered, ReplicaClient, ReplicaNode, ReplicaProtocol, Wire};

/// How this deployment carries what a replica protocol's data node and the pipeline part it hosts
/// emit: into [`Message`] and [`Fact`].
#[derive(Debug)]
pub struct Wiring<R, P>(PhantomData<fn() -> (R, P)>);

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Wire<R, P> for Wiring<R, P> {
    type Message = Message<R, P>;
    type Fact = Fact<R, P>;
}

/// The data node of a deployment of `R` and `P`.
pub type DataNode<R, P> = <R as ReplicaProtocol<P>>::DataNode<Wiring<R, P>>;

/// How to build a node's role; the host keeps it to rebuild the role after a restart.
#[derive(Debug, Clone)]
pub enum RoleSpec<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    /// A member of a controller group.
    Controller(ControllerConfig<R, P>),
    /// A data node.
    DataNode(R::NodeConfig),
    /// A client of the controllers' metadata map.
    Client(ClientConfig),
    /// A workload client of the replica protocol.
    ReplicaClient(R::ClientConfig),
}

/// A running role. (Size differences between variants do not matter: a node holds one role.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Role<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    /// A controller.
    Controller(Controller<R, P>),
    /// A data node.
    DataNode(DataNode<R, P>),
    /// A metadata client.
    Client(Client),
    /// A workload client of the replica protocol.
    ReplicaClient(R::Client),
}

type Out<R, P> = Output<Message<R, P>, Fact<R, P>>;

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Role<R, P> {
    /// Builds the role of node `id` from what its disk holds (and nothing else). `entropy` seeds the
    /// role's own choices (election timeouts, jitter) and comes from the run's seed.
    pub fn boot(id: NodeId, spec: &RoleSpec<R, P>, disk: &dyn DiskView, entropy: u64) -> Result<Self, RecoveryError> {
        Ok(match spec {
            RoleSpec::Controller(config) => {
                assert_eq!(config.raft.id, id);
                Role::Controller(Controller::recover(config, disk, entropy)?)
            }
            RoleSpec::DataNode(config) => Role::DataNode(DataNode::<R, P>::boot(id, config, disk, entropy)?),
            RoleSpec::Client(config) => Role::Client(Client::new(id, config.clone(), entropy)),
            RoleSpec::ReplicaClient(config) => Role::ReplicaClient(R::Client::new(id, config, entropy)),
        })
    }

    /// First step after boot. `now` is the node's local clock.
    pub fn start(&mut self, now: Millis, out: &mut Out<R, P>) {
        match self {
            Role::Controller(c) => c.start(now, out),
            Role::DataNode(d) => d.start(now, out),
            Role::Client(c) => c.start(out),
            Role::ReplicaClient(c) => c.start(out),
        }
    }

    /// Handles one input. `now` is the node's local clock.
    pub fn handle(&mut self, now: Millis, input: Input<Message<R, P>, Call<R, P>>, out: &mut Out<R, P>) {
        use crate::deployment::message::Control;
        match (self, input) {
            (Role::Controller(c), Input::Message { from, msg }) => c.on_message(now, from, msg, out),
            (Role::Controller(c), Input::Timer(key)) => c.on_timer(now, key, out),
            (Role::Controller(c), Input::Disk(done)) => c.on_disk(done, out),
            (Role::Controller(c), Input::Admin { call_id, call }) => c.on_call(now, call_id, call, out),
            (Role::DataNode(d), Input::Message { from, msg: Message::Replica(m) }) => d.on_message(now, from, m, out),
            (Role::DataNode(d), Input::Message { from, msg: Message::Pipeline(m) }) => d.on_pipeline_message(now, from, m, out),
            (Role::DataNode(_), Input::Message { .. }) => {}
            (Role::DataNode(d), Input::Timer(key)) => d.on_timer(now, key, out),
            (Role::DataNode(d), Input::Disk(done)) => d.on_disk(now, done, out),
            (Role::DataNode(d), Input::Admin { call_id, call: Call::Pipeline(call) }) => d.on_call(now, call_id, call, out),
            (Role::DataNode(d), Input::Admin { call_id, call: Call::Replica(call) }) => d.on_replica_call(now, call_id, call, out),
            (Role::Client(_) | Role::ReplicaClient(_), Input::Admin { call_id, call: Call::Pipeline(call) }) => {
                let result = P::no_part_answer(&call);
                out.fact_answer(CallAnswered { call_id, call, result });
            }
            (Role::Client(_) | Role::ReplicaClient(_), Input::Admin { call_id, call: Call::Replica(call) }) => {
                let result = R::call_no_part(&call);
                out.fact_replica_answer(CallAnswered { call_id, call, result });
            }
            (Role::Client(c), Input::Message { msg: Message::Control(Control::StopWorkload), .. }) => c.stop(out),
            (Role::Client(c), Input::Message { from, msg }) => c.on_message(now, from, msg, out),
            (Role::Client(c), Input::Timer(key)) => c.on_timer(now, key, out),
            (Role::ReplicaClient(c), Input::Message { msg: Message::Control(Control::StopWorkload), .. }) => c.stop(out),
            (Role::ReplicaClient(c), Input::Message { msg: Message::Replica(m), .. }) => c.on_message(now, m, out),
            (Role::ReplicaClient(_), Input::Message { .. }) => {}
            (Role::ReplicaClient(c), Input::Timer(key)) => c.on_timer(now, key, out),
            (Role::Client(_) | Role::ReplicaClient(_), Input::Disk(done)) => panic!("a client does no disk I/O, got {done:?}"),
        }
    }

    /// The controller inside, if this is one.
    pub fn as_controller(&self) -> Option<&Controller<R, P>> {
        match self {
            Role::Controller(c) => Some(c),
            _ => None,
        }
    }

    /// The data node inside, if this is one.
    pub fn as_data_node(&self) -> Option<&DataNode<R, P>> {
        match self {
            Role::DataNode(d) => Some(d),
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

    /// The replica protocol's client inside, if this is one.
    pub fn as_replica_client(&self) -> Option<&R::Client> {
        match self {
            Role::ReplicaClient(c) => Some(c),
            _ => None,
        }
    }
}

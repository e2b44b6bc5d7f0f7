//! The designs this build runs: DolphinDB's 2PC replica protocol with its asynchronous cluster
//! replication pipeline, and the deployment types they make.

use ccrsim_model::deployment;
use ccrsim_model::pipeline::dolphindb_async::DolphinAsync;
use ccrsim_model::replica::dolphindb_2pc::Dolphin2pc;

/// The replica protocol.
pub type Replica = Dolphin2pc;
/// The pipeline.
pub type Pipe = DolphinAsync;
/// A message of the deployment.
pub type Message = deployment::message::Message<Replica, Pipe>;
/// A fact of the deployment.
pub type Fact = deployment::fact::Fact<Replica, Pipe>;
/// A role.
pub type Role = deployment::role::Role<Replica, Pipe>;
/// How to build a role.
pub type RoleSpec = deployment::role::RoleSpec<Replica, Pipe>;
/// A controller.
pub type Controller = deployment::controller::Controller<Replica, Pipe>;
/// A data node.
pub type DataNode = deployment::role::DataNode<Replica, Pipe>;

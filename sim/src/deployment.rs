//! The deployment the world runs: a replica protocol and a pipeline of the model, composed by the
//! model's `deployment` module. Everything below the design layer (the nodes, the view checkers
//! read, the checkers) needs only these two types, so it is generic over [`Deployment`] and knows
//! nothing of how a design is set up from a scenario (that is `design::SimDesign`, which extends
//! this trait).

use std::fmt::Debug;

use ccrsim_model::deployment;
use ccrsim_model::pipeline::Pipeline;
use ccrsim_model::replica::{Guest, ReplicaProtocol};

/// A replica protocol and a pipeline composed into one deployment.
pub trait Deployment: Sized + Debug + 'static {
    /// The replica protocol.
    type R: ReplicaProtocol<Self::P>;
    /// The pipeline.
    type P: Pipeline<Self::R>;
}

/// A message of design `D`'s deployment.
pub type Message<D> = deployment::message::Message<<D as Deployment>::R, <D as Deployment>::P>;
/// A fact of design `D`'s deployment.
pub type Fact<D> = deployment::fact::Fact<<D as Deployment>::R, <D as Deployment>::P>;
/// A role of design `D`.
pub type Role<D> = deployment::role::Role<<D as Deployment>::R, <D as Deployment>::P>;
/// How to build a role of design `D`.
pub type RoleSpec<D> = deployment::role::RoleSpec<<D as Deployment>::R, <D as Deployment>::P>;
/// A controller of design `D`.
pub type Controller<D> = deployment::controller::Controller<<D as Deployment>::R, <D as Deployment>::P>;
/// A data node of design `D`.
pub type DataNode<D> = deployment::role::DataNode<<D as Deployment>::R, <D as Deployment>::P>;
/// A management call of design `D` (its replica protocol's or its pipeline's).
pub type Call<D> = deployment::call::Call<<D as Deployment>::R, <D as Deployment>::P>;
/// A management call's answer.
pub type CallResult<D> = deployment::call::CallResult<<D as Deployment>::R, <D as Deployment>::P>;
/// The replica protocol's facts.
pub type ReplicaFact<D> = <<D as Deployment>::R as ReplicaProtocol<<D as Deployment>::P>>::Fact;
/// The pipeline's facts.
pub type PipelineFact<D> = <<D as Deployment>::P as Guest>::Fact;
/// The replica protocol's messages.
pub type ReplicaMessage<D> = <<D as Deployment>::R as ReplicaProtocol<<D as Deployment>::P>>::Message;

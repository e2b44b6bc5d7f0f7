//! The deployment: the controller shell over Raft, the cluster state composed of a replica protocol
//! and a pipeline, every role a node can play, and the messages and facts that cross the world.

pub mod call;
pub mod client;
pub mod controller;
pub mod fact;
pub mod message;
pub mod role;
pub mod state;

//! The ground floor every design stands on, and nothing else: the contract between a role and its
//! host (inputs in, outputs out, generic over each design's messages, calls and facts), checksummed
//! records for durable files, stable hashing, coverage marks, and the seeded generator roles draw their own choices
//! from. Nothing here knows Raft, a replica protocol or a pipeline.

pub mod digest;
pub mod io;
pub mod marks;
pub mod record;
pub mod rng;

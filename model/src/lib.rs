//! ccrsim's system under test: every role of a replicated deployment as a deterministic, I/O-free
//! state machine.
//!
//! Input (a message, a timer, a disk completion) goes in; output (messages, disk requests, timers and
//! facts for the checkers) comes out. Nothing here reads a clock, draws unseeded randomness, spawns a
//! thread or touches a real file; `sim/` hosts these roles in a simulated world.

pub mod core;
pub mod deployment;
pub mod dfs;
pub mod pipeline;
pub mod raft;
pub mod replica;

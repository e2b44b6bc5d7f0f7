//! The simulated environment a deployment runs in, apart from the world that drives it: simulated
//! time, each node's clock (skew and drift), the network (link classes, loss, duplication,
//! reordering, partitions, late delivery) and each node's disk (durability, torn writes,
//! corruption, errors, latency). Nothing here knows a design.

pub mod clock;
pub mod disk;
pub mod net;
pub mod time;

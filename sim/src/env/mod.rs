//! The simulated environment a deployment runs in, apart from the world that drives it: simulated
//! time, each node's clock (skew and drift), the network (link classes, loss, duplication,
//! reordering, partitions, late delivery) and each node's disk (durability, torn writes,
//! corruption, errors, latency). Nothing here knows a design.

pub mod clock;
pub mod disk;
pub mod net;
pub mod time;

use serde::{Deserialize, Deserializer, de::Error};

/// Deserializes a `[min, max]` pair from a scenario file: exactly two elements. serde's own
/// arrays read the first two of a longer list and drop the rest silently, so `[1, 2, 3]` would
/// mean `[1, 2]`.
pub fn pair<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<[T; 2], D::Error> {
    let items = Vec::<T>::deserialize(deserializer)?;
    let length = items.len();
    <[T; 2]>::try_from(items).map_err(|_| D::Error::invalid_length(length, &"a [min, max] pair of exactly 2 elements"))
}

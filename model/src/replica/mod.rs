//! Replica protocols: how the replicas of one cluster's data are written and kept equal.

pub mod dolphindb_2pc;

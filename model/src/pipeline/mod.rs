//! Cross-cluster pipelines: how a source cluster's committed writes reach its target clusters.

pub mod dolphindb_async;

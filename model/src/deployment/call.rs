//! A management call of a deployment: the replica protocol's own (SequoiaDB: add a node, step
//! down) or the pipeline's (DolphinDB: the replication functions), and its answer.
//!
//! Both print and hash as the part's call itself (the pipeline's exactly as before replica calls
//! existed, so a trace of a deployment without replica calls does not change); a replica call's
//! hash is set apart by a leading marker.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::pipeline::Pipeline;
use crate::replica::{Guest, ReplicaProtocol};

/// The hash marker of the replica protocol's variant.
const REPLICA_MARK: u8 = 0x52;

/// A management call.
#[derive(Clone, PartialEq, Eq)]
pub enum Call<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    /// The replica protocol's.
    Replica(R::Call),
    /// The pipeline's.
    Pipeline(P::Call),
}

/// The answer to a management call.
#[derive(Clone, PartialEq, Eq)]
pub enum CallResult<R: ReplicaProtocol<P>, P: Pipeline<R>> {
    /// The replica protocol's.
    Replica(R::CallResult),
    /// The pipeline's.
    Pipeline(<P as Guest>::CallResult),
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> fmt::Debug for Call<R, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Replica(c) => c.fmt(f),
            Call::Pipeline(c) => c.fmt(f),
        }
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> fmt::Debug for CallResult<R, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallResult::Replica(r) => r.fmt(f),
            CallResult::Pipeline(r) => r.fmt(f),
        }
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Hash for Call<R, P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Call::Replica(c) => {
                state.write_u8(REPLICA_MARK);
                c.hash(state);
            }
            Call::Pipeline(c) => c.hash(state),
        }
    }
}

impl<R: ReplicaProtocol<P>, P: Pipeline<R>> Hash for CallResult<R, P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            CallResult::Replica(r) => {
                state.write_u8(REPLICA_MARK);
                r.hash(state);
            }
            CallResult::Pipeline(r) => r.hash(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::digest::stable_hash;
    use crate::pipeline::dolphindb_async::{AdminCall, AdminError, AdminResult, DolphinAsync};
    use crate::replica::dolphindb_2pc::Dolphin2pc;

    type DCall = Call<Dolphin2pc, DolphinAsync>;
    type DResult = CallResult<Dolphin2pc, DolphinAsync>;

    #[test]
    fn a_pipeline_call_prints_and_hashes_as_the_pipeline_call_itself() {
        let inner = AdminCall::GetMasterReplicationStatus { limit: Some(3) };
        let call: DCall = Call::Pipeline(inner.clone());
        assert_eq!(format!("{call:?}"), format!("{inner:?}"));
        assert_eq!(stable_hash(&call), stable_hash(&inner));
        let answer: AdminResult = Err(AdminError::new(AdminError::UNAVAILABLE, "no leader"));
        let result: DResult = CallResult::Pipeline(answer.clone());
        assert_eq!(format!("{result:?}"), format!("{answer:?}"));
        assert_eq!(stable_hash(&result), stable_hash(&answer));
    }
}

//! What DolphinDB's asynchronous replication says about the transactions of the 2PC protocol, at
//! the protocol's decision points (see `replica::WriteHooks`):
//!
//! - master: a transaction on a database replicated when it begins is captured (its coordinator
//!   keeps the data of a write as task data); a captured transaction that completes while the
//!   master is ENABLED becomes a task of the send queue;
//! - slave: an ordinary write to a replicated database is refused (S01023), and so is a task
//!   committed already (S01025); a task's transaction decided commit writes the task id to the
//!   EditLog, unless it is there already (a duplicate, rolled back instead); a task's transaction
//!   that completes makes the task FINISHED.

use crate::core::io::Millis;
use crate::dfs::{ErrorCode, OpError, Operation, OperationKind};
use crate::replica::{CommittedWrite, PipelineTag, PipelineWriteId, WriteHooks};

use super::ClusterRepl;
use super::fact::ReplFact;
use super::task::carries_data;

impl WriteHooks for ClusterRepl {
    type Fact = ReplFact;

    fn refusal(&self, op: &Operation, applies: Option<PipelineWriteId>) -> Option<OpError> {
        let slave = self.slave()?;
        match applies {
            None if slave.replicates(op.database()) => Some(OpError::new(
                ErrorCode::Rejected,
                format!("S01023: {} is replicated from the master cluster; ordinary writes to it are rejected", op.database()),
            )),
            Some(t) if !slave.may_begin(t) => Some(OpError::new(ErrorCode::Duplicate, format!("S01025: task {t} already committed here"))),
            _ => None,
        }
    }

    fn captures(&self, op: &Operation) -> bool {
        self.master().is_some_and(|m| m.replicates(op.database()))
    }

    fn keeps_write_data(&self, kind: OperationKind) -> bool {
        carries_data(kind)
    }

    fn on_commit_decision(&mut self, applies: PipelineWriteId, tid: u64, facts: &mut Vec<ReplFact>) -> bool {
        match self {
            ClusterRepl::Slave(s) => s.on_commit(applies, tid, facts),
            ClusterRepl::Master(_) | ClusterRepl::None => true,
        }
    }

    fn follows(&self, tag: PipelineTag) -> bool {
        match self {
            ClusterRepl::Master(_) => tag.captured,
            ClusterRepl::Slave(_) => tag.applies.is_some(),
            ClusterRepl::None => false,
        }
    }

    fn on_complete(&mut self, write: CommittedWrite<'_>, now_ms: Millis, facts: &mut Vec<ReplFact>) {
        match self {
            ClusterRepl::Master(m) => facts.extend(m.on_complete(write)),
            ClusterRepl::Slave(s) => {
                if let Some(task) = write.tag.applies {
                    s.on_complete(task, now_ms, facts);
                }
            }
            ClusterRepl::None => {}
        }
    }
}

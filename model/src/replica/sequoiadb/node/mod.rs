//! The data node of a SequoiaDB replica group (reference sections 1-8).

pub mod log;

use super::call::{SeqCall, SeqCallResult};
use super::config::SeqNodeConfig;
use super::fact::SeqFact;
use super::message::SeqMessage;
use crate::core::io::{Carries, DiskCompletion, DiskView, Millis, NodeId, Output, RecoveryError, TimerKey, part};
use crate::core::rng::SplitMix64;

use self::log::{LogShape, SyncLog};
use super::lsn::Lsn;

/// The node's one timer: every duty runs off deadlines checked at each tick.
pub const TIMER_NODE_TICK: TimerKey = 500;
const TICK_MS: Millis = 100;

/// A data node.
#[derive(Debug)]
pub struct SeqDataNode {
    id: NodeId,
    config: SeqNodeConfig,
    rng: SplitMix64,
    log: SyncLog,
}

impl SeqDataNode {
    /// Rebuilds the node from its disk.
    pub fn boot(id: NodeId, config: &SeqNodeConfig, _disk: &dyn DiskView, entropy: u64) -> Result<Self, RecoveryError> {
        assert!(config.invalid().is_none(), "invalid node settings: {:?}", config.invalid());
        let shape =
            LogShape { file_bytes: config.log_file_size_bytes, file_num: config.log_file_num, buff_bytes: config.log_buff_size_bytes };
        Ok(Self { id, config: config.clone(), rng: SplitMix64::new(entropy), log: SyncLog::new(shape, Lsn::INVALID) })
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// First step after boot.
    pub fn start<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        _now: Millis,
        out: &mut Output<M, F>,
    ) {
        out.set_timer(TIMER_NODE_TICK, TICK_MS);
    }

    /// A message.
    pub fn on_message<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        _now: Millis,
        _from: NodeId,
        _msg: SeqMessage,
        _out: &mut Output<M, F>,
    ) {
    }

    /// A timer.
    pub fn on_timer<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        _now: Millis,
        key: TimerKey,
        out: &mut Output<M, F>,
    ) {
        if key == TIMER_NODE_TICK {
            out.set_timer(TIMER_NODE_TICK, TICK_MS);
        }
    }

    /// A disk completion.
    pub fn on_disk<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        _now: Millis,
        _done: DiskCompletion,
        _out: &mut Output<M, F>,
    ) {
    }

    /// A management call made on this node; the answer.
    pub fn on_call<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        _now: Millis,
        call: SeqCall,
        _out: &mut Output<M, F>,
    ) -> SeqCallResult {
        let _ = (&self.rng, &self.log, &self.config);
        match call {
            SeqCall::StepDown { .. } => SeqCallResult::NotPrimary,
            _ => SeqCallResult::NoPart,
        }
    }
}

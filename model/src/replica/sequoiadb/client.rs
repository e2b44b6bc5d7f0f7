//! The workload client: coordinator sessions (reference section 9, coord/coordRemoteSession.cpp).

use super::config::SeqClientConfig;
use super::fact::SeqFact;
use super::message::SeqMessage;
use crate::core::io::{Carries, Millis, NodeId, Output, TimerKey, part};
use crate::core::rng::SplitMix64;

/// The client's tick.
pub const TIMER_CLIENT_TICK: TimerKey = 600;
const TICK_MS: Millis = 50;

/// A workload client.
#[derive(Debug)]
pub struct SeqClient {
    id: NodeId,
    config: SeqClientConfig,
    rng: SplitMix64,
    stopped: bool,
}

impl SeqClient {
    /// A client with nothing issued yet.
    pub fn new(id: NodeId, config: &SeqClientConfig, entropy: u64) -> Self {
        assert!(config.invalid().is_none(), "invalid client settings: {:?}", config.invalid());
        Self { id, config: config.clone(), rng: SplitMix64::new(entropy), stopped: false }
    }

    /// Starts issuing.
    pub fn start<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(&mut self, out: &mut Output<M, F>) {
        let _ = (self.id, &self.config, &mut self.rng);
        out.set_timer(TIMER_CLIENT_TICK, TICK_MS);
    }

    /// A message.
    pub fn on_message<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        _now: Millis,
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
        if key == TIMER_CLIENT_TICK && !self.stopped {
            out.set_timer(TIMER_CLIENT_TICK, TICK_MS);
        }
    }

    /// Issue nothing new.
    pub fn stop<M, F>(&mut self, _out: &mut Output<M, F>) {
        self.stopped = true;
    }

    /// Operations waiting for an answer.
    pub fn in_flight(&self) -> usize {
        0
    }
}

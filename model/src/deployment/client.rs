//! A client of the controllers: writes fresh keys at a steady rate and records what it saw.
//!
//! Each lane is a sequential session: one request in flight, resent (same sequence number) after a
//! timeout or a redirect until acknowledged, so the controllers can apply it exactly once.

use crate::core::io::{Millis, NodeId, Output, TimerKey};
use crate::core::rng::SplitMix64;
use crate::deployment::fact::ClientFact;
use crate::deployment::fact::Fact;
use crate::deployment::message::{ClientOp, ClientReply, Message};
use crate::pipeline::Pipeline;
use crate::replica::ReplicaProtocol;

const TIMER_ISSUE: TimerKey = 100;
const TIMER_RETRY_BASE: TimerKey = 1000;

/// Settings of a client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The controllers it may talk to.
    pub controllers: Vec<NodeId>,
    /// Mean time between two new operations.
    pub issue_interval_ms: Millis,
    /// Concurrent sessions.
    pub lanes: u32,
    /// Resend after this long without an answer.
    pub retry_timeout_ms: Millis,
}

#[derive(Debug, Clone)]
struct InFlight {
    seq: u64,
    key: String,
    value: String,
    target: NodeId,
    /// Redirects followed since the last timeout; bounded so that two members with stale hints
    /// pointing at each other cannot bounce a request at network speed.
    redirects: u32,
}

/// Redirects followed at once before waiting for the retry timer.
const REDIRECTS_MAX: u32 = 3;

/// A client.
#[derive(Debug)]
pub struct Client {
    id: NodeId,
    config: ClientConfig,
    lanes: Vec<(u64, Option<InFlight>)>,
    leader_guess: usize,
    issued: u64,
    stopped: bool,
    rng: SplitMix64,
}

impl Client {
    /// A client with nothing issued yet.
    pub fn new(id: NodeId, config: ClientConfig, entropy: u64) -> Self {
        assert!(!config.controllers.is_empty() && config.lanes > 0 && config.issue_interval_ms > 0);
        let lanes = vec![(0, None); config.lanes as usize];
        Self { id, config, lanes, leader_guess: 0, issued: 0, stopped: false, rng: SplitMix64::new(entropy) }
    }

    /// Operations issued so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// Operations still waiting for an answer.
    pub fn in_flight(&self) -> usize {
        self.lanes.iter().filter(|(_, f)| f.is_some()).count()
    }

    /// Starts issuing.
    pub fn start<M, F>(&mut self, out: &mut Output<M, F>) {
        let first = self.rng.range(0, self.config.issue_interval_ms);
        out.set_timer(TIMER_ISSUE, first);
    }

    /// Handles a message.
    pub fn on_message<R: ReplicaProtocol<P>, P: Pipeline<R>>(
        &mut self,
        now: Millis,
        from: NodeId,
        msg: Message<R, P>,
        out: &mut Output<Message<R, P>, Fact<R, P>>,
    ) {
        let Message::ClientResponse { lane, seq, reply } = msg else { return };
        let Some((_, Some(flight))) = self.lanes.get(lane as usize) else { return };
        if flight.seq != seq {
            return; // an answer to an earlier attempt of a finished request
        }
        match reply {
            ClientReply::Ok { index } => {
                let flight = self.lanes[lane as usize].1.take().expect("checked");
                out.fact(ClientFact::Acknowledged { lane, seq, key: flight.key, value: flight.value, index, at: now });
                out.cancel_timer(TIMER_RETRY_BASE + lane);
                self.leader_guess = self.position(from);
            }
            ClientReply::NotLeader { leader } => {
                // Follow the hint at once; without one, wait for the retry timer.
                let flight = self.lanes[lane as usize].1.as_mut().expect("checked");
                if let Some(leader) = leader.filter(|l| *l != from && flight.redirects < REDIRECTS_MAX) {
                    flight.redirects += 1;
                    self.leader_guess = self.position(leader);
                    self.resend(lane, out);
                }
            }
        }
    }

    /// The safety phase is over: issue nothing new (requests in flight still end).
    pub fn stop<M, F>(&mut self, out: &mut Output<M, F>) {
        self.stopped = true;
        out.cancel_timer(TIMER_ISSUE);
    }

    /// Handles a timer.
    pub fn on_timer<R: ReplicaProtocol<P>, P: Pipeline<R>>(
        &mut self,
        now: Millis,
        key: TimerKey,
        out: &mut Output<Message<R, P>, Fact<R, P>>,
    ) {
        if key == TIMER_ISSUE {
            if !self.stopped {
                self.issue(now, out);
                // Jitter of +-50% keeps clients from marching in step.
                let mean = self.config.issue_interval_ms;
                out.set_timer(TIMER_ISSUE, self.rng.range(mean / 2, mean + mean / 2 + 1));
            }
        } else if let Some(lane) = key.checked_sub(TIMER_RETRY_BASE)
            && let Some((_, Some(flight))) = self.lanes.get_mut(lane as usize)
        {
            flight.redirects = 0;
            self.leader_guess = (self.leader_guess + 1) % self.config.controllers.len();
            self.resend(lane, out);
        }
    }

    fn issue<R: ReplicaProtocol<P>, P: Pipeline<R>>(&mut self, now: Millis, out: &mut Output<Message<R, P>, Fact<R, P>>) {
        let Some(lane) = self.lanes.iter().position(|(_, f)| f.is_none()) else { return };
        self.issued += 1;
        let (next_seq, flight) = &mut self.lanes[lane];
        *next_seq += 1;
        let key = format!("c{}-{}", self.id, self.issued);
        let value = format!("v{}", self.rng.next_u64() % 1_000_000);
        let target = self.config.controllers[self.leader_guess];
        *flight = Some(InFlight { seq: *next_seq, key: key.clone(), value: value.clone(), target, redirects: 0 });
        let lane = lane as u32;
        out.fact(ClientFact::Invoked { lane, seq: *next_seq, key: key.clone(), value: value.clone(), at: now });
        out.send(target, Message::ClientRequest { lane, seq: *next_seq, op: ClientOp::Put { key, value } });
        out.set_timer(TIMER_RETRY_BASE + lane, self.config.retry_timeout_ms);
    }

    fn resend<R: ReplicaProtocol<P>, P: Pipeline<R>>(&mut self, lane: u32, out: &mut Output<Message<R, P>, Fact<R, P>>) {
        let target = self.config.controllers[self.leader_guess];
        let flight = self.lanes[lane as usize].1.as_mut().expect("resend of a lane in flight");
        flight.target = target;
        out.fact(ClientFact::Retried { lane, seq: flight.seq, to: target });
        let op = ClientOp::Put { key: flight.key.clone(), value: flight.value.clone() };
        out.send(target, Message::ClientRequest { lane, seq: flight.seq, op });
        out.set_timer(TIMER_RETRY_BASE + lane, self.config.retry_timeout_ms);
    }

    fn position(&self, node: NodeId) -> usize {
        self.config.controllers.iter().position(|c| *c == node).unwrap_or(self.leader_guess)
    }
}

//! The workload client: coordinator sessions (reference section 9, coord/coordRemoteSession.cpp).
//!
//! Each session has one operation in flight. A write goes to its collection's group primary (as
//! the catalog and `NotPrimary` answers tell it; a random member when none is known). A read goes
//! to the session's last node for the group while `PreferredPeriod` lasts (a write makes it the
//! primary, `addLastNode`; a read only when the node changes), else to a node chosen by
//! `PreferredInstance`. Outcomes: a write is `Ok` only when the primary confirmed it as its
//! ReplSize asked; `Indeterminate` after WAIT_SYNC_FAILED, TIMEOUT or no answer; `Failed` only for
//! errors that mean nothing was written.

use std::collections::BTreeMap;

use super::config::SeqClientConfig;
use super::controller::CatalogLink;
use super::fact::{CollectionId, ReadOutcome, SeqFact, WriteOutcome};
use super::message::{CatalogInfo, SeqMessage};
use super::types::{DocId, GroupId, PreferredInstance, ReadId, SeqError, WriteId, WriteOp};
use crate::core::io::{Carries, Millis, NodeId, Output, TimerKey, part};
use crate::core::rng::SplitMix64;

/// The client's tick.
pub const TIMER_CLIENT_TICK: TimerKey = 600;
const TICK_MS: Millis = 50;

#[derive(Debug, Clone, Copy)]
enum Pending {
    Write { write: WriteId, group: GroupId },
    Read { read: ReadId, group: GroupId },
}

#[derive(Debug, Clone)]
struct Session {
    id: u32,
    seq: u64,
    pending: Option<(Pending, Millis)>,
    next_at: Millis,
    /// `addLastNode`: the node last used per group, and since when.
    last_node: BTreeMap<GroupId, (NodeId, Millis)>,
}

/// A workload client.
#[derive(Debug)]
pub struct SeqClient {
    config: SeqClientConfig,
    rng: SplitMix64,
    stopped: bool,
    sessions: Vec<Session>,
    catalog: Option<CatalogInfo>,
    primaries: BTreeMap<GroupId, NodeId>,
    link: CatalogLink,
    next_catalog_at: Millis,
}

impl SeqClient {
    /// A client with nothing issued yet; `id` keeps its sessions apart from other clients'.
    pub fn new(id: NodeId, config: &SeqClientConfig, entropy: u64) -> Self {
        assert!(config.invalid().is_none(), "invalid client settings: {:?}", config.invalid());
        let sessions = (0..config.sessions)
            .map(|i| Session { id: (id << 8) | i, seq: 0, pending: None, next_at: 0, last_node: BTreeMap::new() })
            .collect();
        Self {
            config: config.clone(),
            rng: SplitMix64::new(entropy),
            stopped: false,
            sessions,
            catalog: None,
            primaries: BTreeMap::new(),
            link: CatalogLink::new(config.controllers.clone(), id as usize),
            next_catalog_at: 0,
        }
    }

    /// Starts issuing.
    pub fn start<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(&mut self, out: &mut Output<M, F>) {
        for s in &mut self.sessions {
            s.next_at = self.rng.range(0, self.config.issue_interval_ms.max(1));
        }
        out.set_timer(TIMER_CLIENT_TICK, TICK_MS);
    }

    /// A message.
    pub fn on_message<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        now: Millis,
        msg: SeqMessage,
        out: &mut Output<M, F>,
    ) {
        match msg {
            SeqMessage::CatalogReply { req, info }
                if self.link.answers(req) && self.catalog.as_ref().is_none_or(|c| c.version <= info.version) =>
            {
                for (g, (n, _)) in &info.primaries {
                    self.primaries.entry(*g).or_insert(*n);
                }
                self.catalog = Some(*info);
            }
            SeqMessage::CatalogNotLeader { req, hint } if self.link.answers(req) => {
                self.link.not_leader(hint);
                self.next_catalog_at = now;
            }
            SeqMessage::WriteRes { write, node, result, primary } => self.on_write_res(now, write, node, result, primary, out),
            SeqMessage::ReadRes { read, node, result } => self.on_read_res(now, read, node, result, out),
            _ => {}
        }
    }

    fn session_of(&self, matches: impl Fn(&Pending) -> bool) -> Option<usize> {
        self.sessions.iter().position(|s| s.pending.as_ref().is_some_and(|(p, _)| matches(p)))
    }

    fn on_write_res<M, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        now: Millis,
        write: WriteId,
        node: NodeId,
        result: Result<(super::lsn::Lsn, Vec<NodeId>), SeqError>,
        primary: Option<NodeId>,
        out: &mut Output<M, F>,
    ) {
        let Some(i) = self.session_of(|p| matches!(p, Pending::Write { write: w, .. } if *w == write)) else { return };
        let Some((Pending::Write { group, .. }, _)) = self.sessions[i].pending.take() else { unreachable!("matched a write") };
        let from_primary = !matches!(result, Err(SeqError::NotPrimary | SeqError::NoPrimary | SeqError::FullSync));
        if from_primary {
            self.primaries.insert(group, node);
            if !self.config.bugs.sticky_write_not_recorded {
                self.sessions[i].last_node.insert(group, (node, now));
            }
        } else {
            match primary {
                Some(p) => self.primaries.insert(group, p),
                None => self.primaries.remove(&group),
            };
        }
        let outcome = match result {
            Ok((lsn, confirmed_by)) => WriteOutcome::Ok { group, node, lsn, confirmed_by },
            Err(e) if e.leaves_write_indeterminate() && !self.config.bugs.unconfirmed_reported_failed => {
                WriteOutcome::Indeterminate(Some(e))
            }
            Err(e) => WriteOutcome::Failed(e),
        };
        out.fact_replica(SeqFact::WriteEnded { write, outcome, at: now });
    }

    fn on_read_res<M, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        now: Millis,
        read: ReadId,
        node: NodeId,
        result: Result<Option<super::types::DocValue>, SeqError>,
        out: &mut Output<M, F>,
    ) {
        let Some(i) = self.session_of(|p| matches!(p, Pending::Read { read: r, .. } if *r == read)) else { return };
        let Some((Pending::Read { group, .. }, _)) = self.sessions[i].pending.take() else { unreachable!("matched a read") };
        let outcome = match result {
            Ok(value) => {
                // A read moves the session's last node only when the node changes.
                let last = &mut self.sessions[i].last_node;
                if last.get(&group).is_none_or(|(n, _)| *n != node) {
                    last.insert(group, (node, now));
                }
                ReadOutcome::Value { node, value }
            }
            Err(e) => ReadOutcome::Failed(e),
        };
        out.fact_replica(SeqFact::ReadEnded { read, outcome, at: now });
    }

    /// A timer.
    pub fn on_timer<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        now: Millis,
        key: TimerKey,
        out: &mut Output<M, F>,
    ) {
        if key != TIMER_CLIENT_TICK {
            return;
        }
        out.set_timer(TIMER_CLIENT_TICK, TICK_MS);
        if now >= self.next_catalog_at {
            self.next_catalog_at = now + self.config.catalog_refresh_ms;
            let (to, req) = self.link.ask();
            out.send_replica(to, SeqMessage::CatalogQuery { req, primary_of: None });
        }
        for i in 0..self.sessions.len() {
            self.expire(i, now, out);
            let s = &self.sessions[i];
            if !self.stopped && s.pending.is_none() && now >= s.next_at {
                self.issue(i, now, out);
            }
        }
    }

    fn expire<M, F: Carries<SeqFact, part::Replica>>(&mut self, i: usize, now: Millis, out: &mut Output<M, F>) {
        let Some((pending, deadline)) = self.sessions[i].pending else { return };
        if now < deadline {
            return;
        }
        self.sessions[i].pending = None;
        match pending {
            Pending::Write { write, .. } => {
                out.fact_replica(SeqFact::WriteEnded { write, outcome: WriteOutcome::Indeterminate(None), at: now })
            }
            Pending::Read { read, .. } => out.fact_replica(SeqFact::ReadEnded { read, outcome: ReadOutcome::Unknown, at: now }),
        }
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> Option<T> {
        (!from.is_empty()).then(|| from[self.rng.range(0, from.len() as u64) as usize])
    }

    fn issue<M: Carries<SeqMessage, part::Replica>, F: Carries<SeqFact, part::Replica>>(
        &mut self,
        i: usize,
        now: Millis,
        out: &mut Output<M, F>,
    ) {
        let interval = self.config.issue_interval_ms.max(1);
        self.sessions[i].next_at = now + self.rng.range(interval / 2, interval + interval / 2 + 1);
        let Some(catalog) = &self.catalog else { return };
        let collections: Vec<(CollectionId, GroupId, super::types::ReplSize)> =
            catalog.collections.iter().map(|(c, e)| (*c, e.group, e.repl_size)).collect();
        let Some((collection, group, repl_size)) = self.pick(&collections) else { return };
        let members: Vec<NodeId> =
            self.catalog.as_ref().and_then(|c| c.groups.get(&group)).map(|m| m.keys().copied().collect()).unwrap_or_default();
        if members.is_empty() {
            return;
        }
        let id: DocId = self.rng.range(1, self.config.docs_per_collection + 1);
        let mix = self.config.mix;
        let total = u64::from(mix.insert + mix.increment + mix.delete + mix.read);
        let roll = self.rng.range(0, total);
        let op = if roll < u64::from(mix.insert) {
            Some(WriteOp::Insert { counter: self.rng.range(0, 100) as i64 })
        } else if roll < u64::from(mix.insert + mix.increment) {
            Some(WriteOp::Increment { delta: 1 })
        } else if roll < u64::from(mix.insert + mix.increment + mix.delete) {
            Some(WriteOp::Delete)
        } else {
            None
        };
        let session = &mut self.sessions[i];
        session.seq += 1;
        let op_id = (session.id, session.seq);
        let deadline = now + self.config.op_timeout_ms;
        match op {
            Some(op) => {
                let primary = self.primaries.get(&group).copied().filter(|p| members.contains(p));
                let Some(target) = primary.or_else(|| self.pick(&members)) else { return };
                self.sessions[i].pending = Some((Pending::Write { write: op_id, group }, deadline));
                out.fact_replica(SeqFact::WriteInvoked { write: op_id, collection, id, op, repl_size, at: now });
                out.send_replica(target, SeqMessage::WriteReq { write: op_id, collection, id, op, repl_size });
            }
            None => {
                let (target, sticky) = self.read_target(i, group, &members, now);
                let preferred = self.config.preferred_instance;
                self.sessions[i].pending = Some((Pending::Read { read: op_id, group }, deadline));
                out.fact_replica(SeqFact::ReadInvoked { read: op_id, collection, id, preferred, sticky, at: now });
                out.send_replica(target, SeqMessage::ReadReq { read: op_id, collection, id });
            }
        }
    }

    /// The node a read goes to, and the sticky node if the session's last node was reused
    /// (`_coordGroupSel`).
    fn read_target(&mut self, i: usize, group: GroupId, members: &[NodeId], now: Millis) -> (NodeId, Option<NodeId>) {
        let primary = self.primaries.get(&group).copied().filter(|p| members.contains(p));
        let preferred = self.config.preferred_instance;
        let period = self.config.preferred_period_ms;
        let sticky = self.sessions[i].last_node.get(&group).copied().filter(|&(node, since)| {
            let alive = period < 0 || (period > 0 && now < since + period as Millis);
            let fits = preferred != PreferredInstance::Primary || Some(node) == primary;
            alive && fits && members.contains(&node)
        });
        if let Some((node, _)) = sticky {
            return (node, Some(node));
        }
        let secondaries: Vec<NodeId> = members.iter().copied().filter(|&n| Some(n) != primary).collect();
        let chosen = match preferred {
            PreferredInstance::Primary => primary,
            PreferredInstance::Secondary if primary.is_some() => self.pick(&secondaries).or(primary),
            PreferredInstance::Secondary | PreferredInstance::Any => None,
        };
        let node = chosen.or_else(|| self.pick(members)).expect("a group has members");
        (node, None)
    }

    /// Issue nothing new.
    pub fn stop<M, F>(&mut self, _out: &mut Output<M, F>) {
        self.stopped = true;
    }

    /// Operations waiting for an answer.
    pub fn in_flight(&self) -> usize {
        self.sessions.iter().filter(|s| s.pending.is_some()).count()
    }
}

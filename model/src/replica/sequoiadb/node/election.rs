//! The vote machine (reference section 7; cls/clsVoteMachine.cpp, clsVSSecondary.cpp,
//! clsVSPrimary.cpp, clsVoteStatus.cpp): a secondary that has seen no primary for
//! CLS_VOTE_CS_TIME and meets the launch conditions stands; voters compare LSNs, then weights,
//! then node ids; two rounds (promise, accept); a voter that accepts round two keeps silent for a
//! while; the winner bumps the version before it takes the role. A primary checks every 3 s that
//! it sees a majority alive, and steps down otherwise.
//!
//! The version a candidate takes is one above the highest it knows, and round two carries it: a
//! voter accepts only a version above every one it promised (two round-two majorities meet in a
//! voter, so no two primaries take one version). SequoiaDB keeps no vote on disk either; the model
//! persists the promised version so that a restarted voter keeps its word.

use std::collections::BTreeSet;

use super::super::fact::{SeqFact, StepDownCause};
use super::super::lsn::Lsn;
use super::super::message::SeqMessage;
use super::super::types::{DbStatus, SeqError};
use super::{AfterDisk, NodeFacts, NodeOut, SeqDataNode};
use crate::core::io::{Millis, NodeId, Output};

/// CLS_VOTE_CS_TIME: how long a secondary waits without a primary before it stands, how long a
/// voter keeps silent after accepting round two, and how often a primary checks its majority.
pub const VOTE_CS_MS: Millis = 3_000;
/// A candidacy that has not won by then is given up.
const CANDIDACY_MS: Millis = 1_500;

/// The node's place in the vote machine (SILENCE, SEC, VOTE, PRIMARY; ANNOUNCE is round two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A secondary since `since` (it may stand `VOTE_CS_MS` later).
    Secondary { since: Millis },
    /// Accepted a candidate's round two, or stepped down: takes no part until `until`.
    Silence { until: Millis },
    /// Standing.
    Candidate(Candidacy),
    /// The primary of `version`.
    Primary { version: u32, next_check: Millis },
}

/// A candidacy in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidacy {
    /// The ballot's id.
    pub id: u64,
    /// 1 (promise) or 2 (accept).
    pub round: u8,
    /// The version it will take (round two).
    pub version: u32,
    /// Voters that accepted this round (itself included).
    pub accepted: BTreeSet<NodeId>,
    /// Voters that refused this round.
    pub refused: BTreeSet<NodeId>,
    /// When it began.
    pub started: Millis,
    /// It won round two and waits for the bumped version to be durable.
    pub promoting: bool,
}

/// `CLS_IS_MAJORITY(now, total)`.
pub fn is_majority(count: usize, total: usize) -> bool {
    total / 2 < count
}

/// Whether a voter whose log ends at `mine` (weight `my_weight`, id `me`) accepts a candidate
/// (`_launch(lsn, id, round)` in clsVoteStatus.cpp): the higher LSN wins; on equal LSNs the
/// higher weight; on a full tie the higher node id.
pub fn voter_accepts(mine: Lsn, my_weight: u8, me: NodeId, theirs: Lsn, their_weight: u8, them: NodeId) -> bool {
    match theirs.cmp(&mine) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => match their_weight.cmp(&my_weight) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => them > me,
        },
    }
}

impl SeqDataNode {
    /// Why this node may not stand now, if it may not (`_launch` in clsVoteStatus.cpp).
    pub fn launch_refusal(&self, now: Millis) -> Option<&'static str> {
        if self.known_primary(now).is_some() {
            return Some("a primary is known");
        }
        if !is_majority(self.alive_members(now).len(), self.group_size()) {
            return Some("no alive majority");
        }
        if !self.startup_ok || self.status != DbStatus::Normal || self.fs_target.is_some() {
            return Some("not started OK");
        }
        if !self.sync.idle_for_election() {
            return Some("sync queue not empty");
        }
        let behind = self.peers.iter().any(|(n, p)| {
            self.alive(*n, now) && self.members.contains_key(n) && p.beat.status == DbStatus::Normal && p.beat.end > self.log.end()
        });
        if behind {
            return Some("an alive node has a higher LSN");
        }
        None
    }

    pub(super) fn election_tick<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        match &self.role {
            Role::Secondary { since } => {
                let waited = now >= since + VOTE_CS_MS || self.group_size() == 1;
                if waited && self.launch_refusal(now).is_none() {
                    self.stand(now, out);
                }
            }
            Role::Silence { until } => {
                if now >= *until {
                    self.role = Role::Secondary { since: now };
                }
            }
            Role::Candidate(c) => {
                if now >= c.started + CANDIDACY_MS && !c.promoting {
                    self.give_up(now);
                }
            }
            Role::Primary { next_check, .. } => {
                if now >= *next_check {
                    self.check_majority(now, out);
                }
            }
        }
    }

    fn stand<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        let id = self.rng.next_u64();
        let candidacy = Candidacy {
            id,
            round: 1,
            version: 0,
            accepted: BTreeSet::from([self.id]),
            refused: BTreeSet::new(),
            started: now,
            promoting: false,
        };
        self.role = Role::Candidate(candidacy);
        self.send_ballot(out);
        self.count_ballots(now, out);
    }

    fn send_ballot<M: NodeOut, F>(&mut self, out: &mut Output<M, F>) {
        let Role::Candidate(c) = &self.role else { unreachable!("only a candidate sends ballots") };
        let msg = SeqMessage::Ballot { round: c.round, id: c.id, end: self.log.end(), weight: self.members[&self.id], version: c.version };
        for &to in self.members.keys().filter(|&&n| n != self.id) {
            out.send_replica(to, msg.clone());
        }
    }

    /// The version a winner takes: one above every version it knows (SequoiaDB's `incVersion()`
    /// before the role change); under `skip_version_bump`, the version it has.
    fn next_version(&self) -> u32 {
        let highest = self.known_version.max(self.log.end().version);
        if self.config.bugs.skip_version_bump { highest.max(1) } else { highest + 1 }
    }

    fn give_up(&mut self, now: Millis) {
        // A random pause keeps two candidates from standing in step forever.
        let pause = self.rng.range(0, VOTE_CS_MS);
        self.role = Role::Secondary { since: now + pause };
    }

    fn count_ballots<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        let size = self.group_size();
        let Role::Candidate(c) = &mut self.role else { return };
        if is_majority(c.accepted.len(), size) {
            if c.round == 1 {
                let version = self.next_version();
                let Role::Candidate(c) = &mut self.role else { unreachable!() };
                c.round = 2;
                c.version = version;
                c.accepted = BTreeSet::from([self.id]);
                c.refused.clear();
                self.send_ballot(out);
                self.count_ballots(now, out);
            } else if !c.promoting {
                c.promoting = true;
                let ballot = c.id;
                self.known_version = self.known_version.max(c.version);
                self.save_meta_then(AfterDisk::Promote { ballot }, out);
            }
        } else if !is_majority(size - c.refused.len(), size) {
            self.give_up(now);
        }
    }

    /// The version of candidacy `ballot` is durable: the node takes the role.
    pub(super) fn on_version_durable<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, ballot: u64, out: &mut Output<M, F>) {
        if matches!(&self.role, Role::Candidate(c) if c.id == ballot && c.promoting) {
            self.promote(now, out);
        }
    }

    fn promote<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        let Role::Candidate(c) = std::mem::replace(&mut self.role, Role::Secondary { since: now }) else { unreachable!() };
        assert!(self.config.bugs.any() || c.version > self.log.end().version, "a new primary takes a version above its log's");
        assert!(is_majority(c.accepted.len(), self.group_size()) && c.round == 2, "promoted without a round-two majority");
        assert!(self.known_version >= c.version, "the version was made durable before the role was taken");
        self.role = Role::Primary { version: c.version, next_check: now + super::election::VOTE_CS_MS };
        self.sync = Default::default();
        self.acked.clear();
        self.waiting_notify.clear();
        out.fact_replica(SeqFact::BecamePrimary {
            at: self.member(),
            version: c.version,
            end: self.log.end(),
            votes: c.accepted.into_iter().collect(),
            group_size: self.group_size() as u32,
        });
        self.send_beats(out);
    }

    /// A ballot from candidate `from`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_ballot<M: NodeOut, F: NodeFacts>(
        &mut self,
        now: Millis,
        from: NodeId,
        round: u8,
        id: u64,
        end: Lsn,
        weight: u8,
        version: u32,
        out: &mut Output<M, F>,
    ) {
        let accept = self.members.contains_key(&from) && self.judge_ballot(now, from, round, end, weight, version);
        if accept && round == 2 {
            out.fact_replica(SeqFact::VoteAccepted {
                at: self.member(),
                candidate: from,
                version,
                end: self.log.end(),
                candidate_end: end,
            });
            // The promise is answered once it is on disk.
            self.known_version = self.known_version.max(version);
            self.role = Role::Silence { until: now + VOTE_CS_MS };
            self.save_meta_then(AfterDisk::Accept { candidate: from, id }, out);
            return;
        }
        out.send_replica(from, SeqMessage::BallotReply { round, id, accept, version: self.known_version });
    }

    fn judge_ballot(&self, now: Millis, from: NodeId, round: u8, end: Lsn, weight: u8, version: u32) -> bool {
        let busy = match &self.role {
            Role::Primary { .. } | Role::Candidate(_) => true,
            Role::Silence { until } => now < *until,
            Role::Secondary { .. } => false,
        };
        if busy || self.known_primary(now).is_some_and(|p| p != from) {
            return false;
        }
        if round == 2 {
            let fresh = if self.config.bugs.skip_version_bump { version >= self.known_version } else { version > self.known_version };
            if !fresh {
                return false;
            }
        }
        let my_weight = self.members.get(&self.id).copied().unwrap_or(0);
        voter_accepts(self.log.end(), my_weight, self.id, end, weight, from) || (self.config.bugs.voter_ignores_lsn && end < self.log.end())
    }

    /// A voter's answer.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_ballot_reply<M: NodeOut, F: NodeFacts>(
        &mut self,
        now: Millis,
        from: NodeId,
        round: u8,
        id: u64,
        accept: bool,
        version: u32,
        out: &mut Output<M, F>,
    ) {
        self.known_version = self.known_version.max(version);
        let Role::Candidate(c) = &mut self.role else { return };
        if c.id != id || c.round != round {
            return;
        }
        if accept {
            c.accepted.insert(from);
        } else {
            c.refused.insert(from);
        }
        self.count_ballots(now, out);
    }

    fn check_majority<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, out: &mut Output<M, F>) {
        let Role::Primary { next_check, .. } = &mut self.role else { unreachable!() };
        *next_check = now + VOTE_CS_MS;
        if !is_majority(self.alive_members(now).len(), self.group_size()) {
            crate::mark!("sequoiadb.stepped_down_no_majority");
            self.step_down(now, StepDownCause::NoMajority, out);
        }
    }

    /// The primary steps down (`deactive()`): waiting writes end unconfirmed, and the node keeps
    /// silent for a while.
    pub(crate) fn step_down<M: NodeOut, F: NodeFacts>(&mut self, now: Millis, why: StepDownCause, out: &mut Output<M, F>) {
        let Some(version) = self.primary_version() else { unreachable!("only a primary steps down") };
        self.role = Role::Silence { until: now + VOTE_CS_MS };
        out.fact_replica(SeqFact::SteppedDown { at: self.member(), version, why });
        for w in std::mem::take(&mut self.waiters) {
            self.answer_waiter(w, Err(SeqError::WaitSyncFailed), out);
        }
        self.acked.clear();
        self.waiting_notify.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_is_more_than_half() {
        assert!(is_majority(2, 3) && !is_majority(1, 3) && !is_majority(2, 4) && is_majority(3, 4) && is_majority(1, 1));
    }

    #[test]
    fn voters_prefer_lsn_then_weight_then_id() {
        let (low, high) = (Lsn::new(1, 64), Lsn::new(1, 128));
        assert!(voter_accepts(low, 10, 1, high, 1, 2));
        assert!(!voter_accepts(high, 1, 1, low, 100, 2));
        assert!(voter_accepts(low, 10, 1, low, 20, 0));
        assert!(!voter_accepts(low, 20, 1, low, 10, 2));
        assert!(voter_accepts(low, 10, 1, low, 10, 2));
        assert!(!voter_accepts(low, 10, 2, low, 10, 1));
    }
}

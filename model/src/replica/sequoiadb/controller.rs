//! The controllers' light duties (SequoiaDB's catalog node, outside its replicated state): answer
//! nodes' and clients' catalog requests from the applied catalog, remember which node last said it
//! is a group's primary (MSG_CAT_PRIMARY_CHANGE), and have the plan of a fresh cluster applied.

use std::collections::BTreeMap;

use super::call::{SeqCall, SeqCallResult};
use super::catalog::{Catalog, CatalogCommand, DEFAULT_WEIGHT};
use super::message::{CatalogInfo, SeqMessage};
use super::types::GroupId;
use crate::core::io::{Carries, Millis, NodeId, Output, TimerKey, part};
use crate::replica::{CallOutcome, Duty, Guest, LeaderView, WriteHooks};

/// The duties' timer.
pub const TIMER_CATALOG: TimerKey = 30;
const CATALOG_TICK_MS: Millis = 500;
/// A bootstrap proposal not applied after this long is proposed again.
const BOOTSTRAP_RETRY_MS: Millis = 2_000;

/// How a data node or a client reaches the catalog: one controller at a time, the next one when
/// the one asked says it does not lead (or names the leader), or leaves a request unanswered.
#[derive(Debug, Clone)]
pub struct CatalogLink {
    controllers: Vec<NodeId>,
    current: usize,
    req: u64,
    answered: bool,
}

impl CatalogLink {
    /// A link to `controllers`, starting at the one `start` picks.
    pub fn new(controllers: Vec<NodeId>, start: usize) -> Self {
        assert!(!controllers.is_empty(), "a catalog link needs a controller");
        let current = start % controllers.len();
        Self { controllers, current, req: 0, answered: true }
    }

    /// The next request: its id and the controller to send it to.
    pub fn ask(&mut self) -> (NodeId, u64) {
        if !self.answered {
            self.current = (self.current + 1) % self.controllers.len();
        }
        self.req += 1;
        self.answered = false;
        (self.controllers[self.current], self.req)
    }

    /// Whether `req` answers the request in flight (it is then answered).
    pub fn answers(&mut self, req: u64) -> bool {
        let current = req == self.req;
        self.answered |= current;
        current
    }

    /// The controller asked does not lead: ask the one it names, else the next.
    pub fn not_leader(&mut self, hint: Option<NodeId>) {
        self.answered = true;
        let next = (self.current + 1) % self.controllers.len();
        self.current = hint.and_then(|h| self.controllers.iter().position(|&c| c == h)).unwrap_or(next);
    }
}

/// Settings of the catalog duties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogDutiesConfig {}

/// A controller's volatile catalog duties.
#[derive(Debug)]
pub struct CatalogDuties {
    /// The primary each group last reported, with its version.
    primaries: BTreeMap<GroupId, (NodeId, u32)>,
    /// When this leader last proposed the bootstrap.
    bootstrap_proposed: Option<Millis>,
}

impl CatalogDuties {
    /// The duties of a controller that just booted.
    pub fn new(_: CatalogDutiesConfig) -> Self {
        Self { primaries: BTreeMap::new(), bootstrap_proposed: None }
    }

    /// Arms the timer.
    pub fn start<M, F>(&mut self, out: &mut Output<M, F>) {
        out.set_timer(TIMER_CATALOG, CATALOG_TICK_MS);
    }

    /// A catalog request from a node or a client.
    pub fn on_message<P: Guest, H: WriteHooks, M: Carries<SeqMessage, part::Replica>, F>(
        &mut self,
        view: &LeaderView<'_, Catalog, H>,
        from: NodeId,
        msg: SeqMessage,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<CatalogCommand, P>> {
        let SeqMessage::CatalogQuery { req, primary_of } = msg else { return Vec::new() };
        if !view.is_leader {
            out.send_replica(from, SeqMessage::CatalogNotLeader { req, hint: view.leader_hint });
            return Vec::new();
        }
        if let Some((group, version)) = primary_of {
            let newer = self.primaries.get(&group).is_none_or(|&(_, v)| v <= version);
            if newer {
                self.primaries.insert(group, (from, version));
            }
        }
        let catalog = view.replica;
        let info = CatalogInfo {
            version: catalog.version,
            groups: catalog.groups.clone(),
            collections: catalog.collections.clone(),
            primaries: self.primaries.clone(),
        };
        out.send_replica(from, SeqMessage::CatalogReply { req, info: Box::new(info) });
        Vec::new()
    }

    /// The tick: a leader of a fresh cluster has the plan applied.
    pub fn on_timer<P: Guest, H: WriteHooks, M, F>(
        &mut self,
        view: &LeaderView<'_, Catalog, H>,
        out: &mut Output<M, F>,
    ) -> Vec<Duty<CatalogCommand, P>> {
        out.set_timer(TIMER_CATALOG, CATALOG_TICK_MS);
        if !view.is_leader || view.replica.bootstrapped {
            return Vec::new();
        }
        if self.bootstrap_proposed.is_some_and(|at| view.now < at + BOOTSTRAP_RETRY_MS) {
            return Vec::new();
        }
        self.bootstrap_proposed = Some(view.now);
        vec![Duty::Propose { origin: None, cmd: CatalogCommand::Bootstrap }]
    }

    /// Leadership lost: what a leader heard goes.
    pub fn on_leadership_lost(&mut self) {
        self.primaries.clear();
        self.bootstrap_proposed = None;
    }

    /// A management call made on this controller.
    pub fn on_call<H: WriteHooks>(
        &mut self,
        view: &LeaderView<'_, Catalog, H>,
        call: &SeqCall,
    ) -> CallOutcome<CatalogCommand, SeqCallResult> {
        if !view.is_leader {
            return CallOutcome::Answer(SeqCallResult::NotLeader(view.leader_hint));
        }
        match *call {
            SeqCall::AddNode { group, node } => CallOutcome::Propose(CatalogCommand::AddMember { group, node, weight: DEFAULT_WEIGHT }),
            SeqCall::RemoveNode { group, node } => CallOutcome::Propose(CatalogCommand::RemoveMember { group, node }),
            SeqCall::SetWeight { group, node, weight } => CallOutcome::Propose(CatalogCommand::SetWeight { group, node, weight }),
            SeqCall::StepDown { .. } => CallOutcome::Answer(SeqCallResult::NoPart),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::NoHooks;
    use crate::replica::sequoiadb::catalog::{CatalogConfig, GroupConfig, MemberConfig};

    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    struct NoGuest;
    impl crate::replica::Guest for NoGuest {
        type Message = NoMessage;
        type Fact = ();
        type Call = ();
        type CallResult = ();
        type Beat = ();
        type NodeRequest = ();
        type NodeReply = ();
    }
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    struct NoMessage;
    impl crate::replica::MessageKind for NoMessage {
        fn kind(&self) -> &'static str {
            "none"
        }
    }

    #[derive(Debug)]
    struct Sent(SeqMessage);
    impl Carries<SeqMessage, part::Replica> for Sent {
        fn carry(m: SeqMessage) -> Self {
            Sent(m)
        }
    }

    fn catalog() -> Catalog {
        let plan =
            CatalogConfig { groups: vec![GroupConfig { id: 1, members: vec![MemberConfig { node: 5, weight: 10 }] }], collections: vec![] };
        Catalog::new(plan)
    }

    fn view<'a>(catalog: &'a Catalog, is_leader: bool, hooks: &'a NoHooks) -> LeaderView<'a, Catalog, NoHooks> {
        LeaderView { now: 1_000, is_leader, leader_hint: Some(3), members: &[], replica: catalog, pipeline: hooks }
    }

    #[test]
    fn a_leader_bootstraps_once_and_answers_catalog_queries_with_the_primary_reported() {
        let (catalog, hooks) = (catalog(), NoHooks::default());
        let mut duties = CatalogDuties::new(CatalogDutiesConfig::default());
        let mut out: Output<Sent, ()> = Output::default();
        let duties_out = duties.on_timer::<NoGuest, _, _, _>(&view(&catalog, true, &hooks), &mut out);
        assert_eq!(duties_out, vec![Duty::Propose { origin: None, cmd: CatalogCommand::Bootstrap }]);
        assert!(duties.on_timer::<NoGuest, _, _, _>(&view(&catalog, true, &hooks), &mut out).is_empty(), "not again at once");
        let query = SeqMessage::CatalogQuery { req: 4, primary_of: Some((1, 2)) };
        duties.on_message::<NoGuest, _, _, _>(&view(&catalog, true, &hooks), 5, query, &mut out);
        let Some((5, Sent(SeqMessage::CatalogReply { req: 4, info }))) = out.sends.last() else { panic!("{:?}", out.sends) };
        assert_eq!(info.primaries.get(&1), Some(&(5, 2)));
        duties.on_message::<NoGuest, _, _, _>(
            &view(&catalog, false, &hooks),
            5,
            SeqMessage::CatalogQuery { req: 5, primary_of: None },
            &mut out,
        );
        assert!(matches!(out.sends.last(), Some((5, Sent(SeqMessage::CatalogNotLeader { req: 5, hint: Some(3) })))));
    }

    #[test]
    fn a_catalog_link_moves_on_when_unanswered_or_told_so() {
        let mut link = CatalogLink::new(vec![0, 1, 2], 1);
        let (to, req) = link.ask();
        assert_eq!(to, 1);
        assert!(link.answers(req));
        assert_eq!(link.ask().0, 1, "answered: the same controller");
        assert_eq!(link.ask().0, 2, "unanswered: the next one");
        link.not_leader(Some(0));
        assert_eq!(link.ask().0, 0, "the leader named");
        assert!(!link.answers(99));
    }

    #[test]
    fn membership_calls_become_commands_and_a_step_down_is_not_for_a_controller() {
        let (catalog, hooks) = (catalog(), NoHooks::default());
        let mut duties = CatalogDuties::new(CatalogDutiesConfig::default());
        let add = duties.on_call(&view(&catalog, true, &hooks), &SeqCall::AddNode { group: 1, node: 6 });
        assert_eq!(add, CallOutcome::Propose(CatalogCommand::AddMember { group: 1, node: 6, weight: DEFAULT_WEIGHT }));
        let step = duties.on_call(&view(&catalog, true, &hooks), &SeqCall::StepDown { group: 1 });
        assert_eq!(step, CallOutcome::Answer(SeqCallResult::NoPart));
        let follower = duties.on_call(&view(&catalog, false, &hooks), &SeqCall::RemoveNode { group: 1, node: 5 });
        assert_eq!(follower, CallOutcome::Answer(SeqCallResult::NotLeader(Some(3))));
    }
}

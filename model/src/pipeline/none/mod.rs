//! The pipeline that ships nothing ("none"): for a replica protocol run without cross-cluster
//! replication (SequoiaDB's replica groups, issue 11). It keeps no state, captures and refuses
//! no write, sends no message, reports no fact and has no management call; every one of those types
//! is uninhabited, so the compiler proves that no such value is ever made.
//!
//! It runs with any replica protocol that accepts it as its guest.

use serde::{Deserialize, Serialize};

use crate::core::io::{Carries, NodeId, Output, TimerKey, part};
use crate::pipeline::{CallOutcome, NodeRequestOutcome, Pipeline};
use crate::replica::{Guest, LeaderView, MessageKind, NoCall, NoHooks, ReplicaProtocol};

/// The pipeline that ships nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NonePipeline;

/// The type of what this pipeline never has: a message, a fact, a command, a data node's request or
/// its answer. It has no values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Nothing {}

impl MessageKind for Nothing {
    fn kind(&self) -> &'static str {
        match *self {}
    }
}

/// What the pipeline keeps in a cluster's controllers: nothing. As the protocol's write hooks it
/// refuses nothing, captures nothing and follows nothing.
pub type NoneState = NoHooks<Nothing>;

impl Guest for NonePipeline {
    type Message = Nothing;
    type Fact = Nothing;
    type Call = NoCall;
    type CallResult = NoCall;
    type Beat = ();
    type NodeRequest = Nothing;
    type NodeReply = Nothing;
}

impl<R: ReplicaProtocol<NonePipeline>> Pipeline<R> for NonePipeline {
    const NAME: &'static str = "none";
    type Config = ();
    type State = NoneState;
    type Command = Nothing;
    type Duties = ();
    type DutiesConfig = ();

    fn new_state(_: ()) -> NoneState {
        NoneState::default()
    }

    fn new_duties(_: ()) {}

    fn apply(_: &mut NoneState, cmd: &Nothing, _: &R::State) -> (NoCall, Vec<Nothing>) {
        match *cmd {}
    }

    fn snapshot_fact(_: &NoneState) -> Option<Nothing> {
        None
    }

    fn node_reply(answer: NoCall) -> Nothing {
        match answer {}
    }

    fn leadership_lost_answer() -> NoCall {
        unreachable!("the pipeline \"none\" has no management calls, so none is waiting")
    }

    fn not_leader_answer(_: Option<NodeId>) -> NoCall {
        unreachable!("the pipeline \"none\" has no management calls, so none is made")
    }

    fn no_part_answer(call: &NoCall) -> NoCall {
        match *call {}
    }

    fn owns_timer(_: TimerKey) -> bool {
        false
    }

    fn start<M: Carries<Nothing, part::Pipeline>, F: Carries<Nothing, part::Pipeline>>(_: &mut (), _: &NoneState, _: &mut Output<M, F>) {}

    /// Never called: the pipeline owns no timer.
    fn on_timer<M: Carries<Nothing, part::Pipeline>, F: Carries<Nothing, part::Pipeline>>(
        _: &mut (),
        _: &LeaderView<'_, R::State, NoneState>,
        _: TimerKey,
        _: &mut Output<M, F>,
    ) -> Vec<Nothing> {
        Vec::new()
    }

    fn on_message<M: Carries<Nothing, part::Pipeline>, F: Carries<Nothing, part::Pipeline>>(
        _: &mut (),
        _: &LeaderView<'_, R::State, NoneState>,
        _: NodeId,
        msg: Nothing,
        _: &mut Output<M, F>,
    ) -> Vec<Nothing> {
        match msg {}
    }

    fn on_node_request(
        _: &mut (),
        _: &LeaderView<'_, R::State, NoneState>,
        _: NodeId,
        request: Nothing,
    ) -> NodeRequestOutcome<Nothing, Nothing> {
        match request {}
    }

    /// A data node's heartbeat carries nothing for this pipeline.
    fn on_beat<M: Carries<Nothing, part::Pipeline>, F: Carries<Nothing, part::Pipeline>>(
        _: &mut (),
        _: &LeaderView<'_, R::State, NoneState>,
        _: NodeId,
        _: (),
        _: &mut Output<M, F>,
    ) {
    }

    fn on_call(_: &mut (), _: &LeaderView<'_, R::State, NoneState>, call: &NoCall) -> CallOutcome<Nothing, NoCall> {
        match *call {}
    }

    /// No command of this pipeline exists, and no protocol hook of it makes a fact: `facts` is empty.
    fn on_applied<M: Carries<Nothing, part::Pipeline>, F: Carries<Nothing, part::Pipeline>>(
        _: &mut (),
        _: &LeaderView<'_, R::State, NoneState>,
        facts: Vec<Nothing>,
        _: &mut Output<M, F>,
    ) {
        assert!(facts.is_empty(), "the pipeline \"none\" has no facts");
    }

    fn on_leadership_lost(_: &mut ()) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dfs::{Operation, OperationKind};
    use crate::replica::{PipelineTag, WriteHooks};

    fn an_operation() -> Operation {
        Operation::DropTable { db: "dfs://db".into(), table: "t".into() }
    }

    #[test]
    fn the_hooks_refuse_capture_and_follow_nothing() {
        let mut state = NoneState::default();
        let op = an_operation();
        assert_eq!(state.refusal(&op, None), None);
        assert_eq!(state.refusal(&op, Some(7)), None);
        assert!(!state.captures(&op));
        assert!(!state.keeps_write_data(OperationKind::APPEND));
        assert!(!state.follows(PipelineTag { captured: true, applies: None }));
        let mut facts = Vec::new();
        assert!(state.on_commit_decision(7, 1, &mut facts));
        assert!(facts.is_empty());
    }

    #[test]
    fn with_sequoiadb_it_owns_no_timer_and_reports_nothing() {
        use crate::replica::sequoiadb::SequoiaDb;
        type P = NonePipeline;
        assert_eq!(<P as Pipeline<SequoiaDb>>::NAME, "none");
        assert_eq!(<P as Pipeline<SequoiaDb>>::new_state(()), NoneState::default());
        assert_eq!(<P as Pipeline<SequoiaDb>>::snapshot_fact(&NoneState::default()), None);
        assert!((0..=u32::from(u16::MAX)).all(|key| !<P as Pipeline<SequoiaDb>>::owns_timer(key)));
    }

    #[test]
    fn the_state_encodes_to_nothing_and_back() {
        let bytes = postcard::to_allocvec(&NoneState::default()).expect("encodes");
        assert!(bytes.is_empty(), "a unit state takes no bytes");
        assert_eq!(postcard::from_bytes::<NoneState>(&bytes).expect("decodes"), NoneState::default());
        assert!(postcard::from_bytes::<Nothing>(&[0]).is_err(), "no command can be decoded");
    }
}

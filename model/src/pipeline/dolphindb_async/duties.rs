//! The pipeline as the deployment composes it: `DolphinAsync` on 2PC clusters. Its replicated state
//! is `ClusterRepl` (master send queue, slave task table, or nothing), its leader duties are
//! `leader.rs`, and the management calls made on controllers and forwarded by master data nodes
//! are answered here (status functions at once, the rest through Raft).

use super::ReplMessage;
use super::admin::NodeRole;
use super::leader::{ReplLeader, ReplLinks};
use super::master::MasterCommand;
use super::slave::SlaveCommand;
use super::{AdminCall, AdminError, AdminReply, AdminResult, ClusterRepl, DolphinAsync, NodeRequest, ReplCommand, ReplConfig, ReplFact};
use crate::core::io::{Carries, Millis, NodeId, Output, TimerKey, part};
use crate::pipeline::{CallOutcome, NodeRequestOutcome, Pipeline};
use crate::replica::LeaderView;
use crate::replica::dolphindb_2pc::{DfsState, Dolphin2pc};

/// The replication duties' timer.
pub const TIMER_REPL: TimerKey = 21;
const REPL_TICK_MS: Millis = 50;

/// A controller's replication side: its links across clusters and the leader's duties.
#[derive(Debug)]
pub struct ReplDuties {
    links: ReplLinks,
    leader: ReplLeader,
}

type View<'a> = LeaderView<'a, DfsState, ClusterRepl>;

fn not_leader(hint: Option<NodeId>) -> AdminError {
    let hint = hint.map_or("unknown".to_string(), |l| format!("node {l}"));
    AdminError::new(AdminError::UNAVAILABLE, format!("this controller is not the leader (leader: {hint})"))
}

impl Pipeline<Dolphin2pc> for DolphinAsync {
    const NAME: &'static str = "dolphindb-async";
    type Config = ReplConfig;
    type State = ClusterRepl;
    type Command = ReplCommand;
    type Duties = ReplDuties;
    type DutiesConfig = ReplLinks;

    fn new_state(config: ReplConfig) -> ClusterRepl {
        ClusterRepl::new(config)
    }

    fn new_duties(links: ReplLinks) -> ReplDuties {
        ReplDuties { links, leader: ReplLeader::default() }
    }

    fn apply(state: &mut ClusterRepl, cmd: &ReplCommand, replica: &DfsState) -> (AdminResult, Vec<ReplFact>) {
        let (result, facts) = match (state, cmd) {
            (ClusterRepl::Master(m), ReplCommand::Master(c)) => m.apply(c, replica),
            (ClusterRepl::Slave(s), ReplCommand::Slave(c)) => s.apply(c),
            _ => (Err(AdminError::new(AdminError::WRONG_ROLE, "this cluster does not play that part in replication")), Vec::new()),
        };
        (result.map(|_| AdminReply::Done), facts)
    }

    fn snapshot_fact(state: &ClusterRepl) -> Option<ReplFact> {
        state.snapshot_fact()
    }

    fn node_reply(answer: AdminResult) -> AdminResult {
        answer
    }

    fn leadership_lost_answer() -> AdminResult {
        Err(AdminError::new(AdminError::UNAVAILABLE, "leadership lost before the call was committed; it may or may not have taken effect"))
    }

    fn not_leader_answer(hint: Option<NodeId>) -> AdminResult {
        Err(not_leader(hint))
    }

    fn no_part_answer(call: &AdminCall) -> AdminResult {
        Err(AdminError::new(AdminError::WRONG_ROLE, format!("{} cannot be called on a client", call.name())))
    }

    fn owns_timer(key: TimerKey) -> bool {
        key == TIMER_REPL
    }

    fn start<M: Carries<ReplMessage, part::Pipeline>, F: Carries<ReplFact, part::Pipeline>>(
        _: &mut ReplDuties,
        state: &ClusterRepl,
        out: &mut Output<M, F>,
    ) {
        if *state != ClusterRepl::None {
            out.set_timer(TIMER_REPL, REPL_TICK_MS);
        }
    }

    fn on_timer<M: Carries<ReplMessage, part::Pipeline>, F: Carries<ReplFact, part::Pipeline>>(
        duties: &mut ReplDuties,
        view: &View<'_>,
        _: TimerKey,
        out: &mut Output<M, F>,
    ) -> Vec<ReplCommand> {
        out.set_timer(TIMER_REPL, REPL_TICK_MS);
        if !view.is_leader {
            return Vec::new();
        }
        duties.leader.tick(view.now, &duties.links, view.members, view.pipeline, out)
    }

    fn on_message<M: Carries<ReplMessage, part::Pipeline>, F: Carries<ReplFact, part::Pipeline>>(
        duties: &mut ReplDuties,
        view: &View<'_>,
        from: NodeId,
        msg: ReplMessage,
        out: &mut Output<M, F>,
    ) -> Vec<ReplCommand> {
        duties.leader.on_message(view.now, from, msg, &duties.links, view.pipeline, view.is_leader, view.leader_hint, out)
    }

    fn on_node_request(
        _: &mut ReplDuties,
        view: &View<'_>,
        _: NodeId,
        request: NodeRequest,
    ) -> NodeRequestOutcome<ReplCommand, AdminResult> {
        match request {
            NodeRequest::TaskFailed { task, reason } => {
                NodeRequestOutcome::Propose(ReplCommand::Slave(SlaveCommand::Failed { task, reason, now_ms: view.now }))
            }
            NodeRequest::Call { call } => node_call(view, call),
        }
    }

    fn on_beat<M: Carries<ReplMessage, part::Pipeline>, F: Carries<ReplFact, part::Pipeline>>(
        duties: &mut ReplDuties,
        view: &View<'_>,
        from: NodeId,
        beat: Vec<u64>,
        out: &mut Output<M, F>,
    ) {
        if !beat.is_empty() {
            duties.leader.on_task_data_listed(view.now, from, &beat, view.pipeline, view.replica, out);
        }
    }

    fn on_call(duties: &mut ReplDuties, view: &View<'_>, call: &AdminCall) -> CallOutcome<ReplCommand, AdminResult> {
        if let Some(result) = call_now(duties, view, call) {
            return CallOutcome::Answer(result);
        }
        let cmd = match (view.pipeline, call) {
            (ClusterRepl::Master(_), AdminCall::StartClusterReplication) => ReplCommand::Master(MasterCommand::Start),
            (ClusterRepl::Master(_), AdminCall::StopClusterReplication) => ReplCommand::Master(MasterCommand::Stop),
            (ClusterRepl::Slave(_), AdminCall::StartClusterReplication) => ReplCommand::Slave(SlaveCommand::Start),
            (ClusterRepl::Slave(_), AdminCall::StopClusterReplication) => ReplCommand::Slave(SlaveCommand::Stop),
            (ClusterRepl::Slave(_), AdminCall::SkipClusterReplicationTask { tasks }) => {
                ReplCommand::Slave(SlaveCommand::Skip { tasks: tasks.clone(), now_ms: view.now })
            }
            _ => unreachable!("call_now answers every other call"),
        };
        CallOutcome::Propose(cmd)
    }

    fn on_applied<M: Carries<ReplMessage, part::Pipeline>, F: Carries<ReplFact, part::Pipeline>>(
        duties: &mut ReplDuties,
        view: &View<'_>,
        facts: Vec<ReplFact>,
        out: &mut Output<M, F>,
    ) {
        if facts.is_empty() {
            return;
        }
        duties.leader.on_applied(&facts, view.pipeline, view.is_leader, out);
        if view.is_leader && facts.iter().any(|f| matches!(f, ReplFact::TaskFinished { .. })) {
            // A finished task may open the next group of its queue: dispatch without waiting for
            // the next tick.
            out.set_timer(TIMER_REPL, 1);
        }
        for f in facts {
            out.fact_pipeline(f);
        }
    }

    fn on_leadership_lost(duties: &mut ReplDuties) {
        duties.leader.reset();
    }
}

/// The answer to a call made on a controller that needs no Raft round (a status function, or an
/// error), if any.
fn call_now(duties: &ReplDuties, view: &View<'_>, call: &AdminCall) -> Option<AdminResult> {
    if let Err(e) = call.check_role(view.pipeline.controller_role()) {
        return Some(Err(e));
    }
    if !view.is_leader {
        return Some(Err(not_leader(view.leader_hint)));
    }
    let reply = match (view.pipeline, call) {
        (ClusterRepl::Master(m), AdminCall::GetMasterReplicationStatus { limit }) => {
            AdminReply::MasterTasks(m.task_status(limit.map(|l| l as usize)))
        }
        (ClusterRepl::Master(m), AdminCall::GetRecentSlaveReplicationInfo) => AdminReply::Slaves(m.slave_info(duties.leader.last_pulls())),
        (ClusterRepl::Slave(s), AdminCall::GetSlaveReplicationStatus { limit }) => {
            AdminReply::SlaveTasks(s.task_status(limit.map(|l| l as usize)))
        }
        (ClusterRepl::Slave(s), AdminCall::GetSlaveReplicationQueueStatus) => AdminReply::Queues(s.queue_status()),
        _ => return None,
    };
    Some(Ok(reply))
}

/// A management call forwarded by a data node (of the master cluster, where such calls belong).
fn node_call(view: &View<'_>, call: AdminCall) -> NodeRequestOutcome<ReplCommand, AdminResult> {
    let answer = |result: AdminResult| NodeRequestOutcome::Answer(Ok(result));
    if !view.is_leader {
        return NodeRequestOutcome::Answer(Err(view.leader_hint));
    }
    let Some(m) = view.pipeline.master() else {
        return answer(Err(AdminError::new(
            AdminError::WRONG_ROLE,
            format!("{} can only be called on a data node of the master cluster", call.name()),
        )));
    };
    let cmd = match call {
        AdminCall::GetDatabaseClusterReplicationStatus => return answer(Ok(AdminReply::Databases(m.database_status(view.replica)))),
        AdminCall::SetDatabaseForClusterReplication { db, enabled } => MasterCommand::SetDatabase { db, enabled },
        AdminCall::SetDatabaseClusterReplicationExecutionSet { db, set } => match u8::try_from(set) {
            Ok(set @ (0 | 1)) => MasterCommand::SetExecutionSet { db, set },
            _ => return answer(Err(AdminError::bad_exec_set(set))),
        },
        other => return answer(other.check_role(NodeRole::MasterDataNode).map(|_| AdminReply::Done)),
    };
    NodeRequestOutcome::Propose(ReplCommand::Master(cmd))
}

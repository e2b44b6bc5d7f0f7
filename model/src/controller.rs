//! The controller role: one member of a cluster's Raft group, serving the metadata map.
//!
//! Only the leader serves clients; a follower redirects them. A request is answered once its entry is
//! applied, from the applied output, so a client never hears "ok" for something that is not committed.

use std::collections::BTreeMap;

use crate::io::{DiskCompletion, DiskView, NodeId, Output, TimerKey};
use crate::message::{ClientOp, ClientReply, Message};
use crate::metadata::{MetadataCommand, MetadataState};
use crate::raft::{Raft, RaftConfig, RaftMessage, RecoveryError};

/// Bugs of the controller that can be switched on to prove the checkers. All off in a real run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerBugs {
    /// Answer "ok" as soon as a request is in the leader's log, before it is committed.
    pub ack_on_propose: bool,
}

/// A controller.
#[derive(Debug)]
pub struct Controller {
    raft: Raft<MetadataState>,
    bugs: ControllerBugs,
    /// Requests proposed by this leader, by log index, waiting to be applied.
    waiting: BTreeMap<u64, (NodeId, u32, u64)>,
}

impl Controller {
    /// Rebuilds a controller from its disk (an empty disk gives a fresh member).
    pub fn recover(config: RaftConfig, bugs: ControllerBugs, disk: &dyn DiskView, entropy: u64) -> Result<Self, RecoveryError> {
        let raft = Raft::recover(config, MetadataState::default(), disk, entropy)?;
        Ok(Self { raft, bugs, waiting: BTreeMap::new() })
    }

    /// The Raft member inside.
    pub fn raft(&self) -> &Raft<MetadataState> {
        &self.raft
    }

    /// Starts after a (re)boot.
    pub fn start(&mut self, out: &mut Output<Message>) {
        let mut raft_out = Output::default();
        self.raft.start(&mut raft_out);
        self.after_raft(raft_out, out);
    }

    /// Handles a message.
    pub fn on_message(&mut self, from: NodeId, msg: Message, out: &mut Output<Message>) {
        let mut raft_out = Output::default();
        match msg {
            Message::Raft(m) => self.raft.step(from, m, &mut raft_out),
            Message::ClientRequest { lane, seq, op } => {
                let ClientOp::Put { key, value } = op;
                let command = MetadataCommand::Put { session: (from, lane), seq, key, value };
                match self.raft.propose(command, &mut raft_out) {
                    Ok(index) if self.bugs.ack_on_propose => {
                        out.send(from, Message::ClientResponse { lane, seq, reply: ClientReply::Ok { index } })
                    }
                    Ok(index) => {
                        self.waiting.insert(index, (from, lane, seq));
                    }
                    Err(leader) => {
                        out.send(from, Message::ClientResponse { lane, seq, reply: ClientReply::NotLeader { leader } })
                    }
                }
            }
            Message::ClientResponse { .. } | Message::Control(_) => {}
        }
        self.after_raft(raft_out, out);
    }

    /// Handles a timer.
    pub fn on_timer(&mut self, key: TimerKey, out: &mut Output<Message>) {
        let mut raft_out = Output::default();
        self.raft.on_timer(key, &mut raft_out);
        self.after_raft(raft_out, out);
    }

    /// Handles a disk completion.
    pub fn on_disk(&mut self, done: DiskCompletion, out: &mut Output<Message>) {
        let mut raft_out = Output::default();
        let token = done.token;
        let handled = self.raft.on_disk(done, &mut raft_out);
        assert!(handled, "controller got a disk completion it never asked for: {token:#x}");
        self.after_raft(raft_out, out);
    }

    fn after_raft(&mut self, mut raft_out: Output<RaftMessage<MetadataCommand>>, out: &mut Output<Message>) {
        raft_out.drain_into(out, Message::Raft);
        for applied in self.raft.take_applied() {
            let Some((client, lane, seq)) = self.waiting.remove(&applied.index) else { continue };
            // The entry at this index may be someone else's if leadership changed hands meanwhile.
            let ours = applied.output.as_ref().is_some_and(|o| o.session == (client, lane) && o.seq == seq);
            if ours {
                out.send(client, Message::ClientResponse { lane, seq, reply: ClientReply::Ok { index: applied.index } });
            }
        }
        if !self.raft.is_leader() {
            // Proposals of a deposed leader may never apply; clients time out and retry elsewhere.
            self.waiting.clear();
        }
    }
}

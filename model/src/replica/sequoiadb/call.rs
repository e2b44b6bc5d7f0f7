//! Management calls of the SequoiaDB design: membership and weight changes go to a controller and
//! become catalog commands; a forced step-down goes to the group's primary data node.

use super::types::GroupId;
use crate::core::io::NodeId;

/// A management call of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqCall {
    /// Adds `node` to `group` (a controller; `sdb.getRG(..).createNode`).
    AddNode { group: GroupId, node: NodeId },
    /// Removes `node` from `group` (a controller; `removeNode`).
    RemoveNode { group: GroupId, node: NodeId },
    /// Changes `node`'s election weight (a controller; the node's `weight` option).
    SetWeight { group: GroupId, node: NodeId, weight: u8 },
    /// Forces the primary of `group` to step down (made on that data node; `stepDown`).
    StepDown { group: GroupId },
}

/// A management call's answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SeqCallResult {
    /// Done.
    Done,
    /// Refused: the catalog does not allow it (why).
    Refused(String),
    /// The controller asked does not lead (the leader it knows of).
    NotLeader(Option<NodeId>),
    /// The controller lost its leadership before the change was applied: it may or may not be.
    LeadershipLost,
    /// The node asked cannot take this call (a step-down made on a controller or a client, a
    /// membership change made on a data node).
    NoPart,
    /// A step-down made on a node that is not its group's primary.
    NotPrimary,
}

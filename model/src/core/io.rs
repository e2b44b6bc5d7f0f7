//! The contract between a role and the host that runs it.
//!
//! A role never does I/O. It is handed an [`Input`] together with the node's local time, and answers
//! by filling an [`Output`]: messages to send, disk requests, timers, facts for the checkers. The host
//! (in `sim/`) carries the outputs out and later feeds back what happened (a message, a timer firing,
//! a disk completion). On a restart the role is rebuilt from what its disk holds, through [`DiskView`].

use serde::{Deserialize, Serialize};

/// Identifies a node of the deployment (controller, data node or client), dense from 0.
pub type NodeId = u32;

/// Milliseconds, on the clock of the node that reads it.
pub type Millis = u64;

/// Names one of a role's timers. Setting a timer that is already set moves it.
pub type TimerKey = u32;

/// Chosen by the role to match a disk completion with its request.
pub type IoToken = u64;

/// What the host hands to a role: `M` is the deployment's message type, `C` its management call.
#[derive(Debug)]
pub enum Input<M, C> {
    /// A message from another node.
    Message { from: NodeId, msg: M },
    /// A timer set earlier fired.
    Timer(TimerKey),
    /// A disk request finished.
    Disk(DiskCompletion),
    /// An operator's management call (answered by an `Admin` fact carrying `call_id`).
    Admin { call_id: u64, call: C },
}

/// One disk request. Requests of one node execute one at a time in the order they were issued; a
/// request takes effect when it completes (a crash drops every request not yet completed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiskRequest {
    /// Echoed in the completion.
    pub token: IoToken,
    /// What to do.
    pub op: DiskOp,
    /// Whether a successful completion comes back as an input. A failed one always does. A role
    /// that issues a write and then an fsync waits for the fsync alone (as `write(2)` returns before
    /// the `fsync(2)` that makes it durable); sparing it the write's completion saves a step.
    pub report_success: bool,
}

/// A file-system operation on the node's own disk. Paths are flat names such as `raft/wal`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DiskOp {
    /// Appends bytes at the end of the file, creating it if missing.
    Append { path: String, data: Vec<u8> },
    /// Writes the whole file anew (create or replace its content).
    WriteAll { path: String, data: Vec<u8> },
    /// Makes every completed write of this file durable.
    Fsync { path: String },
    /// Atomically renames `from` to `to`, replacing `to`; durable once completed.
    Rename { from: String, to: String },
    /// Removes the file if present; durable once completed.
    Remove { path: String },
    /// Reads the whole file.
    Read { path: String },
}

impl DiskOp {
    /// The file the operation acts on (the source, for a rename).
    pub fn path(&self) -> &str {
        match self {
            DiskOp::Append { path, .. }
            | DiskOp::WriteAll { path, .. }
            | DiskOp::Fsync { path }
            | DiskOp::Remove { path }
            | DiskOp::Read { path } => path,
            DiskOp::Rename { from, .. } => from,
        }
    }
}

/// Why a disk request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DiskError {
    /// No space left on the device (ENOSPC).
    NoSpace,
    /// The device returned an I/O error (EIO).
    Io,
    /// The file does not exist.
    NotFound,
}

/// The answer to one [`DiskRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskCompletion {
    /// The request's token.
    pub token: IoToken,
    /// `Ok(Some(bytes))` for a read, `Ok(None)` for anything else that worked.
    pub result: Result<Option<Vec<u8>>, DiskError>,
}

/// Why durable state could not be read back. The member must not run on a guess: it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryError {
    /// The device failed a read.
    Disk(DiskError),
    /// A checksum caught corrupt bytes in a synced region of `path`.
    Corrupt { path: &'static str, offset: usize, reason: String },
}

impl std::fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoveryError::Disk(e) => write!(f, "disk error while recovering: {e:?}"),
            RecoveryError::Corrupt { path, offset, reason } => write!(f, "{path} corrupt at byte {offset}: {reason}"),
        }
    }
}

/// Read access to a node's disk while the role is rebuilt after a (re)start.
pub trait DiskView {
    /// The content of `path`, `Ok(None)` if it does not exist.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, DiskError>;
    /// Every existing path that starts with `prefix`, in sorted order.
    fn list(&self, prefix: &str) -> Vec<String>;
}

/// Which part of a role emitted a message or a fact. A deployment wraps each part's types into its
/// own ([`Carries`]); the marker keeps the wrappings apart, since as far as the compiler can tell a
/// replica protocol's message type and a pipeline's might be one and the same.
pub mod part {
    /// The replica protocol.
    #[derive(Debug)]
    pub enum Replica {}
    /// The pipeline.
    #[derive(Debug)]
    pub enum Pipeline {}
    /// A management call's answer (a pipeline's call).
    #[derive(Debug)]
    pub enum Answer {}
    /// The answer to a management call of the replica protocol.
    #[derive(Debug)]
    pub enum ReplicaAnswer {}
}

/// A deployment type that carries what one part of a role (`Part`: a marker of [`part`]) emits as
/// a `T`.
pub trait Carries<T, Part> {
    /// Wraps `t`.
    fn carry(t: T) -> Self;
}

/// Everything a role asks the host to do in answer to one input: `M` is the message type it sends,
/// `F` the fact type it reports. A protocol inside a role writes into the role's output through
/// `Into` (its messages and facts convert into the deployment's), so that what several protocols
/// emit in one step stays in the order they emitted it.
#[derive(Debug)]
pub struct Output<M, F> {
    /// Messages to send, in order.
    pub sends: Vec<(NodeId, M)>,
    /// Disk requests, in order.
    pub disk: Vec<DiskRequest>,
    /// Timers to set (`Some(delay)`, replacing an earlier setting) or cancel (`None`).
    pub timers: Vec<(TimerKey, Option<Millis>)>,
    /// Facts for the checkers.
    pub facts: Vec<F>,
    /// The role stops: its process exits (fail-stop) with this reason.
    pub halt: Option<String>,
}

impl<M, F> Default for Output<M, F> {
    fn default() -> Self {
        Self { sends: Vec::new(), disk: Vec::new(), timers: Vec::new(), facts: Vec::new(), halt: None }
    }
}

impl<M, F> Output<M, F> {
    /// Queues a message.
    pub fn send(&mut self, to: NodeId, msg: impl Into<M>) {
        self.sends.push((to, msg.into()));
    }

    /// Queues a message of the role's replica protocol.
    pub fn send_replica<T>(&mut self, to: NodeId, msg: T)
    where
        M: Carries<T, part::Replica>,
    {
        self.sends.push((to, M::carry(msg)));
    }

    /// Queues a message of the role's pipeline.
    pub fn send_pipeline<T>(&mut self, to: NodeId, msg: T)
    where
        M: Carries<T, part::Pipeline>,
    {
        self.sends.push((to, M::carry(msg)));
    }

    /// Records a fact of the role's replica protocol.
    pub fn fact_replica<T>(&mut self, fact: T)
    where
        F: Carries<T, part::Replica>,
    {
        self.facts.push(F::carry(fact));
    }

    /// Records a fact of the role's pipeline.
    pub fn fact_pipeline<T>(&mut self, fact: T)
    where
        F: Carries<T, part::Pipeline>,
    {
        self.facts.push(F::carry(fact));
    }

    /// Records the answer to a management call of the pipeline.
    pub fn fact_answer<T>(&mut self, answer: T)
    where
        F: Carries<T, part::Answer>,
    {
        self.facts.push(F::carry(answer));
    }

    /// Records the answer to a management call of the replica protocol.
    pub fn fact_replica_answer<T>(&mut self, answer: T)
    where
        F: Carries<T, part::ReplicaAnswer>,
    {
        self.facts.push(F::carry(answer));
    }

    /// Sets (or moves) a timer.
    pub fn set_timer(&mut self, key: TimerKey, delay: Millis) {
        self.timers.push((key, Some(delay)));
    }

    /// Cancels a timer if set.
    pub fn cancel_timer(&mut self, key: TimerKey) {
        self.timers.push((key, None));
    }

    /// Records a fact for the checkers.
    pub fn fact(&mut self, fact: impl Into<F>) {
        self.facts.push(fact.into());
    }

    /// Queues a disk request.
    pub fn disk(&mut self, token: IoToken, op: DiskOp) {
        self.disk.push(DiskRequest { token, op, report_success: true });
    }

    /// Queues a disk request whose completion comes back only if it fails: for a request that a
    /// later, reported one (an fsync, a rename) follows in the node's disk queue.
    pub fn disk_unreported(&mut self, token: IoToken, op: DiskOp) {
        self.disk.push(DiskRequest { token, op, report_success: false });
    }

    /// Queues `ops` in order, each with a fresh token from `token`; only the last one reports
    /// success, and its token is returned (`None` for no ops). Once that completes, all are done.
    pub fn disk_chain(&mut self, ops: Vec<DiskOp>, mut token: impl FnMut() -> IoToken) -> Option<IoToken> {
        let count = ops.len();
        let mut last = None;
        for (i, op) in ops.into_iter().enumerate() {
            let t = token();
            if i + 1 < count {
                self.disk_unreported(t, op);
            } else {
                self.disk(t, op);
                last = Some(t);
            }
        }
        last
    }

    /// Fail-stop: the role cannot go on safely.
    pub fn halt(&mut self, reason: impl Into<String>) {
        if self.halt.is_none() {
            self.halt = Some(reason.into());
        }
    }

    /// Moves everything into `outer`, wrapping each message with `wrap` and each fact with `Into`.
    pub fn drain_into<N, G: From<F>>(&mut self, outer: &mut Output<N, G>, wrap: impl Fn(M) -> N) {
        outer.sends.extend(self.sends.drain(..).map(|(to, m)| (to, wrap(m))));
        move_all(&mut self.disk, &mut outer.disk);
        move_all(&mut self.timers, &mut outer.timers);
        outer.facts.extend(self.facts.drain(..).map(G::from));
        if let Some(reason) = self.halt.take() {
            outer.halt(reason);
        }
    }
}

/// Moves every element of `from` to the end of `to`, in order: by handing over the buffer when `to`
/// is empty (the usual case: a layer's output drained into a fresh outer one), with no allocation.
fn move_all<T>(from: &mut Vec<T>, to: &mut Vec<T>) {
    if to.is_empty() {
        std::mem::swap(from, to);
    } else {
        to.append(from);
    }
}

/// An in-memory [`DiskView`] for unit tests of roles.
#[derive(Debug, Default, Clone)]
pub struct MemoryDisk {
    /// Path -> content.
    pub files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl MemoryDisk {
    /// Applies completed requests the way the simulated disk does without faults, returning
    /// completions (reads answered from the current content).
    pub fn apply(&mut self, requests: &[DiskRequest]) -> Vec<DiskCompletion> {
        requests
            .iter()
            .map(|r| {
                let result = match &r.op {
                    DiskOp::Append { path, data } => {
                        self.files.entry(path.clone()).or_default().extend_from_slice(data);
                        Ok(None)
                    }
                    DiskOp::WriteAll { path, data } => {
                        self.files.insert(path.clone(), data.clone());
                        Ok(None)
                    }
                    DiskOp::Fsync { .. } => Ok(None),
                    DiskOp::Rename { from, to } => match self.files.remove(from) {
                        Some(data) => {
                            self.files.insert(to.clone(), data);
                            Ok(None)
                        }
                        None => Err(DiskError::NotFound),
                    },
                    DiskOp::Remove { path } => {
                        self.files.remove(path);
                        Ok(None)
                    }
                    DiskOp::Read { path } => self.files.get(path).cloned().map(Some).ok_or(DiskError::NotFound),
                };
                DiskCompletion { token: r.token, result }
            })
            .collect()
    }
}

impl DiskView for MemoryDisk {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, DiskError> {
        Ok(self.files.get(path).cloned())
    }

    fn list(&self, prefix: &str) -> Vec<String> {
        self.files.keys().filter(|p| p.starts_with(prefix)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_chain_reports_only_its_last_request() {
        let mut out: Output<(), ()> = Output::default();
        let mut next = 10;
        let ops = vec![
            DiskOp::Append { path: "f".into(), data: vec![1] },
            DiskOp::Fsync { path: "f".into() },
            DiskOp::Remove { path: "g".into() },
        ];
        let last = out.disk_chain(ops, || {
            next += 1;
            next
        });
        assert_eq!(last, Some(13));
        let flags: Vec<(IoToken, bool)> = out.disk.iter().map(|r| (r.token, r.report_success)).collect();
        assert_eq!(flags, [(11, false), (12, false), (13, true)]);
        assert_eq!(out.disk_chain(Vec::new(), || unreachable!("no request, no token")), None);
    }
}

//! Queries: a data node runs the selects clients send it. It asks the controller leader for a read
//! plan (a readable cid and, per chunk, the version at it and the complete replicas), reads each
//! chunk's version from one replica (itself first, if it holds one), tries the next replica when
//! one cannot serve that version or does not answer, plans again when none can, and answers the
//! client with the rows at the snapshot. As a replica it serves a version it holds: its current
//! one, or one of the older versions it keeps for readers (MVCC); never a prepared change.

use std::collections::{BTreeMap, VecDeque};

use super::{DataNode, Purpose, send};
use crate::core::io::{Millis, NodeId, Output};
use crate::dfs::{ChunkData, Condition, ErrorCode, OpError, Row, SharedQuery};
use crate::replica::dolphindb_2pc::guest::{Carry, Guest2pc, Report};
use crate::replica::dolphindb_2pc::message::{DfsMessage, DfsRequest};
use crate::replica::dolphindb_2pc::state::{ChunkId, Cid, DfsOutput, ReadAnswer, ReadPlan};

/// Older committed versions a replica keeps in memory for queries that read them (DolphinDB
/// keeps 5); a restart keeps only the current one.
pub(super) const OLD_VERSIONS_KEPT: usize = 5;
/// A query waiting for a readable snapshot, or whose replicas could not serve, asks again after this.
const REPLAN_MS: Millis = 50;

/// One chunk of a query being read.
#[derive(Debug, Clone)]
struct ChunkProgress {
    version: Cid,
    /// Replicas not tried yet, in the plan's order.
    untried: VecDeque<NodeId>,
    /// The replica asked, and when.
    asked: Option<(NodeId, Millis)>,
    /// Its rows, once read.
    rows: Option<Vec<Row>>,
}

#[derive(Debug, Clone)]
enum ReadPhase {
    /// Waiting for the plan; with `Some(at)`, asking again at `at`.
    Planning {
        again_at: Option<Millis>,
    },
    Reading {
        snapshot: Cid,
        condition: Option<Condition>,
        chunks: BTreeMap<ChunkId, ChunkProgress>,
    },
}

/// A query this node runs for a client.
#[derive(Debug, Clone)]
pub(super) struct ReadOp {
    client: NodeId,
    op_id: u64,
    query: SharedQuery,
    floor: Cid,
    /// Without an answer by then, the query fails Unavailable.
    deadline: Millis,
    phase: ReadPhase,
}

impl<P: Guest2pc, M: Carry<P>, F: Report<P>> DataNode<P, M, F> {
    pub(super) fn on_query(&mut self, now: Millis, client: NodeId, op_id: u64, query: SharedQuery, floor: Cid, out: &mut Output<M, F>) {
        if self.reads.values().any(|r| r.client == client && r.op_id == op_id) {
            return; // a copy of a query under way
        }
        let key = self.next_read;
        self.next_read += 1;
        let deadline = now + self.config.begin_timeout_ms;
        let op = ReadOp { client, op_id, query, floor, deadline, phase: ReadPhase::Planning { again_at: None } };
        assert!(self.reads.insert(key, op).is_none(), "read key {key} reused");
        self.ask_plan(now, key, out);
    }

    fn ask_plan(&mut self, now: Millis, key: u64, out: &mut Output<M, F>) {
        let r = self.reads.get_mut(&key).expect("read");
        r.phase = ReadPhase::Planning { again_at: None };
        let request = DfsRequest::ReadPlan { query: r.query.clone(), floor: r.floor };
        self.request(now, request, Purpose::Read(key), out);
    }

    pub(super) fn on_read_plan(&mut self, now: Millis, key: u64, output: DfsOutput<P>, out: &mut Output<M, F>) {
        let Some(r) = self.reads.get_mut(&key) else { return };
        assert!(matches!(r.phase, ReadPhase::Planning { again_at: None }), "a plan answered while {:?}", r.phase);
        match output {
            DfsOutput::Read(ReadAnswer::Plan(plan)) => {
                // The floor is the session's: a plan below it would read older than what it saw.
                assert!(self.config.bugs.any() || plan.snapshot >= r.floor, "snapshot {} below floor {}", plan.snapshot, r.floor);
                self.start_reading(now, key, plan, out);
            }
            DfsOutput::Read(ReadAnswer::Later(_)) => r.phase = ReadPhase::Planning { again_at: Some(now + REPLAN_MS) },
            DfsOutput::Read(ReadAnswer::Refused(e)) => self.answer_query(key, Err(e), out),
            other => panic!("a read plan answered with {other:?}"),
        }
    }

    fn start_reading(&mut self, now: Millis, key: u64, plan: ReadPlan, out: &mut Output<M, F>) {
        let me = self.id;
        let chunks = plan
            .chunks
            .into_iter()
            .map(|c| {
                // Read locally when this node holds a replica.
                let mut untried: VecDeque<NodeId> = c.replicas.iter().copied().filter(|n| *n != me).collect();
                if c.replicas.contains(&me) {
                    untried.push_front(me);
                }
                (c.chunk, ChunkProgress { version: c.version, untried, asked: None, rows: None })
            })
            .collect();
        let r = self.reads.get_mut(&key).expect("read");
        r.phase = ReadPhase::Reading { snapshot: plan.snapshot, condition: plan.condition, chunks };
        let all: Vec<ChunkId> = match &r.phase {
            ReadPhase::Reading { chunks, .. } => chunks.keys().copied().collect(),
            ReadPhase::Planning { .. } => unreachable!("just set"),
        };
        for chunk in all {
            self.read_next_replica(now, key, chunk, out);
        }
        self.answer_if_read(key, out);
    }

    /// Asks the next untried replica of `chunk` (itself at once); plans again when none is left.
    fn read_next_replica(&mut self, now: Millis, key: u64, chunk: ChunkId, out: &mut Output<M, F>) {
        loop {
            let Some(r) = self.reads.get_mut(&key) else { return };
            let ReadPhase::Reading { condition, chunks, .. } = &mut r.phase else { return };
            let condition = condition.clone();
            let progress = chunks.get_mut(&chunk).expect("a chunk of the plan");
            let version = progress.version;
            let Some(node) = progress.untried.pop_front() else {
                crate::mark!("dfs.read_replanned");
                r.phase = ReadPhase::Planning { again_at: Some(now + REPLAN_MS) };
                return;
            };
            if progress.asked.is_some() {
                crate::mark!("dfs.read_retried_on_another_replica");
            }
            progress.asked = Some((node, now));
            if node != self.id {
                send(out, node, DfsMessage::ReadChunk { read: key, chunk, version, condition });
                return;
            }
            if let Some(rows) = self.serve(chunk, version, condition.as_ref()) {
                self.chunk_read(key, chunk, rows);
                return;
            }
        }
    }

    fn chunk_read(&mut self, key: u64, chunk: ChunkId, rows: Vec<Row>) {
        let Some(ReadPhase::Reading { chunks, .. }) = self.reads.get_mut(&key).map(|r| &mut r.phase) else { return };
        let progress = chunks.get_mut(&chunk).expect("a chunk of the plan");
        assert!(progress.rows.is_none(), "chunk {chunk} read twice");
        progress.rows = Some(rows);
    }

    /// A replica's answer to a chunk read.
    pub(super) fn on_chunk_rows(
        &mut self,
        now: Millis,
        from: NodeId,
        key: u64,
        chunk: ChunkId,
        rows: Option<Vec<Row>>,
        out: &mut Output<M, F>,
    ) {
        // Only the answer of the replica asked last counts (a late one was given up on).
        let awaited = |p: &ChunkProgress| p.rows.is_none() && p.asked.is_some_and(|(n, _)| n == from);
        let phase = self.reads.get(&key).map(|r| &r.phase);
        if !matches!(phase, Some(ReadPhase::Reading { chunks, .. }) if chunks.get(&chunk).is_some_and(awaited)) {
            return;
        }
        match rows {
            Some(rows) => self.chunk_read(key, chunk, rows),
            None => self.read_next_replica(now, key, chunk, out),
        }
        self.answer_if_read(key, out);
    }

    /// A replica asked for rows of a chunk: serve them if this node holds that version.
    pub(super) fn on_read_chunk(
        &mut self,
        from: NodeId,
        read: u64,
        chunk: ChunkId,
        version: Cid,
        condition: Option<Condition>,
        out: &mut Output<M, F>,
    ) {
        let rows = self.serve(chunk, version, condition.as_ref());
        send(out, from, DfsMessage::ChunkRows { read, chunk, rows });
    }

    /// The rows of `chunk` at `version` that `condition` selects, if this replica holds that
    /// version (its current one or a kept older one). A prepared change is not committed: never read.
    fn serve(&self, chunk: ChunkId, version: Cid, condition: Option<&Condition>) -> Option<Vec<Row>> {
        let r = self.replicas.get(&chunk)?;
        let bugs = &self.config.bugs;
        let data: &ChunkData = if r.version == version || bugs.read_any_version {
            &r.data
        } else if let Some((_, older)) = r.older.iter().find(|(v, _)| *v == version) {
            crate::mark!("dfs.read_from_older_version");
            older
        } else {
            crate::mark!("dfs.read_replica_without_version");
            return None;
        };
        let select = |rows: &[Row]| rows.iter().filter(|row| condition.is_none_or(|c| c.matches(row))).cloned().collect();
        if !r.prepared.is_empty() {
            crate::mark!("dfs.read_while_prepared");
            if bugs.read_uncommitted_version {
                let mut with_prepared = data.clone();
                r.prepared.iter().for_each(|p| with_prepared.apply(&p.delta));
                return Some(select(&with_prepared.rows));
            }
        }
        Some(select(&data.rows))
    }

    /// Answers the client once every chunk is read.
    fn answer_if_read(&mut self, key: u64, out: &mut Output<M, F>) {
        let Some(ReadPhase::Reading { snapshot, chunks, .. }) = self.reads.get(&key).map(|r| &r.phase) else { return };
        if chunks.values().any(|p| p.rows.is_none()) {
            return;
        }
        let snapshot = *snapshot;
        let rows = chunks.values().flat_map(|p| p.rows.iter().flatten().cloned()).collect();
        self.answer_query(key, Ok((snapshot, rows)), out);
    }

    fn answer_query(&mut self, key: u64, result: Result<(Cid, Vec<Row>), OpError>, out: &mut Output<M, F>) {
        let r = self.reads.remove(&key).expect("read");
        send(out, r.client, DfsMessage::QueryAnswer { op_id: r.op_id, result });
    }

    /// Queries past their deadline fail; plans are asked again when due; a replica silent past
    /// `request_retry_ms` is given up for the next.
    pub(super) fn tick_reads(&mut self, now: Millis, out: &mut Output<M, F>) {
        let keys: Vec<u64> = self.reads.keys().copied().collect();
        for key in keys {
            let r = &self.reads[&key];
            if now >= r.deadline {
                crate::mark!("dfs.read_unavailable_at_deadline");
                self.answer_query(key, Err(OpError::new(ErrorCode::Unavailable, "no readable snapshot in time")), out);
                continue;
            }
            match &r.phase {
                ReadPhase::Planning { again_at: Some(at) } if now >= *at => self.ask_plan(now, key, out),
                ReadPhase::Planning { .. } => {}
                ReadPhase::Reading { chunks, .. } => {
                    let silent: Vec<ChunkId> = chunks
                        .iter()
                        .filter(|(_, p)| p.rows.is_none() && p.asked.is_some_and(|(_, at)| now >= at + self.config.request_retry_ms))
                        .map(|(c, _)| *c)
                        .collect();
                    for chunk in silent {
                        self.read_next_replica(now, key, chunk, out);
                    }
                    self.answer_if_read(key, out);
                }
            }
        }
    }
}

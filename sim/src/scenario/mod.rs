//! Scenario files: one TOML file per named scenario (FoundationDB-style test specs as data).
//!
//! A scenario gives the cluster shape, the Raft settings, the workload, the network and disk
//! profiles, the faults (swarm settings and a fixed schedule), the liveness bound and how many seeds
//! CI runs. Bad input never panics: [`Scenario::parse`] names the file, the field and the reason.
//! A file may build on a base scenario and give only what differs (`inherit.rs`).
//!
//! # Neutral sections and design sections
//!
//! The sections defined in this file are design-neutral: they mean the same whatever designs the
//! scenario runs. They are `name`, `description`, `[run]`, `[cluster]` (the master's and the slave
//! clusters' shape, and `[cluster.replica] design`, the replica protocol every cluster runs),
//! `[pipeline] design` (the pipeline between the clusters), `[raft]`, `[workload]` (metadata-map
//! clients of the controllers), `[network]`, `[disk]`, `[clock]`, `[faults]`, `[planted_bugs]`
//! (one section, its groups belonging to parts of designs: see [`PlantedBugs`]) and `[expect]`.
//!
//! A design section configures one design and lives in that design's file here:
//! - `dolphindb_2pc.rs`, the replica protocol `dolphindb-2pc`: `[dfs]` (its protocol timing) and
//!   `[dfs_workload]` (DFS clients of the data nodes);
//! - `dolphindb_async.rs`, the pipeline `dolphindb-async`: `[replication]` and `[[calls]]`
//!   (management calls at fixed times);
//! - `sequoiadb.rs`, the replica protocol `sequoiadb-synclog`: `[sequoiadb]` (its replica groups
//!   and options) and `[sequoiadb_workload]` (coordinator sessions).
//!
//! Every section, neutral or not, has its defaults, so a file gives only the sections its designs
//! need. A new design adds its section with a file here (the section's type with
//! `#[serde(deny_unknown_fields)]` and its defaults, and a `validate(&self, scenario: &Scenario)
//! -> Result<(), (String, String)>` that returns the field's dotted path and the reason), one field
//! in [`Scenario`] (`#[serde(default)]`), and one line in `Scenario::validate`. A map whose keys
//! are data rather than fields (`dfs_workload.mix`) also goes on `inherit.rs`'s `REPLACED_WHOLE`;
//! a check that needs the topology goes to `crate::load`, as `[[calls]]`' does.
//!
//! `Scenario::validate` runs the sections' checks in a fixed order and stops at the first error;
//! the design sections' lines sit where their checks have always run, so a bad file's first error
//! does not depend on where the code lives.

mod dolphindb_2pc;
mod dolphindb_async;
mod inherit;
mod sequoiadb;

pub use dolphindb_2pc::{DfsSection, DfsWorkloadSection};
pub(crate) use dolphindb_async::validate_calls;
pub use dolphindb_async::{CallSpec, ReplicationSection, TaskSelection};
pub use sequoiadb::{CollectionSpec, SEQ_CALL_OUTCOMES, SEQUOIADB, SeqCallSpec, SequoiadbSection, SequoiadbWorkloadSection};

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::env::disk::DiskProfile;
use crate::env::net::LinkProfile;

use ccrsim_model::deployment::controller::ControllerBugs;
use ccrsim_model::pipeline::dolphindb_async::datanode::NodeReplBugs;
use ccrsim_model::pipeline::dolphindb_async::{MasterReplBugs, SlaveReplBugs};
use ccrsim_model::raft::RaftBugs;
use ccrsim_model::replica::dolphindb_2pc::controller::WatchBugs;
use ccrsim_model::replica::dolphindb_2pc::datanode::DataNodeBugs;
use ccrsim_model::replica::dolphindb_2pc::state::DfsStateBugs;
use ccrsim_model::replica::sequoiadb::SeqBugs;

/// A scenario error: which file, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or the embedded scenario's name).
    pub file: String,
    /// Dotted path of the field, or `-` when the file as a whole is wrong.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == "-" {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: field `{}`: {}", self.file, self.field, self.reason)
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, as used on the command line.
    pub name: String,
    /// What the scenario exercises.
    #[serde(default)]
    pub description: String,
    /// Phases and seed counts.
    pub run: RunSection,
    /// Shape of the clusters, and their replica protocol.
    pub cluster: ClusterSection,
    /// The pipeline between the clusters (`[pipeline] design`).
    #[serde(default = "DesignName::default_pipeline")]
    pub pipeline: DesignName,
    /// Raft settings of every controller group.
    #[serde(default)]
    pub raft: RaftSection,
    /// Clients of the controllers' metadata map.
    #[serde(default)]
    pub workload: WorkloadSection,
    /// Design section of `dolphindb-2pc`: clients of the DFS (they need data nodes).
    #[serde(default)]
    pub dfs_workload: DfsWorkloadSection,
    /// Design section of `dolphindb-2pc`: timing of the DFS protocol.
    #[serde(default)]
    pub dfs: DfsSection,
    /// Design section of `dolphindb-async`: replication from the master to the slaves (with
    /// `cluster.slave`).
    #[serde(default)]
    pub replication: ReplicationSection,
    /// Design section of `dolphindb-async`: management calls at fixed times.
    #[serde(default)]
    pub calls: Vec<CallSpec>,
    /// Design section of `sequoiadb-synclog`: the replica groups and their options.
    #[serde(default)]
    pub sequoiadb: SequoiadbSection,
    /// Design section of `sequoiadb-synclog`: coordinator sessions writing and reading documents.
    #[serde(default)]
    pub sequoiadb_workload: SequoiadbWorkloadSection,
    /// Link classes and partition semantics.
    #[serde(default)]
    pub network: NetworkSection,
    /// Every node's disk.
    #[serde(default = "default_disk")]
    pub disk: DiskProfile,
    /// Baseline clock error of every node.
    #[serde(default)]
    pub clock: ClockSection,
    /// What the nemesis does.
    #[serde(default)]
    pub faults: FaultsSection,
    /// Bugs planted on purpose to prove the checkers (never in a real scenario).
    #[serde(default)]
    pub planted_bugs: PlantedBugs,
    /// What a negative scenario expects to be caught.
    #[serde(default)]
    pub expect: ExpectSection,
}

/// Phases of a run and how many seeds to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Simulated seconds of the safety phase (faults on, workload running).
    pub safety_s: f64,
    /// After every fault is healed, the system must converge within this many simulated seconds.
    pub liveness_bound_s: f64,
    /// Seeds `cargo test` and CI run for this scenario.
    pub seeds_ci: u64,
    /// Seeds `ccrsim run` runs when `--seeds` is not given.
    #[serde(default = "default_seeds_cli")]
    pub seeds_default: u64,
}

fn default_seeds_cli() -> u64 {
    100
}

/// Which design a layer runs, by the name its folder registers (`design = "dolphindb-2pc"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignName {
    /// The design's name.
    pub design: String,
}

impl DesignName {
    /// The replica protocol of scenarios that name none: DolphinDB's 2PC.
    pub fn default_replica() -> Self {
        Self { design: "dolphindb-2pc".into() }
    }

    /// The pipeline of scenarios that name none: DolphinDB's asynchronous replication (a cluster
    /// without slaves takes no part in it).
    pub fn default_pipeline() -> Self {
        Self { design: "dolphindb-async".into() }
    }
}

/// The clusters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// The replica protocol every cluster runs (`[cluster.replica] design`).
    #[serde(default = "DesignName::default_replica")]
    pub replica: DesignName,
    /// The master cluster.
    pub master: ClusterShape,
    /// The slave clusters, if the scenario replicates.
    #[serde(default)]
    pub slave: Option<SlaveShape>,
}

/// One cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterShape {
    /// Members of the Raft controller group.
    pub controllers: u32,
    /// Data nodes (0: a controller group alone).
    #[serde(default)]
    pub data_nodes: u32,
    /// dfsReplicationFactor: replicas per chunk, and the fewest online data nodes that take writes.
    #[serde(default = "default_replication_factor")]
    pub replication_factor: u32,
    /// dfsReplicaReliabilityLevel: 0 any nodes, 1 distinct machines, 2 distinct machines if possible.
    #[serde(default = "default_reliability")]
    pub reliability_level: u8,
    /// Machines the data nodes run on (data node i on machine i mod machines); default one each.
    #[serde(default)]
    pub machines: Option<u32>,
}

fn default_replication_factor() -> u32 {
    2
}

fn default_reliability() -> u8 {
    1
}

/// The slave clusters (`slave0`, `slave1`, ...), all of one shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaveShape {
    /// How many slave clusters pull from the master.
    pub count: u32,
    /// Members of each slave's controller group.
    pub controllers: u32,
    /// Data nodes each slave starts with (the "original" count queues map onto).
    pub data_nodes: u32,
    /// Replicas per chunk in each slave.
    pub replication_factor: u32,
    /// dfsReplicaReliabilityLevel in each slave.
    pub reliability_level: u8,
    /// Machines each slave's data nodes run on (default one each).
    pub machines: Option<u32>,
    /// Data nodes added to each slave while it runs (they must never get tasks).
    pub added_data_nodes: u32,
    /// When the added data nodes join, in simulated seconds.
    pub added_at_s: f64,
}

impl Default for SlaveShape {
    fn default() -> Self {
        Self {
            count: 1,
            controllers: 3,
            data_nodes: 3,
            replication_factor: 2,
            reliability_level: 1,
            machines: None,
            added_data_nodes: 0,
            added_at_s: 0.0,
        }
    }
}

/// Raft settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftSection {
    /// Election timeout, uniform in `[min, max)` milliseconds.
    #[serde(deserialize_with = "crate::env::pair")]
    pub election_timeout_ms: [u64; 2],
    /// Leader heartbeat interval.
    pub heartbeat_ms: u64,
    /// At most this many entries per AppendEntries.
    pub max_entries_per_append: usize,
    /// Snapshot once this many applied entries are not in one.
    pub snapshot_threshold_entries: u64,
}

impl Default for RaftSection {
    fn default() -> Self {
        Self { election_timeout_ms: [300, 600], heartbeat_ms: 75, max_entries_per_append: 64, snapshot_threshold_entries: 256 }
    }
}

/// Clients that write fresh keys into the controllers' metadata map through Raft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSection {
    /// Client nodes (0: none).
    #[serde(default)]
    pub clients: u32,
    /// Sequential sessions per client (requests in flight per client).
    #[serde(default = "default_lanes")]
    pub lanes_per_client: u32,
    /// Proposals per simulated second, over all clients.
    #[serde(default)]
    pub proposals_per_s: f64,
    /// A client resends a request after this long without an answer.
    #[serde(default = "default_retry_ms")]
    pub retry_timeout_ms: u64,
}

impl Default for WorkloadSection {
    fn default() -> Self {
        Self { clients: 0, lanes_per_client: default_lanes(), proposals_per_s: 0.0, retry_timeout_ms: default_retry_ms() }
    }
}

fn default_lanes() -> u32 {
    2
}

fn default_retry_ms() -> u64 {
    500
}

/// The network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSection {
    /// Drop messages in flight on a link when a partition cuts it (else they still arrive).
    pub drop_in_flight_on_partition: bool,
    /// Links inside a cluster.
    pub lan: LinkProfile,
    /// Links between clusters.
    pub wan: LinkProfile,
    /// Links between clients and clusters.
    pub client: LinkProfile,
}

impl Default for NetworkSection {
    fn default() -> Self {
        Self {
            drop_in_flight_on_partition: true,
            lan: LinkProfile { latency_ms: [0.1, 1.0], loss: 0.005, duplicate: 0.002, reorder: 0.01, reorder_delay_ms_max: 5.0 },
            wan: LinkProfile { latency_ms: [20.0, 60.0], loss: 0.01, duplicate: 0.002, reorder: 0.02, reorder_delay_ms_max: 40.0 },
            client: LinkProfile { latency_ms: [0.2, 2.0], loss: 0.005, duplicate: 0.002, reorder: 0.01, reorder_delay_ms_max: 5.0 },
        }
    }
}

fn default_disk() -> DiskProfile {
    DiskProfile { capacity_mb: 256, write_latency_us: [10, 100], fsync_latency_us: [200, 2000] }
}

/// Baseline clock error, drawn per node at the start of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockSection {
    /// Skew uniform in `[-max, max]` milliseconds.
    pub skew_ms_max: u64,
    /// Drift uniform in `[-max, max]` parts per million.
    pub drift_ppm_max: u64,
}

impl Default for ClockSection {
    fn default() -> Self {
        Self { skew_ms_max: 500, drift_ppm_max: 200 }
    }
}

/// A kind of fault, as scenario files name them (`faults.kinds`, `faults.schedule[].fault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Power loss of a node: the process dies, unsynced writes may be lost or torn; restart later.
    Crash,
    /// The process stops being scheduled (a long GC pause, a frozen VM), then resumes.
    Pause,
    /// Cluster nodes split into two sides that cannot talk, both ways.
    Partition,
    /// Messages from one side to the other are lost; the other direction works.
    OneWayPartition,
    /// One node is cut from every other node.
    Isolate,
    /// Every link loses an extra share of messages for a while.
    PacketLoss,
    /// A node's clock starts drifting fast or slow.
    Clock,
    /// A bit flips in a file of a node's disk (latent corruption, seen on the next read).
    DiskCorruption,
    /// Reads of a file of a node's disk fail (EIO) for a while.
    DiskReadError,
    /// A node's disk is full for a while (ENOSPC).
    DiskFull,
    /// A node's disk gets 10-100x slower for a while.
    DiskSlow,
    /// The master cluster is cut from a slave cluster (the WAN link down), both ways.
    WanPartition,
    /// A share of the messages a node sends is held for seconds, past the protocols' election,
    /// request and pull timeouts, then delivered: stale responses, stale vote grants and stale
    /// batches arrive after their sender's world moved on.
    LateDelivery,
    /// Every process of one machine dies at the same instant while the machine's operating system
    /// stays up (an out-of-memory kill of its services, a crashed container runtime): the page
    /// cache survives, so nothing any of them wrote is lost; they boot again together after one
    /// downtime (`crash_downtime_s`).
    MachineCrash,
    /// One machine loses power: every node on it crashes at the same instant, each disk keeping its
    /// synced bytes and a random prefix of its unsynced writes (the next one possibly torn), as a
    /// node's `crash` does; they boot again together after one downtime (`crash_downtime_s`).
    MachinePowerLoss,
    /// One machine's network link goes down: every link between its nodes and the nodes of other
    /// machines (clients included) is cut both ways; links inside the machine stay up.
    MachineIsolation,
}

impl FaultKind {
    /// True for faults aimed at one node.
    pub fn needs_node(self) -> bool {
        !matches!(self, FaultKind::Partition | FaultKind::OneWayPartition | FaultKind::PacketLoss | FaultKind::WanPartition)
    }

    /// True for faults that hit every node of a machine (a scheduled one names a node of it).
    pub fn is_machine(self) -> bool {
        matches!(self, FaultKind::MachineCrash | FaultKind::MachinePowerLoss | FaultKind::MachineIsolation)
    }

    /// True for faults that split the network into sides.
    pub fn is_partition(self) -> bool {
        matches!(self, FaultKind::Partition | FaultKind::OneWayPartition | FaultKind::WanPartition)
    }
}

/// The nemesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsSection {
    /// Each seed switches some kinds off entirely and picks its own intensities.
    pub swarm: bool,
    /// Kinds the random nemesis may use.
    pub kinds: Vec<FaultKind>,
    /// Mean simulated seconds between two faults of one kind (before swarm scaling).
    pub mean_interval_s: f64,
    /// How long a transient fault lasts: uniform in `[min, max]` seconds.
    #[serde(deserialize_with = "crate::env::pair")]
    pub duration_s: [f64; 2],
    /// How long a crashed node stays down: uniform in `[min, max]` seconds.
    #[serde(deserialize_with = "crate::env::pair")]
    pub crash_downtime_s: [f64; 2],
    /// Faults aimed at a controller the moment it becomes leader (Jepsen-style targeting).
    pub on_new_leader: LeaderTrigger,
    /// Largest clock drift a clock fault sets, in parts per million.
    pub clock_drift_ppm_max: u64,
    /// Faults at fixed times, applied whatever the swarm does.
    pub schedule: Vec<FixedFault>,
}

impl Default for FaultsSection {
    fn default() -> Self {
        Self {
            swarm: false,
            kinds: Vec::new(),
            mean_interval_s: 8.0,
            duration_s: [0.5, 6.0],
            crash_downtime_s: [0.5, 8.0],
            clock_drift_ppm_max: 50_000,
            on_new_leader: LeaderTrigger::default(),
            schedule: Vec::new(),
        }
    }
}

/// What the nemesis does to a controller that just won an election, during the safety phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaderTrigger {
    /// Chance that a new leader is hit (0 turns the trigger off).
    pub probability: f64,
    /// `isolate` (cut from the other controllers; clients still reach it) or `crash`.
    pub action: LeaderAction,
    /// Delay after the election, uniform in `[min, max]` milliseconds (0 hits it before its first
    /// AppendEntries leaves).
    #[serde(deserialize_with = "crate::env::pair")]
    pub delay_ms: [f64; 2],
    /// How long the isolation or the downtime lasts, uniform in `[min, max]` seconds.
    #[serde(deserialize_with = "crate::env::pair")]
    pub duration_s: [f64; 2],
    /// Only leaders of these clusters (`master`, `slave0`, ...); empty: every cluster.
    pub clusters: Vec<String>,
}

/// How a new leader is hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaderAction {
    /// Cut from the other controllers of its cluster.
    Isolate,
    /// Power loss.
    Crash,
}

impl Default for LeaderTrigger {
    fn default() -> Self {
        Self { probability: 0.0, action: LeaderAction::Isolate, delay_ms: [0.0, 2.0], duration_s: [0.5, 3.0], clusters: Vec::new() }
    }
}

/// One fault at a fixed time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedFault {
    /// When, in simulated seconds (inside the safety phase).
    pub at_s: f64,
    /// What.
    pub fault: FaultKind,
    /// The node it hits (node faults), or one side of a partition.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// The other side of a partition (default: every other node).
    #[serde(default)]
    pub others: Vec<String>,
    /// How long it lasts (crash: downtime).
    #[serde(default = "default_fixed_duration")]
    pub duration_s: f64,
    // How hard it hits, where its kind has a strength; each unset field takes a fixed default
    // (packet loss 0.3, a slow disk 50x, the largest clock drift, late delivery of 0.2 of the
    // messages by 5 s). A seed's swarm plan written out as a schedule (`ccrsim shrink`) sets each
    // to what the nemesis drew.
    /// `packet_loss`: the extra share of messages lost on every link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_loss: Option<f64>,
    /// `disk_slow`: how many times slower the disk gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_factor: Option<u64>,
    /// `clock`: the drift the node's clock takes, in parts per million (negative: slow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_ppm: Option<i64>,
    /// `late_delivery`: the share of the node's messages held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_share: Option<f64>,
    /// `late_delivery`: how long a held message is held, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_delay_ms: Option<u64>,
}

fn default_fixed_duration() -> f64 {
    5.0
}

/// Bugs to plant, grouped by the part of the system they are planted in. One neutral section whose
/// groups belong to designs: `raft` and `controller` to the neutral deployment (every design's
/// controller groups), `data_node`, `dfs_state` and `dfs_watch` to the replica protocol `dolphindb-2pc`,
/// `master_repl`, `slave_repl` and `repl_data_node` to the pipeline `dolphindb-async`, `sequoiadb` to
/// the replica protocol `sequoiadb-synclog`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlantedBugs {
    /// In the Raft role (neutral: every design's controller groups).
    pub raft: RaftBugs,
    /// In the controller role around Raft (neutral: the deployment's controller shell).
    pub controller: ControllerBugs,
    /// In the data node (`dolphindb-2pc`).
    pub data_node: DataNodeBugs,
    /// In the controller's DFS state (`dolphindb-2pc`).
    pub dfs_state: DfsStateBugs,
    /// In the controller leader's watch over 2PC transactions and recoveries (`dolphindb-2pc`).
    pub dfs_watch: WatchBugs,
    /// In the master's replication state (`dolphindb-async`).
    pub master_repl: MasterReplBugs,
    /// In the slaves' replication state (`dolphindb-async`).
    pub slave_repl: SlaveReplBugs,
    /// In a data node's part in replication (`dolphindb-async`).
    pub repl_data_node: NodeReplBugs,
    /// In SequoiaDB's data nodes and sessions (`sequoiadb-synclog`).
    pub sequoiadb: SeqBugs,
}

impl PlantedBugs {
    /// True when any bug is planted.
    pub fn any(&self) -> bool {
        self.raft.any()
            || self.controller != ControllerBugs::default()
            || self.data_node != DataNodeBugs::default()
            || self.repl_data_node != NodeReplBugs::default()
            || self.dfs_state != DfsStateBugs::default()
            || self.dfs_watch != WatchBugs::default()
            || self.master_repl != MasterReplBugs::default()
            || self.slave_repl != SlaveReplBugs::default()
            || self.sequoiadb.any()
    }

    /// The planted bugs by name (`slave_repl.skip_group_barrier`), in the scenario's spelling.
    pub fn names(&self) -> Vec<String> {
        let serde_json::Value::Object(sections) = serde_json::to_value(self).expect("bug flags serialize") else { return Vec::new() };
        let mut names = Vec::new();
        for (section, flags) in sections {
            if let serde_json::Value::Object(flags) = flags {
                names.extend(flags.into_iter().filter(|(_, on)| on.as_bool() == Some(true)).map(|(flag, _)| format!("{section}.{flag}")));
            }
        }
        names
    }
}

/// What a scenario expects: of a negative scenario, the violation that catches its bug; of any
/// scenario, how available the deployment stays (judged by the checker `availability`; a bound
/// left out is not judged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpectSection {
    /// The checker that must report a violation within the scenario's seeds.
    pub violation: Option<String>,
    /// Text the violation's message must contain: a checker states several properties, and a
    /// liveness or end-state checker reports whatever is still wrong, so its name alone does not
    /// say that the planted bug is what it saw.
    pub message: Option<String>,
    /// Largest share of the client operations sent and answered in fault-free windows that may be
    /// answered `Aborted`.
    pub aborted_share_max: Option<f64>,
    /// Largest share of those operations that may be answered `Unavailable`.
    pub unavailable_share_max: Option<f64>,
    /// Longest a controller group may be without a leader, per leader loss, while a majority of
    /// it is up and reachable and no other fault disturbs it (after a heal, from the heal).
    pub leaderless_ms_max: Option<f64>,
    /// Fewest operations committed per simulated second over the fault-free windows.
    pub commits_per_s_min: Option<f64>,
    /// A fault-free window opens this long after the last fault ended (and after the start).
    pub settle_ms: f64,
}

impl Default for ExpectSection {
    fn default() -> Self {
        Self {
            violation: None,
            message: None,
            aborted_share_max: None,
            unavailable_share_max: None,
            leaderless_ms_max: None,
            commits_per_s_min: None,
            settle_ms: DEFAULT_SETTLE_MS,
        }
    }
}

/// The default of `expect.settle_ms`: a data node's online window (3 s) and a new election.
pub const DEFAULT_SETTLE_MS: f64 = 4000.0;

impl ExpectSection {
    /// Whether any availability bound is given.
    pub fn bounds_availability(&self) -> bool {
        self.aborted_share_max.is_some()
            || self.unavailable_share_max.is_some()
            || self.leaderless_ms_max.is_some()
            || self.commits_per_s_min.is_some()
    }
}

/// Scenario files shipped with ccrsim, by name.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("controllers-chaos", include_str!("../../../scenarios/controllers-chaos.toml")),
    ("controllers-crash-storm", include_str!("../../../scenarios/controllers-crash-storm.toml")),
    ("controllers-leader-churn", include_str!("../../../scenarios/controllers-leader-churn.toml")),
    ("controllers-snapshot-storm", include_str!("../../../scenarios/controllers-snapshot-storm.toml")),
    ("ddl-heavy", include_str!("../../../scenarios/ddl-heavy.toml")),
    ("deployment-chaos", include_str!("../../../scenarios/deployment-chaos.toml")),
    ("disk-corruption", include_str!("../../../scenarios/disk-corruption.toml")),
    ("execution-sets", include_str!("../../../scenarios/execution-sets.toml")),
    ("long-haul", include_str!("../../../scenarios/long-haul.toml")),
    ("machines-master", include_str!("../../../scenarios/machines-master.toml")),
    ("machines-slave", include_str!("../../../scenarios/machines-slave.toml")),
    ("master-chaos", include_str!("../../../scenarios/master-chaos.toml")),
    ("master-datanode-crash-async-persistence", include_str!("../../../scenarios/master-datanode-crash-async-persistence.toml")),
    ("master-leader-failover", include_str!("../../../scenarios/master-leader-failover.toml")),
    ("master-steady", include_str!("../../../scenarios/master-steady.toml")),
    ("replication-steady", include_str!("../../../scenarios/replication-steady.toml")),
    ("rough-network", include_str!("../../../scenarios/rough-network.toml")),
    ("sequoiadb-add-node", include_str!("../../../scenarios/sequoiadb-add-node.toml")),
    ("sequoiadb-chaos", include_str!("../../../scenarios/sequoiadb-chaos.toml")),
    ("sequoiadb-crash-corruption", include_str!("../../../scenarios/sequoiadb-crash-corruption.toml")),
    ("sequoiadb-failover-rollback", include_str!("../../../scenarios/sequoiadb-failover-rollback.toml")),
    ("sequoiadb-log-rollover", include_str!("../../../scenarios/sequoiadb-log-rollover.toml")),
    ("sequoiadb-read-your-writes", include_str!("../../../scenarios/sequoiadb-read-your-writes.toml")),
    ("sequoiadb-replsize", include_str!("../../../scenarios/sequoiadb-replsize.toml")),
    ("slave-add-datanode", include_str!("../../../scenarios/slave-add-datanode.toml")),
    ("slave-datanode-crash-mid-group", include_str!("../../../scenarios/slave-datanode-crash-mid-group.toml")),
    ("slave-leader-failover", include_str!("../../../scenarios/slave-leader-failover.toml")),
    ("stop-start-skip", include_str!("../../../scenarios/stop-start-skip.toml")),
    ("stop-threshold", include_str!("../../../scenarios/stop-threshold.toml")),
    ("tight-timeouts", include_str!("../../../scenarios/tight-timeouts.toml")),
    ("two-slaves", include_str!("../../../scenarios/two-slaves.toml")),
    ("wan-partition", include_str!("../../../scenarios/wan-partition.toml")),
];

/// The scenario `cargo run` runs with no arguments.
pub const DEFAULT_SCENARIO: &str = "deployment-chaos";

/// A check of a scenario that needs more than its own fields (its topology, the designs and
/// checkers the build registers); the loader above this module supplies it (`crate::load`), so
/// that scenarios depend on nothing they describe.
pub type DeploymentCheck = fn(&Scenario) -> Result<(), (String, String)>;

impl Scenario {
    /// Parses and validates a scenario (its own fields, then `deployment`); `file` names it in
    /// errors, and a relative `base` in it resolves from `file`'s folder.
    pub fn parse_checked(file: &str, text: &str, deployment: DeploymentCheck) -> Result<Scenario, ScenarioError> {
        if let Some(inherited) = inherit::parse_inherited(file, text, deployment) {
            return inherited;
        }
        let deserializer = toml::Deserializer::parse(text).map_err(|e| {
            let at = e.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" (line {line}, column {column})")
            });
            ScenarioError {
                file: file.to_string(),
                field: "-".into(),
                reason: format!("not valid TOML: {}{}", e.message(), at.unwrap_or_default()),
            }
        })?;
        let scenario: Scenario = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let field = e.path().to_string();
            ScenarioError {
                file: file.to_string(),
                field: if field == "." { "-".into() } else { field },
                reason: e.into_inner().message().to_string(),
            }
        })?;
        scenario.validate(deployment).map_err(|(field, reason)| ScenarioError { file: file.to_string(), field, reason })?;
        Ok(scenario)
    }

    /// Simulated seconds of a whole run at most (safety phase plus liveness bound).
    pub fn duration_max_s(&self) -> f64 {
        self.run.safety_s + self.run.liveness_bound_s
    }

    /// Checks the scenario's own fields, section by section, then `deployment`; the first error
    /// wins. The order is fixed: a bad file's first error must not change. Design sections
    /// (`dolphindb_2pc.rs`, `dolphindb_async.rs`) check themselves in one line each.
    fn validate(&self, deployment: DeploymentCheck) -> Checked {
        validate_name(&self.name)?;
        self.run.validate()?;
        self.cluster.validate(&self.run)?;
        self.replication.validate(self)?; // dolphindb-async
        self.raft.validate(&self.run)?;
        self.workload.validate(&self.run)?;
        validate_clients(self)?;
        self.dfs_workload.validate(self)?; // dolphindb-2pc
        self.dfs.validate(self)?; // dolphindb-2pc
        self.sequoiadb.validate(self)?; // sequoiadb-synclog
        self.sequoiadb_workload.validate(self)?; // sequoiadb-synclog
        self.network.validate()?;
        validate_disk(&self.disk)?;
        self.clock.validate()?;
        self.faults.validate(&self.run)?;
        self.expect.validate()?;
        deployment(self)
    }
}

// The checks of the neutral sections, in the order `Scenario::validate` runs them, and the helpers
// every section's checks (the design sections' too) are written with.
//
// Every number of a scenario goes through one of the helpers below, which refuse a NaN, an
// infinity and anything outside the field's range; docs/scenarios.md lists each range and why it
// is what it is (tests/validation.rs reads that table back and holds accepted scenarios to it).
// The ranges bound what a run costs: at most one simulated day, at most a few hundred nodes,
// and the consistency checks below bound the operations, the rows and the faults it plans, so
// that a validated run's memory and event count are bounded by what its file declares.

/// What a check gives: `Err((dotted field path, reason))` for the first thing wrong.
type Checked = Result<(), (String, String)>;

/// The longest run: safety phase plus liveness bound, in simulated seconds (one day).
pub const RUN_S_MAX: f64 = 86_400.0;
/// The longest timeout or period in milliseconds (one hour).
const HOUR_MS: u64 = 3_600_000;
/// Operations (or metadata proposals) one run may issue at most: a run's histories grow with them.
const OPERATIONS_MAX: f64 = 2_000_000.0;
/// Rows one run's DFS clients may write at most (operations times `rows` max): the tables, their
/// replicas and the checkers' reference database grow with them.
const ROWS_MAX: f64 = 20_000_000.0;
/// Faults the nemesis may plan for one run, as expected from the rate (swarm mode may double it).
const PLANNED_FAULTS_MAX: f64 = 1_000_000.0;
/// Entries of `faults.schedule` and of `[[calls]]` at most.
pub(crate) const LIST_MAX: usize = 10_000;

fn fail(field: &str, reason: impl Into<String>) -> Checked {
    Err((field.to_string(), reason.into()))
}

/// A finite number in `[low, high]` (`low_open`: `(low, high]`). NaN, infinities and magnitudes
/// such as 1e300 fail here, before any of them reaches the run's arithmetic.
fn number_in(field: &str, v: f64, low: f64, high: f64, low_open: bool) -> Checked {
    let above_low = if low_open { v > low } else { v >= low };
    if v.is_finite() && above_low && v <= high {
        return Ok(());
    }
    let bounds = match (low_open, low == 0.0) {
        (true, true) => format!("positive number in (0, {high}]"),
        (true, false) => format!("number in ({low}, {high}]"),
        (false, _) => format!("number in [{low}, {high}]"),
    };
    let what = if v.is_finite() { "out of range" } else { "not a finite number" };
    fail(field, format!("must be a {bounds}, got {v:?} ({what})"))
}

/// A finite number in `(0, high]`.
fn positive(field: &str, v: f64, high: f64) -> Checked {
    number_in(field, v, 0.0, high, true)
}

/// A finite number in `[low, high]`.
fn number(field: &str, v: f64, low: f64, high: f64) -> Checked {
    number_in(field, v, low, high, false)
}

fn probability(field: &str, v: f64) -> Checked {
    if (0.0..=1.0).contains(&v) { Ok(()) } else { fail(field, format!("must be a probability in [0, 1], got {v}")) }
}

/// A workload's rate over `clients` clients: at most 1000 operations per client per second, and
/// at least one per client per simulated day (a client's interval between operations must be a
/// time a run can hold: a slower one would overflow its timer; 0 clients turn a workload off).
pub(crate) fn per_client_rate(field: &str, rate: f64, clients: u32) -> Checked {
    let per_client = rate / f64::from(clients);
    if per_client > 1000.0 {
        return fail(field, "more than 1000 per client per second");
    }
    if per_client < 1.0 / RUN_S_MAX {
        return fail(
            field,
            format!("{rate} over {clients} clients is less than one operation per client per day (no clients turn the workload off)"),
        );
    }
    Ok(())
}

/// An integer in `[low, high]`.
fn within(field: &str, v: u64, low: u64, high: u64) -> Checked {
    if (low..=high).contains(&v) { Ok(()) } else { fail(field, format!("must be {low}..={high}, got {v}")) }
}

/// `0` (off) or an integer in `[low, high]`.
fn off_or_within(field: &str, v: u64, low: u64, high: u64) -> Checked {
    if v == 0 || (low..=high).contains(&v) { Ok(()) } else { fail(field, format!("must be 0 (off) or {low}..={high}, got {v}")) }
}

/// `[min, max]` with `min <= max`.
fn ordered<T: PartialOrd + fmt::Debug>(field: &str, r: &[T; 2]) -> Checked {
    if r[0] <= r[1] { Ok(()) } else { fail(field, format!("[min, max] with min > max: {r:?}")) }
}

/// A `[min, max]` pair of integers, each in `[low, high]`, with `min <= max`.
fn pair_within<T: Copy + Into<u64> + PartialOrd + fmt::Debug>(field: &str, r: &[T; 2], low: u64, high: u64) -> Checked {
    for v in r {
        let v: u64 = (*v).into();
        if !(low..=high).contains(&v) {
            return fail(field, format!("[min, max] elements must be {low}..={high}, got {r:?}"));
        }
    }
    ordered(field, r)
}

/// A `[min, max]` pair of finite numbers, each in `[low, high]` (`low_open`: `(low, high]`), with
/// `min <= max`.
fn pair_of_numbers(field: &str, r: &[f64; 2], low: f64, high: f64, low_open: bool) -> Checked {
    for v in r {
        number_in(field, *v, low, high, low_open).map_err(|(f, reason)| (f, format!("[min, max]: {reason}")))?;
    }
    ordered(field, r)
}

fn validate_name(name: &str) -> Checked {
    if name.is_empty() || name.len() > 100 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return fail("name", format!("must be 1 to 100 letters, digits, '-' or '_', got {name:?}"));
    }
    Ok(())
}

impl RunSection {
    fn validate(&self) -> Checked {
        positive("run.safety_s", self.safety_s, RUN_S_MAX)?;
        positive("run.liveness_bound_s", self.liveness_bound_s, RUN_S_MAX)?;
        if self.safety_s + self.liveness_bound_s > RUN_S_MAX {
            return fail("run.safety_s", "a run is limited to one simulated day (run.safety_s + run.liveness_bound_s <= 86400)");
        }
        within("run.seeds_ci", self.seeds_ci, 1, 1_000_000)?;
        within("run.seeds_default", self.seeds_default, 1, 1_000_000)
    }
}

impl ClusterSection {
    /// The master's shape, then the slaves' (their added data nodes join inside `run`'s safety
    /// phase). The design names are checked with the deployment (`crate::load`).
    fn validate(&self, run: &RunSection) -> Checked {
        let m = &self.master;
        cluster_shape("cluster.master", m.controllers, m.data_nodes, 0, m.replication_factor, m.reliability_level, m.machines)?;
        if let Some(s) = &self.slave {
            within("cluster.slave.count", s.count.into(), 1, 4)?;
            cluster_shape("cluster.slave", s.controllers, s.data_nodes, 1, s.replication_factor, s.reliability_level, s.machines)?;
            within("cluster.slave.added_data_nodes", s.added_data_nodes.into(), 0, 16)?;
            number("cluster.slave.added_at_s", s.added_at_s, 0.0, RUN_S_MAX)?;
            if s.added_data_nodes > 0 && !(s.added_at_s > 0.0 && s.added_at_s < run.safety_s) {
                return fail(
                    "cluster.slave.added_at_s",
                    format!("added data nodes join inside the safety phase (0, {}), got {}", run.safety_s, s.added_at_s),
                );
            }
            if m.data_nodes == 0 {
                return fail("cluster.slave", "replication needs data nodes in the master (cluster.master.data_nodes)");
            }
        }
        Ok(())
    }
}

/// The shape of one cluster (`prefix`: `cluster.master`, `cluster.slave`).
fn cluster_shape(
    prefix: &str,
    controllers: u32,
    data_nodes: u32,
    min_data_nodes: u64,
    rf: u32,
    level: u8,
    machines: Option<u32>,
) -> Checked {
    let field = |name: &str| format!("{prefix}.{name}");
    within(&field("controllers"), controllers.into(), 1, 9)?;
    within(&field("data_nodes"), data_nodes.into(), min_data_nodes, 32)?;
    within(&field("replication_factor"), rf.into(), 1, 5)?;
    within(&field("reliability_level"), level.into(), 0, 2)?;
    if data_nodes > 0 && rf > data_nodes {
        return fail(&field("replication_factor"), format!("{rf} replicas need at least that many data nodes, there are {data_nodes}"));
    }
    if let Some(machines) = machines {
        within(&field("machines"), machines.into(), 1, 32)?;
        if level == 1 && machines < rf {
            return fail(
                &field("machines"),
                format!("reliability level 1 puts replicas on distinct machines: {rf} replicas need {rf} machines"),
            );
        }
    }
    Ok(())
}

impl RaftSection {
    /// The election timeout is bounded by the liveness bound too: a group that cannot elect a
    /// leader within it fails liveness whatever the system under test does.
    fn validate(&self, run: &RunSection) -> Checked {
        pair_within("raft.election_timeout_ms", &self.election_timeout_ms, 1, 60_000)?;
        if self.election_timeout_ms[1] as f64 > run.liveness_bound_s * 1000.0 {
            return fail(
                "raft.election_timeout_ms",
                format!(
                    "the largest election timeout ({} ms) exceeds run.liveness_bound_s ({} s): no leader could be elected within the bound",
                    self.election_timeout_ms[1], run.liveness_bound_s
                ),
            );
        }
        if self.heartbeat_ms == 0 || self.heartbeat_ms >= self.election_timeout_ms[0] {
            return fail(
                "raft.heartbeat_ms",
                format!("must be > 0 and below the smallest election timeout ({}), got {}", self.election_timeout_ms[0], self.heartbeat_ms),
            );
        }
        within("raft.max_entries_per_append", self.max_entries_per_append as u64, 1, 100_000)?;
        within("raft.snapshot_threshold_entries", self.snapshot_threshold_entries, 1, 1_000_000)?;
        Ok(())
    }
}

impl WorkloadSection {
    /// Every field is checked, with or without clients; the rate must be positive only with them.
    fn validate(&self, run: &RunSection) -> Checked {
        within("workload.clients", self.clients.into(), 0, 64)?;
        within("workload.lanes_per_client", self.lanes_per_client.into(), 1, 64)?;
        number("workload.proposals_per_s", self.proposals_per_s, 0.0, 64_000.0)?;
        within("workload.retry_timeout_ms", self.retry_timeout_ms, 1, HOUR_MS)?;
        if self.clients > 0 {
            positive("workload.proposals_per_s", self.proposals_per_s, 64_000.0)?;
            per_client_rate("workload.proposals_per_s", self.proposals_per_s, self.clients)?;
            operations_bounded("workload.proposals_per_s", self.proposals_per_s, run)?;
        }
        Ok(())
    }
}

/// `per_s` operations a second over the safety phase stay within [`OPERATIONS_MAX`].
fn operations_bounded(field: &str, per_s: f64, run: &RunSection) -> Checked {
    if per_s * run.safety_s > OPERATIONS_MAX {
        return fail(
            field,
            format!(
                "{per_s} per second over run.safety_s = {} s is {:.0} operations, more than the {OPERATIONS_MAX} one run may issue",
                run.safety_s,
                per_s * run.safety_s
            ),
        );
    }
    Ok(())
}

/// A scenario needs clients: the metadata map's (`[workload]`) or the replica protocol's (DFS
/// clients, `[dfs_workload]`; SequoiaDB sessions, `[sequoiadb_workload]`). This runs before the
/// workload sections' own checks, which find nothing wrong in a section without clients, so a
/// file's first error is the same in either order.
fn validate_clients(s: &Scenario) -> Checked {
    if s.workload.clients == 0 && s.dfs_workload.clients == 0 && s.sequoiadb_workload.clients == 0 {
        return fail("workload.clients", "a scenario needs clients: workload.clients, dfs_workload.clients or sequoiadb_workload.clients");
    }
    Ok(())
}

impl NetworkSection {
    fn validate(&self) -> Checked {
        link("network.lan", &self.lan)?;
        link("network.wan", &self.wan)?;
        link("network.client", &self.client)
    }
}

fn link(prefix: &str, l: &LinkProfile) -> Checked {
    let field = |name: &str| format!("{prefix}.{name}");
    pair_of_numbers(&field("latency_ms"), &l.latency_ms, 0.0, 10_000.0, false)?;
    probability(&field("loss"), l.loss)?;
    if l.loss >= 1.0 {
        return fail(&field("loss"), "a link that loses everything can never converge; use a partition");
    }
    probability(&field("duplicate"), l.duplicate)?;
    probability(&field("reorder"), l.reorder)?;
    number(&field("reorder_delay_ms_max"), l.reorder_delay_ms_max, 0.0, 10_000.0)
}

fn validate_disk(disk: &DiskProfile) -> Checked {
    within("disk.capacity_mb", disk.capacity_mb, 1, 16_384)?;
    pair_within("disk.write_latency_us", &disk.write_latency_us, 0, 1_000_000)?;
    pair_within("disk.fsync_latency_us", &disk.fsync_latency_us, 0, 1_000_000)
}

impl ClockSection {
    fn validate(&self) -> Checked {
        within("clock.skew_ms_max", self.skew_ms_max, 0, HOUR_MS)?;
        within("clock.drift_ppm_max", self.drift_ppm_max, 0, 499_999)
    }
}

impl FaultsSection {
    /// The nemesis's settings; the nodes and clusters its faults name, and whether its kinds
    /// apply to the topology, are checked with the deployment (`crate::load`).
    fn validate(&self, run: &RunSection) -> Checked {
        number("faults.mean_interval_s", self.mean_interval_s, 0.01, RUN_S_MAX)?;
        let kinds = self.kinds.iter().collect::<std::collections::BTreeSet<_>>().len() as f64;
        // Swarm mode scales a kind's interval down to half: twice the faults at most.
        let planned = kinds * 2.0 * run.safety_s / self.mean_interval_s;
        if planned > PLANNED_FAULTS_MAX {
            return fail(
                "faults.mean_interval_s",
                format!(
                    "{kinds} kinds every {} s over run.safety_s = {} s plan up to {planned:.0} faults, more than the {PLANNED_FAULTS_MAX} one run may plan",
                    self.mean_interval_s, run.safety_s
                ),
            );
        }
        pair_of_numbers("faults.duration_s", &self.duration_s, 0.0, RUN_S_MAX, true)?;
        pair_of_numbers("faults.crash_downtime_s", &self.crash_downtime_s, 0.0, RUN_S_MAX, true)?;
        within("faults.clock_drift_ppm_max", self.clock_drift_ppm_max, 0, 499_999)?;
        if self.swarm && self.kinds.is_empty() {
            return fail("faults.kinds", "swarm mode needs at least one fault kind");
        }
        let t = &self.on_new_leader;
        probability("faults.on_new_leader.probability", t.probability)?;
        pair_of_numbers("faults.on_new_leader.delay_ms", &t.delay_ms, 0.0, 60_000.0, false)?;
        pair_of_numbers("faults.on_new_leader.duration_s", &t.duration_s, 0.0, RUN_S_MAX, true)?;
        if self.schedule.len() > LIST_MAX {
            return fail("faults.schedule", format!("{} entries, more than {LIST_MAX}", self.schedule.len()));
        }
        for (i, fixed) in self.schedule.iter().enumerate() {
            let field = |name: &str| format!("faults.schedule[{i}].{name}");
            positive(&field("duration_s"), fixed.duration_s, RUN_S_MAX)?;
            let strength = fixed;
            if let Some(loss) = strength.extra_loss {
                probability(&field("extra_loss"), loss)?;
            }
            if let Some(factor) = strength.slow_factor {
                within(&field("slow_factor"), factor, 1, 100)?;
            }
            if let Some(drift) = strength.drift_ppm {
                within(&field("drift_ppm"), drift.unsigned_abs(), 0, 499_999)?;
            }
            if let Some(share) = strength.late_share {
                probability(&field("late_share"), share)?;
            }
            if let Some(delay) = strength.late_delay_ms {
                within(&field("late_delay_ms"), delay, 0, 600_000)?;
            }
        }
        Ok(())
    }
}

impl ExpectSection {
    /// A message is expected of a checker's violation; whether that checker exists is checked
    /// with the deployment (`crate::load`).
    fn validate(&self) -> Checked {
        match &self.message {
            Some(_) if self.violation.is_none() => {
                fail("expect.message", "needs `expect.violation`: the message is that of the expected checker's violation")
            }
            Some(m) if m.trim().is_empty() => fail("expect.message", "must not be blank: every message would contain it"),
            _ => Ok(()),
        }?;
        for (field, share) in
            [("expect.aborted_share_max", self.aborted_share_max), ("expect.unavailable_share_max", self.unavailable_share_max)]
        {
            if let Some(v) = share {
                probability(field, v)?;
            }
        }
        if let Some(v) = self.leaderless_ms_max {
            positive("expect.leaderless_ms_max", v, RUN_S_MAX * 1000.0)?;
        }
        if let Some(v) = self.commits_per_s_min {
            positive("expect.commits_per_s_min", v, 1_000_000.0)?;
        }
        number("expect.settle_ms", self.settle_ms, 0.0, RUN_S_MAX * 1000.0)
    }
}

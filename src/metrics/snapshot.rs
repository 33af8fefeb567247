//! What one core reports at a scrape: its counters, the sizes of the state it owns, its load,
//! and (core 0) the Raft progress. Plain `Send` data, so it travels back over the mesh.

use crate::metrics::labels::PROTOCOL_COUNT;
use crate::metrics::recorder::Counters;

/// Sizes of the state one core owns, read at the scrape (never counted on the data path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateGauges {
    pub services: u64,
    pub instances: u64,
    pub healthy_instances: u64,
    /// gRPC and UDP subscriptions to the core's services.
    pub subscribers: u64,
    pub configs: u64,
    /// (connection, key) listens of gRPC config listeners on the core's keys.
    pub config_listeners_grpc: u64,
    /// HTTP long polls the core holds.
    pub config_polls: u64,
}

impl StateGauges {
    pub fn merge(&mut self, other: &StateGauges) {
        self.services += other.services;
        self.instances += other.instances;
        self.healthy_instances += other.healthy_instances;
        self.subscribers += other.subscribers;
        self.configs += other.configs;
        self.config_listeners_grpc += other.config_listeners_grpc;
        self.config_polls += other.config_polls;
    }
}

/// Raft roles, as raft-rs names them; the gauge's `role` label.
pub const RAFT_ROLES: [&str; 4] = ["follower", "candidate", "leader", "pre_candidate"];

/// The Raft group's progress as the driver on core 0 last saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RaftGauges {
    pub term: u64,
    /// Index into `RAFT_ROLES`.
    pub role: usize,
    pub leader: u64,
    pub commit_index: u64,
    pub applied_index: u64,
}

/// What one core's Distro shard still owes one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLag {
    /// The peer's HTTP address (bounded: the members are fixed at start).
    pub peer: String,
    /// Records queued for the peer and not sent yet.
    pub pending_records: u64,
    /// The outbox overflowed and was dropped: the peer catches up through verify.
    pub overflowed: bool,
    /// How long the oldest record queued for the peer has waited (0: none waits).
    pub oldest_unsent_ms: u64,
}

/// One core's report.
#[derive(Debug, Clone)]
pub struct CoreSnapshot {
    pub core: usize,
    pub counters: Box<Counters>,
    pub state: StateGauges,
    /// Open connections: HTTP, gRPC.
    pub connections: [u64; PROTOCOL_COUNT],
    /// Time the executor spent running tasks since it started.
    pub busy_us: u64,
    /// Tasks the executor ran since it started.
    pub tasks_executed: u64,
    /// Core 0 only.
    pub raft: Option<RaftGauges>,
    /// Cluster mode: one entry per peer.
    pub distro: Vec<PeerLag>,
}

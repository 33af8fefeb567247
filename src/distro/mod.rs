//! Distro: how ephemeral instances reach every member of a cluster (ARCHITECTURE.md §5,
//! nacos-protocol.md §5.2).
//!
//! The unit of replication is a *record*: what one client (an HTTP `ip:port` client or a gRPC
//! connection) publishes in one service. Each record carries a stamp (a version from a hybrid
//! clock and the member that made it); members keep the record with the highest stamp, so the
//! order in which messages arrive does not matter.
//!
//! - `record`: record keys, clients, origins and stamps.
//! - `responsible`: which member answers for an HTTP client (Java `String.hashCode` rule).
//! - `shard`: the per-core state machine (no I/O, no clock): stamps, outboxes, digests,
//!   verify, adoption, replica expiry.
//! - `membership`: the member list, reports, liveness (UP/SUSPICIOUS/DOWN), no I/O either.
//! - `wire`: records and digests to and from `proto/cluster.proto`.
//! - `ops`: what cores ask of each other's Distro state over the mesh.
//! - `peer`: a core's own connections to the other members.
//! - `driver`: core 0's loops: reports, verify, expiry, and the snapshot a joining member loads.
//! - `serve`: what a member does with the Distro and report calls peers make.

pub mod driver;
pub mod membership;
pub mod ops;
pub mod peer;
pub mod record;
pub mod responsible;
pub mod serve;
pub mod shard;
pub mod wire;

#[cfg(test)]
mod sim;

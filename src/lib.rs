//! nacore: a Nacos-compatible service registry, thread-per-core on io_uring (glommio).
//!
//! # Layout
//! - `settings`: flags and `NACORE_*` variables → `Settings`.
//! - `limits`: every explicit limit, with its unit.
//! - `server`: executors, mesh, listeners.
//! - `config`: the config center: configs, grays, history, namespaces, listeners.
//! - `cluster`: members, peer transport and cluster-port server (Raft traffic).
//! - `raft`: the Raft group over LMDB for durable data.
//! - `distro`: ephemeral replication between members (state machines and their driver).
//! - `shard`: ownership hash and cross-core op routing.
//! - `http`: HTTP/1.1 codec, parameters, connection loop.
//! - `grpc`: h2 server, gRPC framing, Nacos payloads, connections and their bi-streams.
//! - `api`: the Nacos endpoints (v1, v2, console) → `NamingOp`s.
//! - `naming`: services, instances, selection, encodings, the per-core registry.
//! - `health`: the timing wheel behind heartbeat expiry.
//! - `udp`: UDP push to v1 subscribers.
//! - `auth`: users, roles, permissions, tokens, login throttle (no HTTP/gRPC).
//! - `metrics`: per-core counters and histograms, the Prometheus text exposition.
//! - `access_log`: the optional per-request access log, written off the data path.
//! - `dns`: the built-in DNS server (services by name, weighted), hickory-proto wire format.

pub mod access_log;
pub mod api;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod distro;
pub mod fd_limit;
pub mod grpc;
pub mod health;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod naming;
pub mod raft;
pub mod server;
pub mod settings;
pub mod shard;
pub mod udp;
// --- dns ---
pub mod dns;

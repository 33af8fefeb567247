//! The Nacos 2.x gRPC client (nacos-protocol.md §3): `wire` (proto messages, framing, payload
//! encoding; no I/O), `messages` (request bodies and reply checks; no I/O), `client` (one h2
//! connection with its lifecycle, unary calls and the bi-stream).

pub mod client;
pub mod messages;
pub mod wire;

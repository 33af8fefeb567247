//! The Nacos 2.x gRPC client (nacos-protocol.md §3): `wire` (proto messages, framing, payload
//! encoding; no I/O), `messages` (request bodies and reply checks; no I/O), `client` (one h2
//! connection with its lifecycle, unary calls and the bi-stream), `stamped` (a socket that
//! times its reads, for push arrival).

pub mod client;
pub mod messages;
pub mod stamped;
pub mod wire;

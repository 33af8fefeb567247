//! The Nacos 2.x gRPC protocol on glommio: h2 over each accepted TCP connection (through
//! tokio-util's compat layer, no tokio runtime), gRPC framing, `Payload` encoding, connection
//! state, and the bi-stream that carries setup, pushes and client detection. What requests
//! mean is decided in `api::grpc`.

pub(crate) mod coalesce;
pub mod conn;
pub mod frame;
pub(crate) mod lane;
pub mod payload;
pub mod proto;
pub mod server;
pub(crate) mod stream;

//! Cluster mode: the members of a cluster (`--members`), the peer transport that carries Raft
//! messages and forwarded writes over h2 (`proto/cluster.proto`), and the cluster-port server.
//! All of it runs on core 0, beside the Raft group.

pub mod members;
pub mod proto;
pub mod server;
pub mod transport;

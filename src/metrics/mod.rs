//! Metrics: per-core counters and fixed-bucket histograms, their snapshots, and the
//! Prometheus text exposition (format 0.0.4). Knows nothing of HTTP, gRPC or the mesh: the
//! edges record into a core's `CoreMetrics`, the shard layer takes snapshots, and `text`
//! encodes the sum of every core's snapshot.

pub mod histogram;
pub mod labels;
pub mod recorder;
pub mod snapshot;
pub mod text;

pub use histogram::Histogram;
pub use labels::{Api, Protocol};
pub use recorder::CoreMetrics;
pub use snapshot::{CoreSnapshot, PeerLag, RaftGauges, StateGauges};

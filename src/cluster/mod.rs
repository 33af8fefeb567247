//! Cluster mode: the members of a cluster (`--members`), the peer transport that carries Raft
//! messages and forwarded writes over h2 (`proto/cluster.proto`), and the cluster-port server.
//! All of it runs on core 0, beside the Raft group.

pub mod members;
pub mod proto;
pub mod server;
pub mod transport;

// --- auth ---
/// The cluster secret's proof (`Secret::proof`), set once at start: peers present it on every
/// cluster-port request (header `nacore-cluster-identity`) and on HTTP requests between
/// members (`nacore-server-identity`). Read without locks once set.
static CLUSTER_PROOF: std::sync::OnceLock<Option<crate::auth::Secret>> = std::sync::OnceLock::new();

/// Header of the proof on cluster-port requests.
pub const CLUSTER_IDENTITY_HEADER: &str = "nacore-cluster-identity";

pub fn set_cluster_secret(secret: Option<&crate::auth::Secret>) {
    let proof = secret.map(|s| crate::auth::Secret::raw(&s.proof()));
    let _ = CLUSTER_PROOF.set(proof);
}

/// The proof this member presents and expects, when a cluster secret is set.
pub fn cluster_proof() -> Option<&'static crate::auth::Secret> {
    CLUSTER_PROOF.get().and_then(Option::as_ref)
}

//! Clients as Nacos 2.x has them: who published an instance. An HTTP `ip:port` client and a
//! gRPC connection each publish at most one instance (or one batch) per service; what one
//! client publishes in one service is the unit a cluster replicates (a *record*).

use compact_str::CompactString;

use crate::naming::key::ServiceKey;

/// A member's position in `--members` (0-based).
pub type MemberIndex = u16;

/// One run of one member: a member that restarts gets a new incarnation, so the connections
/// of its previous run are known to be gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    pub member: MemberIndex,
    /// Wall-clock ms at the member's start; larger means later.
    pub incarnation: u64,
}

/// Who published a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientId {
    /// An HTTP `ip:port` client (Nacos `ip:port#true`): answered for by the member the hash of
    /// `ip:port` picks, which may change with membership.
    Http { ip: CompactString, port: u16 },
    /// A gRPC connection: answered for by the member run that holds it, for its lifetime.
    Connection { origin: Origin, connection: u64 },
}

impl ClientId {
    /// The `ip:port` tag the responsibility hash uses, for HTTP clients.
    pub fn http_tag(&self) -> Option<String> {
        match self {
            ClientId::Http { ip, port } => Some(format!("{ip}:{port}")),
            ClientId::Connection { .. } => None,
        }
    }
}

/// A record: one client's instances in one service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    pub service: ServiceKey,
    pub client: ClientId,
}

//! `NamingOp`: every naming operation as a typed, protocol-neutral message, and `NamingReply`,
//! its answer. The edges (api/) build ops from HTTP or gRPC requests; the shard layer carries
//! each op to the owner core of its service, where `Registry::apply` runs it.

use bytes::Bytes;

use crate::naming::error::NamingError;
use crate::naming::instance::{InstanceSpec, Metadata};
use crate::naming::key::ServiceKey;
use crate::naming::service::Selector;

#[derive(Debug, Clone)]
pub enum NamingOp {
    Register {
        key: ServiceKey,
        spec: InstanceSpec,
    },
    Deregister {
        key: ServiceKey,
        ip: String,
        port: u16,
    },
    /// `PUT /instance` (replace the overlay) or `PATCH /instance` (merge into it).
    UpdateInstance {
        key: ServiceKey,
        update: InstanceUpdate,
    },
    GetInstance {
        key: ServiceKey,
        ip: String,
        port: u16,
        cluster: String,
    },
    List {
        key: ServiceKey,
        clusters: String,
        healthy_only: bool,
        /// A v1 poller asking for UDP pushes.
        udp_subscriber: Option<UdpSubscription>,
    },
    Beat {
        key: ServiceKey,
        beat: BeatRequest,
    },
    Statuses {
        key: ServiceKey,
    },
    CreateService {
        spec: ServiceSpec,
    },
    UpdateService {
        spec: ServiceSpec,
    },
    DeleteService {
        key: ServiceKey,
    },
    GetService {
        key: ServiceKey,
    },
    Subscribers {
        key: ServiceKey,
    },
    /// gRPC `InstanceRequest`/`BatchInstanceRequest` register: the connection's instances in
    /// the service become exactly `instances`.
    RegisterConnection {
        key: ServiceKey,
        connection: u64,
        instances: Vec<InstanceSpec>,
    },
    /// gRPC deregister: removes the connection's instances in the service (`only`: just these
    /// addresses, for `batchDeregisterInstance`).
    DeregisterConnection {
        key: ServiceKey,
        connection: u64,
        only: Option<Vec<(String, u16)>>,
    },
    /// gRPC subscribe: records the subscriber and answers its current selection.
    Subscribe {
        key: ServiceKey,
        connection: u64,
        clusters: String,
        ip: String,
        agent: String,
    },
    Unsubscribe {
        key: ServiceKey,
        connection: u64,
        clusters: String,
    },
    /// The connection is gone: drop its instances and its subscription in the service.
    ReleaseConnection {
        key: ServiceKey,
        connection: u64,
    },
    /// Fan-out: every core answers for the services it owns.
    ServiceNames {
        namespace: String,
        group: Option<String>,
    },
    /// Fan-out: counts for `operator/metrics`.
    Counts,
    /// Fan-out: change one switch on every core.
    SetSwitch {
        entry: String,
        value: String,
    },
    /// A Raft-committed write, applied on the owner core; answers `Committed` with the
    /// durable records it changed.
    Committed {
        command: DurableCommand,
    },
    /// Puts a durable record back into memory at start-up (no validation, no answer needed).
    Restore {
        record: DurableRecord,
    },
    /// Fan-out: this core may serve clients now (its durable state is rebuilt).
    MarkReady,
    /// Fan-out: forget every durable record in memory (a snapshot is about to replace them).
    ClearDurable,
    /// The Raft leader and term as the Raft core knows them (answered by core 0).
    RaftStatus,
    /// Whether the HTTP client's instance is stored exactly as `spec` would register it (a
    /// re-registration that changes nothing); answers `Beat` with `found`.
    SameRegistration {
        key: ServiceKey,
        spec: InstanceSpec,
    },
    /// (ip, port, cluster) of the service's instances of one kind, for `metadata/batch`.
    InstanceAddresses {
        key: ServiceKey,
        ephemeral: bool,
    },
    // --- console ---
    /// Fan-out: a summary of every service of a namespace this core owns whose group and
    /// name contain the given (case-sensitive) fragments, for the console catalog.
    ServiceSummaries {
        namespace: String,
        group_contains: String,
        name_contains: String,
    },
    /// Every instance of the service, disabled ones included, for the console.
    ServiceInstances {
        key: ServiceKey,
    },
}

/// A write that goes through the Raft log: persistent instances, service metadata, instance
/// metadata overlays, switches (nacos-protocol.md §5.3).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum DurableCommand {
    RegisterInstance {
        key: ServiceKey,
        spec: InstanceSpec,
    },
    DeregisterInstance {
        key: ServiceKey,
        ip: String,
        port: u16,
    },
    UpdateInstance {
        key: ServiceKey,
        update: InstanceUpdate,
    },
    CreateService {
        spec: ServiceSpec,
    },
    UpdateService {
        spec: ServiceSpec,
    },
    DeleteService {
        key: ServiceKey,
    },
    SetSwitch {
        entry: String,
        value: String,
    },
    UpdateCluster {
        key: ServiceKey,
        cluster: String,
        config: crate::naming::service::ClusterConfig,
    },
    /// `metadata/batch`: merge `metadata` into (or, with `delete`, remove its keys from) the
    /// overlays of the instances at `targets` (ip, port, cluster).
    BatchMetadata {
        key: ServiceKey,
        targets: Vec<(String, u16, String)>,
        metadata: Metadata,
        delete: bool,
    },
}

impl DurableCommand {
    /// The service whose owner core applies the command; `None`: every core (switches).
    pub fn service_key(&self) -> Option<&ServiceKey> {
        match self {
            DurableCommand::RegisterInstance { key, .. }
            | DurableCommand::DeregisterInstance { key, .. }
            | DurableCommand::UpdateInstance { key, .. }
            | DurableCommand::DeleteService { key }
            | DurableCommand::UpdateCluster { key, .. }
            | DurableCommand::BatchMetadata { key, .. } => Some(key),
            DurableCommand::CreateService { spec } | DurableCommand::UpdateService { spec } => {
                Some(&spec.key)
            }
            DurableCommand::SetSwitch { .. } => None,
        }
    }
}

/// The durable state, record by record: what the state machine tables hold.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum DurableRecord {
    Service {
        spec: ServiceSpec,
    },
    NoService {
        key: ServiceKey,
    },
    Instance {
        key: ServiceKey,
        spec: InstanceSpec,
    },
    NoInstance {
        key: ServiceKey,
        ip: String,
        port: u16,
    },
    Overlay {
        key: ServiceKey,
        ip: String,
        port: u16,
        cluster: String,
        overlay: crate::naming::service::InstanceOverlay,
    },
    NoOverlay {
        key: ServiceKey,
        ip: String,
        port: u16,
        cluster: String,
    },
    Cluster {
        key: ServiceKey,
        cluster: String,
        config: crate::naming::service::ClusterConfig,
    },
    Switch {
        entry: String,
        value: String,
    },
}

impl NamingOp {
    /// The service whose owner core must run this op; `None` for fan-out ops.
    pub fn service_key(&self) -> Option<&ServiceKey> {
        match self {
            NamingOp::Register { key, .. }
            | NamingOp::Deregister { key, .. }
            | NamingOp::UpdateInstance { key, .. }
            | NamingOp::GetInstance { key, .. }
            | NamingOp::List { key, .. }
            | NamingOp::Beat { key, .. }
            | NamingOp::Statuses { key }
            | NamingOp::DeleteService { key }
            | NamingOp::GetService { key }
            | NamingOp::Subscribers { key }
            | NamingOp::InstanceAddresses { key, .. }
            | NamingOp::SameRegistration { key, .. }
            | NamingOp::RegisterConnection { key, .. }
            | NamingOp::DeregisterConnection { key, .. }
            | NamingOp::Subscribe { key, .. }
            | NamingOp::Unsubscribe { key, .. }
            | NamingOp::ReleaseConnection { key, .. } => Some(key),
            NamingOp::CreateService { spec } | NamingOp::UpdateService { spec } => Some(&spec.key),
            NamingOp::Committed { command } => command.service_key(),
            NamingOp::Restore { record } => record.service_key(),
            NamingOp::ServiceNames { .. }
            | NamingOp::Counts
            | NamingOp::SetSwitch { .. }
            | NamingOp::MarkReady
            | NamingOp::ClearDurable
            | NamingOp::RaftStatus => None,
            // --- console ---
            NamingOp::ServiceSummaries { .. } => None,
            NamingOp::ServiceInstances { key } => Some(key),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InstanceUpdate {
    pub ip: String,
    pub port: u16,
    pub cluster: String,
    pub ephemeral: bool,
    pub weight: Option<f64>,
    pub enabled: Option<bool>,
    pub metadata: Option<Metadata>,
    /// PATCH: keep what is not given and merge metadata; PUT: replace with defaults.
    pub patch: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpSubscription {
    pub ip: String,
    pub udp_port: u16,
    pub agent: String,
    pub app: String,
}

/// A heartbeat: the light form carries only the address; the full form carries the beat JSON,
/// from which a missing instance is registered again.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatRequest {
    pub ip: String,
    pub port: u16,
    pub cluster: String,
    /// Present when the client sent `beat` JSON: the rest of what to register if the instance
    /// is unknown.
    pub reregister: Option<BeatInstance>,
}

/// What a `beat` JSON adds to the address (Nacos `BeatInfoInstanceBuilder`).
#[derive(Debug, Clone, PartialEq)]
pub struct BeatInstance {
    pub weight: f64,
    pub metadata: Metadata,
}

impl BeatRequest {
    /// The instance a full beat registers when its instance is unknown: healthy, enabled and
    /// ephemeral. `None` for a light beat.
    pub fn into_spec(self) -> Option<InstanceSpec> {
        let instance = self.reregister?;
        Some(InstanceSpec {
            ip: self.ip,
            port: self.port,
            cluster: self.cluster,
            weight: instance.weight,
            healthy: true,
            enabled: true,
            ephemeral: true,
            metadata: instance.metadata,
        })
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServiceSpec {
    pub key: ServiceKey,
    pub protect_threshold: f32,
    pub metadata: Metadata,
    pub selector: Selector,
    pub ephemeral: bool,
}

/// One instance as `GET /instance` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceView {
    pub grouped_service: String,
    pub ip: String,
    pub port: u16,
    pub cluster: String,
    pub weight: f64,
    pub healthy: bool,
    pub enabled: bool,
    pub ephemeral: bool,
    pub metadata: Metadata,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    pub key: ServiceKey,
    pub protect_threshold: f32,
    pub metadata: Metadata,
    pub selector: Selector,
    pub ephemeral: bool,
    pub clusters: Vec<String>,
    /// Health-check settings of the clusters that have them.
    pub cluster_configs: Vec<(String, crate::naming::service::ClusterConfig)>,
    pub instance_count: usize,
    pub healthy_count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberView {
    pub ip: String,
    pub udp_port: u16,
    pub agent: String,
    pub app: String,
    pub namespace: String,
    pub grouped_service: String,
    pub clusters: String,
    /// A gRPC connection's subscription (no UDP port; its address is the client's IP).
    pub grpc: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub services: usize,
    pub instances: usize,
    pub healthy_instances: usize,
    pub subscribers: usize,
    pub ephemeral_clients: usize,
    pub persistent_clients: usize,
    /// Instances this member answers for (not replicas of another member's clients).
    pub responsible_instances: usize,
    // --- metrics ---
    /// gRPC subscriptions (`subscribers` counts the UDP ones).
    pub grpc_subscribers: usize,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.services += other.services;
        self.instances += other.instances;
        self.healthy_instances += other.healthy_instances;
        self.subscribers += other.subscribers;
        self.ephemeral_clients += other.ephemeral_clients;
        self.persistent_clients += other.persistent_clients;
        self.responsible_instances += other.responsible_instances;
        self.grpc_subscribers += other.grpc_subscribers;
    }
}

#[derive(Debug, Clone)]
pub enum NamingReply {
    Done,
    Error(NamingError),
    Instance(InstanceView),
    Hosts {
        hosts_json: Bytes,
        reach_protection: bool,
    },
    /// `found` is false when the instance was unknown and no beat JSON came to register it.
    /// `beat_interval_ms` is the instance's own interval; `None` means the switch applies.
    Beat {
        found: bool,
        beat_interval_ms: Option<u64>,
    },
    Statuses(Vec<String>),
    Service(ServiceView),
    Subscribers(Vec<SubscriberView>),
    /// (group, service) pairs.
    ServiceNames(Vec<(String, String)>),
    Counts(Counts),
    RaftStatus {
        leader: u64,
        term: u64,
    },
    /// (ip, port, cluster) of instances.
    Addresses(Vec<(String, u16, String)>),
    /// The outcome of a committed command and the durable records it changed.
    Committed {
        result: Result<(), NamingError>,
        records: Vec<DurableRecord>,
    },
    // --- console ---
    ServiceSummaries(Vec<ServiceSummary>),
    Instances(Vec<InstanceView>),
}

// --- console ---
/// One service as the console catalog shows it (Nacos `ServiceView` of `CatalogController`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSummary {
    pub group: String,
    pub name: String,
    /// Distinct clusters among the instances.
    pub cluster_count: usize,
    pub instance_count: usize,
    pub healthy_count: usize,
    /// The healthy share is at or below the protect threshold (Nacos `triggerFlag`).
    pub protect_triggered: bool,
}

impl DurableRecord {
    pub fn service_key(&self) -> Option<&ServiceKey> {
        match self {
            DurableRecord::Service { spec } => Some(&spec.key),
            DurableRecord::NoService { key }
            | DurableRecord::Instance { key, .. }
            | DurableRecord::NoInstance { key, .. }
            | DurableRecord::Overlay { key, .. }
            | DurableRecord::NoOverlay { key, .. }
            | DurableRecord::Cluster { key, .. } => Some(key),
            DurableRecord::Switch { .. } => None,
        }
    }
}

/// A push the owner core produced: the subscriber-specific `ServiceInfo` JSON (un-grouped
/// name, as gRPC clients expect) for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOut {
    pub connection: u64,
    pub key: ServiceKey,
    pub service_info_json: Bytes,
}

/// A push for a v1 UDP subscriber: `ServiceInfo` with a grouped name and no `groupName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPushOut {
    pub ip: String,
    pub udp_port: u16,
    pub service_info_json: Bytes,
}

/// What the changes since the last flush owe to subscribers.
#[derive(Debug, Default)]
pub struct Pushes {
    pub grpc: Vec<PushOut>,
    pub udp: Vec<UdpPushOut>,
}

impl From<NamingError> for NamingReply {
    fn from(error: NamingError) -> Self {
        NamingReply::Error(error)
    }
}

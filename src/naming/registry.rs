//! `Registry`: the naming state one core owns (its services and their instances), the timers
//! that expire ephemeral instances, and `apply`, which runs a `NamingOp` against it.
//!
//! Every method takes `now_ms` (monotonic) from the caller, so the registry has no clock of its
//! own and tests can drive time exactly.

use std::rc::Rc;

use bytes::Bytes;
use hashbrown::{HashMap, HashSet};

use crate::health::probe::ProbeTarget;
use crate::health::wheel::TimingWheel;
use crate::limits::{
    EMPTY_SERVICE_EXPIRY_MS, INSTANCES_PER_SERVICE_MAX, LIST_CACHE_BYTES_PER_CORE_MAX,
    UDP_SUBSCRIBER_EXPIRY_MS,
};
use crate::naming::encode::{encode_hosts, encode_service_info, ServiceInfoHead};
use crate::naming::error::{ErrorKind, NamingError, NamingResult};
use crate::naming::instance::{
    BeatTiming, Instance, InstanceSpec, Metadata, Owner, META_BEAT_INTERVAL,
};
use crate::naming::key::ServiceKey;
use crate::naming::op::{
    BeatRequest, Counts, DurableCommand, DurableRecord, InstanceUpdate, InstanceView, NamingOp,
    NamingReply, PushOut, Pushes, ServiceSpec, ServiceSummary, ServiceView, SubscriberView,
    UdpPushOut, UdpSubscription,
};
use crate::naming::select::select;
use crate::naming::service::{
    ClusterConfig, GrpcSubscriber, HealthChecker, InstanceOverlay, Service, UdpSubscriber,
};
use crate::naming::switches::Switches;

/// What a wheel entry points at. Slots are reused, so each carries the uid or epoch it was
/// armed for; a mismatch means the entry is stale and is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Beat {
        service_slot: u32,
        instance_slot: u32,
        epoch: u64,
    },
    EmptyService {
        service_slot: u32,
        uid: u64,
    },
}

pub struct Registry {
    services: Vec<Option<Service>>,
    free_slots: Vec<u32>,
    index: HashMap<ServiceKey, u32>,
    wheel: TimingWheel<Timer>,
    fired: Vec<(u64, Timer)>,
    /// Source of service uids and instance timer epochs, unique on this core.
    next_uid: u64,
    /// This core's copy of the runtime switches.
    pub switches: Switches,
    /// Slots of services changed since the last `take_pushes`, possibly repeated.
    touched: Vec<u32>,
    /// Cluster names and metadata maps shared by the instances of this core.
    interned: Interned,
    /// Bytes of cached list encodings, an upper bound (see `cache_has_room`).
    cache_bytes_estimate: usize,
    /// Versions of publications (see `Instance::version`).
    clock: replica::VersionClock,
    /// Cluster mode: the records this core changed, for Distro, and the ids of remote
    /// connections.
    replication: Option<replica::Replication>,
}

mod replica;
pub use replica::Replication;

/// Hash-consing of values many instances repeat, so that a million instances with the same
/// cluster and metadata hold one copy. Unused entries are swept when the pool has doubled.
#[derive(Default)]
struct Interned {
    clusters: HashSet<Rc<str>>,
    metadata: HashSet<Rc<Metadata>>,
    metadata_swept_at: usize,
}

impl Interned {
    fn cluster(&mut self, name: &Rc<str>) -> Rc<str> {
        if let Some(shared) = self.clusters.get(&**name) {
            return shared.clone();
        }
        self.clusters.insert(name.clone());
        name.clone()
    }

    fn metadata(&mut self, metadata: Rc<Metadata>) -> Rc<Metadata> {
        if let Some(shared) = self.metadata.get(&metadata) {
            return shared.clone();
        }
        if self.metadata.len() >= 2 * self.metadata_swept_at.max(INTERNED_SWEEP_MIN) {
            self.metadata.retain(|m| Rc::strong_count(m) > 1);
            self.metadata_swept_at = self.metadata.len();
        }
        self.metadata.insert(metadata.clone());
        metadata
    }
}

/// Below this many interned maps the pool is not swept.
const INTERNED_SWEEP_MIN: usize = 1024;

impl Registry {
    pub fn new(now_ms: u64) -> Registry {
        Registry {
            services: Vec::new(),
            free_slots: Vec::new(),
            index: HashMap::new(),
            wheel: TimingWheel::new(now_ms),
            fired: Vec::new(),
            next_uid: 1,
            switches: Switches::default(),
            touched: Vec::new(),
            interned: Interned::default(),
            cache_bytes_estimate: 0,
            clock: replica::VersionClock::default(),
            replication: None,
        }
    }

    pub fn apply(&mut self, op: NamingOp, now_ms: u64) -> NamingReply {
        let result = match op {
            NamingOp::Register { key, spec } => self.register(&key, spec, now_ms).map(done),
            NamingOp::Deregister { key, ip, port } => {
                self.deregister(&key, &ip, port, now_ms);
                Ok(NamingReply::Done)
            }
            NamingOp::UpdateInstance { key, update } => {
                self.update_instance(&key, update).map(done)
            }
            NamingOp::GetInstance {
                key,
                ip,
                port,
                cluster,
            } => self
                .get_instance(&key, &ip, port, &cluster)
                .map(NamingReply::Instance),
            NamingOp::List {
                key,
                clusters,
                healthy_only,
                udp_subscriber,
            } => Ok(self.list(&key, &clusters, healthy_only, udp_subscriber, now_ms)),
            NamingOp::Beat { key, beat } => self.beat(&key, beat, now_ms),
            NamingOp::Statuses { key } => Ok(NamingReply::Statuses(self.statuses(&key))),
            NamingOp::CreateService { spec } => self.create_service(spec, now_ms).map(done),
            NamingOp::UpdateService { spec } => self.update_service(spec).map(done),
            NamingOp::DeleteService { key } => self.delete_service(&key).map(done),
            NamingOp::GetService { key } => self.get_service(&key).map(NamingReply::Service),
            NamingOp::Subscribers { key } => Ok(self.subscribers(&key, now_ms)),
            NamingOp::ServiceNames { namespace, group } => {
                Ok(self.service_names(&namespace, group.as_deref()))
            }
            NamingOp::Counts => Ok(NamingReply::Counts(self.counts(now_ms))),
            NamingOp::SetSwitch { entry, value } => self.switches.update(&entry, &value).map(done),
            NamingOp::RegisterConnection {
                key,
                connection,
                instances,
            } => self
                .register_connection(&key, connection, instances, now_ms)
                .map(done),
            NamingOp::DeregisterConnection {
                key,
                connection,
                only,
            } => {
                self.deregister_connection(&key, connection, only.as_deref(), now_ms);
                Ok(NamingReply::Done)
            }
            NamingOp::Subscribe {
                key,
                connection,
                clusters,
                ip,
                agent,
            } => {
                let subscriber = GrpcSubscriber {
                    clusters: clusters.clone(),
                    ip,
                    agent,
                };
                Ok(self.subscribe(&key, connection, subscriber, now_ms))
            }
            NamingOp::Unsubscribe {
                key,
                connection,
                clusters,
            } => {
                self.unsubscribe(&key, connection);
                Ok(self.list(&key, &clusters, false, None, now_ms))
            }
            NamingOp::Committed { command } => Ok(self.apply_committed(command, now_ms)),
            NamingOp::Restore { record } => {
                self.restore(record, now_ms);
                Ok(NamingReply::Done)
            }
            NamingOp::MarkReady => Ok(NamingReply::Done),
            NamingOp::RaftStatus => Ok(NamingReply::RaftStatus { leader: 0, term: 0 }),
            NamingOp::SameRegistration { key, spec } => Ok(NamingReply::Beat {
                found: self.same_registration(&key, &spec),
                beat_interval_ms: None,
            }),
            NamingOp::InstanceAddresses { key, ephemeral } => Ok(NamingReply::Addresses(
                self.instance_addresses(&key, ephemeral),
            )),
            NamingOp::ClearDurable => {
                self.clear_durable(now_ms);
                Ok(NamingReply::Done)
            }
            NamingOp::ReleaseConnection { key, connection } => {
                self.unsubscribe(&key, connection);
                self.deregister_connection(&key, connection, None, now_ms);
                Ok(NamingReply::Done)
            }
            // --- console ---
            NamingOp::ServiceSummaries {
                namespace,
                group_contains,
                name_contains,
            } => Ok(NamingReply::ServiceSummaries(self.service_summaries(
                &namespace,
                &group_contains,
                &name_contains,
            ))),
            NamingOp::ServiceInstances { key } => {
                let views = self.get_service(&key).map(|_| self.instance_views(&key));
                views.map(NamingReply::Instances)
            }
        };
        result.unwrap_or_else(NamingReply::Error)
    }

    fn service(&self, key: &ServiceKey) -> Option<&Service> {
        let slot = *self.index.get(key)?;
        self.services[slot as usize].as_ref()
    }

    fn service_slot(&self, key: &ServiceKey) -> Option<u32> {
        self.index.get(key).copied()
    }

    fn service_at(&mut self, slot: u32) -> &mut Service {
        match self.services[slot as usize].as_mut() {
            Some(service) => service,
            None => unreachable!("index points at an empty service slot {slot}"),
        }
    }

    fn take_uid(&mut self) -> u64 {
        self.next_uid += 1;
        self.next_uid
    }

    /// Finds or creates the service; a new one takes the kind of its first instance.
    fn ensure_service(&mut self, key: &ServiceKey, ephemeral: bool, now_ms: u64) -> u32 {
        if let Some(slot) = self.service_slot(key) {
            return slot;
        }
        let uid = self.take_uid();
        let service = Service::new(key.clone(), uid, ephemeral, now_ms);
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                debug_assert!(self.services[slot as usize].is_none());
                self.services[slot as usize] = Some(service);
                slot
            }
            None => {
                self.services.push(Some(service));
                (self.services.len() - 1) as u32
            }
        };
        self.index.insert(key.clone(), slot);
        let timer = Timer::EmptyService {
            service_slot: slot,
            uid,
        };
        self.wheel.insert(now_ms + EMPTY_SERVICE_EXPIRY_MS, timer);
        slot
    }

    fn remove_service(&mut self, slot: u32) {
        if let Some(service) = self.services[slot as usize].take() {
            let removed = self.index.remove(&service.key);
            debug_assert_eq!(removed, Some(slot));
            self.free_slots.push(slot);
        }
    }

    pub fn register(
        &mut self,
        key: &ServiceKey,
        spec: InstanceSpec,
        now_ms: u64,
    ) -> NamingResult<()> {
        let timing = spec.validate()?;
        let existing = self.service_slot(key);
        if let Some(slot) = existing {
            let service = self.service_at(slot);
            check_kind(service, spec.ephemeral)?;
            match service.slot_of(Owner::Http, &spec.ip, spec.port) {
                Some(instance_slot) => {
                    if let Some(same) = service
                        .instance_mut(instance_slot)
                        .filter(|old| spec.ephemeral && !old.replica && old.registered_as(&spec))
                    {
                        // Clients re-register what they registered (Java 1.x on a 20404 beat,
                        // Spring on refresh): nothing a subscriber sees changes, so it is a
                        // beat. The pending timer re-arms itself from `last_beat_ms`.
                        same.last_beat_ms = now_ms;
                        return Ok(());
                    }
                }
                None if service.len() >= INSTANCES_PER_SERVICE_MAX => {
                    return Err(NamingError::new(
                        ErrorKind::LimitReached,
                        format!(
                            "service {} already holds {INSTANCES_PER_SERVICE_MAX} instances",
                            key.grouped_name()
                        ),
                    ));
                }
                None => {}
            }
        }
        let slot = match existing {
            Some(slot) => slot,
            None => self.ensure_service(key, spec.ephemeral, now_ms),
        };
        let epoch = self.take_uid();
        let instance = Instance::from_spec(spec, timing, now_ms, epoch);
        let ephemeral = instance.ephemeral;
        let deadline_ms = instance.next_beat_deadline_ms();
        let (ip, port) = (instance.ip.clone(), instance.port);
        let instance_slot = self.store(slot, Owner::Http, instance, now_ms, None);
        if ephemeral {
            self.arm_beat_timer(slot, instance_slot, epoch, deadline_ms);
            self.note_http(key, &ip, port);
        }
        Ok(())
    }

    /// Stores an instance with its overlay applied and marks the service changed. A local
    /// publication (`version` None) takes the next version of this core's clock.
    fn store(
        &mut self,
        slot: u32,
        owner: Owner,
        mut instance: Instance,
        now_ms: u64,
        version: Option<u64>,
    ) -> u32 {
        instance.version = version.unwrap_or_else(|| self.clock.next(now_ms));
        instance.cluster = self.interned.cluster(&instance.cluster);
        instance.metadata = self.interned.metadata(instance.metadata);
        let service = self.service_at(slot);
        // Overlays are rare: build their (allocating) key only when there are any.
        if !service.overlays.is_empty() {
            let overlay_key = (
                Box::from(instance.ip.as_str()),
                instance.port,
                Box::from(&*instance.cluster),
            );
            if let Some(overlay) = service.overlays.get(&overlay_key) {
                apply_overlay(&mut instance, overlay);
            }
        }
        let instance_slot = service.upsert(owner, instance);
        self.touched.push(slot);
        instance_slot
    }

    /// Makes the connection's instances in the service exactly `specs` (Nacos: one instance,
    /// or one batch, per connection and service). Connection-bound instances have no beat
    /// timers: they live as long as the connection.
    pub fn register_connection(
        &mut self,
        key: &ServiceKey,
        connection: u64,
        specs: Vec<InstanceSpec>,
        now_ms: u64,
    ) -> NamingResult<()> {
        let mut validated = Vec::with_capacity(specs.len());
        for spec in specs {
            debug_assert!(spec.ephemeral, "connection-bound instances are ephemeral");
            let timing = spec.validate()?;
            validated.push((spec, timing));
        }
        if let Some(service) = self.service(key) {
            check_kind(service, true)?;
            let kept = service.len() - service.connection_slots(connection).len();
            if kept + validated.len() > INSTANCES_PER_SERVICE_MAX {
                return Err(NamingError::new(
                    ErrorKind::LimitReached,
                    format!(
                        "service {} would exceed {INSTANCES_PER_SERVICE_MAX} instances",
                        key.grouped_name()
                    ),
                ));
            }
        }
        let slot = self.ensure_service(key, true, now_ms);
        for old in self.service_at(slot).connection_slots(connection) {
            self.service_at(slot).remove(old, now_ms);
        }
        for (spec, timing) in validated {
            let epoch = self.take_uid();
            let instance = Instance::from_spec(spec, timing, now_ms, epoch);
            self.store(slot, Owner::Connection(connection), instance, now_ms, None);
        }
        self.touched.push(slot);
        self.after_removal(slot, now_ms);
        self.note_connection(key, connection);
        Ok(())
    }

    pub fn deregister_connection(
        &mut self,
        key: &ServiceKey,
        connection: u64,
        only: Option<&[(String, u16)]>,
        now_ms: u64,
    ) {
        let Some(slot) = self.service_slot(key) else {
            return;
        };
        let service = self.service_at(slot);
        let mut removed = false;
        for instance_slot in service.connection_slots(connection) {
            let chosen = match (only, service.instance(instance_slot)) {
                (None, _) => true,
                (Some(list), Some(i)) => list
                    .iter()
                    .any(|(ip, port)| *ip == *i.ip && *port == i.port),
                (Some(_), None) => false,
            };
            if chosen {
                service.remove(instance_slot, now_ms);
                removed = true;
            }
        }
        if removed {
            self.touched.push(slot);
            self.after_removal(slot, now_ms);
            self.note_connection(key, connection);
        }
    }

    /// Records a gRPC subscriber and answers the service's current selection for it. A
    /// subscription to a service that does not exist creates it empty, as Nacos does, so the
    /// subscriber is pushed when instances arrive.
    pub fn subscribe(
        &mut self,
        key: &ServiceKey,
        connection: u64,
        subscriber: GrpcSubscriber,
        now_ms: u64,
    ) -> NamingReply {
        let slot = self.ensure_service(key, true, now_ms);
        let clusters = subscriber.clusters.clone();
        let service = self.service_at(slot);
        service.grpc_subscribers.insert(connection, subscriber);
        self.list(key, &clusters, false, None, now_ms)
    }

    pub fn unsubscribe(&mut self, key: &ServiceKey, connection: u64) {
        if let Some(slot) = self.service_slot(key) {
            // An empty service keeps a pending cleanup timer; it removes the service once
            // nobody subscribes any more.
            self.service_at(slot).grpc_subscribers.remove(&connection);
        }
    }

    fn arm_beat_timer(&mut self, service_slot: u32, instance_slot: u32, epoch: u64, at_ms: u64) {
        let timer = Timer::Beat {
            service_slot,
            instance_slot,
            epoch,
        };
        self.wheel.insert(at_ms, timer);
    }

    /// An unknown service or instance is not an error (Nacos answers `ok`).
    pub fn deregister(&mut self, key: &ServiceKey, ip: &str, port: u16, now_ms: u64) {
        let Some(slot) = self.service_slot(key) else {
            return;
        };
        let service = self.service_at(slot);
        if let Some(instance_slot) = service.slot_of(Owner::Http, ip, port) {
            service.remove(instance_slot, now_ms);
            self.touched.push(slot);
            self.after_removal(slot, now_ms);
            self.note_http(key, ip, port);
        }
    }

    /// Arms the empty-service cleaner when the last instance is gone.
    fn after_removal(&mut self, slot: u32, now_ms: u64) {
        let service = self.service_at(slot);
        if service.is_empty() && !service.explicit && service.empty_since_ms.is_some() {
            let uid = service.uid;
            let timer = Timer::EmptyService {
                service_slot: slot,
                uid,
            };
            self.wheel.insert(now_ms + EMPTY_SERVICE_EXPIRY_MS, timer);
        }
    }

    pub fn update_instance(
        &mut self,
        key: &ServiceKey,
        update: InstanceUpdate,
    ) -> NamingResult<()> {
        let Some(slot) = self.service_slot(key) else {
            return Err(NamingError::new(
                ErrorKind::ServiceNotFound,
                format!(
                    "service not found, namespace: {}, service: {}",
                    key.namespace(),
                    key.grouped_name()
                ),
            ));
        };
        let service = self.service_at(slot);
        let current = service.instances().find(|i| {
            *i.ip == *update.ip && i.port == update.port && *i.cluster == *update.cluster
        });
        let overlay = if update.patch {
            let Some(current) = current else {
                return Err(no_instance_error(key, &update.cluster));
            };
            let mut metadata = (*current.metadata).clone();
            metadata.extend(update.metadata.unwrap_or_default());
            InstanceOverlay {
                weight: update.weight.unwrap_or(current.weight),
                enabled: update.enabled.unwrap_or(current.enabled),
                metadata,
            }
        } else {
            InstanceOverlay {
                weight: update.weight.unwrap_or(1.0),
                enabled: update.enabled.unwrap_or(true),
                metadata: update.metadata.unwrap_or_default(),
            }
        };
        crate::naming::instance::check_weight(overlay.weight)?;
        crate::naming::instance::check_metadata_size(&overlay.metadata)?;
        // Overlays may name instances that do not exist (yet); their number is capped like
        // the instances', so a client cannot grow them without bound.
        let known = service.overlays.contains_key(&(
            Box::<str>::from(update.ip.as_str()),
            update.port,
            Box::<str>::from(update.cluster.as_str()),
        ));
        if !known && service.overlays.len() >= INSTANCES_PER_SERVICE_MAX {
            return Err(NamingError::new(
                ErrorKind::LimitReached,
                format!(
                    "service {} holds too many instance overlays",
                    key.grouped_name()
                ),
            ));
        }
        let matching: Vec<u32> = (0..service.slot_count())
            .filter(|&s| {
                service.instance(s).is_some_and(|i| {
                    *i.ip == *update.ip && i.port == update.port && *i.cluster == *update.cluster
                })
            })
            .collect();
        for &instance_slot in &matching {
            if let Some(instance) = service.instance_mut(instance_slot) {
                apply_overlay(instance, &overlay);
            }
        }
        if !matching.is_empty() {
            service.touch();
            self.touched.push(slot);
        }
        let overlay_key = (
            update.ip.into_boxed_str(),
            update.port,
            update.cluster.into_boxed_str(),
        );
        self.service_at(slot).overlays.insert(overlay_key, overlay);
        Ok(())
    }

    pub fn get_instance(
        &self,
        key: &ServiceKey,
        ip: &str,
        port: u16,
        cluster: &str,
    ) -> NamingResult<InstanceView> {
        let service = self
            .service(key)
            .ok_or_else(|| no_instance_error(key, cluster))?;
        let in_cluster: Vec<&Instance> = service
            .visible()
            .into_iter()
            .filter(|i| *i.cluster == *cluster)
            .collect();
        if in_cluster.is_empty() {
            return Err(no_instance_error(key, cluster));
        }
        let found = in_cluster
            .into_iter()
            .find(|i| *i.ip == *ip && i.port == port);
        let instance = found
            .ok_or_else(|| NamingError::new(ErrorKind::InstanceNotFound, "no matched ip found!"))?;
        Ok(instance_view(key, instance))
    }

    /// The selected `hosts` of a service, encoded once per revision and query shape.
    pub fn list(
        &mut self,
        key: &ServiceKey,
        clusters: &str,
        healthy_only: bool,
        udp: Option<UdpSubscription>,
        now_ms: u64,
    ) -> NamingReply {
        let slot = match (self.service_slot(key), &udp) {
            (Some(slot), _) => slot,
            // A v1 subscriber of a service that does not exist yet is kept, so it is pushed
            // when instances arrive.
            (None, Some(_)) => self.ensure_service(key, true, now_ms),
            (None, None) => {
                return NamingReply::Hosts {
                    hosts_json: Bytes::from_static(b"[]"),
                    reach_protection: false,
                }
            }
        };
        if let Some(udp) = udp {
            // A new subscriber gets a push of its own, as in Nacos.
            let known = self.service_at(slot).udp_subscribers.iter();
            let is_new = !known
                .clone()
                .any(|s| s.ip == udp.ip && s.udp_port == udp.udp_port);
            if is_new {
                self.touched.push(slot);
            }
            let service = self.service_at(slot);
            service.record_udp_subscriber(UdpSubscriber {
                ip: udp.ip,
                udp_port: udp.udp_port,
                clusters: clusters.to_string(),
                agent: udp.agent,
                app: udp.app,
                last_poll_ms: now_ms,
            });
        }
        let service = self.service_at(slot);
        if let Some((hosts_json, reach_protection)) = service.cached_hosts(clusters, healthy_only) {
            return NamingReply::Hosts {
                hosts_json,
                reach_protection,
            };
        }
        let grouped = key.grouped_name();
        let selected = select(
            service.visible().into_iter(),
            clusters,
            healthy_only,
            service.protect_threshold,
        );
        let hosts_json = Bytes::from(encode_hosts(selected.hosts.into_iter(), &grouped));
        let reach_protection = selected.reach_protection;
        if self.cache_has_room(hosts_json.len()) {
            self.cache_bytes_estimate += hosts_json.len();
            let service = self.service_at(slot);
            service.cache_hosts(clusters, healthy_only, hosts_json.clone(), reach_protection);
        }
        NamingReply::Hosts {
            hosts_json,
            reach_protection,
        }
    }

    /// A beat refreshes the instance of `ip:port`; a beat that carries its JSON registers the
    /// instance again when it is gone (Nacos `InstanceOperatorClientImpl.handleBeat`).
    pub fn beat(
        &mut self,
        key: &ServiceKey,
        beat: BeatRequest,
        now_ms: u64,
    ) -> NamingResult<NamingReply> {
        let found = self.service_slot(key).and_then(|slot| {
            let service = self.services[slot as usize].as_ref()?;
            let instance_slot = service.slot_of(Owner::Http, &beat.ip, beat.port)?;
            let ephemeral = service.instance(instance_slot)?.ephemeral;
            ephemeral.then_some((slot, instance_slot))
        });
        if let Some((slot, instance_slot)) = found {
            return Ok(self.refresh(slot, instance_slot, now_ms));
        }
        match beat.into_spec() {
            Some(spec) => {
                let interval_ms = spec
                    .metadata
                    .contains_key(META_BEAT_INTERVAL)
                    .then(|| BeatTiming::from_metadata(&spec.metadata).map(|t| t.interval_ms))
                    .transpose()?;
                self.register(key, spec, now_ms)?;
                Ok(NamingReply::Beat {
                    found: true,
                    beat_interval_ms: interval_ms,
                })
            }
            None => Ok(NamingReply::Beat {
                found: false,
                beat_interval_ms: None,
            }),
        }
    }

    fn refresh(&mut self, slot: u32, instance_slot: u32, now_ms: u64) -> NamingReply {
        let epoch = self.take_uid();
        let version = self.clock.next(now_ms);
        let service = self.service_at(slot);
        let Some(instance) = service.instance_mut(instance_slot) else {
            unreachable!("beat found an instance slot that is empty");
        };
        instance.last_beat_ms = now_ms;
        let interval_ms = explicit_interval_ms(instance);
        let revived = !instance.healthy && !instance.replica;
        if revived {
            // The pending timer points at the delete deadline; arm a fresh one for the
            // unhealthy deadline so a revived instance that stops beating is caught on time.
            instance.healthy = true;
            instance.timer_epoch = epoch;
            instance.version = version;
            let (ip, port) = (instance.ip.clone(), instance.port);
            let deadline_ms = instance.next_beat_deadline_ms();
            service.touch();
            let key = service.key.clone();
            self.touched.push(slot);
            self.arm_beat_timer(slot, instance_slot, epoch, deadline_ms);
            self.note_http(&key, &ip, port);
        }
        NamingReply::Beat {
            found: true,
            beat_interval_ms: interval_ms,
        }
    }

    pub fn statuses(&self, key: &ServiceKey) -> Vec<String> {
        let Some(service) = self.service(key) else {
            return Vec::new();
        };
        service
            .instances()
            .map(|i| format!("{}:{}_{}", i.ip, i.port, i.healthy))
            .collect()
    }

    pub fn create_service(&mut self, spec: ServiceSpec, now_ms: u64) -> NamingResult<()> {
        if self.service(&spec.key).is_some() {
            return Err(NamingError::new(
                ErrorKind::ServiceExists,
                format!(
                    "specified service {} already exists!",
                    spec.key.grouped_name()
                ),
            ));
        }
        let slot = self.ensure_service(&spec.key, spec.ephemeral, now_ms);
        let service = self.service_at(slot);
        service.explicit = true;
        set_service_fields(service, spec);
        Ok(())
    }

    pub fn update_service(&mut self, spec: ServiceSpec) -> NamingResult<()> {
        let Some(slot) = self.service_slot(&spec.key) else {
            return Err(service_not_found(&spec.key));
        };
        let service = self.service_at(slot);
        service.explicit = true;
        set_service_fields(service, spec);
        self.touched.push(slot);
        Ok(())
    }

    pub fn delete_service(&mut self, key: &ServiceKey) -> NamingResult<()> {
        let Some(slot) = self.service_slot(key) else {
            return Err(service_not_found(key));
        };
        if !self.service_at(slot).is_empty() {
            return Err(NamingError::new(
                ErrorKind::ServiceNotEmpty,
                format!(
                    "Service {} is not empty, can't be delete. Please unregister instance first",
                    key.grouped_name()
                ),
            ));
        }
        self.remove_service(slot);
        Ok(())
    }

    pub fn get_service(&self, key: &ServiceKey) -> NamingResult<ServiceView> {
        let service = self.service(key).ok_or_else(|| {
            NamingError::new(
                ErrorKind::ServiceNotFound,
                format!(
                    "service not found, namespace: {}, serviceName: {}",
                    key.namespace(),
                    key.grouped_name()
                ),
            )
        })?;
        Ok(ServiceView {
            key: key.clone(),
            protect_threshold: service.protect_threshold,
            metadata: service.metadata.clone(),
            selector: service.selector.clone(),
            ephemeral: service.ephemeral,
            clusters: service.cluster_names(),
            cluster_configs: service
                .cluster_configs
                .iter()
                .map(|(name, config)| (name.clone(), config.clone()))
                .collect(),
            instance_count: service.len(),
            healthy_count: service.instances().filter(|i| i.healthy).count(),
        })
    }

    fn subscribers(&mut self, key: &ServiceKey, now_ms: u64) -> NamingReply {
        let Some(slot) = self.service_slot(key) else {
            return NamingReply::Subscribers(Vec::new());
        };
        let service = self.service_at(slot);
        service.expire_udp_subscribers(now_ms, UDP_SUBSCRIBER_EXPIRY_MS);
        let udp = service.udp_subscribers.iter().map(|s| SubscriberView {
            ip: s.ip.clone(),
            udp_port: s.udp_port,
            agent: s.agent.clone(),
            app: s.app.clone(),
            namespace: key.namespace().to_string(),
            grouped_service: key.grouped_name(),
            clusters: s.clusters.clone(),
            grpc: false,
        });
        // As Nacos's `SubscribeServiceRequestHandler`: a gRPC subscriber has no port, and no
        // app unless the client names one (the SDKs do not).
        let grpc = service.grpc_subscribers.values().map(|s| SubscriberView {
            ip: s.ip.clone(),
            udp_port: 0,
            agent: s.agent.clone(),
            app: "unknown".to_string(),
            namespace: key.namespace().to_string(),
            grouped_service: key.grouped_name(),
            clusters: s.clusters.clone(),
            grpc: true,
        });
        let views = udp.chain(grpc).collect();
        NamingReply::Subscribers(views)
    }

    fn service_names(&self, namespace: &str, group: Option<&str>) -> NamingReply {
        let names = self
            .index
            .keys()
            .filter(|k| k.namespace() == namespace && group.is_none_or(|g| k.group() == g))
            .map(|k| (k.group().to_string(), k.service().to_string()))
            .collect();
        NamingReply::ServiceNames(names)
    }

    // --- console ---
    /// The console catalog's view of the services of `namespace` on this core whose group
    /// and name contain the fragments (an empty fragment matches all).
    pub fn service_summaries(
        &self,
        namespace: &str,
        group_contains: &str,
        name_contains: &str,
    ) -> Vec<ServiceSummary> {
        let mut out = Vec::new();
        for service in self.services.iter().flatten() {
            let key = &service.key;
            if key.namespace() != namespace {
                continue;
            }
            if !key.group().contains(group_contains) || !key.service().contains(name_contains) {
                continue;
            }
            let mut clusters: Vec<&str> = service.instances().map(|i| &*i.cluster).collect();
            clusters.sort_unstable();
            clusters.dedup();
            let healthy_count = service.instances().filter(|i| i.healthy).count();
            // As the selection divides: 0/0 is NaN, which never reaches the threshold.
            let healthy_ratio = healthy_count as f32 / service.len() as f32;
            let summary = ServiceSummary {
                group: key.group().to_string(),
                name: key.service().to_string(),
                cluster_count: clusters.len(),
                instance_count: service.len(),
                healthy_count,
                protect_triggered: healthy_ratio <= service.protect_threshold.max(0.0),
            };
            debug_assert!(summary.healthy_count <= summary.instance_count);
            out.push(summary);
        }
        out
    }

    /// Every visible instance of the service (disabled ones included), sorted by address.
    pub fn instance_views(&self, key: &ServiceKey) -> Vec<InstanceView> {
        let Some(service) = self.service(key) else {
            return Vec::new();
        };
        let mut views: Vec<InstanceView> = service
            .visible()
            .into_iter()
            .map(|instance| instance_view(key, instance))
            .collect();
        views.sort_by(|a, b| (&a.cluster, &a.ip, a.port).cmp(&(&b.cluster, &b.ip, b.port)));
        debug_assert!(views.len() <= service.len());
        views
    }

    pub fn counts(&mut self, now_ms: u64) -> Counts {
        let mut counts = Counts::default();
        for service in self.services.iter_mut().flatten() {
            service.expire_udp_subscribers(now_ms, UDP_SUBSCRIBER_EXPIRY_MS);
            counts.services += 1;
            counts.instances += service.len();
            counts.healthy_instances += service.instances().filter(|i| i.healthy).count();
            counts.responsible_instances += service.instances().filter(|i| !i.replica).count();
            counts.subscribers += service.udp_subscribers.len();
            counts.grpc_subscribers += service.grpc_subscribers.len();
            if service.ephemeral {
                counts.ephemeral_clients += service.len();
            } else {
                counts.persistent_clients += service.len();
            }
        }
        counts
    }

    /// Moves time forward: instances past their heartbeat timeout turn unhealthy, those past
    /// the delete timeout are removed, and empty services past their grace are dropped.
    /// Returns how many services changed.
    pub fn advance(&mut self, now_ms: u64) -> usize {
        let mut fired = std::mem::take(&mut self.fired);
        debug_assert!(fired.is_empty());
        self.wheel.advance_to(now_ms, &mut fired);
        let mut changed = 0;
        for (_, timer) in fired.drain(..) {
            changed += usize::from(self.on_timer(timer, now_ms));
        }
        self.fired = fired;
        changed
    }

    fn on_timer(&mut self, timer: Timer, now_ms: u64) -> bool {
        match timer {
            Timer::Beat {
                service_slot,
                instance_slot,
                epoch,
            } => self.on_beat_timer(service_slot, instance_slot, epoch, now_ms),
            Timer::EmptyService { service_slot, uid } => {
                self.on_empty_timer(service_slot, uid, now_ms)
            }
        }
    }

    fn on_beat_timer(&mut self, slot: u32, instance_slot: u32, epoch: u64, now_ms: u64) -> bool {
        let Some(Some(service)) = self.services.get_mut(slot as usize) else {
            return false;
        };
        let Some(instance) = service.instance_mut(instance_slot) else {
            return false;
        };
        if instance.timer_epoch != epoch || instance.replica {
            // A replica's beats go to the member that answers for it; so does its expiry.
            return false;
        }
        let silent_ms = now_ms.saturating_sub(instance.last_beat_ms);
        let (ip, port) = (instance.ip.clone(), instance.port);
        if silent_ms > instance.timing.delete_timeout_ms {
            let key = service.key.clone();
            service.remove(instance_slot, now_ms);
            self.touched.push(slot);
            self.after_removal(slot, now_ms);
            self.note_http(&key, &ip, port);
            return true;
        }
        let turned_unhealthy = silent_ms > instance.timing.timeout_ms && instance.healthy;
        if turned_unhealthy {
            instance.healthy = false;
            instance.version = self.clock.next(now_ms);
        }
        let deadline_ms = instance.next_beat_deadline_ms();
        debug_assert!(deadline_ms > now_ms);
        if turned_unhealthy {
            service.touch();
            let key = service.key.clone();
            self.touched.push(slot);
            self.note_http(&key, &ip, port);
        }
        self.arm_beat_timer(slot, instance_slot, epoch, deadline_ms);
        turned_unhealthy
    }

    /// Removes a service that stayed empty, unsubscribed and not created through the service
    /// API for `EMPTY_SERVICE_EXPIRY_MS`; otherwise looks again later.
    fn on_empty_timer(&mut self, slot: u32, uid: u64, now_ms: u64) -> bool {
        let Some(Some(service)) = self.services.get_mut(slot as usize) else {
            return false;
        };
        if service.uid != uid || service.explicit {
            return false;
        }
        service.expire_udp_subscribers(now_ms, UDP_SUBSCRIBER_EXPIRY_MS);
        let Some(since_ms) = service.empty_since_ms else {
            return false;
        };
        let expired = now_ms.saturating_sub(since_ms) >= EMPTY_SERVICE_EXPIRY_MS;
        if expired && !service.has_subscribers() {
            self.remove_service(slot);
            return true;
        }
        let again_ms = if expired { now_ms } else { since_ms } + EMPTY_SERVICE_EXPIRY_MS;
        let timer = Timer::EmptyService {
            service_slot: slot,
            uid,
        };
        self.wheel.insert(again_ms, timer);
        false
    }

    /// Applies a Raft-committed command and reports the durable records it changed, so the
    /// Raft core can store exactly what memory now holds.
    pub fn apply_committed(&mut self, command: DurableCommand, now_ms: u64) -> NamingReply {
        let (result, records) = match command {
            DurableCommand::RegisterInstance { key, spec } => {
                let record = DurableRecord::Instance {
                    key: key.clone(),
                    spec: spec.clone(),
                };
                (self.register(&key, spec, now_ms), vec![record])
            }
            DurableCommand::DeregisterInstance { key, ip, port } => {
                self.deregister(&key, &ip, port, now_ms);
                (Ok(()), vec![DurableRecord::NoInstance { key, ip, port }])
            }
            DurableCommand::UpdateInstance { key, update } => {
                let (ip, port, cluster) = (update.ip.clone(), update.port, update.cluster.clone());
                let result = self.update_instance(&key, update);
                let records = self
                    .overlay_record(&key, ip, port, cluster)
                    .into_iter()
                    .collect();
                (result, records)
            }
            DurableCommand::CreateService { spec } => {
                let record = DurableRecord::Service { spec: spec.clone() };
                (self.create_service(spec, now_ms), vec![record])
            }
            DurableCommand::UpdateService { spec } => {
                let record = DurableRecord::Service { spec: spec.clone() };
                (self.update_service(spec), vec![record])
            }
            DurableCommand::DeleteService { key } => self.delete_service_durably(key),
            DurableCommand::SetSwitch { entry, value } => {
                let result = self.switches.update(&entry, &value);
                (result, vec![DurableRecord::Switch { entry, value }])
            }
            DurableCommand::BatchMetadata {
                key,
                targets,
                metadata,
                delete,
            } => self.batch_metadata(&key, &targets, &metadata, delete),
            DurableCommand::UpdateCluster {
                key,
                cluster,
                config,
            } => {
                let record = DurableRecord::Cluster {
                    key: key.clone(),
                    cluster: cluster.clone(),
                    config: config.clone(),
                };
                (self.update_cluster(&key, cluster, config), vec![record])
            }
        };
        let records = if result.is_ok() { records } else { Vec::new() };
        NamingReply::Committed { result, records }
    }

    fn overlay_record(
        &self,
        key: &ServiceKey,
        ip: String,
        port: u16,
        cluster: String,
    ) -> Option<DurableRecord> {
        let service = self.service(key)?;
        let overlay_key = (
            Box::<str>::from(ip.as_str()),
            port,
            Box::<str>::from(cluster.as_str()),
        );
        let overlay = service.overlays.get(&overlay_key)?.clone();
        Some(DurableRecord::Overlay {
            key: key.clone(),
            ip,
            port,
            cluster,
            overlay,
        })
    }

    /// Deleting a service drops its overlays too.
    fn delete_service_durably(
        &mut self,
        key: ServiceKey,
    ) -> (NamingResult<()>, Vec<DurableRecord>) {
        let overlays: Vec<DurableRecord> = self
            .service(&key)
            .map(|s| {
                s.overlays
                    .keys()
                    .map(|(ip, port, cluster)| DurableRecord::NoOverlay {
                        key: key.clone(),
                        ip: ip.to_string(),
                        port: *port,
                        cluster: cluster.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let result = self.delete_service(&key);
        let mut records = overlays;
        records.push(DurableRecord::NoService { key });
        (result, records)
    }

    /// (ip, port, cluster) of the service's instances of one kind.
    pub fn instance_addresses(
        &self,
        key: &ServiceKey,
        ephemeral: bool,
    ) -> Vec<(String, u16, String)> {
        let Some(service) = self.service(key) else {
            return Vec::new();
        };
        service
            .instances()
            .filter(|i| i.ephemeral == ephemeral)
            .map(|i| (i.ip.to_string(), i.port, i.cluster.to_string()))
            .collect()
    }

    /// `metadata/batch` (Nacos `batchUpdateInstanceMetadata` / `batchDeleteInstanceMetadata`):
    /// the metadata goes into each target's overlay, or its keys out of it. A deleted key also
    /// leaves the instance's current metadata until it registers again.
    fn batch_metadata(
        &mut self,
        key: &ServiceKey,
        targets: &[(String, u16, String)],
        metadata: &Metadata,
        delete: bool,
    ) -> (NamingResult<()>, Vec<DurableRecord>) {
        let Some(slot) = self.service_slot(key) else {
            return (Err(service_not_found(key)), Vec::new());
        };
        let mut records = Vec::with_capacity(targets.len());
        let service = self.service_at(slot);
        for (ip, port, cluster) in targets {
            let overlay_key = (
                Box::<str>::from(ip.as_str()),
                *port,
                Box::<str>::from(cluster.as_str()),
            );
            let current = service
                .instances()
                .find(|i| *i.ip == **ip && i.port == *port && *i.cluster == **cluster);
            let mut overlay =
                service
                    .overlays
                    .get(&overlay_key)
                    .cloned()
                    .unwrap_or(InstanceOverlay {
                        weight: current.map_or(1.0, |i| i.weight),
                        enabled: current.is_none_or(|i| i.enabled),
                        metadata: Metadata::new(),
                    });
            for (k, v) in metadata {
                if delete {
                    overlay.metadata.remove(k);
                } else {
                    overlay.metadata.insert(k.clone(), v.clone());
                }
            }
            overlay_targets(service, &overlay_key, &overlay, delete.then_some(metadata));
            service.overlays.insert(overlay_key, overlay.clone());
            records.push(DurableRecord::Overlay {
                key: key.clone(),
                ip: ip.clone(),
                port: *port,
                cluster: cluster.clone(),
                overlay,
            });
        }
        service.touch();
        self.touched.push(slot);
        (Ok(()), records)
    }

    /// Sets how a cluster's persistent instances are health-checked. The service must exist.
    pub fn update_cluster(
        &mut self,
        key: &ServiceKey,
        cluster: String,
        config: ClusterConfig,
    ) -> NamingResult<()> {
        let Some(slot) = self.service_slot(key) else {
            return Err(service_not_found(key));
        };
        self.service_at(slot)
            .cluster_configs
            .insert(cluster, config);
        Ok(())
    }

    /// Puts a stored record back into memory at start-up. Services come first, then
    /// instances, then overlays (the caller orders them).
    pub fn restore(&mut self, record: DurableRecord, now_ms: u64) {
        match record {
            DurableRecord::Service { spec } => {
                let slot = self.ensure_service(&spec.key, spec.ephemeral, now_ms);
                let service = self.service_at(slot);
                service.explicit = true;
                set_service_fields(service, spec);
            }
            DurableRecord::Instance { key, spec } => {
                if let Err(error) = self.register(&key, spec, now_ms) {
                    tracing::warn!(%error, "a stored persistent instance could not be restored");
                }
            }
            DurableRecord::Overlay {
                key,
                ip,
                port,
                cluster,
                overlay,
            } => {
                let slot = self.ensure_service(&key, true, now_ms);
                let overlay_key = (ip.into_boxed_str(), port, cluster.into_boxed_str());
                let service = self.service_at(slot);
                for s in 0..service.slot_count() {
                    let matches = service.instance(s).is_some_and(|i| {
                        i.ip == overlay_key.0
                            && i.port == overlay_key.1
                            && *i.cluster == *overlay_key.2
                    });
                    if let (true, Some(instance)) = (matches, service.instance_mut(s)) {
                        apply_overlay(instance, &overlay);
                    }
                }
                service.overlays.insert(overlay_key, overlay);
            }
            DurableRecord::Switch { entry, value } => {
                let _ = self.switches.update(&entry, &value);
            }
            DurableRecord::Cluster {
                key,
                cluster,
                config,
            } => {
                let slot = self.ensure_service(&key, false, now_ms);
                self.service_at(slot)
                    .cluster_configs
                    .insert(cluster, config);
            }
            DurableRecord::NoService { .. }
            | DurableRecord::NoInstance { .. }
            | DurableRecord::NoOverlay { .. } => {}
        }
    }

    /// Drops persistent instances, overlays, service metadata and switch changes: what the
    /// Raft state tables hold. Ephemeral instances and subscriptions stay.
    pub fn clear_durable(&mut self, now_ms: u64) {
        self.switches = Switches::default();
        for slot in 0..self.services.len() as u32 {
            let Some(Some(service)) = self.services.get_mut(slot as usize) else {
                continue;
            };
            let persistent: Vec<u32> = (0..service.slot_count())
                .filter(|&s| service.instance(s).is_some_and(|i| !i.ephemeral))
                .collect();
            for instance_slot in persistent {
                service.remove(instance_slot, now_ms);
            }
            service.overlays.clear();
            service.explicit = false;
            service.protect_threshold = 0.0;
            service.metadata.clear();
            service.selector = Default::default();
            service.touch();
            self.touched.push(slot);
            self.after_removal(slot, now_ms);
        }
    }

    /// The persistent instances of this core's services, for the health prober.
    pub fn probe_targets(&self) -> Vec<ProbeTarget> {
        let mut targets = Vec::new();
        let tcp = ClusterConfig::default();
        for service in self.services.iter().flatten().filter(|s| !s.ephemeral) {
            for instance in service.instances().filter(|i| !i.ephemeral) {
                let config = service
                    .cluster_configs
                    .get(&*instance.cluster)
                    .unwrap_or(&tcp);
                if config.checker == HealthChecker::None {
                    continue;
                }
                let probe_port = if config.use_instance_port {
                    instance.port
                } else {
                    config.check_port
                };
                targets.push(ProbeTarget {
                    key: service.key.clone(),
                    ip: instance.ip.to_string(),
                    port: instance.port,
                    probe_port,
                    checker: config.checker.clone(),
                });
            }
        }
        targets
    }

    /// Counts a probe result; flips health at the thresholds. Returns whether it flipped.
    pub fn record_probe(
        &mut self,
        target: &ProbeTarget,
        ok: bool,
        fail_threshold: u8,
        ok_threshold: u8,
    ) -> bool {
        let Some(slot) = self.service_slot(&target.key) else {
            return false;
        };
        let service = self.service_at(slot);
        let Some(instance_slot) = service.slot_of(Owner::Http, &target.ip, target.port) else {
            return false;
        };
        let Some(instance) = service.instance_mut(instance_slot) else {
            return false;
        };
        if ok {
            instance.probe_failures = 0;
            instance.probe_passes = instance.probe_passes.saturating_add(1);
        } else {
            instance.probe_passes = 0;
            instance.probe_failures = instance.probe_failures.saturating_add(1);
        }
        let flip = if instance.healthy {
            instance.probe_failures >= fail_threshold
        } else {
            instance.probe_passes >= ok_threshold
        };
        if flip {
            instance.healthy = !instance.healthy;
            service.touch();
            self.touched.push(slot);
        }
        flip
    }

    /// Whether `bytes` more of cached lists fit the core's budget. The running estimate only
    /// grows (caches are dropped silently on every change); when it reaches the budget the
    /// caches are counted exactly, so the count costs a scan only under memory pressure.
    fn cache_has_room(&mut self, bytes: usize) -> bool {
        if self.cache_bytes_estimate + bytes <= LIST_CACHE_BYTES_PER_CORE_MAX {
            return true;
        }
        self.cache_bytes_estimate = self
            .services
            .iter()
            .flatten()
            .map(Service::cache_bytes)
            .sum();
        self.cache_bytes_estimate + bytes <= LIST_CACHE_BYTES_PER_CORE_MAX
    }

    /// Whether changes wait to be pushed.
    pub fn has_pending_pushes(&self) -> bool {
        !self.touched.is_empty()
    }

    /// The pushes that the changes since the last call owe to subscribers: one per
    /// (changed service, subscriber), each with that subscriber's selection. Subscribers with
    /// the same clusters share one encoding.
    pub fn take_pushes(&mut self, now_ms: u64, wall_ms: u64) -> Pushes {
        let mut slots = std::mem::take(&mut self.touched);
        slots.sort_unstable();
        slots.dedup();
        let mut pushes = Pushes::default();
        for slot in slots {
            let Some(Some(service)) = self.services.get_mut(slot as usize) else {
                continue;
            };
            service.expire_udp_subscribers(now_ms, UDP_SUBSCRIBER_EXPIRY_MS);
            if !service.has_subscribers() {
                continue;
            }
            let key = service.key.clone();
            self.grpc_pushes(&key, slot, now_ms, wall_ms, &mut pushes.grpc);
            self.udp_pushes(&key, slot, now_ms, wall_ms, &mut pushes.udp);
        }
        pushes
    }

    fn grpc_pushes(
        &mut self,
        key: &ServiceKey,
        slot: u32,
        now_ms: u64,
        wall_ms: u64,
        out: &mut Vec<PushOut>,
    ) {
        // Subscribers with the same cluster selection share one encoding. Selections are few
        // (usually every subscriber has the same one), so they are found by a linear search.
        let mut selections: Vec<String> = Vec::new();
        let mut subscribers: Vec<(u64, usize)> = Vec::new();
        for (&connection, subscriber) in &self.service_at(slot).grpc_subscribers {
            let selection = match selections.iter().position(|c| *c == subscriber.clusters) {
                Some(index) => index,
                None => {
                    selections.push(subscriber.clusters.clone());
                    selections.len() - 1
                }
            };
            subscribers.push((connection, selection));
        }
        let encoded: Vec<Bytes> = selections
            .iter()
            .map(|clusters| self.service_info(key, clusters, true, now_ms, wall_ms))
            .collect();
        // Grouped by selection, so the framing step frames each encoding once.
        subscribers.sort_unstable_by_key(|&(connection, selection)| (selection, connection));
        out.extend(
            subscribers
                .into_iter()
                .map(|(connection, selection)| PushOut {
                    connection,
                    key: key.clone(),
                    service_info_json: encoded[selection].clone(),
                }),
        );
    }

    fn udp_pushes(
        &mut self,
        key: &ServiceKey,
        slot: u32,
        now_ms: u64,
        wall_ms: u64,
        out: &mut Vec<UdpPushOut>,
    ) {
        let mut subscribers: Vec<(String, String, u16)> = self
            .service_at(slot)
            .udp_subscribers
            .iter()
            .map(|s| (s.clusters.clone(), s.ip.clone(), s.udp_port))
            .collect();
        subscribers.sort();
        let mut encoded: Option<(String, Bytes)> = None;
        for (clusters, ip, udp_port) in subscribers {
            let json = match &encoded {
                Some((c, json)) if *c == clusters => json.clone(),
                _ => {
                    let json = self.service_info(key, &clusters, false, now_ms, wall_ms);
                    encoded = Some((clusters.clone(), json.clone()));
                    json
                }
            };
            out.push(UdpPushOut {
                ip,
                udp_port,
                service_info_json: json,
            });
        }
    }

    /// `ServiceInfo` JSON for pushes: enabled-only selection with the protect threshold,
    /// `healthyOnly=false`. gRPC carries the plain name plus `groupName`; UDP the grouped
    /// name and no `groupName`.
    fn service_info(
        &mut self,
        key: &ServiceKey,
        clusters: &str,
        grpc: bool,
        now_ms: u64,
        wall_ms: u64,
    ) -> Bytes {
        let cache_millis = self.switches.default_push_cache_millis;
        let NamingReply::Hosts {
            hosts_json,
            reach_protection,
        } = self.list(key, clusters, false, None, now_ms)
        else {
            unreachable!("list always answers hosts");
        };
        let grouped = key.grouped_name();
        let head = ServiceInfoHead {
            name: if grpc { key.service() } else { &grouped },
            group: grpc.then_some(key.group()),
            clusters,
            cache_millis,
            last_ref_time_ms: wall_ms,
            reach_protection,
        };
        Bytes::from(encode_service_info(&head, &hosts_json))
    }

    pub fn service_count(&self) -> usize {
        self.index.len()
    }

    pub fn pending_timers(&self) -> usize {
        self.wheel.len()
    }
}

// --- dns ---
impl Registry {
    /// A service of this core, for edges that build their own read views of it (its
    /// `revision` tells them when a view is stale).
    pub fn read_service(&self, key: &ServiceKey) -> Option<&Service> {
        self.service(key)
    }
}

/// The instance's own beat interval, if its metadata sets one; else the switch applies.
fn explicit_interval_ms(instance: &Instance) -> Option<u64> {
    instance
        .metadata
        .contains_key(META_BEAT_INTERVAL)
        .then_some(instance.timing.interval_ms)
}

fn done(_: ()) -> NamingReply {
    NamingReply::Done
}

fn check_kind(service: &Service, ephemeral: bool) -> NamingResult<()> {
    if service.ephemeral == ephemeral {
        return Ok(());
    }
    let (is, cannot) = if service.ephemeral {
        ("ephemeral", "persistent")
    } else {
        ("persistent", "ephemeral")
    };
    Err(NamingError::new(
        ErrorKind::KindConflict,
        format!(
            "Current service {} is {is} service, can't register {cannot} instance.",
            service.key.grouped_name()
        ),
    ))
}

fn apply_overlay(instance: &mut Instance, overlay: &InstanceOverlay) {
    instance.weight = overlay.weight;
    instance.enabled = overlay.enabled;
    if overlay.metadata.is_empty() {
        return;
    }
    let metadata = Rc::make_mut(&mut instance.metadata);
    for (k, v) in &overlay.metadata {
        metadata.insert(k.clone(), v.clone());
    }
}

/// Applies an overlay to the instances it names; `removed` keys also leave their metadata.
fn overlay_targets(
    service: &mut Service,
    key: &(Box<str>, u16, Box<str>),
    overlay: &InstanceOverlay,
    removed: Option<&Metadata>,
) {
    for slot in 0..service.slot_count() {
        let matches = service
            .instance(slot)
            .is_some_and(|i| i.ip == key.0 && i.port == key.1 && *i.cluster == *key.2);
        let Some(instance) = service.instance_mut(slot).filter(|_| matches) else {
            continue;
        };
        apply_overlay(instance, overlay);
        if let Some(removed) = removed {
            let metadata = Rc::make_mut(&mut instance.metadata);
            for k in removed.keys() {
                metadata.remove(k);
            }
        }
    }
}

fn set_service_fields(service: &mut Service, spec: ServiceSpec) {
    service.protect_threshold = spec.protect_threshold;
    service.metadata = spec.metadata;
    service.selector = spec.selector;
    service.touch();
}

fn service_not_found(key: &ServiceKey) -> NamingError {
    NamingError::new(
        ErrorKind::ServiceNotFound,
        format!("service {} not found!", key.grouped_name()),
    )
}

fn no_instance_error(key: &ServiceKey, cluster: &str) -> NamingError {
    NamingError::new(
        ErrorKind::InstanceNotFound,
        format!(
            "no ips found for cluster {cluster} in service {}",
            key.grouped_name()
        ),
    )
}

/// What the HTTP instance endpoints show of one instance.
fn instance_view(key: &ServiceKey, instance: &Instance) -> InstanceView {
    InstanceView {
        grouped_service: key.grouped_name(),
        ip: instance.ip.to_string(),
        port: instance.port,
        cluster: instance.cluster.to_string(),
        weight: instance.weight,
        healthy: instance.healthy,
        enabled: instance.enabled,
        ephemeral: instance.ephemeral,
        metadata: (*instance.metadata).clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::instance::parse_metadata;
    use crate::naming::op::{BeatInstance, ServiceSpec};

    fn key(service: &str) -> ServiceKey {
        ServiceKey::parse(None, None, service).unwrap()
    }

    fn spec(ip: &str, port: u16, metadata: &str) -> InstanceSpec {
        InstanceSpec {
            ip: ip.to_string(),
            port,
            cluster: "DEFAULT".to_string(),
            weight: 1.0,
            healthy: true,
            enabled: true,
            ephemeral: true,
            metadata: parse_metadata(metadata).unwrap(),
        }
    }

    fn health(registry: &Registry, key: &ServiceKey) -> Vec<(u16, bool)> {
        let Some(service) = registry.service(key) else {
            return Vec::new();
        };
        let mut out: Vec<(u16, bool)> = service.instances().map(|i| (i.port, i.healthy)).collect();
        out.sort();
        out
    }

    fn beat(registry: &mut Registry, key: &ServiceKey, port: u16, now_ms: u64) -> NamingReply {
        let request = BeatRequest {
            ip: "10.0.0.1".to_string(),
            port,
            cluster: "DEFAULT".to_string(),
            reregister: None,
        };
        registry.beat(key, request, now_ms).unwrap()
    }

    /// Unhealthy strictly after the beat timeout and removed strictly after the delete
    /// timeout, to the millisecond (Nacos compares with `>`).
    #[test]
    fn expiry_at_exact_boundaries() {
        let mut r = Registry::new(1_000);
        let k = key("orders");
        r.register(&k, spec("10.0.0.1", 1, ""), 1_000).unwrap();
        r.advance(1_000 + 15_000);
        assert_eq!(
            health(&r, &k),
            vec![(1, true)],
            "at exactly 15 s it is still healthy"
        );
        r.advance(1_000 + 15_001);
        assert_eq!(
            health(&r, &k),
            vec![(1, false)],
            "1 ms later it is unhealthy"
        );
        r.advance(1_000 + 30_000);
        assert_eq!(
            health(&r, &k),
            vec![(1, false)],
            "at exactly 30 s it is still there"
        );
        r.advance(1_000 + 30_001);
        assert!(health(&r, &k).is_empty(), "1 ms later it is gone");
    }

    /// Re-registering exactly what is stored is a beat: the instance outlives the timeout of
    /// its first registration and the service does not change (no push, cached lists stay).
    /// Any difference is stored, and seen.
    #[test]
    fn unchanged_reregister_is_a_beat() {
        let mut r = Registry::new(0);
        let k = key("orders");
        r.register(&k, spec("10.0.0.1", 1, ""), 0).unwrap();
        let revision = r.service(&k).unwrap().revision;
        r.register(&k, spec("10.0.0.1", 1, ""), 10_000).unwrap();
        assert_eq!(r.service(&k).unwrap().revision, revision);
        r.advance(15_001);
        assert_eq!(
            health(&r, &k),
            vec![(1, true)],
            "beaten at 10 s by the re-register"
        );
        r.advance(25_001);
        assert_eq!(
            health(&r, &k),
            vec![(1, false)],
            "15 s after the re-register"
        );
        // Unhealthy now, so a healthy registration is a change again.
        r.register(&k, spec("10.0.0.1", 1, ""), 25_002).unwrap();
        assert_eq!(health(&r, &k), vec![(1, true)]);
        let revision = r.service(&k).unwrap().revision;
        let heavier = InstanceSpec {
            weight: 2.0,
            ..spec("10.0.0.1", 1, "")
        };
        r.register(&k, heavier, 25_003).unwrap();
        let service = r.service(&k).unwrap();
        assert!(service.revision > revision);
        assert_eq!(
            service.instances().map(|i| i.weight).collect::<Vec<_>>(),
            vec![2.0]
        );
    }

    /// `preserved.*` metadata overrides both timeouts.
    #[test]
    fn preserved_metadata_timeouts() {
        let mut r = Registry::new(0);
        let k = key("orders");
        let meta = r#"{"preserved.heart.beat.timeout":"3000","preserved.ip.delete.timeout":"6000","preserved.heart.beat.interval":"1000"}"#;
        r.register(&k, spec("10.0.0.1", 1, meta), 0).unwrap();
        r.advance(3_000);
        assert_eq!(health(&r, &k), vec![(1, true)]);
        r.advance(3_001);
        assert_eq!(health(&r, &k), vec![(1, false)]);
        r.advance(6_001);
        assert!(health(&r, &k).is_empty());
    }

    /// Beats keep an instance healthy; a beat on an unhealthy instance revives it, and a
    /// revived instance that stops beating turns unhealthy again on time.
    #[test]
    fn beats_keep_and_revive() {
        let mut r = Registry::new(0);
        let k = key("orders");
        r.register(&k, spec("10.0.0.1", 1, ""), 0).unwrap();
        for t in (5_000..=60_000).step_by(5_000) {
            beat(&mut r, &k, 1, t);
            r.advance(t + 1);
        }
        assert_eq!(health(&r, &k), vec![(1, true)]);
        r.advance(60_000 + 15_001);
        assert_eq!(health(&r, &k), vec![(1, false)]);
        let reply = beat(&mut r, &k, 1, 80_000);
        assert!(matches!(reply, NamingReply::Beat { found: true, .. }));
        assert_eq!(health(&r, &k), vec![(1, true)]);
        r.advance(80_000 + 15_001);
        assert_eq!(
            health(&r, &k),
            vec![(1, false)],
            "revived instance expires again"
        );
    }

    /// A light beat for an unknown instance is not found; a beat with JSON re-registers.
    #[test]
    fn beat_unknown_and_reregister() {
        let mut r = Registry::new(0);
        let k = key("orders");
        assert!(matches!(
            beat(&mut r, &k, 9, 0),
            NamingReply::Beat { found: false, .. }
        ));
        let registered = spec("10.0.0.1", 9, "");
        let request = BeatRequest {
            ip: "10.0.0.1".into(),
            port: 9,
            cluster: "DEFAULT".into(),
            reregister: Some(BeatInstance {
                weight: registered.weight,
                metadata: registered.metadata,
            }),
        };
        let reply = r.beat(&k, request, 0).unwrap();
        assert!(matches!(
            reply,
            NamingReply::Beat {
                found: true,
                beat_interval_ms: None
            }
        ));
        assert_eq!(health(&r, &k), vec![(9, true)]);
    }

    /// Many instances with staggered beats: only the silent ones expire, each exactly once.
    #[test]
    fn many_instances() {
        let mut r = Registry::new(0);
        let k = key("big");
        let n: u16 = 20_000;
        for port in 0..n {
            r.register(&k, spec("10.0.0.1", port, ""), u64::from(port % 1000))
                .unwrap();
        }
        // Even ports keep beating, odd ports fall silent.
        for round in 1..=7u64 {
            let t = round * 5_000;
            for port in (0..n).step_by(2) {
                beat(&mut r, &k, port, t);
            }
            r.advance(t);
        }
        r.advance(35_000 + 1_000);
        let h = health(&r, &k);
        assert_eq!(h.len(), usize::from(n / 2));
        assert!(h.iter().all(|(port, healthy)| port % 2 == 0 && *healthy));
    }

    /// A service emptied by expiry is removed after its grace; a created one is kept.
    #[test]
    fn empty_services_are_cleaned() {
        let mut r = Registry::new(0);
        let k = key("temp");
        r.register(&k, spec("10.0.0.1", 1, ""), 0).unwrap();
        r.deregister(&k, "10.0.0.1", 1, 1_000);
        assert!(r.has_pending_pushes());
        r.advance(1_000 + EMPTY_SERVICE_EXPIRY_MS - 1);
        assert_eq!(r.service_count(), 1);
        r.advance(1_000 + EMPTY_SERVICE_EXPIRY_MS);
        assert_eq!(r.service_count(), 0);
        let spec = ServiceSpec {
            key: key("kept"),
            protect_threshold: 0.0,
            metadata: Default::default(),
            selector: Default::default(),
            ephemeral: false,
        };
        r.create_service(spec, 0).unwrap();
        r.advance(10 * EMPTY_SERVICE_EXPIRY_MS);
        assert_eq!(r.service_count(), 1);
    }

    /// A service is ephemeral or persistent, never both.
    #[test]
    fn kind_conflict() {
        let mut r = Registry::new(0);
        let k = key("orders");
        r.register(&k, spec("10.0.0.1", 1, ""), 0).unwrap();
        let mut persistent = spec("10.0.0.1", 2, "");
        persistent.ephemeral = false;
        let err = r.register(&k, persistent, 0).unwrap_err();
        assert_eq!(err.kind, ErrorKind::KindConflict);
        assert!(err.message.contains("is ephemeral service"));
        assert_eq!(health(&r, &k), vec![(1, true)], "nothing stored on error");
    }

    /// The list cache is invalidated by every visible change.
    #[test]
    fn list_cache_follows_changes() {
        let mut r = Registry::new(0);
        let k = key("orders");
        r.register(&k, spec("10.0.0.1", 1, ""), 0).unwrap();
        let hosts = |r: &mut Registry| match r.list(&k, "", false, None, 0) {
            NamingReply::Hosts { hosts_json, .. } => hosts_json,
            other => panic!("{other:?}"),
        };
        let first = hosts(&mut r);
        assert_eq!(first, hosts(&mut r));
        r.register(&k, spec("10.0.0.1", 2, ""), 10_000).unwrap();
        let second = hosts(&mut r);
        assert_ne!(first, second);
        r.advance(15_001);
        let third = hosts(&mut r);
        assert_ne!(second, third, "expiry changes what readers see");
    }

    // --- console ---
    /// The console catalog counts clusters, instances and healthy ones per service, filters
    /// by namespace and by name and group fragments; the instance views include disabled
    /// instances, sorted by address.
    #[test]
    fn console_summaries_and_instance_views() {
        let mut r = Registry::new(0);
        let (orders, users) = (key("orders"), key("users"));
        let mut other = spec("10.0.0.2", 2, "");
        other.cluster = "c2".to_string();
        other.healthy = false;
        other.enabled = false;
        r.register(&orders, spec("10.0.0.1", 1, "k=v"), 0).unwrap();
        r.register(&orders, other, 0).unwrap();
        r.register(&users, spec("10.0.0.3", 3, ""), 0).unwrap();
        let ns = ServiceKey::parse(Some("ns1"), None, "orders").unwrap();
        r.register(&ns, spec("10.0.0.4", 4, ""), 0).unwrap();
        let mut all = r.service_summaries("public", "", "");
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let counts: Vec<(&str, usize, usize, usize)> = all
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.cluster_count,
                    s.instance_count,
                    s.healthy_count,
                )
            })
            .collect();
        assert_eq!(counts, [("orders", 2, 2, 1), ("users", 1, 1, 1)]);
        assert!(
            !all[0].protect_triggered,
            "threshold 0 is never reached by 1/2"
        );
        assert_eq!(r.service_summaries("public", "", "ord").len(), 1);
        assert_eq!(r.service_summaries("public", "DEFAULT", "").len(), 2);
        assert!(r.service_summaries("public", "G2", "").is_empty());
        assert_eq!(r.service_summaries("ns1", "", "").len(), 1);
        let views = r.instance_views(&orders);
        let ports: Vec<(u16, bool)> = views.iter().map(|v| (v.port, v.enabled)).collect();
        assert_eq!(
            ports,
            [(1, true), (2, false)],
            "sorted by cluster, then address"
        );
        assert_eq!(views[0].metadata.get("k").map(String::as_str), Some("v"));
        assert!(r.instance_views(&key("missing")).is_empty());
    }
}

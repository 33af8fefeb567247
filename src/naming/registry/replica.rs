//! The registry's side of replication: versions of publications, the records this core
//! changed (the replication layer stamps and sends them), and records published on other
//! members: stored as replicas, removed, adopted (this member answers for them now) or let go.

use hashbrown::HashMap;

use super::{check_kind, Registry};
use crate::limits::INSTANCES_PER_SERVICE_MAX;
use crate::naming::client::{ClientId, Origin, RecordKey};
use crate::naming::instance::{Instance, InstanceSpec, Owner};
use crate::naming::key::ServiceKey;
use crate::naming::service::Service;

/// Versions of publications: wall-clock ms × 1024 plus a counter, never going back on this
/// core. Two members' versions compare by wall clock; ties and skew are settled by the
/// replication layer's stamp order, not by this clock.
#[derive(Debug, Default)]
pub struct VersionClock {
    last: u64,
    wall_at_zero_ms: u64,
}

impl VersionClock {
    pub fn next(&mut self, now_ms: u64) -> u64 {
        let wall = self
            .wall_at_zero_ms
            .saturating_add(now_ms)
            .saturating_mul(1024);
        self.last = (self.last + 1).max(wall);
        self.last
    }

    /// A version above `floor` (the record's stamp from elsewhere).
    pub fn next_above(&mut self, now_ms: u64, floor: u64) -> u64 {
        self.last = self.last.max(floor);
        let version = self.next(now_ms);
        debug_assert!(version > floor);
        version
    }
}

/// Ids of remote connections carry this bit: they never meet local connection ids (which hold
/// the core in bits 48..58).
const REMOTE_CONNECTION_BIT: u64 = 1 << 62;

/// What a core owes the replication layer (cluster mode only).
#[derive(Debug)]
pub struct Replication {
    me: Origin,
    /// Records changed since the last `take_changed`, possibly repeated.
    changed: Vec<RecordKey>,
    /// Local publisher ids of connections held by other members.
    remote_ids: HashMap<(Origin, u64), u64>,
    remote_clients: HashMap<u64, (Origin, u64)>,
    next_remote: u64,
}

impl Registry {
    /// Wall-clock ms at monotonic 0, so versions follow the wall clock.
    pub fn set_wall_origin(&mut self, wall_at_zero_ms: u64) {
        self.clock.wall_at_zero_ms = wall_at_zero_ms;
    }

    /// Cluster mode: changes are recorded for the replication layer from now on.
    pub fn enable_replication(&mut self, me: Origin) {
        self.replication = Some(Replication {
            me,
            changed: Vec::new(),
            remote_ids: HashMap::new(),
            remote_clients: HashMap::new(),
            next_remote: 0,
        });
    }

    pub(super) fn note_http(&mut self, key: &ServiceKey, ip: &str, port: u16) {
        if let Some(replication) = &mut self.replication {
            replication.changed.push(RecordKey {
                service: key.clone(),
                client: ClientId::Http {
                    ip: ip.into(),
                    port,
                },
            });
        }
    }

    pub(super) fn note_connection(&mut self, key: &ServiceKey, connection: u64) {
        if let Some(replication) = &mut self.replication {
            debug_assert_eq!(
                connection & REMOTE_CONNECTION_BIT,
                0,
                "only local connections"
            );
            replication.changed.push(RecordKey {
                service: key.clone(),
                client: ClientId::Connection {
                    origin: replication.me,
                    connection,
                },
            });
        }
    }

    /// The records changed since the last call (deduplicated).
    pub fn take_changed(&mut self) -> Vec<RecordKey> {
        let Some(replication) = &mut self.replication else {
            return Vec::new();
        };
        let mut changed = std::mem::take(&mut replication.changed);
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    /// The publisher of `client` here, if it has one.
    fn owner_of(&self, client: &ClientId) -> Option<Owner> {
        match client {
            ClientId::Http { .. } => Some(Owner::Http),
            ClientId::Connection { origin, connection } => {
                let replication = self.replication.as_ref()?;
                if *origin == replication.me {
                    return Some(Owner::Connection(*connection));
                }
                let id = replication.remote_ids.get(&(*origin, *connection))?;
                Some(Owner::Connection(*id))
            }
        }
    }

    /// Instance slots of the record in its service.
    fn record_slots(&self, key: &RecordKey) -> Option<(u32, Vec<u32>)> {
        let slot = self.service_slot(&key.service)?;
        let service = self.services[slot as usize].as_ref()?;
        let slots = publisher_slots(service, &key.client, self.owner_of(&key.client)?);
        Some((slot, slots))
    }

    /// The record's version and instances, as a peer should hold them; `None` if it is gone.
    pub fn publication(&self, key: &RecordKey) -> Option<(u64, Vec<InstanceSpec>)> {
        let (slot, slots) = self.record_slots(key)?;
        let service = self.services[slot as usize].as_ref()?;
        let instances: Vec<&Instance> = slots
            .iter()
            .filter_map(|&s| service.instance(s))
            .filter(|i| i.ephemeral)
            .collect();
        let version = instances.iter().map(|i| i.version).max()?;
        let specs = instances.into_iter().map(spec_of).collect();
        Some((version, specs))
    }

    /// The record's version (its newest instance's), without building its value.
    pub fn publication_version(&self, key: &RecordKey) -> Option<u64> {
        let (slot, slots) = self.record_slots(key)?;
        let service = self.services[slot as usize].as_ref()?;
        slots
            .iter()
            .filter_map(|&s| service.instance(s))
            .filter(|i| i.ephemeral)
            .map(|i| i.version)
            .max()
    }

    /// Whether the HTTP client's ephemeral instance is stored exactly as `spec` registers it.
    pub fn same_registration(&self, key: &ServiceKey, spec: &InstanceSpec) -> bool {
        let Some(service) = self.service(key) else {
            return false;
        };
        let Some(slot) = service.slot_of(Owner::Http, &spec.ip, spec.port) else {
            return false;
        };
        service
            .instance(slot)
            .is_some_and(|i| spec.ephemeral && i.registered_as(spec))
    }

    /// A version made for one of this core's records elsewhere (a removal's stamp): later
    /// publications get higher ones.
    pub fn observe_version(&mut self, version: u64) {
        self.clock.last = self.clock.last.max(version);
    }

    /// Gives the record's instances a version above `floor` (a stamp made elsewhere).
    pub fn raise_version(&mut self, key: &RecordKey, floor: u64, now_ms: u64) -> Option<u64> {
        let (slot, slots) = self.record_slots(key)?;
        let version = self.clock.next_above(now_ms, floor);
        let service = self.service_at(slot);
        for s in slots {
            if let Some(instance) = service.instance_mut(s) {
                instance.version = version;
            }
        }
        Some(version)
    }

    /// Holds a record published on another member: its instances become exactly `specs`.
    /// Specs a peer sent are checked like a client's; what fails is left out.
    pub fn put_replica(
        &mut self,
        key: &RecordKey,
        version: u64,
        specs: Vec<InstanceSpec>,
        now_ms: u64,
    ) {
        let Some(owner) = self.replica_owner(&key.client) else {
            return;
        };
        let valid: Vec<(InstanceSpec, crate::naming::instance::BeatTiming)> = specs
            .into_iter()
            .filter(|spec| spec.ephemeral && matches_client(&key.client, spec))
            .filter_map(|spec| spec.validate().ok().map(|timing| (spec, timing)))
            .take(INSTANCES_PER_SERVICE_MAX)
            .collect();
        if let Some(service) = self.service(&key.service) {
            if check_kind(service, true).is_err() {
                return;
            }
        }
        self.remove_record_instances(key, owner, now_ms);
        if valid.is_empty() {
            self.forget_remote(&key.client);
            return;
        }
        let slot = self.ensure_service(&key.service, true, now_ms);
        for (spec, timing) in valid {
            if self.service_at(slot).len() >= INSTANCES_PER_SERVICE_MAX {
                break;
            }
            let epoch = self.take_uid();
            let mut instance = Instance::from_spec(spec, timing, now_ms, epoch);
            instance.replica = true;
            self.store(slot, owner, instance, now_ms, Some(version));
        }
        self.touched.push(slot);
    }

    /// The local publisher id for a record from elsewhere (a new one for a new connection).
    fn replica_owner(&mut self, client: &ClientId) -> Option<Owner> {
        let ClientId::Connection { origin, connection } = client else {
            return Some(Owner::Http);
        };
        let replication = self.replication.as_mut()?;
        if *origin == replication.me {
            // Our own connections are ours; a peer cannot publish for them.
            return None;
        }
        let next = &mut replication.next_remote;
        let id = *replication
            .remote_ids
            .entry((*origin, *connection))
            .or_insert_with(|| {
                *next += 1;
                REMOTE_CONNECTION_BIT | *next
            });
        replication
            .remote_clients
            .insert(id, (*origin, *connection));
        Some(Owner::Connection(id))
    }

    fn forget_remote(&mut self, client: &ClientId) {
        let (Some(replication), ClientId::Connection { origin, connection }) =
            (self.replication.as_mut(), client)
        else {
            return;
        };
        if let Some(id) = replication.remote_ids.remove(&(*origin, *connection)) {
            replication.remote_clients.remove(&id);
        }
    }

    fn remove_record_instances(&mut self, key: &RecordKey, owner: Owner, now_ms: u64) {
        let Some(slot) = self.service_slot(&key.service) else {
            return;
        };
        let service = self.service_at(slot);
        let slots = publisher_slots(service, &key.client, owner);
        if slots.is_empty() {
            return;
        }
        for s in slots {
            service.remove(s, now_ms);
        }
        self.touched.push(slot);
        self.after_removal(slot, now_ms);
    }

    /// Forgets a record published elsewhere (removed there, or its member went away).
    pub fn remove_replica(&mut self, key: &RecordKey, now_ms: u64) {
        if let Some(owner) = self.owner_of(&key.client) {
            if matches!(owner, Owner::Connection(id) if id & REMOTE_CONNECTION_BIT == 0) {
                return;
            }
            self.remove_record_instances(key, owner, now_ms);
        }
        self.forget_remote(&key.client);
    }

    /// This member answers for an HTTP client now: its beats come here, so its expiry runs
    /// here, from now. Noted as changed, so it is stamped by this member.
    pub fn own_record(&mut self, key: &RecordKey, now_ms: u64) {
        let ClientId::Http { ip, port } = &key.client else {
            return;
        };
        let Some(slot) = self.service_slot(&key.service) else {
            return;
        };
        let epoch = self.take_uid();
        let version = self.clock.next(now_ms);
        let service = self.service_at(slot);
        let Some(instance_slot) = service.slot_of(Owner::Http, ip, *port) else {
            return;
        };
        let Some(instance) = service.instance_mut(instance_slot) else {
            return;
        };
        instance.replica = false;
        instance.last_beat_ms = now_ms;
        instance.timer_epoch = epoch;
        instance.version = version.max(instance.version + 1);
        let deadline_ms = instance.next_beat_deadline_ms();
        self.arm_beat_timer(slot, instance_slot, epoch, deadline_ms);
        let (ip, port) = (ip.clone(), *port);
        self.note_http(&key.service, &ip, port);
    }

    /// Another member answers for an HTTP client now: its expiry runs there.
    pub fn disown_record(&mut self, key: &RecordKey) {
        let ClientId::Http { ip, port } = &key.client else {
            return;
        };
        let Some(slot) = self.service_slot(&key.service) else {
            return;
        };
        let service = self.service_at(slot);
        if let Some(instance_slot) = service.slot_of(Owner::Http, ip, *port) {
            if let Some(instance) = service.instance_mut(instance_slot) {
                instance.replica = true;
            }
        }
    }
}

/// The instance slots `client` (published as `owner` here) holds in `service`.
fn publisher_slots(service: &Service, client: &ClientId, owner: Owner) -> Vec<u32> {
    match (client, owner) {
        (ClientId::Http { ip, port }, _) => service
            .slot_of(Owner::Http, ip, *port)
            .into_iter()
            .collect(),
        (_, Owner::Connection(id)) => service.connection_slots(id),
        (_, Owner::Http) => Vec::new(),
    }
}

/// A replica's spec must be the client's own address (HTTP) to be stored under it.
fn matches_client(client: &ClientId, spec: &InstanceSpec) -> bool {
    match client {
        ClientId::Http { ip, port } => *ip == *spec.ip && *port == spec.port,
        ClientId::Connection { .. } => true,
    }
}

fn spec_of(instance: &Instance) -> InstanceSpec {
    InstanceSpec {
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

    fn key() -> ServiceKey {
        ServiceKey::from_parts("public", "DEFAULT_GROUP", "svc")
    }

    fn spec(port: u16, weight: f64) -> InstanceSpec {
        InstanceSpec {
            ip: "10.0.0.1".into(),
            port,
            cluster: "DEFAULT".into(),
            weight,
            healthy: true,
            enabled: true,
            ephemeral: true,
            metadata: Default::default(),
        }
    }

    fn me() -> Origin {
        Origin {
            member: 0,
            incarnation: 1,
        }
    }

    fn remote(connection: u64) -> RecordKey {
        RecordKey {
            service: key(),
            client: ClientId::Connection {
                origin: Origin {
                    member: 1,
                    incarnation: 1,
                },
                connection,
            },
        }
    }

    fn weights(registry: &mut Registry) -> Vec<String> {
        let crate::naming::op::NamingReply::Hosts { hosts_json, .. } =
            registry.list(&key(), "", false, None, 0)
        else {
            unreachable!()
        };
        let hosts: serde_json::Value = serde_json::from_slice(&hosts_json).unwrap();
        hosts
            .as_array()
            .unwrap()
            .iter()
            .map(|h| format!("{}:{}", h["port"], h["weight"]))
            .collect()
    }

    /// Two publishers of one address show as one instance, the most recent; when it goes the
    /// other shows again. Local changes are noted for the replication layer.
    #[test]
    fn one_instance_per_address_most_recent_wins() {
        let mut registry = Registry::new(0);
        registry.enable_replication(me());
        registry.register(&key(), spec(80, 1.0), 0).unwrap();
        assert_eq!(registry.take_changed().len(), 1);
        let (version, _) = registry
            .publication(&RecordKey {
                service: key(),
                client: ClientId::Http {
                    ip: "10.0.0.1".into(),
                    port: 80,
                },
            })
            .unwrap();
        registry.put_replica(&remote(7), version + 1, vec![spec(80, 2.0)], 0);
        assert_eq!(weights(&mut registry), vec!["80:2.0"]);
        registry.put_replica(&remote(8), version - 1, vec![spec(80, 3.0)], 0);
        assert_eq!(
            weights(&mut registry),
            vec!["80:2.0"],
            "an older one stays hidden"
        );
        registry.remove_replica(&remote(7), 0);
        assert_eq!(
            weights(&mut registry),
            vec!["80:1.0"],
            "the HTTP client is newest now"
        );
        assert!(
            registry.take_changed().is_empty(),
            "replicas are not ours to send"
        );
    }

    /// A peer's spec for an HTTP client must carry the client's own address.
    #[test]
    fn replica_specs_are_checked() {
        let mut registry = Registry::new(0);
        registry.enable_replication(me());
        let http = RecordKey {
            service: key(),
            client: ClientId::Http {
                ip: "10.0.0.9".into(),
                port: 1,
            },
        };
        registry.put_replica(&http, 5, vec![spec(80, 1.0)], 0);
        assert!(weights(&mut registry).is_empty());
        let mut bad = spec(81, 1.0);
        bad.ip = "not an ip".into();
        registry.put_replica(&remote(1), 5, vec![bad, spec(82, 1.0)], 0);
        assert_eq!(weights(&mut registry), vec!["82:1.0"]);
    }
}

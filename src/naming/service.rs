//! `Service`: the instances of one (namespace, group, service), its metadata, its v1 pollers,
//! and the cache of its encoded `hosts` lists. Lives on the service's owner core.

use bytes::Bytes;
use compact_str::CompactString;
use hashbrown::HashMap;

use crate::limits::{LIST_CACHE_ENTRIES_PER_SERVICE_MAX, UDP_SUBSCRIBERS_PER_SERVICE_MAX};
use crate::naming::instance::{Instance, Metadata};
use crate::naming::key::ServiceKey;

/// The service selector as given by the client (`{"type":"label","expression":"..."}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Selector {
    /// `none` or `label`.
    pub kind: String,
    pub expression: String,
}

/// How the instances of one cluster are health-checked (Nacos `ClusterMetadata`), for
/// persistent instances. The default is a TCP connect to the instance port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClusterConfig {
    pub checker: HealthChecker,
    pub check_port: u16,
    pub use_instance_port: bool,
    pub metadata: Metadata,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HealthChecker {
    Tcp,
    /// GET `path` with these `headers` (`k:v|k:v`, as Nacos writes them); healthy when the
    /// status is `expected_code`.
    Http {
        path: String,
        headers: String,
        expected_code: u16,
    },
    /// No checks: the instance keeps the health it was registered with.
    None,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            checker: HealthChecker::Tcp,
            check_port: 80,
            use_instance_port: true,
            metadata: Metadata::new(),
        }
    }
}

/// The per-instance overlay of `PUT/PATCH /instance` (Nacos `InstanceMetadata`): merged over
/// the registered instance whenever it (re)registers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InstanceOverlay {
    pub weight: f64,
    pub enabled: bool,
    pub metadata: Metadata,
}

/// A v1 client that polls `instance/list` with a `udpPort` (Nacos `Subscriber`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpSubscriber {
    pub ip: String,
    pub udp_port: u16,
    pub clusters: String,
    pub agent: String,
    pub app: String,
    pub last_poll_ms: u64,
}

#[derive(Debug, Clone)]
struct CachedHosts {
    clusters: String,
    healthy_only: bool,
    hosts_json: Bytes,
    reach_protection: bool,
}

pub use crate::naming::instance::Owner;

/// An instance's identity within its service: its publisher and address.
pub type InstanceAddr = (Owner, CompactString, u16);

/// A borrowed `InstanceAddr` for lookups, so finding an instance allocates nothing. Hashes
/// exactly as the tuple does (field by field, in order).
struct AddrRef<'a> {
    owner: Owner,
    ip: &'a str,
    port: u16,
}

impl std::hash::Hash for AddrRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.owner.hash(state);
        self.ip.hash(state);
        self.port.hash(state);
    }
}

impl hashbrown::Equivalent<InstanceAddr> for AddrRef<'_> {
    fn equivalent(&self, key: &InstanceAddr) -> bool {
        self.owner == key.0 && self.port == key.2 && self.ip == key.1.as_str()
    }
}

/// A gRPC connection subscribed to the service (Nacos `Subscriber`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcSubscriber {
    pub clusters: String,
    pub ip: String,
    pub agent: String,
}

#[derive(Debug)]
pub struct Service {
    pub key: ServiceKey,
    /// Unique per core, so that timers of a deleted service never touch a new one in its slot.
    pub uid: u64,
    pub ephemeral: bool,
    pub protect_threshold: f32,
    pub metadata: Metadata,
    pub selector: Selector,
    /// Created through the service API: kept when empty.
    pub explicit: bool,
    /// Bumped on every change a reader could see; cached lists older than it are gone.
    pub revision: u64,
    /// Monotonic ms since the service became empty, if it is.
    pub empty_since_ms: Option<u64>,
    pub udp_subscribers: Vec<UdpSubscriber>,
    /// gRPC subscribers by connection.
    pub grpc_subscribers: HashMap<u64, GrpcSubscriber>,
    /// Health-check settings by cluster name (`PUT /nacos/v1/ns/cluster`).
    pub cluster_configs: HashMap<String, ClusterConfig>,
    /// PUT/PATCH overlays by (ip, port, cluster).
    pub overlays: HashMap<(Box<str>, u16, Box<str>), InstanceOverlay>,
    /// The instance slots each connection published here.
    by_connection: HashMap<u64, Vec<u32>>,
    slots: Vec<Option<Instance>>,
    free_slots: Vec<u32>,
    index: HashMap<InstanceAddr, u32>,
    list_cache: Vec<CachedHosts>,
}

impl Service {
    pub fn new(key: ServiceKey, uid: u64, ephemeral: bool, now_ms: u64) -> Service {
        Service {
            key,
            uid,
            ephemeral,
            protect_threshold: 0.0,
            metadata: Metadata::new(),
            selector: Selector {
                kind: "none".to_string(),
                expression: String::new(),
            },
            explicit: false,
            revision: 1,
            empty_since_ms: Some(now_ms),
            udp_subscribers: Vec::new(),
            grpc_subscribers: HashMap::new(),
            cluster_configs: HashMap::new(),
            overlays: HashMap::new(),
            by_connection: HashMap::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            index: HashMap::new(),
            list_cache: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Every change a reader can observe goes through here.
    pub fn touch(&mut self) {
        self.revision += 1;
        self.list_cache.clear();
    }

    pub fn slot_of(&self, owner: Owner, ip: &str, port: u16) -> Option<u32> {
        self.index.get(&AddrRef { owner, ip, port }).copied()
    }

    /// The slots of the instances `connection` published in this service.
    pub fn connection_slots(&self, connection: u64) -> Vec<u32> {
        self.by_connection
            .get(&connection)
            .cloned()
            .unwrap_or_default()
    }

    pub fn has_subscribers(&self) -> bool {
        !self.grpc_subscribers.is_empty() || !self.udp_subscribers.is_empty()
    }

    /// Upper bound (exclusive) of instance slots.
    pub fn slot_count(&self) -> u32 {
        self.slots.len() as u32
    }

    pub fn instance(&self, slot: u32) -> Option<&Instance> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    pub fn instance_mut(&mut self, slot: u32) -> Option<&mut Instance> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.slots.iter().flatten()
    }

    /// The instances reads show: one per (ip, port, cluster), the most recent publication
    /// (highest version), when several clients publish one address (a connection and an HTTP
    /// client, two connections, publishers on different members). Only connections add a
    /// second publisher of an address, so without any every instance shows as it is.
    pub fn visible(&self) -> Vec<&Instance> {
        if self.by_connection.is_empty() {
            return self.instances().collect();
        }
        let mut shown: Vec<&Instance> = Vec::with_capacity(self.len());
        let mut at: HashMap<(&str, u16, &str), usize> = HashMap::with_capacity(self.len());
        for instance in self.instances() {
            let address = (instance.ip.as_str(), instance.port, &*instance.cluster);
            match at.entry(address) {
                hashbrown::hash_map::Entry::Occupied(entry) => {
                    let index = *entry.get();
                    if instance.version > shown[index].version {
                        shown[index] = instance;
                    }
                }
                hashbrown::hash_map::Entry::Vacant(entry) => {
                    entry.insert(shown.len());
                    shown.push(instance);
                }
            }
        }
        debug_assert!(shown.len() <= self.len());
        shown
    }

    /// Whether any connection (local or remote) publishes here.
    pub fn has_connections(&self) -> bool {
        !self.by_connection.is_empty()
    }

    /// Stores `instance` for `owner`, replacing the one with the same address. Returns its
    /// slot.
    pub fn upsert(&mut self, owner: Owner, mut instance: Instance) -> u32 {
        instance.owner = owner;
        let slot = match self.slot_of(owner, &instance.ip, instance.port) {
            Some(slot) => slot,
            None => {
                let addr: InstanceAddr = (owner, instance.ip.clone(), instance.port);
                let slot = self.free_slots.pop().unwrap_or_else(|| {
                    self.slots.push(None);
                    (self.slots.len() - 1) as u32
                });
                self.index.insert(addr, slot);
                self.owners_insert(owner, slot);
                slot
            }
        };
        debug_assert!(self.slots[slot as usize].is_none() || self.slot_matches(slot, &instance));
        self.slots[slot as usize] = Some(instance);
        self.empty_since_ms = None;
        self.touch();
        slot
    }

    fn slot_matches(&self, slot: u32, instance: &Instance) -> bool {
        debug_assert!(slot < self.slots.len() as u32);
        self.instance(slot)
            .is_some_and(|old| old.ip == instance.ip && old.port == instance.port)
    }

    fn owners_insert(&mut self, owner: Owner, slot: u32) {
        if let Owner::Connection(connection) = owner {
            self.by_connection.entry(connection).or_default().push(slot);
        }
    }

    pub fn remove(&mut self, slot: u32, now_ms: u64) -> Option<Instance> {
        let instance = self.slots.get_mut(slot as usize)?.take()?;
        let owner = instance.owner;
        let removed = self
            .index
            .remove(&(owner, instance.ip.clone(), instance.port));
        debug_assert_eq!(removed, Some(slot));
        if let Owner::Connection(connection) = owner {
            if let Some(slots) = self.by_connection.get_mut(&connection) {
                slots.retain(|&s| s != slot);
                if slots.is_empty() {
                    self.by_connection.remove(&connection);
                }
            }
        }
        self.free_slots.push(slot);
        if self.index.is_empty() {
            self.empty_since_ms = Some(now_ms);
        }
        self.touch();
        Some(instance)
    }

    /// Bytes held by this service's cached list encodings.
    pub fn cache_bytes(&self) -> usize {
        self.list_cache.iter().map(|c| c.hosts_json.len()).sum()
    }

    pub fn cached_hosts(&self, clusters: &str, healthy_only: bool) -> Option<(Bytes, bool)> {
        self.list_cache
            .iter()
            .find(|c| c.healthy_only == healthy_only && c.clusters == clusters)
            .map(|c| (c.hosts_json.clone(), c.reach_protection))
    }

    pub fn cache_hosts(&mut self, clusters: &str, healthy_only: bool, json: Bytes, reach: bool) {
        if self.list_cache.len() >= LIST_CACHE_ENTRIES_PER_SERVICE_MAX {
            self.list_cache.remove(0);
        }
        self.list_cache.push(CachedHosts {
            clusters: clusters.to_string(),
            healthy_only,
            hosts_json: json,
            reach_protection: reach,
        });
        debug_assert!(self.list_cache.len() <= LIST_CACHE_ENTRIES_PER_SERVICE_MAX);
    }

    /// Records or refreshes a v1 UDP poller; the oldest is evicted at the limit.
    pub fn record_udp_subscriber(&mut self, subscriber: UdpSubscriber) {
        let existing = self
            .udp_subscribers
            .iter_mut()
            .find(|s| s.ip == subscriber.ip && s.udp_port == subscriber.udp_port);
        match existing {
            Some(found) => *found = subscriber,
            None => {
                if self.udp_subscribers.len() >= UDP_SUBSCRIBERS_PER_SERVICE_MAX {
                    let oldest = (0..self.udp_subscribers.len())
                        .min_by_key(|&i| self.udp_subscribers[i].last_poll_ms);
                    if let Some(i) = oldest {
                        self.udp_subscribers.swap_remove(i);
                    }
                }
                self.udp_subscribers.push(subscriber);
            }
        }
        debug_assert!(self.udp_subscribers.len() <= UDP_SUBSCRIBERS_PER_SERVICE_MAX);
    }

    /// Forgets pollers that have not polled within `expiry_ms`.
    pub fn expire_udp_subscribers(&mut self, now_ms: u64, expiry_ms: u64) {
        self.udp_subscribers
            .retain(|s| now_ms.saturating_sub(s.last_poll_ms) <= expiry_ms);
    }

    /// Cluster names in use, sorted, for the service detail view.
    pub fn cluster_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.instances().map(|i| i.cluster.to_string()).collect();
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A borrowed address finds the entry its owned tuple was stored under, and only that.
    #[test]
    fn borrowed_address_lookup() {
        let mut index: HashMap<InstanceAddr, u32> = HashMap::new();
        index.insert((Owner::Http, "10.0.0.1".into(), 80), 7);
        index.insert((Owner::Connection(3), "10.0.0.1".into(), 80), 8);
        let find = |owner, ip, port| index.get(&AddrRef { owner, ip, port }).copied();
        assert_eq!(find(Owner::Http, "10.0.0.1", 80), Some(7));
        assert_eq!(find(Owner::Connection(3), "10.0.0.1", 80), Some(8));
        assert_eq!(find(Owner::Http, "10.0.0.1", 81), None);
        assert_eq!(find(Owner::Http, "10.0.0.2", 80), None);
    }
}

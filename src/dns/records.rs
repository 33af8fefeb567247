//! The owner core's side of a DNS lookup: each service's record set (its healthy, enabled,
//! weighted instances, already turned into DNS record data), kept per core and rebuilt when
//! the service changes, and the weighted random choice of the records one answer carries.
//!
//! The record sets live in a thread-local: one executor runs per thread, so this is per-core
//! state like the registry beside it, never shared. A set is stamped with the service's uid
//! and revision (the registry bumps the revision on every change a reader can see, the same
//! signal that drops its list caches), so a stale set is never answered.

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;

use hashbrown::HashMap;
use hickory_proto::rr::rdata::{A, AAAA, TXT};
use hickory_proto::rr::RData;

use crate::limits::{DNS_CACHED_SERVICES_PER_CORE_MAX, DNS_RECORD_SET_HOSTS_MAX};
use crate::naming::key::ServiceKey;
use crate::naming::registry::Registry;

/// Which records a lookup wants from the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// IPv4 instances (A).
    V4,
    /// IPv6 instances (AAAA).
    V6,
    /// Every instance (SRV, TXT).
    All,
    /// Only whether the service exists (a type we hold no records of).
    Existence,
}

/// A lookup sent to the owner core of `key`.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub key: ServiceKey,
    pub want: Want,
    pub records_max: usize,
}

/// One healthy instance, ready for the wire.
#[derive(Debug, Clone)]
pub struct Host {
    pub ip: IpAddr,
    pub port: u16,
    /// The Nacos weight (> 0: weight 0 is never answered).
    pub weight: f64,
    /// A or AAAA data of `ip`.
    pub address: RData,
    /// `cluster=…`, `ip=…`, `port=…`, `weight=…`; shared, so choosing a host for an A
    /// answer copies no strings.
    pub txt: Arc<RData>,
}

/// The owner's answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// No such service: NXDOMAIN.
    NoService,
    /// The chosen hosts, in the order to answer them (empty: NOERROR with no records).
    Hosts(Vec<Host>),
}

struct RecordSet {
    uid: u64,
    revision: u64,
    hosts: Vec<Host>,
}

struct OwnerState {
    sets: HashMap<ServiceKey, Rc<RecordSet>>,
    rng: u64,
}

thread_local! {
    static OWNER: RefCell<OwnerState> = RefCell::new(OwnerState {
        sets: HashMap::new(),
        rng: 0,
    });
}

/// Seeds this core's selection (0: from the clock); called once per core at start.
pub fn seed(seed: u64, core_id: usize) {
    let base = if seed == 0 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
    } else {
        seed
    };
    // xorshift must not start at 0; mixing in the core keeps cores' sequences apart.
    let mixed = splitmix(base ^ (core_id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    OWNER.with(|state| state.borrow_mut().rng = mixed | 1);
}

/// Answers `lookup` from `registry`, which must be the owner core's.
pub fn answer(registry: &Registry, lookup: &Lookup) -> Answer {
    debug_assert!(lookup.records_max > 0);
    let Some(service) = registry.read_service(&lookup.key) else {
        return Answer::NoService;
    };
    if lookup.want == Want::Existence {
        return Answer::Hosts(Vec::new());
    }
    let (uid, revision) = (service.uid, service.revision);
    OWNER.with(|state| {
        let mut state = state.borrow_mut();
        let fresh = state
            .sets
            .get(&lookup.key)
            .is_some_and(|set| set.uid == uid && set.revision == revision);
        if !fresh {
            let hosts = healthy_hosts(service.visible().into_iter());
            if state.sets.len() >= DNS_CACHED_SERVICES_PER_CORE_MAX {
                state.sets.clear();
            }
            let set = Rc::new(RecordSet {
                uid,
                revision,
                hosts,
            });
            state.sets.insert(lookup.key.clone(), set);
        }
        let Some(set) = state.sets.get(&lookup.key).cloned() else {
            unreachable!("the record set was just stored");
        };
        Answer::Hosts(choose(&set.hosts, lookup, &mut state.rng))
    })
}

/// The instances DNS answers: healthy, enabled, weight above 0, with an IP address.
fn healthy_hosts<'a>(
    instances: impl Iterator<Item = &'a crate::naming::instance::Instance>,
) -> Vec<Host> {
    let mut hosts = Vec::new();
    for instance in instances {
        if hosts.len() >= DNS_RECORD_SET_HOSTS_MAX {
            break;
        }
        let eligible = instance.healthy && instance.enabled && instance.weight > 0.0;
        let Ok(ip) = instance.ip.parse::<IpAddr>() else {
            continue;
        };
        if !eligible || !instance.weight.is_finite() {
            continue;
        }
        let address = match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        let txt = Arc::new(RData::TXT(TXT::new(vec![
            format!("cluster={}", instance.cluster),
            format!("ip={ip}"),
            format!("port={}", instance.port),
            format!("weight={}", instance.weight),
        ])));
        hosts.push(Host {
            ip,
            port: instance.port,
            weight: instance.weight,
            address,
            txt,
        });
    }
    debug_assert!(hosts.iter().all(|h| h.weight > 0.0));
    hosts
}

/// Up to `records_max` hosts of the wanted family, by weighted random sampling without
/// replacement (Efraimidis–Spirakis: each host draws `ln(u) / weight` and the largest keys
/// win), so the first record is host `i` with probability `weight_i / Σ weight`.
fn choose(hosts: &[Host], lookup: &Lookup, rng: &mut u64) -> Vec<Host> {
    let mut keyed: Vec<(f64, usize)> = Vec::with_capacity(hosts.len());
    for (index, host) in hosts.iter().enumerate() {
        let family_ok = match lookup.want {
            Want::V4 => host.ip.is_ipv4(),
            Want::V6 => host.ip.is_ipv6(),
            Want::All => true,
            Want::Existence => false,
        };
        if family_ok {
            keyed.push((unit_open(rng).ln() / host.weight, index));
        }
    }
    let take = lookup.records_max.min(keyed.len());
    if take == 0 {
        return Vec::new();
    }
    let by_key_descending = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0);
    if take < keyed.len() {
        keyed.select_nth_unstable_by(take - 1, by_key_descending);
        keyed.truncate(take);
    }
    keyed.sort_unstable_by(by_key_descending);
    let chosen: Vec<Host> = keyed.iter().map(|(_, i)| hosts[*i].clone()).collect();
    debug_assert_eq!(chosen.len(), take);
    chosen
}

/// A uniform draw in (0, 1] from this core's xorshift64* state.
fn unit_open(state: &mut u64) -> f64 {
    debug_assert_ne!(*state, 0);
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    let bits = x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
    (bits as f64 + 1.0) / (1u64 << 53) as f64
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(ip: &str, weight: f64) -> Host {
        let ip: IpAddr = ip.parse().unwrap();
        Host {
            ip,
            port: 80,
            weight,
            address: RData::A(A("10.0.0.1".parse().unwrap())),
            txt: Arc::new(RData::TXT(TXT::new(vec![]))),
        }
    }

    fn lookup(want: Want, records_max: usize) -> Lookup {
        let key = ServiceKey::from_parts("public", "DEFAULT_GROUP", "s");
        Lookup {
            key,
            want,
            records_max,
        }
    }

    /// The first record follows the weights (1:3), within a loose bound over 40 000 draws.
    #[test]
    fn first_record_follows_weights() {
        let hosts = [host("10.0.0.1", 1.0), host("10.0.0.2", 3.0)];
        let mut rng = 0x1234_5678_9abc_def1;
        let mut second = 0usize;
        let draws = 40_000;
        for _ in 0..draws {
            let chosen = choose(&hosts, &lookup(Want::V4, 2), &mut rng);
            assert_eq!(chosen.len(), 2, "both hosts, without repeats");
            assert_ne!(chosen[0].ip, chosen[1].ip);
            second += usize::from(chosen[0].ip == hosts[1].ip);
        }
        let share = second as f64 / draws as f64;
        assert!((0.73..0.77).contains(&share), "share {share}");
    }

    /// The family filter and the record cap hold; nothing is chosen for `Existence`.
    #[test]
    fn family_and_cap() {
        let hosts = [
            host("10.0.0.1", 1.0),
            host("fd00::1", 1.0),
            host("10.0.0.2", 1.0),
        ];
        let mut rng = 7;
        assert_eq!(choose(&hosts, &lookup(Want::V4, 8), &mut rng).len(), 2);
        assert_eq!(choose(&hosts, &lookup(Want::V6, 8), &mut rng).len(), 1);
        assert_eq!(choose(&hosts, &lookup(Want::All, 2), &mut rng).len(), 2);
        assert!(choose(&hosts, &lookup(Want::Existence, 2), &mut rng).is_empty());
        for _ in 0..1000 {
            let x = unit_open(&mut rng);
            assert!(x > 0.0 && x <= 1.0);
        }
    }
}

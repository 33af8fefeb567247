//! The keyspace every scenario works over: `--services` services named `lg-svc-{i}`, each with
//! `--instances-per-service` instances at `10.a.b.c:8080`, plus the key distributions
//! (uniform, zipf) and the per-core partitions used for pre-registration and beats.

use std::sync::Arc;

use crate::limits::{KEYS_MAX, SERVICES_MAX};
use crate::rng::SplitMix64;

/// Port every generated instance registers with; the IP alone makes each key unique.
pub const INSTANCE_PORT: u16 = 8080;

/// Service names are `lg-svc-{index}` in the default group and namespace.
pub const SERVICE_NAME_PREFIX: &str = "lg-svc-";

/// The shape of the keyspace: key `k` is instance `k % instances_per_service` of service
/// `k / instances_per_service`, so keys of one service are contiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyspace {
    pub services: u64,
    pub instances_per_service: u64,
}

/// One instance of one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub service_index: u64,
    pub instance_index: u64,
}

impl Keyspace {
    pub fn new(services: u64, instances_per_service: u64) -> Result<Self, String> {
        if services == 0 || instances_per_service == 0 {
            return Err("--services and --instances-per-service must be at least 1".into());
        }
        if services > SERVICES_MAX {
            return Err(format!("--services is at most {SERVICES_MAX}"));
        }
        let keys = services.checked_mul(instances_per_service);
        match keys {
            Some(keys) if keys <= KEYS_MAX => Ok(Self {
                services,
                instances_per_service,
            }),
            _ => Err(format!(
                "services × instances-per-service is at most {KEYS_MAX}"
            )),
        }
    }

    pub fn keys_count(&self) -> u64 {
        self.services * self.instances_per_service
    }

    pub fn key(&self, key_index: u64) -> Key {
        assert!(
            key_index < self.keys_count(),
            "key {key_index} outside the keyspace"
        );
        Key {
            service_index: key_index / self.instances_per_service,
            instance_index: key_index % self.instances_per_service,
        }
    }

    pub fn key_index(&self, key: Key) -> u64 {
        debug_assert!(key.service_index < self.services);
        debug_assert!(key.instance_index < self.instances_per_service);
        key.service_index * self.instances_per_service + key.instance_index
    }

    /// The instance IP of a key: `10.a.b.c` from the 24 low bits of the key index.
    pub fn ip(&self, key: Key) -> [u8; 4] {
        let index = self.key_index(key);
        debug_assert!(index < KEYS_MAX);
        [10, (index >> 16) as u8, (index >> 8) as u8, index as u8]
    }
}

/// How random keys are drawn: the service from the distribution, the instance uniformly.
#[derive(Debug, Clone)]
pub enum KeyDist {
    Uniform,
    /// Service rank 0 (`lg-svc-0`) is the hottest.
    Zipf(Arc<ZipfTable>),
}

impl KeyDist {
    pub fn sample_key(&self, keyspace: &Keyspace, rng: &mut SplitMix64) -> Key {
        let service_index = match self {
            KeyDist::Uniform => rng.below(keyspace.services),
            KeyDist::Zipf(table) => table.sample(rng),
        };
        let instance_index = rng.below(keyspace.instances_per_service);
        debug_assert!(service_index < keyspace.services);
        Key {
            service_index,
            instance_index,
        }
    }
}

/// Zipf over ranks `0..n`: P(rank r) ∝ 1 / (r + 1)^exponent, sampled by binary search over a
/// precomputed cumulative table (n ≤ `SERVICES_MAX`, so at most 8 MiB, shared by all cores).
#[derive(Debug)]
pub struct ZipfTable {
    cumulative: Vec<f64>,
}

impl ZipfTable {
    pub fn new(n: u64, exponent: f64) -> Self {
        assert!(n > 0 && n <= SERVICES_MAX, "zipf over {n} ranks");
        assert!(exponent > 0.0, "zipf exponent must be positive");
        let mut cumulative = Vec::with_capacity(n as usize);
        let mut sum = 0.0f64;
        for rank in 0..n {
            sum += 1.0 / ((rank + 1) as f64).powf(exponent);
            cumulative.push(sum);
        }
        for value in &mut cumulative {
            *value /= sum;
        }
        debug_assert!((cumulative[cumulative.len() - 1] - 1.0).abs() < 1e-9);
        Self { cumulative }
    }

    pub fn sample(&self, rng: &mut SplitMix64) -> u64 {
        let u = rng.next_f64();
        let rank = self.cumulative.partition_point(|&c| c <= u);
        // u < 1.0 and the last entry is 1.0 (up to rounding), so the clamp only guards rounding.
        rank.min(self.cumulative.len() - 1) as u64
    }
}

/// Number of keys of `0..keys` owned by `core` when keys are dealt round-robin to `cores`.
pub fn partition_len(keys: u64, cores: u64, core: u64) -> u64 {
    assert!(core < cores, "core {core} of {cores}");
    keys / cores + u64::from(core < keys % cores)
}

/// The `position`-th key owned by `core`.
pub fn partition_key(cores: u64, core: u64, position: u64) -> u64 {
    debug_assert!(core < cores);
    core + cores * position
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Key indexes map to (service, instance) and back, and every key has a distinct IP.
    #[test]
    fn keys_round_trip_and_ips_are_unique() {
        let keyspace = Keyspace::new(7, 13).unwrap();
        let mut ips = HashSet::new();
        for index in 0..keyspace.keys_count() {
            let key = keyspace.key(index);
            assert_eq!(keyspace.key_index(key), index);
            assert!(ips.insert(keyspace.ip(key)));
        }
        assert_eq!(
            keyspace.key(13),
            Key {
                service_index: 1,
                instance_index: 0
            }
        );
        let large = Keyspace::new(1 << 8, 1 << 16).unwrap();
        assert_eq!(large.ip(large.key(0x01_02_03)), [10, 1, 2, 3]);
    }

    /// Keyspace bounds are enforced: empty and oversized keyspaces are refused.
    #[test]
    fn keyspace_limits() {
        assert!(Keyspace::new(0, 1).is_err());
        assert!(Keyspace::new(1, 0).is_err());
        assert!(Keyspace::new(SERVICES_MAX + 1, 1).is_err());
        assert!(Keyspace::new(1 << 12, 1 << 13).is_err());
        assert!(Keyspace::new(1 << 12, 1 << 12).is_ok());
    }

    /// Round-robin partitions cover every key exactly once, for even and uneven splits.
    #[test]
    fn partitions_cover_all_keys_once() {
        for (keys, cores) in [(10u64, 3u64), (9, 3), (2, 4), (1, 1)] {
            let mut seen = vec![0u32; keys as usize];
            for core in 0..cores {
                for position in 0..partition_len(keys, cores, core) {
                    seen[partition_key(cores, core, position) as usize] += 1;
                }
            }
            assert!(
                seen.iter().all(|&count| count == 1),
                "{keys}/{cores}: {seen:?}"
            );
        }
    }

    /// Sampling is deterministic per seed, and uniform sampling reaches every service.
    #[test]
    fn uniform_sampling_is_deterministic_and_covering() {
        let keyspace = Keyspace::new(50, 4).unwrap();
        let draw = |seed| {
            let mut rng = SplitMix64::new(seed, 3);
            (0..5_000)
                .map(|_| KeyDist::Uniform.sample_key(&keyspace, &mut rng))
                .collect::<Vec<_>>()
        };
        let first = draw(1);
        assert_eq!(first, draw(1));
        assert_ne!(first, draw(2));
        let services: HashSet<u64> = first.iter().map(|key| key.service_index).collect();
        assert_eq!(services.len(), 50);
        assert!(first.iter().all(|key| key.instance_index < 4));
    }

    /// Zipf(1.0) over 1000 ranks: rank 0 gets about 1/H(1000) ≈ 13.4 % of draws, rank 1 about
    /// half of that, and the top 10 ranks get far more than a uniform 1 %.
    #[test]
    fn zipf_is_skewed_as_expected() {
        let table = ZipfTable::new(1000, 1.0);
        let mut rng = SplitMix64::new(42, 0);
        let mut counts = vec![0u64; 1000];
        let draws = 200_000u64;
        for _ in 0..draws {
            counts[table.sample(&mut rng) as usize] += 1;
        }
        let share = |rank: usize| counts[rank] as f64 / draws as f64;
        assert!(
            (share(0) - 0.1336).abs() < 0.01,
            "rank 0 share {}",
            share(0)
        );
        assert!((share(0) / share(1) - 2.0).abs() < 0.2);
        let top_ten: f64 = (0..10).map(share).sum();
        assert!(top_ten > 0.35, "top-10 share {top_ten}");
        assert!(counts.iter().filter(|&&count| count > 0).count() > 900);
    }

    /// A one-rank zipf always returns rank 0.
    #[test]
    fn zipf_single_rank() {
        let table = ZipfTable::new(1, 1.0);
        let mut rng = SplitMix64::new(1, 1);
        assert!((0..100).all(|_| table.sample(&mut rng) == 0));
    }
}

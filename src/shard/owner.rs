//! Which core owns a service: a stable hash of (namespace, group, service) modulo the core
//! count. Stable across runs and machines (FNV-1a, not std's randomised hasher), so logs,
//! tests and, later, persisted placement agree on owners.

use crate::naming::key::ServiceKey;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// The owner core of `key` among `cores` cores.
pub fn owner_core(key: &ServiceKey, cores: usize) -> usize {
    owner_of_parts(&[key.namespace(), key.group(), key.service()], cores)
}

/// The owner core of a key made of `parts` (a service's or a config's) among `cores` cores.
pub fn owner_of_parts(parts: &[&str], cores: usize) -> usize {
    assert!(cores > 0, "a server has at least one core");
    if cores == 1 {
        return 0;
    }
    // A 0xFF separator cannot occur in UTF-8, so ("ab","c") and ("a","bc") hash differently.
    let mut hash = FNV_OFFSET_BASIS;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hash = fnv1a(hash, &[0xFF]);
        }
        hash = fnv1a(hash, part.as_bytes());
    }
    let owner = (hash % cores as u64) as usize;
    debug_assert!(owner < cores);
    owner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, group: &str, service: &str) -> ServiceKey {
        ServiceKey::from_parts(ns, group, service)
    }

    /// The hash is a fixed function: these values must never change between releases.
    #[test]
    fn owner_is_stable() {
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b""), FNV_OFFSET_BASIS);
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b"a"), 0xaf63_dc4c_8601_ec8c);
        let k = key("public", "DEFAULT_GROUP", "orders");
        assert_eq!(owner_core(&k, 1), 0);
        assert_eq!(owner_core(&k, 7), owner_core(&k.clone(), 7));
    }

    /// Field boundaries matter, and services spread over cores.
    #[test]
    fn owner_spreads_and_separates_fields() {
        let a = key("public", "ab", "c");
        let b = key("public", "a", "bc");
        let mut differ = false;
        for cores in 2..64 {
            differ |= owner_core(&a, cores) != owner_core(&b, cores);
        }
        assert!(differ);
        let mut per_core = [0usize; 4];
        for i in 0..4000 {
            per_core[owner_core(&key("public", "DEFAULT_GROUP", &format!("svc-{i}")), 4)] += 1;
        }
        for count in per_core {
            assert!((800..1200).contains(&count), "uneven spread: {per_core:?}");
        }
    }
}

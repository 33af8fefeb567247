//! Record ordering and digests: how two stamps of the same record compare, which verify
//! bucket a record falls in, and the order-free digest of a bucket.

pub use crate::naming::client::{ClientId, MemberIndex, Origin, RecordKey};

/// Verify buckets of a record key (stable across members, whatever their core counts).
pub trait Bucketed {
    fn bucket(&self) -> u16;
    fn stable_hash(&self) -> u64;
}

impl Bucketed for RecordKey {
    /// The verify bucket of the record: a stable hash of its service and client, so every
    /// member puts a record in the same bucket whatever its core count.
    fn bucket(&self) -> u16 {
        (self.stable_hash() % u64::from(DIGEST_BUCKETS)) as u16
    }

    /// FNV-1a over the key's fields, with separators; stable across runs and machines.
    fn stable_hash(&self) -> u64 {
        let mut hash = Fnv::new();
        hash.bytes(self.service.namespace().as_bytes());
        hash.bytes(&[0xFF]);
        hash.bytes(self.service.group().as_bytes());
        hash.bytes(&[0xFF]);
        hash.bytes(self.service.service().as_bytes());
        hash.bytes(&[0xFE]);
        match &self.client {
            ClientId::Http { ip, port } => {
                hash.bytes(b"h");
                hash.bytes(ip.as_bytes());
                hash.bytes(&port.to_le_bytes());
            }
            ClientId::Connection { origin, connection } => {
                hash.bytes(b"c");
                hash.bytes(&origin.member.to_le_bytes());
                hash.bytes(&origin.incarnation.to_le_bytes());
                hash.bytes(&connection.to_le_bytes());
            }
        }
        hash.finish()
    }
}

/// Verify digests cover this many buckets per origin; a mismatch resends one bucket.
pub const DIGEST_BUCKETS: u16 = 4096;

/// The version of a record and the member run that made it. Stamps order records: the higher
/// stamp wins on every member (version first, then origin, so ties never stay undecided).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stamp {
    pub version: u64,
    pub origin: Origin,
}

impl Stamp {
    /// The digest contribution of a record with this stamp.
    pub fn digest(&self, key_hash: u64) -> u64 {
        let mut hash = Fnv::new();
        hash.bytes(&key_hash.to_le_bytes());
        hash.bytes(&self.version.to_le_bytes());
        hash.bytes(&self.origin.member.to_le_bytes());
        hash.bytes(&self.origin.incarnation.to_le_bytes());
        hash.finish()
    }
}

/// The digest of one bucket: XOR of its records' digests (order-free, updated in O(1)) and
/// their count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketDigest {
    pub xor: u64,
    pub count: u32,
}

impl BucketDigest {
    pub fn add(&mut self, digest: u64) {
        self.xor ^= digest;
        self.count += 1;
    }

    pub fn remove(&mut self, digest: u64) {
        debug_assert!(self.count > 0, "removing from an empty bucket");
        self.xor ^= digest;
        self.count = self.count.saturating_sub(1);
    }

    pub fn merge(&mut self, other: BucketDigest) {
        self.xor ^= other.xor;
        self.count += other.count;
    }
}

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(FNV_OFFSET_BASIS)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::key::ServiceKey;

    fn key(ip: &str) -> RecordKey {
        RecordKey {
            service: ServiceKey::from_parts("public", "DEFAULT_GROUP", "svc"),
            client: ClientId::Http {
                ip: ip.into(),
                port: 80,
            },
        }
    }

    /// Stamps order by version, then origin; buckets are stable and in range.
    #[test]
    fn stamps_and_buckets() {
        let a = Origin {
            member: 0,
            incarnation: 5,
        };
        let b = Origin {
            member: 1,
            incarnation: 1,
        };
        let low = Stamp {
            version: 1,
            origin: b,
        };
        let high = Stamp {
            version: 2,
            origin: a,
        };
        assert!(high > low);
        assert!(
            Stamp {
                version: 1,
                origin: b
            } > Stamp {
                version: 1,
                origin: a
            }
        );
        assert_eq!(key("10.0.0.1").bucket(), key("10.0.0.1").bucket());
        assert!(key("10.0.0.1").bucket() < DIGEST_BUCKETS);
        assert_ne!(key("10.0.0.1").stable_hash(), key("10.0.0.2").stable_hash());
        let mut digest = BucketDigest::default();
        digest.add(7);
        digest.add(9);
        digest.remove(7);
        assert_eq!(digest, BucketDigest { xor: 9, count: 1 });
    }
}

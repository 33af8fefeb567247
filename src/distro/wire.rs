//! Distro records and digests to and from `proto/cluster.proto`. Everything a peer sends is
//! checked here: names as a client's would be, instance specs later by the registry; an item
//! that fails is dropped, never half-applied.

use crate::cluster::proto;
use crate::distro::record::{BucketDigest, ClientId, Origin, RecordKey, Stamp, DIGEST_BUCKETS};
use crate::distro::shard::Item;
use crate::naming::instance::InstanceSpec;
use crate::naming::key::ServiceKey;

/// The value a record carries between members: its instances.
pub type Value = Vec<InstanceSpec>;

pub fn origin_to_wire(origin: Origin) -> proto::Origin {
    proto::Origin {
        member: u32::from(origin.member),
        incarnation: origin.incarnation,
    }
}

pub fn origin_from_wire(origin: Option<&proto::Origin>) -> Option<Origin> {
    let origin = origin?;
    Some(Origin {
        member: u16::try_from(origin.member).ok()?,
        incarnation: origin.incarnation,
    })
}

pub fn item_to_wire(item: &Item<Value>) -> proto::DistroItem {
    let (key, stamp, instances_json, delete) = match item {
        Item::Put { key, stamp, value } => {
            let json = serde_json::to_vec(value).unwrap_or_else(|_| b"[]".to_vec());
            (key, stamp, json, false)
        }
        Item::Delete { key, stamp } => (key, stamp, Vec::new(), true),
    };
    let mut wire = proto::DistroItem {
        namespace: key.service.namespace().to_string(),
        group: key.service.group().to_string(),
        service: key.service.service().to_string(),
        version: stamp.version,
        origin: Some(origin_to_wire(stamp.origin)),
        delete,
        instances_json,
        ..Default::default()
    };
    match &key.client {
        ClientId::Http { ip, port } => {
            wire.ip = ip.to_string();
            wire.port = u32::from(*port);
        }
        ClientId::Connection { origin, connection } => {
            wire.connection_origin = Some(origin_to_wire(*origin));
            wire.connection = *connection;
        }
    }
    wire
}

/// A peer's item, if it is well formed.
pub fn item_from_wire(wire: proto::DistroItem) -> Option<Item<Value>> {
    let service =
        ServiceKey::parse(Some(&wire.namespace), Some(&wire.group), &wire.service).ok()?;
    let client = match origin_from_wire(wire.connection_origin.as_ref()) {
        Some(origin) => ClientId::Connection {
            origin,
            connection: wire.connection,
        },
        None => {
            crate::naming::key::check_ip(&wire.ip).ok()?;
            ClientId::Http {
                ip: wire.ip.as_str().into(),
                port: u16::try_from(wire.port).ok()?,
            }
        }
    };
    let stamp = Stamp {
        version: wire.version,
        origin: origin_from_wire(wire.origin.as_ref())?,
    };
    let key = RecordKey { service, client };
    if wire.delete {
        return Some(Item::Delete { key, stamp });
    }
    let value: Value = serde_json::from_slice(&wire.instances_json).ok()?;
    Some(Item::Put { key, stamp, value })
}

pub fn digests_to_wire(from: Origin, digests: &[BucketDigest]) -> proto::DistroVerify {
    proto::DistroVerify {
        from: Some(origin_to_wire(from)),
        xor: digests.iter().map(|d| d.xor).collect(),
        count: digests.iter().map(|d| d.count).collect(),
    }
}

/// The digests of a verify; a list of the wrong length comes back as it is, and the
/// comparison counts what it does not cover as different.
pub fn digests_from_wire(verify: &proto::DistroVerify) -> Vec<BucketDigest> {
    verify
        .xor
        .iter()
        .zip(verify.count.iter())
        .take(usize::from(DIGEST_BUCKETS))
        .map(|(&xor, &count)| BucketDigest { xor, count })
        .collect()
}

/// Bucket numbers from a peer, in range and without repeats.
pub fn buckets_from_wire(buckets: &[u32]) -> Vec<u16> {
    let mut out: Vec<u16> = buckets
        .iter()
        .filter_map(|&b| u16::try_from(b).ok())
        .filter(|&b| b < DIGEST_BUCKETS)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items survive the wire both ways; malformed ones are dropped.
    #[test]
    fn items_round_trip() {
        let origin = Origin {
            member: 2,
            incarnation: 9,
        };
        let key = RecordKey {
            service: ServiceKey::from_parts("public", "DEFAULT_GROUP", "svc"),
            client: ClientId::Connection {
                origin,
                connection: 77,
            },
        };
        let spec = InstanceSpec {
            ip: "10.0.0.1".into(),
            port: 80,
            cluster: "DEFAULT".into(),
            weight: 1.0,
            healthy: true,
            enabled: true,
            ephemeral: true,
            metadata: Default::default(),
        };
        let item = Item::Put {
            key: key.clone(),
            stamp: Stamp { version: 5, origin },
            value: vec![spec],
        };
        assert_eq!(item_from_wire(item_to_wire(&item)), Some(item));
        let delete = Item::Delete {
            key,
            stamp: Stamp { version: 6, origin },
        };
        assert_eq!(item_from_wire(item_to_wire(&delete)), Some(delete));
        let mut bad = proto::DistroItem {
            service: "svc".into(),
            ip: "not an ip".into(),
            origin: Some(origin_to_wire(origin)),
            ..Default::default()
        };
        assert!(item_from_wire(bad.clone()).is_none());
        bad.ip = "10.0.0.1".into();
        bad.instances_json = b"{oops".to_vec();
        assert!(item_from_wire(bad).is_none());
        assert_eq!(buckets_from_wire(&[3, 3, 1, 70_000, 4_096]), vec![1, 3]);
    }
}

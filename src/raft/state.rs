//! The state machine tables as LMDB keys and values: each `DurableRecord` is one key (a kind
//! byte and the record's identity, NUL-separated) with a JSON value; the `No*` records delete
//! their key. Rebuilding memory at start reads them back in a safe order.

use crate::naming::instance::InstanceSpec;
use crate::naming::key::ServiceKey;
use crate::naming::op::{DurableRecord, ServiceSpec};
use crate::naming::service::InstanceOverlay;

const SERVICE: u8 = b's';
const INSTANCE: u8 = b'i';
const OVERLAY: u8 = b'o';
const SWITCH: u8 = b'w';
const CLUSTER: u8 = b'c';
const SEPARATOR: u8 = 0;

/// What a record does to the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableChange {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

pub(crate) fn key_of(kind: u8, parts: &[&str]) -> Vec<u8> {
    let mut key = vec![kind];
    for part in parts {
        debug_assert!(
            !part.as_bytes().contains(&SEPARATOR),
            "names never hold NUL"
        );
        key.push(SEPARATOR);
        key.extend_from_slice(part.as_bytes());
    }
    key
}

fn service_parts(key: &ServiceKey) -> [&str; 3] {
    [key.namespace(), key.group(), key.service()]
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Plain data structs of strings, numbers and maps always serialise.
    serde_json::to_vec(value).unwrap_or_default()
}

pub fn change_of(record: &DurableRecord) -> TableChange {
    match record {
        DurableRecord::Service { spec } => {
            TableChange::Put(key_of(SERVICE, &service_parts(&spec.key)), json(spec))
        }
        DurableRecord::NoService { key } => {
            TableChange::Delete(key_of(SERVICE, &service_parts(key)))
        }
        DurableRecord::Instance { key, spec } => {
            TableChange::Put(instance_key(key, &spec.ip, spec.port), json(spec))
        }
        DurableRecord::NoInstance { key, ip, port } => {
            TableChange::Delete(instance_key(key, ip, *port))
        }
        DurableRecord::Overlay {
            key,
            ip,
            port,
            cluster,
            overlay,
        } => TableChange::Put(overlay_key(key, ip, *port, cluster), json(overlay)),
        DurableRecord::NoOverlay {
            key,
            ip,
            port,
            cluster,
        } => TableChange::Delete(overlay_key(key, ip, *port, cluster)),
        DurableRecord::Switch { entry, value } => {
            TableChange::Put(key_of(SWITCH, &[entry]), value.as_bytes().to_vec())
        }
        DurableRecord::Cluster {
            key,
            cluster,
            config,
        } => {
            let [ns, group, service] = service_parts(key);
            TableChange::Put(
                key_of(CLUSTER, &[ns, group, service, cluster]),
                json(config),
            )
        }
    }
}

fn instance_key(key: &ServiceKey, ip: &str, port: u16) -> Vec<u8> {
    let [ns, group, service] = service_parts(key);
    key_of(INSTANCE, &[ns, group, service, ip, &port.to_string()])
}

fn overlay_key(key: &ServiceKey, ip: &str, port: u16, cluster: &str) -> Vec<u8> {
    let [ns, group, service] = service_parts(key);
    key_of(
        OVERLAY,
        &[ns, group, service, ip, &port.to_string(), cluster],
    )
}

pub(crate) fn parts_of(key: &[u8]) -> Option<Vec<String>> {
    let rest = key.get(2..)?;
    rest.split(|b| *b == SEPARATOR)
        .map(|p| String::from_utf8(p.to_vec()).ok())
        .collect()
}

fn service_key_of(parts: &[String]) -> Option<ServiceKey> {
    Some(ServiceKey::from_parts(
        parts.first()?,
        parts.get(1)?,
        parts.get(2)?,
    ))
}

/// Decodes one stored entry; `None` for entries this version does not know (skipped).
pub fn record_of(key: &[u8], value: &[u8]) -> Option<DurableRecord> {
    let kind = *key.first()?;
    if kind == SWITCH {
        let entry = parts_of(key)?.into_iter().next()?;
        let value = String::from_utf8(value.to_vec()).ok()?;
        return Some(DurableRecord::Switch { entry, value });
    }
    let parts = parts_of(key)?;
    let service = service_key_of(&parts)?;
    match kind {
        SERVICE => {
            let spec: ServiceSpec = serde_json::from_slice(value).ok()?;
            Some(DurableRecord::Service { spec })
        }
        INSTANCE => {
            let spec: InstanceSpec = serde_json::from_slice(value).ok()?;
            Some(DurableRecord::Instance { key: service, spec })
        }
        CLUSTER => {
            let config = serde_json::from_slice(value).ok()?;
            let cluster = parts.get(3)?.clone();
            Some(DurableRecord::Cluster {
                key: service,
                cluster,
                config,
            })
        }
        OVERLAY => {
            let overlay: InstanceOverlay = serde_json::from_slice(value).ok()?;
            let ip = parts.get(3)?.clone();
            let port = parts.get(4)?.parse().ok()?;
            let cluster = parts.get(5)?.clone();
            Some(DurableRecord::Overlay {
                key: service,
                ip,
                port,
                cluster,
                overlay,
            })
        }
        _ => None,
    }
}

/// Stored records in the order that rebuilds memory correctly: switches and services first,
/// then instances (which create implicit services), then overlays.
pub fn restore_order(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<DurableRecord> {
    let rank = |key: &[u8]| match key.first() {
        Some(&SWITCH) => 0,
        Some(&SERVICE) => 1,
        Some(&CLUSTER) => 2,
        Some(&INSTANCE) => 2,
        _ => 3,
    };
    let mut entries = entries;
    entries.sort_by_key(|(k, _)| rank(k));
    entries
        .iter()
        .filter_map(|(k, v)| {
            let record = record_of(k, v);
            if record.is_none() {
                let key = String::from_utf8_lossy(k);
                tracing::warn!(%key, "skipping an unreadable stored record");
            }
            record
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ServiceKey {
        ServiceKey::parse(Some("dev"), Some("G"), "orders").unwrap()
    }

    fn put(record: &DurableRecord) -> (Vec<u8>, Vec<u8>) {
        match change_of(record) {
            TableChange::Put(k, v) => (k, v),
            TableChange::Delete(_) => panic!("expected a put for {record:?}"),
        }
    }

    /// Every record kind round-trips through its key and value; deletions hit the same key;
    /// restore order is switches, services, instances, overlays.
    #[test]
    fn records_round_trip() {
        let spec = InstanceSpec {
            ip: "10.0.0.1".into(),
            port: 80,
            cluster: "c1".into(),
            weight: 2.0,
            healthy: true,
            enabled: true,
            ephemeral: false,
            metadata: [("a".to_string(), "b".to_string())].into_iter().collect(),
        };
        let service = ServiceSpec {
            key: key(),
            protect_threshold: 0.5,
            metadata: Default::default(),
            selector: Default::default(),
            ephemeral: false,
        };
        let overlay = InstanceOverlay {
            weight: 3.0,
            enabled: false,
            metadata: Default::default(),
        };
        let records = vec![
            DurableRecord::Overlay {
                key: key(),
                ip: "10.0.0.1".into(),
                port: 80,
                cluster: "c1".into(),
                overlay,
            },
            DurableRecord::Instance { key: key(), spec },
            DurableRecord::Service { spec: service },
            DurableRecord::Switch {
                entry: "clientBeatInterval".into(),
                value: "7000".into(),
            },
        ];
        for record in &records {
            let (k, v) = put(record);
            assert_eq!(record_of(&k, &v).as_ref(), Some(record));
        }
        let gone = DurableRecord::NoInstance {
            key: key(),
            ip: "10.0.0.1".into(),
            port: 80,
        };
        assert_eq!(change_of(&gone), TableChange::Delete(put(&records[1]).0));
        let ordered = restore_order(records.iter().map(put).collect());
        assert!(matches!(ordered[0], DurableRecord::Switch { .. }));
        assert!(matches!(ordered[1], DurableRecord::Service { .. }));
        assert!(matches!(ordered[2], DurableRecord::Instance { .. }));
        assert!(matches!(ordered[3], DurableRecord::Overlay { .. }));
    }
}

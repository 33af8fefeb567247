//! JSON encodings of naming data shared by every protocol: the `Instance` of Nacos
//! (`api/naming/pojo/Instance`, with its computed heartbeat getters) and the `ServiceInfo`
//! envelope around a cached `hosts` array (nacos-protocol.md §0.3, §0.4).

use serde::Serialize;

use crate::naming::instance::{Instance, Metadata, META_ID_GENERATOR};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceJson<'a> {
    instance_id: String,
    ip: &'a str,
    port: u16,
    weight: f64,
    healthy: bool,
    enabled: bool,
    ephemeral: bool,
    cluster_name: &'a str,
    service_name: &'a str,
    metadata: &'a Metadata,
    instance_heart_beat_interval: u64,
    instance_heart_beat_time_out: u64,
    ip_delete_timeout: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_id_generator: Option<&'a str>,
}

/// Encodes `hosts` as a JSON array. `shown_healthy` is the value selection decided to show.
pub fn encode_hosts<'a>(
    hosts: impl Iterator<Item = (&'a Instance, bool)>,
    grouped_service: &str,
) -> Vec<u8> {
    let items: Vec<InstanceJson> = hosts
        .map(|(instance, shown_healthy)| instance_json(instance, shown_healthy, grouped_service))
        .collect();
    // Serialising plain structs of strings, numbers and string maps cannot fail.
    serde_json::to_vec(&items).unwrap_or_else(|_| b"[]".to_vec())
}

fn instance_json<'a>(
    instance: &'a Instance,
    shown_healthy: bool,
    grouped_service: &'a str,
) -> InstanceJson<'a> {
    // Jackson's getter yields "simple" for empty metadata and null (omitted) otherwise.
    let generator = match instance.metadata.get(META_ID_GENERATOR) {
        Some(value) => Some(value.as_str()),
        None if instance.metadata.is_empty() => Some("simple"),
        None => None,
    };
    InstanceJson {
        instance_id: instance.instance_id(grouped_service),
        ip: &instance.ip,
        port: instance.port,
        weight: instance.weight,
        healthy: shown_healthy,
        enabled: instance.enabled,
        ephemeral: instance.ephemeral,
        cluster_name: &instance.cluster,
        service_name: grouped_service,
        metadata: &instance.metadata,
        instance_heart_beat_interval: instance.timing.interval_ms,
        instance_heart_beat_time_out: instance.timing.timeout_ms,
        ip_delete_timeout: instance.timing.delete_timeout_ms,
        instance_id_generator: generator,
    }
}

/// The fields of a `ServiceInfo` around its `hosts`.
pub struct ServiceInfoHead<'a> {
    /// Grouped for HTTP (`group@@name`), plain for gRPC.
    pub name: &'a str,
    /// `None` omits `groupName` (UDP push does).
    pub group: Option<&'a str>,
    pub clusters: &'a str,
    pub cache_millis: u64,
    pub last_ref_time_ms: u64,
    pub reach_protection: bool,
}

/// Assembles a `ServiceInfo` JSON object around an already encoded `hosts` array, so cached
/// hosts are never re-encoded and `lastRefTime` is always fresh.
pub fn encode_service_info(head: &ServiceInfoHead, hosts_json: &[u8]) -> Vec<u8> {
    let mut out = service_info_before_hosts(head);
    let after = service_info_after_hosts(head.last_ref_time_ms, head.reach_protection);
    out.reserve(hosts_json.len() + after.len());
    out.extend_from_slice(hosts_json);
    out.extend_from_slice(&after);
    out
}

/// The JSON of a `ServiceInfo` up to its `hosts` array, for callers that send the cached array
/// itself after it (without copying it). `last_ref_time_ms` and `reach_protection` of `head`
/// belong to `service_info_after_hosts`.
pub fn service_info_before_hosts(head: &ServiceInfoHead) -> Vec<u8> {
    let mut before = Vec::with_capacity(96 + head.name.len() + head.clusters.len());
    before.extend_from_slice(b"{\"name\":");
    push_json_str(&mut before, head.name);
    if let Some(group) = head.group {
        before.extend_from_slice(b",\"groupName\":");
        push_json_str(&mut before, group);
    }
    before.extend_from_slice(b",\"clusters\":");
    push_json_str(&mut before, head.clusters);
    before.extend_from_slice(b",\"cacheMillis\":");
    before.extend_from_slice(itoa::Buffer::new().format(head.cache_millis).as_bytes());
    before.extend_from_slice(b",\"hosts\":");
    before
}

/// The JSON of a `ServiceInfo` after its `hosts` array.
pub fn service_info_after_hosts(last_ref_time_ms: u64, reach_protection: bool) -> Vec<u8> {
    let mut after = Vec::with_capacity(160);
    after.extend_from_slice(b",\"lastRefTime\":");
    after.extend_from_slice(itoa::Buffer::new().format(last_ref_time_ms).as_bytes());
    after.extend_from_slice(
        b",\"checksum\":\"\",\"allIPs\":false,\"allIps\":false,\"reachProtectionThreshold\":",
    );
    after.extend_from_slice(if reach_protection {
        b"true".as_slice()
    } else {
        b"false".as_slice()
    });
    after.extend_from_slice(b",\"valid\":true}");
    after
}

/// Appends `s` as a JSON string literal, escaped as serde_json escapes it.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..i]);
        plain_from = i + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::instance::BeatTiming;

    fn instance(metadata: Metadata) -> Instance {
        Instance {
            ip: "10.0.0.1".into(),
            port: 8080,
            cluster: std::rc::Rc::from("DEFAULT"),
            weight: 1.0,
            healthy: true,
            enabled: true,
            ephemeral: true,
            metadata: std::rc::Rc::new(metadata),
            timing: BeatTiming::DEFAULT,
            last_beat_ms: 0,
            timer_epoch: 0,
            owner: crate::naming::instance::Owner::Http,
            probe_failures: 0,
            probe_passes: 0,
            version: 0,
            replica: false,
        }
    }

    /// Instances carry the Nacos id, the computed heartbeat fields and the id generator.
    #[test]
    fn instance_fields() {
        let i = instance(Metadata::new());
        let json = encode_hosts([(&i, true)].into_iter(), "DEFAULT_GROUP@@orders");
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let h = &v[0];
        assert_eq!(
            h["instanceId"],
            "10.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@orders"
        );
        assert_eq!(h["serviceName"], "DEFAULT_GROUP@@orders");
        assert_eq!(h["weight"], 1.0);
        assert_eq!(h["instanceHeartBeatInterval"], 5000);
        assert_eq!(h["instanceHeartBeatTimeOut"], 15000);
        assert_eq!(h["ipDeleteTimeout"], 30000);
        assert_eq!(h["instanceIdGenerator"], "simple");
        let mut m = Metadata::new();
        m.insert("k".into(), "v".into());
        let i = instance(m);
        let json = encode_hosts([(&i, false)].into_iter(), "G@@s");
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert!(v[0].get("instanceIdGenerator").is_none());
        assert_eq!(v[0]["healthy"], false);
    }

    /// The envelope is valid JSON with escaped strings and the given hosts.
    #[test]
    fn service_info_envelope() {
        let head = ServiceInfoHead {
            name: "G@@a\"b",
            group: Some("G"),
            clusters: "A,B",
            cache_millis: 10_000,
            last_ref_time_ms: 42,
            reach_protection: true,
        };
        let out = encode_service_info(&head, b"[]");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["name"], "G@@a\"b");
        assert_eq!(v["groupName"], "G");
        assert_eq!(v["clusters"], "A,B");
        assert_eq!(v["cacheMillis"], 10_000);
        assert_eq!(v["lastRefTime"], 42);
        assert_eq!(v["reachProtectionThreshold"], true);
        assert_eq!(v["valid"], true);
        assert_eq!(v["hosts"], serde_json::json!([]));
    }

    /// Strings are escaped byte for byte as serde_json escapes them.
    #[test]
    fn json_strings_escape_like_serde() {
        for s in [
            "plain",
            "q\"b\\s",
            "nl\n\r\t\u{8}\u{c}",
            "\u{1}\u{1f}x",
            "中文 ✓",
            "",
        ] {
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }
}

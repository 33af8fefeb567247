//! The Nacos gRPC request bodies the scenarios send (nacos-protocol.md §3.3, §3.4; the config
//! requests of nacos-config-protocol.md §4), the replies to the server's stream requests, and
//! the checks of what comes back. Bodies are the
//! Java client's JSON, written directly (names and IPs here are plain ASCII, nothing to escape);
//! replies are judged by scanning for the few fields that matter.

use std::fmt::Write as _;

use crate::keyspace::SERVICE_NAME_PREFIX;
use crate::scenario::config::{DATA_ID_PREFIX, GROUP};
use crate::scenario::http::json_integer_field;
use crate::stats::ErrorKind;

/// Metadata key of the churn sequence number in `grpc-subscribe-push` instances: the push that
/// carries `"lg.seq":"N"` reflects churn change N.
pub const CHURN_SEQUENCE_KEY: &str = "lg.seq";

/// The client version a Java 2.5.1 SDK announces at setup.
const CLIENT_VERSION: &str = "Nacos-Java-Client:v2.5.1";

/// `ServerCheckRequest`, `HealthCheckRequest`: the base request with no extra fields.
pub fn internal_request() -> Vec<u8> {
    br#"{"headers":{},"module":"internal"}"#.to_vec()
}

/// Which SDK module a connection belongs to (its `module` label at setup): the Java client
/// keeps one connection per module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Module {
    Naming,
    Config,
}

impl Module {
    pub fn label(&self) -> &'static str {
        match self {
            Module::Naming => "naming",
            Module::Config => "config",
        }
    }
}

/// `ConnectionSetupRequest` of a naming SDK connection.
pub fn connection_setup() -> Vec<u8> {
    connection_setup_for(Module::Naming)
}

/// `ConnectionSetupRequest` of an SDK connection of `module`.
pub fn connection_setup_for(module: Module) -> Vec<u8> {
    let label = module.label();
    format!(
        "{{\"clientVersion\":\"{CLIENT_VERSION}\",\"tenant\":\"\",\
         \"labels\":{{\"source\":\"sdk\",\"module\":\"{label}\"}},\"abilityTable\":{{}},\
         \"headers\":{{}},\"module\":\"internal\"}}"
    )
    .into_bytes()
}

/// `ConfigQueryRequest` of config `lg-cfg-{config_index}` in the default namespace.
pub fn config_query(config_index: u64) -> Vec<u8> {
    format!(
        "{{\"headers\":{{}},\"dataId\":\"{DATA_ID_PREFIX}{config_index}\",\"group\":\"{GROUP}\",\
         \"tenant\":\"\",\"module\":\"config\"}}"
    )
    .into_bytes()
}

/// `ConfigBatchListenRequest` listening to config `lg-cfg-{config_index}` with the md5 the
/// listener holds (nacos-config-protocol.md §4.4).
pub fn config_batch_listen(config_index: u64, md5: &str) -> Vec<u8> {
    debug_assert!(md5.bytes().all(|byte| byte.is_ascii_hexdigit()));
    format!(
        "{{\"headers\":{{}},\"listen\":true,\"configListenContexts\":[{{\
         \"dataId\":\"{DATA_ID_PREFIX}{config_index}\",\"group\":\"{GROUP}\",\
         \"md5\":\"{md5}\",\"tenant\":\"\"}}],\"module\":\"config\"}}"
    )
    .into_bytes()
}

/// Whether a `ConfigChangeNotifyRequest` is about config `lg-cfg-{config_index}`.
pub fn notifies_config(body: &[u8], config_index: u64) -> bool {
    let Some(data_id) = json_string_field(body, "dataId") else {
        return false;
    };
    let index = data_id.strip_prefix(DATA_ID_PREFIX);
    let same_group = json_string_field(body, "group") == Some(GROUP);
    same_group && index.and_then(|index| index.parse::<u64>().ok()) == Some(config_index)
}

/// The naming request base: namespace, un-grouped service name, group.
fn naming_base(out: &mut String, service_index: u64) {
    let _ = write!(
        out,
        "{{\"headers\":{{}},\"namespace\":\"public\",\
         \"serviceName\":\"{SERVICE_NAME_PREFIX}{service_index}\",\"groupName\":\"DEFAULT_GROUP\","
    );
}

/// `InstanceRequest` registering `ip:port` in `lg-svc-{service_index}`; `sequence` adds the
/// churn sequence number to the instance metadata.
pub fn register_instance(
    service_index: u64,
    ip: [u8; 4],
    port: u16,
    sequence: Option<u64>,
) -> Vec<u8> {
    let mut out = String::with_capacity(384);
    naming_base(&mut out, service_index);
    let [a, b, c, d] = ip;
    let _ = write!(
        out,
        "\"type\":\"registerInstance\",\"module\":\"naming\",\"instance\":{{\
         \"ip\":\"{a}.{b}.{c}.{d}\",\"port\":{port},\"weight\":1.0,\"healthy\":true,\
         \"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\",\"metadata\":{{"
    );
    if let Some(sequence) = sequence {
        let _ = write!(out, "\"{CHURN_SEQUENCE_KEY}\":\"{sequence}\"");
    }
    out.push_str("}}}");
    out.into_bytes()
}

/// `BatchInstanceRequest` (`batchRegisterInstance`): the connection's instances in
/// `lg-svc-{service_index}` become `instances` (`ip`, `port`), ephemeral, no metadata.
pub fn batch_register_instances(service_index: u64, instances: &[([u8; 4], u16)]) -> Vec<u8> {
    let mut out = String::with_capacity(160 + instances.len() * 160);
    naming_base(&mut out, service_index);
    out.push_str("\"type\":\"batchRegisterInstance\",\"module\":\"naming\",\"instances\":[");
    for (index, ([a, b, c, d], port)) in instances.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"ip\":\"{a}.{b}.{c}.{d}\",\"port\":{port},\"weight\":1.0,\"healthy\":true,\
             \"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\",\"metadata\":{{}}}}"
        );
    }
    out.push_str("]}");
    out.into_bytes()
}

/// `ServiceQueryRequest` of `lg-svc-{service_index}`, every cluster, healthy or not.
pub fn service_query(service_index: u64) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    naming_base(&mut out, service_index);
    out.push_str("\"cluster\":\"\",\"healthyOnly\":false,\"udpPort\":0,\"module\":\"naming\"}");
    out.into_bytes()
}

/// `SubscribeServiceRequest` subscribing to `lg-svc-{service_index}`, every cluster.
pub fn subscribe_service(service_index: u64) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    naming_base(&mut out, service_index);
    out.push_str("\"subscribe\":true,\"clusters\":\"\",\"module\":\"naming\"}");
    out.into_bytes()
}

/// Whether a server request on the stream is a push the scenario sees (`on_push`): a naming
/// `NotifySubscriberRequest` or a config `ConfigChangeNotifyRequest`.
pub fn is_push(request_kind: &str) -> bool {
    matches!(
        request_kind,
        "NotifySubscriberRequest" | "ConfigChangeNotifyRequest"
    )
}

/// The reply on the stream to a server request (`NotifySubscriberResponse`,
/// `ClientDetectionResponse`, `ConnectResetResponse`, `ConfigChangeNotifyResponse`): success, with its `requestId` echoed.
pub fn stream_reply(request_id: &str) -> Vec<u8> {
    debug_assert!(request_id.bytes().all(|byte| byte != b'"' && byte != b'\\'));
    format!(
        "{{\"requestId\":\"{request_id}\",\"resultCode\":200,\"errorCode\":0,\"success\":true}}"
    )
    .into_bytes()
}

/// The reply type a server request on the stream gets, or `None` when it needs no reply
/// (`SetupAckRequest`) or is unknown to us.
pub fn stream_reply_kind(request_kind: &str) -> Option<&'static str> {
    match request_kind {
        "NotifySubscriberRequest" => Some("NotifySubscriberResponse"),
        "ClientDetectionRequest" => Some("ClientDetectionResponse"),
        "ConnectResetRequest" => Some("ConnectResetResponse"),
        "ConfigChangeNotifyRequest" => Some("ConfigChangeNotifyResponse"),
        _ => None,
    }
}

/// Judges a unary reply: it must have the expected type and `resultCode` 200. An
/// `ErrorResponse` or a failed result is a Nacos error; any other type is a protocol error.
pub fn check_reply(expected_kind: &str, kind: &str, body: &[u8]) -> Result<(), ErrorKind> {
    if kind != expected_kind {
        return Err(if kind == "ErrorResponse" {
            ErrorKind::Nacos
        } else {
            ErrorKind::Protocol
        });
    }
    if json_integer_field(body, b"resultCode") == Some(200) {
        Ok(())
    } else {
        Err(ErrorKind::Nacos)
    }
}

/// The value of the first `"name":"value"` string field in a JSON object, found by scanning
/// (used for `requestId`, which is a decimal string without escapes).
pub fn json_string_field<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    let after = value_after_key(body, name, 0)?;
    string_value(&body[after..])
}

/// Whether a `ServerCheckResponse` announces ability negotiation (the server then sends
/// `SetupAckRequest` after setup).
pub fn supports_ability_negotiation(body: &[u8]) -> bool {
    let Some(after) = value_after_key(body, "supportAbilityNegotiation", 0) else {
        return false;
    };
    body[after..].starts_with(b"true")
}

/// The highest churn sequence number among the instances of a `serviceInfo` (a push or a
/// subscribe reply), or `None` when no instance carries one.
pub fn churn_sequence_max(body: &[u8]) -> Option<u64> {
    let mut highest: Option<u64> = None;
    let mut from = 0;
    // Each match moves `from` past itself, so the loop ends after at most body.len() / key steps.
    while let Some(after) = value_after_key(body, CHURN_SEQUENCE_KEY, from) {
        from = after;
        let Some(text) = string_value(&body[after..]) else {
            continue;
        };
        if let Ok(sequence) = text.parse::<u64>() {
            highest = Some(highest.map_or(sequence, |h| h.max(sequence)));
        }
    }
    highest
}

/// Calls `found(ip, port)` for every host of a `serviceInfo` (a push or a subscribe reply):
/// each `"ip"` string key with the `"port"` integer key that follows it before the next
/// `"ip"` key (Nacos servers write `ip` then `port` in every host). Hosts without a port, or
/// with an escaped IP, are skipped.
pub fn for_each_host(body: &[u8], mut found: impl FnMut(&str, u16)) {
    let mut next_ip = value_after_key(body, "ip", 0);
    // Each pass moves past one "ip" key, so the loop ends after at most body.len() / 4 passes.
    while let Some(at) = next_ip {
        next_ip = value_after_key(body, "ip", at);
        let Some(ip) = string_value(&body[at..]) else {
            continue;
        };
        let Some(port_at) = value_after_key(body, "port", at) else {
            return;
        };
        if next_ip.is_some_and(|next| next < port_at) {
            continue;
        }
        let digits = body[port_at..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        let port = std::str::from_utf8(&body[port_at..port_at + digits])
            .ok()
            .and_then(|text| text.parse::<u16>().ok());
        if let Some(port) = port {
            found(ip, port);
        }
    }
}

/// The offset of the value after the first `"name"` key at or after `from` (past the colon and
/// any whitespace).
fn value_after_key(body: &[u8], name: &str, from: usize) -> Option<usize> {
    debug_assert!(!name.is_empty());
    let quoted_len = name.len() + 2;
    let mut start = from;
    while start + quoted_len <= body.len() {
        let offset = body[start..].windows(quoted_len).position(|w| {
            w[0] == b'"' && w[quoted_len - 1] == b'"' && &w[1..=name.len()] == name.as_bytes()
        })?;
        let key_end = start + offset + quoted_len;
        let rest = &body[key_end..];
        let spaces = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if rest.get(spaces) == Some(&b':') {
            let value = &rest[spaces + 1..];
            let spaces_after = value.iter().take_while(|b| b.is_ascii_whitespace()).count();
            return Some(key_end + spaces + 1 + spaces_after);
        }
        // A string value equal to the key name, not a key: look further.
        start = key_end;
    }
    None
}

/// The contents of the JSON string at the start of `value`, if it has no escapes.
fn string_value(value: &[u8]) -> Option<&str> {
    let rest = value.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    if rest[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("valid JSON")
    }

    /// Every request body is valid JSON with the fields the protocol reference lists.
    #[test]
    fn request_bodies() {
        let setup = parse(&connection_setup());
        assert_eq!(setup["labels"]["module"], "naming");
        assert_eq!(setup["clientVersion"], CLIENT_VERSION);
        let register = parse(&register_instance(3, [10, 0, 1, 2], 8080, Some(42)));
        assert_eq!(register["serviceName"], "lg-svc-3");
        assert_eq!(register["type"], "registerInstance");
        assert_eq!(register["instance"]["ip"], "10.0.1.2");
        assert_eq!(register["instance"]["port"], 8080);
        assert_eq!(register["instance"]["metadata"]["lg.seq"], "42");
        let plain = parse(&register_instance(0, [10, 0, 0, 1], 1, None));
        assert_eq!(plain["instance"]["metadata"], serde_json::json!({}));
        let query = parse(&service_query(7));
        assert_eq!(query["healthyOnly"], false);
        assert_eq!(query["groupName"], "DEFAULT_GROUP");
        let subscribe = parse(&subscribe_service(7));
        assert_eq!(subscribe["subscribe"], true);
        assert_eq!(parse(&internal_request())["module"], "internal");
        let reply = parse(&stream_reply("17"));
        assert_eq!(reply["requestId"], "17");
        assert_eq!(reply["resultCode"], 200);
    }

    /// Replies pass only with the expected type and resultCode 200.
    #[test]
    fn reply_checks() {
        let ok = br#"{"resultCode":200,"errorCode":0,"success":true}"#;
        assert_eq!(
            check_reply("InstanceResponse", "InstanceResponse", ok),
            Ok(())
        );
        let failed = br#"{"resultCode":500,"errorCode":400,"success":false}"#;
        assert_eq!(
            check_reply("InstanceResponse", "InstanceResponse", failed),
            Err(ErrorKind::Nacos)
        );
        assert_eq!(
            check_reply("InstanceResponse", "ErrorResponse", ok),
            Err(ErrorKind::Nacos)
        );
        assert_eq!(
            check_reply("InstanceResponse", "QueryServiceResponse", ok),
            Err(ErrorKind::Protocol)
        );
    }

    /// Field scans find keys (not equal string values), tolerate spaces and refuse escapes.
    #[test]
    fn field_scans() {
        let body = br#"{"module":"requestId", "requestId" : "123","x":1}"#;
        assert_eq!(json_string_field(body, "requestId"), Some("123"));
        assert_eq!(
            json_string_field(br#"{"requestId":"a\"b"}"#, "requestId"),
            None
        );
        assert_eq!(json_string_field(b"{}", "requestId"), None);
        assert!(supports_ability_negotiation(
            br#"{"connectionId":"1","supportAbilityNegotiation":true}"#
        ));
        assert!(!supports_ability_negotiation(
            br#"{"supportAbilityNegotiation":false}"#
        ));
        assert!(!supports_ability_negotiation(b"{}"));
    }

    /// The churn sequence is the highest `lg.seq` over all hosts; none without any.
    #[test]
    fn churn_sequence() {
        let push = br#"{"requestId":"9","serviceInfo":{"hosts":[
            {"ip":"10.0.0.1","metadata":{"lg.seq":"41"}},
            {"ip":"10.0.0.2","metadata":{"other":"x","lg.seq" : "300"}},
            {"ip":"10.0.0.3","metadata":{"lg.seq":"bad"}}]}}"#;
        assert_eq!(churn_sequence_max(push), Some(300));
        assert_eq!(churn_sequence_max(br#"{"hosts":[]}"#), None);
        assert_eq!(churn_sequence_max(br#"{"lg.seq":"7"}"#), Some(7));
    }

    /// A batch register lists every instance, ephemeral, in the service.
    #[test]
    fn batch_register_body() {
        let body = parse(&batch_register_instances(
            4,
            &[([10, 0, 0, 1], 8080), ([10, 0, 0, 2], 8081)],
        ));
        assert_eq!(body["type"], "batchRegisterInstance");
        assert_eq!(body["serviceName"], "lg-svc-4");
        let instances = body["instances"].as_array().unwrap();
        assert_eq!(instances.len(), 2);
        assert_eq!(instances[1]["ip"], "10.0.0.2");
        assert_eq!(instances[1]["port"], 8081);
        assert_eq!(instances[0]["ephemeral"], true);
        let empty = parse(&batch_register_instances(0, &[]));
        assert_eq!(empty["instances"], serde_json::json!([]));
    }

    /// Hosts are found as ip and the port after it; a host without a port is skipped, and
    /// "ip" inside a string value is not a key.
    #[test]
    fn hosts_of_a_push() {
        let push = br#"{"requestId":"1","serviceInfo":{"name":"lg-svc-1","hosts":[
            {"instanceId":"10.0.0.1#31000#DEFAULT#DEFAULT_GROUP@@lg-svc-1","ip":"10.0.0.1",
             "port":31000,"weight":1.0,"metadata":{"k":"ip"}},
            {"ip" : "10.0.0.2", "port" : 31001},
            {"ip":"10.0.0.3","weight":1.0},
            {"ip":"10.0.0.4","port":70000},
            {"ip":"10.0.0.5","port":31002}]}}"#;
        let mut hosts = Vec::new();
        for_each_host(push, |ip, port| hosts.push((ip.to_string(), port)));
        assert_eq!(
            hosts,
            vec![
                ("10.0.0.1".to_string(), 31000),
                ("10.0.0.2".to_string(), 31001),
                ("10.0.0.5".to_string(), 31002),
            ]
        );
        let mut none = 0;
        for_each_host(br#"{"hosts":[]}"#, |_, _| none += 1);
        for_each_host(br#"{"hosts":[{"ip":"10.0.0.9"}]}"#, |_, _| none += 1);
        assert_eq!(none, 0);
    }

    /// Only the server requests that need an answer get a reply type.
    #[test]
    fn stream_reply_kinds() {
        assert_eq!(
            stream_reply_kind("NotifySubscriberRequest"),
            Some("NotifySubscriberResponse")
        );
        assert_eq!(
            stream_reply_kind("ClientDetectionRequest"),
            Some("ClientDetectionResponse")
        );
        assert_eq!(
            stream_reply_kind("ConfigChangeNotifyRequest"),
            Some("ConfigChangeNotifyResponse")
        );
        assert_eq!(stream_reply_kind("SetupAckRequest"), None);
        assert!(is_push("ConfigChangeNotifyRequest"));
        assert!(is_push("NotifySubscriberRequest"));
        assert!(!is_push("ClientDetectionRequest"));
    }

    /// Config requests name the data id and group in the default namespace; the listen
    /// carries the md5; a config connection announces module `config`.
    #[test]
    fn config_bodies() {
        let query = parse(&config_query(7));
        assert_eq!(query["dataId"], "lg-cfg-7");
        assert_eq!(query["group"], "DEFAULT_GROUP");
        assert_eq!(query["tenant"], "");
        assert_eq!(query["module"], "config");
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let listen = parse(&config_batch_listen(0, md5));
        assert_eq!(listen["listen"], true);
        let contexts = listen["configListenContexts"].as_array().unwrap();
        assert_eq!(contexts.len(), 1);
        assert_eq!(contexts[0]["dataId"], "lg-cfg-0");
        assert_eq!(contexts[0]["md5"], md5);
        let setup = parse(&connection_setup_for(Module::Config));
        assert_eq!(setup["labels"]["module"], "config");
        assert_eq!(connection_setup(), connection_setup_for(Module::Naming));
    }

    /// A config push is recognised by its data id and group.
    #[test]
    fn config_push() {
        let push = br#"{"headers":{},"requestId":"12","module":"config","dataId":"lg-cfg-3","group":"DEFAULT_GROUP","tenant":""}"#;
        assert!(notifies_config(push, 3));
        assert!(!notifies_config(push, 30));
        let other = br#"{"dataId":"lg-cfg-3","group":"OTHER"}"#;
        assert!(!notifies_config(other, 3));
        assert!(!notifies_config(b"{}", 3));
    }
}

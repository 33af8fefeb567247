//! Turning request parameters into naming values, the same for v1 and v2: service keys,
//! instance specs, beats, service specs. Every rule of nacos-protocol.md §1 about defaults,
//! aliases and formats lives here, once.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::http::params::Params;
use crate::naming::error::{NamingError, NamingResult};
use crate::naming::instance::{json_value_text, parse_metadata, InstanceSpec, Metadata};
use crate::naming::key::{ServiceKey, DEFAULT_CLUSTER};
use crate::naming::op::{BeatInstance, BeatRequest, InstanceUpdate, ServiceSpec};
use crate::naming::service::{ClusterConfig, HealthChecker, Selector};
use crate::naming::switches::parse_bool;

pub fn service_key(params: &Params) -> NamingResult<ServiceKey> {
    let service = params
        .non_blank("serviceName")
        .ok_or_else(|| NamingError::missing("serviceName"))?;
    ServiceKey::parse(
        params.get("namespaceId"),
        params.get("groupName"),
        service.trim(),
    )
}

pub fn required<'a>(params: &'a Params, name: &str) -> NamingResult<&'a str> {
    params
        .non_blank(name)
        .map(str::trim)
        .ok_or_else(|| NamingError::missing(name))
}

pub fn port(raw: &str) -> NamingResult<u16> {
    let value: i64 = raw
        .trim()
        .parse()
        .map_err(|_| NamingError::invalid(format!("For input string: \"{raw}\"")))?;
    port_in_range(value)
}

fn port_in_range(value: i64) -> NamingResult<u16> {
    u16::try_from(value).map_err(|_| {
        NamingError::invalid("Param 'port' is illegal, the value should be between 0 and 65535.")
    })
}

pub fn ip_port(params: &Params) -> NamingResult<(String, u16)> {
    let ip = required(params, "ip")?.to_string();
    let port = port(required(params, "port")?)?;
    Ok((ip, port))
}

pub fn cluster(params: &Params) -> String {
    params
        .non_blank("clusterName")
        .or_else(|| params.non_blank("cluster"))
        .map_or(DEFAULT_CLUSTER, str::trim)
        .to_string()
}

pub fn flag(params: &Params, name: &str, default: bool) -> bool {
    params.non_blank(name).map_or(default, parse_bool)
}

pub fn float(params: &Params, name: &str) -> NamingResult<Option<f64>> {
    let Some(raw) = params.non_blank(name) else {
        return Ok(None);
    };
    let value: f64 = raw
        .trim()
        .parse()
        .map_err(|_| NamingError::invalid(format!("For input string: \"{raw}\"")))?;
    Ok(Some(value))
}

pub fn metadata(params: &Params) -> NamingResult<Option<Metadata>> {
    params.non_blank("metadata").map(parse_metadata).transpose()
}

/// Register/update form (Nacos `HttpRequestInstanceBuilder`): `enable` is the Java 1.x alias
/// of `enabled`, `cluster` of `clusterName`.
pub fn instance_spec(params: &Params, default_ephemeral: bool) -> NamingResult<InstanceSpec> {
    let (ip, port) = ip_port(params)?;
    let enabled = match params.non_blank("enabled") {
        Some(raw) => parse_bool(raw),
        None => flag(params, "enable", true),
    };
    Ok(InstanceSpec {
        ip,
        port,
        cluster: cluster(params),
        weight: float(params, "weight")?.unwrap_or(1.0),
        healthy: flag(params, "healthy", true),
        enabled,
        ephemeral: flag(params, "ephemeral", default_ephemeral),
        metadata: metadata(params)?.unwrap_or_default(),
    })
}

pub fn instance_update(
    params: &Params,
    patch: bool,
    default_ephemeral: bool,
) -> NamingResult<InstanceUpdate> {
    let (ip, port) = ip_port(params)?;
    let enabled = params
        .non_blank("enabled")
        .or_else(|| params.non_blank("enable"))
        .map(parse_bool);
    Ok(InstanceUpdate {
        ip,
        port,
        cluster: cluster(params),
        ephemeral: flag(params, "ephemeral", default_ephemeral),
        weight: float(params, "weight")?,
        enabled,
        metadata: metadata(params)?,
        patch,
    })
}

/// The `beat` JSON of Java/Go/Node clients (Nacos `RsInfo`); unknown fields are ignored.
/// Strings are borrowed from the request where they need no unescaping.
#[derive(Debug, serde::Deserialize)]
struct BeatJson<'a> {
    #[serde(borrow)]
    ip: Option<Cow<'a, str>>,
    port: Option<i64>,
    #[serde(borrow)]
    cluster: Option<Cow<'a, str>>,
    weight: Option<f64>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, MetadataText>>,
}

/// A metadata value as text: a string as it is, any other JSON value as its JSON (`null` as
/// empty), as `json_value_text` renders it, without building a `serde_json::Value` for the
/// strings every client sends.
#[derive(Debug)]
struct MetadataText(String);

impl<'de> serde::Deserialize<'de> for MetadataText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MetadataTextVisitor)
    }
}

struct MetadataTextVisitor;

impl<'de> serde::de::Visitor<'de> for MetadataTextVisitor {
    type Value = MetadataText;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a metadata value")
    }
    fn visit_str<E>(self, v: &str) -> Result<MetadataText, E> {
        Ok(MetadataText(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<MetadataText, E> {
        Ok(MetadataText(v))
    }
    fn visit_bool<E>(self, v: bool) -> Result<MetadataText, E> {
        Ok(MetadataText(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<MetadataText, E> {
        Ok(MetadataText(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<MetadataText, E> {
        Ok(MetadataText(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<MetadataText, E> {
        Ok(MetadataText(json_value_text(&serde_json::Value::from(v))))
    }
    fn visit_unit<E>(self) -> Result<MetadataText, E> {
        Ok(MetadataText(String::new()))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<MetadataText, A::Error> {
        let value: serde_json::Value =
            serde::Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Ok(MetadataText(value.to_string()))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<MetadataText, A::Error> {
        let value: serde_json::Value =
            serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(MetadataText(value.to_string()))
    }
}

pub fn beat(params: &Params) -> NamingResult<BeatRequest> {
    let Some(raw) = params.non_blank("beat") else {
        let (ip, port) = ip_port(params)?;
        return Ok(BeatRequest {
            ip,
            port,
            cluster: cluster(params),
            reregister: None,
        });
    };
    let json: BeatJson = serde_json::from_str(raw)
        .map_err(|e| NamingError::invalid(format!("beat is not valid beat JSON: {e}")))?;
    let ip = match json.ip.filter(|ip| !ip.trim().is_empty()) {
        Some(ip) => ip.into_owned(),
        None => params
            .non_blank("ip")
            .map(str::to_string)
            .ok_or_else(|| NamingError::missing("ip"))?,
    };
    let port = match json.port {
        Some(p) => port_in_range(p)?,
        None => port(required(params, "port")?)?,
    };
    let cluster = match json.cluster.filter(|c| !c.trim().is_empty()) {
        Some(cluster) => cluster.into_owned(),
        None => cluster(params),
    };
    let metadata: Metadata = json
        .metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    Ok(BeatRequest {
        ip,
        port,
        cluster,
        reregister: Some(BeatInstance {
            weight: json.weight.filter(|w| *w > 0.0).unwrap_or(1.0),
            metadata,
        }),
    })
}

pub fn service_spec(
    params: &Params,
    default_ephemeral: bool,
    threshold_required: bool,
) -> NamingResult<ServiceSpec> {
    let key = service_key(params)?;
    if threshold_required && params.non_blank("protectThreshold").is_none() {
        return Err(NamingError::missing("protectThreshold"));
    }
    let protect_threshold = float(params, "protectThreshold")?.unwrap_or(0.0) as f32;
    let metadata = metadata(params)?.unwrap_or_default();
    crate::naming::instance::check_metadata_size(&metadata)?;
    Ok(ServiceSpec {
        key,
        protect_threshold,
        metadata,
        selector: selector(params.non_blank("selector"))?,
        ephemeral: flag(params, "ephemeral", default_ephemeral),
    })
}

/// `{"type":"none"}` or `{"type":"label","expression":"..."}`.
pub fn selector(raw: Option<&str>) -> NamingResult<Selector> {
    let none = Selector {
        kind: "none".to_string(),
        expression: String::new(),
    };
    let Some(raw) = raw else {
        return Ok(none);
    };
    let value: serde_json::Value = serde_json::from_str(raw)
        .map_err(|_| NamingError::invalid(format!("selector format invalid: {raw}")))?;
    let kind = value.get("type").and_then(|t| t.as_str()).unwrap_or("none");
    let expression = value
        .get("expression")
        .and_then(|e| e.as_str())
        .unwrap_or("");
    match kind {
        "none" => Ok(none),
        "label" => Ok(Selector {
            kind: "label".to_string(),
            expression: expression.to_string(),
        }),
        other => Err(NamingError::invalid(format!(
            "selector type {other} not supported"
        ))),
    }
}

/// `PUT /cluster` (Nacos `ClusterController.update`): how a cluster's persistent instances
/// are checked.
pub fn cluster_config(params: &Params) -> NamingResult<ClusterConfig> {
    let check_port = match params.non_blank("checkPort") {
        Some(raw) => port(raw)?,
        None => 80,
    };
    let checker = match params.non_blank("healthChecker") {
        None => HealthChecker::Tcp,
        Some(raw) => health_checker(raw)?,
    };
    Ok(ClusterConfig {
        checker,
        check_port,
        use_instance_port: flag(params, "useInstancePort4Check", true),
        metadata: metadata(params)?.unwrap_or_default(),
    })
}

fn health_checker(raw: &str) -> NamingResult<HealthChecker> {
    let value: serde_json::Value = serde_json::from_str(raw)
        .map_err(|_| NamingError::invalid(format!("healthChecker is not JSON: {raw}")))?;
    let kind = value.get("type").and_then(|t| t.as_str()).unwrap_or("TCP");
    match kind.to_ascii_uppercase().as_str() {
        "TCP" => Ok(HealthChecker::Tcp),
        "NONE" => Ok(HealthChecker::None),
        "HTTP" => {
            let text = |k: &str| {
                value
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let code = value
                .get("expectedResponseCode")
                .and_then(|c| c.as_u64())
                .unwrap_or(200);
            Ok(HealthChecker::Http {
                path: text("path"),
                headers: text("headers"),
                expected_code: u16::try_from(code).unwrap_or(200),
            })
        }
        other => Err(NamingError::invalid(format!(
            "health checker type {other} not supported"
        ))),
    }
}

/// `pageNo`/`pageSize`: positive integers.
pub fn page(params: &Params, name: &str, default: Option<usize>) -> NamingResult<usize> {
    let Some(raw) = params.non_blank(name) else {
        return default.ok_or_else(|| NamingError::missing(name));
    };
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| NamingError::invalid(format!("Param '{name}' must be a positive integer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(query: &str) -> Params {
        Params::parse(query, None)
    }

    /// Defaults and aliases of the register form.
    #[test]
    fn register_form_defaults_and_aliases() {
        let spec = instance_spec(&p("ip=1.1.1.1&port=80"), true).unwrap();
        assert_eq!(spec.cluster, "DEFAULT");
        assert_eq!(spec.weight, 1.0);
        assert!(spec.healthy && spec.enabled && spec.ephemeral);
        let spec = instance_spec(
            &p("ip=1.1.1.1&port=80&cluster=c1&enable=false&ephemeral=false"),
            true,
        )
        .unwrap();
        assert_eq!(spec.cluster, "c1");
        assert!(!spec.enabled && !spec.ephemeral);
        assert!(instance_spec(&p("port=80"), true).is_err());
        assert!(instance_spec(&p("ip=1.1.1.1&port=x"), true).is_err());
        assert!(instance_spec(&p("ip=1.1.1.1&port=70000"), true).is_err());
        assert!(instance_spec(&p("ip=1.1.1.1&port=80&weight=abc"), true).is_err());
        assert!(instance_spec(&p("ip=1.1.1.1&port=80&metadata=%7Bbad"), true).is_err());
    }

    /// Light beats need ip and port; beat JSON carries them and the re-register spec.
    #[test]
    fn beats() {
        let b = beat(&p("ip=1.1.1.1&port=80")).unwrap();
        assert!(b.reregister.is_none());
        assert!(beat(&p("serviceName=x")).is_err());
        let json = r#"{"ip":"2.2.2.2","port":81,"cluster":"","weight":2,"metadata":{"a":"b"},"scheduled":true}"#;
        let query = format!(
            "clusterName=c2&beat={}",
            json.replace('"', "%22")
                .replace('{', "%7B")
                .replace('}', "%7D")
        );
        let b = beat(&p(&query)).unwrap();
        assert_eq!(
            (b.ip.as_str(), b.port, b.cluster.as_str()),
            ("2.2.2.2", 81, "c2")
        );
        let spec = b.reregister.unwrap();
        assert_eq!(spec.weight, 2.0);
        assert_eq!(spec.metadata.get("a").unwrap(), "b");
        assert!(beat(&p("beat=notjson")).is_err());
    }

    /// Non-string metadata values in beat JSON read as their JSON text, null as empty.
    #[test]
    fn beat_metadata_values_as_text() {
        let json = r#"{"ip":"2.2.2.2","port":81,"metadata":{"n":7,"f":1.5,"t":true,"z":null,"o":{"k":[1,"x"]},"s":"v"}}"#;
        let encoded = json
            .replace('"', "%22")
            .replace('{', "%7B")
            .replace('}', "%7D");
        let b = beat(&p(&format!("beat={encoded}"))).unwrap();
        let metadata = b.reregister.unwrap().metadata;
        let text = |k: &str| metadata.get(k).map(String::as_str);
        assert_eq!(text("n"), Some("7"));
        assert_eq!(text("f"), Some("1.5"));
        assert_eq!(text("t"), Some("true"));
        assert_eq!(text("z"), Some(""));
        assert_eq!(text("o"), Some(r#"{"k":[1,"x"]}"#));
        assert_eq!(text("s"), Some("v"));
    }

    /// Selectors parse from JSON; unknown types are refused.
    #[test]
    fn selectors() {
        assert_eq!(selector(None).unwrap().kind, "none");
        let s = selector(Some(
            r#"{"type":"label","expression":"CONSUMER.label.a = PROVIDER.label.a"}"#,
        ))
        .unwrap();
        assert_eq!(s.kind, "label");
        assert!(selector(Some("{")).is_err());
        assert!(selector(Some(r#"{"type":"weird"}"#)).is_err());
    }
}

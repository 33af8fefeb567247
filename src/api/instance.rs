//! Instance endpoints of v1 and v2: register, deregister, update, get, list, beat, statuses.

use bytes::Bytes;
use serde_json::json;

use crate::api::form;
use crate::api::operator::wall_clock_ms;
use crate::api::render::{Flavor, Reply};
use crate::http::conn::Request;
use crate::http::params::Params;
use crate::http::response::{Body, Response};
use crate::naming::encode::{
    encode_service_info, service_info_after_hosts, service_info_before_hosts, ServiceInfoHead,
};
use crate::naming::error::{ErrorKind, NamingError, NamingResult};
use crate::naming::key::ServiceKey;
use crate::naming::op::{DurableCommand, NamingOp, NamingReply, UdpSubscription};
use crate::shard::CoreHandle;

const PATHS: [&str; 5] = [
    "/instance",
    "/instance/list",
    "/instance/beat",
    "/instance/statuses",
    "/instance/metadata/batch",
];

pub fn knows(path: &str) -> bool {
    PATHS.contains(&path)
}

/// Runs an op that answers `Done` on success.
pub async fn write(core: &CoreHandle, op: NamingOp) -> NamingResult<Reply> {
    done(core.execute(op).await)
}

/// Runs a durable write through Raft: answered once committed and applied.
pub async fn write_durably(core: &CoreHandle, command: DurableCommand) -> NamingResult<Reply> {
    done(core.propose(command).await)
}

fn done(reply: NamingReply) -> NamingResult<Reply> {
    match reply {
        NamingReply::Done => Ok(Reply::Ok),
        NamingReply::Error(error) => Err(error),
        other => Err(unexpected(&other)),
    }
}

pub fn unexpected(reply: &NamingReply) -> NamingError {
    NamingError::new(
        ErrorKind::Internal,
        format!("unexpected reply from the owner core: {reply:?}"),
    )
}

fn default_ephemeral(core: &CoreHandle) -> bool {
    core.with_switches(|s| s.default_instance_ephemeral)
}

pub async fn register(core: &CoreHandle, params: &Params) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    let spec = form::instance_spec(params, default_ephemeral(core))?;
    if !spec.ephemeral {
        // Rejected before it reaches the log; the owner core validates ephemeral writes.
        spec.validate()?;
        return write_durably(core, DurableCommand::RegisterInstance { key, spec }).await;
    }
    write(core, NamingOp::Register { key, spec }).await
}

pub async fn deregister(core: &CoreHandle, params: &Params) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    let (ip, port) = form::ip_port(params)?;
    crate::naming::key::check_ip(&ip)?;
    if !form::flag(params, "ephemeral", default_ephemeral(core)) {
        return write_durably(core, DurableCommand::DeregisterInstance { key, ip, port }).await;
    }
    write(core, NamingOp::Deregister { key, ip, port }).await
}

pub async fn update(core: &CoreHandle, params: &Params, patch: bool) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    let update = form::instance_update(params, patch, default_ephemeral(core))?;
    crate::naming::key::check_ip(&update.ip)?;
    crate::naming::key::check_cluster(&update.cluster)?;
    // The overlay goes through Raft for every instance, as Nacos keeps it in its
    // `naming_instance_metadata` group.
    write_durably(core, DurableCommand::UpdateInstance { key, update }).await
}

pub async fn get(core: &CoreHandle, params: &Params, flavor: Flavor) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    let (ip, port) = form::ip_port(params)?;
    let cluster = form::cluster(params);
    let op = NamingOp::GetInstance {
        key,
        ip,
        port,
        cluster,
    };
    let view = match core.execute(op).await {
        NamingReply::Instance(view) => view,
        NamingReply::Error(error) => return Err(error),
        other => return Err(unexpected(&other)),
    };
    let instance_id = format!(
        "{}#{}#{}#{}",
        view.ip, view.port, view.cluster, view.grouped_service
    );
    let service_field = match flavor {
        Flavor::V1 => "service",
        Flavor::V2 => "serviceName",
    };
    let mut body = json!({
        "ip": view.ip,
        "port": view.port,
        "clusterName": view.cluster,
        "weight": view.weight,
        "healthy": view.healthy,
        "instanceId": instance_id,
        "metadata": view.metadata,
    });
    body[service_field] = json!(view.grouped_service);
    Ok(Reply::Json(Bytes::from(body.to_string())))
}

/// `instance/list`: the selected hosts in a `ServiceInfo` with a grouped name. A poller that
/// gives `udpPort` and `clientIP` is recorded as a subscriber.
pub async fn list(core: &CoreHandle, request: &Request, flavor: Flavor) -> NamingResult<Reply> {
    let params = &request.params;
    let key = form::service_key(params)?;
    // v1 names the filter `clusters`, v2 `clusterName`.
    let clusters = match flavor {
        Flavor::V1 => params.get("clusters"),
        Flavor::V2 => params.get("clusterName").or_else(|| params.get("clusters")),
    }
    .unwrap_or("")
    .to_string();
    let healthy_only = form::flag(params, "healthyOnly", false);
    let udp_subscriber = udp_subscription(request, flavor)?;
    // Everything before the hosts is known now; the cached hosts are sent as they are.
    let grouped_name = key.grouped_name();
    let before_hosts = service_info_before_hosts(&ServiceInfoHead {
        name: &grouped_name,
        group: Some(key.group()),
        clusters: &clusters,
        cache_millis: core.with_switches(|s| s.default_push_cache_millis),
        last_ref_time_ms: 0,
        reach_protection: false,
    });
    let op = NamingOp::List {
        key,
        clusters,
        healthy_only,
        udp_subscriber,
    };
    let (hosts_json, reach_protection) = match core.execute(op).await {
        NamingReply::Hosts {
            hosts_json,
            reach_protection,
        } => (hosts_json, reach_protection),
        NamingReply::Error(error) => return Err(error),
        other => return Err(unexpected(&other)),
    };
    let mut body = Body::new();
    body.push(before_hosts);
    body.push(hosts_json);
    body.push(service_info_after_hosts(wall_clock_ms(), reach_protection));
    Ok(Reply::JsonBody(body))
}

/// A `ServiceInfo` around cached hosts, as a client reads it: HTTP carries the grouped name
/// (`grouped`), gRPC the plain name; both carry `groupName` and a fresh `lastRefTime`.
pub fn service_info(
    core: &CoreHandle,
    key: &ServiceKey,
    grouped: bool,
    clusters: &str,
    hosts: &[u8],
    reach: bool,
) -> Vec<u8> {
    let grouped_name = key.grouped_name();
    let head = ServiceInfoHead {
        name: if grouped {
            &grouped_name
        } else {
            key.service()
        },
        group: Some(key.group()),
        clusters,
        cache_millis: core.with_switches(|s| s.default_push_cache_millis),
        last_ref_time_ms: wall_clock_ms(),
        reach_protection: reach,
    };
    encode_service_info(&head, hosts)
}

fn udp_subscription(request: &Request, flavor: Flavor) -> NamingResult<Option<UdpSubscription>> {
    let params = &request.params;
    let (port_param, ip_param) = match flavor {
        Flavor::V1 => ("udpPort", "clientIP"),
        Flavor::V2 => ("port", "ip"),
    };
    let udp_port = match params.non_blank(port_param) {
        Some(raw) => form::port(raw)?,
        None => 0,
    };
    let ip = params.non_blank(ip_param).unwrap_or("").trim();
    if udp_port == 0 || ip.is_empty() {
        return Ok(None);
    }
    crate::naming::key::check_ip(ip)?;
    let agent = request.head.user_agent();
    if !push_capable(agent) {
        return Ok(None);
    }
    Ok(Some(UdpSubscription {
        ip: ip.to_string(),
        udp_port,
        agent: agent.to_string(),
        app: params.non_blank("app").unwrap_or("unknown").to_string(),
    }))
}

/// Whether a v1 client can take UDP pushes, by its User-Agent (Nacos `ClientInfo` and
/// `UdpPushService.canEnablePush`): Java and Go from 0.1.0, C from 1.0.12, C# from 0.9.0,
/// Nacos-DNS from 0.4.3. Other clients only poll.
pub fn push_capable(user_agent: &str) -> bool {
    const MINIMUM: [(&str, [u32; 3]); 5] = [
        ("Nacos-Java-Client", [0, 1, 0]),
        ("Nacos-Go-Client", [0, 1, 0]),
        ("Nacos-C-Client", [1, 0, 12]),
        ("Nacos-CSharp-Client", [0, 9, 0]),
        ("Nacos-DNS", [0, 4, 3]),
    ];
    let Some((kind, version)) = user_agent.split_once(":v") else {
        return false;
    };
    let Some((_, minimum)) = MINIMUM.iter().find(|(k, _)| *k == kind.trim()) else {
        return false;
    };
    let mut parts = [0u32; 3];
    let numbers = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    for (part, number) in parts.iter_mut().zip(numbers) {
        *part = number.parse().unwrap_or(0);
    }
    parts >= *minimum
}

/// `instance/beat`: always HTTP 200 with `{clientBeatInterval, code, lightBeatEnabled}`,
/// unwrapped in v2 too.
pub async fn beat(core: &CoreHandle, params: &Params) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    let beat = form::beat(params)?;
    crate::naming::key::check_ip(&beat.ip)?;
    let (found, interval_ms) = match core.execute(NamingOp::Beat { key, beat }).await {
        NamingReply::Beat {
            found,
            beat_interval_ms,
        } => (found, beat_interval_ms),
        NamingReply::Error(error) => return Err(error),
        other => return Err(unexpected(&other)),
    };
    Ok(beat_reply(core, found, interval_ms))
}

/// The answer to a beat: found (10200) or not (20404, the client registers again), and the
/// interval the client should beat at.
pub fn beat_reply(core: &CoreHandle, found: bool, interval_ms: Option<u64>) -> Reply {
    let (default_interval_ms, light) =
        core.with_switches(|s| (s.client_beat_interval, s.light_beat_enabled));
    let code: u32 = if found { 10200 } else { 20404 };
    let body = beat_reply_json(interval_ms.unwrap_or(default_interval_ms), code, light);
    Reply::Raw(Response::json(200, body))
}

/// `{"clientBeatInterval":..,"code":..,"lightBeatEnabled":..}`, written directly: a beat is
/// the most frequent request of a v1 fleet.
fn beat_reply_json(interval_ms: u64, code: u32, light: bool) -> Vec<u8> {
    let mut numbers = itoa::Buffer::new();
    let mut out = Vec::with_capacity(72);
    out.extend_from_slice(b"{\"clientBeatInterval\":");
    out.extend_from_slice(numbers.format(interval_ms).as_bytes());
    out.extend_from_slice(b",\"code\":");
    out.extend_from_slice(numbers.format(code).as_bytes());
    out.extend_from_slice(b",\"lightBeatEnabled\":");
    out.extend_from_slice(if light {
        b"true}".as_slice()
    } else {
        b"false}".as_slice()
    });
    out
}

/// `PUT|DELETE instance/metadata/batch`: merge `metadata` into the overlays of the listed
/// instances (`instances` JSON; all of the kind `consistencyType` names when absent), or remove
/// its keys; through Raft. Answers `{"updated":["ip:port:unknown:cluster:ephemeral|persist"]}`.
pub async fn batch_metadata(
    core: &CoreHandle,
    params: &Params,
    delete: bool,
) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    let metadata = form::metadata(params)?.ok_or_else(|| NamingError::missing("metadata"))?;
    let ephemeral = params.non_blank("consistencyType") != Some("persist");
    let targets = match params.non_blank("instances") {
        Some(raw) => listed_instances(raw)?,
        None => Vec::new(),
    };
    let targets = if targets.is_empty() {
        match core
            .execute(NamingOp::InstanceAddresses {
                key: key.clone(),
                ephemeral,
            })
            .await
        {
            NamingReply::Addresses(all) => all,
            NamingReply::Error(error) => return Err(error),
            other => return Err(unexpected(&other)),
        }
    } else {
        targets
    };
    let kind = if ephemeral { "ephemeral" } else { "persist" };
    let updated: Vec<String> = targets
        .iter()
        .map(|(ip, port, cluster)| format!("{ip}:{port}:unknown:{cluster}:{kind}"))
        .collect();
    let command = DurableCommand::BatchMetadata {
        key,
        targets,
        metadata,
        delete,
    };
    write_durably(core, command).await?;
    Ok(Reply::Json(Bytes::from(
        json!({ "updated": updated }).to_string(),
    )))
}

/// The `instances` parameter: a JSON list of `{ip, port, clusterName}`.
fn listed_instances(raw: &str) -> NamingResult<Vec<(String, u16, String)>> {
    let value: serde_json::Value = serde_json::from_str(raw)
        .map_err(|_| NamingError::invalid(format!("instances is not a JSON list: {raw}")))?;
    let list = value
        .as_array()
        .ok_or_else(|| NamingError::invalid("instances is not a JSON list"))?;
    list.iter()
        .map(|item| {
            let ip = item.get("ip").and_then(|v| v.as_str()).unwrap_or("").trim();
            crate::naming::key::check_ip(ip)?;
            let port = item.get("port").and_then(|v| v.as_i64()).unwrap_or(-1);
            let port = form::port(&port.to_string())?;
            let cluster = item
                .get("clusterName")
                .and_then(|v| v.as_str())
                .filter(|c| !c.is_empty())
                .unwrap_or(crate::naming::key::DEFAULT_CLUSTER);
            crate::naming::key::check_cluster(cluster)?;
            Ok((ip.to_string(), port, cluster.to_string()))
        })
        .collect()
}

/// `instance/statuses?key=[namespace##]group@@service` → `{"ips":["ip:port_healthy",...]}`.
pub async fn statuses(core: &CoreHandle, params: &Params) -> NamingResult<Reply> {
    let raw = form::required(params, "key")?;
    let (namespace, grouped) = match raw.split_once("##") {
        Some((ns, rest)) => (Some(ns), rest),
        None => (None, raw),
    };
    let key = ServiceKey::parse(namespace, None, grouped)?;
    let ips = match core.execute(NamingOp::Statuses { key }).await {
        NamingReply::Statuses(ips) => ips,
        NamingReply::Error(error) => return Err(error),
        other => return Err(unexpected(&other)),
    };
    Ok(Reply::Json(Bytes::from(json!({ "ips": ips }).to_string())))
}

#[cfg(test)]
mod tests {
    use super::push_capable;

    /// Java, Go, C, C# and DNS clients at or above their minimum versions take UDP pushes.
    #[test]
    fn push_capable_agents() {
        assert!(push_capable("Nacos-Java-Client:v1.0.0"));
        assert!(push_capable("Nacos-Java-Client:v2.5.1"));
        assert!(push_capable("Nacos-Go-Client:v1.1.3"));
        assert!(push_capable("Nacos-C-Client:v1.0.12"));
        assert!(!push_capable("Nacos-C-Client:v1.0.11"));
        assert!(push_capable("Nacos-DNS:v0.4.3"));
        assert!(!push_capable("Nacos-Python-Client:v0.1.16"));
        assert!(!push_capable("curl/8.0"));
        assert!(!push_capable(""));
    }
}

//! The Nacos gRPC requests (nacos-protocol.md §3.4, §3.5): each `Payload` type becomes
//! `NamingOp`s on the owner cores, and its answer the Nacos response JSON. Bodies are parsed
//! leniently (unknown fields ignored, Nacos defaults for missing ones); a request that does
//! not validate gets an `ErrorResponse` and stores nothing.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::api::instance::{service_info, unexpected, write, write_durably};
use crate::grpc::conn::Connection;
use crate::grpc::payload::Incoming;
use crate::naming::error::{ErrorKind, NamingError, NamingResult};
use crate::naming::instance::{json_value_text, InstanceSpec, Metadata};
use crate::naming::key::{ServiceKey, DEFAULT_CLUSTER};
use crate::naming::op::{DurableCommand, NamingOp, NamingReply};
use crate::shard::CoreHandle;

/// Nacos `NacosException` codes used on the wire.
const INVALID_SERVER_STATUS: u32 = 300;
const UN_REGISTER: u32 = 301;
const NO_HANDLER: u32 = 302;
const INVALID_PARAM: u32 = 400;
const NOT_FOUND: u32 = 404;
const SERVER_ERROR: u32 = 500;
const BAD_GATEWAY: u32 = 502;

/// A response: its type name and JSON body.
pub type Answer = (String, Vec<u8>);

pub async fn handle(core: &CoreHandle, connection: &Connection, incoming: Incoming) -> Answer {
    let kind = incoming.kind.as_str();
    if !core.is_ready() {
        return error(
            INVALID_SERVER_STATUS,
            "Server is starting,please try later.",
        );
    }
    if kind == "ServerCheckRequest" {
        return server_check(connection);
    }
    if !connection.is_registered() {
        return error(UN_REGISTER, "Connection is unregistered.");
    }
    let body = &incoming.body;
    // --- auth ---
    if let Some(refusal) = crate::api::auth_gate::check_grpc(core, kind, &incoming.headers, body) {
        return refusal;
    }
    let result = match kind {
        "HealthCheckRequest" => Ok(success("HealthCheckResponse", Map::new())),
        "InstanceRequest" => instance(core, connection, body).await,
        "BatchInstanceRequest" => batch_instance(core, connection, body).await,
        "PersistentInstanceRequest" => persistent_instance(core, body).await,
        "ServiceQueryRequest" => query(core, body).await,
        "SubscribeServiceRequest" => subscribe(core, connection, body).await,
        "ServiceListRequest" => service_list(core, body).await,
        _ => {
            return match crate::api::grpc_config::handle(core, connection, kind, body).await {
                Some(answer) => answer,
                None => error(NO_HANDLER, "RequestHandler Not Found"),
            }
        }
    };
    result.unwrap_or_else(|e| naming_error(&e))
}

/// A request whose JSON body did not parse (Nacos: `BAD_GATEWAY`).
pub fn bad_json(kind: &str, reason: &str) -> Answer {
    error(
        BAD_GATEWAY,
        &format!("cannot parse the {kind} body: {reason}"),
    )
}

fn server_check(connection: &Connection) -> Answer {
    let mut fields = Map::new();
    fields.insert("connectionId".into(), json!(connection.id));
    fields.insert("supportAbilityNegotiation".into(), json!(true));
    success("ServerCheckResponse", fields)
}

/// `SetupAckRequest` sent right after `ConnectionSetupRequest`: nacore takes persistent
/// instances over gRPC.
pub fn setup_ack() -> Vec<u8> {
    let body = json!({
        "headers": {},
        "abilityTable": {"supportPersistentInstanceByGrpc": true},
        "module": "internal",
    });
    body.to_string().into_bytes()
}

pub fn client_detection(request_id: u64) -> Vec<u8> {
    let body = json!({"headers": {}, "requestId": request_id.to_string(), "module": "internal"});
    body.to_string().into_bytes()
}

/// `NotifySubscriberRequest` around an encoded `ServiceInfo`.
pub fn notify_subscriber(request_id: u64, service_info: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(service_info.len() + 96);
    out.extend_from_slice(b"{\"headers\":{},\"requestId\":\"");
    out.extend_from_slice(request_id.to_string().as_bytes());
    out.extend_from_slice(b"\",\"module\":\"naming\",\"serviceInfo\":");
    out.extend_from_slice(service_info);
    out.push(b'}');
    out
}

fn success(kind: &str, mut fields: Map<String, Value>) -> Answer {
    fields.insert("resultCode".into(), json!(200));
    fields.insert("errorCode".into(), json!(0));
    fields.insert("success".into(), json!(true));
    (
        kind.to_string(),
        Value::Object(fields).to_string().into_bytes(),
    )
}

/// Nacos `ErrorResponse.build`: `resultCode` equals `errorCode`.
fn error(code: u32, message: &str) -> Answer {
    let body = json!({"resultCode": code, "errorCode": code, "message": message, "success": false});
    ("ErrorResponse".to_string(), body.to_string().into_bytes())
}

fn naming_error(e: &NamingError) -> Answer {
    let code = match e.kind {
        ErrorKind::ServiceNotFound | ErrorKind::InstanceNotFound => NOT_FOUND,
        ErrorKind::Internal => SERVER_ERROR,
        ErrorKind::Unavailable => INVALID_SERVER_STATUS,
        _ => INVALID_PARAM,
    };
    error(code, &e.message)
}

fn text<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}

fn service_key(body: &Value) -> NamingResult<ServiceKey> {
    let service = text(body, "serviceName").unwrap_or("").trim();
    ServiceKey::parse(text(body, "namespace"), text(body, "groupName"), service)
}

/// An `Instance` JSON object (nacos-protocol.md §0.3), with Nacos defaults.
fn instance_spec(value: Option<&Value>, ephemeral: bool) -> NamingResult<InstanceSpec> {
    let instance = value
        .and_then(Value::as_object)
        .ok_or_else(|| NamingError::missing("instance"))?;
    let ip = instance
        .get("ip")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    let port = instance.get("port").and_then(Value::as_i64).unwrap_or(-1);
    let port = u16::try_from(port)
        .map_err(|_| NamingError::invalid(format!("Param 'port' is illegal: {port}")))?;
    let flag = |name: &str| instance.get(name).and_then(Value::as_bool).unwrap_or(true);
    let cluster = instance
        .get("clusterName")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .unwrap_or(DEFAULT_CLUSTER);
    let metadata: Metadata = instance
        .get("metadata")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), json_value_text(v)))
                .collect()
        })
        .unwrap_or_default();
    let spec = InstanceSpec {
        ip,
        port,
        cluster: cluster.to_string(),
        weight: instance
            .get("weight")
            .and_then(Value::as_f64)
            .unwrap_or(1.0),
        healthy: flag("healthy"),
        enabled: flag("enabled"),
        ephemeral,
        metadata,
    };
    spec.validate()?;
    Ok(spec)
}

async fn done(core: &CoreHandle, op: NamingOp) -> NamingResult<()> {
    write(core, op).await.map(drop)
}

fn track(connection: &Connection, key: &ServiceKey) -> NamingResult<()> {
    if connection.track_service(key) {
        return Ok(());
    }
    Err(NamingError::new(
        ErrorKind::LimitReached,
        "this connection holds state in too many services",
    ))
}

fn typed(kind: &str, request_type: &str) -> Answer {
    let mut fields = Map::new();
    fields.insert("type".into(), json!(request_type));
    success(kind, fields)
}

/// `InstanceRequest`: one ephemeral instance per (connection, service).
async fn instance(
    core: &CoreHandle,
    connection: &Connection,
    body: &Value,
) -> NamingResult<Answer> {
    let key = service_key(body)?;
    let request_type = text(body, "type").unwrap_or("");
    let op = match request_type {
        "registerInstance" => {
            let spec = instance_spec(body.get("instance"), true)?;
            track(connection, &key)?;
            NamingOp::RegisterConnection {
                key,
                connection: connection.uid,
                instances: vec![spec],
            }
        }
        "deregisterInstance" => NamingOp::DeregisterConnection {
            key,
            connection: connection.uid,
            only: None,
        },
        other => {
            return Err(NamingError::invalid(format!(
                "Unsupported request type {other}"
            )))
        }
    };
    done(core, op).await?;
    Ok(typed("InstanceResponse", request_type))
}

/// `BatchInstanceRequest`: the connection's instances in the service become the batch.
async fn batch_instance(
    core: &CoreHandle,
    connection: &Connection,
    body: &Value,
) -> NamingResult<Answer> {
    let key = service_key(body)?;
    let request_type = text(body, "type").unwrap_or("");
    let listed = body
        .get("instances")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let specs = listed
        .iter()
        .map(|i| instance_spec(Some(i), true))
        .collect::<NamingResult<Vec<_>>>()?;
    let op = match request_type {
        "batchRegisterInstance" => {
            track(connection, &key)?;
            NamingOp::RegisterConnection {
                key,
                connection: connection.uid,
                instances: specs,
            }
        }
        "batchDeregisterInstance" => {
            let only = specs.into_iter().map(|s| (s.ip, s.port)).collect();
            NamingOp::DeregisterConnection {
                key,
                connection: connection.uid,
                only: Some(only),
            }
        }
        other => {
            return Err(NamingError::invalid(format!(
                "Unsupported request type {other}"
            )))
        }
    };
    done(core, op).await?;
    Ok(typed("BatchInstanceResponse", request_type))
}

/// `PersistentInstanceRequest`: the same path as HTTP persistent instances (client
/// `ip:port#false`), not bound to the connection.
async fn persistent_instance(core: &CoreHandle, body: &Value) -> NamingResult<Answer> {
    let key = service_key(body)?;
    let request_type = text(body, "type").unwrap_or("");
    let spec = instance_spec(body.get("instance"), false)?;
    let command = match request_type {
        "registerInstance" => DurableCommand::RegisterInstance { key, spec },
        "deregisterInstance" => DurableCommand::DeregisterInstance {
            key,
            ip: spec.ip,
            port: spec.port,
        },
        other => {
            return Err(NamingError::invalid(format!(
                "Unsupported request type {other}"
            )))
        }
    };
    write_durably(core, command).await?;
    Ok(typed("InstanceResponse", request_type))
}

async fn hosts(core: &CoreHandle, op: NamingOp) -> NamingResult<(Bytes, bool)> {
    match core.execute(op).await {
        NamingReply::Hosts {
            hosts_json,
            reach_protection,
        } => Ok((hosts_json, reach_protection)),
        NamingReply::Error(e) => Err(e),
        other => Err(unexpected(&other)),
    }
}

/// A success response carrying an already encoded `serviceInfo` (no re-parsing: the hosts
/// come from the owner core's cache as bytes).
fn with_service_info(kind: &str, service_info: &[u8], message: bool) -> Answer {
    let mut body = Vec::with_capacity(service_info.len() + 96);
    body.extend_from_slice(br#"{"resultCode":200,"errorCode":0,"success":true,"#);
    if message {
        body.extend_from_slice(br#""message":"success","#);
    }
    body.extend_from_slice(br#""serviceInfo":"#);
    body.extend_from_slice(service_info);
    body.push(b'}');
    (kind.to_string(), body)
}

/// `ServiceQueryRequest` → `QueryServiceResponse`.
async fn query(core: &CoreHandle, body: &Value) -> NamingResult<Answer> {
    let key = service_key(body)?;
    let clusters = text(body, "cluster").unwrap_or("").to_string();
    let healthy_only = body
        .get("healthyOnly")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let op = NamingOp::List {
        key: key.clone(),
        clusters: clusters.clone(),
        healthy_only,
        udp_subscriber: None,
    };
    let (hosts_json, reach) = hosts(core, op).await?;
    let info = service_info(core, &key, false, &clusters, &hosts_json, reach);
    Ok(with_service_info("QueryServiceResponse", &info, false))
}

/// `SubscribeServiceRequest` (`subscribe=false` unsubscribes) → `SubscribeServiceResponse`
/// with the current selection (healthyOnly ignored, as in Nacos).
async fn subscribe(
    core: &CoreHandle,
    connection: &Connection,
    body: &Value,
) -> NamingResult<Answer> {
    let key = service_key(body)?;
    let clusters = text(body, "clusters").unwrap_or("").to_string();
    let subscribing = body
        .get("subscribe")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let op = if subscribing {
        track(connection, &key)?;
        NamingOp::Subscribe {
            key: key.clone(),
            connection: connection.uid,
            clusters: clusters.clone(),
            ip: connection.client_ip(),
            agent: connection.client_version(),
        }
    } else {
        NamingOp::Unsubscribe {
            key: key.clone(),
            connection: connection.uid,
            clusters: clusters.clone(),
        }
    };
    let (hosts_json, reach) = hosts(core, op).await?;
    let info = service_info(core, &key, false, &clusters, &hosts_json, reach);
    Ok(with_service_info("SubscribeServiceResponse", &info, true))
}

/// `ServiceListRequest` → `ServiceListResponse{count, serviceNames}` (un-grouped, paged).
async fn service_list(core: &CoreHandle, body: &Value) -> NamingResult<Answer> {
    let namespace = crate::naming::key::normalize_namespace(text(body, "namespace"))?;
    let group = text(body, "groupName")
        .filter(|g| !g.is_empty())
        .unwrap_or(crate::naming::key::DEFAULT_GROUP)
        .to_string();
    crate::naming::key::check_group(&group)?;
    let page_no = body
        .get("pageNo")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1) as usize;
    let page_size = body
        .get("pageSize")
        .and_then(Value::as_u64)
        .unwrap_or(10)
        .max(1) as usize;
    let (count, page) =
        crate::api::service::service_names_page(core, namespace, group, page_no, page_size).await?;
    let mut fields = Map::new();
    fields.insert("count".into(), json!(count));
    fields.insert("serviceNames".into(), json!(page));
    Ok(success("ServiceListResponse", fields))
}

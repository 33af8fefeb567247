//! Operator and console endpoints: switches, metrics, health probes, cluster nodes, server
//! state.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::api::form;
use crate::api::instance::unexpected;
use crate::api::render::{Flavor, Reply};
use crate::http::codec::Method;
use crate::http::conn::Request;
use crate::http::params::Params;
use crate::http::response::Response;
use crate::naming::error::NamingResult;
use crate::naming::op::{Counts, DurableCommand, NamingOp, NamingReply};
use crate::shard::CoreHandle;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const PATHS: [&str; 2] = ["/operator/switches", "/operator/metrics"];

pub fn knows(path: &str) -> bool {
    PATHS.contains(&path)
}

pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn switches(core: &CoreHandle) -> Reply {
    let body = core.with_switches(serde_json::to_vec).unwrap_or_default();
    Reply::Json(Bytes::from(body))
}

/// Applies the change on every core, so that each core's copy stays the same.
pub async fn update_switch(core: &CoreHandle, params: &Params) -> NamingResult<Reply> {
    let entry = form::required(params, "entry")?.to_string();
    let value = form::required(params, "value")?.to_string();
    // Checked here first, so a bad entry never reaches the log.
    core.with_switches(|s| s.clone().update(&entry, &value))?;
    crate::api::instance::write_durably(core, DurableCommand::SetSwitch { entry, value }).await
}

/// `{"status":"UP"}` by default (`onlyStatus=true`), plus counts with `onlyStatus=false`.
pub async fn metrics(core: &CoreHandle, params: &Params, flavor: Flavor) -> NamingResult<Reply> {
    let only_status = form::flag(params, "onlyStatus", flavor == Flavor::V1);
    if only_status {
        return Ok(Reply::Json(Bytes::from_static(b"{\"status\":\"UP\"}")));
    }
    let mut counts = Counts::default();
    for reply in core.execute_everywhere(NamingOp::Counts).await {
        match reply {
            NamingReply::Counts(part) => counts.add(part),
            NamingReply::Error(error) => return Err(error),
            other => return Err(unexpected(&other)),
        }
    }
    let body = json!({
        "status": "UP",
        "serviceCount": counts.services,
        "instanceCount": counts.instances,
        "subscribeCount": counts.subscribers,
        "responsibleInstanceCount": counts.responsible_instances,
        "clientCount": counts.ephemeral_clients + counts.persistent_clients,
        "connectionBasedClientCount": 0,
        "ephemeralIpPortClientCount": counts.ephemeral_clients,
        "persistentIpPortClientCount": counts.persistent_clients,
        "responsibleClientCount": counts.ephemeral_clients + counts.persistent_clients,
        "cpu": 0.0,
        "load": load_average(),
        "mem": 0.0,
    });
    Ok(Reply::Json(Bytes::from(body.to_string())))
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Console, core and health paths outside `/ns`. `None`: not one of ours.
pub async fn console(core: &CoreHandle, request: &Request, path: &str) -> Option<Response> {
    let get = matches!(request.head.method, Method::Get | Method::Head);
    let response = match path {
        "/nacos/v1/console/health/liveness" if get => Response::text(200, "OK"),
        "/nacos/v1/console/health/readiness" if get => readiness(core),
        "/nacos/v1/core/cluster/nodes" | "/nacos/v1/core/cluster/nodes/self" if get => {
            cluster_nodes(core, request, path.ends_with("/self"), false).await
        }
        "/nacos/v2/core/cluster/node/list" | "/nacos/v2/core/cluster/node/self" if get => {
            cluster_nodes(core, request, path.ends_with("/self"), true).await
        }
        "/nacos/v1/console/server/state" if get => server_state(core, request),
        _ => return None,
    };
    Some(response)
}

fn readiness(core: &CoreHandle) -> Response {
    if core.is_ready() {
        Response::text(200, "OK")
    } else {
        Response::text(503, "server is starting: its state is being rebuilt")
    }
}

/// One member as Nacos `Member` JSON; the Raft leader is shown the way Nacos 2.x shows its
/// JRaft groups (`extendInfo.raftMetaData.metaDataMap`).
struct MemberJson<'a> {
    http: SocketAddr,
    cluster_port: u16,
    state: &'a str,
    /// `LEADER` or `FOLLOWER` in the Raft group (`STANDALONE` for a single node).
    raft_role: &'a str,
    leader: Option<SocketAddr>,
    term: u64,
    /// Wall ms this member was last heard from (now, for this member).
    last_refresh_ms: u64,
}

fn member_json(member: MemberJson) -> Value {
    let ip = member.http.ip().to_string();
    let leader = member.leader.map(|l| l.to_string()).unwrap_or_default();
    json!({
        "ip": ip,
        "port": member.http.port(),
        "state": member.state,
        "address": member.http.to_string(),
        "failAccessCnt": 0,
        "extendInfo": {
            "lastRefreshTime": member.last_refresh_ms,
            "version": VERSION,
            "raftPort": member.cluster_port.to_string(),
            "raftRole": member.raft_role,
            "raftMetaData": {"metaDataMap": {"naming_persistent_service_v2": {
                "leader": leader, "term": member.term, "raftRole": member.raft_role}}},
        },
        "abilities": {"namingAbility": {"supportJraft": true}},
    })
}

/// Each member's state as core 0's membership sees it (by index).
async fn member_states(core: &CoreHandle) -> Vec<(String, Option<u64>)> {
    use crate::distro::ops::{DistroOp, DistroReply};
    match core.distro_on(0, DistroOp::MemberViews).await {
        DistroReply::Members(views) => views
            .into_iter()
            .map(|v| (v.state.name().to_string(), v.last_heard_ms))
            .collect(),
        _ => Vec::new(),
    }
}

async fn cluster_nodes(
    core: &CoreHandle,
    request: &Request,
    only_self: bool,
    v2: bool,
) -> Response {
    let (leader_id, term) = core.raft_status().await;
    let members = core.members();
    let states = member_states(core).await;
    let (now_ms, wall_ms) = (core.now_ms(), wall_clock_ms());
    let nodes: Vec<Value> = match &members {
        Some(members) => members
            .ids()
            .into_iter()
            .filter(|id| !only_self || *id == members.self_id)
            .filter_map(|id| {
                let http = members.http_addr_of(id)?;
                let cluster = members.addr_of(id)?;
                let (state, heard_ms) = states
                    .get(usize::try_from(id - 1).ok()?)
                    .cloned()
                    .unwrap_or(("DOWN".to_string(), None));
                let last_refresh_ms = match (id == members.self_id, heard_ms) {
                    (true, _) => wall_ms,
                    (false, Some(at)) => wall_ms.saturating_sub(now_ms.saturating_sub(at)),
                    (false, None) => 0,
                };
                Some(member_json(MemberJson {
                    http,
                    cluster_port: cluster.port(),
                    state: &state,
                    raft_role: if id == leader_id {
                        "LEADER"
                    } else {
                        "FOLLOWER"
                    },
                    leader: members.addr_of(leader_id),
                    term,
                    last_refresh_ms,
                }))
            })
            .collect(),
        None => {
            let local = request
                .local_addr
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8848)));
            let cluster_port = local.port().saturating_add(1001);
            let leader = (leader_id != 0).then(|| SocketAddr::new(local.ip(), cluster_port));
            vec![member_json(MemberJson {
                http: local,
                cluster_port,
                state: "UP",
                raft_role: "LEADER",
                leader,
                term,
                last_refresh_ms: wall_ms,
            })]
        }
    };
    let data = match (only_self, nodes.first()) {
        (true, Some(node)) => node.clone(),
        _ => Value::Array(nodes),
    };
    let body = if v2 {
        json!({"code": 0, "message": "success", "data": data})
    } else {
        json!({"code": 200, "message": null, "data": data})
    };
    Response::json(200, body.to_string())
}

fn server_state(core: &CoreHandle, request: &Request) -> Response {
    let port = request.local_addr.map_or(8848, |a| a.port());
    let mode = if core.members().is_some() {
        "cluster"
    } else {
        "standalone"
    };
    let body = json!({
        "version": VERSION,
        "standalone_mode": mode,
        "startup_mode": mode,
        "function_mode": "naming",
        "server_port": port.to_string(),
        "auth_enabled": "false",
    });
    Response::json(200, body.to_string())
}

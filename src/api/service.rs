//! Service endpoints of v1 and v2: create, delete, update, get, list, subscribers.

use bytes::Bytes;
use serde_json::json;

use crate::api::form;
use crate::api::instance::{unexpected, write_durably};
use crate::api::render::{Flavor, Reply};
use crate::http::params::Params;
use crate::limits::SERVICE_LIST_V2_PAGE_SIZE_MAX;
use crate::naming::error::NamingResult;
use crate::naming::key::{check_group, normalize_namespace, DEFAULT_GROUP};
use crate::naming::op::{DurableCommand, NamingOp, NamingReply, ServiceView};
use crate::naming::service::HealthChecker;
use crate::shard::CoreHandle;

const PATHS: [&str; 5] = [
    "/service",
    "/service/list",
    "/service/subscribers",
    "/service/names",
    "/cluster",
];

pub fn knows(path: &str) -> bool {
    PATHS.contains(&path)
}

/// v1 creates persistent services (Nacos `ServiceController.create`); v2 takes `ephemeral`,
/// default false.
pub async fn create(core: &CoreHandle, params: &Params, _flavor: Flavor) -> NamingResult<Reply> {
    let spec = form::service_spec(params, false, false)?;
    write_durably(core, DurableCommand::CreateService { spec }).await
}

/// v1 requires `protectThreshold` on update; v2 defaults it to 0.
pub async fn update(core: &CoreHandle, params: &Params, flavor: Flavor) -> NamingResult<Reply> {
    let spec = form::service_spec(params, false, flavor == Flavor::V1)?;
    write_durably(core, DurableCommand::UpdateService { spec }).await
}

pub async fn delete(core: &CoreHandle, params: &Params) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    write_durably(core, DurableCommand::DeleteService { key }).await
}

pub async fn get(core: &CoreHandle, params: &Params, flavor: Flavor) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    let view = match core.execute(NamingOp::GetService { key }).await {
        NamingReply::Service(view) => view,
        NamingReply::Error(error) => return Err(error),
        other => return Err(unexpected(&other)),
    };
    let body = match flavor {
        Flavor::V1 => v1_detail(&view),
        Flavor::V2 => v2_detail(&view),
    };
    Ok(Reply::Json(Bytes::from(body.to_string())))
}

/// The threshold as Java prints a float (0.3, not 0.30000001192092896).
fn threshold(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(0.0)
}

fn selector_json(view: &ServiceView) -> serde_json::Value {
    match view.selector.kind.as_str() {
        "label" => json!({"type": "label", "expression": view.selector.expression}),
        _ => json!({"type": "none", "contextType": "NONE"}),
    }
}

/// `PUT /nacos/v1/ns/cluster`: the health check of one cluster's persistent instances,
/// stored through Raft.
pub async fn update_cluster(core: &CoreHandle, params: &Params) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    let cluster = form::required(params, "clusterName")?.to_string();
    crate::naming::key::check_cluster(&cluster)?;
    let config = form::cluster_config(params)?;
    write_durably(
        core,
        DurableCommand::UpdateCluster {
            key,
            cluster,
            config,
        },
    )
    .await
}

fn checker_json(view: &ServiceView, cluster: &str) -> serde_json::Value {
    let config = view
        .cluster_configs
        .iter()
        .find(|(name, _)| name == cluster);
    match config.map(|(_, c)| &c.checker) {
        Some(HealthChecker::Http {
            path,
            headers,
            expected_code,
        }) => json!({"type": "HTTP", "path": path, "headers": headers,
            "expectedResponseCode": expected_code}),
        Some(HealthChecker::None) => json!({"type": "NONE"}),
        _ => json!({"type": "TCP"}),
    }
}

/// Clusters with instances or with settings.
fn cluster_names(view: &ServiceView) -> Vec<String> {
    let mut names = view.clusters.clone();
    names.extend(view.cluster_configs.iter().map(|(name, _)| name.clone()));
    names.sort();
    names.dedup();
    names
}

/// Nacos `ServiceOperatorV2Impl.queryService`.
fn v1_detail(view: &ServiceView) -> serde_json::Value {
    let clusters: Vec<serde_json::Value> = cluster_names(view)
        .iter()
        .map(
            |name| json!({"name": name, "healthChecker": checker_json(view, name), "metadata": {}}),
        )
        .collect();
    json!({
        "namespaceId": view.key.namespace(),
        "groupName": view.key.group(),
        "name": view.key.service(),
        "protectThreshold": threshold(view.protect_threshold),
        "metadata": view.metadata,
        "selector": selector_json(view),
        "clusters": clusters,
    })
}

/// Nacos `ServiceDetailInfo` of `ServiceControllerV2.detail`.
fn v2_detail(view: &ServiceView) -> serde_json::Value {
    let cluster_map: serde_json::Map<String, serde_json::Value> = cluster_names(view)
        .iter()
        .map(|name| {
            let info = json!({"clusterName": name, "healthChecker": checker_json(view, name),
                "metadata": {}, "healthyCheckPort": 80, "useInstancePortForCheck": true});
            (name.clone(), info)
        })
        .collect();
    json!({
        "namespaceId": view.key.namespace(),
        "groupName": view.key.group(),
        "serviceName": view.key.service(),
        "protectThreshold": threshold(view.protect_threshold),
        "metadata": view.metadata,
        "selector": selector_json(view),
        "ephemeral": view.ephemeral,
        "clusterMap": cluster_map,
    })
}

/// `service/list`: names of one group, sorted and paged. v1 needs both page params and
/// answers `{count, doms}`; v2 defaults them (1, 20; size capped) and answers
/// `{count, services}`.
pub async fn list(core: &CoreHandle, params: &Params, flavor: Flavor) -> NamingResult<Reply> {
    let (page_no, page_size) = match flavor {
        Flavor::V1 => (
            form::page(params, "pageNo", None)?,
            form::page(params, "pageSize", None)?,
        ),
        Flavor::V2 => (
            form::page(params, "pageNo", Some(1))?,
            form::page(params, "pageSize", Some(20))?.min(SERVICE_LIST_V2_PAGE_SIZE_MAX),
        ),
    };
    let namespace = normalize_namespace(params.get("namespaceId"))?;
    let group = params
        .non_blank("groupName")
        .unwrap_or(DEFAULT_GROUP)
        .trim()
        .to_string();
    check_group(&group)?;
    let (count, page) = service_names_page(core, namespace, group, page_no, page_size).await?;
    let field = match flavor {
        Flavor::V1 => "doms",
        Flavor::V2 => "services",
    };
    let body = json!({ "count": count, field: page });
    Ok(Reply::Json(Bytes::from(body.to_string())))
}

/// One page of the (un-grouped, sorted) service names of a group, gathered from every core,
/// and the total count. Shared by HTTP `service/list` and gRPC `ServiceListRequest`.
pub async fn service_names_page(
    core: &CoreHandle,
    namespace: String,
    group: String,
    page_no: usize,
    page_size: usize,
) -> NamingResult<(usize, Vec<String>)> {
    debug_assert!(page_no >= 1 && page_size >= 1);
    let op = NamingOp::ServiceNames {
        namespace,
        group: Some(group),
    };
    let mut names = Vec::new();
    for reply in core.execute_everywhere(op).await {
        match reply {
            NamingReply::ServiceNames(part) => names.extend(part.into_iter().map(|(_, n)| n)),
            NamingReply::Error(error) => return Err(error),
            other => return Err(unexpected(&other)),
        }
    }
    names.sort();
    let count = names.len();
    let skip = (page_no - 1).saturating_mul(page_size);
    Ok((
        count,
        names.into_iter().skip(skip).take(page_size).collect(),
    ))
}

/// `service/subscribers`: the v1 pollers recorded for the service (Nacos `Subscriber`).
pub async fn subscribers(core: &CoreHandle, params: &Params) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    let page_no = form::page(params, "pageNo", Some(1))?;
    let page_size = form::page(params, "pageSize", Some(1000))?;
    let views = match core.execute(NamingOp::Subscribers { key }).await {
        NamingReply::Subscribers(views) => views,
        NamingReply::Error(error) => return Err(error),
        other => return Err(unexpected(&other)),
    };
    let count = views.len();
    let skip = (page_no - 1).saturating_mul(page_size);
    let page: Vec<serde_json::Value> = views
        .into_iter()
        .skip(skip)
        .take(page_size)
        .map(|s| {
            json!({
                "addrStr": if s.grpc { s.ip.clone() } else { format!("{}:{}", s.ip, s.udp_port) },
                "agent": s.agent,
                "app": s.app,
                "ip": s.ip,
                "port": s.udp_port,
                "namespaceId": s.namespace,
                "serviceName": s.grouped_service,
                "cluster": s.clusters,
            })
        })
        .collect();
    let body = json!({ "subscribers": page, "count": count });
    Ok(Reply::Json(Bytes::from(body.to_string())))
}

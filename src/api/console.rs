//! The web console: its assets (compiled into the binary from `src/console/assets/`) under
//! `/nacos/`, and the console-only catalog endpoints (`/nacos/v1/ns/catalog/...`, as Nacos's
//! `CatalogController`), gathered from the owner cores like `service/list`.

use bytes::Bytes;
use serde_json::json;

use crate::api::form;
use crate::api::instance::unexpected;
use crate::api::render::{render, Flavor, Reply};
use crate::http::codec::{KeptHeader, Method};
use crate::http::conn::Request;
use crate::http::params::Params;
use crate::http::response::{Body, Response};
use crate::limits::{CONSOLE_CATALOG_PAGE_SIZE_MAX, CONSOLE_SEARCH_CHARS_MAX};
use crate::naming::error::{NamingError, NamingResult};
use crate::naming::key::normalize_namespace;
use crate::naming::op::{InstanceView, NamingOp, NamingReply, ServiceSummary};
use crate::shard::CoreHandle;

const HTML: &str = "text/html;charset=UTF-8";
const JS: &str = "text/javascript;charset=UTF-8";
const CSS: &str = "text/css;charset=UTF-8";

/// The page every console URL without an asset name gets.
const INDEX_HTML: &str = include_str!("../console/assets/index.html");

/// One compiled-in asset and the FNV-1a hash of its bytes (its ETag), computed at build time.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        (
            $name,
            $content_type,
            include_str!(concat!("../console/assets/", $name)),
            fnv1a(include_str!(concat!("../console/assets/", $name)).as_bytes()),
        )
    };
}

/// FNV-1a, 64 bits: a stable fingerprint of an asset for its ETag (not a security measure).
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        index += 1;
    }
    hash
}

/// (name under `/nacos/assets/`, content type, content, hash).
const ASSETS: [(&str, &str, &str, u64); 10] = [
    asset!("style.css", CSS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("services.js", JS),
    asset!("configs.js", JS),
    asset!("namespaces.js", JS),
    asset!("cluster.js", JS),
    asset!("diff.js", JS),
    asset!("editor.js", JS),
];
const INDEX_HASH: u64 = fnv1a(INDEX_HTML.as_bytes());

const ASSET_PREFIX: &str = "/nacos/assets/";

/// Console paths. `path` has no trailing slash. `None`: not one of ours.
pub async fn route(core: &CoreHandle, request: &Request, path: &str) -> Option<Response> {
    let get = matches!(request.head.method, Method::Get | Method::Head);
    if path == "/nacos" || path == "/nacos/index.html" {
        return Some(if get {
            asset_response(request, HTML, INDEX_HTML, INDEX_HASH)
        } else {
            crate::api::render::method_not_allowed(request)
        });
    }
    if let Some(name) = path.strip_prefix(ASSET_PREFIX) {
        return Some(asset(request, name, get));
    }
    let result = match path {
        "/nacos/v1/ns/catalog/services" if get => catalog_services(core, &request.params).await,
        "/nacos/v1/ns/catalog/instances" if get => catalog_instances(core, &request.params).await,
        "/nacos/v1/ns/catalog/services" | "/nacos/v1/ns/catalog/instances" => {
            return Some(crate::api::render::method_not_allowed(request));
        }
        _ => return None,
    };
    Some(render(result, Flavor::V1))
}

fn asset(request: &Request, name: &str, get: bool) -> Response {
    let Some((_, content_type, content, hash)) = ASSETS.iter().find(|a| a.0 == name) else {
        return crate::api::render::not_found(request);
    };
    if !get {
        return crate::api::render::method_not_allowed(request);
    }
    asset_response(request, content_type, content, *hash)
}

/// Assets are small and change with the binary: browsers revalidate each time (`no-cache`),
/// so an upgraded server never runs an old script against a new API; the ETag makes that
/// revalidation a 304 without a body while the asset is unchanged.
fn asset_response(
    request: &Request,
    content_type: &'static str,
    content: &'static str,
    hash: u64,
) -> Response {
    debug_assert!(!content.is_empty());
    let etag = format!("\"{hash:016x}\"");
    let held = request.head.header(KeptHeader::IfNoneMatch);
    let fresh = held.is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let (status, body) = if fresh {
        (304, Body::new())
    } else {
        (200, Body::from(Bytes::from_static(content.as_bytes())))
    };
    debug_assert!(status == 200 || body.is_empty());
    Response {
        status,
        content_type: if fresh { "" } else { content_type },
        body,
        headers: vec![
            ("Cache-Control", "no-cache".into()),
            ("ETag", etag.into()),
            ("X-Content-Type-Options", "nosniff".into()),
        ],
    }
}

/// A search fragment: absent is empty (matches all); too long is a 400.
fn fragment(params: &Params, name: &str) -> NamingResult<String> {
    let value = params.get(name).unwrap_or("").trim();
    if value.chars().count() > CONSOLE_SEARCH_CHARS_MAX {
        return Err(NamingError::invalid(format!(
            "Param '{name}' is longer than {CONSOLE_SEARCH_CHARS_MAX} characters"
        )));
    }
    Ok(value.to_string())
}

/// `pageNo` and `pageSize` (defaults 1 and 10, as Nacos's console asks), the size capped.
fn paging(params: &Params) -> NamingResult<(usize, usize)> {
    let page_no = form::page(params, "pageNo", Some(1))?;
    let page_size = form::page(params, "pageSize", Some(10))?;
    if page_size > CONSOLE_CATALOG_PAGE_SIZE_MAX {
        return Err(NamingError::invalid(format!(
            "Param 'pageSize' must be at most {CONSOLE_CATALOG_PAGE_SIZE_MAX}"
        )));
    }
    debug_assert!(page_no >= 1);
    Ok((page_no, page_size))
}

fn page_of<T>(items: Vec<T>, page_no: usize, page_size: usize) -> Vec<T> {
    debug_assert!(page_no >= 1 && page_size >= 1);
    let skip = (page_no - 1).saturating_mul(page_size);
    items.into_iter().skip(skip).take(page_size).collect()
}

/// `GET /nacos/v1/ns/catalog/services`: one page of the namespace's services whose name and
/// group contain `serviceNameParam` and `groupNameParam` (with `hasIpCount=true`, only those
/// with instances), with instance counts; `instanceCount` and `healthyInstanceCount` (not in
/// Nacos) total every match, for the console's headline numbers. Nacos's `withInstances=true`
/// (every instance of every service) and `instance` (services holding an address) are not
/// served.
async fn catalog_services(core: &CoreHandle, params: &Params) -> NamingResult<Reply> {
    if form::flag(params, "withInstances", false) {
        return Err(NamingError::invalid(
            "Param 'withInstances' must be false: only the service summary is served",
        ));
    }
    if params.non_blank("instance").is_some() {
        return Err(NamingError::invalid(
            "Param 'instance' is not supported: filter by serviceNameParam or groupNameParam",
        ));
    }
    let has_ip_count = form::flag(params, "hasIpCount", false);
    let (page_no, page_size) = paging(params)?;
    let op = NamingOp::ServiceSummaries {
        namespace: normalize_namespace(params.get("namespaceId"))?,
        group_contains: fragment(params, "groupNameParam")?,
        name_contains: fragment(params, "serviceNameParam")?,
    };
    let mut summaries: Vec<ServiceSummary> = Vec::new();
    for reply in core.execute_everywhere(op).await {
        match reply {
            NamingReply::ServiceSummaries(part) => summaries.extend(part),
            NamingReply::Error(error) => return Err(error),
            other => return Err(unexpected(&other)),
        }
    }
    if has_ip_count {
        summaries.retain(|s| s.instance_count > 0);
    }
    summaries.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
    let count = summaries.len();
    let instances: usize = summaries.iter().map(|s| s.instance_count).sum();
    let healthy: usize = summaries.iter().map(|s| s.healthy_count).sum();
    debug_assert!(healthy <= instances);
    let list: Vec<serde_json::Value> = page_of(summaries, page_no, page_size)
        .iter()
        .map(summary_json)
        .collect();
    debug_assert!(list.len() <= page_size);
    let body = json!({
        "count": count,
        "serviceList": list,
        "instanceCount": instances,
        "healthyInstanceCount": healthy,
    });
    Ok(Reply::Json(Bytes::from(body.to_string())))
}

/// One service as Nacos's `ServiceView` (`triggerFlag` is a string there).
fn summary_json(summary: &ServiceSummary) -> serde_json::Value {
    debug_assert!(summary.healthy_count <= summary.instance_count);
    json!({
        "name": summary.name,
        "groupName": summary.group,
        "clusterCount": summary.cluster_count,
        "ipCount": summary.instance_count,
        "healthyInstanceCount": summary.healthy_count,
        "triggerFlag": if summary.protect_triggered { "true" } else { "false" },
    })
}

/// `GET /nacos/v1/ns/catalog/instances`: every instance of a service, disabled ones included
/// (`instance/list` leaves those out), optionally of one `clusterName`, paged.
async fn catalog_instances(core: &CoreHandle, params: &Params) -> NamingResult<Reply> {
    let key = form::service_key(params)?;
    let (page_no, page_size) = paging(params)?;
    let cluster = params.non_blank("clusterName").map(str::trim);
    let views = match core.execute(NamingOp::ServiceInstances { key }).await {
        NamingReply::Instances(views) => views,
        NamingReply::Error(error) => return Err(error),
        other => return Err(unexpected(&other)),
    };
    let views: Vec<InstanceView> = views
        .into_iter()
        .filter(|v| cluster.is_none_or(|c| v.cluster == c))
        .collect();
    let count = views.len();
    let list: Vec<serde_json::Value> = page_of(views, page_no, page_size)
        .into_iter()
        .map(|v| {
            json!({
                "instanceId": format!("{}#{}#{}#{}", v.ip, v.port, v.cluster, v.grouped_service),
                "ip": v.ip,
                "port": v.port,
                "weight": v.weight,
                "healthy": v.healthy,
                "enabled": v.enabled,
                "ephemeral": v.ephemeral,
                "clusterName": v.cluster,
                "serviceName": v.grouped_service,
                "metadata": v.metadata,
            })
        })
        .collect();
    let body = json!({ "count": count, "list": list });
    Ok(Reply::Json(Bytes::from(body.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module a served script imports is served too, and every served script is
    /// reached from index.html.
    #[test]
    fn assets_are_linked() {
        assert!(INDEX_HTML.contains("/nacos/assets/style.css"));
        assert!(INDEX_HTML.contains("/nacos/assets/app.js"));
        let mut reached = vec!["app.js"];
        let mut index = 0;
        while index < reached.len() {
            let name = reached[index];
            let (_, _, content, _) = ASSETS.iter().find(|a| a.0 == name).unwrap();
            for (imported, _) in content.match_indices("from './") {
                let rest = &content[imported + "from './".len()..];
                let module = &rest[..rest.find('\'').unwrap()];
                assert!(
                    ASSETS.iter().any(|a| a.0 == module),
                    "{name} imports {module}, which is not served"
                );
                if !reached.contains(&module) {
                    reached.push(module);
                }
            }
            index += 1;
        }
        for (name, content_type, content, _) in ASSETS {
            assert!(!content.is_empty(), "{name} is empty");
            assert!(content_type.starts_with("text/"));
            if name.ends_with(".js") {
                assert!(
                    reached.contains(&name),
                    "{name} is served but never imported"
                );
            }
        }
    }

    /// While the state is being rebuilt the page and its assets are served (so the console
    /// can show why nothing else answers) and the catalog answers 503 like the rest of `/ns`.
    #[test]
    fn assets_served_before_ready() {
        use std::time::{Duration, Instant};

        use crate::shard::Core;

        let request = Request::from_raw_head;
        let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(512 * 1024)
            .make()
            .unwrap();
        executor.run(async {
            let core = Core::new(0, 1, None, Instant::now(), Duration::ZERO);
            let page = request(b"GET /nacos/ HTTP/1.1\r\n\r\n");
            let script = request(b"GET /nacos/assets/app.js HTTP/1.1\r\n\r\n");
            let catalog = request(b"GET /nacos/v1/ns/catalog/services HTTP/1.1\r\n\r\n");
            assert_eq!(crate::api::route(&core, &page).await.status, 200);
            assert_eq!(crate::api::route(&core, &script).await.status, 200);
            assert_eq!(crate::api::route(&core, &catalog).await.status, 503);
            core.apply_local(NamingOp::MarkReady);
            let response = crate::api::route(&core, &catalog).await;
            assert_eq!(response.status, 200, "{:?}", response.body);
        });
    }

    /// Pages hold the requested slice; a page past the end is empty.
    #[test]
    fn pages() {
        assert_eq!(page_of(vec![1, 2, 3, 4, 5], 2, 2), vec![3, 4]);
        assert_eq!(page_of(vec![1, 2, 3], 3, 2), Vec::<i32>::new());
    }
}

//! Config operations by id and by listener (nacos-config-protocol.md §2.3, §2.4, §2.6): delete
//! by ids, the listener queries (`/v1/cs/configs/listener` GET, `/v1/cs/listener`) and the
//! console's zip export (`export=true`, `exportV2=true`).
//!
//! Listener queries merge every member's listeners as Java does: the member asked adds what
//! its peers' `/v1/cs/communication/{configWatchers,watcherConfigs}` answer (this node's own
//! listeners only); a peer that does not answer is skipped.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::json;

use crate::api::wall_clock_ms;
use crate::config::archive::{export_zip, ArchiveItem};
use crate::config::command::ConfigCommand;
use crate::config::error::{ConfigError, ConfigErrorKind, ConfigResult};
use crate::config::key::{check_name, check_tenant, normalise_tenant, ConfigKey};
use crate::config::listen::{group_key, parse_group_key, url_encode};
use crate::config::store::{ConfigSummary, SearchFilter};
use crate::http::client::{self, Outgoing};
use crate::http::conn::Request;
use crate::http::params::Params;
use crate::http::response::{Body, Response};
use crate::limits::{
    CONFIG_DATA_ID_CHARS_MAX, CONFIG_DELETE_IDS_MAX, CONFIG_EXPORT_ITEMS_MAX,
    CONFIG_GROUP_CHARS_MAX,
};
use crate::shard::CoreHandle;

use super::{client_ip, key_of, Api};

/// Every `ids` value (`ids=1,2` or `ids=1&ids=2`, as Spring binds a `List<Long>`), at most
/// `CONFIG_DELETE_IDS_MAX`. `Ok(empty)` when there are none.
pub(crate) fn parse_ids(params: &Params) -> ConfigResult<Vec<u64>> {
    let mut ids = Vec::new();
    for (name, value) in params.iter() {
        if name != "ids" {
            continue;
        }
        for raw in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            let id = raw
                .parse::<u64>()
                .map_err(|_| ConfigError::invalid(format!("invalid ids : {raw}")))?;
            if ids.len() == CONFIG_DELETE_IDS_MAX {
                return Err(ConfigError::new(
                    ConfigErrorKind::LimitReached,
                    format!("too many ids, at most {CONFIG_DELETE_IDS_MAX}"),
                ));
            }
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// `DELETE ?delType=ids&ids=1,2`: each formal config with one of the ids is removed through
/// Raft like a single delete; unknown ids are skipped. `{code:200,message:null,data:true}`.
pub(crate) async fn remove_by_ids(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let p = &request.params;
    if p.get("ids").is_none() {
        return Err(ConfigError::missing("ids"));
    }
    let ids = parse_ids(p)?;
    let src_user = p.get("src_user").or_else(|| p.get("srcUser")).unwrap_or("");
    let src_ip = client_ip(request);
    for summary in core.configs_by_ids(ids).await? {
        core.propose_config(ConfigCommand::Remove {
            key: summary.key,
            gray_name: None,
            src_user: src_user.to_string(),
            src_ip: src_ip.clone(),
            at_ms: wall_clock_ms(),
        })
        .await?;
    }
    let body = json!({"code": 200, "message": null, "data": true});
    Ok(Response::json(200, Bytes::from(body.to_string())))
}

/// Java's `GroupkeyListenserStatus` (the `lisenters` typo is upstream's).
fn listener_status(map: BTreeMap<String, String>) -> Response {
    let body = json!({"collectStatus": 200, "lisentersGroupkeyStatus": map});
    Response::json(200, Bytes::from(body.to_string()))
}

/// Java's `SampleResult`: what a member answers a peer about its own listeners.
fn sample_result(map: BTreeMap<String, String>) -> Response {
    let body = json!({"lisentersGroupkeyStatus": map});
    Response::json(200, Bytes::from(body.to_string()))
}

/// Adds a peer's `SampleResult` to `merged`; an unreadable one adds nothing.
fn merge_sample(merged: &mut BTreeMap<String, String>, body: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    if let Some(map) = value["lisentersGroupkeyStatus"].as_object() {
        for (name, md5) in map {
            merged.insert(name.clone(), md5.as_str().unwrap_or_default().to_string());
        }
    }
}

/// The peers' answers to `target` (a `/nacos/v1/cs/communication/...` path and query), merged;
/// nothing outside cluster mode.
async fn peers_sample(core: &CoreHandle, target: &str) -> BTreeMap<String, String> {
    let mut merged = BTreeMap::new();
    let Some(members) = core.members() else {
        return merged;
    };
    let addrs: Vec<_> = members
        .peers()
        .filter_map(|id| members.http_addr_of(id))
        .collect();
    let calls = addrs.iter().map(|&addr| async move {
        // --- auth ---
        let identity = crate::api::auth_gate::identity_header();
        let mut headers = vec![("User-Agent", "Nacos-Server:nacore")];
        if let Some((name, value)) = &identity {
            headers.push((name, value.as_str()));
        }
        let outgoing = Outgoing {
            method: "GET",
            target,
            headers: &headers,
            content_type: "application/x-www-form-urlencoded",
            body: &[],
        };
        (
            addr,
            client::send(addr, &client::encode(addr, &outgoing)).await,
        )
    });
    for (addr, answer) in futures::future::join_all(calls).await {
        match answer {
            Ok(answer) if answer.status == 200 => merge_sample(&mut merged, &answer.body),
            Ok(answer) => tracing::warn!(%addr, status = answer.status, "listener query refused"),
            Err(error) => tracing::warn!(%addr, %error, "listener query failed"),
        }
    }
    merged
}

fn watchers_target(key: &ConfigKey) -> String {
    format!(
        "/nacos/v1/cs/communication/configWatchers?dataId={}&group={}&tenant={}",
        url_encode(key.data_id()),
        url_encode(key.group()),
        url_encode(key.tenant())
    )
}

/// ip → md5 of this node's listeners of `key`.
async fn local_watchers(
    core: &CoreHandle,
    key: &ConfigKey,
) -> ConfigResult<BTreeMap<String, String>> {
    Ok(core.config_listeners(key).await?.into_iter().collect())
}

/// group key → md5 of what `ip` listens to on this node.
async fn local_watched(core: &CoreHandle, ip: &str) -> ConfigResult<BTreeMap<String, String>> {
    Ok(core
        .configs_listened_by(ip)
        .await?
        .into_iter()
        .map(|(key, md5)| (group_key(key.data_id(), key.group(), key.tenant()), md5))
        .collect())
}

/// `GET /v1/cs/configs/listener?dataId&group[&tenant]`: ip → md5 of the key's listeners on
/// every member.
pub(crate) async fn listeners_of(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let key = key_of(request, Api::V1)?;
    let mut map = peers_sample(core, &watchers_target(&key)).await;
    map.extend(local_watchers(core, &key).await?);
    Ok(listener_status(map))
}

/// `GET /v1/cs/communication/configWatchers`: a peer asks for this node's listeners of a key.
pub(crate) async fn config_watchers(
    core: &CoreHandle,
    request: &Request,
) -> ConfigResult<Response> {
    let key = key_of(request, Api::V1)?;
    Ok(sample_result(local_watchers(core, &key).await?))
}

/// `GET /v1/cs/communication/watcherConfigs?ip=`: a peer asks what `ip` listens to here.
pub(crate) async fn watcher_configs(
    core: &CoreHandle,
    request: &Request,
) -> ConfigResult<Response> {
    let ip = request
        .params
        .get("ip")
        .ok_or_else(|| ConfigError::missing("ip"))?;
    Ok(sample_result(local_watched(core, ip.trim()).await?))
}

/// Which of an IP's keys `/v1/cs/listener` shows: tenant-less ones by default, every one with
/// `all`, and those whose group key contains `tenant` (Java's `ListenerController`).
fn shown(group_key: &str, all: bool, tenant: &str) -> bool {
    if !tenant.is_empty() && group_key.contains(tenant) {
        return true;
    }
    all || parse_group_key(group_key).is_some_and(|(_, _, t)| t.is_empty())
}

/// `GET /v1/cs/listener?ip=[&all][&tenant]`: group key → md5 of what `ip` listens to on every
/// member.
pub(crate) async fn listened_by(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let p = &request.params;
    let ip = p
        .get("ip")
        .ok_or_else(|| ConfigError::missing("ip"))?
        .trim();
    let all = p.get("all").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let tenant = p.get("tenant").unwrap_or("").trim();
    let target = format!(
        "/nacos/v1/cs/communication/watcherConfigs?ip={}",
        url_encode(ip)
    );
    let mut merged = peers_sample(core, &target).await;
    merged.extend(local_watched(core, ip).await?);
    merged.retain(|group_key, _| shown(group_key, all, tenant));
    Ok(listener_status(merged))
}

/// The formal configs an export covers: by `ids` when given (any namespace), else by tenant,
/// a `dataId` LIKE pattern (`*` is `%`; without one, equality), group and appName equality.
async fn export_items(core: &CoreHandle, request: &Request) -> ConfigResult<Vec<ConfigSummary>> {
    let p = &request.params;
    let ids = parse_ids(p)?;
    if !ids.is_empty() {
        return core.configs_by_ids(ids).await;
    }
    let data_id = p.get("dataId").unwrap_or("").trim();
    let group = p.get("group").unwrap_or("").trim();
    let app_name = p.get("appName").unwrap_or("").trim();
    let tenant = p.get("tenant").unwrap_or("");
    check_name(
        "dataId",
        &data_id.replace('*', ""),
        CONFIG_DATA_ID_CHARS_MAX,
    )?;
    check_name("group", group, CONFIG_GROUP_CHARS_MAX)?;
    check_tenant(tenant)?;
    let filter = SearchFilter {
        tenant: normalise_tenant(tenant).to_string(),
        data_id: data_id.to_string(),
        blur: data_id.contains('*'),
        ..SearchFilter::default()
    };
    let (items, total) = core
        .search_configs(filter, CONFIG_EXPORT_ITEMS_MAX + 1)
        .await?;
    if total > CONFIG_EXPORT_ITEMS_MAX {
        return Err(ConfigError::new(
            ConfigErrorKind::LimitReached,
            format!("too many configs to export, at most {CONFIG_EXPORT_ITEMS_MAX}"),
        ));
    }
    Ok(items
        .into_iter()
        .filter(|s| group.is_empty() || s.key.group() == group)
        .filter(|s| app_name.is_empty() || s.item.app_name == app_name)
        .collect())
}

fn archive_item(summary: &ConfigSummary) -> ArchiveItem {
    let item = &summary.item;
    ArchiveItem {
        group: summary.key.group().to_string(),
        data_id: summary.key.data_id().to_string(),
        content: String::from_utf8_lossy(&item.content).into_owned(),
        app_name: item.app_name.clone(),
        desc: item.meta.desc.clone(),
        config_type: item.meta.config_type.clone(),
        config_tags: item.meta.tags.clone(),
    }
}

/// `yyyyMMddHHmmss` (UTC) of epoch `ms`.
fn compact_date(ms: u64) -> String {
    let t = crate::api::config::civil_time(ms);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `GET ?export=true` (v1 zip, `.meta.yml`) or `?exportV2=true` (`.metadata.yml`), as Java's
/// console downloads it: `nacos_config_export_<yyyyMMddHHmmss>.zip`.
pub(crate) async fn export(
    core: &CoreHandle,
    request: &Request,
    v2: bool,
) -> ConfigResult<Response> {
    let items: Vec<ArchiveItem> = export_items(core, request)
        .await?
        .iter()
        .map(archive_item)
        .collect();
    let zip = export_zip(&items, v2).map_err(ConfigError::internal)?;
    let file_name = format!("nacos_config_export_{}.zip", compact_date(wall_clock_ms()));
    let response = Response {
        status: 200,
        content_type: "application/octet-stream",
        body: Body::from(Bytes::from(zip)),
        headers: Vec::new(),
    };
    Ok(response.with_header(
        "Content-Disposition",
        format!("attachment;filename={file_name}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        Params::parse(query, None)
    }

    #[test]
    fn ids() {
        assert_eq!(
            parse_ids(&params("ids=3,1,%202&ids=3")).unwrap(),
            vec![1, 2, 3]
        );
        assert!(parse_ids(&params("ids=")).unwrap().is_empty());
        let bad = parse_ids(&params("ids=1,x")).unwrap_err();
        assert_eq!(bad.kind, ConfigErrorKind::Invalid);
        let many: Vec<String> = (0..=CONFIG_DELETE_IDS_MAX).map(|i| i.to_string()).collect();
        let over = parse_ids(&params(&format!("ids={}", many.join(",")))).unwrap_err();
        assert_eq!(over.kind, ConfigErrorKind::LimitReached);
    }

    #[test]
    fn listener_filter() {
        assert!(shown("d+G", false, ""));
        assert!(!shown("d+G+dev", false, ""));
        assert!(shown("d+G+dev", true, ""));
        assert!(shown("d+G+dev", false, "dev"));
        assert!(!shown("d+G+dev", false, "prod"));
    }

    #[test]
    fn samples_merge() {
        let mut merged = BTreeMap::new();
        merge_sample(
            &mut merged,
            br#"{"lisentersGroupkeyStatus":{"10.0.0.1":"abc"}}"#,
        );
        merge_sample(&mut merged, b"not json");
        merge_sample(&mut merged, br#"{"lisentersGroupkeyStatus":null}"#);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged["10.0.0.1"], "abc");
    }

    #[test]
    fn dates() {
        assert_eq!(compact_date(0), "19700101000000");
        assert_eq!(
            compact_date(1_764_633_600_000 + 3_723_000),
            "20251202010203"
        );
    }
}

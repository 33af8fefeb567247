//! The console's zip import (`POST /v1/cs/configs?import=true`, nacos-config-protocol.md
//! §2.4): a `multipart/form-data` body with the zip in part `file`; `namespace`, `policy`
//! (ABORT|SKIP|OVERWRITE) and `src_user` from the query or the form. The answer is Java's
//! `RestResult` with `{succCount, skipCount[, failData][, skipData][, unrecognizedCount,
//! unrecognizedData]}`, or an import result code (1000xx) with `{succCount:0}`, always HTTP 200.
//!
//! Unlike Java, every item is validated before anything is written, so an invalid item refuses
//! the whole import (400) instead of leaving it half done.
//!
//! The console's clone (`POST /v1/cs/configs?clone=true&tenant=<target>&policy=`) shares the
//! policy and the result map: its JSON body `[{cfgId, dataId, group}]` names configs by id (in
//! any namespace) and the dataId/group each copy takes in the target namespace (blank keeps
//! the original's). Unlike Java, the copy keeps the original's tags.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::api::wall_clock_ms;
use crate::config::archive::{import_zip, ArchiveItem};
use crate::config::command::{checked_content, ConfigCommand, Publish};
use crate::config::error::{ConfigError, ConfigErrorKind, ConfigResult};
use crate::config::item::{normalise_type, ConfigMeta};
use crate::config::key::{check_tenant, normalise_tenant, ConfigKey};
use crate::http::codec::KeptHeader;
use crate::http::conn::Request;
use crate::http::multipart::{self, MultipartError, Part};
use crate::http::response::Response;
use crate::limits::{CONFIG_IMPORT_BYTES_MAX, CONFIG_IMPORT_ENTRIES_MAX};
use crate::shard::CoreHandle;

use super::client_ip;

/// Java's `SameConfigPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    Abort,
    Skip,
    Overwrite,
}

fn policy_of(raw: Option<&str>) -> ConfigResult<Policy> {
    match raw.map(str::trim) {
        None | Some("") | Some("ABORT") => Ok(Policy::Abort),
        Some("SKIP") => Ok(Policy::Skip),
        Some("OVERWRITE") => Ok(Policy::Overwrite),
        Some(other) => Err(ConfigError::invalid(format!(
            "invalid policy : {other}, must be ABORT, SKIP or OVERWRITE"
        ))),
    }
}

/// Java's type for an item without one: from the dataId's extension (`FileTypeEnum`).
fn type_of(item: &ArchiveItem) -> String {
    if !item.config_type.trim().is_empty() {
        return normalise_type(Some(&item.config_type));
    }
    let extension = item.data_id.rsplit('.').next().unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "yml" => "yaml".to_string(),
        "txt" => "text".to_string(),
        "htm" => "html".to_string(),
        other => normalise_type(Some(other)),
    }
}

/// The publish of one imported item, validated like an HTTP publish.
fn publish_of(item: &ArchiveItem, tenant: &str, src: (&str, &str)) -> ConfigResult<Publish> {
    let key = ConfigKey::parse(Some(&item.data_id), Some(&item.group), Some(tenant))?;
    let content = checked_content(Some(&item.content))?;
    Ok(Publish {
        key,
        content: content.to_string(),
        app_name: Some(item.app_name.clone()),
        meta: ConfigMeta {
            config_type: type_of(item),
            desc: item.desc.clone(),
            tags: item.config_tags.clone(),
            ..ConfigMeta::default()
        },
        cas_md5: None,
        gray: None,
        src_user: src.0.to_string(),
        src_ip: src.1.to_string(),
        at_ms: wall_clock_ms(),
    })
}

fn key_json(key: &ConfigKey) -> Value {
    json!({"dataId": key.data_id(), "group": key.group()})
}

/// Java's `RestResult` for an import refused as a whole.
fn refused(code: u32, message: &str, data: Value) -> Response {
    let body = json!({"code": code, "message": message, "data": data});
    Response::json(200, Bytes::from(body.to_string()))
}

/// A value from the query, else from a multipart text part.
fn field<'a>(request: &'a Request, parts: &'a [Part], name: &str) -> Option<&'a str> {
    request.params.get(name).or_else(|| {
        parts
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| std::str::from_utf8(&p.content).ok())
    })
}

/// The parts of a multipart body; none for any other body (Java then finds no file).
fn parts_of(request: &Request) -> ConfigResult<Vec<Part>> {
    let content_type = request.head.header(KeptHeader::ContentType).unwrap_or("");
    match multipart::parse(content_type, &request.body) {
        Ok(parts) => Ok(parts),
        Err(MultipartError::NotMultipart) => Ok(Vec::new()),
        Err(error) => Err(ConfigError::invalid(error.to_string())),
    }
}

/// Publishes `publishes` under `policy`: Java's `batchInsertOrUpdate` result map.
async fn publish_all(
    core: &CoreHandle,
    publishes: Vec<Publish>,
    policy: Policy,
) -> ConfigResult<Map<String, Value>> {
    let (mut succ, mut skipped, mut failed) = (0usize, Vec::new(), Vec::new());
    let mut rest = publishes.into_iter();
    while let Some(publish) = rest.next() {
        let exists = core.config_versions(&publish.key).await?.0.is_some();
        if exists && policy == Policy::Abort {
            failed.push(key_json(&publish.key));
            skipped.extend(rest.map(|p| key_json(&p.key)));
            break;
        }
        if exists && policy == Policy::Skip {
            skipped.push(key_json(&publish.key));
            continue;
        }
        core.propose_config(ConfigCommand::Publish(Box::new(publish)))
            .await?;
        succ += 1;
    }
    let mut result = Map::new();
    result.insert("succCount".into(), succ.into());
    result.insert("skipCount".into(), skipped.len().into());
    if !failed.is_empty() {
        result.insert("failData".into(), failed.into());
    }
    if !skipped.is_empty() {
        result.insert("skipData".into(), skipped.into());
    }
    Ok(result)
}

/// `POST ?import=true`.
pub(crate) async fn import(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let parts = parts_of(request)?;
    let policy = policy_of(field(request, &parts, "policy"))?;
    let raw_tenant = field(request, &parts, "namespace").unwrap_or("");
    check_tenant(raw_tenant)?;
    let tenant = normalise_tenant(raw_tenant).to_string();
    let src_user = field(request, &parts, "src_user").unwrap_or("").to_string();
    let Some(file) = parts.iter().find(|p| p.name == "file") else {
        return Ok(refused(100_005, "导入的文件数据为空", json!({})));
    };
    if !core.namespace_exists(&tenant).await? {
        return Ok(refused(
            100_001,
            "目标 namespace 不存在",
            json!({"succCount": 0}),
        ));
    }
    let outcome = match import_zip(
        &file.content,
        CONFIG_IMPORT_ENTRIES_MAX,
        CONFIG_IMPORT_BYTES_MAX,
    ) {
        Ok(outcome) => outcome,
        Err(error) => {
            return Ok(refused(
                error.code(),
                error.message(),
                json!({"succCount": 0}),
            ));
        }
    };
    let src_ip = client_ip(request);
    let publishes = outcome
        .items
        .iter()
        .map(|item| publish_of(item, &tenant, (&src_user, &src_ip)))
        .collect::<ConfigResult<Vec<_>>>()
        .map_err(|e| {
            ConfigError::new(
                ConfigErrorKind::Invalid,
                format!("import refused: {}", e.message),
            )
        })?;
    let mut result = publish_all(core, publishes, policy).await?;
    if !outcome.unrecognized.is_empty() {
        let items: Vec<Value> = outcome
            .unrecognized
            .iter()
            .map(|name| json!({"itemName": name}))
            .collect();
        result.insert("unrecognizedCount".into(), items.len().into());
        result.insert("unrecognizedData".into(), items.into());
    }
    let body = json!({"code": 200, "message": "导入成功", "data": result});
    Ok(Response::json(200, Bytes::from(body.to_string())))
}

/// One element of a clone body (Java's `SameNamespaceCloneConfigBean`). Jackson binds a
/// numeric string as well as a number to `cfgId`, so both are accepted.
#[derive(Debug, serde::Deserialize)]
struct CloneTarget {
    #[serde(rename = "cfgId")]
    cfg_id: Option<serde_json::Value>,
    #[serde(rename = "dataId", default)]
    data_id: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

fn clone_targets(body: &[u8]) -> ConfigResult<Vec<(u64, CloneTarget)>> {
    let raw: Vec<Option<CloneTarget>> = serde_json::from_slice(body)
        .map_err(|e| ConfigError::invalid(format!("invalid clone body: {e}")))?;
    if raw.len() > CONFIG_IMPORT_ENTRIES_MAX {
        return Err(ConfigError::new(
            ConfigErrorKind::LimitReached,
            format!("too many configs to clone, at most {CONFIG_IMPORT_ENTRIES_MAX}"),
        ));
    }
    let mut targets: Vec<(u64, CloneTarget)> = Vec::with_capacity(raw.len());
    for target in raw.into_iter().flatten() {
        let id = match &target.cfg_id {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ConfigError::invalid("invalid clone body: every item needs a cfgId"))?;
        // Java keeps the first bean of a repeated id.
        if !targets.iter().any(|(seen, _)| *seen == id) {
            targets.push((id, target));
        }
    }
    Ok(targets)
}

fn non_blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

/// `POST ?clone=true`.
pub(crate) async fn clone(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let p = &request.params;
    let Some(raw_tenant) = p.get("tenant") else {
        return Err(ConfigError::missing("tenant"));
    };
    let policy = policy_of(p.get("policy"))?;
    check_tenant(raw_tenant)?;
    let tenant = normalise_tenant(raw_tenant).to_string();
    let targets = clone_targets(&request.body)?;
    if targets.is_empty() {
        return Ok(refused(
            100_002,
            "没有选择任何配置",
            json!({"succCount": 0}),
        ));
    }
    if !core.namespace_exists(&tenant).await? {
        return Ok(refused(
            100_001,
            "目标 namespace 不存在",
            json!({"succCount": 0}),
        ));
    }
    let ids = targets.iter().map(|(id, _)| *id).collect();
    let originals = core.configs_by_ids(ids).await?;
    if originals.is_empty() {
        return Ok(refused(
            100_005,
            "导入的文件数据为空",
            json!({"succCount": 0}),
        ));
    }
    let src_user = p.get("src_user").unwrap_or("");
    let src_ip = client_ip(request);
    let publishes = originals
        .iter()
        .map(|original| {
            let target = targets
                .iter()
                .find(|(id, _)| *id == original.item.id)
                .map(|(_, target)| target);
            let mut item = ArchiveItem {
                group: original.key.group().to_string(),
                data_id: original.key.data_id().to_string(),
                content: String::from_utf8_lossy(&original.item.content).into_owned(),
                app_name: original.item.app_name.clone(),
                desc: original.item.meta.desc.clone(),
                config_type: original.item.meta.config_type.clone(),
                config_tags: original.item.meta.tags.clone(),
            };
            if let Some(data_id) = target.and_then(|t| non_blank(&t.data_id)) {
                item.data_id = data_id.to_string();
            }
            if let Some(group) = target.and_then(|t| non_blank(&t.group)) {
                item.group = group.to_string();
            }
            publish_of(&item, &tenant, (src_user, &src_ip))
        })
        .collect::<ConfigResult<Vec<_>>>()?;
    let result = publish_all(core, publishes, policy).await?;
    let body = json!({"code": 200, "message": "Clone Completed Successfully", "data": result});
    Ok(Response::json(200, Bytes::from(body.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_and_types() {
        assert_eq!(policy_of(None).unwrap(), Policy::Abort);
        assert_eq!(policy_of(Some("OVERWRITE")).unwrap(), Policy::Overwrite);
        assert!(policy_of(Some("skip")).is_err());
        let item = |data_id: &str, config_type: &str| ArchiveItem {
            data_id: data_id.into(),
            config_type: config_type.into(),
            ..ArchiveItem::default()
        };
        assert_eq!(type_of(&item("a.yml", "")), "yaml");
        assert_eq!(type_of(&item("a.json", "")), "json");
        assert_eq!(type_of(&item("a", "")), "text");
        assert_eq!(type_of(&item("a.yml", "xml")), "xml");
    }

    #[test]
    fn clone_bodies() {
        let targets =
            clone_targets(br#"[{"cfgId":3,"dataId":"x"},null,{"cfgId":"4"},{"cfgId":3}]"#).unwrap();
        let ids: Vec<u64> = targets.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [3, 4]);
        assert_eq!(non_blank(&targets[0].1.data_id), Some("x"));
        assert_eq!(non_blank(&targets[1].1.group), None);
        assert!(clone_targets(b"[]").unwrap().is_empty());
        assert!(clone_targets(br#"[{"dataId":"x"}]"#).is_err());
        assert!(clone_targets(br#"[{"cfgId":-1}]"#).is_err());
        assert!(clone_targets(b"{").is_err());
        assert!(clone_targets(br#"{"cfgId":1}"#).is_err());
    }
}

//! The console's zip import (`POST /v1/cs/configs?import=true`, nacos-config-protocol.md
//! §2.4): a `multipart/form-data` body with the zip in part `file`; `namespace`, `policy`
//! (ABORT|SKIP|OVERWRITE) and `src_user` from the query or the form. The answer is Java's
//! `RestResult` with `{succCount, skipCount[, failData][, skipData][, unrecognizedCount,
//! unrecognizedData]}`, or an import result code (1000xx) with `{succCount:0}`, always HTTP 200.
//!
//! Unlike Java, every item is validated before anything is written, so an invalid item refuses
//! the whole import (400) instead of leaving it half done.

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
}

//! `POST /nacos/v1/cs/configs?import=true` (nacos-config-protocol.md §2.4): a Nacos export zip
//! (multipart `file`) published config by config through Raft under `policy`
//! `ABORT|SKIP|OVERWRITE`. Answers Java's `RestResult` with HTTP 200 whatever the outcome:
//! `{code, message, data:{succCount, skipCount, failData, skipData, unrecognized…}}`.

use crate::api::config::client_ip;
use crate::api::wall_clock_ms;
use crate::config::archive::{import_zip, ArchiveItem};
use crate::config::command::{checked_content, ConfigCommand, Publish};
use crate::config::error::{ConfigError, ConfigResult};
use crate::config::item::{normalise_type, ConfigMeta, ReaderLabels};
use crate::config::key::{check_tenant, ConfigKey};
use crate::http::codec::KeptHeader;
use crate::http::conn::Request;
use crate::http::multipart;
use crate::http::response::Response;
use crate::limits::{CONFIG_IMPORT_BYTES_MAX, CONFIG_IMPORT_ENTRIES_MAX};
use crate::shard::CoreHandle;

/// What to do with a config that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SamePolicy {
    Abort,
    Skip,
    Overwrite,
}

/// Java's `ResultCodeEnum` for a missing upload.
const DATA_EMPTY_CODE: u32 = 100_005;

pub async fn import(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let p = &request.params;
    let policy = match p.non_blank("policy").unwrap_or("ABORT") {
        "ABORT" => SamePolicy::Abort,
        "SKIP" => SamePolicy::Skip,
        "OVERWRITE" => SamePolicy::Overwrite,
        other => return Err(ConfigError::invalid(format!("invalid policy : {other}"))),
    };
    let tenant = p.get("namespace").or_else(|| p.get("tenant")).unwrap_or("");
    check_tenant(tenant)?;
    let content_type = request.head.header(KeptHeader::ContentType).unwrap_or("");
    let parts = match multipart::parse(content_type, &request.body) {
        Ok(parts) => parts,
        Err(error) => return Err(ConfigError::invalid(error.to_string())),
    };
    let Some(file) = parts.into_iter().find(|part| part.name == "file") else {
        return Ok(result(
            DATA_EMPTY_CODE,
            "导入的文件数据为空",
            serde_json::json!({"succCount": 0}),
        ));
    };
    let outcome = match import_zip(
        &file.content,
        CONFIG_IMPORT_ENTRIES_MAX,
        CONFIG_IMPORT_BYTES_MAX,
    ) {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::debug!(%error, "config import refused");
            let data = serde_json::json!({"succCount": 0});
            return Ok(result(error.code(), error.message(), data));
        }
    };
    let mut tally = Tally::default();
    for (i, item) in outcome.items.iter().enumerate() {
        let stop = publish_item(core, request, tenant, item, policy, &mut tally).await;
        if stop {
            tally
                .skip
                .extend(outcome.items[i + 1..].iter().map(item_ref));
            break;
        }
    }
    let mut data = serde_json::json!({
        "succCount": tally.succeeded,
        "skipCount": tally.skip.len(),
    });
    if !tally.failed.is_empty() {
        data["failData"] = serde_json::Value::Array(tally.failed);
    }
    if !tally.skip.is_empty() {
        data["skipData"] = serde_json::Value::Array(tally.skip);
    }
    if !outcome.unrecognized.is_empty() {
        data["unrecognizedCount"] = outcome.unrecognized.len().into();
        data["unrecognizedData"] = outcome
            .unrecognized
            .iter()
            .map(|name| serde_json::json!({"itemName": name}))
            .collect();
    }
    Ok(result(200, "导入成功", data))
}

#[derive(Default)]
struct Tally {
    succeeded: usize,
    failed: Vec<serde_json::Value>,
    skip: Vec<serde_json::Value>,
}

fn item_ref(item: &ArchiveItem) -> serde_json::Value {
    serde_json::json!({"dataId": item.data_id, "group": item.group})
}

/// Publishes one item under `policy`; true when the import must stop (ABORT on a config that
/// exists).
async fn publish_item(
    core: &CoreHandle,
    request: &Request,
    tenant: &str,
    item: &ArchiveItem,
    policy: SamePolicy,
    tally: &mut Tally,
) -> bool {
    let publish = match publish_of(request, tenant, item) {
        Ok(publish) => publish,
        Err(_) => {
            tally.failed.push(item_ref(item));
            return false;
        }
    };
    if policy != SamePolicy::Overwrite {
        let exists = core
            .get_config(&publish.key, ReaderLabels::default())
            .await
            .is_some();
        if exists && policy == SamePolicy::Abort {
            tally.failed.push(item_ref(item));
            return true;
        }
        if exists {
            tally.skip.push(item_ref(item));
            return false;
        }
    }
    match core
        .propose_config(ConfigCommand::Publish(Box::new(publish)))
        .await
    {
        Ok(()) => tally.succeeded += 1,
        Err(_) => tally.failed.push(item_ref(item)),
    }
    false
}

fn publish_of(request: &Request, tenant: &str, item: &ArchiveItem) -> ConfigResult<Publish> {
    let key = ConfigKey::parse(Some(&item.data_id), Some(&item.group), Some(tenant))?;
    let content = checked_content(Some(&item.content))?;
    Ok(Publish {
        key,
        content: content.to_string(),
        app_name: (!item.app_name.is_empty()).then(|| item.app_name.clone()),
        meta: ConfigMeta {
            config_type: normalise_type(
                Some(&item.config_type)
                    .filter(|t| !t.is_empty())
                    .map(String::as_str),
            ),
            desc: item.desc.clone(),
            tags: item.config_tags.clone(),
            ..ConfigMeta::default()
        },
        cas_md5: None,
        gray: None,
        src_user: request.params.get("src_user").unwrap_or("").to_string(),
        src_ip: client_ip(request),
        at_ms: wall_clock_ms(),
    })
}

fn result(code: u32, message: &str, data: serde_json::Value) -> Response {
    let body = serde_json::json!({"code": code, "message": message, "data": data});
    Response::json(200, body.to_string())
}

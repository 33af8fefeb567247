//! Config history over HTTP (nacos-config-protocol.md §2.7, §3.2): v1 `/nacos/v1/cs/history`
//! (`search=accurate` list, `nid` detail, `/previous`, `/configs`) and v2
//! `/nacos/v2/cs/history{/list,,/previous,/configs}`. Rows come from the key's owner core; a
//! row's content is read from LMDB on core 0 only when one row is asked for.

use serde_json::{json, Value};

use crate::api::config::{render_error, Api};
use crate::config::error::{ConfigError, ConfigErrorKind, ConfigResult};
use crate::config::item::HistoryRow;
use crate::config::key::{check_tenant, normalise_tenant, ConfigKey};
use crate::config::store::ConfigSummary;
use crate::http::conn::Request;
use crate::http::response::Response;
use crate::limits::CONFIG_PAGE_SIZE_MAX;
use crate::shard::CoreHandle;

/// Nacos's default page size of a history list.
const HISTORY_PAGE_SIZE_DEFAULT: usize = 100;

/// What Nacos answers for a row asked for under another config's name (`AccessException`).
const WRONG_KEY: &str = "Please check dataId, group or namespaceId.";

/// Routes the history GETs; `None` for a path it does not serve.
pub async fn route(core: &CoreHandle, request: &Request, path: &str) -> Option<Response> {
    let (api, result) = match path {
        "/nacos/v1/cs/history" if is_list(request) => (Api::V1, list(core, request, Api::V1).await),
        "/nacos/v1/cs/history" => (Api::V1, detail(core, request, Api::V1).await),
        "/nacos/v1/cs/history/previous" => (Api::V1, previous(core, request, Api::V1).await),
        "/nacos/v1/cs/history/configs" => (Api::V1, configs(core, request, Api::V1).await),
        "/nacos/v2/cs/history/list" => (Api::V2, list(core, request, Api::V2).await),
        "/nacos/v2/cs/history" => (Api::V2, detail(core, request, Api::V2).await),
        "/nacos/v2/cs/history/previous" => (Api::V2, previous(core, request, Api::V2).await),
        "/nacos/v2/cs/history/configs" => (Api::V2, configs(core, request, Api::V2).await),
        _ => return None,
    };
    Some(result.unwrap_or_else(|error| render_error(&error, api)))
}

/// v1 serves the list and the detail on one path, told apart by `search=accurate`.
fn is_list(request: &Request) -> bool {
    request.params.get("search") == Some("accurate")
}

fn key_of(request: &Request, api: Api) -> ConfigResult<ConfigKey> {
    let p = &request.params;
    ConfigKey::parse(p.get("dataId"), p.get("group"), api.tenant(request))
}

/// A numeric parameter: `default` when absent or blank, an error when not a number.
fn number(request: &Request, name: &str, default: Option<u64>) -> ConfigResult<u64> {
    match (request.params.non_blank(name), default) {
        (None, Some(default)) => Ok(default),
        (None, None) => Err(ConfigError::missing(name)),
        (Some(raw), _) => raw
            .trim()
            .parse::<u64>()
            .map_err(|_| ConfigError::invalid(format!("invalid {name} : {raw}"))),
    }
}

/// `pageNo` from 1, `pageSize` within 1..=`CONFIG_PAGE_SIZE_MAX` (Nacos caps it at 500).
fn page_of(request: &Request) -> ConfigResult<(usize, usize)> {
    let page_no = number(request, "pageNo", Some(1))?.max(1);
    let page_size = number(request, "pageSize", Some(HISTORY_PAGE_SIZE_DEFAULT as u64))?;
    let page_size = page_size.clamp(1, CONFIG_PAGE_SIZE_MAX as u64);
    Ok((
        usize::try_from(page_no).unwrap_or(usize::MAX),
        page_size as usize,
    ))
}

async fn list(core: &CoreHandle, request: &Request, api: Api) -> ConfigResult<Response> {
    let key = key_of(request, api)?;
    let (page_no, page_size) = page_of(request)?;
    let rows = core.config_history(&key).await;
    let items: Vec<Value> = rows
        .iter()
        .skip((page_no - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|row| row_json(&key, row, None))
        .collect();
    Ok(ok(api, page_json(rows.len(), page_no, page_size, items)))
}

/// Nacos `Page`: `{totalCount, pageNumber, pagesAvailable, pageItems}`.
fn page_json(total: usize, page_no: usize, page_size: usize, items: Vec<Value>) -> Value {
    debug_assert!(page_size > 0);
    json!({
        "totalCount": total,
        "pageNumber": page_no,
        "pagesAvailable": total.div_ceil(page_size),
        "pageItems": items,
    })
}

async fn detail(core: &CoreHandle, request: &Request, api: Api) -> ConfigResult<Response> {
    let key = key_of(request, api)?;
    let nid = number(request, "nid", None)?;
    let rows = core.config_history(&key).await;
    let row = rows
        .into_iter()
        .find(|row| row.nid == nid)
        .ok_or_else(wrong_key)?;
    with_content(core, &key, row, api).await
}

/// `previous?id=`: the newest row of the config whose id is `id`.
async fn previous(core: &CoreHandle, request: &Request, api: Api) -> ConfigResult<Response> {
    let key = key_of(request, api)?;
    let id = number(request, "id", None)?;
    let rows = core.config_history(&key).await;
    let row = rows
        .into_iter()
        .find(|row| row.id == id)
        .ok_or_else(wrong_key)?;
    with_content(core, &key, row, api).await
}

/// One row with its content (from LMDB) and md5.
async fn with_content(
    core: &CoreHandle,
    key: &ConfigKey,
    row: HistoryRow,
    api: Api,
) -> ConfigResult<Response> {
    // Pruned between the two reads: as if it had never been there.
    let content = core
        .history_content(key, row.nid)
        .await?
        .ok_or_else(wrong_key)?;
    let content = String::from_utf8_lossy(&content);
    Ok(ok(api, row_json(key, &row, Some(&content))))
}

/// Rows are only looked up under the key asked for, so an unknown nid and another config's
/// nid look the same; both get Nacos's answer for the second.
fn wrong_key() -> ConfigError {
    ConfigError::new(ConfigErrorKind::Forbidden, WRONG_KEY)
}

async fn configs(core: &CoreHandle, request: &Request, api: Api) -> ConfigResult<Response> {
    let name = match api {
        Api::V1 => "tenant",
        Api::V2 => "namespaceId",
    };
    let tenant = api
        .tenant(request)
        .ok_or_else(|| ConfigError::missing(name))?;
    check_tenant(tenant)?;
    let summaries = core.tenant_configs(normalise_tenant(tenant)).await;
    let items: Vec<Value> = summaries.iter().map(summary_json).collect();
    Ok(ok(api, Value::Array(items)))
}

/// `ConfigInfoWrapper` as `history/configs` lists it.
fn summary_json(summary: &ConfigSummary) -> Value {
    let (key, item) = (&summary.key, &summary.item);
    json!({
        "id": item.id.to_string(),
        "dataId": key.data_id(),
        "group": key.group(),
        "tenant": key.tenant(),
        "appName": item.app_name,
        "type": item.meta.config_type,
        "lastModified": item.modified_ms,
    })
}

/// `ConfigHistoryInfo`: a list row has no content, md5 or data key (Jackson writes them as
/// null); a detail row has all three.
fn row_json(key: &ConfigKey, row: &HistoryRow, content: Option<&str>) -> Value {
    let (publish_type, gray_name) = match &row.gray_name {
        Some(name) => ("gray", name.as_str()),
        None => ("formal", ""),
    };
    let mut value = json!({
        "id": row.nid.to_string(),
        "lastId": -1,
        "dataId": key.data_id(),
        "group": key.group(),
        "tenant": key.tenant(),
        "appName": row.app_name,
        "md5": Value::Null,
        "content": Value::Null,
        "srcIp": row.src_ip,
        "srcUser": row.src_user,
        "opType": row.op.code(),
        "publishType": publish_type,
        "grayName": gray_name,
        "extInfo": row.ext_info,
        "createdTime": iso_time(row.created_ms),
        "lastModifiedTime": iso_time(row.modified_ms),
        "encryptedDataKey": Value::Null,
    });
    if let Some(content) = content {
        value["content"] = Value::String(content.to_string());
        value["md5"] = Value::String(row.md5.clone());
        value["encryptedDataKey"] = Value::String(row.encrypted_data_key.clone());
    }
    value
}

/// v1 answers the bare value, v2 wraps it in `{code:0, message:"success", data}`.
fn ok(api: Api, data: Value) -> Response {
    let body = match api {
        Api::V1 => data,
        Api::V2 => json!({"code": 0, "message": "success", "data": data}),
    };
    Response::json(200, body.to_string())
}

/// A `java.sql.Timestamp` as Spring Boot's Jackson writes it: ISO-8601 in UTC with ms,
/// `2025-12-02T00:00:00.000+00:00`.
pub fn iso_time(ms: u64) -> String {
    let t = crate::api::config::civil_time(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::item::HistoryOp;

    #[test]
    fn times_are_iso() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000+00:00");
        assert_eq!(iso_time(1_764_633_600_123), "2025-12-02T00:00:00.123+00:00");
        assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00.000+00:00");
    }

    #[test]
    fn pages() {
        let page = page_json(201, 3, 100, vec![json!(1)]);
        assert_eq!(page["pagesAvailable"], 3);
        assert_eq!(page["totalCount"], 201);
        assert_eq!(page_json(0, 1, 100, vec![])["pagesAvailable"], 0);
    }

    #[test]
    fn rows() {
        let key = ConfigKey::from_parts("dev", "G", "a");
        let row = HistoryRow {
            nid: 7,
            id: 0,
            op: HistoryOp::Insert,
            gray_name: None,
            ext_info: String::new(),
            md5: "m".into(),
            app_name: String::new(),
            src_ip: "1.2.3.4".into(),
            src_user: String::new(),
            encrypted_data_key: String::new(),
            created_ms: 0,
            modified_ms: 0,
        };
        let listed = row_json(&key, &row, None);
        assert_eq!(listed["id"], "7");
        assert_eq!(listed["opType"], "I");
        assert_eq!(listed["publishType"], "formal");
        assert!(listed["content"].is_null() && listed["md5"].is_null());
        let detailed = row_json(&key, &row, Some("x"));
        assert_eq!(
            (&detailed["content"], &detailed["md5"]),
            (&json!("x"), &json!("m"))
        );
    }
}

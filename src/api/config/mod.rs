//! The config center's HTTP API (nacos-config-protocol.md §2, §3): `/nacos/v1/cs/configs`
//! (get, publish, delete) and `/nacos/v2/cs/config`, mapped onto config commands through Raft
//! and reads from the owner core of each key. Answers follow Nacos byte for byte where clients
//! check them: `true` for writes, `config data not exist\n` for a miss, `caused: <msg>;` for v1
//! errors, `{code,message,data}` for v2.
//!
//! - `listener`: long polling.
//! - `import`: zip import and clone.
//! - `capacity`: capacity as Java reports it by default.
//! - `search`: search, `show=all`, `beta=true`, catalog.
//! - `queries`: delete by ids, listener queries, export.
//! - `history`: `/v1/cs/history*` and `/v2/cs/history*`.
//! - `namespaces`: `/v1/console/namespaces` and `/v2/console/namespace*`.

mod capacity;
mod history;
mod import;
mod listener;
pub mod namespaces;
mod queries;
mod search;

use bytes::Bytes;

use crate::api::wall_clock_ms;
use crate::config::command::{checked_content, gray_of, ConfigCommand, Publish};
use crate::config::error::{ConfigError, ConfigErrorKind, ConfigResult};
use crate::config::item::{normalise_type, ConfigMeta, ReaderLabels};
use crate::config::key::{check_tag, ConfigKey};
use crate::config::store::ServedConfig;
use crate::http::codec::{KeptHeader, Method};
use crate::http::conn::Request;
use crate::http::response::{Body, Response, JSON, TEXT};
use crate::shard::CoreHandle;

/// Which API shape a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V1,
    V2,
}

impl Api {
    /// v1 calls the namespace `tenant`, v2 `namespaceId`.
    fn tenant(self, request: &Request) -> Option<&str> {
        let p = &request.params;
        match self {
            Api::V1 => p.get("tenant"),
            Api::V2 => p.get("namespaceId").or_else(|| p.get("tenant")),
        }
    }
}

/// Routes `/nacos/v1/cs/...` and `/nacos/v2/cs/...`; `None` for a path it does not serve.
pub async fn route(core: &CoreHandle, request: &Request, path: &str) -> Option<Response> {
    let method = match request.head.method {
        Method::Head => Method::Get,
        other => other,
    };
    let (api, result) = match (method, path) {
        (Method::Get, "/nacos/v1/cs/configs") => (Api::V1, get_v1(core, request).await),
        (Method::Post, "/nacos/v1/cs/configs") => (Api::V1, post_v1(core, request).await),
        (Method::Delete, "/nacos/v1/cs/configs") => (Api::V1, remove_v1(core, request).await),
        (Method::Post, "/nacos/v1/cs/configs/listener") => {
            (Api::V1, listener::listener(core, request).await)
        }
        (Method::Get, "/nacos/v1/cs/capacity") => (Api::V1, capacity::get(core, request).await),
        (Method::Post, "/nacos/v1/cs/capacity") => (Api::V1, capacity::post()),
        (Method::Get, "/nacos/v1/cs/configs/listener") => {
            (Api::V1, queries::listeners_of(core, request).await)
        }
        (Method::Get, "/nacos/v1/cs/listener") => {
            (Api::V1, queries::listened_by(core, request).await)
        }
        (Method::Get, "/nacos/v1/cs/communication/configWatchers") => {
            (Api::V1, queries::config_watchers(core, request).await)
        }
        (Method::Get, "/nacos/v1/cs/communication/watcherConfigs") => {
            (Api::V1, queries::watcher_configs(core, request).await)
        }
        (Method::Get, "/nacos/v1/cs/configs/catalog") => {
            (Api::V1, search::catalog(core, request).await)
        }
        (Method::Get, "/nacos/v1/cs/configs/searchDetail") => {
            (Api::V1, search_detail(core, request).await)
        }
        (Method::Get, "/nacos/v2/cs/config/searchDetail") => {
            (Api::V2, search_detail(core, request).await)
        }
        (Method::Get, "/nacos/v2/cs/config") => (Api::V2, get(core, request, Api::V2).await),
        (Method::Post, "/nacos/v2/cs/config") => (Api::V2, publish(core, request, Api::V2).await),
        (Method::Delete, "/nacos/v2/cs/config") => (Api::V2, remove(core, request, Api::V2).await),
        (Method::Get, _) if path.contains("/cs/history") => {
            return history::route(core, request, path).await
        }
        _ => return None,
    };
    Some(result.unwrap_or_else(|error| render_error(&error, api)))
}

/// The client's address as Nacos sees it: the first `X-Forwarded-For` entry, then
/// `X-Real-IP`, then the TCP peer.
pub fn client_ip(request: &Request) -> String {
    let forwarded = request
        .head
        .header(KeptHeader::ForwardedFor)
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let real = request
        .head
        .header(KeptHeader::RealIp)
        .map(str::trim)
        .filter(|v| !v.is_empty());
    forwarded
        .or(real)
        .map(str::to_string)
        .or_else(|| request.remote_addr.map(|a| a.ip().to_string()))
        .unwrap_or_default()
}

/// `GET /v1/cs/configs`: Java maps `search`, `show=all`, `beta=true`, `export=true` and
/// `exportV2=true` to handlers of their own; anything else is the plain get.
async fn get_v1(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let p = &request.params;
    let is = |name: &str, value: &str| p.get(name) == Some(value);
    if is("export", "true") {
        return queries::export(core, request, false).await;
    }
    if is("exportV2", "true") {
        return queries::export(core, request, true).await;
    }
    if is("search", "accurate") || is("search", "blur") {
        return search::search(core, request, is("search", "blur")).await;
    }
    if is("show", "all") {
        return search::show_all(core, request).await;
    }
    if is("beta", "true") {
        return search::beta(core, request).await;
    }
    get(core, request, Api::V1).await
}

/// `POST /v1/cs/configs`: `import=true` imports a zip, `clone=true` copies configs by id into
/// a namespace, otherwise a publish.
async fn post_v1(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    if request.params.get("import") == Some("true") {
        return import::import(core, request).await;
    }
    if request.params.get("clone") == Some("true") {
        return import::clone(core, request).await;
    }
    publish(core, request, Api::V1).await
}

/// `searchDetail`: a search with `config_detail` (a content pattern); accurate unless
/// `search=blur`.
async fn search_detail(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let blur = request.params.get("search") == Some("blur");
    search::search(core, request, blur).await
}

/// `DELETE /v1/cs/configs`: `delType=ids` deletes by id, otherwise one key.
async fn remove_v1(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    if request.params.get("delType") == Some("ids") {
        return queries::remove_by_ids(core, request).await;
    }
    remove(core, request, Api::V1).await
}

fn key_of(request: &Request, api: Api) -> ConfigResult<ConfigKey> {
    let p = &request.params;
    ConfigKey::parse(p.get("dataId"), p.get("group"), api.tenant(request))
}

/// The labels a read is matched against: the client's IPs, the `tag` parameter and the
/// `Vipserver-Tag` header.
pub(crate) fn labels_of(request: &Request) -> ReaderLabels {
    let mut ips = vec![client_ip(request)];
    if let Some(peer) = request.remote_addr.map(|a| a.ip().to_string()) {
        if !ips.contains(&peer) {
            ips.push(peer);
        }
    }
    ReaderLabels {
        ips,
        tag_param: request.params.non_blank("tag").map(str::to_string),
        tag_header: request
            .head
            .header(KeptHeader::VipserverTag)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string),
    }
}

async fn get(core: &CoreHandle, request: &Request, api: Api) -> ConfigResult<Response> {
    let key = key_of(request, api)?;
    if let Some(tag) = request.params.non_blank("tag") {
        check_tag(tag)?;
    }
    let served = core
        .get_config(&key, labels_of(request))
        .await
        .ok_or_else(ConfigError::not_found)?;
    Ok(match api {
        Api::V1 => config_response(&served, Body::from(served.item.content.clone()), true),
        Api::V2 => {
            let content = std::str::from_utf8(&served.item.content).unwrap_or_default();
            let body = serde_json::json!({"code": 0, "message": "success", "data": content});
            config_response(&served, Body::from(Bytes::from(body.to_string())), false)
        }
    })
}

/// A read's answer with Nacos's headers: the type's Content-Type (v1), `Config-Type`,
/// `Content-MD5`, no-cache, `Last-Modified`, and the gray that served it.
fn config_response(served: &ServedConfig, body: Body, raw: bool) -> Response {
    let item = &served.item;
    let content_type = if raw {
        match item.meta.config_type.as_str() {
            "json" => JSON,
            "xml" => "application/xml;charset=UTF-8",
            "html" => "text/html;charset=UTF-8",
            _ => TEXT,
        }
    } else {
        JSON
    };
    let mut response = Response {
        status: 200,
        content_type,
        body,
        // The three no-cache headers, type, md5, date and up to three optional ones.
        headers: Vec::with_capacity(9),
    };
    response = no_cache(response)
        .with_header("Config-Type", item.meta.config_type.clone())
        .with_header("Content-MD5", item.md5.clone())
        .with_header("Last-Modified", http_date(item.modified_ms));
    if !item.meta.encrypted_data_key.is_empty() {
        response = response.with_header("Encrypted-Data-Key", item.meta.encrypted_data_key.clone());
    }
    if served.beta {
        response = response.with_header("isBeta", "true");
    }
    if let Some(tag) = &served.tag {
        response = response.with_header("tag", crate::config::listen::url_encode(tag));
    }
    response
}

pub(crate) fn no_cache(response: Response) -> Response {
    response
        .with_header("Pragma", "no-cache")
        .with_header("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")
        .with_header("Cache-Control", "no-cache,no-store")
}

/// The form fields of a publish (v1 names; v2 adds camelCase aliases).
fn publish_of(request: &Request, api: Api) -> ConfigResult<Publish> {
    let p = &request.params;
    let key = key_of(request, api)?;
    let content = checked_content(p.get("content"))?;
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| p.get(n))
            .unwrap_or("")
            .to_string()
    };
    let gray = gray_of(request.head.header(KeptHeader::BetaIps), p.get("tag"))?;
    Ok(Publish {
        key,
        content: content.to_string(),
        app_name: p.get("appName").map(str::to_string),
        meta: ConfigMeta {
            config_type: normalise_type(p.get("type")),
            desc: field(&["desc"]),
            usage: field(&["use"]),
            effect: field(&["effect"]),
            schema: field(&["schema"]),
            tags: field(&["config_tags", "configTags"]),
            encrypted_data_key: field(&["encryptedDataKey"]),
        },
        cas_md5: request
            .head
            .header(KeptHeader::CasMd5)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string),
        gray,
        src_user: field(&["src_user", "srcUser"]),
        src_ip: client_ip(request),
        at_ms: wall_clock_ms(),
    })
}

async fn publish(core: &CoreHandle, request: &Request, api: Api) -> ConfigResult<Response> {
    let publish = publish_of(request, api)?;
    core.propose_config(ConfigCommand::Publish(Box::new(publish)))
        .await?;
    Ok(done(api))
}

async fn remove(core: &CoreHandle, request: &Request, api: Api) -> ConfigResult<Response> {
    let key = key_of(request, api)?;
    let p = &request.params;
    let beta = p.get("beta").is_some_and(|b| b == "true");
    let gray_name = match p.non_blank("tag") {
        _ if beta => Some("beta".to_string()),
        Some(tag) => {
            check_tag(tag.trim())?;
            Some(format!("tag_{}", tag.trim()))
        }
        None => None,
    };
    core.propose_config(ConfigCommand::Remove {
        key,
        gray_name,
        src_user: p
            .get("src_user")
            .or_else(|| p.get("srcUser"))
            .unwrap_or("")
            .to_string(),
        src_ip: client_ip(request),
        at_ms: wall_clock_ms(),
    })
    .await?;
    if beta && api == Api::V1 {
        let body = r#"{"code":200,"message":"stop beta ok","data":true}"#;
        return Ok(Response::json(200, Bytes::from_static(body.as_bytes())));
    }
    Ok(done(api))
}

/// A write's success: v1 the JSON boolean `true` (Python compares the bytes), v2 `data:true`.
fn done(api: Api) -> Response {
    match api {
        Api::V1 => Response::json(200, Bytes::from_static(b"true")),
        Api::V2 => Response::json(
            200,
            Bytes::from_static(br#"{"code":0,"message":"success","data":true}"#),
        ),
    }
}

/// v1: `caused: <msg>;` with the status Nacos's handlers give; the parameter checker's bare
/// message; a miss as `config data not exist`. v2: the `{code,message,data}` of `ErrorCode`.
pub fn render_error(error: &ConfigError, api: Api) -> Response {
    use ConfigErrorKind::*;
    match api {
        Api::V1 => {
            let (status, body) = match error.kind {
                NotFound => (404, format!("{}\n", error.message)),
                ParamCheck => (400, format!("{}\r\n", error.message)),
                MissingParam | Invalid | LimitReached => {
                    (400, format!("caused: {};", error.message))
                }
                CasMismatch | Internal => (500, format!("caused: {};", error.message)),
                Forbidden => (403, error.message.clone()),
                Unavailable => (503, error.message.clone()),
            };
            let mut response = no_cache(Response::text(status, body));
            if error.kind == NotFound {
                response.content_type = "";
            }
            response
        }
        Api::V2 => {
            let (status, code, message) = match error.kind {
                MissingParam => (400, 10000, "parameter missing"),
                ParamCheck | Invalid | LimitReached => (400, 20002, "parameter validate error"),
                NotFound => (404, 20004, "resource not found"),
                CasMismatch => (500, 20005, "resource conflict"),
                Forbidden => (403, 10001, "access denied"),
                Unavailable => (503, 30000, "server error"),
                Internal => (500, 30000, "server error"),
            };
            let body = serde_json::json!({"code": code, "message": message, "data": error.message});
            let mut text = body.to_string();
            if error.kind == NotFound {
                text.push('\n');
            }
            Response::json(status, text)
        }
    }
}

/// A UTC time of day and civil date, from epoch ms.
pub(crate) struct CivilTime {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
    pub millis: u64,
    /// Days since 1970-01-01 (a Thursday).
    pub epoch_days: u64,
}

pub(crate) fn civil_time(ms: u64) -> CivilTime {
    let secs = ms / 1000;
    let days = secs / 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    CivilTime {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        hour: (secs % 86_400) / 3600,
        minute: (secs % 3600) / 60,
        second: secs % 60,
        millis: ms % 1000,
        epoch_days: days,
    }
}

/// RFC 1123 (`Last-Modified`) of epoch `ms`.
pub fn http_date(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = civil_time(ms);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(t.epoch_days % 7) as usize],
        t.day,
        MONTHS[(t.month - 1) as usize],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(1_764_633_600_000),
            "Tue, 02 Dec 2025 00:00:00 GMT"
        );
        assert_eq!(http_date(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn v1_errors() {
        let miss = render_error(&ConfigError::not_found(), Api::V1);
        assert_eq!((miss.status, miss.content_type), (404, ""));
        assert_eq!(miss.body.to_vec(), b"config data not exist\n");
        let cas = render_error(&ConfigError::cas_mismatch(), Api::V1);
        assert_eq!(cas.status, 500);
        assert_eq!(
            cas.body.to_vec(),
            b"caused: Cas publish fail, server md5 may have changed.;"
        );
        let v2 = render_error(&ConfigError::invalid("invalid dataId : "), Api::V2);
        let value: serde_json::Value = serde_json::from_slice(&v2.body.to_vec()).unwrap();
        assert_eq!((v2.status, value["code"].as_u64()), (400, Some(20002)));
    }
}

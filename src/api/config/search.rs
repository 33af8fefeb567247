//! Config reads beyond the plain get (nacos-config-protocol.md §2.1, §2.3, §2.4): paged search
//! (`search=accurate|blur`, `searchDetail`), `show=all` (ConfigAllInfo), `beta=true`
//! (ConfigInfo4Beta) and `catalog` (ConfigAdvanceInfo), in Java's JSON shapes.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::config::error::{ConfigError, ConfigResult};
use crate::config::item::{ConfigItem, GrayRule};
use crate::config::key::{check_name, check_tenant, normalise_tenant, ConfigKey};
use crate::config::store::{ConfigSummary, SearchFilter};
use crate::http::conn::Request;
use crate::http::params::Params;
use crate::http::response::Response;
use crate::limits::{CONFIG_DATA_ID_CHARS_MAX, CONFIG_GROUP_CHARS_MAX, CONFIG_PAGE_SIZE_MAX};
use crate::shard::CoreHandle;

use super::key_of;

/// A parsed search: the filter and which page.
#[derive(Debug)]
pub(crate) struct SearchQuery {
    pub filter: SearchFilter,
    pub page_no: usize,
    pub page_size: usize,
}

/// A required positive page number or size. Java takes them as `int` and clamps nothing for
/// configs; nacore caps the size at `CONFIG_PAGE_SIZE_MAX` as Java does for history.
fn page_param(params: &Params, name: &str) -> ConfigResult<usize> {
    let raw = params.get(name).ok_or_else(|| ConfigError::missing(name))?;
    match raw.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ConfigError::invalid(format!(
            "invalid {name} : {raw}, must be a positive integer"
        ))),
    }
}

/// Comma-separated values, blank ones dropped.
fn list_param(params: &Params, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .find_map(|n| params.non_blank(n))
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The search parameters: `dataId` and `group` must be present but may be empty; a blur
/// pattern's `*` is allowed past the parameter checker (Java's blur-search extractor).
pub(crate) fn search_query(request: &Request, blur: bool) -> ConfigResult<SearchQuery> {
    let p = &request.params;
    let data_id = p
        .get("dataId")
        .ok_or_else(|| ConfigError::missing("dataId"))?;
    let group = p
        .get("group")
        .ok_or_else(|| ConfigError::missing("group"))?;
    let checked = |v: &str| {
        if blur {
            v.replace('*', "")
        } else {
            v.to_string()
        }
    };
    check_name("dataId", &checked(data_id), CONFIG_DATA_ID_CHARS_MAX)?;
    check_name("group", &checked(group), CONFIG_GROUP_CHARS_MAX)?;
    let tenant = p
        .get("tenant")
        .or_else(|| p.get("namespaceId"))
        .unwrap_or("");
    check_tenant(tenant)?;
    let page_no = page_param(p, "pageNo")?;
    let page_size = page_param(p, "pageSize")?.min(CONFIG_PAGE_SIZE_MAX);
    let filter = SearchFilter {
        tenant: normalise_tenant(tenant).to_string(),
        data_id: data_id.trim().to_string(),
        group: group.trim().to_string(),
        app_name: p.get("appName").unwrap_or("").trim().to_string(),
        tags: list_param(p, &["config_tags", "configTags"]),
        types: list_param(p, &["types", "type"]),
        content: p.get("config_detail").unwrap_or("").to_string(),
        blur,
    };
    Ok(SearchQuery {
        filter,
        page_no,
        page_size,
    })
}

/// Java's `Page`: the page's items of `total` matches, `pagesAvailable` rounded up.
pub(crate) fn page_json(
    total: usize,
    page_no: usize,
    page_size: usize,
    items: Vec<Value>,
) -> Value {
    let pages = total.div_ceil(page_size);
    json!({
        "totalCount": total,
        "pageNumber": page_no,
        "pagesAvailable": pages,
        "pageItems": items,
    })
}

/// Items `[ (page_no-1)*page_size, page_no*page_size )` of `sorted`, which holds at least the
/// first `page_no*page_size` matches.
fn page_of(sorted: Vec<ConfigSummary>, page_no: usize, page_size: usize) -> Vec<ConfigSummary> {
    let skip = (page_no - 1).saturating_mul(page_size);
    sorted.into_iter().skip(skip).take(page_size).collect()
}

fn content_text(item: &ConfigItem) -> String {
    String::from_utf8_lossy(&item.content).into_owned()
}

/// Java's `ConfigInfo`: the id as a string (Jackson `ToStringSerializer`).
pub(crate) fn config_info_json(key: &ConfigKey, item: &ConfigItem) -> Value {
    json!({
        "id": item.id.to_string(),
        "dataId": key.data_id(),
        "group": key.group(),
        "content": content_text(item),
        "md5": item.md5,
        "encryptedDataKey": item.meta.encrypted_data_key,
        "tenant": key.tenant(),
        "appName": item.app_name,
        "type": item.meta.config_type,
    })
}

/// Java's `ConfigAdvanceInfo` (`createUser`/`createIp` are the row's `src_user`/`src_ip`).
fn advance_json(item: &ConfigItem) -> Value {
    json!({
        "createTime": item.created_ms,
        "modifyTime": item.modified_ms,
        "createUser": item.src_user,
        "createIp": item.src_ip,
        "desc": item.meta.desc,
        "use": item.meta.usage,
        "effect": item.meta.effect,
        "type": item.meta.config_type,
        "schema": item.meta.schema,
        "configTags": item.meta.tags,
    })
}

/// Java's `ConfigAllInfo`: `ConfigInfo` plus the advance fields.
fn config_all_json(key: &ConfigKey, item: &ConfigItem) -> Value {
    let mut all = config_info_json(key, item);
    if let (Some(all), Value::Object(extra)) = (all.as_object_mut(), advance_json(item)) {
        all.extend(extra);
    }
    all
}

fn json_response(value: &Value) -> Response {
    Response::json(200, Bytes::from(value.to_string()))
}

/// `GET ?search=accurate|blur` and `searchDetail`: a `Page` of `ConfigInfo`, by id.
pub(crate) async fn search(
    core: &CoreHandle,
    request: &Request,
    blur: bool,
) -> ConfigResult<Response> {
    let query = search_query(request, blur)?;
    let keep = query.page_no.saturating_mul(query.page_size);
    let (sorted, total) = core.search_configs(query.filter, keep).await?;
    let items = page_of(sorted, query.page_no, query.page_size)
        .iter()
        .map(|s| config_info_json(&s.key, &s.item))
        .collect();
    let page = page_json(total, query.page_no, query.page_size, items);
    Ok(super::no_cache(json_response(&page)))
}

/// `GET ?show=all`: `ConfigAllInfo` of the formal version; an empty 200 when absent.
pub(crate) async fn show_all(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let key = key_of(request, super::Api::V1)?;
    let (formal, _) = core.config_versions(&key).await?;
    Ok(match formal {
        Some(item) => json_response(&config_all_json(&key, &item)),
        None => {
            let mut empty = Response::json(200, Bytes::new());
            empty.content_type = "";
            empty
        }
    })
}

/// `GET ?beta=true`: `{code:200,message:"query beta ok",data:ConfigInfo4Beta|null}`.
pub(crate) async fn beta(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let key = key_of(request, super::Api::V1)?;
    let (_, grays) = core.config_versions(&key).await?;
    let data = grays
        .iter()
        .find_map(|gray| match &gray.rule {
            GrayRule::Beta { ips } => Some((ips, &gray.item)),
            GrayRule::Tag { .. } => None,
        })
        .map_or(Value::Null, |(ips, item)| {
            let mut beta = config_info_json(&key, item);
            beta["betaIps"] = Value::String(ips.join(","));
            beta
        });
    let body = json!({"code": 200, "message": "query beta ok", "data": data});
    Ok(json_response(&body))
}

/// `GET /v1/cs/configs/catalog`: `{code:200,message:null,data:ConfigAdvanceInfo|null}`.
pub(crate) async fn catalog(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let key = key_of(request, super::Api::V1)?;
    let (formal, _) = core.config_versions(&key).await?;
    let data = formal.as_ref().map_or(Value::Null, advance_json);
    let body = json!({"code": 200, "message": null, "data": data});
    Ok(json_response(&body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: u64) -> ConfigSummary {
        ConfigSummary {
            key: ConfigKey::from_parts("", "G", &format!("d{id}")),
            item: ConfigItem {
                id,
                content: Bytes::from_static(b"c"),
                md5: String::new(),
                app_name: String::new(),
                meta: Default::default(),
                src_user: String::new(),
                src_ip: String::new(),
                created_ms: 1,
                modified_ms: 2,
            },
        }
    }

    #[test]
    fn pages() {
        let page = page_json(5, 2, 2, Vec::new());
        assert_eq!(page["pagesAvailable"], 3);
        assert_eq!(page["totalCount"], 5);
        assert_eq!(page["pageNumber"], 2);
        assert_eq!(page_json(0, 1, 10, Vec::new())["pagesAvailable"], 0);
        assert_eq!(page_json(4, 1, 2, Vec::new())["pagesAvailable"], 2);
        let sorted: Vec<_> = (1..=5).map(summary).collect();
        let ids = |v: Vec<ConfigSummary>| v.iter().map(|s| s.item.id).collect::<Vec<_>>();
        assert_eq!(ids(page_of(sorted.clone(), 2, 2)), vec![3, 4]);
        assert_eq!(ids(page_of(sorted.clone(), 3, 2)), vec![5]);
        assert!(page_of(sorted, 9, 2).is_empty());
    }

    #[test]
    fn shapes() {
        let s = summary(7);
        let info = config_info_json(&s.key, &s.item);
        assert_eq!(info["id"], "7");
        assert_eq!(info["dataId"], "d7");
        let all = config_all_json(&s.key, &s.item);
        assert_eq!(all["modifyTime"], 2);
        assert_eq!(all["content"], "c");
        assert!(all.get("configTags").is_some());
    }
}

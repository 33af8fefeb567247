//! `GET /nacos/v1/cs/capacity?group=|tenant=` (nacos-config-protocol.md §2.9, §5.4): a group's
//! or namespace's capacity as Java answers it by default. Java keeps usage counters but does
//! not enforce quotas unless `isCapacityLimitCheck` is set; nacore does not enforce them
//! either, so it reports the default quotas with the live usage. Changing quotas (`POST`) is
//! refused rather than accepted and ignored.

use crate::config::error::{ConfigError, ConfigResult};
use crate::config::key::{check_tenant, normalise_tenant};
use crate::http::conn::Request;
use crate::http::response::Response;
use crate::shard::CoreHandle;

/// Java's defaults (`PropertyUtil`): group and tenant quota, max size in bytes, aggregate
/// count and size.
const DEFAULT_QUOTA: u64 = 200;
const DEFAULT_MAX_SIZE_BYTES: u64 = 102_400;
const DEFAULT_MAX_AGGR_COUNT: u64 = 10_000;
const DEFAULT_MAX_AGGR_SIZE_BYTES: u64 = 1_024;

pub async fn get(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let p = &request.params;
    let group = p.non_blank("group");
    let tenant = p.non_blank("tenant");
    let (field, name, usage) = match (group, tenant) {
        (_, Some(tenant)) => {
            check_tenant(tenant)?;
            let usage = core.count_configs(normalise_tenant(tenant), None).await;
            ("tenant", tenant, usage)
        }
        (Some(group), None) => {
            let usage = core.count_configs("", Some(group)).await;
            ("group", group, usage)
        }
        (None, None) => return Ok(result(400, "参数为空", serde_json::Value::Null)),
    };
    let mut data = serde_json::json!({
        "id": 0,
        "quota": DEFAULT_QUOTA,
        "usage": usage,
        "maxSize": DEFAULT_MAX_SIZE_BYTES,
        "maxAggrCount": DEFAULT_MAX_AGGR_COUNT,
        "maxAggrSize": DEFAULT_MAX_AGGR_SIZE_BYTES,
        "gmtCreate": serde_json::Value::Null,
        "gmtModified": serde_json::Value::Null,
    });
    data[field] = serde_json::Value::String(name.to_string());
    Ok(result(200, "", data))
}

/// `POST`: quotas are not enforced here, so they cannot be set either.
pub fn post() -> ConfigResult<Response> {
    Err(ConfigError::invalid(
        "capacity quotas are not enforced by this server and cannot be changed",
    ))
}

fn result(code: u16, message: &str, data: serde_json::Value) -> Response {
    let body = serde_json::json!({"code": code, "message": message, "data": data});
    Response::json(200, body.to_string())
}

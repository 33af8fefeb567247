//! Namespaces over HTTP (nacos-config-protocol.md §2.8): v1 `/nacos/v1/console/namespaces`
//! (`NamespaceController`: booleans, `false` for a refused create) and v2
//! `/nacos/v2/console/namespace{,/list}` (`NamespaceControllerV2`: `{code,message,data}` with
//! the 22000–22002 namespace codes). Namespaces live on core 0 through Raft; config counts are
//! summed over every core.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use serde_json::{json, Value};

use crate::api::config::{render_error, Api};
use crate::api::wall_clock_ms;
use crate::config::command::ConfigCommand;
use crate::config::error::{ConfigError, ConfigErrorKind};
use crate::config::item::Namespace;
use crate::config::key::{is_namespace_id, normalise_tenant};
use crate::http::codec::Method;
use crate::http::conn::Request;
use crate::http::response::Response;
use crate::limits::{NAMESPACES_MAX, NAMESPACE_ID_CHARS_MAX, NAMESPACE_QUOTA};
use crate::shard::CoreHandle;

/// The default namespace as Nacos 2.x lists it (id `""`).
const DEFAULT_SHOW_NAME: &str = "public";
const DEFAULT_DESC: &str = "Default Namespace";
/// `NamespaceTypeEnum`: GLOBAL for the default namespace, CUSTOM for the others.
const TYPE_GLOBAL: u8 = 0;
const TYPE_CUSTOM: u8 = 2;

/// Why a namespace request failed, rendered per API (v1 mostly answers `false`).
#[derive(Debug)]
enum NsError {
    /// A required parameter is absent (v2 10000).
    Missing(&'static str),
    /// A bad id or name (v1 `false`, v2 400/22000).
    Illegal(String),
    /// No such namespace (v1 500 `caused:`, v2 404/22001).
    NotExist(String),
    /// The id is taken (v1 `false`, v2 500/22002).
    Exists(String),
    /// Raft or the store refused.
    Config(ConfigError),
}

impl From<ConfigError> for NsError {
    fn from(error: ConfigError) -> NsError {
        NsError::Config(error)
    }
}

type NsResult<T> = Result<T, NsError>;

/// Routes the namespace paths; `None` for a path it does not serve.
pub async fn route(core: &CoreHandle, request: &Request, path: &str) -> Option<Response> {
    let method = match request.head.method {
        Method::Head => Method::Get,
        other => other,
    };
    let (api, result) = match (method, path) {
        (Method::Get, "/nacos/v1/console/namespaces") => (Api::V1, get_v1(core, request).await),
        (Method::Post, "/nacos/v1/console/namespaces") => {
            (Api::V1, create(core, request, Api::V1).await)
        }
        (Method::Put, "/nacos/v1/console/namespaces") => {
            (Api::V1, update(core, request, Api::V1).await)
        }
        (Method::Delete, "/nacos/v1/console/namespaces") => {
            (Api::V1, remove(core, request, Api::V1).await)
        }
        (Method::Get, "/nacos/v2/console/namespace/list") => (Api::V2, list(core, Api::V2).await),
        (Method::Get, "/nacos/v2/console/namespace") => {
            (Api::V2, one(core, request, Api::V2).await)
        }
        (Method::Post, "/nacos/v2/console/namespace") => {
            (Api::V2, create(core, request, Api::V2).await)
        }
        (Method::Put, "/nacos/v2/console/namespace") => {
            (Api::V2, update(core, request, Api::V2).await)
        }
        (Method::Delete, "/nacos/v2/console/namespace") => {
            (Api::V2, remove(core, request, Api::V2).await)
        }
        _ => return None,
    };
    Some(result.unwrap_or_else(|error| render(&error, api)))
}

/// v1 GET: the list, one namespace (`show=all`), or whether an id is taken.
async fn get_v1(core: &CoreHandle, request: &Request) -> NsResult<Response> {
    let p = &request.params;
    if p.get("checkNamespaceIdExist") == Some("true") {
        let id = p.get("customNamespaceId").unwrap_or("").trim();
        let exists = !id.is_empty() && find(core, id).await.is_some();
        return Ok(Response::json(200, exists.to_string()));
    }
    if p.get("show") == Some("all") {
        return one(core, request, Api::V1).await;
    }
    list(core, Api::V1).await
}

async fn list(core: &CoreHandle, api: Api) -> NsResult<Response> {
    let counts = core.config_counts().await;
    let mut items = vec![default_json(&counts)];
    for namespace in core.namespaces().await {
        items.push(namespace_json(&namespace, &counts));
    }
    Ok(match api {
        Api::V1 => Response::json(
            200,
            json!({"code": 200, "message": null, "data": items}).to_string(),
        ),
        Api::V2 => success(Value::Array(items)),
    })
}

/// One namespace: the default one for a blank or `public` id.
async fn one(core: &CoreHandle, request: &Request, api: Api) -> NsResult<Response> {
    let id = request
        .params
        .get("namespaceId")
        .ok_or(NsError::Missing("namespaceId"))?;
    let id = normalise_tenant(id);
    let counts = core.config_counts().await;
    let value = if id.is_empty() {
        default_json(&counts)
    } else {
        let namespace = find(core, id)
            .await
            .ok_or_else(|| NsError::NotExist(id.to_string()))?;
        namespace_json(&namespace, &counts)
    };
    Ok(match api {
        Api::V1 => Response::json(200, value.to_string()),
        Api::V2 => success(value),
    })
}

async fn find(core: &CoreHandle, id: &str) -> Option<Namespace> {
    core.namespaces().await.into_iter().find(|n| n.id == id)
}

fn default_json(counts: &HashMap<String, usize>) -> Value {
    json!({
        "namespace": "",
        "namespaceShowName": DEFAULT_SHOW_NAME,
        "namespaceDesc": DEFAULT_DESC,
        "quota": NAMESPACE_QUOTA,
        "configCount": counts.get("").copied().unwrap_or(0),
        "type": TYPE_GLOBAL,
    })
}

fn namespace_json(namespace: &Namespace, counts: &HashMap<String, usize>) -> Value {
    json!({
        "namespace": namespace.id,
        "namespaceShowName": namespace.name,
        "namespaceDesc": namespace.desc,
        "quota": NAMESPACE_QUOTA,
        "configCount": counts.get(&namespace.id).copied().unwrap_or(0),
        "type": TYPE_CUSTOM,
    })
}

/// The parameter names of each API: v1 (`customNamespaceId`, `namespaceName`; PUT
/// `namespace`, `namespaceShowName`), v2 (`namespaceId`, `namespaceName`).
fn names(api: Api, create: bool) -> (&'static str, &'static str) {
    match (api, create) {
        (Api::V1, true) => ("customNamespaceId", "namespaceName"),
        (Api::V1, false) => ("namespace", "namespaceShowName"),
        (Api::V2, _) => ("namespaceId", "namespaceName"),
    }
}

async fn create(core: &CoreHandle, request: &Request, api: Api) -> NsResult<Response> {
    let p = &request.params;
    let (id_param, name_param) = names(api, true);
    let name = p.get(name_param).ok_or(NsError::Missing(name_param))?;
    let id = match p.non_blank(id_param) {
        Some(id) => checked_id(id.trim())?.to_string(),
        None => generated_id(),
    };
    check_name(name)?;
    let existing = core.namespaces().await;
    if existing.iter().any(|n| n.id == id) {
        return Err(NsError::Exists(id));
    }
    if existing.len() >= NAMESPACES_MAX {
        return Err(NsError::Config(ConfigError::new(
            ConfigErrorKind::LimitReached,
            format!("at most {NAMESPACES_MAX} namespaces"),
        )));
    }
    let now_ms = wall_clock_ms();
    let namespace = Namespace {
        id: id.clone(),
        name: name.to_string(),
        desc: p.get("namespaceDesc").unwrap_or("").to_string(),
        created_ms: now_ms,
        modified_ms: now_ms,
    };
    let command = ConfigCommand::PutNamespace {
        namespace,
        create: true,
    };
    match core.propose_config(command).await {
        // Created by another request between the check and the commit.
        Err(error) if error.kind == ConfigErrorKind::Invalid => Err(NsError::Exists(id)),
        other => other.map(|()| done(api)).map_err(NsError::from),
    }
}

/// `^[\w-]+$`, at most `NAMESPACE_ID_CHARS_MAX`; the default namespace's spellings are not
/// a new namespace.
fn checked_id(id: &str) -> NsResult<&str> {
    if !is_namespace_id(id) || normalise_tenant(id).is_empty() {
        return Err(NsError::Illegal(format!(
            "namespaceId [{id}] mismatch the pattern"
        )));
    }
    if id.chars().count() > NAMESPACE_ID_CHARS_MAX {
        return Err(NsError::Illegal(format!(
            "too long namespaceId, over {NAMESPACE_ID_CHARS_MAX}"
        )));
    }
    Ok(id)
}

/// Nacos `namespaceNameCheckPattern` `^[^@#$%^&*]+$`.
fn check_name(name: &str) -> NsResult<()> {
    if name.is_empty() || name.chars().any(|c| "@#$%^&*".contains(c)) {
        return Err(NsError::Illegal(format!(
            "namespaceName [{name}] contains illegal char"
        )));
    }
    Ok(())
}

/// A random UUID (version 4 layout), as Nacos gives a namespace created without an id.
fn generated_id() -> String {
    let random = || {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(wall_clock_ms());
        hasher.finish()
    };
    uuid_of((u128::from(random()) << 64) | u128::from(random()))
}

fn uuid_of(bits: u128) -> String {
    let bits = (bits & !(0xF << 76)) | (0x4 << 76);
    let bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

async fn update(core: &CoreHandle, request: &Request, api: Api) -> NsResult<Response> {
    let p = &request.params;
    let (id_param, name_param) = names(api, false);
    let id = p.get(id_param).ok_or(NsError::Missing(id_param))?.trim();
    let name = p.get(name_param).ok_or(NsError::Missing(name_param))?;
    check_name(name)?;
    let Some(old) = find(core, id).await else {
        // Nacos updates no row and still answers true.
        return Ok(done(api));
    };
    let namespace = Namespace {
        id: old.id,
        name: name.to_string(),
        desc: p.get("namespaceDesc").unwrap_or("").to_string(),
        created_ms: old.created_ms,
        modified_ms: wall_clock_ms(),
    };
    let command = ConfigCommand::PutNamespace {
        namespace,
        create: false,
    };
    match core.propose_config(command).await {
        // Removed by another request between the check and the commit.
        Err(error) if error.kind == ConfigErrorKind::NotFound => Ok(done(api)),
        other => other.map(|()| done(api)).map_err(NsError::from),
    }
}

/// Removing an absent namespace succeeds; its configs stay (as in Nacos 2.x).
async fn remove(core: &CoreHandle, request: &Request, api: Api) -> NsResult<Response> {
    let id = request
        .params
        .get("namespaceId")
        .ok_or(NsError::Missing("namespaceId"))?
        .trim();
    if !normalise_tenant(id).is_empty() {
        let command = ConfigCommand::RemoveNamespace { id: id.to_string() };
        core.propose_config(command).await?;
    }
    Ok(done(api))
}

fn done(api: Api) -> Response {
    match api {
        Api::V1 => Response::json(200, "true"),
        Api::V2 => success(Value::Bool(true)),
    }
}

fn success(data: Value) -> Response {
    Response::json(
        200,
        json!({"code": 0, "message": "success", "data": data}).to_string(),
    )
}

fn render(error: &NsError, api: Api) -> Response {
    match (error, api) {
        (NsError::Config(error), _) => render_error(error, api),
        (NsError::Missing(param), _) => render_error(&ConfigError::missing(param), api),
        (NsError::Illegal(_) | NsError::Exists(_), Api::V1) => Response::json(200, "false"),
        (NsError::NotExist(id), Api::V1) => render_error(
            &ConfigError::internal(format!("namespaceId [ {id} ] not exist")),
            api,
        ),
        (NsError::Illegal(message), Api::V2) => v2_error(400, 22000, "illegal namespace", message),
        (NsError::NotExist(id), Api::V2) => v2_error(
            404,
            22001,
            "namespace not exist",
            &format!("namespaceId [ {id} ] not exist"),
        ),
        (NsError::Exists(id), Api::V2) => v2_error(
            500,
            22002,
            "namespace already exist",
            &format!("namespaceId [{id}] already exist"),
        ),
    }
}

fn v2_error(status: u16, code: u32, message: &str, data: &str) -> Response {
    Response::json(
        status,
        json!({"code": code, "message": message, "data": data}).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(checked_id("dev-1_x").is_ok());
        assert!(checked_id("a b").is_err());
        assert!(checked_id("public").is_err());
        assert!(checked_id(&"x".repeat(NAMESPACE_ID_CHARS_MAX)).is_ok());
        assert!(checked_id(&"x".repeat(NAMESPACE_ID_CHARS_MAX + 1)).is_err());
        assert!(check_name("dev env").is_ok());
        assert!(check_name("a#b").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn uuids() {
        let id = uuid_of(u128::MAX);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_of(0), "00000000-0000-4000-8000-000000000000");
        let generated = generated_id();
        assert_eq!(generated.len(), 36);
        assert!(is_namespace_id(&generated));
        assert_ne!(generated, generated_id());
    }

    #[test]
    fn v1_refusals_are_false() {
        let response = render(&NsError::Exists("x".into()), Api::V1);
        assert_eq!(
            (response.status, response.body.to_vec()),
            (200, b"false".to_vec())
        );
        let response = render(&NsError::NotExist("x".into()), Api::V1);
        assert_eq!(response.status, 500);
        assert_eq!(
            response.body.to_vec(),
            b"caused: namespaceId [ x ] not exist;"
        );
        let response = render(&NsError::Illegal("m".into()), Api::V2);
        let value: Value = serde_json::from_slice(&response.body.to_vec()).unwrap();
        assert_eq!((response.status, &value["code"]), (400, &json!(22000)));
    }
}

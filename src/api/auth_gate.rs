//! Enforcement of auth on the naming and config APIs (Nacos `AuthFilter` for HTTP,
//! `GrpcRequestAuthFilter` for gRPC): with auth on, a request needs an identity (a token from
//! `accessToken` or `Authorization: Bearer`, or `username`+`password`) whose roles allow the
//! action on the resource `namespace:group:naming/<service>` or `...:config/<dataId>`. Requests
//! from another member carry the cluster secret as their server identity and are trusted.

use serde_json::Value;

use crate::auth::permission::{resource, Action};
use crate::auth::{AuthError, Secret};
use crate::http::codec::{KeptHeader, Method};
use crate::http::conn::Request;
use crate::http::params::Params;
use crate::http::response::Response;
use crate::shard::CoreHandle;

/// Header a member puts on requests it sends another member (forwarded writes).
pub const SERVER_IDENTITY_HEADER: &str = "nacore-server-identity";

/// A valid bcrypt hash (cost 10: Nacos's shipped hash of `nacos`) checked, result unused, for
/// logins of unknown users.
const UNKNOWN_USER_HASH: &str = "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu";

/// Where a token or credentials came from.
pub struct Credentials<'a> {
    pub token: Option<&'a str>,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
}

/// Finds the token Nacos's `resolveToken` would: `Authorization: Bearer`, then the
/// `accessToken` param (then an `accessToken` header); else the `username`+`password` params.
pub fn credentials_of(request: &Request) -> Credentials<'_> {
    let bearer = request
        .head
        .header(KeptHeader::Authorization)
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let token = bearer
        .filter(|t| !t.is_empty())
        .or_else(|| request.params.non_blank("accessToken"))
        .or_else(|| request.head.header(KeptHeader::AccessToken))
        .filter(|t| !t.trim().is_empty());
    Credentials {
        token,
        username: request.params.non_blank("username"),
        password: request.params.get("password"),
    }
}

/// Whether the request carries this cluster's server identity.
pub fn is_server(core: &CoreHandle, request: &Request) -> bool {
    let auth = core.auth();
    let (Some(secret), Some(presented)) = (
        auth.settings.cluster_secret.as_ref(),
        request.head.header(KeptHeader::ServerIdentity),
    ) else {
        return false;
    };
    Secret::raw(&secret.proof()).matches(presented.as_bytes())
}

/// The headers a member adds to requests it sends another member: its server identity (when
/// a cluster secret is set) and the client's token headers, kept as they came.
pub fn peer_headers(request: &Request) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if let Some(proof) = crate::cluster::cluster_proof() {
        let proof = String::from_utf8_lossy(proof.bytes()).into_owned();
        headers.push((SERVER_IDENTITY_HEADER, proof));
    }
    if let Some(value) = request.head.header(KeptHeader::Authorization) {
        headers.push(("Authorization", value.to_string()));
    }
    if let Some(value) = request.head.header(KeptHeader::AccessToken) {
        headers.push(("accessToken", value.to_string()));
    }
    headers
}

/// Just the server identity header, for requests a member makes on its own behalf.
pub fn identity_header() -> Option<(&'static str, String)> {
    let proof = crate::cluster::cluster_proof()?;
    Some((
        SERVER_IDENTITY_HEADER,
        String::from_utf8_lossy(proof.bytes()).into_owned(),
    ))
}

/// The username the credentials prove. bcrypt runs on the blocking thread; verified pairs
/// are cached. Failed password checks count against the client's login throttle.
pub async fn identify(
    core: &CoreHandle,
    credentials: &Credentials<'_>,
    client_ip: &str,
) -> Result<String, AuthError> {
    let auth = core.auth();
    if let Some(token) = credentials.token {
        return auth.check_token(token, crate::auth::unix_now_s());
    }
    let (Some(username), Some(password)) = (credentials.username, credentials.password) else {
        return Err(AuthError::UserNotFound);
    };
    verify_password(core, username, password, client_ip).await?;
    Ok(username.to_string())
}

/// Checks a password (login and per-request credentials), through the throttle and cache.
pub async fn verify_password(
    core: &CoreHandle,
    username: &str,
    password: &str,
    client_ip: &str,
) -> Result<(), AuthError> {
    let auth = core.auth();
    let now_ms = core.now_ms();
    if !auth.throttle.borrow().allows(client_ip, now_ms) {
        return Err(AuthError::Throttled);
    }
    if username.len() > crate::limits::AUTH_USERNAME_BYTES_MAX
        || password.len() > crate::limits::AUTH_PASSWORD_BYTES_MAX
    {
        auth.throttle.borrow_mut().record_failure(client_ip, now_ms);
        return Err(AuthError::UserNotFound);
    }
    let hash = auth.tables.borrow().user_hash(username).map(str::to_string);
    let Some(hash) = hash else {
        // The same bcrypt work as for a real user, so timing does not tell which users exist.
        let candidate = password.to_string();
        glommio::executor()
            .spawn_blocking(move || crate::auth::password::verify(&candidate, UNKNOWN_USER_HASH))
            .await;
        auth.throttle.borrow_mut().record_failure(client_ip, now_ms);
        return Err(AuthError::UserNotFound);
    };
    if auth.cache.borrow().verified(username, password, &hash) {
        return Ok(());
    }
    let (candidate, stored) = (password.to_string(), hash.clone());
    let ok = glommio::executor()
        .spawn_blocking(move || crate::auth::password::verify(&candidate, &stored))
        .await;
    if !ok {
        auth.throttle.borrow_mut().record_failure(client_ip, now_ms);
        return Err(AuthError::UserNotFound);
    }
    auth.throttle.borrow_mut().record_success(client_ip);
    auth.cache.borrow_mut().remember(username, password, &hash);
    Ok(())
}

pub fn client_ip(request: &Request) -> String {
    request
        .remote_addr
        .map_or_else(String::new, |addr| addr.ip().to_string())
}

/// The HTTP 403 (or 429 when throttled) Nacos answers for an auth failure.
pub fn refusal(error: AuthError) -> Response {
    let status = if error == AuthError::Throttled {
        429
    } else {
        403
    };
    Response::text(status, error.message())
}

fn namespace_of(value: Option<&str>) -> &str {
    match value.map(str::trim) {
        None | Some("") | Some("null") => "public",
        Some(namespace) => namespace,
    }
}

/// The resource and action of an HTTP naming/config request; None when Nacos does not
/// secure the endpoint.
fn http_resource(method: Method, path: &str, p: &Params) -> Option<(String, Action)> {
    let write = !matches!(method, Method::Get | Method::Head);
    let naming = path.starts_with("/nacos/v1/ns") || path.starts_with("/nacos/v2/ns");
    if naming {
        if path.ends_with("/operator/metrics") {
            return None;
        }
        let service = p.non_blank("serviceName").unwrap_or("");
        let (group_in_name, name) = match service.split_once("@@") {
            Some((group, name)) => (Some(group), name),
            None => (None, service),
        };
        let group = p.non_blank("groupName").or(group_in_name).unwrap_or("");
        let namespace = namespace_of(p.get("namespaceId"));
        let action = if write { Action::Write } else { Action::Read };
        return Some((resource(namespace, group, "naming", name), action));
    }
    if path.starts_with("/nacos/v1/cs") || path.starts_with("/nacos/v2/cs") {
        let namespace = namespace_of(p.get("tenant").or_else(|| p.get("namespaceId")));
        let group = p.non_blank("group").unwrap_or("");
        let data_id = p.non_blank("dataId").unwrap_or("");
        let read = !write || path.ends_with("/listener");
        let action = if read { Action::Read } else { Action::Write };
        return Some((resource(namespace, group, "config", data_id), action));
    }
    if path.starts_with("/nacos/v1/console/namespaces")
        || path.starts_with("/nacos/v2/console/namespace")
    {
        if !write {
            return None;
        }
        return Some(("console/namespaces".to_string(), Action::Write));
    }
    // Nacos's `NacosClusterController` leaves its reads (`/nodes`, `/nodes/self`) unsecured:
    // the console and load balancers read them before any login. Writes stay admin-only.
    if path.starts_with("/nacos/v1/core/cluster") && write {
        return Some(("nacos/admin".to_string(), Action::Write));
    }
    None
}

/// None when the request may go on; else the refusal to answer.
pub async fn check_http(core: &CoreHandle, request: &Request, path: &str) -> Option<Response> {
    if !core.auth().settings.enabled {
        return None;
    }
    let method = request.head.method;
    let (resource, action) = http_resource(method, path, &request.params)?;
    if is_server(core, request) {
        return None;
    }
    let credentials = credentials_of(request);
    let username = match identify(core, &credentials, &client_ip(request)).await {
        Ok(username) => username,
        Err(error) => return Some(refusal(error)),
    };
    if core
        .auth()
        .tables
        .borrow()
        .allows(&username, action, &resource)
    {
        return None;
    }
    Some(refusal(AuthError::Forbidden))
}

/// gRPC request kinds Nacos secures, their action, module and the response type a refusal
/// is sent as (`GrpcRequestAuthFilter` answers the handler's own response type).
fn grpc_secured(kind: &str) -> Option<(Action, &'static str, &'static str)> {
    use Action::*;
    Some(match kind {
        "InstanceRequest" => (Write, "naming", "InstanceResponse"),
        "BatchInstanceRequest" => (Write, "naming", "BatchInstanceResponse"),
        "PersistentInstanceRequest" => (Write, "naming", "InstanceResponse"),
        "ServiceQueryRequest" => (Read, "naming", "QueryServiceResponse"),
        "SubscribeServiceRequest" => (Read, "naming", "SubscribeServiceResponse"),
        "ServiceListRequest" => (Read, "naming", "ServiceListResponse"),
        "ConfigQueryRequest" => (Read, "config", "ConfigQueryResponse"),
        "ConfigPublishRequest" => (Write, "config", "ConfigPublishResponse"),
        "ConfigRemoveRequest" => (Write, "config", "ConfigRemoveResponse"),
        "ConfigBatchListenRequest" => (Read, "config", "ConfigChangeBatchListenResponse"),
        _ => return None,
    })
}

fn text<'a>(body: &'a Value, field: &str) -> &'a str {
    body.get(field).and_then(Value::as_str).unwrap_or("")
}

fn grpc_resource(module: &str, body: &Value) -> String {
    if module == "naming" {
        let namespace = namespace_of(Some(text(body, "namespace")));
        return resource(
            namespace,
            text(body, "groupName"),
            "naming",
            text(body, "serviceName"),
        );
    }
    let first = body
        .get("configListenContexts")
        .and_then(Value::as_array)
        .and_then(|contexts| contexts.first());
    let source = first.unwrap_or(body);
    let namespace = namespace_of(Some(text(source, "tenant")));
    resource(
        namespace,
        text(source, "group"),
        "config",
        text(source, "dataId"),
    )
}

/// None when the gRPC request may go on; else the refusal (its type and JSON body):
/// `resultCode` 500 with `errorCode` 403, on which the SDKs log in again.
pub fn check_grpc(
    core: &CoreHandle,
    kind: &str,
    headers: &[(String, String)],
    body: &Value,
) -> Option<(String, Vec<u8>)> {
    let auth = core.auth();
    if !auth.settings.enabled {
        return None;
    }
    let (action, module, response) = grpc_secured(kind)?;
    let header = |name: &str| {
        headers
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let token = header("accessToken")
        .or_else(|| header("Authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::trim)));
    let outcome = match token {
        Some(token) if !token.is_empty() => auth.check_token(token, crate::auth::unix_now_s()),
        _ => Err(AuthError::UserNotFound),
    };
    let error = match outcome {
        Ok(username) => {
            let resource = grpc_resource(module, body);
            if auth.tables.borrow().allows(&username, action, &resource) {
                return None;
            }
            AuthError::Forbidden
        }
        Err(error) => error,
    };
    let json = serde_json::json!({
        "resultCode": 500,
        "errorCode": 403,
        "message": error.message(),
        "success": false,
    });
    Some((response.to_string(), json.to_string().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_resources() {
        let p = Params::parse("serviceName=G@@svc&namespaceId=dev", None);
        let (r, a) = http_resource(Method::Post, "/nacos/v1/ns/instance", &p).unwrap();
        assert_eq!((r.as_str(), a), ("dev:G:naming/svc", Action::Write));
        let p = Params::parse("dataId=d&group=g", None);
        let (r, a) = http_resource(Method::Get, "/nacos/v1/cs/configs", &p).unwrap();
        assert_eq!((r.as_str(), a), ("public:g:config/d", Action::Read));
        let (_, a) = http_resource(Method::Post, "/nacos/v1/cs/configs/listener", &p).unwrap();
        assert_eq!(a, Action::Read);
        assert!(http_resource(Method::Get, "/nacos/v1/ns/operator/metrics", &p).is_none());
        assert!(http_resource(Method::Get, "/nacos/v1/console/health/readiness", &p).is_none());
        assert!(http_resource(Method::Get, "/nacos/v1/core/cluster/nodes", &p).is_none());
        assert!(http_resource(Method::Get, "/nacos/v1/console/server/state", &p).is_none());
    }

    fn request(raw: &[u8]) -> Request {
        Request::from_raw_head(raw)
    }

    /// As Nacos's `resolveToken`: the Bearer header first, then the param, then credentials.
    #[test]
    fn token_sources() {
        let both =
            request(b"GET /x?accessToken=param HTTP/1.1\r\nAuthorization: Bearer header\r\n\r\n");
        assert_eq!(credentials_of(&both).token, Some("header"));
        let param = request(b"GET /x?accessToken=param HTTP/1.1\r\nAuthorization: Basic x\r\n\r\n");
        assert_eq!(credentials_of(&param).token, Some("param"));
        let user = request(b"GET /x?username=u&password=p HTTP/1.1\r\n\r\n");
        let credentials = credentials_of(&user);
        assert_eq!(credentials.token, None);
        assert_eq!(
            (credentials.username, credentials.password),
            (Some("u"), Some("p"))
        );
    }

    #[test]
    fn grpc_resources() {
        let body = serde_json::json!({"namespace": "", "groupName": "G", "serviceName": "s"});
        assert_eq!(grpc_resource("naming", &body), "public:G:naming/s");
        let body = serde_json::json!({"configListenContexts": [{"tenant": "t", "group": "g", "dataId": "d"}]});
        assert_eq!(grpc_resource("config", &body), "t:g:config/d");
        assert!(grpc_secured("HealthCheckRequest").is_none());
        assert!(grpc_secured("ServerCheckRequest").is_none());
    }
}

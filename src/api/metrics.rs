//! Metrics at the edges: which `Api` label a request counts under (HTTP by method and path,
//! gRPC by payload type), its status, the counting and access logging of a served request,
//! and the Prometheus endpoint `GET /nacos/actuator/prometheus`, which asks every core for its
//! snapshot and answers their sum.

use std::net::IpAddr;

use serde_json::Value;

use crate::access_log::Entry;
use crate::http::codec::Method;
use crate::http::conn::Request;
use crate::http::response::Response;
use crate::metrics::{Api, Protocol};
use crate::shard::CoreHandle;

/// Where Prometheus scrapes (Spring Boot actuator's path under Nacos's context).
pub const PROMETHEUS_PATH: &str = "/nacos/actuator/prometheus";

/// The `api` label of an HTTP request.
pub fn classify_http(method: Method, path: &str) -> Api {
    let path = path.trim_end_matches('/');
    let naming = path.strip_prefix("/nacos/v1/ns");
    if let Some(rest) = naming.or_else(|| path.strip_prefix("/nacos/v2/ns")) {
        return naming_api(method, rest);
    }
    let config = path.strip_prefix("/nacos/v1/cs");
    if let Some(rest) = config.or_else(|| path.strip_prefix("/nacos/v2/cs")) {
        return config_api(method, rest);
    }
    if path == PROMETHEUS_PATH {
        return Api::Metrics;
    }
    if path.starts_with("/nacos/v1/console/health") {
        return Api::Health;
    }
    if path.starts_with("/nacos/v1/console/namespaces")
        || path.starts_with("/nacos/v2/console/namespace")
    {
        return Api::Namespace;
    }
    if path.starts_with("/nacos/v1/core/cluster") || path.starts_with("/nacos/v2/core/cluster") {
        return Api::Cluster;
    }
    Api::Other
}

fn naming_api(method: Method, rest: &str) -> Api {
    use Method::*;
    match (method, rest) {
        (Post, "/instance") => Api::Register,
        (Delete, "/instance") => Api::Deregister,
        (Put | Patch, "/instance") => Api::UpdateInstance,
        (Get | Head, "/instance") => Api::GetInstance,
        (_, "/instance/list") => Api::List,
        (_, "/instance/beat") => Api::Beat,
        (_, "/instance/metadata/batch") => Api::UpdateInstance,
        (_, "/service/list") => Api::ServiceList,
        (_, "/service" | "/service/subscribers" | "/cluster") => Api::Service,
        (_, rest) if rest.starts_with("/operator/") || rest.starts_with("/ops/") => Api::Operator,
        _ => Api::Other,
    }
}

fn config_api(method: Method, rest: &str) -> Api {
    use Method::*;
    match (method, rest) {
        (Get | Head, "/configs" | "/config") => Api::ConfigGet,
        (Post, "/configs" | "/config") => Api::ConfigPublish,
        (Delete, "/configs" | "/config") => Api::ConfigDelete,
        (Post, "/configs/listener") => Api::ConfigListen,
        (_, rest) if rest.starts_with("/history") => Api::ConfigHistory,
        _ => Api::ConfigOther,
    }
}

/// The `api` label of a gRPC request, by its payload type (and an instance request's
/// `type`).
pub fn classify_grpc(kind: &str, body: &Value) -> Api {
    match kind {
        "InstanceRequest" | "PersistentInstanceRequest" => {
            match body.get("type").and_then(Value::as_str) {
                Some("deregisterInstance") => Api::Deregister,
                _ => Api::Register,
            }
        }
        "BatchInstanceRequest" => Api::BatchRegister,
        "ServiceQueryRequest" => Api::List,
        "SubscribeServiceRequest" => Api::Subscribe,
        "ServiceListRequest" => Api::ServiceList,
        "ServerCheckRequest" => Api::ServerCheck,
        "HealthCheckRequest" => Api::Health,
        "ConfigQueryRequest" => Api::ConfigGet,
        "ConfigPublishRequest" => Api::ConfigPublish,
        "ConfigRemoveRequest" => Api::ConfigDelete,
        "ConfigBatchListenRequest" => Api::ConfigListen,
        _ => Api::Other,
    }
}

/// The status a gRPC answer counts under: its Nacos error code for an `ErrorResponse`
/// (these follow HTTP's hundreds), 200 otherwise.
pub fn grpc_status(kind: &str, json: &[u8]) -> u16 {
    if kind != "ErrorResponse" {
        return 200;
    }
    let code = serde_json::from_slice::<Value>(json)
        .ok()
        .and_then(|body| body.get("errorCode").and_then(Value::as_u64));
    code.and_then(|code| u16::try_from(code).ok())
        .unwrap_or(500)
}

/// Counts a served HTTP request and logs it when the access log is on.
pub fn record_http(core: &CoreHandle, request: &Request, response: &Response, latency_us: u64) {
    let method = request.head.method;
    let api = classify_http(method, request.head.path());
    core.metrics()
        .record_request(api, Protocol::Http, response.status, latency_us);
    let Some(log) = core.access_log() else {
        return;
    };
    log.http(Entry {
        remote: request.remote_addr.map(|addr| addr.ip()),
        method: method_name(method),
        // The path only: a query string may carry `accessToken`, `password` or `username`.
        path: request.head.path(),
        status: response.status,
        body_bytes: response.body.len(),
        latency_us,
    });
}

/// Counts a served gRPC request and logs it when the access log is on.
pub fn record_grpc(core: &CoreHandle, remote: IpAddr, request: GrpcServed, latency_us: u64) {
    let status = grpc_status(request.answer_kind, request.answer);
    core.metrics()
        .record_request(request.api, Protocol::Grpc, status, latency_us);
    let Some(log) = core.access_log() else {
        return;
    };
    log.grpc(Entry {
        remote: Some(remote),
        method: "GRPC",
        path: request.kind,
        status,
        body_bytes: request.answer.len(),
        latency_us,
    });
}

/// A served gRPC request as counted: its label, its type, and the answer.
pub struct GrpcServed<'a> {
    pub api: Api,
    pub kind: &'a str,
    pub answer_kind: &'a str,
    pub answer: &'a [u8],
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Patch => "PATCH",
        Method::Head => "HEAD",
        Method::Options => "OPTIONS",
        Method::Other => "OTHER",
    }
}

/// `GET /nacos/actuator/prometheus`: every core's metrics, summed, as Prometheus text.
pub async fn prometheus(core: &CoreHandle, request: &Request) -> Response {
    if !matches!(request.head.method, Method::Get | Method::Head) {
        return Response::text(405, "only GET is allowed");
    }
    let snapshots = core.collect_metrics().await;
    let text = crate::metrics::text::render(&snapshots);
    let mut response = Response::text(200, text);
    response.content_type = crate::metrics::text::CONTENT_TYPE;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known paths get their label, whatever the version prefix or a trailing slash; any
    /// other path is `other`, so the label set stays bounded.
    #[test]
    fn http_labels() {
        use Method::*;
        assert_eq!(classify_http(Post, "/nacos/v1/ns/instance"), Api::Register);
        assert_eq!(
            classify_http(Delete, "/nacos/v2/ns/instance/"),
            Api::Deregister
        );
        assert_eq!(classify_http(Put, "/nacos/v1/ns/instance/beat"), Api::Beat);
        assert_eq!(classify_http(Get, "/nacos/v1/ns/instance/list"), Api::List);
        assert_eq!(classify_http(Get, "/nacos/v1/cs/configs"), Api::ConfigGet);
        assert_eq!(
            classify_http(Post, "/nacos/v2/cs/config"),
            Api::ConfigPublish
        );
        assert_eq!(
            classify_http(Post, "/nacos/v1/cs/configs/listener"),
            Api::ConfigListen
        );
        assert_eq!(classify_http(Get, PROMETHEUS_PATH), Api::Metrics);
        assert_eq!(classify_http(Get, "/x/y/z"), Api::Other);
        assert_eq!(classify_http(Get, "/nacos/v1/ns/zzz"), Api::Other);
        assert_eq!(classify_http(Get, "/nacos/v1/cs/zzz"), Api::ConfigOther);
    }

    /// gRPC types map to the same labels; an `ErrorResponse` counts under its error code.
    #[test]
    fn grpc_labels_and_status() {
        let deregister = serde_json::json!({"type": "deregisterInstance"});
        assert_eq!(
            classify_grpc("InstanceRequest", &deregister),
            Api::Deregister
        );
        let register = serde_json::json!({"type": "registerInstance"});
        assert_eq!(classify_grpc("InstanceRequest", &register), Api::Register);
        assert_eq!(classify_grpc("Nope", &register), Api::Other);
        assert_eq!(grpc_status("InstanceResponse", b"{}"), 200);
        assert_eq!(grpc_status("ErrorResponse", br#"{"errorCode":400}"#), 400);
        assert_eq!(grpc_status("ErrorResponse", b"garbage"), 500);
    }
}

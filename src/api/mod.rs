//! The Nacos HTTP API: routes each request to its endpoint, runs it as `NamingOp`s on the
//! owner cores, and renders the outcome in the flavour the path asks for: v1 (plain text
//! `ok`, bare JSON, the message as error body) or v2 (the `{code,message,data}` wrapper).

// --- auth ---
mod auth;
pub(crate) mod auth_gate;
pub(crate) mod config;
// --- console ---
mod console;
mod form;
mod forward;
pub mod grpc;
mod grpc_config;
pub(crate) mod instance;
// --- metrics ---
pub mod metrics;
mod operator;
mod render;
pub(crate) mod service;

use crate::http::codec::Method;
use crate::http::conn::Request;
use crate::http::response::Response;
use crate::shard::CoreHandle;

pub use operator::wall_clock_ms;
pub use render::{Flavor, Reply};

use render::{method_not_allowed, not_found, render};

pub async fn route(core: &CoreHandle, request: &Request) -> Response {
    let path = request.head.path().trim_end_matches('/');
    // --- metrics ---
    // Open like Nacos's actuator; served before readiness, so a starting node can be watched.
    if path == metrics::PROMETHEUS_PATH {
        return metrics::prometheus(core, request).await;
    }
    if !core.is_ready() && is_gated(path) {
        // Nacos `TrafficReviseFilter`: nothing is served until the state is rebuilt.
        return Response::text(503, "server is STARTING now, please try again later!");
    }
    // --- auth ---
    if let Some(response) = auth::route(core, request, path).await {
        return response;
    }
    if let Some(refusal) = auth_gate::check_http(core, request, path).await {
        return refusal;
    }
    // --- console ---
    if let Some(response) = console::route(core, request, path).await {
        return response;
    }
    if let Some(rest) = path.strip_prefix("/nacos/v1/ns") {
        return naming(core, request, rest, Flavor::V1).await;
    }
    if let Some(rest) = path.strip_prefix("/nacos/v2/ns") {
        return naming(core, request, rest, Flavor::V2).await;
    }
    if path.starts_with("/nacos/v1/cs/") || path.starts_with("/nacos/v2/cs/") {
        return match config::route(core, request, path).await {
            Some(response) => response,
            None => not_found(request),
        };
    }
    if let Some(response) = config::namespaces::route(core, request, path).await {
        return response;
    }
    match operator::console(core, request, path).await {
        Some(response) => response,
        None => not_found(request),
    }
}

fn is_gated(path: &str) -> bool {
    path.starts_with("/nacos/v1/ns")
        || path.starts_with("/nacos/v2/ns")
        || path.starts_with("/nacos/v1/cs")
        || path.starts_with("/nacos/v2/cs")
        || path == "/nacos/v1/console/health/readiness"
        || path.starts_with("/nacos/v1/console/namespaces")
        || path.starts_with("/nacos/v2/console/namespace")
}

async fn naming(core: &CoreHandle, request: &Request, rest: &str, flavor: Flavor) -> Response {
    use Method::*;
    let method = match request.head.method {
        Head => Get,
        other => other,
    };
    let p = &request.params;
    // `/ns/ops/...` is the historical alias of `/ns/operator/...`.
    let rest: std::borrow::Cow<str> = match rest.strip_prefix("/ops/") {
        Some(tail) => format!("/operator/{tail}").into(),
        None => rest.into(),
    };
    // Cluster mode: ephemeral register/deregister/beat for a client another member answers
    // for go there (Nacos `DistroFilter`). Update is not among them: its overlay goes through
    // Raft for every instance, so any member serves it.
    if let Some(write) = forward::Write::of(method, &rest) {
        if let Some(response) = forward::filter(core, request, write, flavor).await {
            return response;
        }
    }
    let result = match (method, &*rest) {
        (Post, "/instance") => instance::register(core, p).await,
        (Delete, "/instance") => instance::deregister(core, p).await,
        (Put, "/instance") => instance::update(core, p, false).await,
        (Patch, "/instance") if flavor == Flavor::V1 => instance::update(core, p, true).await,
        (Get, "/instance") => instance::get(core, p, flavor).await,
        (Get, "/instance/list") => instance::list(core, request, flavor).await,
        (Put, "/instance/beat") => instance::beat(core, p).await,
        (Put, "/instance/metadata/batch") => instance::batch_metadata(core, p, false).await,
        (Delete, "/instance/metadata/batch") => instance::batch_metadata(core, p, true).await,
        (Get | Post, "/instance/statuses") if flavor == Flavor::V1 => {
            instance::statuses(core, p).await
        }
        (Post, "/service") => service::create(core, p, flavor).await,
        (Delete, "/service") => service::delete(core, p).await,
        (Put, "/service") => service::update(core, p, flavor).await,
        (Get, "/service") => service::get(core, p, flavor).await,
        (Put, "/cluster") if flavor == Flavor::V1 => service::update_cluster(core, p).await,
        (Get, "/service/list") => service::list(core, p, flavor).await,
        (Get, "/service/subscribers") if flavor == Flavor::V1 => {
            service::subscribers(core, p).await
        }
        (Get, "/operator/switches") => Ok(operator::switches(core)),
        (Put, "/operator/switches") => operator::update_switch(core, p).await,
        (Get, "/operator/metrics") => operator::metrics(core, p, flavor).await,
        (_, path) if instance::knows(path) || service::knows(path) || operator::knows(path) => {
            return method_not_allowed(request);
        }
        _ => return not_found(request),
    };
    render(result, flavor)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::grpc::conn::Connection;
    use crate::grpc::payload::Incoming;
    use crate::naming::op::NamingOp;
    use crate::shard::Core;

    fn request(raw: &[u8]) -> Request {
        Request::from_raw_head(raw)
    }

    /// Namespaces are config-center state: served only once it is rebuilt.
    #[test]
    fn namespaces_are_gated() {
        assert!(is_gated("/nacos/v1/console/namespaces"));
        assert!(is_gated("/nacos/v2/console/namespace"));
        assert!(is_gated("/nacos/v2/console/namespace/list"));
        assert!(is_gated("/nacos/v1/cs/history/configs"));
        assert!(!is_gated("/nacos/v1/console/health/liveness"));
    }

    /// Until its state is rebuilt a node answers naming and readiness with 503 and gRPC
    /// ServerCheck with error 300; liveness stays OK. After MarkReady it serves.
    #[test]
    fn not_ready_until_marked() {
        let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(512 * 1024)
            .make()
            .unwrap();
        executor.run(async {
            let core = Core::new(0, 1, None, Instant::now(), Duration::ZERO);
            let readiness = request(b"GET /nacos/v1/console/health/readiness HTTP/1.1\r\n\r\n");
            let list = request(b"GET /nacos/v1/ns/instance/list?serviceName=a HTTP/1.1\r\n\r\n");
            let liveness = request(b"GET /nacos/v1/console/health/liveness HTTP/1.1\r\n\r\n");
            assert_eq!(route(&core, &readiness).await.status, 503);
            assert_eq!(route(&core, &list).await.status, 503);
            assert_eq!(route(&core, &liveness).await.status, 200);
            let remote: SocketAddr = "127.0.0.1:1".parse().unwrap();
            let (close, _closed) = futures::channel::oneshot::channel();
            let connection = Connection::new(1, "c".into(), remote, close, 0);
            let check = Incoming {
                kind: "ServerCheckRequest".into(),
                body: serde_json::json!({}),
                client_ip: String::new(),
                headers: Vec::new(),
            };
            let (kind, body) = grpc::handle(&core, &connection, check.clone()).await;
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                (kind.as_str(), body["errorCode"].as_u64()),
                ("ErrorResponse", Some(300))
            );
            core.apply_local(NamingOp::MarkReady);
            assert_eq!(route(&core, &readiness).await.status, 200);
            assert_eq!(route(&core, &list).await.status, 200);
            let (kind, _) = grpc::handle(&core, &connection, check).await;
            assert_eq!(kind, "ServerCheckResponse");
        });
    }
}

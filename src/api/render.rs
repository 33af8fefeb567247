//! Rendering endpoint outcomes as v1 or v2 responses, and the error mapping of Nacos
//! (`ResponseExceptionHandler` for v1, `ErrorCode` + `NacosApiExceptionHandler` for v2).

use bytes::Bytes;

use crate::http::conn::Request;
use crate::http::response::{Body, Response};
use crate::naming::error::{ErrorKind, NamingError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    V1,
    V2,
}

/// What an endpoint produced, before the flavour decides its shape.
pub enum Reply {
    /// A write that succeeded: v1 `ok`, v2 `data:"ok"`.
    Ok,
    /// A JSON payload: v1 as is, v2 as `data`.
    Json(Bytes),
    /// A JSON payload in pieces (around a cached encoding): v1 as is, v2 as `data`.
    JsonBody(Body),
    /// A response sent as is in both flavours (the v2 beat is not wrapped).
    Raw(Response),
}

pub fn render(result: Result<Reply, NamingError>, flavor: Flavor) -> Response {
    match (result, flavor) {
        (Ok(Reply::Raw(response)), _) => response,
        (Ok(Reply::Ok), Flavor::V1) => Response::ok(),
        (Ok(Reply::Json(body)), Flavor::V1) => Response::json(200, body),
        (Ok(Reply::JsonBody(body)), Flavor::V1) => Response::json_body(200, body),
        (Ok(Reply::Ok), Flavor::V2) => Response::json_body(200, wrap_ok(Body::from(OK_JSON))),
        (Ok(Reply::Json(body)), Flavor::V2) => Response::json_body(200, wrap_ok(Body::from(body))),
        (Ok(Reply::JsonBody(body)), Flavor::V2) => Response::json_body(200, wrap_ok(body)),
        (Err(error), Flavor::V1) => v1_error(&error),
        (Err(error), Flavor::V2) => v2_error(&error),
    }
}

const OK_JSON: Bytes = Bytes::from_static(b"\"ok\"");

/// The v2 success envelope `{code,message,data}` around `data`, without copying it.
fn wrap_ok(mut data: Body) -> Body {
    data.prepend(Bytes::from_static(
        b"{\"code\":0,\"message\":\"success\",\"data\":",
    ));
    data.push(Bytes::from_static(b"}"));
    data
}

pub fn v1_status(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::InstanceNotFound => 404,
        ErrorKind::Internal => 500,
        ErrorKind::Unavailable => 503,
        _ => 400,
    }
}

pub fn v1_error(error: &NamingError) -> Response {
    let status = v1_status(error.kind);
    // Nacos raises the kind conflict as a NacosRuntimeException, rendered with its code.
    let body = match error.kind {
        ErrorKind::KindConflict => format!("errCode: {status}, errMsg: {} ", error.message),
        _ => error.message.clone(),
    };
    Response::text(status, body)
}

/// (HTTP status, v2 code, v2 message) of each error kind.
fn v2_code(kind: ErrorKind) -> (u16, u32, &'static str) {
    match kind {
        ErrorKind::MissingParam => (400, 10000, "parameter missing"),
        ErrorKind::InvalidParam | ErrorKind::InvalidCluster | ErrorKind::LimitReached => {
            (400, 20002, "parameter validate error")
        }
        ErrorKind::InvalidServiceName => (400, 21000, "service name error"),
        ErrorKind::InvalidWeight => (400, 21001, "weight error"),
        ErrorKind::InvalidMetadata => (400, 21002, "instance metadata error"),
        ErrorKind::InstanceNotFound => (404, 21003, "instance not found"),
        ErrorKind::KindConflict => (400, 21004, "instance error"),
        ErrorKind::ServiceExists => (400, 21007, "service already exist"),
        ErrorKind::ServiceNotFound => (404, 21008, "service not exist"),
        ErrorKind::ServiceNotEmpty => (400, 21009, "service delete failure"),
        ErrorKind::Internal => (500, 30000, "server error"),
        ErrorKind::Unavailable => (503, 23000, "illegal state"),
    }
}

pub fn v2_error(error: &NamingError) -> Response {
    let (status, code, message) = v2_code(error.kind);
    let data = match (error.kind, missing_param(&error.message)) {
        (ErrorKind::MissingParam, Some(name)) => {
            format!("Required parameter '{name}' type String is not present")
        }
        _ => error.message.clone(),
    };
    let body = serde_json::json!({"code": code, "message": message, "data": data});
    Response::json(status, body.to_string())
}

/// The parameter name of a v1 "Param 'x' is required." message.
fn missing_param(message: &str) -> Option<&str> {
    message
        .strip_prefix("Param '")?
        .strip_suffix("' is required.")
}

pub fn not_found(request: &Request) -> Response {
    spring_error(request, 404, "Not Found")
}

pub fn method_not_allowed(request: &Request) -> Response {
    spring_error(request, 405, "Method Not Allowed")
}

/// The JSON body Spring Boot gives for unmapped paths and methods.
fn spring_error(request: &Request, status: u16, error: &str) -> Response {
    let body = serde_json::json!({
        "timestamp": crate::api::operator::wall_clock_ms(),
        "status": status,
        "error": error,
        "message": format!("no such api: {:?} {}", request.head.method, request.head.path()),
        "path": request.head.path(),
    });
    Response::json(status, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v2 errors carry the Nacos code, abstract and detail; missing params read as Spring's.
    #[test]
    fn v2_error_shape() {
        let r = v2_error(&NamingError::missing("ip"));
        assert_eq!(r.status, 400);
        let v: serde_json::Value = serde_json::from_slice(&r.body.to_vec()).unwrap();
        assert_eq!(v["code"], 10000);
        assert_eq!(v["message"], "parameter missing");
        assert_eq!(
            v["data"],
            "Required parameter 'ip' type String is not present"
        );
        let r = render(Ok(Reply::Ok), Flavor::V2);
        let v: serde_json::Value = serde_json::from_slice(&r.body.to_vec()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"code":0,"message":"success","data":"ok"})
        );
    }

    /// v1 errors are the plain message with the Nacos status.
    #[test]
    fn v1_error_shape() {
        let r = v1_error(&NamingError::missing("serviceName"));
        assert_eq!(
            (r.status, &r.body.to_vec()[..]),
            (400, &b"Param 'serviceName' is required."[..])
        );
        let r = v1_error(&NamingError::new(
            ErrorKind::InstanceNotFound,
            "no matched ip found!",
        ));
        assert_eq!(r.status, 404);
    }
}

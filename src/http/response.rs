//! HTTP/1.1 responses: status, content type and a body with its length, serialised into the
//! connection's output buffer.

use bytes::Bytes;

pub const TEXT: &str = "text/plain;charset=UTF-8";
pub const JSON: &str = "application/json;charset=UTF-8";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: Bytes::from(body.into()),
        }
    }

    pub fn json(status: u16, body: impl Into<Bytes>) -> Response {
        Response {
            status,
            content_type: JSON,
            body: body.into(),
        }
    }

    pub fn ok() -> Response {
        Response::text(200, "ok")
    }

    /// Appends the whole response to `out`. `head_only` answers a HEAD request.
    pub fn write_to(&self, out: &mut Vec<u8>, keep_alive: bool, head_only: bool) {
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len(),
            connection
        );
        out.extend_from_slice(head.as_bytes());
        if !head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serialised response carries status, type, length and connection.
    #[test]
    fn serialise() {
        let mut out = Vec::new();
        Response::ok().write_to(&mut out, true, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(text.contains("Connection: keep-alive\r\n"));
        assert!(text.ends_with("\r\n\r\nok"));
        let mut out = Vec::new();
        Response::text(404, "nope").write_to(&mut out, false, true);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Connection: close") && text.ends_with("\r\n\r\n"));
    }
}

//! HTTP/1.1 responses: status, content type and a body with its length, serialised into the
//! connection's output buffer.

use bytes::Bytes;
use std::borrow::Cow;

pub const TEXT: &str = "text/plain;charset=UTF-8";
pub const JSON: &str = "application/json;charset=UTF-8";

/// Pieces a body may be assembled from (a v2 envelope around a `ServiceInfo` around cached
/// hosts takes five).
const BODY_PARTS_MAX: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Empty: no `Content-Type` header (Nacos's config 404 and long-poll answers).
    pub content_type: &'static str,
    pub body: Body,
    /// Further headers, in order (config reads: `Content-MD5`, `Config-Type`, no-cache ...).
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
}

/// A body in up to `BODY_PARTS_MAX` pieces, written out back to back, so that a cached
/// encoding is sent without first being copied into a body of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    parts: [Bytes; BODY_PARTS_MAX],
    count: usize,
}

impl Body {
    pub fn new() -> Body {
        Body::default()
    }

    /// Appends a piece. Panics past `BODY_PARTS_MAX`: the callers build fixed shapes.
    pub fn push(&mut self, part: impl Into<Bytes>) {
        assert!(self.count < BODY_PARTS_MAX, "body has too many parts");
        self.parts[self.count] = part.into();
        self.count += 1;
    }

    /// Puts `part` in front of the pieces already there.
    pub fn prepend(&mut self, part: impl Into<Bytes>) {
        assert!(self.count < BODY_PARTS_MAX, "body has too many parts");
        self.parts[..=self.count].rotate_right(1);
        self.parts[0] = part.into();
        self.count += 1;
    }

    pub fn len(&self) -> usize {
        self.parts[..self.count].iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole body in one buffer (tests and rare callers; the hot path writes the pieces).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write_to(&mut out);
        out
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        for part in &self.parts[..self.count] {
            out.extend_from_slice(part);
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        let mut body = Body::new();
        body.push(bytes);
        body
    }
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: Body::from(Bytes::from(body.into())),
            headers: Vec::new(),
        }
    }

    pub fn json(status: u16, body: impl Into<Bytes>) -> Response {
        Response::json_body(status, Body::from(body.into()))
    }

    pub fn json_body(status: u16, body: Body) -> Response {
        Response {
            status,
            content_type: JSON,
            body,
            headers: Vec::new(),
        }
    }

    pub fn ok() -> Response {
        Response {
            status: 200,
            content_type: TEXT,
            body: Body::from(Bytes::from_static(b"ok")),
            headers: Vec::new(),
        }
    }

    /// Adds a header (names are fixed strings; CR and LF in a value are dropped on the wire).
    /// Fixed values (`no-cache`, ...) are kept without a copy.
    pub fn with_header(
        mut self,
        name: &'static str,
        value: impl Into<Cow<'static, str>>,
    ) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// Appends the whole response to `out`. `head_only` answers a HEAD request.
    pub fn write_to(&self, out: &mut Vec<u8>, keep_alive: bool, head_only: bool) {
        let body_bytes = self.body.len();
        let mut numbers = itoa::Buffer::new();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(numbers.format(self.status).as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        if !self.content_type.is_empty() {
            out.extend_from_slice(b"\r\nContent-Type: ");
            out.extend_from_slice(self.content_type.as_bytes());
        }
        for (name, value) in &self.headers {
            // A value holding CR or LF would split the response: such bytes are dropped.
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            let value = value.as_bytes();
            // Values almost never hold CR or LF: copy them whole, filter only when they do.
            if value.iter().any(|b| *b == b'\r' || *b == b'\n') {
                out.extend(value.iter().filter(|b| **b != b'\r' && **b != b'\n'));
            } else {
                out.extend_from_slice(value);
            }
        }
        out.extend_from_slice(b"\r\nContent-Length: ");
        out.extend_from_slice(numbers.format(body_bytes).as_bytes());
        out.extend_from_slice(if keep_alive {
            b"\r\nConnection: keep-alive\r\n\r\n".as_slice()
        } else {
            b"\r\nConnection: close\r\n\r\n".as_slice()
        });
        if !head_only {
            self.body.write_to(out);
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        304 => "Not Modified",
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

    /// Pieces are written in order, prepended ones first.
    #[test]
    fn body_parts() {
        let mut body = Body::from(Bytes::from_static(b"mid"));
        body.push(Bytes::from_static(b"-end"));
        body.prepend(Bytes::from_static(b"start-"));
        assert_eq!(body.len(), 13);
        assert_eq!(body.to_vec(), b"start-mid-end");
        let response = Response::json_body(200, body);
        let mut out = Vec::new();
        response.write_to(&mut out, true, false);
        assert!(out.ends_with(b"Content-Length: 13\r\nConnection: keep-alive\r\n\r\nstart-mid-end"));
    }

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

    /// Extra headers follow the content type; an empty type writes none; CR/LF never reach
    /// the wire from a value.
    #[test]
    fn extra_headers() {
        let mut response = Response::text(404, "config data not exist\n")
            .with_header("Content-MD5", "abc")
            .with_header("Pragma", "no-cache");
        response.content_type = "";
        let mut out = Vec::new();
        response.write_to(&mut out, true, false);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("Content-Type"));
        assert!(
            text.starts_with("HTTP/1.1 404 Not Found\r\nContent-MD5: abc\r\nPragma: no-cache\r\n")
        );
    }
}
